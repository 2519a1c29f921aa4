"""consent-grants' rules on hand-made Graph objects (no I/O), at every boundary, and its memory of
known and new grants across runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from checks.consent_grants import (
    KNOWN_GRANTS_KEY,
    NEW_GRANTS_KEY,
    ConsentGrants,
    ConsentGrantsSettings,
    ConsentInventory,
    Grant,
    NewGrant,
    ServicePrincipal,
    application_role_names,
    assignment_from_graph,
    decode_known,
    delegated_grant_from_graph,
    encode_known,
    grant_hash,
    remember_new_grants,
)
from monitor.baseline import load_baseline
from monitor.check import CheckContext, Finding, Measurement, Severity, declaration_problems
from monitor.errors import GraphLicenseError
from monitor.graph.client import GraphClient
from tests.support.checks import MemoryWatermarks
from tests.support.fake_graph import FakeGraph

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
SETTINGS = ConsentGrantsSettings(
    allowed_permissions={"Calendar/Teams App": ("Calendars.ReadWrite", "User.Read", "openid")}
)
GRAPH = ServicePrincipal(
    "99999999-0000-0000-0000-000000000001", "00000003-0000-0000-c000-000000000000", "Microsoft Graph"
)
APP = ServicePrincipal(
    "aaaaaaaa-0000-0000-0000-000000000001", "11111111-0000-0000-0000-000000000001", "Some App"
)
CALENDAR = ServicePrincipal(
    "bbbbbbbb-0000-0000-0000-000000000001", "22222222-0000-0000-0000-000000000001", "Calendar/Teams App"
)
PRINCIPALS = {sp.id: sp for sp in (GRAPH, APP, CALENDAR)}
ROLE_ID = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def delegated(scope: str | None, client: ServicePrincipal = APP, grant_id: str = "g1", **extra: Any) -> Grant:
    return delegated_grant_from_graph(
        {
            "id": grant_id,
            "clientId": client.id,
            "consentType": "AllPrincipals",
            "principalId": None,
            "resourceId": GRAPH.id,
            "scope": scope,
            **extra,
        }
    )


def inventory(
    *grants: Grant, last: Mapping[str, datetime | None] | None = None, **extra: Any
) -> ConsentInventory:
    last_sign_ins = {APP.app_id: NOW, CALENDAR.app_id: NOW} if last is None else last
    return ConsentInventory(tuple(grants), PRINCIPALS, last_sign_ins, **extra)


def evaluate(
    data: ConsentInventory, settings: ConsentGrantsSettings = SETTINGS, now: datetime = NOW
) -> list[Finding]:
    return ConsentGrants().evaluate(data, settings, now)


def rules(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.rule, f.resource.id) for f in findings}


# -- declarations and settings ------------------------------------------------------------------


def test_the_declarations_are_well_formed_and_read_only() -> None:
    assert declaration_problems(ConsentGrants) == []
    assert ConsentGrants.id == "consent-grants"
    assert ConsentGrants.permissions == (
        "Application.Read.All",
        "DelegatedPermissionGrant.Read.All",
        "AuditLog.Read.All",
    )


def test_the_settings_come_from_the_baseline() -> None:
    baseline = load_baseline()
    settings = ConsentGrantsSettings.model_validate(ConsentGrants.baseline_defaults(baseline))
    assert settings.unused_days == baseline.credentials.unused_days == 90
    assert settings.high_privilege_permissions == ConsentGrantsSettings().high_privilege_permissions
    assert settings.allowed_permissions["SCIM Provisioning App"] == ("User.Read.All", "Group.Read.All")
    assert settings.new_grant_open_days == 7


# -- parsing -----------------------------------------------------------------------------------


def test_a_delegated_grant_splits_and_deduplicates_its_scope() -> None:
    grant = delegated("  User.Read   Mail.Read User.Read ")
    assert grant.permissions == ("User.Read", "Mail.Read")
    assert grant.consent_type == "AllPrincipals"
    assert grant.principal_id is None


@pytest.mark.parametrize("scope", [None, "", "   "])
def test_a_missing_null_or_empty_scope_holds_no_permission(scope: str | None) -> None:
    assert delegated(scope).permissions == ()


def test_a_grant_with_missing_fields_still_parses() -> None:
    grant = delegated_grant_from_graph({"id": "g"})
    assert (grant.client_id, grant.resource_id, grant.permissions, grant.consent_type) == ("", "", (), None)


def test_app_role_names_only_of_roles_an_application_can_hold() -> None:
    sp = {
        "appRoles": [
            {
                "id": ROLE_ID.upper(),
                "value": "Application.ReadWrite.All",
                "allowedMemberTypes": ["Application"],
            },
            {"id": "r-user", "value": "Survey.Take", "allowedMemberTypes": ["User"]},
            {"id": "r-both", "value": "Both.Read", "allowedMemberTypes": ["User", "Application"]},
            {"id": "r-null", "value": None, "allowedMemberTypes": ["Application"]},
            {"id": "r-none", "value": "No.Types", "allowedMemberTypes": None},
        ]
    }
    assert application_role_names(sp) == {ROLE_ID: "Application.ReadWrite.All", "r-both": "Both.Read"}
    assert application_role_names({"appRoles": None}) == {}
    assert application_role_names({}) == {}


def test_an_assignment_is_named_from_the_resource_roles_or_by_its_id() -> None:
    names = {ROLE_ID: "Application.ReadWrite.All"}
    known = assignment_from_graph({"id": "a1", "appRoleId": ROLE_ID.upper(), "principalId": APP.id}, names)
    assert known.permissions == ("Application.ReadWrite.All",)
    default_access = "00000000-0000-0000-0000-000000000000"
    unknown = assignment_from_graph({"id": "a2", "appRoleId": default_access, "principalId": APP.id}, names)
    assert unknown.permissions == (default_access,)
    assert unknown.resource_type == "appRoleAssignment"


# -- unused-grant --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "unused"),
    [
        (NOW - 90 * DAY, False),  # exactly unused_days ago: still used
        (NOW - 90 * DAY + SECOND, False),
        (NOW - 90 * DAY - SECOND, True),
        (NOW + SECOND, False),  # a clock a second ahead is not "unused"
        (None, True),  # in the report without a date: never
    ],
)
def test_unused_grant_boundary(last: datetime | None, unused: bool) -> None:
    findings = evaluate(inventory(delegated("User.Read"), last={APP.app_id: last}))
    assert rules(findings) == ({("unused-grant", "g1")} if unused else set())
    if unused:
        (finding,) = findings
        assert finding.severity is Severity.MEDIUM
        assert finding.evidence["lastSignInDateTime"] == (None if last is None else iso(last))
        assert finding.evidence["clientAppId"] == APP.app_id


def test_a_client_absent_from_the_report_never_signed_in() -> None:
    (finding,) = evaluate(inventory(delegated("User.Read"), last={}))
    assert finding.rule == "unused-grant"
    assert "has never signed in" in finding.message
    assert finding.message.endswith(".")


def test_the_report_is_matched_by_app_id_whatever_its_case() -> None:
    upper = ServicePrincipal(APP.id, APP.app_id.upper(), APP.display_name)
    data = ConsentInventory((delegated("User.Read"),), {**PRINCIPALS, APP.id: upper}, {APP.app_id: NOW})
    assert evaluate(data) == []


def test_no_unused_finding_when_the_report_was_unavailable() -> None:
    data = inventory(delegated("User.Read Mail.ReadWrite"), last={}, sign_in_activity_unavailable="needs P1")
    assert rules(evaluate(data)) == {("high-privilege-grant", "g1")}


def test_unused_days_is_a_setting() -> None:
    data = inventory(delegated("User.Read"), last={APP.app_id: NOW - 10 * DAY - SECOND})
    assert rules(evaluate(data, SETTINGS.model_copy(update={"unused_days": 10}))) == {("unused-grant", "g1")}
    assert evaluate(data) == []


# -- high-privilege-grant and permission-not-allowed ---------------------------------------------


def test_high_privilege_permissions_are_the_intersection_with_the_list() -> None:
    (finding,) = evaluate(inventory(delegated("User.Read Mail.ReadWrite files.readwrite.all Mail.Read")))
    assert (finding.rule, finding.severity) == ("high-privilege-grant", Severity.HIGH)
    assert finding.evidence["highPrivilegePermissions"] == ["Mail.ReadWrite", "files.readwrite.all"]
    assert finding.evidence["permissions"] == [
        "User.Read",
        "Mail.ReadWrite",
        "files.readwrite.all",
        "Mail.Read",
    ]


def test_a_resolved_app_role_is_high_privilege() -> None:
    assignment = assignment_from_graph(
        {"id": "a1", "appRoleId": ROLE_ID, "principalId": APP.id, "resourceId": GRAPH.id},
        {ROLE_ID: "Application.ReadWrite.All"},
    )
    (finding,) = evaluate(inventory(assignment))
    assert (finding.rule, finding.resource.type, finding.resource.id) == (
        "high-privilege-grant",
        "appRoleAssignment",
        "a1",
    )
    assert finding.evidence["appRoleId"] == ROLE_ID
    assert finding.evidence["resourceDisplayName"] == "Microsoft Graph"
    assert "held by 'Some App'" in finding.message


def test_an_empty_high_privilege_list_reports_nothing() -> None:
    settings = SETTINGS.model_copy(update={"high_privilege_permissions": ()})
    assert evaluate(inventory(delegated("Directory.ReadWrite.All")), settings) == []


def test_permissions_beyond_the_allow_list_are_reported() -> None:
    grant = delegated("openid USER.READ Calendars.ReadWrite Mail.Read", client=CALENDAR)
    (finding,) = evaluate(inventory(grant))
    assert (finding.rule, finding.severity) == ("permission-not-allowed", Severity.MEDIUM)
    assert finding.evidence["permissionsNotAllowed"] == ["Mail.Read"]
    assert finding.evidence["allowedPermissions"] == ["Calendars.ReadWrite", "User.Read", "openid"]


def test_permissions_within_the_allow_list_and_apps_without_one_are_not_reported() -> None:
    assert evaluate(inventory(delegated("openid User.Read", client=CALENDAR))) == []
    assert evaluate(inventory(delegated("", client=CALENDAR))) == []
    assert evaluate(inventory(delegated("Mail.Read Sites.Read.All", client=APP))) == []


def test_an_empty_allow_list_allows_nothing() -> None:
    settings = SETTINGS.model_copy(update={"allowed_permissions": {"Some App": ()}})
    (finding,) = evaluate(inventory(delegated("User.Read")), settings)
    assert finding.evidence["permissionsNotAllowed"] == ["User.Read"]


def test_one_grant_breaks_every_rule_once() -> None:
    grant = delegated("openid Mail.ReadWrite", client=CALENDAR, consentType="Principal", principalId="u1")
    findings = evaluate(inventory(grant, last={}))
    assert [f.rule for f in findings] == ["unused-grant", "high-privilege-grant", "permission-not-allowed"]
    for finding in findings:
        assert finding.resource.display_name == "Calendar/Teams App"
        assert finding.evidence["consentType"] == "Principal"
        assert finding.evidence["principalId"] == "u1"
        assert "(user u1)" in finding.message
        assert finding.message.endswith(".")
        assert finding.remediation
        assert finding.references


def test_a_grant_of_an_unknown_client_is_skipped() -> None:
    orphan = delegated("Directory.ReadWrite.All", client=ServicePrincipal("gone", "", ""))
    assert evaluate(inventory(orphan, last={})) == []


def test_no_grants_no_findings() -> None:
    assert evaluate(inventory()) == []


# -- new-grant -----------------------------------------------------------------------------------


def new(first_seen: datetime, grant_id: str = "n1") -> NewGrant:
    return NewGrant(
        delegated("User.Read", grant_id=grant_id), APP.display_name, GRAPH.display_name, first_seen
    )


@pytest.mark.parametrize(
    ("first_seen", "open_"),
    [(NOW, True), (NOW - 7 * DAY, True), (NOW - 7 * DAY + SECOND, True), (NOW - 7 * DAY - SECOND, False)],
)
def test_a_new_grant_stays_open_for_new_grant_open_days(first_seen: datetime, open_: bool) -> None:
    findings = evaluate(inventory(new_grants=(new(first_seen),)))
    assert rules(findings) == ({("new-grant", "n1")} if open_ else set())
    if open_:
        (finding,) = findings
        assert finding.severity is Severity.INFO
        assert finding.evidence["firstSeen"] == iso(first_seen)
        assert finding.message.endswith(".")


def test_a_new_grant_whose_client_is_gone_is_still_reported() -> None:
    gone = NewGrant(delegated("User.Read", client=ServicePrincipal("gone", "", "")), "gone", "gone", NOW)
    assert rules(evaluate(inventory(new_grants=(gone,)))) == {("new-grant", "g1")}


def test_known_grants_round_trip_compactly() -> None:
    hashes = {grant_hash("oAuth2PermissionGrant", f"grant-{n}") for n in range(1000)}
    text = encode_known(hashes)
    assert decode_known(text) == hashes
    assert len(text) < 1000 * 12
    assert decode_known(encode_known([])) == set()
    assert grant_hash("oAuth2PermissionGrant", "x") != grant_hash("appRoleAssignment", "x")


@pytest.mark.parametrize("text", ["", "2:abc", "1:not base64!", "1:" + "QUJD"])
def test_an_unreadable_known_grants_value_names_the_key(text: str) -> None:
    with pytest.raises(ValueError, match=KNOWN_GRANTS_KEY):
        decode_known(text)


async def test_the_first_run_learns_and_later_runs_report_what_appeared() -> None:
    watermarks = MemoryWatermarks()
    first = [delegated("User.Read", grant_id="g1")]
    assert await remember_new_grants(watermarks, first, PRINCIPALS, SETTINGS, NOW) == ()
    assert set(watermarks.values) == {KNOWN_GRANTS_KEY, NEW_GRANTS_KEY}

    later = [*first, delegated("Mail.Read", grant_id="g2")]
    (found,) = await remember_new_grants(watermarks, later, PRINCIPALS, SETTINGS, NOW + DAY)
    assert (found.grant, found.client_name, found.resource_name, found.first_seen) == (
        later[1],
        "Some App",
        "Microsoft Graph",
        NOW + DAY,
    )
    # Still open a week after it was first seen, even though it is no longer new, then forgotten.
    (again,) = await remember_new_grants(watermarks, later, PRINCIPALS, SETTINGS, NOW + 8 * DAY)
    assert again.first_seen == NOW + DAY
    assert await remember_new_grants(watermarks, later, PRINCIPALS, SETTINGS, NOW + 8 * DAY + SECOND) == ()


async def test_a_grant_removed_and_granted_again_is_new_again() -> None:
    watermarks = MemoryWatermarks()
    grant = delegated("User.Read", grant_id="g1")
    await remember_new_grants(watermarks, [grant], PRINCIPALS, SETTINGS, NOW)
    await remember_new_grants(watermarks, [], PRINCIPALS, SETTINGS, NOW + DAY)
    (found,) = await remember_new_grants(watermarks, [grant], PRINCIPALS, SETTINGS, NOW + 2 * DAY)
    assert found.first_seen == NOW + 2 * DAY


# -- collect, with a stand-in Graph client ---------------------------------------------------------


def graph_collections() -> dict[str, list[dict[str, Any]]]:
    role = {"id": ROLE_ID, "value": "Application.ReadWrite.All", "allowedMemberTypes": ["Application"]}
    return {
        "servicePrincipals": [
            {"id": GRAPH.id, "appId": GRAPH.app_id, "displayName": GRAPH.display_name, "appRoles": [role]},
            {"id": APP.id, "appId": APP.app_id, "displayName": APP.display_name, "appRoles": []},
        ],
        "oauth2PermissionGrants": [
            {
                "id": "g1",
                "clientId": APP.id,
                "consentType": "AllPrincipals",
                "resourceId": GRAPH.id,
                "scope": "User.Read",
            }
        ],
        f"servicePrincipals/{GRAPH.id}/appRoleAssignedTo": [
            {
                "id": "a1",
                "appRoleId": ROLE_ID,
                "principalId": APP.id,
                "principalType": "ServicePrincipal",
                "resourceId": GRAPH.id,
            },
            {
                "id": "a2",
                "appRoleId": ROLE_ID,
                "principalId": "u1",
                "principalType": "User",
                "resourceId": GRAPH.id,
            },
        ],
        "reports/servicePrincipalSignInActivities": [
            {
                "appId": APP.app_id.upper(),
                "lastSignInActivity": {"lastSignInDateTime": "2026-01-01T00:00:00-8:00"},
            },
            {"appId": APP.app_id, "lastSignInActivity": {"lastSignInDateTime": "2026-11-01T00:00:00"}},
            {"appId": GRAPH.app_id, "lastSignInActivity": None},
        ],
    }


def context_for(graph: FakeGraph) -> CheckContext:
    return CheckContext("tenant", cast(GraphClient, graph), SETTINGS, NOW, MemoryWatermarks())


async def test_collect_reads_each_collection_once_and_only_resources_with_app_roles() -> None:
    graph = FakeGraph(graph_collections())
    context = context_for(graph)
    data = await ConsentGrants().collect(context)
    assert [(path, version) for version, path, _query in graph.reads] == [
        ("servicePrincipals", "v1.0"),
        ("oauth2PermissionGrants", "v1.0"),
        (f"servicePrincipals/{GRAPH.id}/appRoleAssignedTo", "v1.0"),
        ("reports/servicePrincipalSignInActivities", "beta"),
    ]
    assert all(query is not None and query.select for _version, _path, query in graph.reads)
    assert [(g.resource_type, g.id, g.permissions) for g in data.grants] == [
        ("oAuth2PermissionGrant", "g1", ("User.Read",)),
        ("appRoleAssignment", "a1", ("Application.ReadWrite.All",)),
    ]
    # Naive times are UTC; the latest of duplicate entries wins; a null activity is "never".
    assert data.last_sign_ins == {APP.app_id: datetime(2026, 11, 1, tzinfo=UTC), GRAPH.app_id: None}
    assert data.new_grants == ()
    assert context.unavailable == {}


async def test_without_the_report_unused_grant_is_unavailable_and_the_rest_still_runs() -> None:
    refused = GraphLicenseError("servicePrincipalSignInActivities needs Microsoft Entra ID P1")
    graph = FakeGraph(graph_collections(), {"reports/servicePrincipalSignInActivities": refused})
    context = context_for(graph)
    data = await ConsentGrants().collect(context)
    assert set(context.unavailable) == {"unused-grant"}
    assert data.sign_in_activity_unavailable is not None
    assert rules(evaluate(data)) == {("high-privilege-grant", "a1")}


# -- gauge ----------------------------------------------------------------------------------------


def measure(data: ConsentInventory, settings: ConsentGrantsSettings = SETTINGS) -> list[Measurement]:
    measured = ConsentGrants().measure(data, settings, NOW)
    (gauge,) = ConsentGrants.gauges
    assert all(m.gauge == gauge.name and set(m.attributes) == set(gauge.attributes) for m in measured)
    return measured


def grant_counts(
    delegated_high: int = 0, delegated_other: int = 0, application_high: int = 0, application_other: int = 0
) -> list[Measurement]:
    """The four measurements in the check's order: delegated first, high first."""
    values = {
        ("delegated", "high"): delegated_high,
        ("delegated", "other"): delegated_other,
        ("application", "high"): application_high,
        ("application", "other"): application_other,
    }
    return [
        Measurement("entra_monitor.consent.grants", float(n), {"kind": kind, "privilege": privilege})
        for (kind, privilege), n in values.items()
    ]


