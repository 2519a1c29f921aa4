"""A fresh SQLite state store per test, in the test's temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.state import SqliteStateStore, open_store


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "monitor.db"


@pytest.fixture
def store(database: Path) -> Iterator[SqliteStateStore]:
    opened = open_store(database, busy_timeout_seconds=0.2)
    yield opened
    opened.close()
