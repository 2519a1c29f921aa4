"""The SQLite state store: one file, WAL mode, schema upgraded in place on open.

:func:`open_store` creates the directory, opens the file, switches it to write-ahead logging (so
``entra-monitor findings list`` reads while the worker writes), applies the migrations and proves a
write transaction can be taken. Every sqlite3 error is translated at this boundary into
:class:`monitor.errors.StateError` naming the file, the cause and what to do: corrupt or not a
database, locked by another process (after waiting ``busy_timeout_seconds``), directory not
writable, schema newer than this code.

Threads: the connection is opened with ``check_same_thread=False`` and every public method holds
the store's lock, so calls from any thread are serialised. The worker uses it from one dedicated
thread; other processes open their own store on the same file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import sqlite3
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.check import Finding, Severity
from monitor.errors import StateError
from monitor.state.codec import (
    SAVE_FINDING,
    SELECT_FINDINGS,
    counts_json,
    finding_from_row,
    finding_row,
    from_utc_text,
    run_record,
    tracked_from_row,
    utc,
    utc_text,
)
from monitor.state.lifecycle import Tracked, collapse, gone, matching_waiver, seen
from monitor.state.migrations import migrate, schema_version
from monitor.state.store import (
    DELIVERY_STATUSES,
    FAILED_RUN_STATUSES,
    FINDING_STATUSES,
    RUN_STATUSES,
    Alert,
    Delivery,
    RunRecord,
    StateStore,
    StoredFinding,
    Transition,
    Waiver,
)

DEFAULT_BUSY_TIMEOUT_SECONDS = 5.0


def open_store(path: Path, *, busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> SqliteStateStore:
    """Open (creating it and its directory if needed) and upgrade the state database at ``path``.

    ``busy_timeout_seconds`` is how long a call waits for another process's write lock before it
    fails with StateError. Raises StateError when the file cannot be used.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StateError(
            f"cannot create the directory {path.parent} for the state database {path}: "
            f"{error.strerror or error}; create it writable for the monitor's user, or set state.path "
            "to a writable location"
        ) from error
    with _translated(path, "open", busy_timeout_seconds):
        connection = sqlite3.connect(
            path, timeout=busy_timeout_seconds, isolation_level=None, check_same_thread=False
        )
    try:
        with _translated(path, "open", busy_timeout_seconds):
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            connection.execute("PRAGMA synchronous = NORMAL")
            migrate(connection, path)
        store = SqliteStateStore(connection, path, busy_timeout_seconds)
        store.check_writable()
    except BaseException:
        connection.close()
        raise
    return store


