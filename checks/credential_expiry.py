"""credential-expiry: certificates and client secrets of applications and service principals.

An expired certificate or secret stops an integration (or, for a SAML signing certificate, every
single sign-on to the app) without warning, so the seed asks to monitor expiry, rotate annually
and use certificates rather than secrets in production (seed: Security Best Practices ›
Certificate Management). Rules, each reported once per directory object with every credential
that breaks it in the evidence:

- ``credential-expired`` (high): ``endDateTime`` is before now.
- ``credential-expiring-critical`` (critical): it ends within ``critical_days`` (inclusive).
- ``credential-expiring-warning`` (medium): it ends within ``warning_days`` (inclusive).
- ``credential-lifetime-too-long`` (medium): a credential that has not expired is valid for more
  than ``max_lifetime_days`` (or has no end date at all).
- ``secret-on-production-app`` (medium): an application named in ``production_apps`` holds a
  client secret.
- ``unused-application`` (low): every credential of an application has expired and it has not
  signed in for ``unused_days`` (or never); reported instead of its expiries, since nothing urgent
  breaks when an app nobody uses loses its secret.

A SAML token-signing certificate is stored as a Sign key, a Verify key and a password credential
sharing one ``customKeyIdentifier`` (graph-facts §1); it is one certificate and is reported once,
as its Verify key. Managed identities are skipped: Azure rotates their certificates itself.

Gauges, over the same credentials (managed identities skipped, a SAML certificate once):
``entra_monitor.credentials.days_to_expiry`` per object whose nearest expiry is at most
``gauge_horizon_days`` away (or past), and ``entra_monitor.credentials.count`` per expiry bucket
(every credential, always all five buckets).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from checks.graph_values import graph_time_text, parse_graph_time
from checks.sign_in_activity import read_last_sign_ins
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
from monitor.errors import GraphLicenseError, GraphPermissionError
from monitor.graph.query import Query

if TYPE_CHECKING:
    from monitor.baseline import Baseline

REFERENCES = (
    "seed: Security Best Practices › Certificate Management "
    "(use certificate-based authentication for production; rotate certificates annually; "
    "monitor certificate expiration)",
)
APPLICATION = "application"
SERVICE_PRINCIPAL = "servicePrincipal"
CERTIFICATE = "certificate"
SAML_CERTIFICATE = "samlSigningCertificate"
CLIENT_SECRET = "password"  # noqa: S105 (the kind name of a passwordCredential, not a secret)
KIND_NAMES = {
    CERTIFICATE: "certificate",
    SAML_CERTIFICATE: "SAML token-signing certificate",
    CLIENT_SECRET: "client secret",
}
# graph-facts §1: listing keyCredentials via $select falls in its own throttling family.
APPLICATION_FIELDS = ("id", "appId", "displayName", "keyCredentials", "passwordCredentials")
SERVICE_PRINCIPAL_FIELDS = (*APPLICATION_FIELDS, "servicePrincipalType", "preferredSingleSignOnMode")
DAYS_TO_EXPIRY = Gauge(
    "entra_monitor.credentials.days_to_expiry",
    "d",
    "Days from now to the nearest expiry of an application's or service principal's credentials: "
    "the earliest end of those not expired, or the latest end when all have expired (negative); "
    "only objects at most gauge_horizon_days from it.",
    ("object_type", "object_id", "display_name"),
)
CREDENTIAL_COUNT = Gauge(
    "entra_monitor.credentials.count",
    "{credential}",
    "Credentials of applications and service principals per expiry bucket: expired, critical, "
    "warning, ok, no_end_date.",
    ("bucket",),
)
EXPIRED, CRITICAL, WARNING, OK, NO_END_DATE = "expired", "critical", "warning", "ok", "no_end_date"
BUCKETS = (EXPIRED, CRITICAL, WARNING, OK, NO_END_DATE)


class CredentialExpirySettings(CheckSettings):
    """Thresholds of ``[credentials]`` in the baseline; defaults are the shipped baseline's."""

    critical_days: int = Field(default=7, ge=0)
    warning_days: int = Field(default=30, ge=0)
    max_lifetime_days: int = Field(default=365, gt=0)
    unused_days: int = Field(default=90, gt=0)
    production_apps: tuple[str, ...] = ("SCIM Provisioning App", "Calendar/Teams App")
    gauge_horizon_days: int = Field(default=90, ge=0)
    """Only objects whose nearest expiry is at most this many days away (or past) get a
    days_to_expiry measurement, to bound the gauge's cardinality; the bucket counts cover all."""


