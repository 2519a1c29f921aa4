"""Edge cases the emulator cannot produce on demand, against ``httpx.MockTransport``.

A fixed token provider stands in for MSAL here (token acquisition is tested against the emulator
in test_auth.py); time is a fake clock, so the waits are exact and instant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from monitor.errors import AuthenticationError, GraphRequestError, GraphResponseError, GraphUnavailableError
from monitor.graph.auth import AccessToken, TokenProvider
from monitor.graph.batch import BatchRequest
from monitor.graph.client import GraphClient
from monitor.graph.clouds import resolve_endpoints
from monitor.graph.instruments import REQUESTS, RETRIES, WAIT
from monitor.graph.settings import GraphClientSettings
from tests.support.fake_time import FakeTime
from tests.support.metrics import RecordedMetrics

GRAPH = "https://graph.microsoft.com"
TENANT = "11111111-2222-3333-4444-555555555555"
Handler = Callable[[httpx.Request], httpx.Response]


class CountingProvider(TokenProvider):
    tenant_id = TENANT
    description = "test credential"

    def __init__(self) -> None:
        self.issued = 0
        self.invalidated: list[str] = []

    async def token(self) -> AccessToken:
        return AccessToken(f"token-{self.issued}", datetime.now(UTC) + timedelta(hours=1))

    async def invalidate(self, token: AccessToken) -> None:
        self.invalidated.append(token.token)
        self.issued += 1

    async def aclose(self) -> None:
        pass


def client(handler: Handler, metrics: RecordedMetrics, time: FakeTime, **settings: Any) -> GraphClient:
    return GraphClient(
        tenant_id=TENANT,
        endpoints=resolve_endpoints(),
        credential=CountingProvider(),
        settings=GraphClientSettings(**settings),
        instruments=metrics.instruments,
        transport=httpx.MockTransport(handler),
        clock=time.clock,
        sleep=time.sleep,
    )


def graph_json(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"request-id": f"req-{status}", **headers})


def error(code: str, message: str = "message") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def test_a_next_link_to_another_host_is_not_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return graph_json(200, {"value": [{"id": "1"}], "@odata.nextLink": "https://evil.example/v1.0/users"})

    async with client(handler, RecordedMetrics(), FakeTime()) as graph:
        with pytest.raises(GraphResponseError, match="outside the configured Graph endpoint"):
            [item async for item in graph.iterate("users")]
    assert seen == [f"{GRAPH}/v1.0/users?$top=999"]


async def test_a_collection_answer_without_value_is_an_error() -> None:
    async with client(lambda r: graph_json(200, {"items": []}), RecordedMetrics(), FakeTime()) as graph:
        with pytest.raises(GraphResponseError, match="without a 'value' array") as caught:
            [item async for item in graph.iterate("groups")]
    assert caught.value.request_id == "req-200"


async def test_a_second_401_after_renewal_is_an_authentication_error() -> None:
    metrics = RecordedMetrics()
    answers = [graph_json(401, error("InvalidAuthenticationToken", "Access token has expired."))] * 2
    async with client(lambda r: answers.pop(0), metrics, FakeTime()) as graph:
        with pytest.raises(AuthenticationError, match="refused a freshly acquired token") as caught:
            await graph.get("users")
        provider = graph._credential
    assert isinstance(provider, CountingProvider)
    assert provider.invalidated == ["token-0"]
    assert caught.value.code == "InvalidAuthenticationToken"
    assert "token-0" not in str(caught.value)
    assert "token-1" not in str(caught.value)
    assert metrics.total(RETRIES, reason="token_expired") == 1


async def test_retry_after_is_honoured_in_seconds_and_as_a_date_and_capped() -> None:
    metrics, time = RecordedMetrics(), FakeTime()
    answers = [
        graph_json(429, error("TooManyRequests"), **{"Retry-After": "2.5"}),
        graph_json(503, error("serviceNotAvailable"), **{"Retry-After": "Fri, 27 Nov 2099 12:00:00 GMT"}),
        graph_json(504, error("gatewayTimeout"), **{"Retry-After": "7"}),
        graph_json(200, {"id": "x"}),
    ]
    async with client(lambda r: answers.pop(0), metrics, time, max_retry_after_seconds=30) as graph:
        assert await graph.get("users/x") == {"id": "x"}
    retry_waits = [s for s in time.sleeps if s in (2.5, 30.0, 7.0)]
    assert retry_waits == [2.5, 30.0, 7.0]
    assert metrics.total(WAIT, cause="retry_after") == 39.5
    assert metrics.total(REQUESTS, status=200) == 1


async def test_a_429_without_retry_after_backs_off_exponentially() -> None:
    metrics, time = RecordedMetrics(), FakeTime()
    answers = [graph_json(429, error("TooManyRequests")) for _ in range(3)] + [graph_json(200, {"value": []})]
    async with client(lambda r: answers.pop(0), metrics, time, backoff_initial_seconds=1) as graph:
        await graph.get("identityProtection/riskyUsers")
    backoff = metrics.total(WAIT, cause="backoff")
    assert 0.5 + 1 + 2 <= backoff <= 1 + 2 + 4
    assert metrics.total(RETRIES, reason="throttled") == 3


async def test_transient_failures_that_outlast_the_attempts_raise_unavailable() -> None:
    metrics, time = RecordedMetrics(), FakeTime()
    async with client(
        lambda r: graph_json(502, error("badGateway")),
        metrics,
        time,
        max_attempts=4,
        backoff_initial_seconds=0.1,
    ) as graph:
        with pytest.raises(GraphUnavailableError) as caught:
            await graph.get("applications")
    assert (caught.value.status, caught.value.request_id) == (502, "req-502")
    assert "in 4 tries" in str(caught.value)
    assert metrics.total(REQUESTS) == 4


async def test_connection_errors_are_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return graph_json(200, {"value": [{"id": "1"}]})

    metrics = RecordedMetrics()
    async with client(handler, metrics, FakeTime()) as graph:
        assert [item async for item in graph.iterate("users")] == [{"id": "1"}]
    assert metrics.total(RETRIES, reason="connection") == 2


@pytest.mark.parametrize("status", [400, 404, 405, 409])
async def test_final_answers_are_sent_once(status: int) -> None:
    metrics = RecordedMetrics()
    async with client(
        lambda r: graph_json(status, error("Request_BadRequest")), metrics, FakeTime()
    ) as graph:
        with pytest.raises(GraphRequestError):
            await graph.get("users")
    assert metrics.total(REQUESTS) == 1


async def test_a_batch_answer_missing_a_response_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["requests"]
        return graph_json(200, {"responses": [{"id": sent[0]["id"], "status": 200, "body": {}}]})

    async with client(handler, RecordedMetrics(), FakeTime()) as graph:
        with pytest.raises(GraphResponseError, match="lacks responses for request ids b"):
            await graph.batch([BatchRequest(id="a", path="users/1"), BatchRequest(id="b", path="users/2")])


async def test_a_batch_is_split_into_groups_of_twenty() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["requests"]
        sizes.append(len(sent))
        return graph_json(
            200, {"responses": [{"id": r["id"], "status": 200, "body": {"n": r["id"]}} for r in sent]}
        )

    async with client(handler, RecordedMetrics(), FakeTime()) as graph:
        responses = await graph.batch([BatchRequest(id=str(n), path=f"users/{n}") for n in range(45)])
    assert sizes == [20, 20, 5]
    assert [r.body["n"] for r in responses] == [str(n) for n in range(45)]
