"""The monitor's endpoint table: cross-checked against the emulator's own table (which enforces
permissions, licences, throttling families and page sizes), route look-ups on concrete paths,
and the exact, read-only permission set."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from emulator.graph import endpoints as emulated
from emulator.graph.endpoint import Endpoint
from monitor.graph.permissions import (
    ENDPOINTS,
    GraphEndpoint,
    find_endpoint,
    least_privilege_permissions,
    permissions_document,
)

EXPECTED_PERMISSIONS = (
    "AccessReview.Read.All",
    "Application.Read.All",
    "AuditLog.Read.All",
    "DelegatedPermissionGrant.Read.All",
    "GroupMember.Read.All",
    "IdentityRiskEvent.Read.All",
    "IdentityRiskyUser.Read.All",
    "Policy.Read.All",
    "User.Read.All",
)
GUID = "6f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
OTHER_GUID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
APP_ID = "00000003-0000-0000-c000-000000000000"
BY_PATH = {endpoint.path: endpoint for endpoint in ENDPOINTS}


def concrete(pattern: str) -> str:
    """A pattern with its placeholders filled the way the monitor fills them."""
    values = {"id": GUID, "appId": APP_ID, "instance": OTHER_GUID}
    return re.sub(r"\{(\w+)\}", lambda found: values[found.group(1)], pattern)


def emulated_label(endpoint: Endpoint) -> str:
    return f"{endpoint.pattern}@{'+'.join(sorted(endpoint.versions))}"


# --- the emulator's table ------------------------------------------------------------------------


def test_the_monitor_reads_exactly_the_paths_the_emulator_serves() -> None:
    assert set(BY_PATH) == {endpoint.pattern for endpoint in emulated.ENDPOINTS}


@pytest.mark.parametrize("theirs", emulated.ENDPOINTS, ids=emulated_label)
def test_each_endpoint_agrees_with_the_emulator(theirs: Endpoint) -> None:
    ours = BY_PATH[theirs.pattern]
    assert theirs.versions <= ours.versions
    assert (ours.family, ours.licence, ours.is_collection, ours.paging) == (
        theirs.family,
        theirs.licence,
        theirs.is_collection,
        theirs.paging,
    )
    if ours.is_collection:
        assert ours.page_max == theirs.page_max


@pytest.mark.parametrize("theirs", emulated.ENDPOINTS, ids=emulated_label)
def test_each_permission_is_one_the_emulator_accepts(theirs: Endpoint) -> None:
    ours = BY_PATH[theirs.pattern]
    assert len(ours.permissions) == len(theirs.permissions)
    for permission, accepted, emulator_accepts in zip(
        ours.permissions, ours.accepted, theirs.permissions, strict=True
    ):
        assert permission in emulator_accepts
        assert accepted == emulator_accepts


def test_versions_are_the_union_of_the_emulators_entries_for_a_path() -> None:
    for path, ours in BY_PATH.items():
        theirs = [endpoint for endpoint in emulated.ENDPOINTS if endpoint.pattern == path]
        assert ours.versions == frozenset().union(*(endpoint.versions for endpoint in theirs)), path


@pytest.mark.parametrize("theirs", emulated.ENDPOINTS, ids=emulated_label)
def test_find_endpoint_routes_concrete_paths_like_the_emulator(theirs: Endpoint) -> None:
    path = concrete(theirs.pattern)
    for version in sorted(theirs.versions):
        routed = emulated.match(version, path)
        assert routed is not None
        found = find_endpoint(version, path)
        assert found is not None
        assert found.path == routed[0].pattern == theirs.pattern


# --- find_endpoint on concrete paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "path", "name"),
    [
        ("v1.0", "applications", "applications"),
        ("v1.0", f"applications/{GUID}", "applications.item"),
        ("v1.0", "applications(appId='1f2e3d4c-0000-4000-8000-000000000001')", "applications.byAppId"),
        ("v1.0", "applications(appId=%271f2e3d4c%27)", "applications.byAppId"),
        ("v1.0", "applications/$count", "applications.count"),
        ("v1.0", "servicePrincipals/$count", "servicePrincipals.count"),
        ("v1.0", f"servicePrincipals(appId='{APP_ID}')", "servicePrincipals.byAppId"),
        (
            "v1.0",
            f"servicePrincipals(appId='{APP_ID}')/appRoleAssignedTo",
            "servicePrincipals.byAppId.appRoleAssignedTo",
        ),
        ("v1.0", f"servicePrincipals/{GUID}/appRoleAssignedTo", "servicePrincipals.appRoleAssignedTo"),
        ("v1.0", f"servicePrincipals/{GUID}/appRoleAssignments", "servicePrincipals.appRoleAssignments"),
        (
            "v1.0",
            f"servicePrincipals/{GUID}/oauth2PermissionGrants",
            "servicePrincipals.oauth2PermissionGrants",
        ),
        (
            "v1.0",
            "oauth2PermissionGrants/AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0",
            "oauth2PermissionGrants.item",
        ),
        ("v1.0", "auditLogs/signIns", "signIns"),
        ("beta", "auditLogs/signIns", "signIns"),
        ("beta", f"auditLogs/signIns/{GUID}", "signIns.item"),
        ("beta", "reports/servicePrincipalSignInActivities", "servicePrincipalSignInActivities"),
        (
            "beta",
            "reports/servicePrincipalSignInActivities/ZjRkOTY1NGYtMDMwNS00MDcy",
            "servicePrincipalSignInActivities.item",
        ),
        ("v1.0", f"policies/tokenLifetimePolicies/{GUID}/appliesTo", "tokenLifetimePolicies.appliesTo"),
        ("v1.0", "identity/conditionalAccess/policies", "conditionalAccessPolicies"),
        ("v1.0", f"identity/conditionalAccess/namedLocations/{GUID}", "namedLocations.item"),
        ("v1.0", f"identityGovernance/accessReviews/definitions/{GUID}/instances", "accessReviewInstances"),
        (
            "v1.0",
            f"identityGovernance/accessReviews/definitions/{GUID}/instances/{OTHER_GUID}",
            "accessReviewInstances.item",
        ),
    ],
)
def test_find_endpoint_names_the_endpoint(version: str, path: str, name: str) -> None:
    found = find_endpoint(version, path)
    assert found is not None
    assert found.name == name


@pytest.mark.parametrize(
    ("version", "path", "name"),
    [
        ("v1.0", f"SERVICEPRINCIPALS/{GUID}/APPROLEASSIGNEDTO", "servicePrincipals.appRoleAssignedTo"),
        ("v1.0", f"serviceprincipals(APPID='{APP_ID}')", "servicePrincipals.byAppId"),
        ("v1.0", "AuditLogs/SignIns", "signIns"),
        ("v1.0", "Applications/$COUNT", "applications.count"),
        ("v1.0", "identityprotection/riskyusers", "riskyUsers"),
    ],
)
def test_literal_segments_match_case_insensitively(version: str, path: str, name: str) -> None:
    found = find_endpoint(version, path)
    assert found is not None
    assert found.name == name


def test_a_placeholder_keeps_its_case() -> None:
    assert find_endpoint("v1.0", "applications/ABC-def") is BY_PATH["applications/{id}"]


def test_a_leading_slash_and_a_query_string_are_ignored() -> None:
    found = find_endpoint("v1.0", "/servicePrincipals?$select=id,appId&$top=999")
    assert found is BY_PATH["servicePrincipals"]


@pytest.mark.parametrize(
    ("version", "path"),
    [
        ("v1.0", "reports/servicePrincipalSignInActivities"),  # beta only
        ("beta", "applications"),  # the monitor reads applications from v1.0 only
        ("v2.0", "applications"),
        ("v1.0", "devices"),
        ("v1.0", "applications/$ref"),  # an OData segment is no object id
        ("v1.0", f"applications/{GUID}/owners"),
        ("v1.0", f"users/{GUID}/memberOf"),
        ("v1.0", "auditLogs/directoryAudits"),
        ("v1.0", ""),
    ],
)
def test_unknown_paths_find_nothing(version: str, path: str) -> None:
    assert find_endpoint(version, path) is None


# --- the table itself ----------------------------------------------------------------------------


def test_least_privilege_permissions_are_exactly_these() -> None:
    assert least_privilege_permissions() == EXPECTED_PERMISSIONS


def test_no_permission_can_write() -> None:
    for endpoint in ENDPOINTS:
        for permission in endpoint.permissions:
            assert "Write" not in permission, endpoint.name
            assert permission.endswith(".Read.All"), endpoint.name


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_each_entry_is_well_formed(endpoint: GraphEndpoint) -> None:
    assert endpoint.versions
    assert endpoint.versions <= {"v1.0", "beta"}
    assert endpoint.permissions
    assert len(endpoint.accepted) == len(endpoint.permissions)
    for permission, accepted in zip(endpoint.permissions, endpoint.accepted, strict=True):
        assert permission in accepted
    assert endpoint.licence in (None, "P1", "P2")
    assert endpoint.family in {
        "directory",
        "reports",
        "identityProtection",
        "conditionalAccess",
        "governance",
    }
    assert endpoint.paging in {"skiptoken", "skip"}
    assert (endpoint.page_max is not None) == endpoint.is_collection
    assert not endpoint.path.startswith("/")
    assert endpoint.description


def test_names_and_paths_are_unique() -> None:
    assert len({endpoint.name for endpoint in ENDPOINTS}) == len(ENDPOINTS)
    assert len(BY_PATH) == len(ENDPOINTS)


def test_the_document_lists_every_endpoint_and_the_permissions() -> None:
    document = permissions_document()
    endpoints = document["endpoints"]
    assert isinstance(endpoints, list)
    assert [entry["path"] for entry in endpoints] == [endpoint.path for endpoint in ENDPOINTS]
    assert document["permissions"] == list(EXPECTED_PERMISSIONS)


def test_the_table_does_not_depend_on_the_emulator() -> None:
    script = (
        "import sys, monitor.graph.permissions\n"
        "leaked = sorted(name for name in sys.modules if name.split('.')[0] == 'emulator')\n"
        "assert not leaked, leaked\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
