"""``snapshot.json``: what one tenant's checks found, built from the state store and the settings.

:func:`gather_inputs` reads the store (open findings, the last finished run of each check) and
:func:`build_document` turns that, the settings and the previous snapshot's document into the
document ``docs/snapshots.md`` describes. The builder is pure: it takes the time and the id as
arguments and returns plain JSON values.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from monitor import __version__
from monitor.app import waivers_from
from monitor.check import Finding, Severity
from monitor.errors import ConfigurationError
from monitor.runner import WORKER_CHECK, coverage_of, not_evaluated_of
from monitor.settings import MonitorSettings
from monitor.snapshots.times import SCHEMA_VERSION, iso, parse_time
from monitor.state import RunRecord, StoredFinding, Waiver
from monitor.storage import AsyncStore

SEVERITIES = tuple(severity.label for severity in sorted(Severity, reverse=True))
"""critical, high, medium, low, info: the order of every severity table."""
REPORTED_STATUSES = frozenset({"succeeded", "failed", "timed_out", "unavailable"})
"""Run statuses a snapshot reports as they are; a check without such a run is ``not_run``."""
SECRET_NAME_PARTS = ("secret", "password", "key", "connection_string")
RUNS_LOOKED_AT = 20


@dataclass(frozen=True)
class CheckInfo:
    """What a snapshot says about a check besides its run: its id and the permissions it reads with."""

    id: str
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class SnapshotInputs:
    """Everything a snapshot of one tenant is built from."""

    tenant_name: str
    tenant_id: str
    checks: Sequence[CheckInfo]
    runs: Mapping[str, RunRecord | None]
    """The last finished run of each check (None: it never finished one)."""
    open_findings: Sequence[StoredFinding]
    settings: MonitorSettings


async def gather_inputs(
    store: AsyncStore,
    settings: MonitorSettings,
    tenant_name: str,
    tenant_id: str,
    checks: Sequence[CheckInfo],
) -> SnapshotInputs:
    """Read the tenant's open findings and each check's last finished run from ``store``."""
    runs: dict[str, RunRecord | None] = {}
    for check in checks:
        records = await store.runs(tenant=tenant_id, check=check.id, limit=RUNS_LOOKED_AT)
        runs[check.id] = next((r for r in records if r.status in REPORTED_STATUSES), None)
    findings = await store.findings(tenant=tenant_id, status="open")
    return SnapshotInputs(tenant_name, tenant_id, list(checks), runs, findings, settings)


def build_document(
    inputs: SnapshotInputs, previous: Mapping[str, Any] | None, created_at: datetime, snapshot_id: str
) -> dict[str, Any]:
    """The ``snapshot.json`` document (see ``docs/snapshots.md``); ``previous`` is the document of
    the tenant's previous snapshot, which the change fields compare with."""
    settings = inputs.settings
    previous_findings = _findings_by_fingerprint(previous)
    waivers = _waivers_in_force(inputs, created_at)
    checks = [_check_entry(check, inputs.runs.get(check.id)) for check in inputs.checks]
    listed = {check.id for check in inputs.checks}
    others = sorted({s.finding.check for s in inputs.open_findings} - listed)
    checks += [_unscheduled_entry(check_id) for check_id in others]
    checks.sort(key=lambda entry: entry["id"])
    for entry in checks:
        entry["findings"] = [
            _finding_entry(stored, previous_findings, previous, waivers)
            for stored in _of_check(inputs.open_findings, entry["id"])
        ]
    current = {f["fingerprint"] for entry in checks for f in entry["findings"]}
    resolved = [_resolved_entry(f) for fp, f in sorted(previous_findings.items()) if fp not in current]
    runs = [run for run in inputs.runs.values() if run is not None]
    return {
        "schema_version": SCHEMA_VERSION,
        "id": snapshot_id,
        "created_at": iso(created_at),
        "tenant": {"name": inputs.tenant_name, "tenant_id": inputs.tenant_id},
        "monitor": {"version": __version__},
        "configuration": {"sha256": configuration_sha256(settings), "secrets_excluded": True},
        "baseline": baseline_entry(settings.baseline),
        "sweep": {
            "started_at": iso(min(run.started for run in runs)) if runs else None,
            "finished_at": iso(max(run.ended for run in runs if run.ended)) if runs else None,
        },
        "checks": checks,
        "waivers": [_waiver_entry(waiver, inputs.open_findings) for waiver in waivers],
        "resolved_since_previous": resolved,
        "summary": _summary(checks, resolved, previous),
    }


