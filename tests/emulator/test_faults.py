"""Injected faults through the full emulator (``emulator/faults.py``, ``graph/routes.py``).

Most tests switch faults on in the session emulator with ``PATCH /_emulator/faults`` and put them
back with ``restore_faults``. Fault draws come from a per-request counter seeded by the tenant
seed, so two fresh emulators with the same seed answer the same request sequence identically.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.tenant.model import Tenant
from tests.support.emulator import RunningEmulator, start_emulator

TRANSIENT = {
    500: ("generalException", "An internal error occurred."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway timed out."),
}
# One endpoint of every family, v1.0 and beta.
GRAPH_PATHS = (
    "/v1.0/applications?$top=2",
    "/v1.0/servicePrincipals?$top=2",
    "/v1.0/users?$top=2",
    "/v1.0/oauth2PermissionGrants?$top=2",
    "/v1.0/auditLogs/signIns?$top=2",
    "/beta/auditLogs/signIns?$top=2",
    "/v1.0/identityProtection/riskyUsers?$top=2",
    "/v1.0/identity/conditionalAccess/policies",
    "/v1.0/policies/tokenLifetimePolicies",
    "/v1.0/identityGovernance/accessReviews/definitions",
)
SEQUENCE_LENGTH = 100


@pytest.fixture
def faults(emulator: RunningEmulator, restore_faults: None) -> Iterator[RunningEmulator]:
    """The session emulator, with the fault settings ``restore_faults`` leaves alone restored too."""
    yield emulator
    configure(emulator, {"errorStatuses": [500, 503, 504], "retryAfterSeconds": 1.0})


def configure(running: RunningEmulator, settings: dict[str, Any]) -> dict[str, Any]:
    with running.control() as control:
        response = control.patch("/faults", json=settings)
    assert response.status_code == 200, response.text
    return dict(response.json())


def reset_stats(running: RunningEmulator) -> None:
    with running.control() as control:
        control.delete("/stats").raise_for_status()


def endpoint_stats(running: RunningEmulator) -> dict[str, Any]:
    with running.control() as control:
        return dict(control.get("/stats").json()["endpoints"])


def assert_transient_error(response: httpx.Response, retry_after: str | None = "1") -> None:
    """A 500/503/504 with Graph's error body; only a 503 says when to retry."""
    assert response.status_code in TRANSIENT
    error = response.json()["error"]
    assert (error["code"], error["message"]) == TRANSIENT[response.status_code]
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    expected = retry_after if response.status_code == 503 else None
    assert response.headers.get("Retry-After") == expected


# -- 5xx answers --------------------------------------------------------------------------------


def test_error_rate_one_answers_every_graph_request_with_a_transient_error(
    faults: RunningEmulator,
) -> None:
    configure(faults, {"errorRate": 1.0})
    with faults.graph() as graph:
        responses = [graph.get(path) for path in GRAPH_PATHS * 6]
    for response in responses:
        assert_transient_error(response)
    assert {response.status_code for response in responses} == set(TRANSIENT)


def test_configured_statuses_and_retry_after_are_used(faults: RunningEmulator) -> None:
    described = configure(faults, {"errorRate": 1.0, "errorStatuses": [503], "retryAfterSeconds": 2.5})
    assert {key: described[key] for key in ("errorRate", "errorStatuses", "retryAfterSeconds")} == {
        "errorRate": 1.0,
        "errorStatuses": [503],
        "retryAfterSeconds": 2.5,
    }
    with faults.graph() as graph:
        assert_transient_error(graph.get("/v1.0/applications"), retry_after="2.5")
        configure(faults, {"retryAfterSeconds": None})
        assert_transient_error(graph.get("/v1.0/applications"), retry_after=None)