class SqliteStateStore(StateStore):
    """:class:`StateStore` on one SQLite connection; build it with :func:`open_store`."""

    def __init__(self, connection: sqlite3.Connection, path: Path, busy_timeout_seconds: float) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._path = path
        self._busy_timeout_seconds = busy_timeout_seconds
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"SqliteStateStore({str(self._path)!r})"

    def reconcile(
        self,
        tenant: str,
        check: str,
        findings: Sequence[Finding],
        now: datetime,
        waivers: Sequence[Waiver],
        unevaluated: Collection[str] = (),
    ) -> list[Transition]:
        now = utc(now, "now")
        current = collapse([_attributed(finding, tenant, check) for finding in findings])
        announced: list[tuple[Transition, Tracked]] = []
        changed: list[Tracked] = []
        batch = uuid.uuid4().hex
        with self._session("record findings in", write=True) as connection:
            stored = {
                tracked.finding.fingerprint: tracked
                for tracked in _select_tracked(connection, "WHERE tenant = ? AND check_id = ?", tenant, check)
            }
            for fingerprint, finding in current.items():
                waiver = matching_waiver(finding, waivers, now.date())
                state, transition = seen(stored.get(fingerprint), finding, waiver, now)
                changed.append(state)
                announced.extend([(transition, state)] if transition else [])
            for fingerprint in sorted(stored.keys() - current.keys()):
                missing = stored[fingerprint]
                if missing.status == "open" and missing.finding.rule not in unevaluated:
                    state, transition = gone(missing, now)
                    changed.append(state)
                    announced.extend([(transition, state)] if transition else [])
            connection.executemany(SAVE_FINDING, [finding_row(tracked) for tracked in changed])
            # The outbox is written in the same transaction: no announced change without its alert.
            connection.executemany(
                _INSERT_ALERT, [_alert_row(transition, state, now, batch) for transition, state in announced]
            )
        return [transition for transition, _ in announced]

    def findings(
        self, tenant: str | None = None, check: str | None = None, status: str | None = "open"
    ) -> list[StoredFinding]:
        if status is not None and status not in FINDING_STATUSES:
            raise ValueError(f"unknown finding status {status!r}; accepted: {', '.join(FINDING_STATUSES)}")
        where = (
            "WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR check_id = ?2) "
            "AND (?3 IS NULL OR status = ?3)"
        )
        with self._session("read findings from") as connection:
            tracked = _select_tracked(connection, where, tenant, check, status)
        stored = [item.stored() for item in tracked]
        return sorted(stored, key=_listing_order)

    def open_counts(self) -> dict[tuple[str, str, Severity], int]:
        with self._session("count findings in") as connection:
            rows = connection.execute(
                "SELECT tenant, check_id, severity, count(*) FROM findings "
                "WHERE status = 'open' AND waiver IS NULL GROUP BY tenant, check_id, severity"
            ).fetchall()
        return {(tenant, check, Severity.parse(severity)): count for tenant, check, severity, count in rows}

    def get_watermark(self, tenant: str, check: str, key: str) -> str | None:
        with self._session("read watermarks from") as connection:
            row = connection.execute(
                "SELECT value FROM watermarks WHERE tenant = ? AND check_id = ? AND key = ?",
                (tenant, check, key),
            ).fetchone()
        return None if row is None else str(row[0])

    def set_watermarks(self, tenant: str, check: str, values: Mapping[str, str]) -> None:
        rows = [(tenant, check, key, value) for key, value in values.items()]
        with self._session("record watermarks in", write=True) as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO watermarks (tenant, check_id, key, value) VALUES (?, ?, ?, ?)", rows
            )

    def start_run(self, tenant: str, check: str, started: datetime) -> str:
        run_id = uuid.uuid4().hex
        with self._session("record a run in", write=True) as connection:
            connection.execute(
                "INSERT INTO runs (run_id, tenant, check_id, started, status) VALUES (?, ?, ?, ?, 'running')",
                (run_id, tenant, check, utc_text(started, "started")),
            )
        return run_id

    def finish_run(
        self, run_id: str, ended: datetime, status: str, counts: Mapping[str, int], error: str | None
    ) -> None:
        if status not in RUN_STATUSES or status == "running":
            accepted = ", ".join(s for s in RUN_STATUSES if s != "running")
            raise ValueError(f"unknown final run status {status!r}; accepted: {accepted}")
        with self._session("record a run in", write=True) as connection:
            cursor = connection.execute(
                "UPDATE runs SET ended = ?, status = ?, counts = ?, error = ? WHERE run_id = ?",
                (utc_text(ended, "ended"), status, counts_json(counts), error, run_id),
            )
            if cursor.rowcount == 0:
                raise ValueError(f"no run {run_id!r} was started in {self._path}")

    def abandon_running(self, ended: datetime, reason: str) -> int:
        with self._session("record a run in", write=True) as connection:
            cursor = connection.execute(
                "UPDATE runs SET ended = ?, status = 'cancelled', error = ? WHERE status = 'running'",
                (utc_text(ended, "ended"), reason),
            )
            return int(cursor.rowcount)

    def runs(self, tenant: str | None = None, check: str | None = None, limit: int = 50) -> list[RunRecord]:
        with self._session("read runs from") as connection:
            rows = connection.execute(
                "SELECT run_id, tenant, check_id, started, ended, status, counts, error FROM runs "
                "WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR check_id = ?2) "
                "ORDER BY started DESC, rowid DESC LIMIT ?3",
                (tenant, check, limit),
            ).fetchall()
        return [run_record(row) for row in rows]

    def consecutive_failures(self, tenant: str, check: str) -> int:
        with self._session("read runs from") as connection:
            statuses = connection.execute(
                "SELECT status FROM runs WHERE tenant = ? AND check_id = ? "
                "AND status NOT IN ('running', 'cancelled') ORDER BY started DESC, rowid DESC",
                (tenant, check),
            )
            failures = 0
            for (status,) in statuses:
                if status not in FAILED_RUN_STATUSES:
                    break
                failures += 1
        return failures

    def alerts(self, after: int = 0, limit: int = 1000) -> list[Alert]:
        with self._session("read alerts from") as connection:
            rows = connection.execute(
                f"{_SELECT_ALERTS} WHERE alert_id > ? ORDER BY alert_id LIMIT ?", (after, limit)
            ).fetchall()
        return [_alert(row) for row in rows]

    def write_reminders(self, now: datetime, min_severity: Severity, interval: timedelta) -> list[Alert]:
        now = utc(now, "now")
        if interval <= timedelta(0):
            raise ValueError(f"the reminder interval must be positive, not {interval}")
        with self._session("write reminders to", write=True) as connection:
            candidates = _select_tracked(
                connection, "WHERE status = 'open' AND waiver IS NULL AND alerted = 1 ORDER BY fingerprint"
            )
            latest = dict(
                connection.execute(
                    "SELECT fingerprint, max(created) FROM alerts WHERE fingerprint IN "
                    "(SELECT fingerprint FROM findings WHERE status = 'open' AND waiver IS NULL) "
                    "GROUP BY fingerprint"
                ).fetchall()
            )
            due: dict[tuple[str, str], list[Tracked]] = {}
            for tracked in candidates:
                finding = tracked.finding
                last = latest.get(finding.fingerprint)
                notified = tracked.first_seen if last is None else from_utc_text(last)
                if finding.severity >= min_severity and now - notified >= interval:
                    due.setdefault((finding.tenant, finding.check), []).append(tracked)
            rows = [
                _alert_row(
                    Transition("reminder", tracked.finding.fingerprint, tracked.finding), tracked, now, batch
                )
                for group, batch in (
                    (group, uuid.uuid4().hex) for group in sorted(due.values(), key=_group_order)
                )
                for tracked in sorted(group, key=_reminder_order)
            ]
            first = connection.execute("SELECT coalesce(max(alert_id), 0) FROM alerts").fetchone()[0]
            connection.executemany(_INSERT_ALERT, rows)
            written = connection.execute(
                f"{_SELECT_ALERTS} WHERE alert_id > ? ORDER BY alert_id", (first,)
            ).fetchall()
        return [_alert(row) for row in written]

    def route_alerts(
        self,
        accepts: Mapping[str, Callable[[Alert], bool]],
        now: datetime,
        digest_over: Mapping[str, int] | None = None,
    ) -> int:
        due = utc_text(now, "now")
        thresholds = digest_over or {}
        with self._session("route alerts in", write=True) as connection:
            rows = connection.execute(f"{_SELECT_ALERTS} WHERE routed = 0 ORDER BY alert_id").fetchall()
            routed = [
                (alert, sink)
                for alert in map(_alert, rows)
                for sink, accepted in sorted(accepts.items())
                if accepted(alert)
            ]
            per_batch: dict[tuple[str, str], int] = {}
            for alert, sink in routed:
                per_batch[(alert.batch, sink)] = per_batch.get((alert.batch, sink), 0) + 1
            deliveries = [
                (
                    alert.alert_id,
                    sink,
                    due,
                    idempotency_key(alert.key, sink),
                    digest_key(alert.batch, sink)
                    if alert.batch
                    and sink in thresholds
                    and per_batch[(alert.batch, sink)] > thresholds[sink]
                    else None,
                )
                for alert, sink in routed
            ]
            connection.executemany(
                "INSERT OR IGNORE INTO deliveries "
                "(alert_id, sink, status, next_attempt, idempotency_key, digest) "
                "VALUES (?, ?, 'pending', ?, ?, ?)",
                deliveries,
            )
            connection.executemany(
                "UPDATE alerts SET routed = 1 WHERE alert_id = ?", [(row["alert_id"],) for row in rows]
            )
        return len(deliveries)

    def due_deliveries(self, now: datetime, sinks: Collection[str], limit: int = 100) -> list[Delivery]:
        moment = utc(now, "now")
        with self._session("read deliveries from") as connection:
            rows = connection.execute(
                f"{_SELECT_DELIVERIES} WHERE d.status = 'pending' ORDER BY d.sink, d.alert_id"
            ).fetchall()
        due: list[Delivery] = []
        held: set[str] = set()
        for delivery in map(_delivery, rows):
            if delivery.sink not in sinks or delivery.sink in held:
                continue
            if delivery.next_attempt > moment:
                held.add(delivery.sink)  # in order: nothing later of this sink goes before it
                continue
            due.append(delivery)
        due.sort(key=lambda delivery: (delivery.alert.alert_id, delivery.sink))
        chosen = due[:limit]
        # A digest is sent whole: the rest of one that the limit cut goes along.
        digests = {delivery.digest for delivery in chosen if delivery.digest}
        return chosen + [delivery for delivery in due[limit:] if delivery.digest in digests]

    def deliveries(self, status: str | None = None, sink: str | None = None) -> list[Delivery]:
        if status is not None and status not in DELIVERY_STATUSES:
            raise ValueError(f"unknown delivery status {status!r}; accepted: {', '.join(DELIVERY_STATUSES)}")
        with self._session("read deliveries from") as connection:
            rows = connection.execute(
                f"{_SELECT_DELIVERIES} WHERE (?1 IS NULL OR d.status = ?1) AND (?2 IS NULL OR d.sink = ?2) "
                "ORDER BY d.alert_id, d.sink",
                (status, sink),
            ).fetchall()
        return [_delivery(row) for row in rows]

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        with self._session("count deliveries in") as connection:
            rows = connection.execute(
                "SELECT sink, status, count(*) FROM deliveries GROUP BY sink, status ORDER BY sink"
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for sink, status, count in rows:
            counts.setdefault(sink, dict.fromkeys(DELIVERY_STATUSES, 0))[status] = count
        return counts

    def mark_delivered(self, alert_ids: Sequence[int], sink: str, now: datetime) -> None:
        self._settle(alert_ids, sink, "status = 'delivered', finished = ?", utc_text(now, "now"))

    def mark_failed(
        self, alert_ids: Sequence[int], sink: str, error: str, retry_at: datetime
    ) -> list[Delivery]:
        retry = utc_text(retry_at, "retry_at")
        return self._settle(alert_ids, sink, "last_error = ?, next_attempt = ?", error, retry)

    def park(self, alert_ids: Sequence[int], sink: str, now: datetime, reason: str) -> None:
        assignments = "status = 'parked', finished = ?, last_error = ?"
        self._settle(alert_ids, sink, assignments, utc_text(now, "now"), reason)

    def _settle(self, alert_ids: Sequence[int], sink: str, assignments: str, *values: str) -> list[Delivery]:
        """Apply ``assignments`` (and one more attempt) to pending deliveries in one transaction and
        return them as they are then; ValueError, with nothing changed, unless all are pending."""
        with self._session("record a delivery in", write=True) as connection:
            for alert_id in alert_ids:
                cursor = connection.execute(
                    # ``assignments`` is fixed text from the callers above; values are parameters.
                    f"UPDATE deliveries SET attempts = attempts + 1, {assignments} "  # noqa: S608
                    "WHERE alert_id = ? AND sink = ? AND status = 'pending'",
                    (*values, alert_id, sink),
                )
                if cursor.rowcount == 0:
                    raise ValueError(
                        f"no pending delivery of alert {alert_id} to sink {sink!r} in {self._path}"
                    )
            rows = [
                connection.execute(
                    f"{_SELECT_DELIVERIES} WHERE d.alert_id = ? AND d.sink = ?", (alert_id, sink)
                ).fetchone()
                for alert_id in alert_ids
            ]
        return [_delivery(row) for row in rows]

    def prune_alerts(self, before: datetime) -> int:
        cutoff = utc_text(before, "before")
        with self._session("prune alerts in", write=True) as connection:
            connection.execute("CREATE TEMP TABLE IF NOT EXISTS pruned (alert_id INTEGER PRIMARY KEY)")
            connection.execute("DELETE FROM temp.pruned")
            connection.execute(
                """INSERT INTO temp.pruned
                   SELECT a.alert_id FROM alerts AS a
                   WHERE a.created < ?
                     AND NOT EXISTS (SELECT 1 FROM deliveries AS d
                                     WHERE d.alert_id = a.alert_id AND d.status = 'pending')
                     AND EXISTS (SELECT 1 FROM alerts AS later
                                 WHERE later.fingerprint = a.fingerprint AND later.created > a.created)""",
                (cutoff,),
            )
            connection.execute("DELETE FROM deliveries WHERE alert_id IN (SELECT alert_id FROM temp.pruned)")
            removed = connection.execute(
                "DELETE FROM alerts WHERE alert_id IN (SELECT alert_id FROM temp.pruned)"
            ).rowcount
            connection.execute("DELETE FROM temp.pruned")
        return int(removed)

    def check_writable(self) -> None:
        # Taking the write lock succeeds even on a read-only file; rewriting the header does not.
        with self._session("write to", write=True, keep=False) as connection:
            connection.execute(f"PRAGMA user_version = {schema_version(connection)}")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @contextlib.contextmanager
    def _session(
        self, action: str, *, write: bool = False, keep: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, errors translated; with ``write``, inside one
        transaction that takes the write lock at once and commits only if the block succeeds (and
        ``keep`` is true: a probe rolls back)."""
        with self._lock, _translated(self._path, action, self._busy_timeout_seconds):
            connection = self._connection
            if connection is None:
                raise StateError(f"the state store for {self._path} is closed; open it again")
            if not write:
                yield connection
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT" if keep else "ROLLBACK")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise


@contextlib.contextmanager
def _translated(path: Path, action: str, busy_timeout_seconds: float) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as error:
        raise StateError(_describe(error, path, action, busy_timeout_seconds)) from error


def _describe(error: sqlite3.Error, path: Path, action: str, busy_timeout_seconds: float) -> str:
    """What failed, on which file, and what to do, from the sqlite3 error's primary result code."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return (
            f"the state database {path} is locked by another process (waited {busy_timeout_seconds:g} s); "
            "stop the other entra-monitor using this file, or set state.path to a different file"
        )
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return (
            f"the state database {path} is corrupt or not a SQLite database ({error}); move it aside "
            "(the monitor then starts with empty state) or restore it from a backup"
        )
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY):
        return (
            f"cannot {action} the state database {path} ({error}); make {path.parent} and the file "
            "writable for the monitor's user, or set state.path to a writable location"
        )
    if code == sqlite3.SQLITE_FULL:
        return f"cannot {action} the state database {path}: the disk is full; free space on {path.parent}"
    return f"cannot {action} the state database {path} ({error})"


