"""Schema migrations: a new file gets the current schema, a version-1 file written by the first
release upgrades in place with its data intact, and a failed upgrade leaves the file as it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from monitor.check import Finding, Resource, Severity
from monitor.errors import StateError
from monitor.state import SCHEMA_VERSION, RunRecord, StoredFinding, Transition, open_store
from monitor.state import migrations as migrations_module
from monitor.state.migrations import MIGRATIONS, Migration
from tests.state.factories import CHECK, T0, TENANT, at

# The schema exactly as version 1 created it; never change this to follow later versions.
VERSION_1_SCHEMA = """
CREATE TABLE findings (
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
);
CREATE INDEX findings_by_check ON findings (tenant, check_id, status);
CREATE TABLE watermarks (
    tenant TEXT NOT NULL,
    check_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant, check_id, key)
) WITHOUT ROWID;
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    check_id TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    status TEXT NOT NULL,
    error TEXT
);
CREATE INDEX runs_by_check ON runs (tenant, check_id, started);
PRAGMA user_version = 1;
"""

OPEN = Finding(
    "credential-expired",
    Severity.HIGH,
    Resource("application", "app-1", "Payroll"),
    "Application Payroll has an expired client secret.",
    "Remove the expired secret.",
    {"keyId": "k-1", "endDateTime": "2026-11-01T00:00:00Z", "nested": [1, {"a": None}]},
    ("seed §4.2", "CIS 5.1"),
    TENANT,
    CHECK,
)
RESOLVED = Finding(
    "credential-expired",
    Severity.LOW,
    Resource("application", "app-2", "Old"),
    "Application Old has an expired client secret.",
    "Remove it.",
    {},
    (),
    TENANT,
    CHECK,
)


def write_version_1(path: Path) -> None:
    """A database as the first release left it: one open finding, one resolved, a watermark, a run."""
    connection = sqlite3.connect(path)
    connection.executescript(VERSION_1_SCHEMA)
    rows = [
        (OPEN, "open", "2026-11-27T12:00:00.000000+00:00", "2026-11-27T18:00:00.000000+00:00", None, 0),
        (RESOLVED, "resolved", "2026-11-27T12:00:00.000000+00:00", "2026-11-27T12:00:00.000000+00:00",
         "2026-11-27T18:00:00.000000+00:00", 2),
    ]  # fmt: skip
    for finding, status, first_seen, last_seen, resolved_at, reopened in rows:
        connection.execute(
            "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                finding.fingerprint, finding.tenant, finding.check, finding.rule, finding.severity.label,
                finding.resource.type, finding.resource.id, finding.resource.display_name, finding.message,
                finding.remediation, json.dumps(dict(finding.evidence)), json.dumps(list(finding.references)),
                status, first_seen, last_seen, resolved_at, reopened,
            ),
        )  # fmt: skip
    connection.execute(
        "INSERT INTO watermarks VALUES (?, ?, 'signIns', '2026-11-27T17:59:00Z')", (TENANT, CHECK)
    )
    connection.execute(
        "INSERT INTO runs VALUES ('run-1', ?, ?, '2026-11-27T18:00:00.000000+00:00', "
        "'2026-11-27T18:01:00.000000+00:00', 'failed', 'Graph answered 503')",
        (TENANT, CHECK),
    )
    connection.commit()
    connection.close()


def columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as connection:
        names = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
    connection.close()
    return names


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    return int(version)


def test_there_are_at_least_two_versions_numbered_in_order() -> None:
    assert [migration.version for migration in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    assert SCHEMA_VERSION >= 2


def test_a_new_file_gets_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"

    open_store(path).close()

    assert user_version(path) == SCHEMA_VERSION
    assert {"waiver", "alerted", "ever_alerted"} <= set(columns(path, "findings"))
    assert "counts" in columns(path, "runs")


def test_a_version_1_database_upgrades_in_place_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    write_version_1(path)

    with open_store(path) as store:
        assert store.findings(status=None) == [
            StoredFinding(OPEN, "open", T0, at(6), None, None, 0),
            StoredFinding(RESOLVED, "resolved", T0, T0, at(6), None, 2),
        ]
        assert store.get_watermark(TENANT, CHECK, "signIns") == "2026-11-27T17:59:00Z"
        assert store.runs() == [
            RunRecord("run-1", TENANT, CHECK, at(6), at(6 + 1 / 60), "failed", {}, "Graph answered 503")
        ]
        assert store.consecutive_failures(TENANT, CHECK) == 1

    assert user_version(path) == SCHEMA_VERSION
    assert {"waiver", "alerted", "ever_alerted"} <= set(columns(path, "findings"))


def test_an_upgraded_database_remembers_what_version_1_had_announced(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    write_version_1(path)

    with open_store(path) as store:
        assert store.reconcile(TENANT, CHECK, [OPEN], at(12), []) == []
        assert store.reconcile(TENANT, CHECK, [RESOLVED], at(13), []) == [
            Transition("reopened", RESOLVED.fingerprint, RESOLVED, None),
            Transition("resolved", OPEN.fingerprint, OPEN, None),
        ]


def test_a_failed_upgrade_step_leaves_the_database_at_the_version_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "monitor.db"
    write_version_1(path)
    broken = Migration(
        SCHEMA_VERSION + 1, "broken", ("ALTER TABLE findings ADD COLUMN doomed TEXT", "SELECT nope")
    )
    monkeypatch.setattr(migrations_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(migrations_module, "SCHEMA_VERSION", broken.version)

    with pytest.raises(StateError, match="no such column: nope"):
        open_store(path)

    assert user_version(path) == SCHEMA_VERSION
    assert "doomed" not in columns(path, "findings")


def test_a_version_2_database_gets_an_empty_outbox_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    write_version_1(path)
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[1].statements:  # version 2 exactly as released
        connection.execute(statement)
    connection.execute("PRAGMA user_version = 2")
    connection.close()

    with open_store(path) as store:
        assert store.findings(status=None) == [
            StoredFinding(OPEN, "open", T0, at(6), None, None, 0),
            StoredFinding(RESOLVED, "resolved", T0, T0, at(6), None, 2),
        ]
        assert store.get_watermark(TENANT, CHECK, "signIns") == "2026-11-27T17:59:00Z"
        assert store.alerts() == []
        assert store.deliveries() == []
        # What version 2 had announced stays announced: only the real change gets an alert.
        store.reconcile(TENANT, CHECK, [OPEN, RESOLVED], at(12), [])
        assert [(alert.kind, alert.fingerprint) for alert in store.alerts()] == [
            ("reopened", RESOLVED.fingerprint)
        ]

    assert user_version(path) == SCHEMA_VERSION == 3
    assert "routed" in columns(path, "alerts")
    assert "idempotency_key" in columns(path, "deliveries")
