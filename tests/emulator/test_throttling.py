"""Throttling through the full emulator (graph-facts §9, ``emulator/throttle.py``).

One emulator for the module, started with ``--throttling real``; every test starts from fresh
buckets (PATCHing the mode clears them) and moves the emulator clock instead of sleeping. Each
test asks for fresh tokens, since moving the clock ages the ones issued earlier.

The reports and identity-protection assertions rely on a handful of small requests finishing
inside the refill time of one request (2 s for reports, 1 s for identity protection); the
directory and keyCredentials budgets are given hour-long windows so that counts are exact
however long the requests take.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.emulator import RunningEmulator, start_emulator

SEED = "7"
NOW = "2026-11-27T12:00:00Z"
SIGN_INS = "/v1.0/auditLogs/signIns?$top=1"
HOUR = 3600
ERROR_KEYS = {"code", "message", "innerError"}
INNER_ERROR_KEYS = {"code", "date", "request-id", "client-request-id"}


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    directory = tmp_path_factory.mktemp("throttled")
    with start_emulator(
        directory, "--seed", SEED, "--now", NOW, "--scale", "small", "--throttling", "real"
    ) as running:
        yield running


@pytest.fixture
def fresh(throttled: RunningEmulator) -> RunningEmulator:
    """Real budgets with every bucket full, and no faults."""
    configure(throttled, {"throttling": "real"})
    return throttled


def configure(running: RunningEmulator, settings: dict[str, Any]) -> dict[str, Any]:
    with running.control() as control:
        response = control.patch("/faults", json=settings)
    assert response.status_code == 200, response.text
    return dict(response.json())


def graph_client(running: RunningEmulator, client: str) -> httpx.Client:
    """A Graph client with a token issued now (on the emulator clock)."""
    response = running.request_token(client)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return running.http(base_url=running.base_url, headers={"Authorization": f"Bearer {token}"})


def managed_identity_client(running: RunningEmulator) -> httpx.Client:
    """A Graph client for the system-assigned managed identity: another app of the tenant."""
    identity = running.info["managedIdentity"]
    with running.http() as http:
        response = http.get(
            identity["endpoint"],
            params={"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"},
            headers={"X-IDENTITY-HEADER": identity["header"]},
        )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return running.http(base_url=running.base_url, headers={"Authorization": f"Bearer {token}"})


def advance_clock(running: RunningEmulator, seconds: float) -> None:
    with running.control() as control:
        control.post("/clock", json={"advanceSeconds": seconds}).raise_for_status()


def reset_stats(running: RunningEmulator) -> None:
    with running.control() as control:
        control.delete("/stats").raise_for_status()


def stats(running: RunningEmulator) -> dict[str, Any]:
    with running.control() as control:
        return dict(control.get("/stats").json())


def assert_too_many_requests(response: httpx.Response) -> None:
    """A 429 in Graph's error shape, its inner request-id matching the response header."""
    assert response.status_code == 429
    error = response.json()["error"]
    assert set(error) == ERROR_KEYS
    assert error["code"] == "TooManyRequests"
    assert error["message"] == "Too many requests. Please try again later."
    assert set(error["innerError"]) == INNER_ERROR_KEYS
    assert error["innerError"]["code"] == "429"
    assert error["innerError"]["request-id"] == response.headers["request-id"]


# -- budgets ------------------------------------------------------------------------------


def test_real_mode_uses_the_documented_budgets(throttled: RunningEmulator) -> None:
    described = configure(throttled, {"throttling": "real"})["throttling"]
    assert described == {
        "mode": "real",
        "budgets": {
            # 200 users: a medium tenant (50-500 users) gets 5,000 resource units per 10 s.
            "directory": {"limit": 5000, "windowSeconds": 10, "perApp": True, "retryAfter": True},
            "keyCredentials": {"limit": 150, "windowSeconds": 60, "perApp": False, "retryAfter": True},
            "reports": {"limit": 5, "windowSeconds": 10, "perApp": True, "retryAfter": True},
            "identityProtection": {"limit": 1, "windowSeconds": 1, "perApp": False, "retryAfter": False},
            "conditionalAccess": {"limit": 1, "windowSeconds": 1, "perApp": False, "retryAfter": False},
            "governance": {"limit": 60, "windowSeconds": 10, "perApp": True, "retryAfter": True},
        },
    }


# -- reports ------------------------------------------------------------------------------


