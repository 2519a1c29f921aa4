"""conditional-access-baseline: the seed's two recommended policies exist, are enforced, and hold.

The seed recommends two Conditional Access policies (seed: Conditional Access Policies ›
Recommended Policies): "Require MFA for Admins" and "Trusted Location Access" (block untrusted
locations for the Platform APIs). This check reads the tenant's policies (graph-facts §8,
``Policy.Read.All``, Entra ID P1) and compares them with ``[conditional_access]`` of the baseline.

A policy *requires MFA of admins* when its grant requires MFA (``mfa`` alone, or with the AND
operator: with OR a compliant device, say, lets a sign-in through without MFA), it includes a
configured admin role or all users, and it includes all applications or a configured admin
application. A policy *blocks untrusted locations* when its grant includes ``block``, it includes
the location ``All`` and excludes ``AllTrusted``, and it includes all applications or a protected
application. Rules:

- ``admin-mfa-missing`` (critical): no policy requires MFA of admins (resource: the tenant).
- ``admin-mfa-not-enforced`` (critical): such policies exist but none is enabled; one finding per
  policy (report-only or disabled).
- ``admin-mfa-incomplete`` (high): an enabled one that does not include all users misses some of
  the configured admin roles.
- ``admin-mfa-broad-exclusion`` (high): an enabled one excludes users, or groups other than the
  allowed (break-glass) groups.
- ``untrusted-location-block-missing`` (high): no policy blocks untrusted locations for the
  protected applications (resource: the tenant).
- ``untrusted-location-block-not-enforced`` (high): such policies exist but none is enabled; one
  finding per policy.
- ``policy-disabled`` / ``policy-report-only`` (low): any other policy that is disabled or left in
  report-only mode (``enabledForReportingButNotEnforced``).

Policies name roles by directory role *template* id, applications by appId and groups by object id
(graph-facts §8). The baseline names them by display name: applications and groups are resolved
with one filtered read each; built-in roles through the table below (Graph lists role templates
only with more permissions than this check needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from monitor.check import Check, CheckContext, CheckSettings, Finding, Interval, Resource, Severity
from monitor.directory_roles import GUID, known_roles, role_name, role_template_id
from monitor.graph.query import Query, odata_string

if TYPE_CHECKING:
    from monitor.baseline import Baseline
    from monitor.graph.client import GraphClient

MFA_REFERENCES = ("seed: Conditional Access Policies › Recommended Policies › Require MFA for Admins",)
LOCATION_REFERENCES = ("seed: Conditional Access Policies › Recommended Policies › Trusted Location Access",)
STATE_REFERENCES = ("seed: Conditional Access Policies › Recommended Policies",)
POLICIES = "identity/conditionalAccess/policies"
POLICY_FIELDS = ("id", "displayName", "state", "modifiedDateTime", "conditions", "grantControls")
ENABLED = "enabled"
DISABLED = "disabled"
REPORT_ONLY = "enabledForReportingButNotEnforced"
ALL = "All"
ALL_TRUSTED = "AllTrusted"
POLICY = "conditionalAccessPolicy"


class ConditionalAccessBaselineSettings(CheckSettings):
    """``[conditional_access]`` of the baseline; defaults are the shipped baseline's."""

    admin_roles: tuple[str, ...] = (
        "Global Administrator",
        "Privileged Role Administrator",
        "Security Administrator",
        "Application Administrator",
        "Cloud Application Administrator",
        "Conditional Access Administrator",
        "Privileged Authentication Administrator",
        "User Administrator",
        "Exchange Administrator",
        "SharePoint Administrator",
    )
    """Built-in role names (``monitor.directory_roles``) or role template ids."""
    admin_apps: tuple[str, ...] = ("Platform Management Portal",)
    """Service principal display names; a policy for all applications also counts."""
    mfa_exclusions_allowed: tuple[str, ...] = ("Break-glass Accounts",)
    """Group display names the MFA-for-admins policy may exclude."""
    protected_apps: tuple[str, ...] = ("Platform APIs",)
    """Service principal display names untrusted locations must be blocked for."""

    @field_validator("admin_roles")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        return known_roles(roles)


