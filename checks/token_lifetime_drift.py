"""token-lifetime-drift: token-lifetime policies and session controls held to the baseline.

The seed sets token lifetimes (seed: Security Best Practices › Token Lifetimes: access tokens
1 hour, refresh tokens 90 days, sessions 8 hours); ``[tokens]`` of the baseline holds them. Of a
token-lifetime policy's ``definition`` (a JSON document in a string, graph-facts §6) only
``AccessTokenLifetime`` is still honoured; the refresh- and session-token properties were retired
in 2021 and are ignored. Sessions are set by conditional-access session controls instead. Rules:

- ``access-token-lifetime-drift`` (medium): ``AccessTokenLifetime`` differs from
  ``access_token_lifetime_minutes`` by more than ``access_token_tolerance_minutes``.
- ``retired-token-property`` (low): the definition still sets a retired property (it does
  nothing: refresh tokens expire after ``refresh_token_days`` of inactivity regardless).
- ``sign-in-frequency-exceeds-baseline`` (medium): an enabled conditional-access policy's
  time-based sign-in frequency is longer than ``session_hours``.
- ``persistent-browser-session`` (medium): an enabled policy makes browser sessions persistent.
- ``token-policy-changed`` (info): a token-lifetime policy's definition, name, default flag or
  targets changed, or it was added or deleted; or a conditional-access policy's session controls
  or state changed, or it was added or deleted, since the previous run. The first run only
  remembers the state. A change stays reported for ``changed_open_days`` after it was seen.

Report-only and disabled policies enforce no session control, so only enabled ones are judged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from checks.graph_values import graph_time_text
from checks.policy_snapshot import (
    PolicyChange,
    Snapshot,
    decode_snapshot,
    encode_snapshot,
    flatten,
    remember_changes,
)
from monitor.check import Check, CheckContext, CheckSettings, Finding, Interval, Resource, Severity
from monitor.errors import GraphLicenseError
from monitor.graph.batch import BatchRequest
from monitor.graph.query import Query, encode_query, graph_path
from monitor.memory import Memory

if TYPE_CHECKING:
    from monitor.baseline import Baseline
    from monitor.graph.client import GraphClient

TOKEN_REFERENCES = ("seed: Security Best Practices › Token Lifetimes (access tokens: 1 hour)",)
REFRESH_REFERENCES = ("seed: Security Best Practices › Token Lifetimes (refresh tokens: 90 days)",)
SESSION_REFERENCES = ("seed: Security Best Practices › Token Lifetimes (session tokens: 8 hours)",)
LIFETIME_POLICY = "tokenLifetimePolicy"
CA_POLICY = "conditionalAccessPolicy"
LIFETIME_POLICIES = "policies/tokenLifetimePolicies"
APPLIES_TO = "policies/tokenLifetimePolicies/{id}/appliesTo"
CA_POLICIES = "identity/conditionalAccess/policies"
TOKEN_FIELDS = ("id", "displayName", "definition", "isOrganizationDefault")
TARGET_FIELDS = ("id", "appId", "displayName")
CA_FIELDS = ("id", "displayName", "state", "sessionControls")
SESSION_RULES = ("sign-in-frequency-exceeds-baseline", "persistent-browser-session")
# graph-facts §6: retired 2021-01-30 and ignored; the last four are their even older names.
RETIRED_PROPERTIES = (
    "MaxInactiveTime",
    "MaxAgeSingleFactor",
    "MaxAgeMultiFactor",
    "MaxAgeSessionSingleFactor",
    "MaxAgeSessionMultiFactor",
    "SingleFactorRefreshTokenMaxAge",
    "MultiFactorRefreshTokenMaxAge",
    "SingleFactorSessionTokenMaxAge",
    "MultiFactorSessionTokenMaxAge",
)
SNAPSHOT_KEY = "policy-snapshot"
CHANGES_KEY = "policy-changes"
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class TokenLifetimeDriftSettings(CheckSettings):
    """``[tokens]`` of the baseline, plus how long a change stays reported."""

    access_token_lifetime_minutes: int = Field(default=60, gt=0)
    access_token_tolerance_minutes: int = Field(default=15, ge=0)
    refresh_token_days: int = Field(default=90, gt=0)
    session_hours: int = Field(default=8, gt=0)
    changed_open_days: int = Field(default=7, ge=0)


@dataclass(frozen=True)
class Target:
    """An application (or service principal) a token-lifetime policy applies to."""

    id: str
    app_id: str | None
    display_name: str
    type: str


@dataclass(frozen=True)
class TokenPolicy:
    """A token-lifetime policy; ``definition`` is the parsed ``TokenLifetimePolicy`` object, or
    None when no string of Graph's ``definition`` holds a readable one (``raw_definition``)."""

    id: str
    display_name: str
    is_organization_default: bool
    definition: Mapping[str, Any] | None
    raw_definition: tuple[str, ...] = ()
    applies_to: tuple[Target, ...] = ()


