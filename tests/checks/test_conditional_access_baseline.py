"""conditional-access-baseline: every rule of ``evaluate`` on hand-made policies, at each edge of
what counts as the MFA-for-admins policy and the untrusted-location block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from checks.conditional_access_baseline import (
    ConditionalAccessBaseline,
    ConditionalAccessBaselineSettings,
    ConditionalAccessInventory,
    parse_policy,
    requires_mfa,
    role_name,
)
from emulator.tenant.rules import RULES
from monitor.baseline import load_baseline
from monitor.check import Finding, Severity
from monitor.directory_roles import BUILT_IN_ROLES

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SETTINGS = ConditionalAccessBaselineSettings()
TENANT = "7d4a1c2e-0000-4000-8000-00000000aaaa"
PORTAL = "11111111-0000-4000-8000-000000000001"
APIS = "22222222-0000-4000-8000-000000000002"
OTHER_APP = "33333333-0000-4000-8000-000000000003"
BREAK_GLASS = "44444444-0000-4000-8000-000000000004"
OTHER_GROUP = "55555555-0000-4000-8000-000000000005"
ALL_ADMIN_ROLES = [BUILT_IN_ROLES[name] for name in SETTINGS.admin_roles]
GLOBAL_ADMIN = BUILT_IN_ROLES["Global Administrator"]
CHECK = ConditionalAccessBaseline()


def policy(
    name: str,
    state: str = "enabled",
    *,
    users: list[str] | None = None,
    roles: list[str] | None = None,
    apps: list[str] | None = None,
    exclude_groups: list[str] | None = None,
    exclude_users: list[str] | None = None,
    locations: tuple[list[str], list[str]] | None = None,
    grant: list[str] | None = None,
    operator: str = "OR",
) -> dict[str, Any]:
    return {
        "id": f"policy-{name}",
        "displayName": name,
        "state": state,
        "modifiedDateTime": "2026-10-01T00:00:00Z",
        "conditions": {
            "users": {
                "includeUsers": users or [],
                "excludeUsers": exclude_users or [],
                "includeGroups": [],
                "excludeGroups": exclude_groups or [],
                "includeRoles": roles or [],
                "excludeRoles": [],
            },
            "applications": {"includeApplications": apps or ["All"], "excludeApplications": []},
            "locations": None
            if locations is None
            else {"includeLocations": locations[0], "excludeLocations": locations[1]},
        },
        "grantControls": None
        if grant is None
        else {"operator": operator, "builtInControls": grant, "customAuthenticationFactors": []},
    }


def admin_mfa(state: str = "enabled", **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"roles": ALL_ADMIN_ROLES, "exclude_groups": [BREAK_GLASS], "grant": ["mfa"]}
    return policy("Require MFA for admins", state, **(fields | changes))


def location_block(state: str = "enabled", **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "users": ["All"],
        "apps": [APIS],
        "locations": (["All"], ["AllTrusted"]),
        "grant": ["block"],
    }
    return policy("Block untrusted locations", state, **(fields | changes))


def inventory(*raw: dict[str, Any], groups: tuple[str, ...] = (BREAK_GLASS,)) -> ConditionalAccessInventory:
    return ConditionalAccessInventory(
        TENANT,
        tuple(parse_policy(item) for item in raw),
        {"Platform Management Portal": (PORTAL,)},
        {"Platform APIs": (APIS,)},
        {"Break-glass Accounts": groups},
    )


def run(
    *raw: dict[str, Any], settings: ConditionalAccessBaselineSettings = SETTINGS, **kwargs: Any
) -> list[Finding]:
    return CHECK.evaluate(inventory(*raw, **kwargs), settings, NOW)


def keys(findings: list[Finding]) -> set[tuple[str, Severity, str, str]]:
    return {(f.rule, f.severity, f.resource.type, f.resource.id) for f in findings}


def test_the_two_seed_policies_enforced_give_no_findings() -> None:
    assert run(admin_mfa(), location_block()) == []


def test_an_empty_tenant_misses_both_policies() -> None:
    assert keys(run()) == {
        ("admin-mfa-missing", Severity.CRITICAL, "tenant", TENANT),
        ("untrusted-location-block-missing", Severity.HIGH, "tenant", TENANT),
    }


# -- what requires MFA -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("controls", "operator", "expected"),
    [
        (["mfa"], "OR", True),
        (["mfa"], "AND", True),
        (["mfa", "compliantDevice"], "AND", True),
        (["mfa", "compliantDevice"], "OR", False),  # a compliant device lets a sign-in through without MFA
        (["compliantDevice"], "AND", False),
        (["block"], "OR", False),
        ([], "OR", False),
    ],
)
def test_requires_mfa(controls: list[str], operator: str, expected: bool) -> None:
    assert requires_mfa(parse_policy(policy("p", grant=controls, operator=operator))) is expected


def test_no_grant_controls_do_not_require_mfa() -> None:
    assert not requires_mfa(parse_policy(policy("session only", grant=None)))
    assert not requires_mfa(parse_policy({"id": "bare", "grantControls": {"builtInControls": None}}))


@pytest.mark.parametrize(
    "changes",
    [
        {"grant": ["mfa", "compliantDevice"], "operator": "OR"},
        {"roles": [BUILT_IN_ROLES["Global Reader"]]},  # not a configured admin role
        {"roles": [], "users": ["GuestsOrExternalUsers"]},
        {"apps": ["Office365"]},
        {"apps": [OTHER_APP]},
        {"grant": None},
    ],
)
def test_policies_that_do_not_require_mfa_of_admins_leave_it_missing(changes: dict[str, Any]) -> None:
    findings = run(admin_mfa(**changes), location_block())
    missing = [f for f in findings if f.rule == "admin-mfa-missing"]
    assert keys(missing) == {("admin-mfa-missing", Severity.CRITICAL, "tenant", TENANT)}
    assert missing[0].evidence["policiesExamined"] == 2
    assert missing[0].evidence["adminApplications"] == {"Platform Management Portal": [PORTAL]}


@pytest.mark.parametrize(
    "changes",
    [
        {"apps": [PORTAL]},
        {"apps": [PORTAL.upper()]},  # GUIDs compare case-insensitively
        {"roles": [], "users": ["All"]},
        {"grant": ["mfa", "compliantDevice"], "operator": "AND"},
    ],
)
def test_variants_that_count_as_the_mfa_policy(changes: dict[str, Any]) -> None:
    assert run(admin_mfa(**changes), location_block()) == []


def test_the_admin_application_unresolved_only_all_apps_counts() -> None:
    data = inventory(admin_mfa(apps=[PORTAL]), location_block())
    unresolved = ConditionalAccessInventory(
        TENANT, data.policies, {"Platform Management Portal": ()}, data.protected_apps, data.allowed_groups
    )
    assert [f.rule for f in CHECK.evaluate(unresolved, SETTINGS, NOW)] == ["admin-mfa-missing"]


# -- admin-mfa-not-enforced ------------------------------------------------------------------


@pytest.mark.parametrize("state", ["enabledForReportingButNotEnforced", "disabled"])
def test_an_unenforced_mfa_policy_is_reported_once_and_not_as_a_state_finding(state: str) -> None:
    findings = run(admin_mfa(state), location_block())
    assert keys(findings) == {
        (
            "admin-mfa-not-enforced",
            Severity.CRITICAL,
            "conditionalAccessPolicy",
            "policy-Require MFA for admins",
        )
    }
    assert findings[0].evidence["state"] == state


def test_every_unenforced_mfa_policy_is_reported_when_none_is_enabled() -> None:
    second = admin_mfa("disabled") | {"id": "second", "displayName": "Second"}
    findings = run(admin_mfa("enabledForReportingButNotEnforced"), second, location_block())
    assert [(f.rule, f.resource.id) for f in findings] == [
        ("admin-mfa-not-enforced", "policy-Require MFA for admins"),
        ("admin-mfa-not-enforced", "second"),
    ]


def test_an_enabled_mfa_policy_covers_for_a_report_only_one() -> None:
    pilot = admin_mfa("enabledForReportingButNotEnforced") | {"id": "pilot", "displayName": "Pilot"}
    assert run(admin_mfa(), pilot, location_block()) == []


def test_an_unknown_state_is_neither_enforced_nor_reported_as_a_state() -> None:
    findings = run(admin_mfa("unknownFutureValue"), location_block())
    assert [f.rule for f in findings] == ["admin-mfa-not-enforced"]
    assert run(policy("odd", "unknownFutureValue"), admin_mfa(), location_block()) == []


# -- admin-mfa-incomplete --------------------------------------------------------------------


def test_missing_admin_roles_are_named() -> None:
    findings = run(admin_mfa(roles=[GLOBAL_ADMIN]), location_block())
    assert keys(findings) == {
        ("admin-mfa-incomplete", Severity.HIGH, "conditionalAccessPolicy", "policy-Require MFA for admins")
    }
    missing = findings[0].evidence["missingRoles"]
    assert missing == sorted(set(ALL_ADMIN_ROLES) - {GLOBAL_ADMIN})
    assert "Exchange Administrator" in findings[0].message
    assert "Global Administrator" not in findings[0].evidence["missingRoleNames"]


def test_all_but_one_role_is_still_incomplete() -> None:
    findings = run(admin_mfa(roles=ALL_ADMIN_ROLES[:-1]), location_block())
    assert findings[0].evidence["missingRoles"] == [ALL_ADMIN_ROLES[-1]]


def test_role_ids_compare_case_insensitively_and_all_users_covers_every_role() -> None:
    assert run(admin_mfa(roles=[role.upper() for role in ALL_ADMIN_ROLES]), location_block()) == []
    assert run(admin_mfa(roles=[GLOBAL_ADMIN], users=["All"]), location_block()) == []


def test_a_role_given_by_template_id_must_be_covered() -> None:
    custom = "aaaaaaaa-0000-4000-8000-0000000000ff"
    settings = ConditionalAccessBaselineSettings(admin_roles=("Global Administrator", custom.upper()))
    findings = run(admin_mfa(roles=[GLOBAL_ADMIN]), location_block(), settings=settings)
    assert [(f.rule, f.evidence["missingRoles"]) for f in findings] == [("admin-mfa-incomplete", [custom])]
    assert findings[0].evidence["missingRoleNames"] == [custom]


def test_no_configured_roles_means_only_all_users_policies_count() -> None:
    settings = ConditionalAccessBaselineSettings(admin_roles=())
    assert [f.rule for f in run(admin_mfa(), location_block(), settings=settings)] == ["admin-mfa-missing"]
    assert run(admin_mfa(roles=[], users=["All"]), location_block(), settings=settings) == []


def test_an_unenforced_policy_is_not_checked_for_completeness() -> None:
    findings = run(admin_mfa("disabled", roles=[GLOBAL_ADMIN], exclude_users=["u1"]), location_block())
    assert [f.rule for f in findings] == ["admin-mfa-not-enforced"]


# -- admin-mfa-broad-exclusion ---------------------------------------------------------------


def test_excluding_another_group_is_broad() -> None:
    findings = run(admin_mfa(exclude_groups=[BREAK_GLASS, OTHER_GROUP]), location_block())
    assert keys(findings) == {
        (
            "admin-mfa-broad-exclusion",
            Severity.HIGH,
            "conditionalAccessPolicy",
            "policy-Require MFA for admins",
        )
    }
    assert findings[0].evidence["excludeGroups"] == [OTHER_GROUP]
    assert findings[0].evidence["excludeUsers"] == []


def test_excluding_any_user_is_broad() -> None:
    findings = run(admin_mfa(exclude_users=["66666666-0000-4000-8000-000000000006"]), location_block())
    assert [(f.rule, f.evidence["excludeUsers"]) for f in findings] == [
        ("admin-mfa-broad-exclusion", ["66666666-0000-4000-8000-000000000006"])
    ]


def test_the_break_glass_group_alone_is_allowed_even_in_upper_case() -> None:
    assert run(admin_mfa(exclude_groups=[BREAK_GLASS.upper()]), location_block()) == []
    assert run(admin_mfa(exclude_groups=[]), location_block()) == []


def test_an_unresolved_break_glass_group_makes_its_exclusion_broad() -> None:
    findings = run(admin_mfa(), location_block(), groups=())
    assert [(f.rule, f.evidence["excludeGroups"]) for f in findings] == [
        ("admin-mfa-broad-exclusion", [BREAK_GLASS])
    ]


def test_incomplete_and_broad_are_both_reported() -> None:
    findings = run(admin_mfa(roles=[GLOBAL_ADMIN], exclude_groups=[OTHER_GROUP]), location_block())
    assert [f.rule for f in findings] == ["admin-mfa-incomplete", "admin-mfa-broad-exclusion"]


# -- untrusted locations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"locations": (["All"], [])},  # blocks even the trusted locations: not the seed's policy
        {"locations": (["77777777-0000-4000-8000-000000000007"], [])},  # a named location only
        {"locations": None},
        {"apps": [OTHER_APP]},
        {"grant": ["mfa"]},
        {"grant": None},
    ],
)
def test_policies_that_do_not_block_untrusted_locations_for_the_apis(changes: dict[str, Any]) -> None:
    findings = run(admin_mfa(), location_block(**changes))
    assert keys(findings) == {("untrusted-location-block-missing", Severity.HIGH, "tenant", TENANT)}
    assert findings[0].evidence["protectedApplications"] == {"Platform APIs": [APIS]}


def test_a_block_for_all_applications_counts() -> None:
    assert run(admin_mfa(), location_block(apps=["All"])) == []


@pytest.mark.parametrize("state", ["enabledForReportingButNotEnforced", "disabled"])
def test_an_unenforced_block_is_reported_once_and_not_as_a_state_finding(state: str) -> None:
    findings = run(admin_mfa(), location_block(state))
    assert keys(findings) == {
        (
            "untrusted-location-block-not-enforced",
            Severity.HIGH,
            "conditionalAccessPolicy",
            "policy-Block untrusted locations",
        )
    }
    assert findings[0].evidence["state"] == state


def test_an_enabled_block_covers_for_a_disabled_one() -> None:
    old = location_block("disabled") | {"id": "old", "displayName": "Old"}
    assert run(admin_mfa(), location_block(), old) == []


def test_no_protected_apps_resolved_leaves_only_all_apps_blocks() -> None:
    data = inventory(admin_mfa(), location_block())
    empty = ConditionalAccessInventory(TENANT, data.policies, data.admin_apps, {}, data.allowed_groups)
    assert [f.rule for f in CHECK.evaluate(empty, SETTINGS, NOW)] == ["untrusted-location-block-missing"]


# -- other policies --------------------------------------------------------------------------


def test_other_disabled_and_report_only_policies() -> None:
    findings = run(
        admin_mfa(),
        location_block(),
        policy("Legacy pilot", "disabled", users=["All"]),
        policy("Risk pilot", "enabledForReportingButNotEnforced", users=["All"], grant=["block"]),
        policy("Block legacy auth", "enabled", users=["All"], grant=["block"]),
    )
    assert keys(findings) == {
        ("policy-disabled", Severity.LOW, "conditionalAccessPolicy", "policy-Legacy pilot"),
        ("policy-report-only", Severity.LOW, "conditionalAccessPolicy", "policy-Risk pilot"),
    }
    assert all(f.evidence["policyId"] == f.resource.id for f in findings)


# -- parsing Graph's odd shapes --------------------------------------------------------------


def test_null_and_missing_fields_parse_as_empty() -> None:
    parsed = parse_policy({"id": "p", "conditions": None, "grantControls": None, "state": None})
    assert (parsed.display_name, parsed.state, parsed.modified) == ("p", "", None)
    assert not parsed.include_users
    assert not parsed.include_applications
    assert not parsed.built_in_controls
    nested = parse_policy(
        {"id": "q", "conditions": {"users": None, "applications": {"includeApplications": None}}}
    )
    assert not nested.include_roles
    assert not nested.include_applications


def test_keywords_keep_their_case_and_guids_are_lower_cased() -> None:
    parsed = parse_policy(
        policy("p", users=["All"], roles=[GLOBAL_ADMIN.upper()], locations=(["All"], ["AllTrusted"]))
    )
    assert parsed.include_users == {"All"}
    assert parsed.include_roles == {GLOBAL_ADMIN}
    assert parsed.exclude_locations == {"AllTrusted"}


def test_evaluate_does_not_depend_on_the_time() -> None:
    raw = (admin_mfa("disabled"), policy("x", "disabled"))
    assert keys(run(*raw)) == keys(CHECK.evaluate(inventory(*raw), SETTINGS, NOW + timedelta(days=400)))


def test_every_finding_explains_itself() -> None:
    findings = run(admin_mfa(roles=[GLOBAL_ADMIN], exclude_users=["u"]), policy("x", "disabled"))
    findings += run(policy("y", "enabledForReportingButNotEnforced"))
    findings += run(admin_mfa("disabled"), location_block("disabled"))
    assert {finding.rule for finding in findings} == {
        "admin-mfa-missing",
        "admin-mfa-not-enforced",
        "admin-mfa-incomplete",
        "admin-mfa-broad-exclusion",
        "untrusted-location-block-missing",
        "untrusted-location-block-not-enforced",
        "policy-disabled",
        "policy-report-only",
    }
    # Rule ids and default severities are the emulator's (emulator/tenant/rules.py).
    declared = {(r.rule, r.severity) for r in RULES if r.check == ConditionalAccessBaseline.id}
    assert {(f.rule, f.severity.label) for f in findings} == declared
    for finding in findings:
        assert finding.evidence
        assert finding.remediation
        assert finding.references
        assert finding.message.endswith(".")


# -- settings --------------------------------------------------------------------------------


def test_the_defaults_are_the_shipped_baseline() -> None:
    from_baseline = ConditionalAccessBaselineSettings.model_validate(
        ConditionalAccessBaseline.baseline_defaults(load_baseline())
    )
    assert from_baseline == SETTINGS


def test_an_unknown_role_name_is_rejected_naming_it() -> None:
    with pytest.raises(ValidationError, match="Global Admin'"):
        ConditionalAccessBaselineSettings(admin_roles=("Global Admin",))


def test_role_names_come_from_the_table() -> None:
    assert role_name(GLOBAL_ADMIN.upper()) == "Global Administrator"
    assert all(name in BUILT_IN_ROLES for name in SETTINGS.admin_roles)
