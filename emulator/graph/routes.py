"""HTTP routes for Graph: ``/v1.0/…`` and ``/beta/…`` GETs and ``POST /{version}/$batch``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from emulator.graph.errors import GraphError, bad_request, new_request_id
from emulator.graph.service import JSON_CONTENT_TYPE, GraphRequest, GraphResult, GraphService
from emulator.identity.tokens import AccessTokenClaims

MAX_BATCH = 20
VERSIONS = ("v1.0", "beta")


def graph_routes(service: GraphService) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for version in VERSIONS:
        routes.append(Route(f"/{version}/$batch", _batch_endpoint(service, version), methods=["POST"]))
        routes.append(
            Route(
                f"/{version}/{{path:path}}",
                _graph_endpoint(service, version),
                methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            )
        )
    return routes


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@dataclass(frozen=True)
class _Exchange:
    """One HTTP request's ids, fixed when it arrives (after any injected latency)."""

    request_id: str
    client_request_id: str | None


async def _arrive(service: GraphService, request: Request) -> _Exchange:
    await asyncio.sleep(service.faults.latency())
    return _Exchange(new_request_id(), request.headers.get("client-request-id"))


def _refuse(service: GraphService, exchange: _Exchange, error: GraphError, name: str) -> Response:
    """Answer a request refused before it reached an endpoint (token, method, batch payload)."""
    service.stats.record(name, error.status)
    result = GraphResult(error.status, error, dict(error.headers))
    return _respond(service, result, exchange.request_id, exchange.client_request_id)


def _graph_endpoint(service: GraphService, version: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        exchange = await _arrive(service, request)
        try:
            claims = service.authenticate(request.headers)
        except GraphError as error:
            return _refuse(service, exchange, error, "unauthenticated")
        if request.method != "GET":
            message = "Specified HTTP method is not allowed for the request target."
            return _refuse(service, exchange, GraphError(405, "Request_BadRequest", message), "method")
        graph_request = GraphRequest(
            version=version,
            path=request.path_params["path"],
            params=dict(request.query_params),
            headers={key.lower(): value for key, value in request.headers.items()},
            base_url=_base_url(request),
        )
        result = await asyncio.to_thread(service.execute, graph_request, claims, top_level=True)
        service.stats.record(result.endpoint, result.status, result.items)
        return _respond(service, result, exchange.request_id, exchange.client_request_id)

    return endpoint


def _error_json(
    service: GraphService, error: GraphError, request_id: str, client_request_id: str | None
) -> Any:
    return error.body(request_id, client_request_id, service.clock.now())


def _respond(
    service: GraphService, result: GraphResult, request_id: str, client_request_id: str | None
) -> Response:
    headers = service.standard_headers(request_id, client_request_id)
    headers.update(result.headers)
    fault = headers.pop("x-emulator-fault", None)
    body = result.body
    if isinstance(body, GraphError):
        body = _error_json(service, body, request_id, client_request_id)
    if isinstance(body, str):
        media = headers.pop("Content-Type", "text/plain")
        return Response(body, status_code=result.status, headers=headers, media_type=media)
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    if fault == "drop":
        service.stats.fault(result.endpoint, "drop")
        return DroppedResponse(content, result.status, headers)
    if fault == "malformed":
        service.stats.fault(result.endpoint, "malformed")
        content = content[: len(content) // 2] + b',"value":[{"id":'
    return Response(content, status_code=result.status, headers=headers, media_type=JSON_CONTENT_TYPE)


class DroppedResponse(Response):
    """Announces the whole body, sends half of it, then drops the connection."""

    def __init__(self, content: bytes, status_code: int, headers: dict[str, str]) -> None:
        super().__init__(content, status_code=status_code, headers=headers, media_type=JSON_CONTENT_TYPE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        raise ConnectionDropped


class ConnectionDropped(Exception):  # noqa: N818 - it is an event, not an error of the caller
    """Raised to make the server abort a response half-way (an injected fault)."""


# -- $batch -------------------------------------------------------------------------------------


def _batch_endpoint(service: GraphService, version: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        exchange = await _arrive(service, request)
        try:
            claims = service.authenticate(request.headers)
            steps = _read_batch(await request.body())
        except GraphError as error:
            return _refuse(service, exchange, error, "$batch")
        base = _base_url(request)
        responses = await asyncio.to_thread(
            _run_batch, service, version, base, steps, claims, exchange.request_id
        )
        service.stats.record("$batch", 200, len(responses))
        result = GraphResult(200, {"responses": responses}, {}, "$batch")
        return _respond(service, result, exchange.request_id, exchange.client_request_id)

    return endpoint


def _read_batch(raw: bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Invalid batch payload format.") from None
    steps = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(steps, list) or not steps:
        raise bad_request("Invalid batch payload format.")
    if len(steps) > MAX_BATCH:
        raise bad_request(f"Number of batch request steps exceeds the maximum of {MAX_BATCH}.")
    seen: set[str] = set()
    for step in steps:
        if not isinstance(step, dict) or not all(
            isinstance(step.get(k), str) for k in ("id", "method", "url")
        ):
            raise bad_request("Each batch request needs string 'id', 'method' and 'url' properties.")
        key = step["id"].lower()
        if key in seen:
            raise bad_request(f"Batch request ids must be unique; '{step['id']}' is repeated.")
        seen.add(key)
        if step["url"].lower().startswith(("http://", "https://")):
            raise bad_request("Batch request URLs must be relative to the version, such as '/users'.")
    return steps


def _run_batch(
    service: GraphService,
    version: str,
    base: str,
    steps: list[dict[str, Any]],
    claims: AccessTokenClaims,
    request_id: str,
) -> list[dict[str, Any]]:
    statuses: dict[str, int] = {}
    responses = []
    for step in steps:
        failed = [d for d in step.get("dependsOn") or [] if statuses.get(str(d).lower(), 424) >= 400]
        if failed:
            error = GraphError(424, "FailedDependency", f"Dependency {failed[0]} failed or was not run.")
            result = GraphResult(424, error, {}, "$batch.dependency")
        elif step["method"].upper() != "GET":
            error = GraphError(
                405, "Request_BadRequest", "The emulator's Graph is read-only: only GET is served."
            )
            result = GraphResult(405, error, {}, "$batch.method")
        else:
            url = urlsplit(step["url"] if step["url"].startswith("/") else "/" + step["url"])
            inner = GraphRequest(
                version=version,
                path=url.path,
                params=dict(parse_qsl(url.query, keep_blank_values=True)),
                headers={str(k).lower(): str(v) for k, v in (step.get("headers") or {}).items()},
                base_url=base,
            )
            result = service.execute(inner, claims, top_level=False)
            service.stats.record(result.endpoint, result.status, result.items)
        statuses[step["id"].lower()] = result.status
        responses.append(_inner_response(service, step["id"], result, request_id))
    return responses


def _inner_response(
    service: GraphService, step_id: str, result: GraphResult, request_id: str
) -> dict[str, Any]:
    headers = {key: value for key, value in result.headers.items() if key != "x-emulator-fault"}
    body = result.body
    if isinstance(body, GraphError):
        body = body.body(request_id, None, service.clock.now())
    if isinstance(body, str):
        headers.setdefault("Content-Type", "text/plain")
    else:
        headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
    return {"id": step_id, "status": result.status, "headers": headers, "body": body}