# -- checks and findings ----------------------------------------------------------------------


def _of_check(findings: Sequence[StoredFinding], check_id: str) -> list[StoredFinding]:
    """The check's open findings, most severe first, then by fingerprint."""
    mine = [s for s in findings if s.finding.check == check_id]
    return sorted(mine, key=lambda s: (-s.finding.severity, s.finding.fingerprint))


def _check_entry(check: CheckInfo, run: RunRecord | None) -> dict[str, Any]:
    if run is None:
        return {
            "id": check.id,
            "status": "not_run",
            "run_id": None,
            "started_at": None,
            "finished_at": None,
            "duration_seconds": None,
            "note": "the check has not finished a run for this tenant yet",
            "rules_not_evaluated": [],
            "permissions": list(check.permissions),
            "coverage": {},
            "findings": [],
        }
    duration = (run.ended - run.started).total_seconds() if run.ended else None
    return {
        "id": check.id,
        "status": run.status,
        "run_id": run.run_id,
        "started_at": iso(run.started),
        "finished_at": iso(run.ended) if run.ended else None,
        "duration_seconds": round(duration, 3) if duration is not None else None,
        "note": run.error,
        "rules_not_evaluated": not_evaluated_of(run.counts),
        "permissions": list(check.permissions),
        "coverage": coverage_of(run.counts),
        "findings": [],
    }


def _unscheduled_entry(check_id: str) -> dict[str, Any]:
    """Open findings of a check the tenant does not run (now): the worker's own, or a disabled check's."""
    note = (
        "the monitor's own findings: checks that failed several runs in a row"
        if check_id == WORKER_CHECK
        else "the check is not enabled; these findings are from its earlier runs"
    )
    entry = _check_entry(CheckInfo(check_id, ()), None)
    entry["note"] = note
    return entry


def _finding_entry(
    stored: StoredFinding,
    previous: Mapping[str, Mapping[str, Any]],
    previous_document: Mapping[str, Any] | None,
    waivers: list[Waiver],
) -> dict[str, Any]:
    finding = stored.finding
    waiver = None
    if stored.waived is not None:
        waiver = next((i for i, w in enumerate(waivers) if w.matches(finding)), None)
    return {
        "fingerprint": finding.fingerprint,
        "rule": finding.rule,
        "severity": finding.severity.label,
        "resource": _resource(finding),
        "message": finding.message,
        "remediation": finding.remediation,
        "evidence": json.loads(json.dumps(dict(finding.evidence), default=str)),
        "references": list(finding.references),
        "first_seen": iso(stored.first_seen),
        "last_seen": iso(stored.last_seen),
        "change": _change(stored, previous, previous_document),
        "waiver": waiver,
    }


def _change(
    stored: StoredFinding,
    previous: Mapping[str, Mapping[str, Any]],
    previous_document: Mapping[str, Any] | None,
) -> str:
    """new, open, reopened or severity_changed, relative to the previous snapshot."""
    before = previous.get(stored.finding.fingerprint)
    if before is not None:
        return "open" if before["severity"] == stored.finding.severity.label else "severity_changed"
    if previous_document is not None and stored.times_reopened > 0:
        previous_time = parse_time(previous_document["created_at"])
        if stored.first_seen < previous_time:
            return "reopened"  # it existed before the previous snapshot, resolved, and came back
    return "new"


def _resource(finding: Finding) -> dict[str, str]:
    resource = finding.resource
    return {"type": resource.type, "id": resource.id, "display_name": resource.display_name}


