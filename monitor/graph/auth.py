"""Access tokens for Microsoft Graph, one :class:`TokenProvider` per tenant, acquired with MSAL.

Contract of every provider:

- ``token()`` returns the held token until ``refresh_margin`` (default 5 minutes) before it
  expires, then fetches a new one (for tokens shorter-lived than twice the margin: at half their
  remaining life, so a short lifetime never means one request per call); concurrent callers
  share one acquisition; MSAL, which blocks, runs in a worker thread.
- A failed refresh while the held token is still valid returns the held token (logged) and is
  retried after ``RETRY_FAILED_REFRESH_AFTER``: MSAL raises ``MsalServiceError`` on a 5xx even
  when its cache holds a valid token.
- With no valid token, ``token()`` raises :class:`~monitor.errors.AuthenticationError` naming the
  tenant, the credential and the identity platform's reason (an AADSTS code when there is one),
  never a secret.
- ``invalidate(token)`` (after a 401) drops that token from the provider and from MSAL's cache, so
  the next ``token()`` fetches a new one; a no-op when a newer token is already held.

Each provider owns its MSAL application, token cache and HTTP client; several providers (several
tenants) live side by side in one process. Times come from an injected clock (UTC).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msal
import msal.authority
from msal.exceptions import MsalError

from monitor.errors import AuthenticationError, ConfigurationError
from monitor.graph.clouds import CLOUDS, Endpoints
from monitor.graph.credentials import (
    CertificateCredential,
    ClientSecretCredential,
    CredentialSettings,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

Clock = Callable[[], datetime]
MsalResult = dict[str, Any]

HTTP_TIMEOUT_SECONDS = 30.0
RETRY_FAILED_REFRESH_AFTER = timedelta(seconds=30)
"""After a failed refresh, the held (still valid) token is served this long before trying again."""
_KNOWN_AUTHORITY_HOSTS = frozenset(getattr(msal.authority, "WELL_KNOWN_AUTHORITY_HOSTS", ())) | {
    cloud.authority_host.removeprefix("https://") for cloud in CLOUDS.values()
}
_MULTI_TENANT_SEGMENTS = frozenset({"common", "organizations", "consumers"})
_HINTS = {
    "AADSTS7000215": "Set client_secret to the secret's value (not its secret id).",
    "AADSTS7000222": "Add a new client secret to the app registration and update client_secret.",
    "AADSTS7000112": "Enable the application in this tenant, or configure another client.",
    "AADSTS700016": "Check client_id and the tenant id: the app is not known in this tenant.",
    "AADSTS90002": "Check the tenant id and the cloud setting.",
    "AADSTS700027": "Upload this certificate to the app registration (or renew it), or fix certificate_path.",
    "AADSTS700030": "The certificate's subject is not trusted for subject-name/issuer authentication.",
    "AADSTS50012": "Check the certificate (subject-name/issuer trust needs send_certificate_chain).",
    "AADSTS700211": "Check the issuer of the app's federated identity credential.",
    "AADSTS700212": "Check the audience of the app's federated identity credential.",
    "AADSTS700213": "Check the subject of the app's federated identity credential.",
    "AADSTS700024": "The assertion is not valid now: check the host clock and the token file's rotation.",
    "AADSTS50027": "The client assertion is malformed: check the token file or the certificate.",
}
_DEFAULT_HINT = "Check the credential settings and the app registration in this tenant."
_MANAGED_IDENTITY_HINT = (
    "Check the managed identity settings and that the identity is assigned to this resource."
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token for Graph and when it expires (UTC, on this host's clock)."""

    token: str = field(repr=False)
    expires_at: datetime


class TokenProvider(abc.ABC):
    """Access tokens for one tenant (see the module docstring for the contract)."""

    tenant_id: str
    description: str

    @abc.abstractmethod
    async def token(self) -> AccessToken:
        """A valid token, refreshed ahead of expiry; raises AuthenticationError when none can be had."""

    @abc.abstractmethod
    async def invalidate(self, token: AccessToken) -> None:
        """Forget ``token`` (Graph refused it) unless a newer one is held already."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the HTTP connections; the provider cannot be used afterwards."""


