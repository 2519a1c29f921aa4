"""consent-grants: delegated permission grants and application permissions held by service principals.

A consent grant is a standing permission: it outlives the project that asked for it and is rarely
looked at again, so the seed asks to monitor consent grants and to give each platform app only the
permissions it needs (seed: Admin Consent › Required Permissions; Security Best Practices › Audit
and Monitoring; Access Reviews › Remove unnecessary access). Each delegated grant
(``oAuth2PermissionGrant``, admin or per-user) and each application permission (an
``appRoleAssignment`` held by a service principal) is one resource; rules, each reported once per
grant:

- ``unused-grant`` (medium): the client holding it has not signed in for more than
  ``unused_days`` according to the beta service-principal sign-in activity report, or never (it is
  absent from the report).
- ``high-privilege-grant`` (high): it includes a permission of ``high_privilege_permissions``.
- ``permission-not-allowed`` (medium): the client has an allow-list (``allowed_permissions``, by
  display name) and the grant holds permissions beyond it.
- ``new-grant`` (info): the grant was not there at the previous run. The first run learns the
  grants and reports none; a new grant stays reported for ``new_grant_open_days`` after it was
  first seen, from the check's memory, so the next run does not resolve it.

Permission names: a delegated grant's ``scope`` holds them already; an application permission's
``appRoleId`` is resolved against the resource service principal's ``appRoles`` (graph-facts §2),
and an id that resolves to nothing (default access, a deleted role) is reported as the id itself.
Names are compared case-insensitively, as Entra compares scope values.

The gauge ``entra_monitor.consent.grants`` counts every grant read, by kind (``delegated`` or
``application``) and by whether it includes a high-privilege permission (``high`` or ``other``);
all four combinations are measured, zeros included.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import sys
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

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
    Watermarks,
)
from monitor.errors import GraphLicenseError, GraphPermissionError
from monitor.graph.query import Query, graph_path
from monitor.memory import Memory, Remembered

if TYPE_CHECKING:
    from monitor.baseline import Baseline
    from monitor.graph.client import GraphClient

REFERENCES = (
    "seed: Security Best Practices › Audit and Monitoring (monitor consent grants)",
    "seed: Admin Consent › Required Permissions (each platform app holds only the permissions it needs)",
    "seed: Access Reviews (remove unnecessary access)",
)
DELEGATED = "oAuth2PermissionGrant"
APPLICATION = "appRoleAssignment"
SERVICE_PRINCIPAL_FIELDS = ("id", "appId", "displayName", "appRoles")
GRANT_FIELDS = ("id", "clientId", "consentType", "principalId", "resourceId", "scope")
ASSIGNMENT_FIELDS = ("id", "appRoleId", "createdDateTime", "principalId", "principalType", "resourceId")
# graph-facts §3: beta only, reports throttling family (5 requests per 10 s): read once, largest page.
KNOWN_GRANTS_KEY = "known-grants"
NEW_GRANTS_KEY = "new-grants"
_KNOWN_FORMAT = "1:"
_HASH_BYTES = 8
GRANT_COUNT = Gauge(
    "entra_monitor.consent.grants",
    "{grant}",
    "Delegated permission grants and application permissions held by service principals, by kind "
    "(delegated, application) and whether they include a high-privilege permission (high, other).",
    ("kind", "privilege"),
)
KINDS = {DELEGATED: "delegated", APPLICATION: "application"}
PRIVILEGES = ("high", "other")


class ConsentGrantsSettings(CheckSettings):
    """``[consent]`` and ``unused_days`` of ``[credentials]`` in the baseline; defaults are the
    shipped baseline's. ``new_grant_open_days`` is the check's own (the baseline has no such key)."""

    unused_days: int = Field(default=90, gt=0)
    high_privilege_permissions: tuple[str, ...] = (
        "Directory.ReadWrite.All",
        "RoleManagement.ReadWrite.Directory",
        "AppRoleAssignment.ReadWrite.All",
        "Application.ReadWrite.All",
        "Mail.ReadWrite",
        "Files.ReadWrite.All",
        "Sites.FullControl.All",
    )
    allowed_permissions: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Client display name → the permissions it may hold; clients not named here are not limited."""
    new_grant_open_days: int = Field(default=7, ge=0)


