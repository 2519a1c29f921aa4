"""Ground-truth rules for access reviews and the conditional-access baseline."""

from __future__ import annotations

from datetime import datetime, timedelta

from emulator.tenant import catalog
from emulator.tenant.base import GraphObject
from emulator.tenant.rules import Baseline
from emulator.tenant.truth import FINISHED_REVIEW_STATES, Finding, finding, parse_time

_MONTHS_PER_UNIT = {
    "absoluteMonthly": 1,
    "relativeMonthly": 1,
    "absoluteYearly": 12,
    "relativeYearly": 12,
}


def recurrence_months(definition: GraphObject) -> float | None:
    """How many months apart the review recurs, or None for a one-time review."""
    recurrence = (definition.get("settings") or {}).get("recurrence")
    if not recurrence:
        return None
    pattern = recurrence["pattern"]
    interval = max(int(pattern.get("interval") or 1), 1)
    if pattern["type"] == "weekly":
        return interval * 7 / (365.25 / 12)
    if pattern["type"] == "daily":
        return interval / (365.25 / 12)
    return float(interval * _MONTHS_PER_UNIT[pattern["type"]])


def required_scopes(
    baseline: Baseline, groups: list[GraphObject], sps_by_name: dict[str, GraphObject]
) -> list[tuple[str, GraphObject]]:
    """(type, {id, displayName}) of each scope the baseline says must be reviewed."""
    scopes: list[tuple[str, GraphObject]] = []
    for name in baseline.required_review_roles:
        role = catalog.ROLES_BY_NAME[name]
        scopes.append(("directoryRole", {"id": role.template_id, "displayName": name}))
    for name in baseline.required_review_groups:
        group = next(g for g in groups if g["displayName"] == name)
        scopes.append(("group", {"id": group["id"], "displayName": name}))
    for name in baseline.required_review_apps:
        sp = sps_by_name[name]
        scopes.append(("servicePrincipal", {"id": sp["id"], "displayName": name}))
    return scopes


def covers(definition: GraphObject, scope_id: str) -> bool:
    return scope_id.lower() in str((definition.get("scope") or {}).get("query", "")).lower()


def review_findings(
    definitions: list[GraphObject],
    instances: dict[str, list[GraphObject]],
    scopes: list[tuple[str, GraphObject]],
    now: datetime,
    baseline: Baseline,
) -> list[Finding]:
    found: list[Finding] = []
    for definition in definitions:
        months = recurrence_months(definition)
        if months is not None and months > baseline.max_recurrence_months:
            found.append(
                finding(
                    "recurrence-longer-than-quarterly",
                    "accessReviewScheduleDefinition",
                    definition,
                    recurrenceMonths=months,
                )
            )
        for instance in instances.get(definition["id"], []):
            if instance["status"] in FINISHED_REVIEW_STATES:
                continue
            end = parse_time(instance["endDateTime"])
            resource = {"id": instance["id"], "displayName": definition["displayName"]}
            if end < now:
                found.append(
                    finding(
                        "review-overdue",
                        "accessReviewInstance",
                        resource,
                        definitionId=definition["id"],
                        endDateTime=instance["endDateTime"],
                    )
                )
            elif end - now <= timedelta(days=baseline.due_soon_days):
                found.append(
                    finding(
                        "review-due-soon",
                        "accessReviewInstance",
                        resource,
                        definitionId=definition["id"],
                        endDateTime=instance["endDateTime"],
                    )
                )
    for scope_type, scope in scopes:
        covering = [d for d in definitions if covers(d, scope["id"])]
        if not any(recurrence_months(d) is not None for d in covering):
            found.append(finding("scope-without-review", scope_type, scope))
        if not covering:
            continue
        ends = [
            parse_time(instance["endDateTime"])
            for definition in covering
            for instance in instances.get(definition["id"], [])
            if instance["status"] in FINISHED_REVIEW_STATES
        ]
        if not ends or now - max(ends) > timedelta(days=baseline.max_review_age_days):
            last = max(ends).isoformat() if ends else None
            found.append(finding("last-review-too-old", scope_type, scope, lastCompleted=last))
    return found


# -- conditional access -------------------------------------------------------------------


def _users(policy: GraphObject) -> GraphObject:
    return dict(policy["conditions"].get("users") or {})


def _grant(policy: GraphObject) -> list[str]:
    return list((policy.get("grantControls") or {}).get("builtInControls") or [])