class _MsalHttpClient:
    """The HTTP client MSAL is given (``get``/``post``/``close``, answers with ``status_code``,
    ``text`` and ``headers``).

    httpx rather than MSAL's default requests.Session: requests lets REQUESTS_CA_BUNDLE /
    CURL_CA_BUNDLE override whatever ``verify`` MSAL passes, so an unrelated environment variable
    would decide whom we trust. httpx with an explicit SSLContext ignores those variables (and
    SSL_CERT_FILE), still honours proxy settings, and verifies against the system store or
    ``ca_bundle`` (clouds.Endpoints.ssl_context).
    """

    def __init__(self, endpoints: Endpoints) -> None:
        self._client = httpx.Client(verify=endpoints.ssl_context(), timeout=HTTP_TIMEOUT_SECONDS)

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self._client.get(url, **options)

    def post(self, url: str, *, data: Any = None, **options: Any) -> httpx.Response:
        # MSAL's certificate assertion is bytes; httpx would form-encode it as "b'...'".
        if isinstance(data, dict):
            data = {key: value.decode() if isinstance(value, bytes) else value for key, value in data.items()}
        return self._client.post(url, data=data, **options)

    def close(self) -> None:
        self._client.close()


class _Acquirer(abc.ABC):
    """One MSAL client with its own token cache and HTTP client. Methods block: worker thread only."""

    kind: str

    def __init__(self, endpoints: Endpoints) -> None:
        self.cache = msal.TokenCache()
        self.http = _MsalHttpClient(endpoints)

    @abc.abstractmethod
    def acquire(self) -> MsalResult:
        """MSAL's result: ``access_token`` and ``expires_in``, or ``error``; may raise."""

    def forget(self, access_token: str) -> None:
        """Remove an access token from MSAL's cache, so MSAL asks the identity platform again."""
        access_tokens = msal.TokenCache.CredentialType.ACCESS_TOKEN
        stale = [entry for entry in self.cache.search(access_tokens) if entry.get("secret") == access_token]
        for entry in stale:
            self.cache.remove_at(entry)

    def close(self) -> None:
        self.http.close()


class _ConfidentialClientAcquirer(_Acquirer):
    """An app registration's client-credentials grant: secret, certificate or federated assertion."""

    def __init__(
        self,
        kind: str,
        tenant_id: str,
        client_id: str,
        credential: str | dict[str, Any],
        endpoints: Endpoints,
        resource: str,
    ) -> None:
        super().__init__(endpoints)
        self.kind = kind
        self._client_id = client_id
        self._credential = credential
        self._authority = endpoints.authority(tenant_id)
        self._scopes = [f"{resource}/.default"]
        # Instance discovery asks login.microsoftonline.com about the host; for any other host
        # (an emulator, a private endpoint) that request would fail or leak the tenant.
        known = endpoints.authority_host.removeprefix("https://") in _KNOWN_AUTHORITY_HOSTS
        self._options: dict[str, Any] = {} if known else {"instance_discovery": False}
        self._application: Any = None

    def acquire(self) -> MsalResult:
        if self._application is None:  # built here: its constructor fetches OIDC discovery
            self._application = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._credential,
                authority=self._authority,
                http_client=self.http,
                token_cache=self.cache,
                **self._options,
            )
        return dict(self._application.acquire_token_for_client(scopes=self._scopes))


class _ManagedIdentityAcquirer(_Acquirer):
    """The managed identity endpoint MSAL finds from the environment (App Service, IMDS, Arc …)."""

    kind = "managed_identity"

    def __init__(self, credential: ManagedIdentityCredential, endpoints: Endpoints, resource: str) -> None:
        super().__init__(endpoints)
        self._identity: Any = (
            msal.UserAssignedManagedIdentity(
                client_id=credential.client_id,
                resource_id=credential.resource_id,
                object_id=credential.object_id,
            )
            if credential.client_id or credential.resource_id or credential.object_id
            else msal.SystemAssignedManagedIdentity()
        )
        self._resource = resource
        self._client: Any = None

    def acquire(self) -> MsalResult:
        if self._client is None:
            self._client = msal.ManagedIdentityClient(
                self._identity, http_client=self.http, token_cache=self.cache
            )
        return dict(self._client.acquire_token_for_client(resource=self._resource))


