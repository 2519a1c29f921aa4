"""A tenant's credential as an Azure SDK ``TokenCredential``, for Azure resources other than Graph.

The Azure Monitor exporter (Entra-authenticated ingestion) and the Blob Storage client (snapshots)
take an ``azure.core`` credential and call ``get_token(scope)`` from their own threads. Rather than
configure the identity twice (once for MSAL, once for azure-identity), this adapter reuses the
monitor's MSAL clients: the same credential settings, cloud endpoints, CA bundle and error
messages as Graph, one MSAL client (and token cache) per resource. ``get_token`` blocks; MSAL
answers from its cache while a token is valid, and the SDK policies keep the token until shortly
before it expires.

Failures raise ``azure.core.exceptions.ClientAuthenticationError`` carrying the monitor's own
message (tenant, credential kind, the identity platform's reason, a hint), never a secret.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.credentials import AccessToken as AzureAccessToken
from azure.core.exceptions import ClientAuthenticationError

from monitor.errors import AuthenticationError
from monitor.graph.auth import MsalTokenProvider, build_acquirer
from monitor.graph.clouds import Endpoints
from monitor.graph.credentials import CredentialSettings

DEFAULT_SUFFIX = "/.default"
REFRESH_MARGIN = timedelta(minutes=5)


class AzureTokenCredential:
    """``azure.core.credentials.TokenCredential`` over one tenant's MSAL credential."""

    def __init__(self, tenant_id: str, credential: CredentialSettings, endpoints: Endpoints) -> None:
        self.tenant_id = tenant_id
        self._credential = credential
        self._endpoints = endpoints
        self._providers: dict[str, MsalTokenProvider] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} tenant={self.tenant_id} {self._credential.description}>"

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AzureAccessToken:
        """A token for the one resource ``scopes`` names (``<resource>/.default``)."""
        if tenant_id is not None and tenant_id.lower() != self.tenant_id.lower():
            raise ClientAuthenticationError(
                message=f"A token for tenant {tenant_id} was asked of the credential of tenant "
                f"{self.tenant_id}; the monitor authenticates to Azure only in the tenant configured"
            )
        provider = self._provider(resource_of(scopes))
        try:
            token = provider.acquire_blocking()
        except AuthenticationError as error:
            raise ClientAuthenticationError(message=str(error)) from error
        return AzureAccessToken(token.token, int(token.expires_at.timestamp()))

    def close(self) -> None:
        """Release the HTTP connections of every MSAL client built so far."""
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            provider.close_blocking()

    def __enter__(self) -> AzureTokenCredential:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _provider(self, resource: str) -> MsalTokenProvider:
        with self._lock:
            provider = self._providers.get(resource)
            if provider is None:
                acquirer = build_acquirer(self.tenant_id, self._credential, self._endpoints, resource)
                provider = MsalTokenProvider(
                    self.tenant_id,
                    self._credential.description,
                    acquirer,
                    refresh_margin=REFRESH_MARGIN,
                    clock=lambda: datetime.now(UTC),
                )
                self._providers[resource] = provider
            return provider


def resource_of(scopes: tuple[str, ...]) -> str:
    """The resource of a client-credentials scope: exactly one scope, ending in ``/.default``."""
    if len(scopes) != 1 or not scopes[0].endswith(DEFAULT_SUFFIX) or scopes[0] == DEFAULT_SUFFIX:
        raise ClientAuthenticationError(
            message=f"Cannot ask for a token for {list(scopes)}: an application token needs exactly one "
            "scope of the form <resource>/.default"
        )
    return scopes[0].removesuffix(DEFAULT_SUFFIX)
