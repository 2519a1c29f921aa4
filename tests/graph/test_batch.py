"""``$batch`` through the client: inner 429s retried on their own, inner failures reported per request."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.errors import GraphRequestError
from monitor.graph.batch import BatchRequest
from monitor.graph.client import GraphClient
from monitor.graph.instruments import REQUESTS, RETRIES, THROTTLED
from monitor.graph.query import Query, encode_query, graph_path
from tests.support.emulator import RunningEmulator
from tests.support.metrics import RecordedMetrics

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


async def some_applications(graph: GraphClient, count: int) -> list[dict[str, Any]]:
    page = await graph.get("applications", query=Query(select=("id", "appId"), top=count))
    return list(page["value"])


def application_request(number: int, object_id: str) -> BatchRequest:
    path = graph_path("applications/{id}", id=object_id) + "?" + encode_query([("$select", "id,appId")])
    return BatchRequest(id=str(number), path=path)


async def test_answers_come_back_in_request_order_with_failures_per_request(graph: GraphClient) -> None:
    apps = await some_applications(graph, 30)
    requests = [application_request(n, app["id"]) for n, app in enumerate(apps)]
    requests.insert(7, application_request(99, UNKNOWN_ID))
    responses = await graph.batch(requests)
    assert [r.id for r in responses] == [r.id for r in requests]
    missing = responses[7]
    assert (missing.status, missing.ok) == (404, False)
    assert isinstance(missing.error, GraphRequestError)
    assert missing.error.code == "Request_ResourceNotFound"
    found = [r for r in responses if r.id != "99"]
    assert all(r.ok and r.error is None for r in found)
    assert [r.body["appId"] for r in found] == [app["appId"] for app in apps]


async def test_a_request_after_a_failed_dependency_is_failed_too(graph: GraphClient) -> None:
    (app,) = await some_applications(graph, 1)
    requests = [
        application_request(1, UNKNOWN_ID),
        BatchRequest(id="2", path=graph_path("applications/{id}", id=app["id"]), depends_on=("1",)),
    ]
    first, second = await graph.batch(requests)
    assert (first.status, second.status) == (404, 424)
    assert second.error is not None
    assert second.error.status == 424


@pytest.mark.usefixtures("restore_faults")
async def test_inner_429s_are_retried_alone_after_their_retry_after(
    emulator: RunningEmulator, graph: GraphClient, metrics: RecordedMetrics
) -> None:
    apps = await some_applications(graph, 40)
    with emulator.control() as control:
        control.patch(
            "/faults",
            json={"throttling": "real", "throttleBudgets": {"directory": {"limit": 12, "windowSeconds": 2}}},
        ).raise_for_status()
        control.delete("/stats").raise_for_status()
    responses = await graph.batch([application_request(n, app["id"]) for n, app in enumerate(apps)])
    with emulator.control() as control:
        stats = control.get("/stats").json()
    assert [r.body["appId"] for r in responses] == [app["appId"] for app in apps]
    throttled = stats["endpoints"]["applications.item"]["throttled"]
    assert throttled > 0, "the budget is smaller than one batch, so some inner requests were throttled"
    assert metrics.total(THROTTLED, endpoint="applications.item") == throttled
    assert metrics.total(RETRIES, reason="batch_inner") == throttled
    # The envelopes are counted as $batch (documented in docs/telemetry.md), the inner requests
    # under their own endpoint.
    assert metrics.total(REQUESTS, endpoint="$batch") == stats["endpoints"]["$batch"]["requests"]
    assert metrics.total(REQUESTS, endpoint="other") == 0
    # Only the throttled requests went again: every application was asked for once plus once per 429.
    assert stats["endpoints"]["applications.item"]["requests"] == len(apps) + throttled


async def test_duplicate_ids_are_refused_before_sending(graph: GraphClient) -> None:
    with pytest.raises(ValueError, match="unique"):
        await graph.batch([BatchRequest(id="a", path="applications"), BatchRequest(id="A", path="users")])
