"""A real SQLite store, a receiving sink server and sink settings for the alert tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from monitor.state import SqliteStateStore, open_store
from tests.alerts.receiver import Receiver, running_receiver

HMAC_KEY = "hmac-key-0123456789-abcdefghij-SECRET"
URL_SECRET = "sig=URLSECRET42"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "monitor.db"


@pytest.fixture
def store(database: Path) -> Iterator[SqliteStateStore]:
    opened = open_store(database, busy_timeout_seconds=2)
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as opened:
        yield opened