class MsalTokenProvider(TokenProvider):
    """Holds the current token of one tenant and refreshes it through an MSAL acquirer."""

    def __init__(
        self,
        tenant_id: str,
        description: str,
        acquirer: _Acquirer,
        *,
        refresh_margin: timedelta,
        clock: Clock,
    ) -> None:
        self.tenant_id = tenant_id
        self.description = description
        self._acquirer = acquirer
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._current: AccessToken | None = None
        self._refresh_at = datetime.min.replace(tzinfo=UTC)
        self._closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} tenant={self.tenant_id} {self.description}>"

    async def token(self) -> AccessToken:
        async with self._lock:
            if self._closed:
                raise RuntimeError(f"the token provider for tenant {self.tenant_id} is closed")
            current = self._current
            if current is not None and self._clock() < self._refresh_at:
                return current
            try:
                fresh = await asyncio.to_thread(self.acquire_blocking, current)
            except AuthenticationError as error:
                if current is not None and self._clock() < current.expires_at:
                    # Not on every call: an unreachable login host would hold each caller for a timeout.
                    self._refresh_at = min(self._clock() + RETRY_FAILED_REFRESH_AFTER, current.expires_at)
                    logger.warning(
                        "Refreshing the token of tenant %s failed; using the current one until %s: %s",
                        self.tenant_id,
                        current.expires_at.isoformat(),
                        error,
                    )
                    return current
                raise
            self._current = fresh
            remaining = fresh.expires_at - self._clock()
            self._refresh_at = fresh.expires_at - min(self._refresh_margin, remaining / 2)
            return fresh

    async def invalidate(self, token: AccessToken) -> None:
        async with self._lock:
            if self._current is not None and self._current.token == token.token:
                self._current = None
            await asyncio.to_thread(self._acquirer.forget, token.token)

    async def aclose(self) -> None:
        async with self._lock:
            self._closed = True
            self._current = None
            await asyncio.to_thread(self._acquirer.close)

    def close_blocking(self) -> None:
        """Release the HTTP connections without an event loop (for a credential used from threads)."""
        self._closed = True
        self._current = None
        self._acquirer.close()

    def acquire_blocking(self, replacing: AccessToken | None = None) -> AccessToken:
        """One acquisition, blocking (a worker thread, or a library's own thread); MSAL answers from
        its cache while the token is valid. The token being replaced leaves MSAL's cache first, or
        MSAL would hand it back until five minutes before its expiry, whatever our margin.
        Raises AuthenticationError."""
        if replacing is not None:
            self._acquirer.forget(replacing.token)
        requested_at = self._clock()
        try:
            result = self._acquirer.acquire()
        except AuthenticationError:
            raise
        except (MsalError, httpx.HTTPError, ValueError, OSError) as error:
            raise self._failure(*_exception_reason(error), code=None) from error
        access_token, expires_in = result.get("access_token"), result.get("expires_in")
        if not access_token or expires_in is None:
            raise self._failure_from_result(result)
        logger.debug("Acquired a token for tenant %s with the %s", self.tenant_id, self.description)
        return AccessToken(str(access_token), requested_at + timedelta(seconds=int(expires_in)))

    def _failure_from_result(self, result: MsalResult) -> AuthenticationError:
        description = str(result.get("error_description") or "no description")
        reason = f"{result.get('error') or 'no access token in the answer'}: {description.splitlines()[0]}"
        references = [
            f"{label} {result[key]}"
            for key, label in (("trace_id", "trace id"), ("correlation_id", "correlation id"))
            if result.get(key)
        ]
        if references:
            reason += f" ({', '.join(references)})"
        code = _aadsts_code(result)
        if self._acquirer.kind == "managed_identity":
            hint = _MANAGED_IDENTITY_HINT
        else:
            hint = _HINTS.get(code or "", _DEFAULT_HINT)
        return self._failure(reason, hint, code=code)

    def _failure(self, reason: str, hint: str, *, code: str | None) -> AuthenticationError:
        reason = reason.rstrip(". ")
        message = f"No access token for tenant {self.tenant_id} with the {self.description}: {reason}. {hint}"
        return AuthenticationError(message, tenant=self.tenant_id, credential=self._acquirer.kind, code=code)


