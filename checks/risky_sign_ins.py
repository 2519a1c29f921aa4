"""risky-sign-ins: successful risky sign-ins and the users Identity Protection holds at risk.

The seed asks to enable sign-in logs and alert on suspicious activity, and lists Identity
Protection (risk-based authentication) among the platform's defences (seed: Security Best
Practices › Audit and Monitoring). Rules:

- ``high-risk-sign-in-succeeded`` (critical): a sign-in whose ``riskLevelDuringSignIn`` is high
  succeeded (``status.errorCode`` 0).
- ``medium-risk-sign-in-succeeded`` (high): the same at medium risk.
- ``risky-sign-in-single-factor`` (high): a sign-in at low, medium or high risk succeeded with
  single-factor authentication (``authenticationRequirement``, beta only: graph-facts §4).
- ``user-at-risk`` (high): Identity Protection holds the user at risk (``riskState`` atRisk or
  confirmedCompromised), with the user's recent risk detections as evidence.

The sign-in log is read incrementally (graph-facts §4: 5 requests per 10 s, so a whole busy log
takes hours): from the stored watermark minus ``overlap_minutes`` (or ``lookback_days`` before now
on the first run) up to the run's now, asking the server only for sign-ins at some risk. Each
risky sign-in is remembered by id (:class:`monitor.memory.Memory`), so one read twice counts once,
and stays reported for ``retention_days`` after it happened instead of resolving on the next run.
Without Entra ID P2 the Identity Protection rule reports itself unavailable and the sign-in rules
still run; a tenant whose sign-in log needs a licence it lacks makes the whole check unavailable.

Gauges: ``entra_monitor.sign_ins.risky`` (the risky sign-ins first seen by the run, per risk level
and outcome) and ``entra_monitor.users.at_risk`` (users at risk per level); every combination is
measured, zeros included, and neither gauge when Identity Protection could not be read (risk levels
are then hidden, so a zero would claim what nobody knows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from checks.graph_values import graph_time_text, parse_graph_time
from monitor.check import (
    Check,
    CheckContext,
    CheckSettings,
    Finding,
    Gauge,
    Interval,
    Measurement,
    Resource,
    Severity,
)
from monitor.errors import GraphLicenseError
from monitor.graph.query import Query, odata_datetime, odata_string
from monitor.memory import Memory

if TYPE_CHECKING:
    from monitor.baseline import Baseline
    from monitor.graph.client import GraphClient

REFERENCES = (
    "seed: Security Best Practices › Audit and Monitoring "
    "(enable sign-in logs; configure alerts for suspicious activity)",
    "seed: Identity Protection (risk-based authentication)",
)
RISK_LEVELS = ("low", "medium", "high")
OUTCOMES = ("success", "failure")
AT_RISK_STATES = ("atRisk", "confirmedCompromised")
SINGLE_FACTOR = "singleFactorAuthentication"
SIGN_INS = "auditLogs/signIns"
RISKY_USERS = "identityProtection/riskyUsers"
RISK_DETECTIONS = "identityProtection/riskDetections"
SIGN_IN_FIELDS = (
    "id",
    "createdDateTime",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "appId",
    "appDisplayName",
    "ipAddress",
    "location",
    "riskLevelDuringSignIn",
    "riskLevelAggregated",
    "riskState",
    "riskDetail",
    "riskEventTypes_v2",
    "status",
    "authenticationRequirement",
    "conditionalAccessStatus",
)
RISKY_USER_FIELDS = (
    "id",
    "userPrincipalName",
    "userDisplayName",
    "riskLevel",
    "riskState",
    "riskDetail",
    "riskLastUpdatedDateTime",
)
DETECTION_FIELDS = (
    "id",
    "userId",
    "riskEventType",
    "riskLevel",
    "riskState",
    "activity",
    "requestId",
    "ipAddress",
    "detectedDateTime",
)
RISKY_SIGN_INS = Gauge(
    "entra_monitor.sign_ins.risky",
    "{sign-in}",
    "Sign-ins at low, medium or high risk first seen by this run, per riskLevelDuringSignIn and "
    "outcome (success: errorCode 0; failure otherwise).",
    ("risk_level", "outcome"),
)
USERS_AT_RISK = Gauge(
    "entra_monitor.users.at_risk",
    "{user}",
    "Users Identity Protection holds at risk (atRisk or confirmedCompromised), per risk level.",
    ("risk_level",),
)
# Watermark keys (each check's watermarks are its own, per tenant).
SIGN_IN_WATERMARK = "signIns.readUntil"
SIGN_IN_MEMORY = "signIns.risky"
DETECTION_WATERMARK = "riskDetections.readUntil"
DETECTION_MEMORY = "riskDetections.recent"


class RiskySignInsSettings(CheckSettings):
    """Windows of the incremental reads. The baseline has no section for them yet, so the defaults
    are the model's: the log's retention on P1/P2 and Identity Protection's on P2 (graph-facts §4)."""

    lookback_days: int = Field(default=30, gt=0)
    """How far back the first run reads the sign-in log (its retention on P1/P2)."""
    overlap_minutes: int = Field(default=60, ge=0)
    """How far before the last run's end each run starts again: sign-ins and detections reach the
    API minutes after they happen, and re-reading an hour of *risky* events costs next to nothing."""
    retention_days: int = Field(default=30, gt=0)
    """How long a successful risky sign-in stays reported after it happened."""
    detection_retention_days: int = Field(default=90, gt=0)
    """How far back risk detections are read on the first run and kept as evidence (P2 keeps risky
    sign-ins 90 days)."""