@dataclass(frozen=True)
class Credential:
    """One certificate or secret as it counts for the rules; a SAML certificate's three Graph
    entries are one Credential (its Verify key)."""

    key_id: str
    kind: str
    """``certificate``, ``samlSigningCertificate`` or ``password``."""
    display_name: str | None
    start: datetime | None
    """None when Graph gave no usable date (null, missing, ``0001-01-01``)."""
    end: datetime | None
    """None when the credential has no end date."""


@dataclass(frozen=True)
class CredentialOwner:
    """An application or service principal and the credentials the rules look at."""

    resource_type: str
    id: str
    app_id: str
    display_name: str
    credentials: tuple[Credential, ...]
    managed_identity: bool = False


@dataclass(frozen=True)
class CredentialInventory:
    """What ``collect`` read. ``last_sign_ins`` maps the lower-case appId of each application whose every
    credential had expired to its last sign-in (None: never); an appId absent from it has unknown
    activity, so the application is judged on its expiries. ``sign_in_activity_unavailable``
    says why activity could not be read, if it could not."""

    owners: tuple[CredentialOwner, ...]
    last_sign_ins: Mapping[str, datetime | None] = field(default_factory=dict)
    sign_in_activity_unavailable: str | None = None


def owner_from_graph(obj: Mapping[str, Any], resource_type: str) -> CredentialOwner:
    """The rules' view of an application or service principal as Graph returns it."""
    return CredentialOwner(
        resource_type,
        str(obj.get("id") or ""),
        str(obj.get("appId") or ""),
        str(obj.get("displayName") or ""),
        tuple(credentials_of(obj)),
        obj.get("servicePrincipalType") == "ManagedIdentity",
    )


def credentials_of(obj: Mapping[str, Any]) -> Iterator[Credential]:
    """Each credential of ``obj`` once: on a SAML service principal the Sign keys and the PFX
    password credentials sharing a key's customKeyIdentifier are parts of a signing certificate
    (graph-facts §1, addTokenSigningCertificate) and are left out."""
    keys = [key for key in obj.get("keyCredentials") or () if isinstance(key, Mapping)]
    passwords = [entry for entry in obj.get("passwordCredentials") or () if isinstance(entry, Mapping)]
    saml = obj.get("preferredSingleSignOnMode") == "saml"
    certificate_ids = {key.get("customKeyIdentifier") for key in keys} - {None} if saml else set()
    for key in keys:
        if saml and str(key.get("usage") or "").lower() == "sign":
            continue
        yield _credential(key, SAML_CERTIFICATE if saml else CERTIFICATE)
    for password in passwords:
        if password.get("customKeyIdentifier") in certificate_ids:
            continue
        yield _credential(password, CLIENT_SECRET)


def _credential(entry: Mapping[str, Any], kind: str) -> Credential:
    return Credential(
        str(entry.get("keyId") or ""),
        kind,
        entry.get("displayName"),
        parse_graph_time(entry.get("startDateTime")),
        parse_graph_time(entry.get("endDateTime")),
    )


def all_expired(owner: CredentialOwner, now: datetime) -> bool:
    """Whether the owner has credentials and every one has ended before ``now``."""
    return bool(owner.credentials) and all(c.end is not None and c.end < now for c in owner.credentials)


