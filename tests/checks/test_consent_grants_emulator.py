"""consent-grants end to end: the findings on the session's emulated tenant are exactly the
emulator's ground truth for the check, and grants injected at run time are reported as new on the
next run and stay reported while they are open; the grant counts of the gauge equal the tenant's
grants and the truth's high-privilege ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from checks.consent_grants import KNOWN_GRANTS_KEY, ConsentGrants
from monitor.check import Finding
from tests.support.checks import (
    MemoryWatermarks,
    identities,
    private_emulator,
    requests_per_endpoint,
    reset_stats,
    run_check,
    run_once,
    truth_identities,
    truth_of,
)
from tests.support.emulator import RunningEmulator, collect


async def run_with(emulator: RunningEmulator, watermarks: MemoryWatermarks) -> list[Finding]:
    """One run of the check keeping ``watermarks`` across runs, in which every rule could be
    evaluated."""
    run = await run_once(emulator, ConsentGrants, watermarks=watermarks)
    assert run.context.unavailable == {}
    return run.findings


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, ConsentGrants.id)
    findings = await run_check(emulator, ConsentGrants)
    assert identities(findings) == truth_identities(truth)
    assert {f["rule"] for f in truth} == {"unused-grant", "high-privilege-grant", "permission-not-allowed"}
    assert {f["resource"]["type"] for f in truth} == {"oAuth2PermissionGrant", "appRoleAssignment"}


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, ConsentGrants.id)
    findings = await run_check(emulator, ConsentGrants)
    assert len(findings) == len({(f.rule, f.resource.type, f.resource.id) for f in findings})
    by_key = {(f.rule, f.resource.id): f for f in findings}
    for expected in truth:
        finding = by_key[(expected["rule"], expected["resource"]["id"])]
        assert finding.message.endswith(".")
        assert finding.remediation
        assert finding.references
        assert finding.evidence["clientId"] == expected["detail"]["client"]["id"]
        assert finding.evidence["clientDisplayName"] == expected["detail"]["client"]["displayName"]
        assert finding.resource.display_name == expected["detail"]["client"]["displayName"]
        permissions = expected["detail"]["permissions"]
        if expected["rule"] == "high-privilege-grant":
            assert sorted(finding.evidence["highPrivilegePermissions"]) == permissions
        elif expected["rule"] == "permission-not-allowed":
            assert sorted(finding.evidence["permissionsNotAllowed"]) == permissions
        else:
            assert finding.evidence["permissions"] == permissions


@pytest.fixture(scope="module")
def own_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A tenant of its own (the same arguments as the session's), since these tests inject grants."""
    with private_emulator(tmp_path_factory, "consent-emulator") as running:
        yield running


def client_named(emulator: RunningEmulator, name: str) -> dict[str, Any]:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/servicePrincipals", params={"$filter": f"displayName eq '{name}'"})
        response.raise_for_status()
        (found,) = response.json()["value"]
    return dict(found)


def some_user_id(emulator: RunningEmulator) -> str:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/users", params={"$top": "1", "$select": "id"})
        response.raise_for_status()
        return str(response.json()["value"][0]["id"])


def inject(emulator: RunningEmulator, spec: dict[str, Any]) -> dict[str, Any]:
    with emulator.control() as control:
        response = control.post("/grants", json=spec)
        response.raise_for_status()
        return dict(response.json())