def test_endpoints_pattern_restricts_the_faults(faults: RunningEmulator, reference: Tenant) -> None:
    configure(faults, {"errorRate": 1.0, "endpoints": "^signIns$"})
    _key, first = next(iter(reference.sign_ins.scan(None, None)))
    with faults.graph() as graph:
        assert_transient_error(graph.get("/v1.0/auditLogs/signIns?$top=1"))
        assert_transient_error(graph.get("/beta/auditLogs/signIns?$top=1"))
        # Other endpoint names, the single sign-in ("signIns.item") among them, are untouched.
        assert graph.get(f"/v1.0/auditLogs/signIns/{first['id']}").status_code == 200
        assert graph.get("/v1.0/applications?$top=1").status_code == 200
        assert graph.get("/v1.0/identityProtection/riskyUsers?$top=1").status_code == 200


def test_faults_come_after_authentication_routing_and_authorisation(faults: RunningEmulator) -> None:
    configure(faults, {"errorRate": 1.0})
    with faults.http(base_url=faults.base_url) as anonymous:
        assert anonymous.get("/v1.0/applications").status_code == 401
    with faults.graph("limited") as limited:
        assert limited.get("/v1.0/auditLogs/signIns").status_code == 403
        assert_transient_error(limited.get("/v1.0/applications"))
    with faults.graph() as graph:
        unknown = graph.get("/v1.0/nothingHere")
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "BadRequest")


def test_inside_a_batch_only_error_answers_are_injected(faults: RunningEmulator) -> None:
    steps = [{"id": str(number), "method": "GET", "url": "/applications?$top=1"} for number in range(1, 7)]
    with faults.graph() as graph:
        configure(faults, {"errorRate": 1.0})
        failed = graph.post("/v1.0/$batch", json={"requests": steps})
        configure(faults, {"errorRate": 0.0, "dropRate": 0.5, "malformedRate": 0.5})
        untouched = graph.post("/v1.0/$batch", json={"requests": steps})
    assert failed.status_code == 200
    for answer in failed.json()["responses"]:
        assert answer["status"] in TRANSIENT
        assert answer["body"]["error"]["code"] == TRANSIENT[answer["status"]][0]
        assert answer["headers"].get("Retry-After") == ("1" if answer["status"] == 503 else None)
    assert untouched.status_code == 200
    assert [answer["status"] for answer in untouched.json()["responses"]] == [200] * 6


def _status_sequence(directory: Path, seed: str) -> list[int]:
    with (
        start_emulator(
            directory,
            "--seed",
            seed,
            "--now",
            "2026-11-27T12:00:00Z",
            "--scale",
            "tiny",
            "--throttling",
            "off",
            "--error-rate",
            "0.2",
        ) as running,
        running.graph() as graph,
    ):
        return [graph.get("/v1.0/applications?$top=1").status_code for _ in range(SEQUENCE_LENGTH)]


def test_error_rate_draws_the_same_sequence_for_the_same_seed(tmp_path: Path) -> None:
    first = _status_sequence(tmp_path / "first", "11")
    second = _status_sequence(tmp_path / "second", "11")
    assert first == second
    counts = Counter(first)
    assert set(counts) <= {200, *TRANSIENT}
    failures = SEQUENCE_LENGTH - counts[200]
    # Binomial(100, 0.2): mean 20, standard deviation 4; this allows 3.5 deviations either way.
    assert 6 <= failures <= 34


# -- dropped connections and malformed bodies ---------------------------------------------------


def test_drop_rate_one_cuts_every_response_short(faults: RunningEmulator) -> None:
    configure(faults, {"dropRate": 1.0})
    with faults.graph() as graph:
        for path in GRAPH_PATHS[:3]:
            with pytest.raises(
                httpx.RemoteProtocolError,
                match="peer closed connection without sending complete message body",
            ):
                graph.get(path)


def test_malformed_rate_one_answers_200_with_a_body_that_is_not_json(faults: RunningEmulator) -> None:
    configure(faults, {"malformedRate": 1.0})
    with faults.graph() as graph:
        responses = [graph.get(path) for path in GRAPH_PATHS[:4]]
    for response in responses:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.text.startswith('{"@odata.context":')
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)


# -- latency ------------------------------------------------------------------------------------