class CredentialExpiry(Check[CredentialExpirySettings, CredentialInventory]):
    id = "credential-expiry"
    title = "Application credentials expired, expiring, too long-lived or secrets in production"
    description = (
        "Reads the certificates and client secrets of every application and service principal "
        "(SAML signing certificates counted once) and reports those expired, expiring within the "
        "critical or warning window, valid for longer than the baseline allows, client secrets on "
        "production applications, and applications whose credentials have all expired and that "
        "nobody has signed in to for unused_days."
    )
    permissions = ("Application.Read.All", "AuditLog.Read.All")
    schedule = Interval(hours=6)
    settings_model = CredentialExpirySettings
    gauges = (DAYS_TO_EXPIRY, CREDENTIAL_COUNT)

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        section = baseline.credentials
        return {
            "critical_days": section.critical_days,
            "warning_days": section.warning_days,
            "max_lifetime_days": section.max_lifetime_days,
            "unused_days": section.unused_days,
            "production_apps": tuple(section.production_apps),
        }

    async def collect(self, context: CheckContext) -> CredentialInventory:
        """Applications and service principals with their credentials; sign-in activity only for
        the applications whose every credential has expired (the reports API allows 5 requests
        per 10 s, graph-facts §4, so it is asked only about those, one by one or from the whole
        report, whichever is fewer requests)."""
        graph = context.graph
        owners = [
            owner_from_graph(app, APPLICATION)
            async for app in graph.iterate("applications", query=Query(select=APPLICATION_FIELDS))
        ]
        owners += [
            owner_from_graph(sp, SERVICE_PRINCIPAL)
            async for sp in graph.iterate("servicePrincipals", query=Query(select=SERVICE_PRINCIPAL_FIELDS))
        ]
        candidates = {
            o.app_id for o in owners if o.resource_type == APPLICATION and all_expired(o, context.now)
        }
        service_principals = sum(1 for o in owners if o.resource_type == SERVICE_PRINCIPAL)
        try:
            last_sign_ins = await read_last_sign_ins(graph, candidates, service_principals=service_principals)
        except (GraphLicenseError, GraphPermissionError) as error:
            return CredentialInventory(tuple(owners), {}, str(error))
        return CredentialInventory(tuple(owners), last_sign_ins)

    def evaluate(
        self, data: CredentialInventory, settings: CredentialExpirySettings, now: datetime
    ) -> list[Finding]:
        """Findings ordered by owner (as collected), then rule; one per rule and owner."""
        findings: list[Finding] = []
        for owner in data.owners:
            if owner.managed_identity or not owner.credentials:
                continue  # Azure rotates a managed identity's certificate itself (seed: Managed Identities)
            unused = unused_application(owner, data, settings, now)
            if unused is not None:
                findings.append(unused)
                continue
            findings += owner_findings(owner, settings, now, data.sign_in_activity_unavailable)
        return findings

    def measure(
        self, data: CredentialInventory, settings: CredentialExpirySettings, now: datetime
    ) -> list[Measurement]:
        """days_to_expiry per object within the horizon (as collected), then the five bucket
        counts in :data:`BUCKETS` order; managed identities are left out of both."""
        horizon = float(settings.gauge_horizon_days)
        measurements: list[Measurement] = []
        counts = dict.fromkeys(BUCKETS, 0)
        for owner in data.owners:
            if owner.managed_identity:
                continue
            for credential in owner.credentials:
                counts[expiry_bucket(credential.end, settings, now)] += 1
            days = days_to_expiry(owner.credentials, now)
            if days is not None and days <= horizon:
                attributes = {
                    "object_type": owner.resource_type,
                    "object_id": owner.id,
                    "display_name": owner.display_name,
                }
                measurements.append(Measurement(DAYS_TO_EXPIRY.name, days, attributes))
        measurements += [
            Measurement(CREDENTIAL_COUNT.name, float(counts[bucket]), {"bucket": bucket})
            for bucket in BUCKETS
        ]
        return measurements