@dataclass(frozen=True, slots=True)
class ServicePrincipal:
    """A client or resource of grants: what the rules and messages need of it."""

    id: str
    app_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Grant:
    """One delegated grant or application permission, with its permission names resolved."""

    resource_type: str
    """``oAuth2PermissionGrant`` or ``appRoleAssignment``."""
    id: str
    client_id: str
    """Object id of the client service principal (not its appId)."""
    resource_id: str
    """Object id of the resource (API) service principal."""
    permissions: tuple[str, ...]
    consent_type: str | None = None
    """``AllPrincipals`` or ``Principal`` for a delegated grant; None for an application permission."""
    principal_id: str | None = None
    """The consenting user of a ``Principal`` grant."""
    app_role_id: str | None = None
    created: str | None = None


@dataclass(frozen=True)
class NewGrant:
    """A grant first seen at ``first_seen`` (from the check's memory; it may be gone since)."""

    grant: Grant
    client_name: str
    resource_name: str
    first_seen: datetime


@dataclass(frozen=True)
class ConsentInventory:
    """What ``collect`` read. ``service_principals`` maps lower-case object ids to clients and
    resources; ``last_sign_ins`` maps lower-case appIds to the last sign-in in the activity report
    (an appId absent from it never signed in), unless ``sign_in_activity_unavailable`` says why the
    report could not be read."""

    grants: tuple[Grant, ...]
    service_principals: Mapping[str, ServicePrincipal]
    last_sign_ins: Mapping[str, datetime | None] = field(default_factory=dict)
    sign_in_activity_unavailable: str | None = None
    new_grants: tuple[NewGrant, ...] = ()


def delegated_grant_from_graph(obj: Mapping[str, Any]) -> Grant:
    """The rules' view of an ``oAuth2PermissionGrant``; a null scope holds no permission."""
    principal = obj.get("principalId")
    return Grant(
        DELEGATED,
        str(obj.get("id") or ""),
        _shared(obj.get("clientId")),
        _shared(obj.get("resourceId")),
        tuple(sys.intern(scope) for scope in dict.fromkeys(str(obj.get("scope") or "").split())),
        _shared(obj.get("consentType")) or None,
        _shared(principal) if principal else None,
    )


def _shared(value: Any) -> str:
    """One copy of a value many grants repeat (client, resource, user ids, permission names):
    a large tenant's 400,000 grants name a few thousand distinct ones."""
    return sys.intern(str(value or ""))


def assignment_from_graph(obj: Mapping[str, Any], role_names: Mapping[str, str]) -> Grant:
    """The rules' view of an ``appRoleAssignment`` held by a service principal; ``role_names``
    maps the resource's app role ids (lower case) to their values."""
    role_id = str(obj.get("appRoleId") or "")
    return Grant(
        APPLICATION,
        str(obj.get("id") or ""),
        _shared(obj.get("principalId")),
        _shared(obj.get("resourceId")),
        (_shared(role_names.get(role_id.lower(), role_id)),),
        app_role_id=_shared(role_id),
        created=obj.get("createdDateTime"),
    )


def application_role_names(obj: Mapping[str, Any]) -> dict[str, str]:
    """App role id (lower case) → value, for the roles a service principal can hold."""
    names: dict[str, str] = {}
    for role in obj.get("appRoles") or ():
        if not isinstance(role, Mapping) or "Application" not in (role.get("allowedMemberTypes") or ()):
            continue
        if role.get("id") and role.get("value"):
            names[str(role["id"]).lower()] = str(role["value"])
    return names