def requires_mfa(policy: GraphObject) -> bool:
    """MFA is required, not merely one way to pass: ``mfa`` alone, or with AND (an OR with a
    compliant device, say, lets a sign-in through without MFA)."""
    grant = policy.get("grantControls") or {}
    controls = list(grant.get("builtInControls") or [])
    return "mfa" in controls and (len(controls) == 1 or grant.get("operator") == "AND")


def admin_mfa_candidates(
    policies: list[GraphObject], admin_role_ids: set[str], admin_app_ids: set[str]
) -> list[GraphObject]:
    """Policies that require MFA of admins: MFA required; users include admin roles or All;
    applications include All or an admin application."""
    candidates = []
    for policy in policies:
        users = _users(policy)
        targets_admins = bool(set(users.get("includeRoles") or []) & admin_role_ids) or "All" in (
            users.get("includeUsers") or []
        )
        apps = set((policy["conditions"].get("applications") or {}).get("includeApplications") or [])
        targets_apps = bool(apps & (admin_app_ids | {"All"}))
        if requires_mfa(policy) and targets_admins and targets_apps:
            candidates.append(policy)
    return candidates


def location_block_candidates(policies: list[GraphObject], protected_app_ids: set[str]) -> list[GraphObject]:
    """Policies that block sign-ins to the protected apps from outside trusted locations."""
    candidates = []
    for policy in policies:
        apps = set((policy["conditions"].get("applications") or {}).get("includeApplications") or [])
        locations = policy["conditions"].get("locations") or {}
        untrusted = "All" in (locations.get("includeLocations") or []) and "AllTrusted" in (
            locations.get("excludeLocations") or []
        )
        if "block" in _grant(policy) and untrusted and (apps & protected_app_ids or "All" in apps):
            candidates.append(policy)
    return candidates


def conditional_access_findings(
    policies: list[GraphObject],
    tenant: GraphObject,
    groups: list[GraphObject],
    protected_app_ids: set[str],
    admin_app_ids: set[str],
    baseline: Baseline,
) -> list[Finding]:
    admin_role_ids = {catalog.ROLES_BY_NAME[name].template_id for name in baseline.admin_roles}
    allowed_groups = {g["id"] for g in groups if g["displayName"] in baseline.mfa_exclusions_allowed}
    found: list[Finding] = []
    mfa = admin_mfa_candidates(policies, admin_role_ids, admin_app_ids)
    enforced = [p for p in mfa if p["state"] == "enabled"]
    if not mfa:
        found.append(finding("admin-mfa-missing", "tenant", tenant))
    elif not enforced:
        found.extend(
            finding("admin-mfa-not-enforced", "conditionalAccessPolicy", p, state=p["state"]) for p in mfa
        )
    for policy in enforced:
        users = _users(policy)
        if "All" not in (users.get("includeUsers") or []):
            missing = sorted(admin_role_ids - set(users.get("includeRoles") or []))
            if missing:
                found.append(
                    finding(
                        "admin-mfa-incomplete",
                        "conditionalAccessPolicy",
                        policy,
                        missingRoles=missing,
                    )
                )
        excluded = set(users.get("excludeGroups") or []) - allowed_groups
        if excluded or users.get("excludeUsers"):
            found.append(
                finding(
                    "admin-mfa-broad-exclusion",
                    "conditionalAccessPolicy",
                    policy,
                    excludeGroups=sorted(excluded),
                    excludeUsers=users.get("excludeUsers") or [],
                )
            )
    blocks = location_block_candidates(policies, protected_app_ids)
    if not blocks:
        found.append(finding("untrusted-location-block-missing", "tenant", tenant))
    elif not any(p["state"] == "enabled" for p in blocks):
        found.extend(
            finding(
                "untrusted-location-block-not-enforced",
                "conditionalAccessPolicy",
                p,
                state=p["state"],
            )
            for p in blocks
        )
    baseline_ids = {p["id"] for p in mfa + blocks}
    for policy in policies:
        if policy["id"] in baseline_ids:
            continue
        if policy["state"] == "disabled":
            found.append(finding("policy-disabled", "conditionalAccessPolicy", policy))
        elif policy["state"] == "enabledForReportingButNotEnforced":
            found.append(finding("policy-report-only", "conditionalAccessPolicy", policy))
    return found