@dataclass(frozen=True)
class RiskySignIn:
    """One sign-in at some risk, as the rules see it."""

    id: str
    created: datetime
    user_id: str
    user_principal_name: str
    risk_level: str
    """``riskLevelDuringSignIn``: the risk the sign-in was judged at when it happened."""
    error_code: int | None
    """0 for success; None when Graph gave no status (not proof of success)."""
    authentication_requirement: str | None
    """Beta only; None when missing (not proof of single-factor)."""
    record: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The evidence fields as read."""

    @property
    def succeeded(self) -> bool:
        return self.error_code == 0

    @property
    def single_factor(self) -> bool:
        return self.authentication_requirement == SINGLE_FACTOR


@dataclass(frozen=True)
class RiskyUser:
    """A user in Identity Protection's risky-users list."""

    id: str
    user_principal_name: str
    display_name: str
    risk_level: str
    risk_state: str
    record: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RiskySignInData:
    """What ``collect`` read. ``sign_ins`` are every remembered risky sign-in (read now or by an
    earlier run); ``risky_users`` is None when Identity Protection could not be read (the reason is
    ``identity_protection_unavailable``); ``detections`` are remembered risk-detection records by
    user id; ``new_by_level_and_outcome`` counts the risky sign-ins first seen by this run, by
    ``riskLevelDuringSignIn`` and ``success``/``failure`` (for the metric)."""

    sign_ins: tuple[RiskySignIn, ...]
    risky_users: tuple[RiskyUser, ...] | None = ()
    detections: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    new_by_level_and_outcome: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    window_start: datetime | None = None
    window_end: datetime | None = None
    identity_protection_unavailable: str | None = None