class ConsentGrants(Check[ConsentGrantsSettings, ConsentInventory]):
    id = "consent-grants"
    title = "Consent grants unused, high-privilege, beyond an allow-list or new"
    description = (
        "Reads every delegated permission grant and every application permission held by a service "
        "principal, and reports those whose client has not signed in for unused_days (or never), "
        "those including a high-privilege permission, permissions beyond a platform application's "
        "allow-list, and grants that appeared since the previous run."
    )
    permissions = ("Application.Read.All", "DelegatedPermissionGrant.Read.All", "AuditLog.Read.All")
    schedule = Interval(hours=6)
    settings_model = ConsentGrantsSettings
    gauges = (GRANT_COUNT,)

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        return {
            "unused_days": baseline.credentials.unused_days,
            "high_privilege_permissions": tuple(baseline.consent.high_privilege_permissions),
            "allowed_permissions": {
                name: tuple(values) for name, values in baseline.consent.allowed_permissions.items()
            },
        }

    async def collect(self, context: CheckContext) -> ConsentInventory:
        """Every service principal once (names, appIds, app roles), every delegated grant once,
        the application permissions through each resource that defines app roles
        (``appRoleAssignedTo``), and the sign-in activity report once; then the new grants from
        the stored state, which is updated to the grants seen now."""
        settings = context.settings
        if not isinstance(settings, ConsentGrantsSettings):
            raise TypeError(f"{self.id} needs ConsentGrantsSettings, got {type(settings).__name__}")
        graph = context.graph
        principals: dict[str, ServicePrincipal] = {}
        roles_by_resource: dict[str, dict[str, str]] = {}
        query = Query(select=SERVICE_PRINCIPAL_FIELDS)
        async for sp in graph.iterate("servicePrincipals", query=query):
            principal = ServicePrincipal(
                str(sp.get("id") or ""), str(sp.get("appId") or ""), str(sp.get("displayName") or "")
            )
            principals[principal.id.lower()] = principal
            names = application_role_names(sp)
            if names:
                roles_by_resource[principal.id] = names
        grants = [
            delegated_grant_from_graph(grant)
            async for grant in graph.iterate("oauth2PermissionGrants", query=Query(select=GRANT_FIELDS))
        ]
        for resource_id, names in roles_by_resource.items():
            grants += [
                assignment_from_graph(a, names) async for a in _held_by_service_principals(graph, resource_id)
            ]
        unavailable: str | None = None
        try:
            last_sign_ins = await read_last_sign_ins(graph)  # every client: the whole report
        except (GraphLicenseError, GraphPermissionError) as error:
            last_sign_ins, unavailable = {}, str(error)
            context.rules_unavailable(["unused-grant"], unavailable)
        new_grants = await remember_new_grants(context.watermarks, grants, principals, settings, context.now)
        return ConsentInventory(tuple(grants), principals, last_sign_ins, unavailable, new_grants)

    def evaluate(
        self, data: ConsentInventory, settings: ConsentGrantsSettings, now: datetime
    ) -> list[Finding]:
        """Findings ordered by grant (as collected), then rule; then the open new-grant findings,
        oldest first. A grant whose client is not a known service principal is skipped."""
        findings: list[Finding] = []
        for grant in data.grants:
            client = data.service_principals.get(grant.client_id.lower())
            if client is not None:
                findings += grant_findings(grant, client, data, settings, now)
        open_for = timedelta(days=settings.new_grant_open_days)
        findings += [
            new_grant_finding(new, settings) for new in data.new_grants if now - new.first_seen <= open_for
        ]
        return findings

    def measure(
        self, data: ConsentInventory, settings: ConsentGrantsSettings, now: datetime
    ) -> list[Measurement]:
        """The count of every kind × privilege, delegated first, high first; every grant read
        counts, whether or not its client is a known service principal."""
        counts = {(kind, privilege): 0 for kind in KINDS.values() for privilege in PRIVILEGES}
        for grant in data.grants:
            privilege = "high" if high_privilege(grant.permissions, settings) else "other"
            counts[(KINDS[grant.resource_type], privilege)] += 1
        return [
            Measurement(GRANT_COUNT.name, float(count), {"kind": kind, "privilege": privilege})
            for (kind, privilege), count in counts.items()
        ]


async def _held_by_service_principals(graph: GraphClient, resource_id: str) -> AsyncIterator[dict[str, Any]]:
    """The assignments of one resource's app roles held by service principals (users and groups
    also appear in ``appRoleAssignedTo``; Graph cannot filter on principalType)."""
    path = graph_path("servicePrincipals/{id}/appRoleAssignedTo", id=resource_id)
    async for assignment in graph.iterate(path, query=Query(select=ASSIGNMENT_FIELDS)):
        if assignment.get("principalType") == "ServicePrincipal":
            yield assignment


# -- new grants -----------------------------------------------------------------------------


def grant_hash(resource_type: str, grant_id: str) -> bytes:
    """A short stable digest of a grant's identity (8 bytes: a new grant is mistaken for a known
    one with odds of about n / 2^64 for n known grants)."""
    return hashlib.blake2b(f"{resource_type}\x1f{grant_id}".encode(), digest_size=_HASH_BYTES).digest()