def _findings_by_fingerprint(document: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    if document is None:
        return {}
    return {
        finding["fingerprint"]: {**finding, "check": check["id"]}
        for check in document.get("checks", [])
        for finding in check.get("findings", [])
    }


def _resolved_entry(finding: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("fingerprint", "check", "rule", "severity", "resource")
    return {key: finding[key] for key in keys}


# -- waivers -----------------------------------------------------------------------------------


def _waivers_in_force(inputs: SnapshotInputs, created_at: datetime) -> list[Waiver]:
    """The configured waivers for this tenant active on the snapshot's date, then any waiver the
    store still records on a finding (one expired or removed since its check last ran)."""
    today = created_at.astimezone(UTC).date()
    waivers = [
        waiver
        for waiver in waivers_from(inputs.settings)
        if waiver.active(today)
        and (waiver.tenant is None or waiver.tenant.casefold() == inputs.tenant_id.casefold())
    ]
    for stored in inputs.open_findings:
        if stored.waived is not None and not any(w.matches(stored.finding) for w in waivers):
            waivers.append(stored.waived)
    return waivers


def _waiver_entry(waiver: Waiver, findings: Sequence[StoredFinding]) -> dict[str, Any]:
    matched = sorted(
        s.finding.fingerprint for s in findings if s.waived is not None and waiver.matches(s.finding)
    )
    return {
        "fingerprint": waiver.fingerprint,
        "check": waiver.check,
        "rule": waiver.rule,
        "resource_id": waiver.resource_id,
        "justification": waiver.justification,
        "approver": waiver.approver,
        "expires": waiver.expires.isoformat(),
        "matched": matched,
    }


# -- summary -----------------------------------------------------------------------------------


def _summary(
    checks: list[dict[str, Any]], resolved: list[dict[str, Any]], previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    counted = [f for entry in checks for f in entry["findings"] if f["waiver"] is None]
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_reference: dict[str, int] = {}
    for finding in counted:
        by_severity[finding["severity"]] += 1
        for reference in dict.fromkeys(finding["references"]):
            by_reference[reference] = by_reference.get(reference, 0) + 1
    new = sum(1 for f in counted if f["change"] in ("new", "reopened"))
    return {
        "open_by_severity": by_severity,
        "open_by_reference": dict(sorted(by_reference.items())),
        "since_previous": {"new": new, "open": len(counted), "resolved": len(resolved)},
        "previous": None
        if previous is None
        else {
            "id": previous["id"],
            "created_at": previous["created_at"],
            "open_by_severity": previous["summary"]["open_by_severity"],
        },
    }


# -- configuration and baseline ------------------------------------------------------------------


def configuration_sha256(settings: MonitorSettings) -> str:
    """SHA-256 of the effective settings as canonical JSON, without any secret: every SecretStr
    and every field whose name contains secret, password, key or connection_string is left out."""
    canonical = json.dumps(_without_secrets(settings), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _without_secrets(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {
            name: _without_secrets(getattr(value, name))
            for name in type(value).model_fields
            if not _secret_name(name) and not isinstance(getattr(value, name), SecretStr)
        }
    if isinstance(value, Mapping):
        return {
            str(name): _without_secrets(item)
            for name, item in value.items()
            if not _secret_name(str(name)) and not isinstance(item, SecretStr)
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [_without_secrets(item) for item in value if not isinstance(item, SecretStr)]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, Severity):
        return value.label
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


def baseline_entry(path: Path | None) -> dict[str, Any]:
    """Where the baseline came from, the SHA-256 of its bytes, and its values."""
    if path is None:
        data = resources.files("monitor.data").joinpath("baseline.toml").read_bytes()
        source = "built-in"
    else:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ConfigurationError(f"baseline: cannot read {path} ({error.strerror})") from None
        source = str(path)
    return {
        "source": source,
        "sha256": hashlib.sha256(data).hexdigest(),
        "values": json.loads(json.dumps(tomllib.loads(data.decode("utf-8")), default=str)),
    }