def sign_in_record(sign_in: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence fields of a Graph sign-in, small enough to remember (no tokens, no secrets)."""
    status = _mapping(sign_in.get("status"))
    location = _mapping(sign_in.get("location"))
    return {
        "id": sign_in.get("id"),
        "createdDateTime": sign_in.get("createdDateTime"),
        "userId": sign_in.get("userId"),
        "userPrincipalName": sign_in.get("userPrincipalName"),
        "userDisplayName": sign_in.get("userDisplayName"),
        "appId": sign_in.get("appId"),
        "appDisplayName": sign_in.get("appDisplayName"),
        "ipAddress": sign_in.get("ipAddress"),
        "location": {key: location.get(key) for key in ("city", "state", "countryOrRegion")},
        "riskLevelDuringSignIn": sign_in.get("riskLevelDuringSignIn"),
        "riskLevelAggregated": sign_in.get("riskLevelAggregated"),
        "riskState": sign_in.get("riskState"),
        "riskDetail": sign_in.get("riskDetail"),
        "riskEventTypes_v2": list(sign_in.get("riskEventTypes_v2") or ()),
        "status": {key: status.get(key) for key in ("errorCode", "failureReason")},
        "authenticationRequirement": sign_in.get("authenticationRequirement"),
        "conditionalAccessStatus": sign_in.get("conditionalAccessStatus"),
    }


def sign_in_from_graph(sign_in: Mapping[str, Any]) -> RiskySignIn | None:
    """The rules' view of a Graph sign-in; None when it has no id or no usable ``createdDateTime``."""
    created = parse_graph_time(sign_in.get("createdDateTime"))
    identifier = sign_in.get("id")
    if created is None or not isinstance(identifier, str) or not identifier:
        return None
    status = sign_in.get("status")
    error_code = status.get("errorCode") if isinstance(status, Mapping) else None
    requirement = sign_in.get("authenticationRequirement")
    return RiskySignIn(
        identifier,
        created,
        str(sign_in.get("userId") or ""),
        str(sign_in.get("userPrincipalName") or ""),
        str(sign_in.get("riskLevelDuringSignIn") or "none"),
        error_code if isinstance(error_code, int) and not isinstance(error_code, bool) else None,
        requirement if isinstance(requirement, str) else None,
        sign_in_record(sign_in),
    )


def risky_user_from_graph(user: Mapping[str, Any]) -> RiskyUser:
    """The rules' view of a Graph riskyUser."""
    return RiskyUser(
        str(user.get("id") or ""),
        str(user.get("userPrincipalName") or ""),
        str(user.get("userDisplayName") or ""),
        str(user.get("riskLevel") or "none"),
        str(user.get("riskState") or "none"),
        {name: user.get(name) for name in RISKY_USER_FIELDS},
    )


def risk_filter(start: datetime, end: datetime) -> str:
    """The sign-in ``$filter``: the window (both ends inclusive) and a risk level the rules care
    about. ``riskLevelDuringSignIn`` supports only ``eq`` (graph-facts §4), hence the ``or``."""
    levels = " or ".join(f"riskLevelDuringSignIn eq {odata_string(level)}" for level in RISK_LEVELS)
    return (
        f"createdDateTime ge {odata_datetime(start)} and createdDateTime le {odata_datetime(end)} "
        f"and ({levels})"
    )


def window_start(stored: str | None, now: datetime, overlap: timedelta, lookback: timedelta) -> datetime:
    """Where a read starts: the stored end of the last read minus the overlap, never before the
    lookback (older events are past the log's retention); the lookback on the first run."""
    earliest = now - lookback
    last = parse_graph_time(stored)
    if last is None:
        return earliest
    return min(max(last - overlap, earliest), now)


class RiskySignIns(Check[RiskySignInsSettings, RiskySignInData]):
    id = "risky-sign-ins"
    title = "Risky sign-ins that succeeded and users at risk"
    description = (
        "Reads the sign-in log incrementally (only sign-ins at low, medium or high risk, from the "
        "last run's watermark minus an overlap) and Identity Protection's risky users and risk "
        "detections; reports successful high- and medium-risk sign-ins, risky sign-ins completed "
        "with single-factor authentication, and users currently at risk."
    )
    permissions = ("AuditLog.Read.All", "IdentityRiskyUser.Read.All", "IdentityRiskEvent.Read.All")
    schedule = Interval(minutes=15)
    settings_model = RiskySignInsSettings
    gauges = (RISKY_SIGN_INS, USERS_AT_RISK)

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        return {}  # config/baseline.toml has no sign-in section; the model's defaults apply

    async def collect(self, context: CheckContext) -> RiskySignInData:
        """Risky sign-ins of the new window merged into the memory, then Identity Protection. A
        GraphLicenseError from the sign-in log propagates (the check is unavailable). One from
        Identity Protection (no Entra ID P2) marks every rule unavailable: Graph then also shows
        sign-ins' risk levels as ``hidden`` (graph-facts §4), so a clean log would prove nothing.
        The log is still read, so the window and the new-event counts move on."""
        settings = context.settings
        if not isinstance(settings, RiskySignInsSettings):
            raise TypeError(f"{self.id} needs RiskySignInsSettings, got {type(settings).__name__}")
        now = context.now
        stored = await context.watermarks.get(SIGN_IN_WATERMARK)
        overlap = timedelta(minutes=settings.overlap_minutes)
        start = window_start(stored, now, overlap, timedelta(days=settings.lookback_days))
        memory = await Memory.load(context.watermarks, SIGN_IN_MEMORY)
        counts = await read_risky_sign_ins(context.graph, memory, start, now)
        memory.forget_before(now - timedelta(days=settings.retention_days))
        await memory.save(context.watermarks)
        await context.watermarks.set(SIGN_IN_WATERMARK, now.isoformat())
        remembered = (sign_in_from_graph(item.record) for item in memory)
        sign_ins = tuple(sign_in for sign_in in remembered if sign_in is not None)
        try:
            users, detections = await read_identity_protection(context, settings, overlap)
        except GraphLicenseError as error:
            context.rules_unavailable([*SIGN_IN_RULES, "user-at-risk"], error.reason)
            return RiskySignInData(sign_ins, None, {}, counts, start, now, error.reason)
        return RiskySignInData(sign_ins, users, detections, counts, start, now)

    def evaluate(self, data: RiskySignInData, settings: RiskySignInsSettings, now: datetime) -> list[Finding]:
        """Sign-in findings oldest first (rule order within one sign-in), then user findings in the
        order read. A sign-in is reported while ``now - createdDateTime <= retention_days``."""
        cutoff = now - timedelta(days=settings.retention_days)
        findings: list[Finding] = []
        for sign_in in sorted(data.sign_ins, key=lambda item: (item.created, item.id)):
            if sign_in.created >= cutoff:
                findings += sign_in_findings(sign_in)
        for user in data.risky_users or ():
            if user.risk_state in AT_RISK_STATES:
                findings.append(user_finding(user, data.detections.get(user.id.lower(), ())))
        return findings

    def measure(
        self, data: RiskySignInData, settings: RiskySignInsSettings, now: datetime
    ) -> list[Measurement]:
        """Every level × outcome of the new risky sign-ins, then every level of users at risk, in
        :data:`RISK_LEVELS` order; nothing when Identity Protection was unavailable."""
        if data.identity_protection_unavailable is not None or data.risky_users is None:
            return []
        measurements = [
            Measurement(
                RISKY_SIGN_INS.name,
                float(data.new_by_level_and_outcome.get(level, {}).get(outcome, 0)),
                {"risk_level": level, "outcome": outcome},
            )
            for level in RISK_LEVELS
            for outcome in OUTCOMES
        ]
        at_risk = [user.risk_level for user in data.risky_users if user.risk_state in AT_RISK_STATES]
        measurements += [
            Measurement(USERS_AT_RISK.name, float(at_risk.count(level)), {"risk_level": level})
            for level in RISK_LEVELS
        ]
        return measurements


async def read_risky_sign_ins(
    graph: GraphClient, memory: Memory, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """Remember every sign-in at risk in ``[start, end]`` (beta, for ``authenticationRequirement``;
    no event-type filter, so interactive sign-ins only); return the counts of those not seen before
    by risk level and outcome."""
    counts: dict[str, dict[str, int]] = {}
    query = Query(select=SIGN_IN_FIELDS, filter=risk_filter(start, end))
    async for item in graph.iterate(SIGN_INS, version="beta", query=query):
        sign_in = sign_in_from_graph(item)
        if sign_in is None or sign_in.risk_level not in RISK_LEVELS or not start <= sign_in.created <= end:
            continue  # not what was asked for: never remember (nor count) it
        if memory.remember(sign_in.id, sign_in.created, sign_in.record):
            outcome = "success" if sign_in.succeeded else "failure"
            by_outcome = counts.setdefault(sign_in.risk_level, {})
            by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
    return counts


async def read_identity_protection(
    context: CheckContext, settings: RiskySignInsSettings, overlap: timedelta
) -> tuple[tuple[RiskyUser, ...], dict[str, tuple[Mapping[str, Any], ...]]]:
    """Users at risk (filtered server-side) and the risk detections remembered as their evidence,
    read incrementally on ``detectedDateTime``. Raises GraphLicenseError without P2."""
    graph, now = context.graph, context.now
    states = " or ".join(f"riskState eq {odata_string(state)}" for state in AT_RISK_STATES)
    query = Query(select=RISKY_USER_FIELDS, filter=states)
    users = tuple([risky_user_from_graph(user) async for user in graph.iterate(RISKY_USERS, query=query)])
    retention = timedelta(days=settings.detection_retention_days)
    stored = await context.watermarks.get(DETECTION_WATERMARK)
    start = window_start(stored, now, overlap, retention)
    window = f"detectedDateTime ge {odata_datetime(start)} and detectedDateTime le {odata_datetime(now)}"
    memory = await Memory.load(context.watermarks, DETECTION_MEMORY)
    query = Query(select=DETECTION_FIELDS, filter=window)
    async for detection in graph.iterate(RISK_DETECTIONS, query=query):
        detected = parse_graph_time(detection.get("detectedDateTime"))
        if detected is not None and detection.get("id"):
            memory.remember(str(detection["id"]), detected, {k: detection.get(k) for k in DETECTION_FIELDS})
    memory.forget_before(now - retention)
    await memory.save(context.watermarks)
    await context.watermarks.set(DETECTION_WATERMARK, now.isoformat())
    by_user: dict[str, list[Mapping[str, Any]]] = {}
    for item in memory:
        by_user.setdefault(str(item.record.get("userId") or "").lower(), []).append(item.record)
    return users, {user: tuple(records) for user, records in by_user.items()}


# rule id → (severity, what the message says about the sign-in, remediation)
SIGN_IN_RULES: Mapping[str, tuple[Severity, str, str]] = {
    "high-risk-sign-in-succeeded": (
        Severity.CRITICAL,
        "succeeded although Identity Protection rated it high risk",
        "Treat the account as compromised: revoke its sessions, reset its password, confirm the "
        "sign-in compromised in Identity Protection, and add a sign-in risk policy that blocks "
        "high-risk sign-ins.",
    ),
    "medium-risk-sign-in-succeeded": (
        Severity.HIGH,
        "succeeded although Identity Protection rated it medium risk",
        "Confirm with the user whether the sign-in was theirs; if not, revoke sessions and reset the "
        "password. Require MFA for medium-risk sign-ins with a sign-in risk policy.",
    ),
    "risky-sign-in-single-factor": (
        Severity.HIGH,
        "was rated at risk yet completed with single-factor authentication",
        "Require multifactor authentication for risky sign-ins (a Conditional Access sign-in risk "
        "policy) and register the user for MFA; check with the user whether the sign-in was theirs.",
    ),
}


def sign_in_rules(sign_in: RiskySignIn) -> list[str]:
    """The rules a sign-in breaks: only successful ones count (a failed attempt was stopped)."""
    if not sign_in.succeeded or sign_in.risk_level not in RISK_LEVELS:
        return []
    rules = []
    if sign_in.risk_level == "high":
        rules.append("high-risk-sign-in-succeeded")
    elif sign_in.risk_level == "medium":
        rules.append("medium-risk-sign-in-succeeded")
    if sign_in.single_factor:
        rules.append("risky-sign-in-single-factor")
    return rules


def sign_in_findings(sign_in: RiskySignIn) -> list[Finding]:
    """One finding per rule the sign-in breaks, about the sign-in (displayed as its user's UPN)."""
    findings = []
    for rule in sign_in_rules(sign_in):
        severity, summary, remediation = SIGN_IN_RULES[rule]
        record = sign_in.record
        app = record.get("appDisplayName") or record.get("appId") or "an application"
        country = (record.get("location") or {}).get("countryOrRegion")
        where = f" from {record.get('ipAddress')}" if record.get("ipAddress") else ""
        where += f" ({country})" if country else ""
        message = (
            f"The sign-in of '{sign_in.user_principal_name}' to {app} on "
            f"{graph_time_text(sign_in.created)}{where} "
            f"{summary} (risk level {sign_in.risk_level}, authentication requirement "
            f"{sign_in.authentication_requirement or 'unknown'})."
        )
        resource = Resource("signIn", sign_in.id, sign_in.user_principal_name)
        findings.append(Finding(rule, severity, resource, message, remediation, dict(record), REFERENCES))
    return findings


def user_finding(user: RiskyUser, detections: Sequence[Mapping[str, Any]]) -> Finding:
    """The user-at-risk finding, with the user's remembered detections (newest first)."""
    newest_first = sorted(detections, key=lambda d: str(d.get("detectedDateTime") or ""), reverse=True)
    kinds = sorted({str(d.get("riskEventType")) for d in newest_first if d.get("riskEventType")})
    because = f" after {', '.join(kinds)}" if kinds else ""
    name = user.user_principal_name or user.display_name or user.id
    return Finding(
        "user-at-risk",
        Severity.HIGH,
        Resource("user", user.id, user.display_name or user.user_principal_name),
        f"Identity Protection holds user '{name}' at risk (risk level {user.risk_level}, state "
        f"{user.risk_state}){because}.",
        "Investigate the user's risky sign-ins and detections; if compromised, reset the password "
        "and revoke sessions, then confirm compromised or dismiss the risk in Identity Protection. "
        "A user risk policy requiring a secure password change remediates this automatically.",
        {**user.record, "riskDetections": [dict(d) for d in newest_first]},
        REFERENCES,
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