def encode_known(hashes: Iterable[bytes]) -> str:
    """The known grants as one compact watermark value: sorted digests, deflated, base64."""
    packed = b"".join(sorted(set(hashes)))
    return _KNOWN_FORMAT + base64.b64encode(zlib.compress(packed, 9)).decode()


def decode_known(text: str) -> set[bytes]:
    """The digests :func:`encode_known` stored; ValueError naming the key when unreadable."""
    try:
        if not text.startswith(_KNOWN_FORMAT):
            raise ValueError("unknown format")
        packed = zlib.decompress(base64.b64decode(text[len(_KNOWN_FORMAT) :], validate=True))
        if len(packed) % _HASH_BYTES:
            raise ValueError("truncated")
    except (ValueError, binascii.Error, zlib.error) as error:
        raise ValueError(
            f"the stored watermark {KNOWN_GRANTS_KEY!r} cannot be read ({error}); delete it to start afresh"
        ) from None
    return {packed[start : start + _HASH_BYTES] for start in range(0, len(packed), _HASH_BYTES)}


async def remember_new_grants(
    watermarks: Watermarks,
    grants: Iterable[Grant],
    principals: Mapping[str, ServicePrincipal],
    settings: ConsentGrantsSettings,
    now: datetime,
) -> tuple[NewGrant, ...]:
    """Remember the grants not known at the previous run (none on the first run), forget those
    first seen more than ``new_grant_open_days`` ago, store the grants seen now as known, and
    return the remembered ones, oldest first."""
    stored = await watermarks.get(KNOWN_GRANTS_KEY)
    known = decode_known(stored) if stored is not None else None
    memory = await Memory.load(watermarks, NEW_GRANTS_KEY)
    seen: set[bytes] = set()
    for grant in grants:
        digest = grant_hash(grant.resource_type, grant.id)
        seen.add(digest)
        if known is not None and digest not in known:
            memory.remember(f"{grant.resource_type}:{grant.id}", now, _record(grant, principals))
    memory.forget_before(now - timedelta(days=settings.new_grant_open_days))
    await watermarks.set(KNOWN_GRANTS_KEY, encode_known(seen))
    await memory.save(watermarks)
    return tuple(_new_grant(item) for item in memory)


def _record(grant: Grant, principals: Mapping[str, ServicePrincipal]) -> dict[str, Any]:
    client = principals.get(grant.client_id.lower())
    resource = principals.get(grant.resource_id.lower())
    return {
        "grant": {**asdict(grant), "permissions": list(grant.permissions)},
        "clientName": client.display_name if client else grant.client_id,
        "resourceName": resource.display_name if resource else grant.resource_id,
    }


def _new_grant(item: Remembered) -> NewGrant:
    fields = dict(item.record["grant"])
    fields["permissions"] = tuple(fields["permissions"])
    return NewGrant(
        Grant(**fields), str(item.record["clientName"]), str(item.record["resourceName"]), item.at
    )


# -- rules ----------------------------------------------------------------------------------


def is_unused(last_sign_in: datetime | None, unused_days: int, now: datetime) -> bool:
    """Never signed in, or last signed in more than ``unused_days`` before ``now`` (exactly
    ``unused_days`` ago still counts as used)."""
    return last_sign_in is None or now - last_sign_in > timedelta(days=unused_days)


def high_privilege(permissions: Iterable[str], settings: ConsentGrantsSettings) -> list[str]:
    """The permissions on the high-privilege list, in the grant's order."""
    listed = {name.lower() for name in settings.high_privilege_permissions}
    return [permission for permission in permissions if permission.lower() in listed]


def not_allowed(
    permissions: Iterable[str], client_name: str, settings: ConsentGrantsSettings
) -> list[str] | None:
    """The permissions beyond the client's allow-list; None when the client has no allow-list."""
    allowed = settings.allowed_permissions.get(client_name)
    if allowed is None:
        return None
    allowed_names = {name.lower() for name in allowed}
    return [permission for permission in permissions if permission.lower() not in allowed_names]


