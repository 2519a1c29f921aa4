"""The one way the monitor talks to Microsoft Graph: an async client per tenant.

:class:`GraphClient` owns one pooled ``httpx.AsyncClient``, one token provider and one limiter for
its tenant. Every request goes through :meth:`GraphClient._exchange`, which paces it, attaches a
fresh token, retries what is transient (tenacity; see :mod:`monitor.graph.retry`), renews the
token once on a 401, and translates what is final into the :mod:`monitor.errors` tree, naming the
permission or licence that is missing. Collections are read page by page and yielded as they
arrive (:meth:`iterate`), following ``@odata.nextLink`` verbatim; a page that cannot be read
raises instead of ending the collection early. ``$batch`` lives in :mod:`monitor.graph.batch`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from monitor import __version__
from monitor.errors import AuthenticationError, GraphResponseError
from monitor.graph.auth import TokenProvider
from monitor.graph.batch import BatchRequest, BatchResponse, send_batch
from monitor.graph.clouds import Endpoints
from monitor.graph.coverage import record_objects
from monitor.graph.failures import error_object, exhausted_error, final_error, json_body, transport_detail
from monitor.graph.instruments import GraphInstruments
from monitor.graph.limiter import Clock, Sleep, TenantLimiter, Waited
from monitor.graph.permissions import GraphEndpoint, find_endpoint
from monitor.graph.query import Query, encode_query
from monitor.graph.retry import (
    HONOURS_RETRY_AFTER,
    RetryWait,
    TransientError,
    backoff_seconds,
    is_retryable_status,
    parse_retry_after,
)
from monitor.graph.settings import GraphClientSettings

KEY_CREDENTIAL_COLLECTIONS = frozenset({"applications", "servicePrincipals"})


@dataclass(frozen=True)
class Page:
    """One page of a collection: its objects and the ``request-id`` Graph answered it with."""

    objects: list[dict[str, Any]]
    request_id: str | None
    next_link: str | None


@dataclass(frozen=True)
class Answer:
    """A complete, successful Graph answer."""

    status: int
    headers: httpx.Headers
    body: Any
    request_id: str | None


@dataclass(frozen=True)
class Target:
    """What the client knows about the URL it is about to request."""

    url: str
    label: str
    endpoint: GraphEndpoint | None
    family: str

    @property
    def collection(self) -> str:
        """The collection's name for coverage: the route's path (ids as placeholders), or the
        request's path without its version and query for a route the table does not know."""
        if self.endpoint is not None:
            return self.endpoint.path
        return self.label.lstrip("/").partition("/")[2].partition("?")[0]


