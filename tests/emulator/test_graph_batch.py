"""JSON batching: ``POST /{version}/$batch`` (graph-facts §9).

A batch answers each inner GET exactly as the same GET answers alone (apart from request ids);
a malformed batch fails whole; inner failures are reported per request.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.tenant.base import Collection, GraphObject
from emulator.tenant.model import Tenant
from tests.support.emulator import RunningEmulator

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
ADVANCED = {"ConsistencyLevel": "eventual"}
PER_REQUEST_HEADERS = {"request-id", "client-request-id", "date", "content-length", "server"}


def scan(collection: Collection) -> list[GraphObject]:
    return [obj for _key, obj in collection.scan(None, None)]


def graph_sp_id(tenant: Tenant) -> str:
    return str(next(sp for sp in scan(tenant.service_principals) if sp["appId"] == GRAPH_APP_ID)["id"])


def post_batch(
    emulator: RunningEmulator, requests: list[dict[str, Any]], version: str = "v1.0", client: str = "secret"
) -> httpx.Response:
    with emulator.graph(client) as graph:
        return graph.post(f"/{version}/$batch", json={"requests": requests})


def responses_by_id(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    answers = response.json()["responses"]
    by_id = {answer["id"]: answer for answer in answers}
    assert len(by_id) == len(answers)
    return by_id


def without_request_ids(body: Any) -> Any:
    """An error body without the ids and date that differ from one request to the next."""
    if isinstance(body, dict) and "error" in body:
        return {"error": {key: value for key, value in body["error"].items() if key != "innerError"}}
    return body


def gets(*urls: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Batch steps numbered from 1."""
    steps = [{"id": str(number), "method": "GET", "url": url} for number, url in enumerate(urls, 1)]
    return [{**step, "headers": headers} if headers else step for step in steps]


def assert_batch_refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("BadRequest", message)
    assert error["innerError"]["request-id"] == response.headers["request-id"]


def test_twenty_gets_answer_as_they_would_alone(emulator: RunningEmulator, reference: Tenant) -> None:
    user_id = scan(reference.users)[3]["id"]
    urls = [
        "/applications?$top=3&$select=id,displayName",
        "/servicePrincipals?$top=2",
        f"/servicePrincipals(appId='{GRAPH_APP_ID}')",
        f"/servicePrincipals/{graph_sp_id(reference)}/appRoleAssignedTo?$top=2",
        "/oauth2PermissionGrants?$top=4",
        "/users?$top=2",
        f"/users/{user_id}?$select=id,signInActivity",
        "/groups",
        "/auditLogs/signIns?$top=2&$filter=status/errorCode eq 0",
        "/identityProtection/riskyUsers?$top=3",
        "/identityProtection/riskDetections?$top=2",
        "/policies/tokenLifetimePolicies",
        "/identity/conditionalAccess/policies?$select=id,state",
        "/identity/conditionalAccess/namedLocations",
        "/identityGovernance/accessReviews/definitions?$top=2",
        f"/applications/{UNKNOWN_ID}",
        "/applicationz",
        "/applications?$top=0",
        "/applications?$filter=notes eq 'x'",
        "users?$top=1&$select=id",
    ]
    answers = responses_by_id(post_batch(emulator, gets(*urls)))
    assert sorted(answers, key=int) == [str(number) for number in range(1, 21)]
    with emulator.graph() as graph:
        for number, url in enumerate(urls, 1):
            alone = graph.get(f"/v1.0/{url.lstrip('/')}")
            answer = answers[str(number)]
            assert answer["status"] == alone.status_code, url
            assert without_request_ids(answer["body"]) == without_request_ids(alone.json()), url
            expected_headers = {k: v for k, v in alone.headers.items() if k.lower() in _inner_names(answer)}
            assert {k.lower(): v for k, v in answer["headers"].items()} == expected_headers, url


def _inner_names(answer: dict[str, Any]) -> set[str]:
    names = {name.lower() for name in answer["headers"]}
    assert "content-type" in names
    assert not names & PER_REQUEST_HEADERS
    return names


def test_beta_batches_reach_beta_only_endpoints(emulator: RunningEmulator, reference: Tenant) -> None:
    path = "/reports/servicePrincipalSignInActivities?$top=2&$select=id"
    beta = responses_by_id(post_batch(emulator, gets(path), version="beta"))["1"]
    v1 = responses_by_id(post_batch(emulator, gets(path)))["1"]
    assert (beta["status"], [item["id"] for item in beta["body"]["value"]]) == (
        200,
        [activity["id"] for activity in scan(reference.activity)[:2]],
    )
    assert (v1["status"], v1["body"]["error"]["message"]) == (
        400,
        "Resource not found for the segment 'servicePrincipalSignInActivities'.",
    )