def _attributed(finding: Finding, tenant: str, check: str) -> Finding:
    if finding.tenant == tenant and finding.check == check:
        return finding
    if not finding.tenant and not finding.check:
        return finding.for_run(tenant, check)
    raise ValueError(
        f"finding {finding.rule} on {finding.resource.id} belongs to tenant {finding.tenant!r}, check "
        f"{finding.check!r}, not to the run of {check!r} for {tenant!r} being reconciled"
    )


def _listing_order(stored: StoredFinding) -> tuple[int, str, str, datetime, str]:
    finding = stored.finding
    return (-finding.severity, finding.tenant, finding.check, stored.first_seen, stored.fingerprint)


def _select_tracked(connection: sqlite3.Connection, where: str, *parameters: Any) -> list[Tracked]:
    rows = connection.execute(f"{SELECT_FINDINGS} {where}", parameters).fetchall()
    return [tracked_from_row(row) for row in rows]


_ALERT_COLUMNS = (
    "alert_key, created, kind, fingerprint, tenant, check_id, rule, severity, previous_severity, "
    "resource_type, resource_id, resource_name, message, remediation, evidence, reference_list, first_seen, "
    "batch"
)
_INSERT_ALERT = (
    f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES (:alert_key, :created, :kind, :fingerprint, :tenant, "  # noqa: S608
    ":check_id, :rule, :severity, :previous_severity, :resource_type, :resource_id, :resource_name, "
    ":message, :remediation, :evidence, :reference_list, :first_seen, :batch)"
)
_SELECT_ALERTS = f"SELECT alert_id, {_ALERT_COLUMNS} FROM alerts"  # noqa: S608 (fixed text)
_SELECT_DELIVERIES = (
    "SELECT a.alert_id, "
    + ", ".join(f"a.{column.strip()}" for column in _ALERT_COLUMNS.split(","))
    + ", d.sink, d.status, d.attempts, d.next_attempt, d.last_error, d.finished, d.idempotency_key, "
    "d.digest "
    "FROM deliveries AS d JOIN alerts AS a ON a.alert_id = d.alert_id"
)


def idempotency_key(alert_key: str, sink: str) -> str:
    """The key a sink receives with an alert: the same for the same alert and sink, always."""
    return hashlib.sha256(f"{alert_key}\x1f{sink}".encode()).hexdigest()[:32]


def digest_key(batch: str, sink: str) -> str:
    """The idempotency key of the digest that carries ``batch``'s alerts to ``sink``."""
    return idempotency_key(f"digest\x1f{batch}", sink)


def _group_order(group: list[Tracked]) -> tuple[str, str]:
    return (group[0].finding.tenant, group[0].finding.check)


def _reminder_order(tracked: Tracked) -> tuple[int, datetime, str]:
    return (-tracked.finding.severity, tracked.first_seen, tracked.finding.fingerprint)


def _alert_row(transition: Transition, state: Tracked, now: datetime, batch: str) -> dict[str, Any]:
    row = finding_row(dataclasses.replace(state, finding=transition.finding))
    previous = transition.previous_severity
    return {
        **{key: row[key] for key in _ALERT_COLUMNS.split(", ") if key in row},
        "alert_key": uuid.uuid4().hex,
        "created": utc_text(now, "now"),
        "kind": transition.kind,
        "previous_severity": None if previous is None else previous.label,
        "batch": batch,
    }


def _alert(row: sqlite3.Row) -> Alert:
    finding = finding_from_row(row)
    previous = row["previous_severity"]
    return Alert(
        int(row["alert_id"]),
        row["alert_key"],
        from_utc_text(row["created"]),
        row["kind"],
        finding,
        from_utc_text(row["first_seen"]),
        None if previous is None else Severity.parse(previous),
        row["batch"],
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        _alert(row),
        row["sink"],
        row["status"],
        int(row["attempts"]),
        from_utc_text(row["next_attempt"]),
        row["last_error"],
        None if row["finished"] is None else from_utc_text(row["finished"]),
        row["idempotency_key"],
        row["digest"],
    )
