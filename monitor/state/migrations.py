"""Versioned schema migrations for the SQLite state store.

The schema version lives in ``PRAGMA user_version``: 0 is an empty file, and each
:class:`Migration` moves the database from ``version - 1`` to ``version`` in one transaction, so a
database written by an older monitor upgrades in place when it is opened and a failed upgrade
leaves it as it was. Migrations are append-only: a released one is never edited, a change is a new
version. A database newer than :data:`SCHEMA_VERSION` is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import StateError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "findings with their lifecycle, watermarks and run history",
        (
            """CREATE TABLE findings (
                fingerprint TEXT PRIMARY KEY,
                tenant TEXT NOT NULL,
                check_id TEXT NOT NULL,
                rule TEXT NOT NULL,
                severity TEXT NOT NULL,
                resource_type TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                resource_name TEXT NOT NULL,
                message TEXT NOT NULL,
                remediation TEXT NOT NULL,
                evidence TEXT NOT NULL,
                reference_list TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
                first_seen TEXT NOT NULL,
                last_seen TEXT NOT NULL,
                resolved_at TEXT,
                times_reopened INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX findings_by_check ON findings (tenant, check_id, status)",
            """CREATE TABLE watermarks (
                tenant TEXT NOT NULL,
                check_id TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (tenant, check_id, key)
            ) WITHOUT ROWID""",
            """CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                tenant TEXT NOT NULL,
                check_id TEXT NOT NULL,
                started TEXT NOT NULL,
                ended TEXT,
                status TEXT NOT NULL,
                error TEXT
            )""",
            "CREATE INDEX runs_by_check ON runs (tenant, check_id, started)",
        ),
    ),
    Migration(
        2,
        "waivers (a waived finding is stored but not announced) and counts per run",
        (
            "ALTER TABLE findings ADD COLUMN waiver TEXT",
            "ALTER TABLE findings ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE findings ADD COLUMN ever_alerted INTEGER NOT NULL DEFAULT 0",
            # Version 1 had no waivers, so every finding it stored had been announced.
            "UPDATE findings SET alerted = (status = 'open'), ever_alerted = 1",
            "ALTER TABLE runs ADD COLUMN counts TEXT NOT NULL DEFAULT '{}'",
        ),
    ),
    Migration(
        3,
        "the alert outbox: one alert per announced transition or reminder, one delivery per alert and sink",
        (
            # ``routed`` is 0 until the alert has been fanned out to the sinks configured then;
            # ``batch`` names the reconcile (or reminder round) of one check that wrote the alert.
            """CREATE TABLE alerts (
                alert_id INTEGER PRIMARY KEY AUTOINCREMENT,
                alert_key TEXT NOT NULL UNIQUE,
                created TEXT NOT NULL,
                kind TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                tenant TEXT NOT NULL,
                check_id TEXT NOT NULL,
                rule TEXT NOT NULL,
                severity TEXT NOT NULL,
                previous_severity TEXT,
                resource_type TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                resource_name TEXT NOT NULL,
                message TEXT NOT NULL,
                remediation TEXT NOT NULL,
                evidence TEXT NOT NULL,
                reference_list TEXT NOT NULL,
                first_seen TEXT NOT NULL,
                batch TEXT NOT NULL DEFAULT '',
                routed INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX alerts_unrouted ON alerts (routed, alert_id)",
            # The latest alert about a finding decides when it is due a reminder.
            "CREATE INDEX alerts_by_fingerprint ON alerts (fingerprint, created)",
            # ``digest``: the idempotency key of the digest this delivery is sent in (NULL: alone).
            """CREATE TABLE deliveries (
                alert_id INTEGER NOT NULL REFERENCES alerts (alert_id),
                sink TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'parked')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt TEXT NOT NULL,
                last_error TEXT,
                finished TEXT,
                idempotency_key TEXT NOT NULL UNIQUE,
                digest TEXT,
                PRIMARY KEY (alert_id, sink)
            ) WITHOUT ROWID""",
            "CREATE INDEX deliveries_by_sink ON deliveries (status, sink, alert_id)",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(connection: sqlite3.Connection) -> int:
    """The database's ``PRAGMA user_version``."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def migrate(connection: sqlite3.Connection, path: Path) -> int:
    """Apply every migration the database lacks; return the version it had before.

    ``connection`` must be in autocommit mode (``isolation_level=None``). Each step re-reads the
    version inside its write transaction, so two processes opening an old file at once upgrade it
    once. Raises StateError for a database newer than this code or one that is not the monitor's.
    sqlite3 errors propagate for the caller to translate.
    """
    initial = schema_version(connection)
    _refuse_foreign(connection, path, initial)
    for migration in MIGRATIONS:
        if migration.version <= initial:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(connection) < migration.version:
                for statement in migration.statements:
                    connection.execute(statement)
                # PRAGMA takes no parameters; the version is an int from MIGRATIONS.
                connection.execute(f"PRAGMA user_version = {int(migration.version)}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    return initial


def _refuse_foreign(connection: sqlite3.Connection, path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state database {path} has schema version {version}, newer than this entra-monitor "
            f"understands ({SCHEMA_VERSION}); upgrade entra-monitor, or set state.path to another file"
        )
    if version == 0:
        (tables,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if tables:
            raise StateError(
                f"{path} is a SQLite database but not an entra-monitor state file (it has tables but "
                "no schema version); set state.path to a new file"
            )