def grant_findings(
    grant: Grant,
    client: ServicePrincipal,
    data: ConsentInventory,
    settings: ConsentGrantsSettings,
    now: datetime,
) -> list[Finding]:
    """The unused, high-privilege and not-allowed findings of one grant, in that order."""
    resource = data.service_principals.get(grant.resource_id.lower())
    resource_name = resource.display_name if resource else grant.resource_id
    what = describe(grant, client.display_name, resource_name)
    evidence = grant_evidence(grant, client.display_name, resource_name) | {"clientAppId": client.app_id}
    findings: list[Finding] = []
    if data.sign_in_activity_unavailable is None:
        last = data.last_sign_ins.get(client.app_id.lower())
        if is_unused(last, settings.unused_days, now):
            since = "has never signed in" if last is None else f"last signed in on {_iso(last)}"
            findings.append(
                _finding(
                    "unused-grant",
                    Severity.MEDIUM,
                    grant,
                    client,
                    f"{what} looks unused: the client {since} (unused after {settings.unused_days} days).",
                    "Confirm with the client application's owners that it no longer needs this access, "
                    "then revoke the grant (or remove the service principal if the app is retired).",
                    evidence
                    | {
                        "lastSignInDateTime": None if last is None else _iso(last),
                        "unusedDays": settings.unused_days,
                    },
                )
            )
    risky = high_privilege(grant.permissions, settings)
    if risky:
        findings.append(
            _finding(
                "high-privilege-grant",
                Severity.HIGH,
                grant,
                client,
                f"{what} includes high-privilege permissions: {', '.join(risky)}.",
                "Confirm the client needs these permissions; replace them with narrower ones "
                "(a .Read or .Selected permission) or revoke the grant.",
                evidence | {"highPrivilegePermissions": risky},
            )
        )
    extra = not_allowed(grant.permissions, client.display_name, settings)
    if extra:
        findings.append(
            _finding(
                "permission-not-allowed",
                Severity.MEDIUM,
                grant,
                client,
                f"{what} holds permissions outside the application's allow-list: {', '.join(extra)}.",
                "Revoke the permissions the platform application does not need, or add them to "
                "[consent.allowed_permissions] in the baseline if they are required.",
                evidence
                | {
                    "permissionsNotAllowed": extra,
                    "allowedPermissions": list(settings.allowed_permissions[client.display_name]),
                },
            )
        )
    return findings


def new_grant_finding(new: NewGrant, settings: ConsentGrantsSettings) -> Finding:
    """The new-grant finding of a remembered grant."""
    grant = new.grant
    client = ServicePrincipal(grant.client_id, "", new.client_name)
    return _finding(
        "new-grant",
        Severity.INFO,
        grant,
        client,
        f"{describe(grant, new.client_name, new.resource_name)} appeared since the previous run "
        f"(first seen {_iso(new.first_seen)}).",
        "Confirm that the consent was intended and approved; revoke it if nobody can account for it.",
        grant_evidence(grant, new.client_name, new.resource_name)
        | {"firstSeen": _iso(new.first_seen), "openDays": settings.new_grant_open_days},
    )


def describe(grant: Grant, client_name: str, resource_name: str) -> str:
    """``Delegated grant of 'User.Read Mail.Read' on 'Microsoft Graph' to 'App' (all users)``."""
    names = " ".join(grant.permissions) or "no permissions"
    if grant.resource_type == APPLICATION:
        return f"Application permission '{names}' on '{resource_name}' held by '{client_name}'"
    who = "all users" if grant.consent_type == "AllPrincipals" else f"user {grant.principal_id}"
    return f"Delegated grant of '{names}' on '{resource_name}' to '{client_name}' ({who})"


def grant_evidence(grant: Grant, client_name: str, resource_name: str) -> dict[str, Any]:
    """The Graph fields that identify a grant and what it holds."""
    evidence: dict[str, Any] = {
        "id": grant.id,
        "clientId": grant.client_id,
        "clientDisplayName": client_name,
        "resourceId": grant.resource_id,
        "resourceDisplayName": resource_name,
        "permissions": list(grant.permissions),
    }
    if grant.resource_type == DELEGATED:
        evidence |= {"consentType": grant.consent_type, "principalId": grant.principal_id}
    else:
        evidence |= {"appRoleId": grant.app_role_id, "createdDateTime": grant.created}
    return evidence


def _finding(
    rule: str,
    severity: Severity,
    grant: Grant,
    client: ServicePrincipal,
    message: str,
    remediation: str,
    evidence: Mapping[str, Any],
) -> Finding:
    resource = Resource(grant.resource_type, grant.id, client.display_name)
    return Finding(rule, severity, resource, message, remediation, dict(evidence), REFERENCES)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
