"""JSON batching: up to 20 Graph requests in one ``POST /$batch`` (graph-facts §9).

Graph throttles each inner request on its own and answers a throttled one with ``status: 429``
and its own ``Retry-After`` inside an envelope that is itself a 200. So after every round the
inner requests that got 429 or 5xx (and those that failed only because a request they depend on
did: 424) are sent again, together, once the longest Retry-After has passed; the others keep
their answers. A final inner failure (404 for an object that no longer exists, 403 …) is
reported on its own :class:`BatchResponse` and never fails the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.errors import GraphError, GraphResponseError, GraphUnavailableError
from monitor.graph.coverage import record_objects
from monitor.graph.failures import error_object, final_error
from monitor.graph.retry import HONOURS_RETRY_AFTER, is_retryable_status, parse_retry_after

if TYPE_CHECKING:
    from monitor.graph.client import GraphClient, Target

MAX_BATCH = 20
FAILED_DEPENDENCY = 424


@dataclass(frozen=True)
class BatchRequest:
    """One inner request; ``path`` is relative to the version root and may carry a query string."""

    id: str
    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    depends_on: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": "/" + self.path.lstrip("/")}
        if self.headers:
            item["headers"] = dict(self.headers)
        if self.body is not None:
            item["body"] = self.body
            item.setdefault("headers", {}).setdefault("Content-Type", "application/json")
        if self.depends_on:
            item["dependsOn"] = list(self.depends_on)
        return item


@dataclass(frozen=True)
class BatchResponse:
    """The answer to one inner request. ``error`` is set when it failed for good."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any
    error: GraphError | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def send_batch(
    client: GraphClient, requests: Sequence[BatchRequest], *, version: str = "v1.0"
) -> list[BatchResponse]:
    """Send ``requests`` in batches of 20 and return one response per request, in request order.

    Raises ValueError for duplicate ids or a ``depends_on`` that is not in the same group of 20;
    the envelope's own failures raise like any other request (see ``GraphClient.request``).
    """
    ids = [request.id.lower() for request in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("batch request ids must be unique (Graph compares them case-insensitively)")
    answers: dict[str, BatchResponse] = {}
    for start in range(0, len(requests), MAX_BATCH):
        group = list(requests[start : start + MAX_BATCH])
        known = {request.id for request in group}
        for request in group:
            if not set(request.depends_on) <= known:
                raise ValueError(f"batch request {request.id} depends on a request outside its group of 20")
        answers.update(await _send_group(client, group, version))
    return [answers[request.id] for request in requests]


async def _send_group(
    client: GraphClient, group: list[BatchRequest], version: str
) -> dict[str, BatchResponse]:
    settled: dict[str, BatchResponse] = {}
    pending = group
    url = f"{client.endpoints.graph_base_url(version)}/$batch"
    for attempt in range(1, client.settings.max_attempts + 1):
        targets = {request.id: client.target_of(version, request.path) for request in pending}
        pacing = Counter(target.family for target in targets.values())
        answer = await client.request(
            "POST", url, json_body={"requests": [r.as_json() for r in pending]}, pacing=pacing
        )
        responses = _responses(answer.body, {r.id for r in pending}, answer.request_id, client, url)
        retry: list[BatchRequest] = []
        delays: list[float] = []
        for request in pending:
            response = responses[request.id]
            target = targets[request.id]
            client.count_inner(target, response.status)
            if _should_retry(response, request, responses):
                retry_after = _retry_after(response)
                if response.status == 429:
                    client.note_throttled(target, retry_after)
                delays.append(retry_after if retry_after is not None else client.backoff(attempt))
                retry.append(request)
                settled[request.id] = _unavailable(response, target.label, client.tenant_id)
            else:
                settled[request.id] = _settle(response, target, client.tenant_id)
                _count_objects(settled[request.id], target)
        if not retry or attempt == client.settings.max_attempts:
            break
        await client.wait_before_retry(min(max(delays), client.settings.max_retry_after_seconds), retry)
        pending = retry
    return settled


def _count_objects(response: BatchResponse, target: Target) -> None:
    """A collection answered inside the batch counts towards coverage like a page read alone."""
    body = response.body
    if response.ok and isinstance(body, dict) and isinstance(body.get("value"), list):
        record_objects(target.collection, len(body["value"]))


def _should_retry(
    response: BatchResponse, request: BatchRequest, responses: Mapping[str, BatchResponse]
) -> bool:
    if is_retryable_status(response.status):
        return True
    return response.status == FAILED_DEPENDENCY and any(
        is_retryable_status(responses[dependency].status)
        for dependency in request.depends_on
        if dependency in responses
    )


def _retry_after(response: BatchResponse) -> float | None:
    if response.status not in HONOURS_RETRY_AFTER:
        return None
    headers = {name.lower(): value for name, value in response.headers.items()}
    return parse_retry_after(headers.get("retry-after"))


def _responses(
    body: Any, expected: set[str], request_id: str | None, client: GraphClient, url: str
) -> dict[str, BatchResponse]:
    items = body.get("responses") if isinstance(body, dict) else None
    found: dict[str, BatchResponse] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and str(item.get("id")) in expected:
            raw_headers = item.get("headers")
            headers = (
                {str(k): str(v) for k, v in raw_headers.items()} if isinstance(raw_headers, dict) else {}
            )
            found[str(item["id"])] = BatchResponse(
                str(item["id"]), int(item.get("status", 0)), headers, item.get("body")
            )
    missing = expected - found.keys()
    if missing:
        raise GraphResponseError(
            f"the $batch answer lacks responses for request ids {', '.join(sorted(missing))}",
            status=200,
            request_id=request_id,
            endpoint="POST /$batch",
            tenant=client.tenant_id,
        )
    return found


def _settle(response: BatchResponse, target: Any, tenant: str) -> BatchResponse:
    if response.ok:
        return response
    error = error_object(response.body)
    code = error.get("code") if isinstance(error.get("code"), str) else None
    inner = error.get("innerError")
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    failure = final_error(response.status, code, error, target.label, target.endpoint, request_id, tenant)
    return BatchResponse(response.id, response.status, response.headers, response.body, failure)


def _unavailable(response: BatchResponse, label: str, tenant: str) -> BatchResponse:
    failure = GraphUnavailableError(
        "the inner request was still throttled or failing when the retries ran out",
        status=response.status,
        endpoint=label,
        tenant=tenant,
    )
    return BatchResponse(response.id, response.status, response.headers, response.body, failure)