def build_token_provider(
    tenant_id: str,
    credential: CredentialSettings,
    endpoints: Endpoints,
    *,
    refresh_margin: timedelta = timedelta(minutes=5),
    clock: Clock | None = None,
) -> TokenProvider:
    """A provider for ``tenant_id`` in ``endpoints``' cloud. No network I/O happens here; key,
    certificate and CA files are read now. Raises ConfigurationError naming a bad setting."""
    if not tenant_id or "/" in tenant_id or tenant_id.lower() in _MULTI_TENANT_SEGMENTS:
        raise ConfigurationError(
            f"tenant_id: {tenant_id!r} is not a tenant; give the tenant id (GUID) or its domain name"
        )
    if refresh_margin < timedelta(0):
        raise ConfigurationError("refresh_margin: must not be negative")
    return MsalTokenProvider(
        tenant_id,
        credential.description,
        build_acquirer(tenant_id, credential, endpoints),
        refresh_margin=refresh_margin,
        clock=clock or _utc_now,
    )


def build_acquirer(
    tenant_id: str, credential: CredentialSettings, endpoints: Endpoints, resource: str | None = None
) -> _Acquirer:
    """An MSAL client for tokens to ``resource`` (an application ID URI without ``/.default``;
    the cloud's Graph by default). Key and certificate files are read now."""
    resource = resource or endpoints.graph_resource
    if isinstance(credential, ManagedIdentityCredential):
        return _ManagedIdentityAcquirer(credential, endpoints, resource)
    client_credential: str | dict[str, Any]
    if isinstance(credential, ClientSecretCredential):
        client_credential = credential.client_secret.get_secret_value()
    elif isinstance(credential, CertificateCredential):
        material = credential.load()
        # The SHA-1 thumbprint (RS256, x5t) is what azure-identity sends too; MSAL's SHA-256 path
        # always adds x5c, which must stay opt-in (send_certificate_chain).
        client_credential = {"private_key": material.private_key, "thumbprint": material.sha1_thumbprint}
        if credential.send_certificate_chain:
            client_credential["public_certificate"] = material.chain_pem()
    else:
        client_credential = {"client_assertion": _federated_assertion(credential, tenant_id)}
    return _ConfidentialClientAcquirer(
        credential.kind, tenant_id, credential.client_id, client_credential, endpoints, resource
    )


def _federated_assertion(credential: WorkloadIdentityCredential, tenant_id: str) -> Callable[[], str]:
    """Reads the token file on every call: the issuer rotates it (Kubernetes: about hourly)."""
    path: Path = credential.token_file

    def read_assertion() -> str:
        try:
            assertion = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or type(error).__name__
            message = f"No access token for tenant {tenant_id}: cannot read the federated token file {path}"
            raise AuthenticationError(
                f"{message} ({reason})", tenant=tenant_id, credential=credential.kind
            ) from None
        if not assertion:
            message = f"No access token for tenant {tenant_id}: the federated token file {path} is empty"
            raise AuthenticationError(message, tenant=tenant_id, credential=credential.kind)
        return assertion

    return read_assertion


def _aadsts_code(result: MsalResult) -> str | None:
    codes = result.get("error_codes")
    if isinstance(codes, list) and codes:
        return f"AADSTS{codes[0]}"
    found = re.search(r"AADSTS\d+", str(result.get("error_description") or ""))
    return found.group(0) if found else None


def _exception_reason(error: Exception) -> tuple[str, str]:
    """What went wrong when MSAL raised instead of answering, and what to do about it."""
    if isinstance(error, httpx.TransportError):
        url = error.request.url if _has_request(error) else None
        where = f" {url.scheme}://{url.netloc.decode()}" if url else ""
        reason = f"cannot reach the identity platform{where}: {type(error).__name__}: {error}"
        if "CERTIFICATE_VERIFY_FAILED" in str(error):
            return reason, "Set ca_bundle to the CA that issued the server's certificate."
        return reason, "Check the network path (proxy, firewall) and the authority_host setting."
    if isinstance(error, MsalError):
        return f"the identity platform failed: {error}", "The next token request tries again."
    if isinstance(error, ValueError):
        return f"{type(error).__name__}: {error}", "Check the tenant id, the cloud and authority_host."
    return f"{type(error).__name__}: {error}", _DEFAULT_HINT


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 - raises RuntimeError when the error carries no request
    except RuntimeError:
        return False
    return True


def _utc_now() -> datetime:
    return datetime.now(UTC)
