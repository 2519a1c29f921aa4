"""How the SQLite store writes values into rows and reads them back.

Datetimes are stored as ISO 8601 UTC text with microseconds (``2026-11-27T12:00:00.000000+00:00``,
so text order is time order) and read back timezone-aware UTC. Evidence, references, waivers and
run counts are JSON; evidence must be plain JSON values (dates as ISO strings), and it comes back
exactly as given (tuples as lists).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from monitor.check import Finding, Resource, Severity
from monitor.state.lifecycle import Tracked
from monitor.state.store import RunRecord, Waiver

SELECT_FINDINGS = (
    "SELECT fingerprint, tenant, check_id, rule, severity, resource_type, resource_id, resource_name, "
    "message, remediation, evidence, reference_list, status, first_seen, last_seen, resolved_at, "
    "times_reopened, waiver, alerted, ever_alerted FROM findings"
)
SAVE_FINDING = (
    "INSERT OR REPLACE INTO findings (fingerprint, tenant, check_id, rule, severity, resource_type, "
    "resource_id, resource_name, message, remediation, evidence, reference_list, status, first_seen, "
    "last_seen, resolved_at, times_reopened, waiver, alerted, ever_alerted) "
    "VALUES (:fingerprint, :tenant, :check_id, :rule, :severity, :resource_type, :resource_id, "
    ":resource_name, :message, :remediation, :evidence, :reference_list, :status, :first_seen, "
    ":last_seen, :resolved_at, :times_reopened, :waiver, :alerted, :ever_alerted)"
)


def finding_row(tracked: Tracked) -> dict[str, Any]:
    """The parameters of :data:`SAVE_FINDING`; ValueError if the evidence is not plain JSON."""
    finding = tracked.finding
    return {
        "fingerprint": finding.fingerprint,
        "tenant": finding.tenant,
        "check_id": finding.check,
        "rule": finding.rule,
        "severity": finding.severity.label,
        "resource_type": finding.resource.type,
        "resource_id": finding.resource.id,
        "resource_name": finding.resource.display_name,
        "message": finding.message,
        "remediation": finding.remediation,
        "evidence": _evidence_json(finding),
        "reference_list": json.dumps(list(finding.references), ensure_ascii=False),
        "status": tracked.status,
        "first_seen": utc_text(tracked.first_seen, "first_seen"),
        "last_seen": utc_text(tracked.last_seen, "last_seen"),
        "resolved_at": None if tracked.resolved_at is None else utc_text(tracked.resolved_at, "resolved_at"),
        "times_reopened": tracked.times_reopened,
        "waiver": None if tracked.waiver is None else _waiver_json(tracked.waiver),
        "alerted": int(tracked.alerted),
        "ever_alerted": int(tracked.ever_alerted),
    }


def finding_from_row(row: sqlite3.Row) -> Finding:
    """The finding stored in a row of the findings or the alerts table (same column names)."""
    return Finding(
        row["rule"],
        Severity.parse(row["severity"]),
        Resource(row["resource_type"], row["resource_id"], row["resource_name"]),
        row["message"],
        row["remediation"],
        json.loads(row["evidence"]),
        tuple(json.loads(row["reference_list"])),
        row["tenant"],
        row["check_id"],
    )


def tracked_from_row(row: sqlite3.Row) -> Tracked:
    """A row of :data:`SELECT_FINDINGS` read back."""
    return Tracked(
        finding_from_row(row),
        row["status"],
        from_utc_text(row["first_seen"]),
        from_utc_text(row["last_seen"]),
        None if row["resolved_at"] is None else from_utc_text(row["resolved_at"]),
        int(row["times_reopened"]),
        None if row["waiver"] is None else _waiver(row["waiver"]),
        bool(row["alerted"]),
        bool(row["ever_alerted"]),
    )


def run_record(row: sqlite3.Row) -> RunRecord:
    """A row of the runs table read back."""
    counts = json.loads(row["counts"])
    return RunRecord(
        row["run_id"],
        row["tenant"],
        row["check_id"],
        from_utc_text(row["started"]),
        None if row["ended"] is None else from_utc_text(row["ended"]),
        row["status"],
        {str(name): int(value) for name, value in counts.items()},
        row["error"],
    )


def counts_json(counts: Mapping[str, int]) -> str:
    return json.dumps({str(name): int(value) for name, value in counts.items()})


def utc(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC; ValueError, naming the argument, for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {moment.isoformat()}")
    return moment.astimezone(UTC)


def utc_text(moment: datetime, name: str) -> str:
    return utc(moment, name).isoformat(timespec="microseconds")


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _evidence_json(finding: Finding) -> str:
    try:
        return json.dumps(dict(finding.evidence), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"the evidence of finding {finding.rule} on {finding.resource.type} {finding.resource.id} "
            f"is not plain JSON ({error}); give dates as ISO strings"
        ) from error


def _waiver_json(waiver: Waiver) -> str:
    fields = {
        "fingerprint": waiver.fingerprint,
        "rule": waiver.rule,
        "resource_id": waiver.resource_id,
        "check": waiver.check,
        "tenant": waiver.tenant,
        "justification": waiver.justification,
        "approver": waiver.approver,
        "expires": waiver.expires.isoformat(),
    }
    return json.dumps(fields, ensure_ascii=False)


def _waiver(text: str) -> Waiver:
    fields = json.loads(text)
    fields["expires"] = date.fromisoformat(fields["expires"])
    return Waiver(**fields)
