"""Microsoft Graph for the monitor: authentication, the async client, paging, batching, retries,
pacing and the permission table. Nothing outside this package builds Graph URLs or handles tokens.

Build a client per tenant with :func:`connect` from a :class:`GraphConnection`; read collections
with :meth:`GraphClient.iterate`, one object at a time as pages arrive.
"""

from __future__ import annotations

from monitor.graph.auth import AccessToken, TokenProvider, build_token_provider
from monitor.graph.batch import BatchRequest, BatchResponse
from monitor.graph.client import GraphClient, Page
from monitor.graph.clouds import CLOUDS, Cloud, Endpoints, resolve_endpoints
from monitor.graph.connection import GraphConnection, connect
from monitor.graph.credentials import (
    CertificateCredential,
    ClientSecretCredential,
    CredentialSettings,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from monitor.graph.instruments import GraphInstruments
from monitor.graph.permissions import ENDPOINTS, GraphEndpoint, find_endpoint
from monitor.graph.query import Query, graph_path, odata_datetime, odata_string
from monitor.graph.settings import Budget, GraphClientSettings

__all__ = [
    "CLOUDS",
    "ENDPOINTS",
    "AccessToken",
    "BatchRequest",
    "BatchResponse",
    "Budget",
    "CertificateCredential",
    "ClientSecretCredential",
    "Cloud",
    "CredentialSettings",
    "Endpoints",
    "GraphClient",
    "GraphClientSettings",
    "GraphConnection",
    "GraphEndpoint",
    "GraphInstruments",
    "ManagedIdentityCredential",
    "Page",
    "Query",
    "TokenProvider",
    "WorkloadIdentityCredential",
    "build_token_provider",
    "connect",
    "find_endpoint",
    "graph_path",
    "odata_datetime",
    "odata_string",
    "resolve_endpoints",
]
