"""Snapshots without a tenant: the real document builder and writer, fed hand-made findings and runs,
for the tests of the chain (tampering, crashes, retention, diff) that need many snapshots fast."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from monitor.check import Finding, Resource, Severity
from monitor.settings import MonitorSettings
from monitor.snapshots.document import CheckInfo, SnapshotInputs, build_document
from monitor.snapshots.settings import SnapshotSettings
from monitor.snapshots.writer import SnapshotWriter, WrittenSnapshot
from monitor.state import RunRecord, StoredFinding

TENANT_ID = "00000000-0000-0000-0000-00000000000a"
T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
CHECKS = (CheckInfo("credential-expiry", ("Application.Read.All",)), CheckInfo("consent-grants", ()))


def monitor_settings(**values: Any) -> MonitorSettings:
    tenant = {
        "name": "lab",
        "tenant_id": TENANT_ID,
        "credential": {
            "kind": "client_secret",
            "client_id": "00000000-0000-0000-0000-00000000000b",
            "client_secret": "first secret",
        },
    }
    return MonitorSettings.model_validate({"tenants": [tenant], **values})


def finding(
    rule: str,
    resource_id: str,
    severity: Severity = Severity.HIGH,
    *,
    check: str = "credential-expiry",
    message: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> Finding:
    return Finding(
        rule,
        severity,
        Resource("application", resource_id, f"App {resource_id}"),
        message or f"{rule} on {resource_id}",
        "Rotate it.",
        evidence or {"daysLeft": 3},
        ("seed: Security Best Practices › Certificate Management",),
        TENANT_ID,
        check,
    )


def stored(item: Finding, first_seen: datetime = T0, times_reopened: int = 0) -> StoredFinding:
    return StoredFinding(item, "open", first_seen, first_seen, None, None, times_reopened)


def run(check: str, started: datetime = T0, status: str = "succeeded") -> RunRecord:
    counts = {"findings": 0, "coverage:applications": 12, "coverage:servicePrincipals": 14}
    return RunRecord(
        f"run-{check}", TENANT_ID, check, started, started + timedelta(seconds=2), status, counts, None
    )


@dataclass
class Clock:
    """A clock tests move by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Chain:
    """A writer over ``directory`` with a movable clock and the findings its next snapshot holds."""

    directory: Path
    settings: SnapshotSettings
    clock: Clock = field(default_factory=Clock)
    findings: list[StoredFinding] = field(default_factory=list)
    render_report: Callable[[dict[str, Any], dict[str, Any] | None], str] | None = None

    @property
    def tenant_directory(self) -> Path:
        return self.directory / "lab"

    def writer(self) -> SnapshotWriter:
        return SnapshotWriter(self.settings, clock=self.clock, render_report=self.render_report)

    def inputs(self, monitor: MonitorSettings | None = None) -> SnapshotInputs:
        runs = {check.id: run(check.id, self.clock.now) for check in CHECKS}
        return SnapshotInputs(
            "lab", TENANT_ID, CHECKS, runs, list(self.findings), monitor or monitor_settings()
        )

    def write(self, count: int = 1, step: timedelta = timedelta(hours=1)) -> list[WrittenSnapshot]:
        written = []
        for _ in range(count):
            written.append(self.writer().write("lab", partial(build_document, self.inputs())))
            self.clock.now += step
        return written


def new_chain(directory: Path, findings: Sequence[StoredFinding] = (), **settings: Any) -> Chain:
    """A chain in ``directory`` with the given ``[snapshots]`` settings and open findings."""
    snapshot_settings = SnapshotSettings(directory=directory, **settings)
    return Chain(directory, snapshot_settings, findings=list(findings) or [stored(finding("expired", "a1"))])