def expiry_bucket(end: datetime | None, settings: CredentialExpirySettings, now: datetime) -> str:
    """Where a credential ending at ``end`` stands, with the rules' boundaries: ending exactly now
    is not yet expired; ending exactly ``critical_days``/``warning_days`` from now is inside that
    window; no end date is a bucket of its own."""
    if end is None:
        return NO_END_DATE
    if end < now:
        return EXPIRED
    if end - now <= timedelta(days=settings.critical_days):
        return CRITICAL
    if end - now <= timedelta(days=settings.warning_days):
        return WARNING
    return OK


def days_to_expiry(credentials: Sequence[Credential], now: datetime) -> float | None:
    """Days (unrounded, negative when past) from ``now`` to the earliest end of the credentials
    not yet expired, or to the latest end when every dated one has; None when none has an end."""
    ends = [c.end for c in credentials if c.end is not None]
    if not ends:
        return None
    upcoming = [end for end in ends if end >= now]
    nearest = min(upcoming) if upcoming else max(ends)
    return (nearest - now) / timedelta(days=1)


def unused_application(
    owner: CredentialOwner, data: CredentialInventory, settings: CredentialExpirySettings, now: datetime
) -> Finding | None:
    """The unused-application finding when every credential of an application has expired and its
    last sign-in (known) is more than ``unused_days`` ago or never happened; otherwise None."""
    if owner.resource_type != APPLICATION or not all_expired(owner, now):
        return None
    if owner.app_id.lower() not in data.last_sign_ins:
        return None  # activity unknown: judge the application on its expiries instead
    last = data.last_sign_ins[owner.app_id.lower()]
    if last is not None and now - last <= timedelta(days=settings.unused_days):
        return None
    since = "has never signed in" if last is None else f"last signed in on {graph_time_text(last)}"
    return Finding(
        "unused-application",
        Severity.LOW,
        _resource(owner),
        f"Application '{owner.display_name}' looks unused: all {len(owner.credentials)} of its "
        f"credentials have expired and it {since} (more than {settings.unused_days} days ago).",
        "Confirm with the application's owners that nothing uses it, then delete the app "
        "registration (and its service principal); if it is still needed, add a certificate.",
        {
            "appId": owner.app_id,
            "lastSignInDateTime": None if last is None else graph_time_text(last),
            "unusedDays": settings.unused_days,
            "credentials": [_evidence(c, now) for c in owner.credentials],
        },
        REFERENCES,
    )


def owner_findings(
    owner: CredentialOwner, settings: CredentialExpirySettings, now: datetime, activity_note: str | None
) -> list[Finding]:
    """The expiry, lifetime and production-secret findings of one owner, in rule order."""
    broken: dict[str, list[Credential]] = {}
    for credential in owner.credentials:
        for rule in credential_rules(credential, owner, settings, now):
            broken.setdefault(rule, []).append(credential)
    nearest = _days_to_nearest_expiry(owner.credentials, now)
    findings = []
    for rule, (severity, summary, remediation) in RULE_TEXT.items():
        if rule not in broken:
            continue
        credentials = broken[rule]
        evidence: dict[str, Any] = {
            "appId": owner.app_id,
            "daysToNearestExpiry": nearest,
            "credentials": [_evidence(c, now) for c in credentials],
        }
        if activity_note and rule == "credential-expired" and all_expired(owner, now):
            evidence["signInActivityUnavailable"] = activity_note
        listed = "; ".join(_describe(c) for c in credentials)
        kind = "Application" if owner.resource_type == APPLICATION else "Service principal"
        message = f"{kind} '{owner.display_name}' {summary.format(settings=settings)}: {listed}."
        findings.append(Finding(rule, severity, _resource(owner), message, remediation, evidence, REFERENCES))
    return findings