def test_reports_answer_the_sixth_request_with_429_and_retry_after(fresh: RunningEmulator) -> None:
    with graph_client(fresh, "secret") as graph:
        reset_stats(fresh)
        statuses = [graph.get(SIGN_INS).status_code for _ in range(5)]
        sixth = graph.get(SIGN_INS)
        assert statuses == [200] * 5
        assert_too_many_requests(sixth)
        # One request refills every 2 s (5 per 10 s): at most 2 s to wait, at least 1.
        retry_after = int(sixth.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        assert "x-ms-throttle-scope" not in sixth.headers
        assert stats(fresh)["endpoints"]["signIns"]["statuses"] == {"200": 5, "429": 1}

        advance_clock(fresh, retry_after)
        assert graph.get(SIGN_INS).status_code == 200


def test_reports_budget_is_per_app(fresh: RunningEmulator) -> None:
    with graph_client(fresh, "secret") as graph, managed_identity_client(fresh) as other_app:
        statuses = [graph.get("/beta/auditLogs/signIns?$top=1").status_code for _ in range(6)]
        other_statuses = [other_app.get(SIGN_INS).status_code for _ in range(5)]
    assert statuses == [200] * 5 + [429]
    assert other_statuses == [200] * 5


# -- identity protection and conditional access ---------------------------------------------


def test_identity_protection_and_conditional_access_share_one_tenant_budget(
    fresh: RunningEmulator,
) -> None:
    with graph_client(fresh, "secret") as graph, managed_identity_client(fresh) as other_app:
        first = graph.get("/v1.0/identityProtection/riskyUsers?$top=1")
        throttled = [
            other_app.get("/v1.0/identity/conditionalAccess/policies"),
            graph.get("/v1.0/identity/conditionalAccess/namedLocations"),
            other_app.get("/v1.0/identityProtection/riskDetections?$top=1"),
        ]
        assert first.status_code == 200
        for response in throttled:
            assert_too_many_requests(response)
            assert "Retry-After" not in response.headers
            assert "x-ms-throttle-scope" not in response.headers

        advance_clock(fresh, 1)
        assert other_app.get("/v1.0/identity/conditionalAccess/policies").status_code == 200
        assert graph.get("/v1.0/identityProtection/riskyUsers?$top=1").status_code == 429


# -- directory resource units -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "units"),
    [
        ("/v1.0/applications", 2),
        ("/v1.0/applications?$select=id,displayName", 1),
        ("/v1.0/applications?$top=5", 1),
        ("/v1.0/applications?$select=id&$top=5", 1),
        ("/v1.0/applications?$top=20", 2),
        ("/v1.0/applications?$top=19", 1),
        ("/v1.0/users", 2),
        ("/v1.0/users?$select=id&$top=999", 1),
        ("/v1.0/oauth2PermissionGrants", 2),
        ("/v1.0/servicePrincipals", 1),
        ("/v1.0/servicePrincipals?$select=id&$top=5", 1),
        ("/v1.0/groups", 1),
        ("/v1.0/policies/tokenLifetimePolicies", 1),
    ],
)
def test_directory_requests_report_their_resource_units(
    fresh: RunningEmulator, path: str, units: int
) -> None:
    with graph_client(fresh, "secret") as graph:
        response = graph.get(path)
    assert response.status_code == 200
    assert response.headers["x-ms-resource-unit"] == str(units)


@pytest.mark.parametrize(
    "path",
    [
        SIGN_INS,
        "/v1.0/identityProtection/riskyUsers?$top=1",
        "/v1.0/identityGovernance/accessReviews/definitions",
    ],
)
def test_other_families_report_no_resource_units(fresh: RunningEmulator, path: str) -> None:
    with graph_client(fresh, "secret") as graph:
        response = graph.get(path)
    assert response.status_code == 200
    assert "x-ms-resource-unit" not in response.headers


def test_directory_budget_is_spent_in_resource_units_per_app(fresh: RunningEmulator) -> None:
    # 10 units an hour: nothing refills while the test runs.
    configure(fresh, {"throttleBudgets": {"directory": {"limit": 10, "windowSeconds": HOUR}}})
    tenant_id = fresh.info["tenantId"]
    app_id = fresh.info["clients"]["secret"]["clientId"]
    with graph_client(fresh, "secret") as graph, graph_client(fresh, "limited") as limited:
        spent = [
            graph.get("/v1.0/applications"),  # 2
            graph.get("/v1.0/applications?$select=id"),  # 1
            graph.get("/v1.0/applications?$top=5"),  # 1
            graph.get("/v1.0/users"),  # 2
            graph.get("/v1.0/servicePrincipals"),  # 1
            graph.get("/v1.0/oauth2PermissionGrants"),  # 2
        ]
        assert [r.status_code for r in spent] == [200] * 6
        assert sum(int(r.headers["x-ms-resource-unit"]) for r in spent) == 9

        over = graph.get("/v1.0/applications")  # 2 units, 1 left
        assert_too_many_requests(over)
        assert over.headers["x-ms-throttle-scope"] == f"Tenant_Application/ReadWrite/{app_id}/{tenant_id}"
        assert over.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
        # One unit short at 10 units an hour is 360 s, less whatever refilled meanwhile.
        retry_after = int(over.headers["Retry-After"])
        assert 350 <= retry_after <= 360
        assert graph.get("/v1.0/servicePrincipals?$select=id").status_code == 200  # the last unit
        assert graph.get("/v1.0/servicePrincipals?$select=id").status_code == 429

        # Another app has a budget of its own.
        assert [limited.get("/v1.0/applications").status_code for _ in range(5)] == [200] * 5
        assert limited.get("/v1.0/applications").status_code == 429

        advance_clock(fresh, 2 * retry_after)
        assert graph.get("/v1.0/applications").status_code == 200