async def test_injected_grants_are_new_on_the_next_run_and_stay_open(own_emulator: RunningEmulator) -> None:
    watermarks = MemoryWatermarks()
    reset_stats(own_emulator)
    first = await run_with(own_emulator, watermarks)
    # One list per collection: service principals, grants, Graph's appRoleAssignedTo, the report.
    assert requests_per_endpoint(own_emulator) == {
        "servicePrincipals": 1,
        "oauth2PermissionGrants": 1,
        "servicePrincipals.appRoleAssignedTo": 1,
        "servicePrincipalSignInActivities": 1,
    }
    assert identities(first) == truth_identities(truth_of(own_emulator, ConsentGrants.id))
    assert not [f for f in first if f.rule == "new-grant"]
    assert KNOWN_GRANTS_KEY in watermarks.values

    client = client_named(own_emulator, "Calendar/Teams App")
    # The app already holds an admin grant on Microsoft Graph (a grant's id is its client,
    # resource and user), so the new admin grant is on SharePoint.
    sharepoint = client_named(own_emulator, "Office 365 SharePoint Online")
    admin = inject(
        own_emulator,
        {
            "clientId": client["id"],
            "resourceId": sharepoint["id"],
            "scope": "AllSites.Read Sites.FullControl.All",
        },
    )
    per_user = inject(
        own_emulator,
        {
            "clientId": client["id"],
            "scope": "User.Read",
            "consentType": "Principal",
            "principalId": some_user_id(own_emulator),
        },
    )

    second = await run_with(own_emulator, watermarks)
    truth = truth_of(own_emulator, ConsentGrants.id)
    assert identities(second) == truth_identities(truth)
    new = {(f.resource.type, f.resource.id) for f in second if f.rule == "new-grant"}
    assert new == {("oAuth2PermissionGrant", admin["id"]), ("oAuth2PermissionGrant", per_user["id"])}
    (admin_high,) = [f for f in second if f.rule == "high-privilege-grant" and f.resource.id == admin["id"]]
    assert admin_high.evidence["highPrivilegePermissions"] == ["Sites.FullControl.All"]
    (admin_extra,) = [
        f for f in second if f.rule == "permission-not-allowed" and f.resource.id == admin["id"]
    ]
    assert admin_extra.evidence["permissionsNotAllowed"] == ["AllSites.Read", "Sites.FullControl.All"]
    assert admin_extra.evidence["resourceDisplayName"] == "Office 365 SharePoint Online"
    (per_user_new,) = [f for f in second if f.rule == "new-grant" and f.resource.id == per_user["id"]]
    assert per_user_new.evidence["consentType"] == "Principal"
    assert per_user_new.evidence["firstSeen"] == "2026-11-27T12:00:00Z"

    third = await run_with(own_emulator, watermarks)
    assert identities(third) == identities(second)


# -- the gauge on the session tenant ----------------------------------------------------------


def application_permissions_held_by_service_principals(emulator: RunningEmulator) -> int:
    """Every appRoleAssignment held by a service principal, read from each service principal's
    appRoleAssignedTo (all of them, not only those the check asks: those defining app roles)."""
    held = 0
    with emulator.graph() as graph:
        principals, _requests = collect(graph, "/v1.0/servicePrincipals?$select=id")
        for principal in principals:
            url = f"/v1.0/servicePrincipals/{principal['id']}/appRoleAssignedTo?$select=id,principalType"
            assignments, _requests = collect(graph, url)
            held += sum(1 for a in assignments if a["principalType"] == "ServicePrincipal")
    return held


async def test_the_grant_counts_equal_the_tenants_grants_and_the_truths_high_privilege_ones(
    emulator: RunningEmulator,
) -> None:
    with emulator.control() as control:
        response = control.get("/truth")
        response.raise_for_status()
        document = response.json()
    high = [
        f
        for f in document["findings"]
        if f["check"] == ConsentGrants.id and f["rule"] == "high-privilege-grant"
    ]
    high_delegated = sum(1 for f in high if f["resource"]["type"] == "oAuth2PermissionGrant")
    high_application = sum(1 for f in high if f["resource"]["type"] == "appRoleAssignment")
    delegated = document["counts"]["oauth2PermissionGrants"]
    application = application_permissions_held_by_service_principals(emulator)
    run = await run_once(emulator, ConsentGrants)
    measured = ConsentGrants().measure(run.data, run.settings, run.context.now)
    assert [(m.attributes["kind"], m.attributes["privilege"], m.value) for m in measured] == [
        ("delegated", "high", high_delegated),
        ("delegated", "other", delegated - high_delegated),
        ("application", "high", high_application),
        ("application", "other", application - high_application),
    ]
    assert (
        min(high_delegated, high_application, delegated - high_delegated, application - high_application) > 0
    )
