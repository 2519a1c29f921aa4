"""token-lifetime-drift end to end: on the session's tenant the findings are exactly the ground
truth; on a tenant of its own, policies edited between runs are reported as changed, with a
before/after diff, for as long as ``changed_open_days`` says, and the other rules follow the new
values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from checks.token_lifetime_drift import CA_POLICY, LIFETIME_POLICY, TokenLifetimeDrift
from tests.support.checks import (
    NOW,
    MemoryWatermarks,
    endpoint_stats,
    identities,
    private_emulator,
    requests_per_endpoint,
    reset_stats,
    run_check,
    truth_identities,
    truth_of,
)
from tests.support.emulator import RunningEmulator

# -- the session tenant ---------------------------------------------------------------------


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, TokenLifetimeDrift.id)
    findings = await run_check(emulator, TokenLifetimeDrift)
    assert identities(findings) == truth_identities(truth)
    assert {f["rule"] for f in truth} == {
        "access-token-lifetime-drift",
        "retired-token-property",
        "sign-in-frequency-exceeds-baseline",
        "persistent-browser-session",
    }


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator, TokenLifetimeDrift)
    assert len(findings) == len({(f.rule, f.resource.id) for f in findings})
    for finding in findings:
        assert finding.message.endswith(".")
        assert finding.remediation
        assert finding.references
        assert finding.evidence["policyId"] == finding.resource.id
    applies_to = emulator.reference().governance.applies_to
    token_findings = [f for f in findings if f.resource.type == LIFETIME_POLICY]
    assert len(token_findings) == 3
    for finding in token_findings:
        assert finding.evidence["appliesTo"] == [
            {"id": app["id"], "appId": app["appId"], "displayName": app["displayName"], "type": "application"}
            for app in applies_to[finding.resource.id]
        ]
        assert finding.evidence["isOrganizationDefault"] is False


async def test_a_run_makes_three_graph_requests(emulator: RunningEmulator) -> None:
    """The policies, one $batch of five appliesTo reads, the conditional-access policies."""
    reset_stats(emulator)
    await run_check(emulator, TokenLifetimeDrift)
    assert requests_per_endpoint(emulator) == {
        "tokenLifetimePolicies": 1,
        "$batch": 1,
        "tokenLifetimePolicies.appliesTo": 5,  # inside the $batch
        "conditionalAccessPolicies": 1,
    }, json.dumps(endpoint_stats(emulator), indent=1)


# -- policies edited between runs (a tenant of its own) -------------------------------------


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with private_emulator(tmp_path_factory, "token-lifetime-drift") as running:
        yield running


def policy_named(running: RunningEmulator, path: str, name: str) -> dict[str, Any]:
    with running.graph() as graph:
        response = graph.get(f"/v1.0/{path}")
        response.raise_for_status()
        (policy,) = [p for p in response.json()["value"] if p["displayName"] == name]
    return dict(policy)


async def test_changes_between_runs_are_reported_with_a_diff_while_open(edited: RunningEmulator) -> None:
    watermarks = MemoryWatermarks()
    first = await run_check(edited, TokenLifetimeDrift, watermarks=watermarks)
    assert identities(first) == truth_identities(truth_of(edited, TokenLifetimeDrift.id))
    assert not [f for f in first if f.rule == "token-policy-changed"]

    token = policy_named(
        edited, "policies/tokenLifetimePolicies", "Organization default: 1 hour access tokens"
    )
    session = policy_named(
        edited, "identity/conditionalAccess/policies", "Admins sign in again every 4 hours"
    )
    # The trailing comma is as Graph's own examples write definitions (graph-facts §6).
    definition = '{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"02:00:00",}}'
    frequency = {"isEnabled": True, "type": "hours", "value": 12, "frequencyInterval": "timeBased"}
    with edited.control() as control:
        patched = control.patch(f"/tokenLifetimePolicies/{token['id']}", json={"definition": [definition]})
        assert patched.status_code == 200, patched.text
        patched = control.patch(
            f"/conditionalAccessPolicies/{session['id']}",
            json={"sessionControls": {"signInFrequency": frequency}},
        )
        assert patched.status_code == 200, patched.text

    second = await run_check(edited, TokenLifetimeDrift, watermarks=watermarks)
    truth = truth_of(edited, TokenLifetimeDrift.id)
    assert identities(second) == truth_identities(truth)
    changed = {f.resource.id: f for f in second if f.rule == "token-policy-changed"}
    assert set(changed) == {token["id"], session["id"]}
    assert {(f.rule, f.resource.id) for f in second} >= {
        ("access-token-lifetime-drift", token["id"]),
        ("sign-in-frequency-exceeds-baseline", session["id"]),
    }
    (token_change,) = changed[token["id"]].evidence["changes"]
    assert token_change["before"] == {"definition.AccessTokenLifetime": "01:00:00"}
    assert token_change["after"] == {"definition.AccessTokenLifetime": "02:00:00"}
    assert token_change["detectedAt"] == "2026-11-27T12:00:00Z"
    (session_change,) = changed[session["id"]].evidence["changes"]
    assert session_change["before"] == {"sessionControls.signInFrequency.value": 4}
    assert session_change["after"] == {"sessionControls.signInFrequency.value": 12}
    assert changed[session["id"]].resource.type == CA_POLICY

    # Later runs see no new change but keep reporting this one for changed_open_days (7).
    third = await run_check(edited, TokenLifetimeDrift, watermarks=watermarks, now=NOW + timedelta(days=1))
    assert identities(third) == identities(second)
    (kept,) = [f for f in third if f.rule == "token-policy-changed" and f.resource.id == token["id"]]
    assert kept.evidence["changes"] == [token_change]
    last = await run_check(edited, TokenLifetimeDrift, watermarks=watermarks, now=NOW + timedelta(days=7))
    assert identities(last) == identities(second)
    later = NOW + timedelta(days=7, seconds=1)
    after = await run_check(edited, TokenLifetimeDrift, watermarks=watermarks, now=later)
    assert identities(after) == identities(second) - {
        ("token-policy-changed", "info", LIFETIME_POLICY, token["id"].lower()),
        ("token-policy-changed", "info", CA_POLICY, session["id"].lower()),
    }