def test_more_than_twenty_requests_fail_the_whole_batch(emulator: RunningEmulator) -> None:
    response = post_batch(emulator, gets(*["/groups"] * 21))
    assert_batch_refused(response, "Number of batch request steps exceeds the maximum of 20.")


def test_ids_repeated_in_another_case_fail_the_whole_batch(emulator: RunningEmulator) -> None:
    steps = [{"id": "a", "method": "GET", "url": "/groups"}, {"id": "A", "method": "GET", "url": "/users"}]
    assert_batch_refused(post_batch(emulator, steps), "Batch request ids must be unique; 'A' is repeated.")


@pytest.mark.parametrize(
    "content",
    [b'{"requests": [', b"[]", b'{"requests": []}', b'{"requests": {"id": "1"}}', b"\xff\xfe"],
    ids=["truncated", "not-an-object", "no-requests", "requests-not-a-list", "not-utf8"],
)
def test_a_malformed_payload_fails_the_whole_batch(emulator: RunningEmulator, content: bytes) -> None:
    with emulator.graph() as graph:
        response = graph.post("/v1.0/$batch", content=content, headers={"Content-Type": "application/json"})
    assert_batch_refused(response, "Invalid batch payload format.")


def test_a_step_without_its_url_fails_the_whole_batch(emulator: RunningEmulator) -> None:
    response = post_batch(emulator, [{"id": "1", "method": "GET"}])
    assert_batch_refused(response, "Each batch request needs string 'id', 'method' and 'url' properties.")


@pytest.mark.parametrize("url", ["https://graph.microsoft.com/v1.0/users", "http://localhost/v1.0/groups"])
def test_an_absolute_url_fails_the_whole_batch(emulator: RunningEmulator, url: str) -> None:
    response = post_batch(emulator, gets("/groups", url))
    assert_batch_refused(response, "Batch request URLs must be relative to the version, such as '/users'.")


def test_inner_failures_are_reported_per_request(emulator: RunningEmulator) -> None:
    """The limited client holds Application.Read.All only."""
    steps = gets("/applications?$top=1&$select=id", "/users?$top=1", "/auditLogs/signIns?$top=1", "/nothing")
    answers = responses_by_id(post_batch(emulator, steps, client="limited"))
    outcomes = {key: (a["status"], a["body"].get("error", {}).get("code")) for key, a in answers.items()}
    assert outcomes == {
        "1": (200, None),
        "2": (403, "Authorization_RequestDenied"),
        "3": (403, "Authentication_MSGraphPermissionMissing"),
        "4": (400, "BadRequest"),
    }


def test_a_request_depending_on_a_failed_one_is_a_failed_dependency(emulator: RunningEmulator) -> None:
    steps: list[dict[str, Any]] = [
        {"id": "missing", "method": "GET", "url": f"/applications/{UNKNOWN_ID}"},
        {"id": "after-missing", "method": "GET", "url": "/groups", "dependsOn": ["missing"]},
        {"id": "chained", "method": "GET", "url": "/groups", "dependsOn": ["after-missing"]},
        {"id": "found", "method": "GET", "url": "/groups?$select=id"},
        {"id": "after-found", "method": "GET", "url": "/groups?$select=id", "dependsOn": ["FOUND"]},
    ]
    answers = responses_by_id(post_batch(emulator, steps))
    assert {key: answer["status"] for key, answer in answers.items()} == {
        "missing": 404,
        "after-missing": 424,
        "chained": 424,
        "found": 200,
        "after-found": 200,
    }
    assert answers["after-missing"]["body"]["error"]["code"] == "FailedDependency"
    assert answers["after-found"]["body"] == answers["found"]["body"]


def test_consistency_level_in_an_inner_request_enables_advanced_queries(
    emulator: RunningEmulator, reference: Tenant
) -> None:
    url = "/applications?$count=true&$top=1&$select=id&$filter=not(startsWith(displayName, 'a'))"
    expected = sum(
        1 for app in scan(reference.applications) if not app["displayName"].lower().startswith("a")
    )
    advanced = responses_by_id(post_batch(emulator, gets(url, headers=ADVANCED)))["1"]
    plain = responses_by_id(post_batch(emulator, gets(url)))["1"]
    assert (advanced["status"], advanced["body"]["@odata.count"]) == (200, expected)
    assert (plain["status"], plain["body"]["error"]["code"]) == (400, "Request_UnsupportedQuery")


def test_a_batch_without_a_token_is_unauthenticated(emulator: RunningEmulator) -> None:
    with emulator.http(base_url=emulator.base_url) as http:
        response = http.post("/v1.0/$batch", json={"requests": gets("/groups")})
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("InvalidAuthenticationToken", "Access token is empty.")
    assert response.headers["www-authenticate"].startswith("Bearer ")
