"""The Graph request pipeline: authenticate, route, authorise, check the licence, throttle,
inject faults, answer. ``$batch`` runs each inner request through the same pipeline."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import EmulatorClock
from emulator.faults import Faults
from emulator.graph.endpoint import Endpoint, compile_pattern
from emulator.graph.endpoints import ENDPOINTS, match
from emulator.graph.errors import (
    GraphError,
    bad_request,
    not_found_segment,
    resource_not_found,
    unauthenticated,
)
from emulator.graph.pages import next_link, project, read_page
from emulator.graph.query import Query, SkipTokens, parse_query, read_options
from emulator.identity.tokens import GRAPH_AUDIENCES, AccessTokenClaims, InvalidToken, TokenIssuer
from emulator.odata.filter import evaluate
from emulator.stats import Stats
from emulator.tenant.base import Collection, GraphObject
from emulator.tenant.model import Tenant
from emulator.tenant.signins import beta_view, v1_view
from emulator.throttle import Throttle, Throttled

JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
_LICENCE_ORDER = {"free": 0, "P1": 1, "P2": 2}
_DIAGNOSTIC = json.dumps(
    {
        "ServerInfo": {
            "DataCenter": "Local",
            "Slice": "E",
            "Ring": "0",
            "ScaleUnit": "000",
            "RoleInstance": "EMULATOR",
        }
    }
)


@dataclass
class GraphResult:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    endpoint: str = "unknown"
    items: int = 0


@dataclass(frozen=True)
class GraphRequest:
    version: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    """Lower-case header names."""
    base_url: str


def resource_cost(endpoint: Endpoint, options: Mapping[str, str]) -> float:
    """What a request costs against its family's budget: one request, or for directory objects
    the resource units of graph-facts §9 ($select saves one, $top under 20 saves one, floor 1)."""
    if endpoint.family != "directory":
        return 1.0
    cost = float(endpoint.resource_units)
    if "$select" in options:
        cost -= 1
    top = options.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(cost, 1.0)


@functools.cache
def _known_prefixes() -> tuple[re.Pattern[str], ...]:
    """Every leading run of segments of an endpoint pattern (``identity``,
    ``identity/conditionalAccess``, ``applications/{id}`` …)."""
    prefixes = {
        "/".join(endpoint.pattern.split("/")[:size])
        for endpoint in ENDPOINTS
        for size in range(1, endpoint.pattern.count("/") + 2)
    }
    return tuple(compile_pattern(prefix) for prefix in sorted(prefixes))


def unknown_segment(path: str) -> str:
    """The segment Graph names in "Resource not found for the segment …": the first one past
    the longest leading part of ``path`` that leads to an endpoint (``foo`` in
    ``applications/{id}/foo``), without its key (``servicePrincipals(appId='…')``)."""
    segments = path.split("/")
    known = 0
    for size in range(len(segments), 0, -1):
        prefix = "/".join(segments[:size])
        if any(pattern.match(prefix) for pattern in _known_prefixes()):
            known = size
            break
    return segments[min(known, len(segments) - 1)].split("(")[0]


class GraphService:
    def __init__(
        self,
        tenant: Tenant,
        issuer: TokenIssuer,
        clock: EmulatorClock,
        throttle: Throttle,
        faults: Faults,
        stats: Stats,
        tokens: SkipTokens,
    ) -> None:
        self.tenant = tenant
        self.issuer = issuer
        self.clock = clock
        self.throttle = throttle
        self.faults = faults
        self.stats = stats
        self.tokens = tokens

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> AccessTokenClaims:
        header = headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("Access token is empty.")
        try:
            return self.issuer.validate(
                token.strip(), tenant_id=self.tenant.tenant_id, audiences=GRAPH_AUDIENCES
            )
        except InvalidToken as error:
            raise unauthenticated(error.message) from None

    # -- one request -----------------------------------------------------------------------

    def execute(self, request: GraphRequest, claims: AccessTokenClaims, *, top_level: bool) -> GraphResult:
        """Answer one GET (top-level or inside a batch); errors become error results."""
        endpoint_name = "unknown"
        try:
            endpoint, params = self._route(request)
            endpoint_name = endpoint.name
            self._authorise(endpoint, claims)
            self._check_licence(endpoint)
            throttled = self._charge(endpoint, request, claims)
            if throttled is not None:
                return self._throttled(endpoint, throttled, claims.app_id)
            decision = self.faults.decide(endpoint.name, top_level=top_level)
            if decision.error_status is not None:
                self.stats.fault(endpoint.name, str(decision.error_status))
                return self._injected_error(endpoint, decision.error_status)
            result = self._answer(endpoint, params, request)
            if decision.drop:
                result.headers["x-emulator-fault"] = "drop"
            elif decision.malformed:
                result.headers["x-emulator-fault"] = "malformed"
            return result
        except GraphError as error:
            return GraphResult(error.status, error, dict(error.headers), endpoint_name)

    def _route(self, request: GraphRequest) -> tuple[Endpoint, dict[str, str]]:
        found = match(request.version, request.path.strip("/"))
        if found is None:
            raise not_found_segment(unknown_segment(request.path.strip("/")) or request.version)
        endpoint, params = found
        if request.version not in endpoint.versions:
            if endpoint.versions == {"beta"}:
                literal = [part for part in endpoint.pattern.split("/") if "{" not in part]
                raise not_found_segment(literal[-1])
            raise bad_request(
                f"The emulator serves '{endpoint.name}' on v1.0 only; the beta endpoint exists in "
                "Microsoft Graph but is not emulated."
            )
        return endpoint, params

    def _authorise(self, endpoint: Endpoint, claims: AccessTokenClaims) -> None:
        for accepted in endpoint.permissions:
            if claims.roles & accepted:
                continue
            if endpoint.family == "directory":
                raise GraphError(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                )
            least = sorted(accepted)[0] if endpoint.family != "reports" else "AuditLog.Read.All"
            if endpoint.family == "reports":
                raise GraphError(
                    403,
                    "Authentication_MSGraphPermissionMissing",
                    f"Calling principal does not have required MSGraph permissions {least}",
                )
            raise GraphError(
                403,
                "AccessDenied",
                "You cannot perform the requested operation, required scopes are missing in the token.",
            )

    def _check_licence(self, endpoint: Endpoint) -> None:
        needed = endpoint.licence
        if needed and _LICENCE_ORDER[self.tenant.config.license] < _LICENCE_ORDER[needed]:
            raise GraphError(
                403,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license"
                if endpoint.family == "reports"
                else f"This feature requires a Microsoft Entra ID {needed} license.",
            )

    def _charge(
        self, endpoint: Endpoint, request: GraphRequest, claims: AccessTokenClaims
    ) -> Throttled | None:
        now = self.clock.seconds()
        options = read_options(request.params)
        tenant = self.tenant.tenant_id
        select = options.get("$select", "").lower()
        if endpoint.entity_type in ("application", "servicePrincipal") and "keycredentials" in select:
            throttled = self.throttle.charge("keyCredentials", 1, tenant, claims.app_id, now)
            if throttled is not None:
                return throttled
        return self.throttle.charge(
            endpoint.family, resource_cost(endpoint, options), tenant, claims.app_id, now
        )

    def _throttled(self, endpoint: Endpoint, throttled: Throttled, app_id: str) -> GraphResult:
        headers: dict[str, str] = {}
        if throttled.send_retry_after:
            headers["Retry-After"] = str(throttled.retry_after_seconds)
        if endpoint.family == "directory":
            # <Scope>/<Limit>/<ApplicationId>/<TenantId> (graph-facts §9, throttling-limits doc)
            scope = "Tenant_Application" if throttled.scope == "app" else "Tenant"
            headers["x-ms-throttle-scope"] = f"{scope}/ReadWrite/{app_id}/{self.tenant.tenant_id}"
            headers["x-ms-throttle-information"] = "ResourceUnitLimitExceeded"
        error = GraphError(
            429, "TooManyRequests", "Too many requests. Please try again later.", headers, "429"
        )
        return GraphResult(429, error, headers, endpoint.name)

    def _injected_error(self, endpoint: Endpoint, status: int) -> GraphResult:
        headers: dict[str, str] = {}
        messages = {
            500: ("generalException", "An internal error occurred."),
            503: ("serviceNotAvailable", "The service is temporarily unavailable."),
            504: ("GatewayTimeout", "The gateway timed out."),
        }
        code, message = messages.get(status, ("generalException", "An internal error occurred."))
        retry_after = self.faults.profile.retry_after_seconds
        if status == 503 and retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        return GraphResult(status, GraphError(status, code, message, headers), headers, endpoint.name)

    # -- answers ---------------------------------------------------------------------------

    def _answer(self, endpoint: Endpoint, params: dict[str, str], request: GraphRequest) -> GraphResult:
        query = parse_query(
            request.params,
            request.headers,
            endpoint,
            self.tokens,
            request.version,
            f"{request.version}/{request.path.strip('/')}",
        )
        resolved = endpoint.resolve(self.tenant, params)
        identifier = params.get("instance") or params.get("id") or params.get("appId") or ""
        if resolved is None:
            raise resource_not_found(identifier, endpoint.family)
        headers = {}
        if endpoint.family == "directory":
            headers["x-ms-resource-unit"] = f"{resource_cost(endpoint, read_options(request.params)):g}"
        context_id = params.get("id") or identifier  # an instance's context names its definition
        context = f"{request.base_url}/{request.version}/$metadata#{endpoint.context}".replace(
            "{id}", context_id
        )
        if endpoint.name.endswith(".count"):
            assert isinstance(resolved, Collection)
            return self._count(endpoint, resolved, request, query, headers)
        if not endpoint.is_collection:
            assert isinstance(resolved, dict)
            body = {"@odata.context": context, **self._shape(endpoint, request, query, resolved)}
            return GraphResult(200, body, headers, endpoint.name, 1)
        assert isinstance(resolved, Collection)
        page = read_page(resolved, query, endpoint.paging, lambda item: self._view(endpoint, request, item))
        if query.select:
            context += "(" + ",".join(query.select) + ")"
        listing: dict[str, Any] = {"@odata.context": context}
        if page.count is not None:
            listing["@odata.count"] = page.count
        base = f"{request.base_url}/{request.version}/"
        link = next_link(base, request.path.strip("/"), query, page, self.tokens)
        if link is not None:
            listing["@odata.nextLink"] = link
        listing["value"] = [project(item, query.select or endpoint.default_select) for item in page.items]
        return GraphResult(200, listing, headers, endpoint.name, len(page.items))

    def _count(
        self,
        endpoint: Endpoint,
        collection: Collection,
        request: GraphRequest,
        query: Query,
        headers: dict[str, str],
    ) -> GraphResult:
        if request.headers.get("consistencylevel", "").lower() != "eventual":
            raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
        node = query.filter_node
        total = sum(1 for _key, obj in collection.scan(None, node) if node is None or evaluate(node, obj))
        headers = {**headers, "Content-Type": "text/plain"}
        return GraphResult(200, str(total), headers, endpoint.name)

    def _shape(
        self, endpoint: Endpoint, request: GraphRequest, query: Query, obj: GraphObject
    ) -> GraphObject:
        """The object as this request sees it: its version's view, then ``$select`` or the
        endpoint's default property set."""
        view = self._view(endpoint, request, obj)
        return project(view, query.select or endpoint.default_select)

    def _view(self, endpoint: Endpoint, request: GraphRequest, obj: GraphObject) -> GraphObject:
        if endpoint.entity_type != "signIn":
            return obj
        return beta_view(obj, self.tenant.context) if request.version == "beta" else v1_view(obj)

    # -- response headers ------------------------------------------------------------------

    @staticmethod
    def standard_headers(request_id: str, client_request_id: str | None) -> dict[str, str]:
        return {
            "Cache-Control": "no-cache",
            "OData-Version": "4.0",
            "request-id": request_id,
            "client-request-id": client_request_id or request_id,
            "x-ms-ags-diagnostic": _DIAGNOSTIC,
            "Strict-Transport-Security": "max-age=31536000",
        }