def test_key_credentials_select_is_limited_per_tenant(fresh: RunningEmulator) -> None:
    # 150 requests as in real mode, over an hour-long window so nothing refills meanwhile.
    described = configure(fresh, {"throttleBudgets": {"keyCredentials": {"windowSeconds": HOUR}}})
    assert described["throttling"]["budgets"]["keyCredentials"] == {
        "limit": 150,
        "windowSeconds": HOUR,
        "perApp": False,
        "retryAfter": True,
    }
    tenant_id = fresh.info["tenantId"]
    limited_id = fresh.info["clients"]["limited"]["clientId"]
    paths = ("/v1.0/applications?$select=id,keyCredentials", "/v1.0/servicePrincipals?$select=keyCredentials")
    with graph_client(fresh, "secret") as graph, graph_client(fresh, "limited") as limited:
        statuses = [graph.get(paths[number % 2]).status_code for number in range(150)]
        assert statuses == [200] * 150

        over = limited.get("/v1.0/applications?$select=displayName,keyCredentials")
        assert_too_many_requests(over)
        assert over.headers["x-ms-throttle-scope"] == f"Tenant/ReadWrite/{limited_id}/{tenant_id}"
        assert int(over.headers["Retry-After"]) >= 1
        assert graph.get(paths[1]).status_code == 429
        # Only keyCredentials in $select counts against this budget.
        assert limited.get("/v1.0/applications?$select=id,passwordCredentials").status_code == 200
        assert graph.get("/v1.0/servicePrincipals?$top=5").status_code == 200


# -- $batch -------------------------------------------------------------------------------------


def test_batch_charges_and_throttles_each_inner_request(fresh: RunningEmulator) -> None:
    steps = [
        {"id": str(number), "method": "GET", "url": "/auditLogs/signIns?$top=1"} for number in range(1, 8)
    ]
    steps.append({"id": "8", "method": "GET", "url": "/applications?$top=1"})
    with graph_client(fresh, "secret") as graph:
        reset_stats(fresh)
        response = graph.post("/v1.0/$batch", json={"requests": steps})
    assert response.status_code == 200
    answers = {answer["id"]: answer for answer in response.json()["responses"]}
    assert {key: answer["status"] for key, answer in answers.items()} == {
        "1": 200,
        "2": 200,
        "3": 200,
        "4": 200,
        "5": 200,
        "6": 429,
        "7": 429,
        "8": 200,
    }
    for key in ("6", "7"):
        headers = answers[key]["headers"]
        assert 1 <= int(headers["Retry-After"]) <= 2
        error = answers[key]["body"]["error"]
        assert (error["code"], error["innerError"]["code"]) == ("TooManyRequests", "429")
    assert "Retry-After" not in answers["5"]["headers"]
    assert answers["8"]["headers"]["x-ms-resource-unit"] == "1"

    counted = stats(fresh)
    assert counted["throttled"] == 2
    assert counted["endpoints"]["signIns"] == {
        "requests": 7,
        "throttled": 2,
        "items": 5,
        "statuses": {"200": 5, "429": 2},
        "faults": {},
    }
    assert counted["endpoints"]["$batch"]["statuses"] == {"200": 1}


def test_stats_count_every_429(fresh: RunningEmulator) -> None:
    with graph_client(fresh, "secret") as graph:
        reset_stats(fresh)
        statuses = [graph.get(SIGN_INS).status_code for _ in range(9)]
        statuses += [graph.get("/v1.0/identityProtection/riskyUsers?$top=1").status_code for _ in range(3)]
    assert statuses == [200] * 5 + [429] * 4 + [200] + [429] * 2
    counted = stats(fresh)
    assert counted["total"] == 12
    assert counted["throttled"] == 6
    assert {name: entry["throttled"] for name, entry in counted["endpoints"].items()} == {
        "signIns": 4,
        "riskyUsers": 2,
    }


# -- off ----------------------------------------------------------------------------------------


def test_off_never_throttles(throttled: RunningEmulator) -> None:
    described = configure(throttled, {"throttling": "off"})
    assert described["throttling"] == {"mode": "off", "budgets": {}}
    try:
        with graph_client(throttled, "secret") as graph:
            reset_stats(throttled)
            for path in (SIGN_INS, "/v1.0/identity/conditionalAccess/policies", "/v1.0/applications"):
                assert [graph.get(path).status_code for _ in range(12)] == [200] * 12
        assert stats(throttled)["throttled"] == 0
    finally:
        configure(throttled, {"throttling": "real"})