@dataclass(frozen=True)
class SessionPolicy:
    """A conditional-access policy's state and session controls (None or {} when it has none)."""

    id: str
    display_name: str
    state: str
    session_controls: Mapping[str, Any] | None


@dataclass(frozen=True)
class TokenInventory:
    """What ``collect`` read, and the changes remembered (including this run's)."""

    token_policies: tuple[TokenPolicy, ...]
    session_policies: tuple[SessionPolicy, ...]
    changes: tuple[PolicyChange, ...] = ()
    session_unavailable: str | None = None
    """Why the conditional-access policies could not be read (no Entra ID P1), if they could not."""


# -- parsing --------------------------------------------------------------------------------


def parse_timespan(text: object) -> timedelta | None:
    """A .NET TimeSpan ``[d.]hh:mm:ss[.fffffff]`` (graph-facts §6); None for ``until-revoked``,
    null, and anything else unreadable."""
    if not isinstance(text, str):
        return None
    match = _TIMESPAN.match(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups()[:4])
    fraction = float(f"0.{match.group(5)}") if match.group(5) else 0.0
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds + fraction)


def parse_definition(strings: object) -> Mapping[str, Any] | None:
    """The ``TokenLifetimePolicy`` object in Graph's ``definition`` (a list of JSON strings; doc
    examples carry trailing commas, so they are tolerated); None if no string holds one."""
    if not isinstance(strings, list):
        return None
    for text in strings:
        if not isinstance(text, str):
            continue
        try:
            document = json.loads(_TRAILING_COMMA.sub(r"\1", text))
        except ValueError:
            continue
        policy = document.get("TokenLifetimePolicy") if isinstance(document, dict) else None
        if isinstance(policy, dict):
            return policy
    return None


def token_policy_from_graph(raw: Mapping[str, Any], targets: Iterable[Mapping[str, Any]] = ()) -> TokenPolicy:
    """The rules' view of a token-lifetime policy and its ``appliesTo`` directory objects."""
    definition = raw.get("definition")
    strings = tuple(s for s in definition if isinstance(s, str)) if isinstance(definition, list) else ()
    return TokenPolicy(
        str(raw["id"]),
        str(raw.get("displayName") or raw["id"]),
        raw.get("isOrganizationDefault") is True,
        parse_definition(definition),
        strings,
        tuple(sorted((_target(t) for t in targets), key=lambda t: t.id)),
    )


def _target(raw: Mapping[str, Any]) -> Target:
    kind = str(raw.get("@odata.type") or "#microsoft.graph.application").rsplit(".", 1)[-1]
    app_id = raw.get("appId")
    return Target(
        str(raw.get("id")),
        app_id if isinstance(app_id, str) else None,
        str(raw.get("displayName") or ""),
        kind,
    )


def session_policy_from_graph(raw: Mapping[str, Any]) -> SessionPolicy:
    controls = raw.get("sessionControls")
    return SessionPolicy(
        str(raw["id"]),
        str(raw.get("displayName") or raw["id"]),
        str(raw.get("state") or ""),
        controls if isinstance(controls, Mapping) else None,
    )


# -- the snapshot ---------------------------------------------------------------------------


def tracked_state(policy: TokenPolicy | SessionPolicy) -> dict[str, Any]:
    """What a change is judged on: a token policy's definition (each property; the raw strings
    when unreadable), name, default flag and targets; a conditional-access policy's state and
    session controls."""
    state: dict[str, Any] = {}
    if isinstance(policy, TokenPolicy):
        state["displayName"] = policy.display_name
        state["isOrganizationDefault"] = policy.is_organization_default
        state["appliesTo"] = [target.id for target in policy.applies_to]
        if policy.definition is None:
            state["definition"] = list(policy.raw_definition)
        else:
            flatten("definition", policy.definition, state)
    else:
        state["state"] = policy.state
        flatten("sessionControls", policy.session_controls, state)
    return state