class GraphClient:
    """Graph for one tenant. Use as ``async with GraphClient(...) as graph:``."""

    def __init__(
        self,
        *,
        tenant_id: str,
        endpoints: Endpoints,
        credential: TokenProvider,
        settings: GraphClientSettings | None = None,
        instruments: GraphInstruments | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.tenant_id = tenant_id
        self.endpoints = endpoints
        self.settings = settings or GraphClientSettings()
        self._credential = credential
        self._instruments = instruments or GraphInstruments()
        self._sleep = sleep
        self._clock = clock
        self._origin = urlsplit(endpoints.graph_endpoint)
        self._limiter = TenantLimiter(
            max_concurrency=self.settings.max_concurrency,
            budgets=self.settings.budgets,
            margin=self.settings.pacing_margin,
            clock=clock,
            sleep=sleep,
        )
        pool = self.settings.max_concurrency
        self._http = httpx.AsyncClient(
            verify=endpoints.ssl_context(),
            timeout=self.settings.timeout_seconds,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            headers={
                "Accept": "application/json",
                "User-Agent": f"{self.settings.user_agent}/{__version__}",
            },
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool and the token provider (the client owns both)."""
        await self._http.aclose()
        await self._credential.aclose()

    # -- reading ---------------------------------------------------------------------------

    def url(self, path: str, *, version: str = "v1.0", query: Query | None = None) -> str:
        """The absolute URL of ``path`` (relative to the version root) with ``query``'s options;
        ``$top`` defaults to the collection's largest page."""
        endpoint = find_endpoint(version, path)
        options = (query or Query()).parameters(endpoint.page_max if endpoint else None)
        base = f"{self.endpoints.graph_base_url(version)}/{path.lstrip('/')}"
        return f"{base}?{encode_query(options)}" if options else base

    async def get(
        self,
        path: str,
        *,
        version: str = "v1.0",
        query: Query | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The JSON body of one GET (an object, or one page of a collection)."""
        url = self.url(path, version=version, query=query)
        answer = await self.request("GET", url, headers=headers)
        if isinstance(answer.body, dict) and isinstance(answer.body.get("value"), list):
            record_objects(self._target(url).collection, len(answer.body["value"]))
        return answer.body

    async def pages(
        self,
        path: str,
        *,
        version: str = "v1.0",
        query: Query | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Page]:
        """Every page of a collection in order, following ``@odata.nextLink`` to the end. Raises
        (GraphError) rather than stopping early when a page cannot be read."""
        next_url: str | None = self.url(path, version=version, query=query)
        while next_url is not None:
            answer = await self.request("GET", next_url, headers=headers)
            page = self._page(answer, next_url)
            del answer  # hold one page at a time, not this one and the next
            next_url = page.next_link
            yield page
            del page

    async def iterate(
        self,
        path: str,
        *,
        version: str = "v1.0",
        query: Query | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every object of a collection, yielded page by page as the pages arrive."""
        async for page in self.pages(path, version=version, query=query, headers=headers):
            objects = page.objects
            del page
            for item in objects:
                yield item
            del objects  # before the next page is fetched and parsed

    def _page(self, answer: Answer, url: str) -> Page:
        body = answer.body
        target = self._target(url)
        label = target.label
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise GraphResponseError(
                "Graph answered a collection request without a 'value' array",
                status=answer.status,
                request_id=answer.request_id,
                endpoint=label,
                tenant=self.tenant_id,
            )
        next_link = body.get("@odata.nextLink")
        if next_link is not None and not self._same_origin(next_link):
            raise GraphResponseError(
                "Graph's @odata.nextLink points outside the configured Graph endpoint; not following it",
                status=answer.status,
                request_id=answer.request_id,
                endpoint=label,
                tenant=self.tenant_id,
            )
        self._instruments.objects.add(len(body["value"]), self._attributes(target))
        record_objects(target.collection, len(body["value"]))
        return Page(body["value"], answer.request_id, next_link)

    def _same_origin(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == (self._origin.scheme, self._origin.netloc)

    # -- one request, with retries ------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        pacing: Mapping[str, int] | None = None,
    ) -> Answer:
        """Send one request until it succeeds or fails for good.

        Raises GraphPermissionError / GraphLicenseError / GraphRequestError for final answers,
        GraphUnavailableError when transient failures outlast ``max_attempts``,
        GraphResponseError when the body never parses, AuthenticationError when Graph refuses a
        freshly acquired token. ``pacing`` spends other families' budgets first (for ``$batch``).
        """
        target = self._target(url)
        client_request_id = str(uuid.uuid4())
        renewed = False
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=RetryWait(self.settings),
            retry=retry_if_exception_type(TransientError),
            sleep=self._sleep,
            before_sleep=lambda state: self._before_retry(target, state),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    try:
                        return await self._exchange(
                            method, target, headers, json_body, client_request_id, pacing or {}, renewed
                        )
                    except TransientError as failure:
                        renewed = renewed or failure.reason == "token_expired"
                        raise
        except TransientError as failure:
            raise exhausted_error(failure, target.label, self.tenant_id, self.settings.max_attempts) from None
        raise AssertionError("tenacity ended without an outcome")  # pragma: no cover

    async def _exchange(
        self,
        method: str,
        target: Target,
        headers: Mapping[str, str] | None,
        json_body: Any,
        client_request_id: str,
        pacing: Mapping[str, int],
        renewed: bool,
    ) -> Answer:
        token = await self._credential.token()
        request_headers = {
            **(headers or {}),
            "Authorization": f"Bearer {token.token}",
            "client-request-id": client_request_id,
        }
        attributes = self._attributes(target)
        for family, permits in pacing.items():
            self._count_wait(await self._limiter.pace(family, permits), attributes)
        async with self._limiter.admit(target.family) as waited:
            self._count_wait(waited, attributes)
            started = self._clock()
            try:
                response = await self._receive(method, target, request_headers, json_body)
            except TransientError:
                self._instruments.requests.add(1, {**attributes, "status": "error"})
                raise
            finally:
                self._instruments.duration.record(self._clock() - started, attributes)
        self._instruments.requests.add(1, {**attributes, "status": response.status_code})
        if response.status_code == 401 and not renewed:
            # Graph (or the emulator's clock) says the token expired before we thought it would.
            await self._credential.invalidate(token)
            raise TransientError("token_expired", "Graph rejected the access token", status=401)
        return self._answer(response, target)

    async def _receive(
        self, method: str, target: Target, headers: Mapping[str, str], json_body: Any
    ) -> httpx.Response:
        """The whole response; a connection lost before or during the body is a TransientError
        (carrying Graph's request-id when the headers had arrived)."""
        request = self._http.build_request(method, target.url, headers=headers, json=json_body)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as error:
            raise TransientError("connection", transport_detail(error)) from None
        try:
            await response.aread()
        except httpx.TransportError as error:
            request_id = response.headers.get("request-id")
            detail = f"the answer broke off mid-body: {transport_detail(error)}"
            raise TransientError(
                "connection", detail, status=response.status_code, request_id=request_id
            ) from None
        finally:
            await response.aclose()
        return response

    def _answer(self, response: httpx.Response, target: Target) -> Answer:
        status = response.status_code
        request_id = response.headers.get("request-id")
        pacer = self._limiter.pacer(target.family)
        if 200 <= status < 300:
            pacer.succeeded()
            return Answer(status, response.headers, json_body(response, request_id), request_id)
        error = error_object(response.content)
        code = error.get("code") if isinstance(error.get("code"), str) else None
        if is_retryable_status(status):
            retry_after = None
            if status in HONOURS_RETRY_AFTER:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429:
                self._throttled(target, retry_after)
            reason = "throttled" if status == 429 else "server_error"
            detail = str(error.get("message") or response.reason_phrase)
            raise TransientError(
                reason, detail, status=status, code=code, retry_after=retry_after, request_id=request_id
            )
        if status == 401:
            raise AuthenticationError(
                f"Graph refused a freshly acquired token for {target.label} (request-id {request_id}):"
                f" {error.get('message', '')} Check that the {self._credential.description} belongs to"
                f" tenant {self.tenant_id} and that the Graph endpoint matches the cloud.",
                tenant=self.tenant_id,
                credential=self._credential.description,
                code=code,
            )
        raise final_error(status, code, error, target.label, target.endpoint, request_id, self.tenant_id)

    # -- $batch --------------------------------------------------------------------------------

    async def batch(self, requests: Sequence[BatchRequest], *, version: str = "v1.0") -> list[BatchResponse]:
        """One response per request, in request order (see :func:`monitor.graph.batch.send_batch`)."""
        return await send_batch(self, requests, version=version)

    def target_of(self, version: str, path: str) -> Target:
        """What the client knows about ``path`` (relative to the version root, query allowed)."""
        return self._target(f"{self.endpoints.graph_base_url(version)}/{path.lstrip('/')}")

    def count_inner(self, target: Target, status: int) -> None:
        """Count one inner ``$batch`` answer like a request of its own."""
        self._instruments.requests.add(1, {**self._attributes(target), "status": status, "batched": True})
        if 200 <= status < 300:
            self._limiter.pacer(target.family).succeeded()

    def note_throttled(self, target: Target, retry_after: float | None) -> None:
        self._throttled(target, retry_after)

    def backoff(self, attempt: int) -> float:
        return backoff_seconds(self.settings, attempt)

    async def wait_before_retry(self, delay: float, requests: Sequence[BatchRequest]) -> None:
        """Sleep before sending inner requests again, counting the wait and the retries."""
        for request in requests:
            attributes = self._attributes(self.target_of("v1.0", request.path))
            self._instruments.retries.add(1, {**attributes, "reason": "batch_inner"})
        self._instruments.wait.add(
            delay, {"tenant": self.tenant_id, "endpoint": "$batch", "cause": "retry_after"}
        )
        await self._sleep(delay)

    # -- bookkeeping ----------------------------------------------------------------------------

    def _throttled(self, target: Target, retry_after: float | None) -> None:
        attributes = self._attributes(target)
        self._instruments.throttled.add(1, attributes)
        if retry_after is not None:
            self._instruments.retry_after.add(retry_after, attributes)
        pause = min(retry_after, self.settings.max_retry_after_seconds) if retry_after is not None else 0.0
        self._limiter.pacer(target.family).throttled(pause)

    def _before_retry(self, target: Target, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        reason = failure.reason if isinstance(failure, TransientError) else "unknown"
        attributes = self._attributes(target)
        self._instruments.retries.add(1, {**attributes, "reason": reason})
        delay = state.upcoming_sleep
        if delay and isinstance(failure, TransientError):
            self._instruments.wait.add(delay, {**attributes, "cause": RetryWait.cause(failure)})

    def _count_wait(self, waited: Waited, attributes: Mapping[str, str]) -> None:
        if waited.pacing:
            self._instruments.wait.add(waited.pacing, {**attributes, "cause": "pacing"})
        if waited.paused:
            self._instruments.wait.add(waited.paused, {**attributes, "cause": "paused"})

    def _target(self, url: str) -> Target:
        parts = urlsplit(url)
        base_path = self._origin.path.rstrip("/")
        relative = (
            parts.path[len(base_path) :].lstrip("/") if parts.path.startswith(base_path) else parts.path
        )
        version, _, path = relative.partition("/")
        endpoint = find_endpoint(version, path)
        family = endpoint.family if endpoint else ("batch" if path == "$batch" else "directory")
        if endpoint is not None and endpoint.name in KEY_CREDENTIAL_COLLECTIONS:
            select = dict(parse_qsl(parts.query)).get("$select", "")
            if "keycredentials" in select.lower():
                family = "keyCredentials"
        label = f"/{version}/{endpoint.path}" if endpoint else f"/{relative}"
        return Target(url, label, endpoint, family)

    def _attributes(self, target: Target) -> dict[str, str]:
        return {
            "tenant": self.tenant_id,
            "endpoint": target.endpoint.name
            if target.endpoint
            else ("$batch" if target.family == "batch" else "other"),
            "family": target.family,
        }
