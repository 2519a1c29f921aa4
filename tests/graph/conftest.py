"""Graph clients on the session emulator, authenticated through real MSAL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor.graph.client import GraphClient
from monitor.graph.connection import GraphConnection, connect
from monitor.graph.credentials import ClientSecretCredential
from monitor.graph.settings import GraphClientSettings
from tests.support.emulator import RunningEmulator
from tests.support.metrics import RecordedMetrics


def connection_to(emulator: RunningEmulator, client: str = "secret", **settings: Any) -> GraphConnection:
    """The emulator as a tenant: its authority and Graph endpoint, its CA, one of its secret clients."""
    info = emulator.info
    registration = info["clients"][client]
    return GraphConnection(
        tenant_id=info["tenantId"],
        authority_host=info["authorityHost"],
        graph_endpoint=info["baseUrl"],
        ca_bundle=Path(info["caBundle"]),
        credential=ClientSecretCredential(
            client_id=registration["clientId"], client_secret=registration["clientSecret"]
        ),
        client=GraphClientSettings(**settings),
    )


@pytest.fixture
def metrics() -> RecordedMetrics:
    return RecordedMetrics()


@pytest.fixture
async def graph(emulator: RunningEmulator, metrics: RecordedMetrics) -> AsyncIterator[GraphClient]:
    async with connect(connection_to(emulator), metrics.instruments) as client:
        yield client