def take_snapshot(
    token_policies: Iterable[TokenPolicy], session_policies: Iterable[SessionPolicy]
) -> Snapshot:
    """The compact canonical state kept between runs."""
    return {
        LIFETIME_POLICY: {
            p.id: {"displayName": p.display_name, "tracked": tracked_state(p)} for p in token_policies
        },
        CA_POLICY: {
            p.id: {"displayName": p.display_name, "tracked": tracked_state(p)} for p in session_policies
        },
    }


# -- the check ------------------------------------------------------------------------------


class TokenLifetimeDrift(Check[TokenLifetimeDriftSettings, TokenInventory]):
    id = "token-lifetime-drift"
    title = "Token lifetimes and session controls off the baseline, and changes to them"
    description = (
        "Reads the token-lifetime policies with the applications they apply to and the "
        "conditional-access session controls, and reports access-token lifetimes off the baseline "
        "beyond the tolerance, retired token properties still set, sign-in frequencies longer than "
        "the session baseline, persistent browser sessions, and every change to these policies "
        "since the previous run, with a before/after diff."
    )
    # appliesTo needs Application.Read.All besides Policy.Read.All (graph-facts §6).
    permissions = ("Policy.Read.All", "Application.Read.All")
    schedule = Interval(hours=6)
    settings_model = TokenLifetimeDriftSettings

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        section = baseline.tokens
        return {
            "access_token_lifetime_minutes": section.access_token_lifetime_minutes,
            "access_token_tolerance_minutes": section.access_token_tolerance_minutes,
            "refresh_token_days": section.refresh_token_days,
            "session_hours": section.session_hours,
        }

    async def collect(self, context: CheckContext) -> TokenInventory:
        """The token-lifetime policies (one read) with their targets (one ``$batch``), the
        conditional-access policies (one read), and the changes since the previous run, kept in
        the watermarks. Without Entra ID P1 the session rules are reported unavailable and the
        previous conditional-access state is kept as it was."""
        settings = context.settings
        if not isinstance(settings, TokenLifetimeDriftSettings):
            raise TypeError(f"{self.id} needs TokenLifetimeDriftSettings, got {type(settings).__name__}")
        graph = context.graph
        raw_policies = [p async for p in graph.iterate(LIFETIME_POLICIES, query=Query(select=TOKEN_FIELDS))]
        targets = await read_targets(graph, [str(p["id"]) for p in raw_policies])
        token_policies = tuple(token_policy_from_graph(p, targets[str(p["id"])]) for p in raw_policies)
        unavailable: str | None = None
        try:
            query = Query(select=CA_FIELDS)
            session_policies = tuple(
                [session_policy_from_graph(p) async for p in graph.iterate(CA_POLICIES, query=query)]
            )
        except GraphLicenseError as error:
            unavailable, session_policies = str(error), ()
            context.rules_unavailable(SESSION_RULES, unavailable)
        stored = await context.watermarks.get(SNAPSHOT_KEY)
        previous = decode_snapshot(stored, (LIFETIME_POLICY, CA_POLICY), SNAPSHOT_KEY)
        current = take_snapshot(token_policies, session_policies)
        if unavailable is not None:
            current[CA_POLICY] = dict(previous[CA_POLICY]) if previous is not None else {}
        memory = await Memory.load(context.watermarks, CHANGES_KEY)
        changes = remember_changes(memory, previous, current, context.now, settings.changed_open_days)
        await memory.save(context.watermarks)
        await context.watermarks.set(SNAPSHOT_KEY, encode_snapshot(current))
        return TokenInventory(token_policies, session_policies, tuple(changes), unavailable)

    def evaluate(
        self, data: TokenInventory, settings: TokenLifetimeDriftSettings, now: datetime
    ) -> list[Finding]:
        """Token-policy findings, then session findings, each in the order collected; then one
        token-policy-changed finding per policy with a change seen within ``changed_open_days``."""
        findings: list[Finding] = []
        for policy in data.token_policies:
            findings += token_policy_findings(policy, settings)
        for session in data.session_policies:
            findings += session_findings(session, settings)
        findings += change_findings(data.changes, settings, now)
        return findings


