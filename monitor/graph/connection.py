"""One tenant's connection settings, and the factory that turns them into a Graph client.

The worker's settings hold one :class:`GraphConnection` per tenant; the composition root calls
:func:`connect` for each, so several tenants (each with its own credential, token cache, pool and
limiter) live side by side in one process.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from monitor.graph.auth import build_token_provider
from monitor.graph.client import GraphClient
from monitor.graph.clouds import CLOUDS, resolve_endpoints
from monitor.graph.credentials import CredentialSettings
from monitor.graph.instruments import GraphInstruments
from monitor.graph.settings import GraphClientSettings

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class GraphConnection(BaseModel):
    """Where a tenant lives and how the monitor authenticates to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=_GUID, description="The directory (tenant) id, a GUID.")
    cloud: str = Field(default="global", description=f"One of: {', '.join(CLOUDS)}.")
    authority_host: str | None = Field(
        default=None, description="Overrides the cloud's sign-in host (https only), e.g. the emulator."
    )
    graph_endpoint: str | None = Field(
        default=None, description="Overrides the cloud's Graph endpoint (https only), e.g. the emulator."
    )
    ca_bundle: Path | None = Field(
        default=None, description="PEM file of CA certificates to trust instead of the system's."
    )
    credential: CredentialSettings
    client: GraphClientSettings = Field(default_factory=GraphClientSettings)


def connect(connection: GraphConnection, instruments: GraphInstruments | None = None) -> GraphClient:
    """A Graph client for the tenant, owning its token provider (closed with the client).

    Raises ConfigurationError for an unknown cloud, a non-https override or an unreadable CA bundle
    or certificate; no request is sent until the client is used.
    """
    endpoints = resolve_endpoints(
        connection.cloud,
        authority_host=connection.authority_host,
        graph_endpoint=connection.graph_endpoint,
        ca_bundle=connection.ca_bundle,
    )
    provider = build_token_provider(connection.tenant_id, connection.credential, endpoints)
    return GraphClient(
        tenant_id=connection.tenant_id,
        endpoints=endpoints,
        credential=provider,
        settings=connection.client,
        instruments=instruments,
    )