def application(role_id: str, grant_id: str, client: ServicePrincipal = APP) -> Grant:
    names = {ROLE_ID: "Directory.ReadWrite.All", "2" * 8: "User.Read.All"}
    return assignment_from_graph(
        {"id": grant_id, "appRoleId": role_id, "principalId": client.id, "resourceId": GRAPH.id}, names
    )


def test_the_gauge_is_declared_as_documented() -> None:
    assert [(g.name, g.unit, g.attributes) for g in ConsentGrants.gauges] == [
        ("entra_monitor.consent.grants", "{grant}", ("kind", "privilege"))
    ]


def test_no_grants_measure_all_four_combinations_at_zero() -> None:
    assert measure(inventory()) == grant_counts()


def test_grants_are_counted_by_kind_and_privilege() -> None:
    unknown_client = ServicePrincipal("cccccccc-0000-0000-0000-000000000001", "", "Deleted App")
    data = inventory(
        delegated("User.Read Directory.ReadWrite.All", grant_id="g1"),
        delegated("user.read MAIL.READWRITE", grant_id="g2"),  # names compare case-insensitively
        delegated("User.Read openid", grant_id="g3"),
        delegated(None, grant_id="g4"),  # a null scope holds no permission
        delegated("", grant_id="g5"),
        delegated("Files.ReadWrite.All", client=unknown_client, grant_id="g6"),  # still a grant
        application(ROLE_ID, "a1"),
        application(ROLE_ID.upper(), "a2"),
        application("2" * 8, "a3"),
        application("00000000-0000-0000-0000-000000000000", "a4"),  # default access: its id, not a name
    )
    assert measure(data) == grant_counts(
        delegated_high=3, delegated_other=3, application_high=2, application_other=2
    )


def test_the_high_privilege_list_is_a_setting() -> None:
    data = inventory(delegated("User.Read", grant_id="g1"), application(ROLE_ID, "a1"))
    settings = ConsentGrantsSettings(high_privilege_permissions=("user.read",))
    assert measure(data, settings) == grant_counts(delegated_high=1, application_other=1)
    assert measure(data, ConsentGrantsSettings(high_privilege_permissions=())) == grant_counts(
        delegated_other=1, application_other=1
    )


def test_a_remembered_new_grant_that_is_gone_is_not_counted() -> None:
    gone = NewGrant(delegated("Mail.ReadWrite", grant_id="gone"), "Some App", "Microsoft Graph", NOW - DAY)
    data = inventory(delegated("User.Read", grant_id="g1"), new_grants=(gone,))
    assert measure(data) == grant_counts(delegated_other=1)
