"""Graph clients on the session emulator, authenticated through real MSAL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor.graph.client import GraphClient
from monitor.graph.connection import GraphConnection, connect, emulator_connection
from monitor.graph.settings import GraphClientSettings
from tests.support.emulator import RunningEmulator
from tests.support.metrics import RecordedMetrics


def connection_to(emulator: RunningEmulator, client: str = "secret", **settings: Any) -> GraphConnection:
    """The emulator as a tenant (its authority, Graph endpoint and CA) through one of its clients,
    with the given Graph client settings."""
    connection = emulator_connection(Path(emulator.info["infoFile"]), client)
    return connection.model_copy(update={"client": GraphClientSettings(**settings)})


@pytest.fixture
def metrics() -> RecordedMetrics:
    return RecordedMetrics()


@pytest.fixture
async def graph(emulator: RunningEmulator, metrics: RecordedMetrics) -> AsyncIterator[GraphClient]:
    async with connect(connection_to(emulator), metrics.instruments) as client:
        yield client
