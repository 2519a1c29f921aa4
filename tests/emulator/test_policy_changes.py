"""``PATCH /_emulator/tokenLifetimePolicies/{id}`` and ``/conditionalAccessPolicies/{id}``: edits
Graph then serves, reported by the ground truth as token-policy-changed (plus the ordinary rules
on the new values), and refused with a sentence when the request is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.checks import private_emulator
from tests.support.emulator import RunningEmulator

UNKNOWN_ID = "0badc0de-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with private_emulator(tmp_path_factory, "policy-changes") as emulator:
        yield emulator


def control(running: RunningEmulator, method: str, path: str, **options: Any) -> httpx.Response:
    with running.control() as client:
        return client.request(method, path, **options)


def graph_get(running: RunningEmulator, path: str) -> Any:
    with running.graph() as graph:
        response = graph.get(f"/v1.0/{path}")
        response.raise_for_status()
        return response.json()


def named(running: RunningEmulator, path: str, name: str) -> dict[str, Any]:
    (policy,) = [p for p in graph_get(running, path)["value"] if p["displayName"] == name]
    return dict(policy)


def changed(running: RunningEmulator) -> dict[str, list[str]]:
    findings = control(running, "GET", "/truth").json()["findings"]
    return {
        f["resource"]["id"]: f["detail"]["changed"] for f in findings if f["rule"] == "token-policy-changed"
    }


def rules_of(running: RunningEmulator, policy_id: str) -> set[str]:
    findings = control(running, "GET", "/truth").json()["findings"]
    return {f["rule"] for f in findings if f["resource"]["id"] == policy_id}


def assert_refused(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": {"code": "EmulatorControl", "message": message}}


TOKENS = "policies/tokenLifetimePolicies"
ACCESS = "identity/conditionalAccess/policies"


def test_a_token_policy_edit_is_served_and_reported_as_changed(running: RunningEmulator) -> None:
    policy = named(running, TOKENS, "Finance portal tokens")
    assert policy["id"] not in changed(running)
    definition = ['{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"04:00:00",}}']
    response = control(
        running,
        "PATCH",
        f"/tokenLifetimePolicies/{policy['id']}",
        json={"definition": definition, "displayName": "Finance"},
    )
    assert response.status_code == 200
    assert response.json() == {**policy, "definition": definition, "displayName": "Finance"}
    served = graph_get(running, f"{TOKENS}/{policy['id']}")
    assert {key: value for key, value in served.items() if not key.startswith("@")} == response.json()
    assert changed(running)[policy["id"]] == ["definition", "displayName"]
    assert "access-token-lifetime-drift" in rules_of(running, policy["id"])


def test_an_edit_that_changes_nothing_tracked_is_no_change(running: RunningEmulator) -> None:
    policy = named(running, TOKENS, "Payroll short tokens")
    spaced = ['{ "TokenLifetimePolicy": { "AccessTokenLifetime": "00:30:00", "Version": 1 } }']
    response = control(
        running, "PATCH", f"/tokenLifetimePolicies/{policy['id']}", json={"definition": spaced}
    )
    assert response.status_code == 200
    assert policy["id"] not in changed(running)


def test_a_conditional_access_edit_is_served_and_reported_as_changed(running: RunningEmulator) -> None:
    policy = named(running, ACCESS, "Persistent browser sessions for all apps")
    assert rules_of(running, policy["id"]) == {"persistent-browser-session"}
    response = control(
        running,
        "PATCH",
        f"/conditionalAccessPolicies/{policy['id']}",
        json={
            "sessionControls": {"persistentBrowser": {"isEnabled": True, "mode": "never"}},
            "state": "enabled",
        },
    )
    assert response.status_code == 200
    served = named(running, ACCESS, "Persistent browser sessions for all apps")
    assert served["sessionControls"] == {
        "applicationEnforcedRestrictions": None,
        "cloudAppSecurity": None,
        "disableResilienceDefaults": None,
        "persistentBrowser": {"isEnabled": True, "mode": "never"},
        "secureSignInSession": None,
        "signInFrequency": None,
    }
    assert served["modifiedDateTime"] != policy["modifiedDateTime"]
    assert changed(running)[policy["id"]] == ["sessionControls"]
    assert rules_of(running, policy["id"]) == {"token-policy-changed"}


def test_a_state_change_is_reported_and_the_session_rules_follow_it(running: RunningEmulator) -> None:
    policy = named(running, ACCESS, "Office sign-in frequency 24 hours")
    response = control(
        running, "PATCH", f"/conditionalAccessPolicies/{policy['id']}", json={"state": "disabled"}
    )
    assert response.status_code == 200
    assert changed(running)[policy["id"]] == ["state"]
    assert "sign-in-frequency-exceeds-baseline" not in rules_of(running, policy["id"])


@pytest.mark.parametrize(
    ("kind", "body", "status", "message"),
    [
        (
            "tokenLifetimePolicies",
            {},
            400,
            "nothing to change; send one or more of 'definition', 'displayName'",
        ),
        (
            "tokenLifetimePolicies",
            {"isOrganizationDefault": True},
            400,
            "unknown property 'isOrganizationDefault'; send one or more of 'definition', 'displayName'",
        ),
        (
            "tokenLifetimePolicies",
            {"definition": "x"},
            400,
            "'definition' must be a non-empty list of JSON strings",
        ),
        (
            "tokenLifetimePolicies",
            {"definition": ["{"]},
            400,
            "'definition' holds a string that is not JSON: '{'",
        ),
        (
            "tokenLifetimePolicies",
            {"definition": ["{}"]},
            400,
            "'definition' needs a JSON string holding a 'TokenLifetimePolicy' object",
        ),
        ("tokenLifetimePolicies", {"displayName": ""}, 400, "'displayName' must be a non-empty string"),
        (
            "conditionalAccessPolicies",
            {"state": "on"},
            400,
            "'state' must be one of enabled, disabled, enabledForReportingButNotEnforced",
        ),
        (
            "conditionalAccessPolicies",
            {"sessionControls": []},
            400,
            "'sessionControls' must be an object or null",
        ),
        (
            "conditionalAccessPolicies",
            {"sessionControls": {"signInFrequency": {"isEnabled": True, "type": "weeks", "value": 1}}},
            400,
            "a timeBased 'signInFrequency' needs 'type' hours or days and a positive 'value'",
        ),
        (
            "conditionalAccessPolicies",
            {"sessionControls": {"persistentBrowser": {"isEnabled": True, "mode": "sometimes"}}},
            400,
            "'persistentBrowser.mode' must be always or never",
        ),
    ],
)
def test_wrong_edits_are_refused(
    running: RunningEmulator, kind: str, body: dict[str, Any], status: int, message: str
) -> None:
    path = TOKENS if kind == "tokenLifetimePolicies" else ACCESS
    policy = graph_get(running, path)["value"][0]
    assert_refused(control(running, "PATCH", f"/{kind}/{policy['id']}", json=body), status, message)


@pytest.mark.parametrize("kind", ["tokenLifetimePolicies", "conditionalAccessPolicies"])
def test_an_unknown_policy_is_not_found(running: RunningEmulator, kind: str) -> None:
    body = {"displayName": "x"} if kind == "tokenLifetimePolicies" else {"state": "enabled"}
    what = "token-lifetime" if kind == "tokenLifetimePolicies" else "conditional-access"
    response = control(running, "PATCH", f"/{kind}/{UNKNOWN_ID}", json=body)
    assert_refused(response, 404, f"no {what} policy has id '{UNKNOWN_ID}'")