async def read_targets(graph: GraphClient, policy_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """policy id → its ``appliesTo`` objects: one ``$batch`` (20 policies a request) instead of a
    request per policy; a policy whose targets span pages is read on its own. A policy deleted
    since it was listed (404) applies to nothing; any other failure raises."""
    query = Query(select=TARGET_FIELDS)
    paths = {policy_id: graph_path(APPLIES_TO, id=policy_id) for policy_id in policy_ids}
    requests = [
        BatchRequest(str(number), f"{paths[policy_id]}?{encode_query(query.parameters(None))}")
        for number, policy_id in enumerate(policy_ids)
    ]
    found: dict[str, list[dict[str, Any]]] = {}
    for policy_id, response in zip(policy_ids, await graph.batch(requests) if requests else [], strict=True):
        body = response.body if isinstance(response.body, dict) else {}
        if response.status == 404:
            found[policy_id] = []
        elif response.error is not None:
            raise response.error
        elif body.get("@odata.nextLink"):
            found[policy_id] = [item async for item in graph.iterate(paths[policy_id], query=query)]
        else:
            found[policy_id] = [item for item in body.get("value") or () if isinstance(item, dict)]
    return found


# -- rules ------------------------------------------------------------------------------------


def token_policy_findings(policy: TokenPolicy, settings: TokenLifetimeDriftSettings) -> list[Finding]:
    """access-token-lifetime-drift and retired-token-property for one policy. A drift of exactly
    the tolerance is allowed; a policy without a readable AccessTokenLifetime leaves the defaults."""
    if policy.definition is None:
        return []
    findings: list[Finding] = []
    text = policy.definition.get("AccessTokenLifetime")
    lifetime = parse_timespan(text)
    baseline = timedelta(minutes=settings.access_token_lifetime_minutes)
    if lifetime is not None and abs(lifetime - baseline) > timedelta(
        minutes=settings.access_token_tolerance_minutes
    ):
        minutes = round(lifetime.total_seconds() / 60, 2)
        direction = "longer" if lifetime > baseline else "shorter"
        findings.append(
            Finding(
                "access-token-lifetime-drift",
                Severity.MEDIUM,
                _token_resource(policy),
                f"The token-lifetime policy '{policy.display_name}' issues access tokens valid for "
                f"{_minutes(minutes)} minutes, {direction} than the baseline of "
                f"{settings.access_token_lifetime_minutes} minutes by more than "
                f"{settings.access_token_tolerance_minutes} minutes.",
                'Set AccessTokenLifetime to the baseline ("01:00:00") in the policy\'s definition, or '
                "remove the policy from the applications listed if they need no special lifetime.",
                _token_evidence(
                    policy,
                    accessTokenLifetime=text,
                    accessTokenLifetimeMinutes=minutes,
                    baselineMinutes=settings.access_token_lifetime_minutes,
                    toleranceMinutes=settings.access_token_tolerance_minutes,
                ),
                TOKEN_REFERENCES,
            )
        )
    retired = {name: policy.definition[name] for name in RETIRED_PROPERTIES if name in policy.definition}
    if retired:
        findings.append(
            Finding(
                "retired-token-property",
                Severity.LOW,
                _token_resource(policy),
                f"The token-lifetime policy '{policy.display_name}' still sets the retired "
                f"{', '.join(retired)}, which Entra ID ignores: refresh tokens expire after "
                f"{settings.refresh_token_days} days of inactivity regardless of the policy.",
                "Remove the retired properties from the policy's definition (keep only Version and "
                "AccessTokenLifetime) and set session lifetimes with conditional-access sign-in "
                "frequency instead.",
                _token_evidence(
                    policy, retiredProperties=retired, refreshTokenDays=settings.refresh_token_days
                ),
                REFRESH_REFERENCES,
            )
        )
    return findings


def sign_in_frequency(controls: Mapping[str, Any] | None) -> timedelta | None:
    """The enforced time-based sign-in frequency; None when off, ``everyTime``, or unreadable
    (graph-facts §6: ``type`` hours|days, ``value`` Int32, ``frequencyInterval`` default timeBased)."""
    frequency = (controls or {}).get("signInFrequency")
    if not isinstance(frequency, Mapping) or frequency.get("isEnabled") is not True:
        return None
    if (frequency.get("frequencyInterval") or "timeBased") != "timeBased":
        return None
    value, unit = (
        frequency.get("value"),
        {"hours": timedelta(hours=1), "days": timedelta(days=1)}.get(str(frequency.get("type"))),
    )
    if unit is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    return value * unit


def session_findings(policy: SessionPolicy, settings: TokenLifetimeDriftSettings) -> list[Finding]:
    """sign-in-frequency-exceeds-baseline (exactly ``session_hours`` is allowed) and
    persistent-browser-session for one enabled policy."""
    if policy.state != "enabled":
        return []
    findings: list[Finding] = []
    controls = policy.session_controls or {}
    frequency = sign_in_frequency(controls)
    if frequency is not None and frequency > timedelta(hours=settings.session_hours):
        raw = controls["signInFrequency"]
        findings.append(
            Finding(
                "sign-in-frequency-exceeds-baseline",
                Severity.MEDIUM,
                _ca_resource(policy),
                f"The conditional-access policy '{policy.display_name}' lets sessions last "
                f"{raw['value']} {raw['type']} before signing in again, longer than the baseline of "
                f"{settings.session_hours} hours.",
                f"Set the policy's Session › Sign-in frequency to {settings.session_hours} hours or less.",
                _ca_evidence(policy, signInFrequency=dict(raw), sessionHours=settings.session_hours),
                SESSION_REFERENCES,
            )
        )
    browser = controls.get("persistentBrowser")
    if isinstance(browser, Mapping) and browser.get("isEnabled") is True and browser.get("mode") == "always":
        findings.append(
            Finding(
                "persistent-browser-session",
                Severity.MEDIUM,
                _ca_resource(policy),
                f"The conditional-access policy '{policy.display_name}' keeps browser sessions "
                f"persistent, so users stay signed in past the {settings.session_hours}-hour session "
                "baseline.",
                "Set the policy's Session › Persistent browser session to 'Never persistent', or turn "
                "the control off.",
                _ca_evidence(policy, persistentBrowser=dict(browser), sessionHours=settings.session_hours),
                SESSION_REFERENCES,
            )
        )
    return findings


def change_findings(
    changes: Iterable[PolicyChange], settings: TokenLifetimeDriftSettings, now: datetime
) -> list[Finding]:
    """One token-policy-changed finding per policy with a change seen at most
    ``changed_open_days`` before ``now`` (exactly then still counts), its changes oldest first."""
    window = timedelta(days=settings.changed_open_days)
    by_policy: dict[tuple[str, str], list[PolicyChange]] = {}
    for change in changes:
        if timedelta(0) <= now - change.detected_at <= window:
            by_policy.setdefault((change.resource_type, change.policy_id), []).append(change)
    findings = []
    for (kind, policy_id), seen in sorted(by_policy.items()):
        seen.sort(key=lambda change: change.detected_at)
        latest = seen[-1]
        what = "token-lifetime policy" if kind == LIFETIME_POLICY else "conditional-access policy"
        if latest.before is None:
            happened = "was added"
        elif latest.after is None:
            happened = "was deleted"
        else:
            happened = f"changed ({', '.join(sorted(latest.after.keys() | latest.before.keys()))})"
        findings.append(
            Finding(
                "token-policy-changed",
                Severity.INFO,
                Resource(kind, policy_id, latest.display_name),
                f"The {what} '{latest.display_name}' {happened}; "
                f"seen on {graph_time_text(latest.detected_at)}.",
                "Confirm the change was intended and approved; if it was not, restore the previous "
                "values shown in the evidence.",
                {
                    "policyId": policy_id,
                    "displayName": latest.display_name,
                    "changedOpenDays": settings.changed_open_days,
                    "changes": [
                        {"detectedAt": graph_time_text(c.detected_at), "before": c.before, "after": c.after}
                        for c in seen
                    ],
                },
                TOKEN_REFERENCES if kind == LIFETIME_POLICY else SESSION_REFERENCES,
            )
        )
    return findings


# -- evidence -------------------------------------------------------------------------------


def _minutes(minutes: float) -> str:
    return str(int(minutes)) if minutes == int(minutes) else str(minutes)


def _token_resource(policy: TokenPolicy) -> Resource:
    return Resource(LIFETIME_POLICY, policy.id, policy.display_name)


def _ca_resource(policy: SessionPolicy) -> Resource:
    return Resource(CA_POLICY, policy.id, policy.display_name)


def _token_evidence(policy: TokenPolicy, **extra: Any) -> dict[str, Any]:
    return {
        "policyId": policy.id,
        "displayName": policy.display_name,
        "isOrganizationDefault": policy.is_organization_default,
        "appliesTo": [
            {"id": t.id, "appId": t.app_id, "displayName": t.display_name, "type": t.type}
            for t in policy.applies_to
        ],
        **extra,
    }


def _ca_evidence(policy: SessionPolicy, **extra: Any) -> dict[str, Any]:
    return {"policyId": policy.id, "displayName": policy.display_name, "state": policy.state, **extra}
