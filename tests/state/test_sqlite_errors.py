"""The SQLite file itself: WAL mode, and clear StateErrors for a corrupt, locked, foreign, newer or
unwritable database instead of sqlite3 tracebacks."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.errors import MonitorError, StateError
from monitor.state import SqliteStateStore, open_store
from tests.state.factories import CHECK, T0, TENANT, make_finding


@pytest.fixture
def blocker(database: Path, store: SqliteStateStore) -> Iterator[sqlite3.Connection]:
    """Another connection holding an EXCLUSIVE lock on the store's file (the store already open)."""
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


def test_the_database_is_in_wal_mode(store: SqliteStateStore, database: Path) -> None:
    with sqlite3.connect(database) as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "monitor.db"

    with open_store(path) as store:
        assert store.path == path
    assert path.is_file()


def test_a_corrupt_file_is_a_state_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    path.write_bytes(b"\x00\xffthis is not a database\x13\x37" * 512)

    with pytest.raises(StateError) as raised:
        open_store(path)

    assert str(raised.value) == (
        f"the state database {path} is corrupt or not a SQLite database (file is not a database); "
        "move it aside (the monitor then starts with empty state) or restore it from a backup"
    )
    assert isinstance(raised.value, MonitorError)


def test_a_database_locked_by_another_process_is_a_state_error_on_open(
    blocker: sqlite3.Connection, database: Path
) -> None:
    with pytest.raises(StateError) as raised:
        open_store(database, busy_timeout_seconds=0.05)

    assert str(raised.value) == (
        f"the state database {database} is locked by another process (waited 0.05 s); stop the other "
        "entra-monitor using this file, or set state.path to a different file"
    )


def test_a_lock_taken_while_open_fails_the_write_and_check_writable_then_clears(
    store: SqliteStateStore, blocker: sqlite3.Connection
) -> None:
    with pytest.raises(StateError, match="is locked by another process"):
        store.reconcile(TENANT, CHECK, [make_finding()], T0, [])
    with pytest.raises(StateError, match="is locked by another process"):
        store.check_writable()

    blocker.execute("ROLLBACK")

    store.check_writable()
    assert [transition.kind for transition in store.reconcile(TENANT, CHECK, [make_finding()], T0, [])] == [
        "new"
    ]


def test_a_directory_that_cannot_be_created_is_a_state_error(tmp_path: Path) -> None:
    blocking_file = tmp_path / "state"
    blocking_file.write_text("a file where the directory should be")

    with pytest.raises(
        StateError, match=re.escape(f"cannot create the directory {blocking_file} for the state database")
    ):
        open_store(blocking_file / "monitor.db")


def test_a_path_that_is_a_directory_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError) as raised:
        open_store(tmp_path)

    assert str(raised.value) == (
        f"cannot open the state database {tmp_path} (unable to open database file); make {tmp_path.parent} "
        "and the file writable for the monitor's user, or set state.path to a writable location"
    )


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE invoices (id INTEGER)")
    other.close()

    with pytest.raises(StateError, match="is a SQLite database but not an entra-monitor state file"):
        open_store(path)

    with sqlite3.connect(path) as other:
        assert other.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
    other.close()


def test_a_database_from_a_newer_version_is_refused(database: Path) -> None:
    open_store(database).close()
    with sqlite3.connect(database) as newer:
        newer.execute("PRAGMA user_version = 99")
    newer.close()

    with pytest.raises(StateError, match="has schema version 99, newer than this entra-monitor understands"):
        open_store(database)


def test_check_writable_passes_on_a_healthy_store(store: SqliteStateStore) -> None:
    store.check_writable()


def test_a_closed_store_refuses_calls_and_close_is_idempotent(
    store: SqliteStateStore, database: Path
) -> None:
    store.close()
    store.close()

    with pytest.raises(StateError, match=re.escape(f"the state store for {database} is closed")):
        store.findings()
    with pytest.raises(StateError, match="is closed"):
        store.check_writable()


def test_the_repr_names_the_file_only(store: SqliteStateStore, database: Path) -> None:
    assert repr(store) == f"SqliteStateStore({str(database)!r})"


def test_check_writable_fails_on_a_file_opened_read_only(store: SqliteStateStore, database: Path) -> None:
    read_only = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)
    probe = SqliteStateStore(read_only, database, 0.1)

    with pytest.raises(StateError) as raised:
        probe.check_writable()
    probe.close()

    assert str(raised.value) == (
        f"cannot write to the state database {database} (attempt to write a readonly database); make "
        f"{database.parent} and the file writable for the monitor's user, or set state.path to a "
        "writable location"
    )
