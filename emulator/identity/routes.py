"""HTTP routes of the emulated Microsoft identity platform and managed-identity endpoints.

- ``GET /common/discovery/instance``: instance discovery, for clients that do not disable it.
- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (and ``/{tenant}/.well-known/...``,
  which serves the same v2.0 document): OIDC discovery; ``{tenant}`` is the tenant id or domain.
- ``GET /{tenant}/discovery/v2.0/keys``: the token-signing keys.
- ``POST /{tenant}/oauth2/v2.0/token``: the client-credentials grant, with a client secret (body or
  HTTP Basic), a certificate assertion or a federated assertion.
- ``GET /msi/token``: App Service / Container Apps managed identity (``X-IDENTITY-HEADER``).
- ``GET /metadata/identity/oauth2/token``: Azure VM IMDS managed identity (``Metadata: true``).

URLs in responses are built from the request's scheme, host and port, since the port is chosen
when the server starts. Endpoint URLs name the tenant by its id, as Entra's do.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.clock import EmulatorClock
from emulator.identity import errors
from emulator.identity.errors import IdentityPlatformError
from emulator.identity.federation import AssertionCheck, verify_client_assertion
from emulator.identity.registry import ClientRegistration, IdentityRegistry, ManagedIdentity
from emulator.identity.tokens import IssuedToken, TokenAudience, TokenIssuer, resolve_resource

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
APP_SERVICE_API_VERSION = "2019-08-01"
# fmt: off
_CLAIMS_SUPPORTED = (
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
    "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name",
    "tid", "ver", "at_hash", "c_hash", "email",
)
# fmt: on
_NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
_APP_SERVICE_ID_PARAMETERS = {
    "client_id": "client_id",
    "mi_res_id": "resource_id",
    "object_id": "object_id",
    "principal_id": "object_id",
}
_IMDS_ID_PARAMETERS = {
    "client_id": "client_id",
    "msi_res_id": "resource_id",
    "mi_res_id": "resource_id",
    "object_id": "object_id",
}


@dataclass
class IdentityContext:
    """What the identity routes serve from, and an optional per-request hook for statistics.

    ``on_response`` is called with "instance_discovery", "discovery", "keys", "token", "msi" or
    "imds" and the status of each answer, once it is made.
    """

    registry: IdentityRegistry
    issuer: TokenIssuer
    clock: EmulatorClock
    on_response: Callable[[str, int], None] | None = None


def identity_routes(context: IdentityContext) -> list[BaseRoute]:
    """The routes, to mount at the root of the emulator's Starlette app."""
    endpoints = _IdentityEndpoints(context)

    def counted(name: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
        async def answer(request: Request) -> Response:
            response = await handler(request)
            if context.on_response is not None:
                context.on_response(name, response.status_code)
            return response

        return answer

    return [
        Route(
            "/common/discovery/instance",
            counted("instance_discovery", endpoints.instance_discovery),
            methods=["GET"],
        ),
        Route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            counted("discovery", endpoints.discovery),
            methods=["GET"],
        ),
        Route(
            "/{tenant}/.well-known/openid-configuration",
            counted("discovery", endpoints.discovery),
            methods=["GET"],
        ),
        Route("/{tenant}/discovery/v2.0/keys", counted("keys", endpoints.keys), methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", counted("token", endpoints.token), methods=["POST"]),
        Route("/msi/token", counted("msi", endpoints.app_service_token), methods=["GET"]),
        Route("/metadata/identity/oauth2/token", counted("imds", endpoints.imds_token), methods=["GET"]),
    ]


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def openid_configuration(base_url: str, tenant_id: str) -> dict[str, object]:
    """The v2.0 OIDC discovery document of the tenant, with endpoints under ``base_url``."""
    root = f"{base_url}/{tenant_id}"
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{root}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "claims_supported": list(_CLAIMS_SUPPORTED),
        "kerberos_endpoint": f"{root}/kerberos",
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


class _IdentityEndpoints:
    def __init__(self, context: IdentityContext) -> None:
        self._context = context
        self._registry = context.registry

    def _failure(self, request: Request, failure: IdentityPlatformError) -> JSONResponse:
        return errors.error_response(
            failure,
            now=self._context.clock.now(),
            client_request_id=request.headers.get("client-request-id"),
        )

    # --- discovery --------------------------------------------------------------------------------

    async def instance_discovery(self, request: Request) -> Response:
        # MSAL drops the port from this parameter, so the tenant is all it tells us.
        path = urlsplit(request.query_params.get("authorization_endpoint", "")).path
        tenant = path.strip("/").split("/")[0] if path.strip("/") else ""
        if not tenant:
            return self._failure(request, errors.unknown_instance())
        base, host = _base_url(request), request.url.netloc
        discovery = f"{base}/{tenant}/v2.0/.well-known/openid-configuration"
        return JSONResponse(
            {
                "tenant_discovery_endpoint": discovery,
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            }
        )

    async def discovery(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not self._registry.knows_tenant(tenant):
            return self._failure(request, errors.tenant_not_found(tenant, error="invalid_tenant"))
        return JSONResponse(openid_configuration(_base_url(request), self._registry.tenant_id))

    async def keys(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not self._registry.knows_tenant(tenant):
            return self._failure(request, errors.tenant_not_found(tenant, error="invalid_tenant"))
        issuer = f"{_base_url(request)}/{self._registry.tenant_id}/v2.0"
        keys = [key | {"issuer": issuer} for key in self._context.issuer.jwks()["keys"]]
        return JSONResponse({"keys": keys})

    # --- token endpoint ---------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        fields = dict(parse_qsl(body, keep_blank_values=True))
        try:
            issued = self._client_credentials(request, fields)
        except IdentityPlatformError as failure:
            return self._failure(request, failure)
        payload = {
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "ext_expires_in": issued.expires_in,
            "access_token": issued.access_token,
        }
        return JSONResponse(payload, headers=_NO_CACHE)

    def _client_credentials(self, request: Request, fields: Mapping[str, str]) -> IssuedToken:
        tenant = request.path_params["tenant"]
        if not self._registry.knows_tenant(tenant):
            raise errors.tenant_not_found(tenant)
        grant_type = fields.get("grant_type") or _missing("grant_type")
        if grant_type != "client_credentials":
            raise errors.unsupported_grant_type(grant_type)
        basic_id, basic_secret = _basic_credentials(request)
        client_id = basic_id or fields.get("client_id") or _missing("client_id")
        client = self._registry.clients.get(client_id)
        if client is None:
            raise errors.unknown_client(client_id, tenant)
        if not client.enabled:
            raise errors.application_disabled(client.client_id, client.display_name)
        app_id_acr = self._authenticate(request, client, fields, basic_secret)
        target = _scope_audience(fields.get("scope") or _missing("scope"), tenant)
        return self._context.issuer.issue(
            tenant_id=self._registry.tenant_id,
            app_id=client.client_id,
            object_id=client.service_principal_id,
            roles=client.roles if target.carries_roles else (),
            audience=target.audience,
            app_id_acr=app_id_acr,
            app_display_name=client.display_name,
        )

    def _authenticate(
        self,
        request: Request,
        client: ClientRegistration,
        fields: Mapping[str, str],
        basic_secret: str | None,
    ) -> str:
        """Check the client's credential; returns its ``appidacr`` ("1" secret, "2" assertion)."""
        assertion = fields.get("client_assertion")
        if assertion:
            assertion_type = fields.get("client_assertion_type") or _missing("client_assertion_type")
            if assertion_type != JWT_BEARER:
                raise errors.invalid_assertion_type()
            check = AssertionCheck(
                federated_issuers=self._registry.federated_issuers,
                accepted_audiences=self._assertion_audiences(request),
                tenant_now=self._context.clock.now(),
                real_now=time.time(),
            )
            verify_client_assertion(assertion, client, check)
            return "2"
        secret = basic_secret or fields.get("client_secret")
        if not secret:
            raise errors.missing_client_credential()
        self._check_secret(client, secret)
        return "1"

    def _check_secret(self, client: ClientRegistration, secret: str) -> None:
        matching = [
            known for known in client.secrets if hmac.compare_digest(known.value.encode(), secret.encode())
        ]
        now = self._context.clock.now()
        if any(known.start <= now <= known.end for known in matching):
            return
        if any(known.end < now for known in matching):
            raise errors.expired_client_secret(client.client_id)
        raise errors.invalid_client_secret(client.client_id)

    def _assertion_audiences(self, request: Request) -> frozenset[str]:
        base = _base_url(request)
        registry = self._registry
        segments = {registry.tenant_id, registry.tenant_domain, request.path_params["tenant"]}
        audiences = {f"{base}/{registry.tenant_id}/v2.0"}
        for segment in segments:
            audiences |= {f"{base}/{segment}/oauth2/v2.0/token", f"{base}/{segment}/oauth2/token"}
        return frozenset(audiences)

    # --- managed identity -------------------------------------------------------------------------

    async def app_service_token(self, request: Request) -> Response:
        if not self._has_identity_header(request):
            message = "The X-IDENTITY-HEADER header is missing or not valid."
            return errors.app_service_error(401, message)
        query = request.query_params
        if query.get("api-version") != APP_SERVICE_API_VERSION:
            return errors.app_service_error(
                400, f"The api-version parameter must be '{APP_SERVICE_API_VERSION}'."
            )
        resource = query.get("resource")
        if not resource:
            return errors.app_service_error(400, "The resource parameter is required.")
        identity = self._managed_identity(query, _APP_SERVICE_ID_PARAMETERS)
        if identity is None:
            return errors.app_service_error(400, "Unable to load the proper Managed Identity.")
        target = resolve_resource(resource)
        if target is None:
            failure = errors.resource_not_found(resource, self._registry.tenant_id)
            return errors.app_service_error(400, str(failure))
        issued = self._issue_for_identity(identity, target)
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "expires_on": str(_host_expiry(issued)),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            }
        )

    def _has_identity_header(self, request: Request) -> bool:
        expected = self._registry.identity_header
        presented = request.headers.get("x-identity-header")
        if not expected or presented is None:
            return False
        return hmac.compare_digest(presented.encode(), expected.encode())

    async def imds_token(self, request: Request) -> Response:
        if request.headers.get("metadata", "").lower() != "true":
            return errors.imds_error("invalid_request", "Required metadata header not specified")
        query = request.query_params
        if not query.get("api-version"):
            return errors.imds_error("invalid_request", "Required api-version parameter not specified")
        resource = query.get("resource")
        if not resource:
            return errors.imds_error("invalid_request", "Required audience parameter not specified")
        identity = self._managed_identity(query, _IMDS_ID_PARAMETERS)
        if identity is None:
            return errors.imds_error("invalid_request", "Identity not found")
        target = resolve_resource(resource)
        if target is None:
            return errors.imds_error(
                "invalid_resource",
                str(errors.resource_not_found(resource, self._registry.tenant_id)),
            )
        issued = self._issue_for_identity(identity, target)
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "client_id": identity.client_id,
                "expires_in": str(issued.expires_in),
                "expires_on": str(_host_expiry(issued)),
                "ext_expires_in": str(issued.expires_in),
                "not_before": str(_host_expiry(issued) - issued.expires_in),
                "refresh_token": "",
                "resource": resource,
                "token_type": "Bearer",
            }
        )

    def _managed_identity(
        self, query: Mapping[str, str], parameters: Mapping[str, str]
    ) -> ManagedIdentity | None:
        """The identity named by one id parameter, or the system-assigned one if none is given."""
        given = [(attribute, query[name]) for name, attribute in parameters.items() if query.get(name)]
        identities = self._registry.managed_identities
        if not given:
            return next((identity for identity in identities if identity.system_assigned), None)
        if len(given) > 1:
            return None
        attribute, wanted = given[0]
        for identity in identities:
            value = getattr(identity, attribute)
            if isinstance(value, str) and value.lower() == wanted.lower():
                return identity
        return None

    def _issue_for_identity(self, identity: ManagedIdentity, target: TokenAudience) -> IssuedToken:
        mirid = (
            identity.resource_id
            or identity.hosting_resource_id
            or (
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/emulator/providers/"
                f"Microsoft.Web/sites/{identity.display_name}"
            )
        )
        return self._context.issuer.issue(
            tenant_id=self._registry.tenant_id,
            app_id=identity.client_id,
            object_id=identity.object_id,
            roles=identity.roles if target.carries_roles else (),
            audience=target.audience,
            app_id_acr="2",
            managed_identity_resource_id=mirid,
            app_display_name=identity.display_name,
        )


def _host_expiry(issued: IssuedToken) -> int:
    """``expires_on`` for managed-identity answers, on the host's clock: MSAL turns it into
    ``expires_in`` by subtracting the host's time, so the tenant clock (``--now``) must not leak
    into it. The token's own ``exp`` stays on the tenant clock, which Graph checks."""
    return int(time.time()) + issued.expires_in


def _missing(name: str) -> NoReturn:
    raise errors.missing_parameter(name)


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """Client id and secret from an HTTP Basic header (form-urlencoded, per RFC 6749 2.3.1)."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id.replace("+", " ")) or None, unquote(secret.replace("+", " ")) or None


def _scope_audience(scope: str, tenant: str) -> TokenAudience:
    """The audience a client-credentials ``scope`` asks for: one resource + ``/.default``."""
    scopes = scope.split() or _missing("scope")
    for value in scopes:
        if not value.endswith("/.default"):
            raise errors.scope_without_default(value)
    resources = {value.removesuffix("/.default").rstrip("/").lower() for value in scopes}
    if len(resources) != 1:
        raise errors.multiple_resources(scope)
    resource = scopes[0].removesuffix("/.default")
    target = resolve_resource(resource)
    if target is None:
        raise errors.resource_not_found(resource, tenant)
    return target