def test_latency_delays_each_graph_request_by_at_least_its_value(faults: RunningEmulator) -> None:
    configure(faults, {"latencyMs": 250})
    with faults.graph() as graph:
        graph.get("/v1.0/applications?$top=1").raise_for_status()  # connection and TLS set up
        started = time.monotonic()
        response = graph.get("/v1.0/applications?$top=1")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.25


# -- what faults leave alone --------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [{"errorRate": 1.0}, {"dropRate": 1.0}, {"malformedRate": 1.0}],
    ids=["errors", "drops", "malformed"],
)
def test_control_routes_and_the_identity_platform_are_never_faulted(
    faults: RunningEmulator, settings: dict[str, float]
) -> None:
    configure(faults, settings)
    info = faults.info
    with faults.control() as control:
        for path in ("/info", "/stats", "/faults", "/clock"):
            response = control.get(path)
            assert response.status_code == 200
            assert isinstance(response.json(), dict)
    token = faults.request_token("secret")
    assert token.status_code == 200
    assert token.json()["token_type"] == "Bearer"
    with faults.http() as http:
        discovery = http.get(f"{info['authority']}/v2.0/.well-known/openid-configuration")
        keys = http.get(f"{info['authority']}/discovery/v2.0/keys")
    assert discovery.json()["token_endpoint"] == f"{info['authority']}/oauth2/v2.0/token"
    assert len(keys.json()["keys"]) == 1


# -- statistics ---------------------------------------------------------------------------------


def test_stats_report_every_injected_fault(faults: RunningEmulator) -> None:
    with faults.graph() as graph:
        reset_stats(faults)
        configure(faults, {"errorRate": 1.0, "endpoints": "^applications$"})
        errors = [graph.get("/v1.0/applications?$top=1").status_code for _ in range(9)]
        configure(faults, {"errorRate": 0.0, "dropRate": 1.0})
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                graph.get("/v1.0/applications?$top=1")
        configure(faults, {"dropRate": 0.0, "malformedRate": 1.0})
        malformed = [graph.get("/v1.0/applications?$top=1") for _ in range(3)]
        graph.get("/v1.0/servicePrincipals?$top=1").raise_for_status()  # not matched by the pattern
    assert [response.status_code for response in malformed] == [200] * 3
    error_counts = {str(status): count for status, count in sorted(Counter(errors).items())}
    recorded = endpoint_stats(faults)
    assert recorded["applications"] == {
        "requests": 14,
        "throttled": 0,
        "items": 5,
        # A dropped response had sent its 200 status line before the connection went.
        "statuses": {"200": 5, **error_counts},
        "faults": {**error_counts, "drop": 2, "malformed": 3},
    }
    assert recorded["servicePrincipals"]["faults"] == {}


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"errorRate": 1.5}, "error_rate must be between 0 and 1, got 1.5"),
        ({"errorRate": 0.6, "dropRate": 0.6}, "error_rate + drop_rate + malformed_rate must not exceed 1"),
        ({"errorStatuses": [429]}, "error_statuses must be 5xx codes"),
        ({"latencyMs": -1}, "latency must not be negative"),
        (
            {"errorRte": 0.5},
            "unknown fault setting 'errorRte'; known: dropRate, endpoints, errorRate, errorStatuses, "
            "latencyJitterMs, latencyMs, malformedRate, retryAfterSeconds",
        ),
        ({"throttling": "fast"}, "throttling mode must be one of real, tight, off, got 'fast'"),
        (
            {"endpoints": ["groups"]},
            "'endpoints' is a regular expression on endpoint names, got ['groups']",
        ),
        (
            {"throttleBudgets": {"directories": {"limit": 1}}},
            "unknown throttling family 'directories'; known: conditionalAccess, directory, governance, "
            "identityProtection, keyCredentials, reports",
        ),
    ],
)
def test_bad_fault_settings_are_refused_and_change_nothing(
    faults: RunningEmulator, settings: dict[str, Any], message: str
) -> None:
    with faults.control() as control:
        before = control.get("/faults").json()
        response = control.patch("/faults", json=settings)
        after = control.get("/faults").json()
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "EmulatorControl", "message": message}}
    assert after == before