def credential_rules(
    credential: Credential, owner: CredentialOwner, settings: CredentialExpirySettings, now: datetime
) -> list[str]:
    """The rules one credential breaks. Boundaries: ending exactly now is not yet expired; ending
    exactly ``critical_days``/``warning_days`` from now is inside that window; a lifetime of exactly
    ``max_lifetime_days`` is allowed."""
    rules: list[str] = []
    end, start = credential.end, credential.start
    # seed: "Monitor certificate expiration"; graph-facts §1 keyCredential
    expiry_rule = EXPIRY_RULES.get(expiry_bucket(end, settings, now))
    if expiry_rule is not None:
        rules.append(expiry_rule)
    # seed: "Rotate certificates annually": an unexpired credential valid for longer (or for ever) breaks it.
    if end is None or (
        end >= now and start is not None and end - start > timedelta(days=settings.max_lifetime_days)
    ):
        rules.append("credential-lifetime-too-long")
    # seed: "Use certificate-based authentication for production"; production apps are app
    # registrations (baseline production_apps), where their secrets are managed.
    if (
        credential.kind == CLIENT_SECRET
        and owner.resource_type == APPLICATION
        and owner.display_name in settings.production_apps
    ):
        rules.append("secret-on-production-app")
    return rules


EXPIRY_RULES = {
    EXPIRED: "credential-expired",
    CRITICAL: "credential-expiring-critical",
    WARNING: "credential-expiring-warning",
}
"""The rule each expiry bucket breaks (``ok`` and ``no_end_date`` break none)."""

RULE_TEXT: dict[str, tuple[Severity, str, str]] = {
    "credential-expired": (
        Severity.HIGH,
        "has expired credentials",
        "Create a new certificate (or secret), deploy it to the workload, then remove the expired "
        "credential; for a SAML app, create a new signing certificate and make it active.",
    ),
    "credential-expiring-critical": (
        Severity.CRITICAL,
        "has credentials that expire within {settings.critical_days} days",
        "Rotate now: add a new certificate, deploy it, and remove the old credential before it "
        "expires; for a SAML app, create and activate a new signing certificate and send the new "
        "metadata to the service provider.",
    ),
    "credential-expiring-warning": (
        Severity.MEDIUM,
        "has credentials that expire within {settings.warning_days} days",
        "Plan the rotation: add a new certificate, deploy it, and remove the old credential before "
        "it expires.",
    ),
    "credential-lifetime-too-long": (
        Severity.MEDIUM,
        "has credentials valid for longer than {settings.max_lifetime_days} days",
        "Replace the credential with one valid for at most a year and rotate it annually, as the "
        "baseline requires.",
    ),
    "secret-on-production-app": (
        Severity.MEDIUM,
        "is a production application that authenticates with client secrets",
        "Add a certificate (or a federated identity credential / managed identity), move the "
        "workload to it, then remove the client secrets.",
    ),
}


def _resource(owner: CredentialOwner) -> Resource:
    return Resource(owner.resource_type, owner.id, owner.display_name)


def _days_until(moment: datetime, now: datetime) -> float:
    return round((moment - now).total_seconds() / 86400, 2)


def _days_to_nearest_expiry(credentials: Sequence[Credential], now: datetime) -> float | None:
    """Days until the soonest credential that has not expired ends (None: none will)."""
    ends = [c.end for c in credentials if c.end is not None and c.end >= now]
    return _days_until(min(ends), now) if ends else None


def _evidence(credential: Credential, now: datetime) -> dict[str, Any]:
    """The Graph fields that prove a finding (key ids and dates, never key material)."""
    return {
        "keyId": credential.key_id,
        "credentialType": credential.kind,
        "displayName": credential.display_name,
        "startDateTime": None if credential.start is None else graph_time_text(credential.start),
        "endDateTime": None if credential.end is None else graph_time_text(credential.end),
        "daysToExpiry": None if credential.end is None else _days_until(credential.end, now),
    }


def _describe(credential: Credential) -> str:
    name = f" '{credential.display_name}'" if credential.display_name else ""
    ends = "no end date" if credential.end is None else f"ends {graph_time_text(credential.end)}"
    return f"{KIND_NAMES[credential.kind]}{name} (keyId {credential.key_id}, {ends})"