@dataclass(frozen=True)
class Policy:
    """A conditional-access policy as the rules see it; GUIDs lower-cased, Graph's keywords
    (``All``, ``AllTrusted``, ``None``) kept as they are, missing or null lists empty."""

    id: str
    display_name: str
    state: str
    modified: str | None = None
    include_users: frozenset[str] = frozenset()
    exclude_users: frozenset[str] = frozenset()
    include_roles: frozenset[str] = frozenset()
    exclude_groups: frozenset[str] = frozenset()
    include_applications: frozenset[str] = frozenset()
    include_locations: frozenset[str] = frozenset()
    exclude_locations: frozenset[str] = frozenset()
    grant_operator: str | None = None
    built_in_controls: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ConditionalAccessInventory:
    """The policies, and the baseline's names resolved to ids: each configured application name to
    the appIds of the service principals so named, each allowed group name to its group ids (an
    empty tuple when nothing has the name)."""

    tenant_id: str
    policies: tuple[Policy, ...]
    admin_apps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    protected_apps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allowed_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _ids(values: object) -> frozenset[str]:
    if not isinstance(values, list):
        return frozenset()
    return frozenset(v.lower() if GUID.match(v) else v for v in values if isinstance(v, str))


def _section(parent: object, key: str) -> Mapping[str, Any]:
    value = parent.get(key) if isinstance(parent, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    """A policy from Graph's JSON; null or missing conditions and grant controls read as empty."""
    conditions = _section(raw, "conditions")
    users = _section(conditions, "users")
    applications = _section(conditions, "applications")
    locations = _section(conditions, "locations")
    grant = _section(raw, "grantControls")
    operator = grant.get("operator")
    modified = raw.get("modifiedDateTime")
    return Policy(
        id=str(raw["id"]),
        display_name=str(raw.get("displayName") or raw["id"]),
        state=str(raw.get("state") or ""),
        modified=modified if isinstance(modified, str) else None,
        include_users=_ids(users.get("includeUsers")),
        exclude_users=_ids(users.get("excludeUsers")),
        include_roles=_ids(users.get("includeRoles")),
        exclude_groups=_ids(users.get("excludeGroups")),
        include_applications=_ids(applications.get("includeApplications")),
        include_locations=_ids(locations.get("includeLocations")),
        exclude_locations=_ids(locations.get("excludeLocations")),
        grant_operator=operator if isinstance(operator, str) else None,
        built_in_controls=_ids(grant.get("builtInControls")),
    )


def requires_mfa(policy: Policy) -> bool:
    """MFA is required, not merely one way through: ``mfa`` alone, or with the AND operator."""
    controls = policy.built_in_controls
    return "mfa" in controls and (len(controls) == 1 or policy.grant_operator == "AND")


def requires_mfa_of_admins(policy: Policy, role_ids: frozenset[str], app_ids: frozenset[str]) -> bool:
    """Requires MFA, of a configured admin role or all users, for all or an admin application."""
    targets_admins = bool(policy.include_roles & role_ids) or ALL in policy.include_users
    targets_apps = bool(policy.include_applications & (app_ids | {ALL}))
    return requires_mfa(policy) and targets_admins and targets_apps


def blocks_untrusted_locations(policy: Policy, app_ids: frozenset[str]) -> bool:
    """Blocks every location but the trusted ones, for all or a protected application."""
    untrusted = ALL in policy.include_locations and ALL_TRUSTED in policy.exclude_locations
    targets_apps = bool(policy.include_applications & (app_ids | {ALL}))
    return "block" in policy.built_in_controls and untrusted and targets_apps


def _flatten(resolved: Mapping[str, Sequence[str]]) -> frozenset[str]:
    return frozenset(item.lower() for items in resolved.values() for item in items)


class ConditionalAccessBaseline(Check[ConditionalAccessBaselineSettings, ConditionalAccessInventory]):
    id = "conditional-access-baseline"
    title = "Conditional Access requires MFA for admins and blocks untrusted locations"
    description = (
        "Reads the conditional-access policies and reports a missing, unenforced, incomplete or "
        "over-excluding MFA-for-admins policy, a missing or unenforced block of untrusted "
        "locations for the platform APIs, and other policies left disabled or report-only."
    )
    permissions = ("Policy.Read.All", "Application.Read.All", "GroupMember.Read.All")
    schedule = Interval(hours=1)
    settings_model = ConditionalAccessBaselineSettings

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        section = baseline.conditional_access
        return {
            "admin_roles": tuple(section.admin_roles),
            "admin_apps": tuple(section.admin_apps),
            "mfa_exclusions_allowed": tuple(section.mfa_exclusions_allowed),
            "protected_apps": tuple(section.protected_apps),
        }

    async def collect(self, context: CheckContext) -> ConditionalAccessInventory:
        """Every policy (one read: the endpoint allows one request a second per tenant) and the
        baseline's application and group names resolved with one filtered read per kind. Raises
        GraphLicenseError without Entra ID P1 and GraphPermissionError without the permissions."""
        settings = context.settings
        if not isinstance(settings, ConditionalAccessBaselineSettings):
            raise TypeError(
                f"{self.id} needs ConditionalAccessBaselineSettings, got {type(settings).__name__}"
            )
        graph = context.graph
        policies = [
            parse_policy(raw) async for raw in graph.iterate(POLICIES, query=Query(select=POLICY_FIELDS))
        ]
        apps = await _by_name(
            graph, "servicePrincipals", "appId", (*settings.admin_apps, *settings.protected_apps)
        )
        groups = await _by_name(graph, "groups", "id", settings.mfa_exclusions_allowed)
        return ConditionalAccessInventory(
            context.tenant,
            tuple(policies),
            {name: apps[name] for name in settings.admin_apps},
            {name: apps[name] for name in settings.protected_apps},
            groups,
        )

    def evaluate(
        self, data: ConditionalAccessInventory, settings: ConditionalAccessBaselineSettings, now: datetime
    ) -> list[Finding]:
        role_ids = frozenset(role_template_id(role) for role in settings.admin_roles)
        mfa = [p for p in data.policies if requires_mfa_of_admins(p, role_ids, _flatten(data.admin_apps))]
        blocks = [p for p in data.policies if blocks_untrusted_locations(p, _flatten(data.protected_apps))]
        findings = _admin_mfa_findings(data, mfa, role_ids, settings)
        findings += _location_findings(data, blocks)
        baseline_ids = {policy.id for policy in (*mfa, *blocks)}
        findings += [
            _state_finding(policy)
            for policy in data.policies
            if policy.id not in baseline_ids and policy.state in (DISABLED, REPORT_ONLY)
        ]
        return findings


async def _by_name(
    graph: GraphClient, path: str, id_field: str, names: Iterable[str]
) -> dict[str, tuple[str, ...]]:
    """``id_field`` of every object whose displayName is one of ``names`` (one ``in`` filter),
    keyed by name; a name nothing matches maps to an empty tuple."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found: dict[str, list[str]] = {name: [] for name in wanted}
    literals = ", ".join(odata_string(name) for name in wanted)
    query = Query(select=("id", "displayName", id_field), filter=f"displayName in ({literals})")
    async for item in graph.iterate(path, query=query):
        name = item.get("displayName")
        if name in found and isinstance(item.get(id_field), str):
            found[name].append(item[id_field])
    return {name: tuple(ids) for name, ids in found.items()}


def _policy_evidence(policy: Policy, **extra: Any) -> dict[str, Any]:
    return {
        "policyId": policy.id,
        "displayName": policy.display_name,
        "state": policy.state,
        "modifiedDateTime": policy.modified,
        **extra,
    }


def _state_words(state: str) -> str:
    return "report-only" if state == REPORT_ONLY else state or "in an unknown state"


def _admin_mfa_findings(
    data: ConditionalAccessInventory,
    candidates: Sequence[Policy],
    role_ids: frozenset[str],
    settings: ConditionalAccessBaselineSettings,
) -> list[Finding]:
    """admin-mfa-missing, or -not-enforced per candidate, then -incomplete and -broad-exclusion
    for each enabled candidate."""
    if not candidates:
        return [_admin_mfa_missing(data, role_ids)]
    enforced = [policy for policy in candidates if policy.state == ENABLED]
    if not enforced:
        return [_not_enforced("admin-mfa-not-enforced", Severity.CRITICAL, p) for p in candidates]
    allowed = _flatten(data.allowed_groups)
    findings: list[Finding] = []
    for policy in enforced:
        missing = sorted(role_ids - policy.include_roles)
        if ALL not in policy.include_users and missing:
            findings.append(_admin_mfa_incomplete(policy, missing))
        excluded_groups = sorted(policy.exclude_groups - allowed)
        if excluded_groups or policy.exclude_users:
            findings.append(_broad_exclusion(policy, excluded_groups, settings))
    return findings


def _admin_mfa_missing(data: ConditionalAccessInventory, role_ids: frozenset[str]) -> Finding:
    return Finding(
        "admin-mfa-missing",
        Severity.CRITICAL,
        Resource("tenant", data.tenant_id, data.tenant_id),
        "No conditional-access policy requires multi-factor authentication of the admin roles "
        "for all applications or the admin applications.",
        "Create a conditional-access policy that includes the admin roles (or all users), targets "
        "all cloud apps or the admin applications, and grants access only with MFA (MFA alone, or "
        "with 'Require all the selected controls'); exclude only the break-glass group.",
        {
            "adminRoleTemplateIds": sorted(role_ids),
            "adminApplications": {name: list(ids) for name, ids in data.admin_apps.items()},
            "policiesRequiringMfa": sorted(p.id for p in data.policies if requires_mfa(p)),
            "policiesExamined": len(data.policies),
        },
        MFA_REFERENCES,
    )


def _not_enforced(rule: str, severity: Severity, policy: Policy) -> Finding:
    what = "requires MFA of admins" if rule.startswith("admin") else "blocks untrusted locations"
    return Finding(
        rule,
        severity,
        Resource(POLICY, policy.id, policy.display_name),
        f"The conditional-access policy '{policy.display_name}' {what} but is "
        f"{_state_words(policy.state)}, and no enabled policy does the same.",
        "Review the policy's report-only results (sign-in logs › Report-only), then set its state "
        "to On (enabled).",
        _policy_evidence(
            policy,
            includeApplications=sorted(policy.include_applications),
            builtInControls=sorted(policy.built_in_controls),
        ),
        MFA_REFERENCES if rule.startswith("admin") else LOCATION_REFERENCES,
    )


def _admin_mfa_incomplete(policy: Policy, missing: Sequence[str]) -> Finding:
    names = ", ".join(role_name(role) for role in missing)
    return Finding(
        "admin-mfa-incomplete",
        Severity.HIGH,
        Resource(POLICY, policy.id, policy.display_name),
        f"The enforced MFA-for-admins policy '{policy.display_name}' does not include the admin "
        f"role(s) {names}.",
        "Add the missing directory roles to the policy's Users › Include › Directory roles.",
        _policy_evidence(
            policy,
            missingRoles=list(missing),
            missingRoleNames=[role_name(role) for role in missing],
            includeRoles=sorted(policy.include_roles),
        ),
        MFA_REFERENCES,
    )


def _broad_exclusion(
    policy: Policy, excluded_groups: Sequence[str], settings: ConditionalAccessBaselineSettings
) -> Finding:
    allowed = ", ".join(f"'{name}'" for name in settings.mfa_exclusions_allowed) or "nothing"
    return Finding(
        "admin-mfa-broad-exclusion",
        Severity.HIGH,
        Resource(POLICY, policy.id, policy.display_name),
        f"The enforced MFA-for-admins policy '{policy.display_name}' excludes "
        f"{len(excluded_groups)} group(s) and {len(policy.exclude_users)} user(s) beyond the "
        f"allowed exclusions ({allowed}).",
        "Remove the exclusions from the policy's Users › Exclude; emergency access belongs in the "
        "break-glass group only.",
        _policy_evidence(
            policy, excludeGroups=list(excluded_groups), excludeUsers=sorted(policy.exclude_users)
        ),
        MFA_REFERENCES,
    )


def _location_findings(data: ConditionalAccessInventory, candidates: Sequence[Policy]) -> list[Finding]:
    """untrusted-location-block-missing, or -not-enforced per candidate when none is enabled."""
    if any(policy.state == ENABLED for policy in candidates):
        return []
    if candidates:
        return [_not_enforced("untrusted-location-block-not-enforced", Severity.HIGH, p) for p in candidates]
    names = ", ".join(f"'{name}'" for name in data.protected_apps) or "the protected applications"
    return [
        Finding(
            "untrusted-location-block-missing",
            Severity.HIGH,
            Resource("tenant", data.tenant_id, data.tenant_id),
            f"No conditional-access policy blocks sign-ins from untrusted locations to {names}.",
            "Create a conditional-access policy that targets the protected applications (or all "
            "cloud apps), includes any location and excludes all trusted locations, and grants "
            "'Block access'; mark the office networks as trusted named locations.",
            {
                "protectedApplications": {name: list(ids) for name, ids in data.protected_apps.items()},
                "blockingPolicies": sorted(p.id for p in data.policies if "block" in p.built_in_controls),
                "policiesExamined": len(data.policies),
            },
            LOCATION_REFERENCES,
        )
    ]


def _state_finding(policy: Policy) -> Finding:
    disabled = policy.state == DISABLED
    return Finding(
        "policy-disabled" if disabled else "policy-report-only",
        Severity.LOW,
        Resource(POLICY, policy.id, policy.display_name),
        f"The conditional-access policy '{policy.display_name}' is "
        f"{'disabled' if disabled else 'left in report-only mode'}, so it enforces nothing.",
        "Turn the policy on once its effect is understood, or delete it if it is no longer needed."
        if disabled
        else "Review its report-only results in the sign-in logs, then turn it on or delete it.",
        _policy_evidence(policy),
        STATE_REFERENCES,
    )
