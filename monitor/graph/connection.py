"""One tenant's connection settings, and the factory that turns them into a Graph client.

The worker's settings hold one :class:`GraphConnection` per tenant; the composition root calls
:func:`connect` for each, so several tenants (each with its own credential, token cache, pool and
limiter) live side by side in one process. :func:`emulator_connection` points at an emulated
tenant from its info file.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.errors import ConfigurationError
from monitor.graph.auth import build_token_provider
from monitor.graph.azure_credential import AzureTokenCredential
from monitor.graph.client import GraphClient
from monitor.graph.clouds import CLOUDS, Endpoints, resolve_endpoints
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


def connection_endpoints(connection: GraphConnection) -> Endpoints:
    """The tenant's cloud endpoints with its overrides; ConfigurationError for a bad one."""
    return resolve_endpoints(
        connection.cloud,
        authority_host=connection.authority_host,
        graph_endpoint=connection.graph_endpoint,
        ca_bundle=connection.ca_bundle,
    )


def azure_credential(connection: GraphConnection) -> AzureTokenCredential:
    """The tenant's credential for Azure resources other than Graph (Azure Monitor ingestion, Blob
    Storage), as an Azure SDK ``TokenCredential``; the caller closes it. No request is sent here."""
    return AzureTokenCredential(connection.tenant_id, connection.credential, connection_endpoints(connection))


def connect(connection: GraphConnection, instruments: GraphInstruments | None = None) -> GraphClient:
    """A Graph client for the tenant, owning its token provider (closed with the client).

    Raises ConfigurationError for an unknown cloud, a non-https override or an unreadable CA bundle
    or certificate; no request is sent until the client is used.
    """
    endpoints = connection_endpoints(connection)
    provider = build_token_provider(connection.tenant_id, connection.credential, endpoints)
    return GraphClient(
        tenant_id=connection.tenant_id,
        endpoints=endpoints,
        credential=provider,
        settings=connection.client,
        instruments=instruments,
    )


def describe_validation(error: ValidationError) -> str:
    """Pydantic's errors as ``field.path: message`` lines, without the rejected values (secrets)."""
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or '(top level)'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems)


EMULATOR_CLIENTS = ("certificate", "secret", "subjectName", "federated", "limited")


def emulator_connection(info_file: Path, client: str = "certificate") -> GraphConnection:
    """A connection to a running emulated tenant from its info file (``entra-monitor emulator``
    writes it), authenticating as one of its registered clients."""
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"{info_file}: not a readable emulator info file ({error})") from None
    registration = info.get("clients", {}).get(client)
    if registration is None or client not in EMULATOR_CLIENTS:
        raise ConfigurationError(f"client: {client!r} is not one of {', '.join(EMULATOR_CLIENTS)}")
    credential: dict[str, object] = {"client_id": registration["clientId"]}
    if "clientSecret" in registration:
        credential |= {"kind": "client_secret", "client_secret": registration["clientSecret"]}
    elif "tokenFile" in registration:
        credential |= {"kind": "workload_identity", "token_file": registration["tokenFile"]}
    else:
        credential |= {
            "kind": "certificate",
            "certificate_path": registration["certificatePath"],
            "private_key_path": registration["privateKeyPath"],
            "send_certificate_chain": client == "subjectName",
        }
    return GraphConnection.model_validate(
        {
            "tenant_id": info["tenantId"],
            "authority_host": info["authorityHost"],
            "graph_endpoint": info["baseUrl"],
            "ca_bundle": info["caBundle"],
            "credential": credential,
        }
    )
