"""One sweep (``entra-monitor once``) and the long-running worker (``entra-monitor run``), as
coroutines the command line drives.

Exit codes of a sweep: 0 when every run succeeded and no open finding reaches ``fail_on``; 1 when
one does; 3 when a check could not run (failed or timed out), since the sweep cannot vouch for
what it did not see. Invalid settings and an unusable state store are reported by the caller
with exit code 2.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from monitor.app import MonitorApp, build_app
from monitor.check import Severity
from monitor.health import HealthServer
from monitor.runner import PreparedCheck, RunOutcome, Tenant
from monitor.settings import MonitorSettings
from monitor.snapshots.service import write_snapshot
from monitor.snapshots.writer import WrittenSnapshot
from monitor.state import StoredFinding
from monitor.worker import Worker

EXIT_OK, EXIT_FINDINGS, EXIT_SETTINGS, EXIT_CHECK_FAILED = 0, 1, 2, 3
FAILED_STATUSES = frozenset({"failed", "timed_out"})
Progress = Callable[[Tenant, PreparedCheck, RunOutcome | None], None]


@dataclass(frozen=True)
class SweepResult:
    """The runs of a sweep and the findings open afterwards (for the tenants and checks swept)."""

    outcomes: list[RunOutcome]
    open_findings: list[StoredFinding]
    tenant_names: dict[str, str]
    snapshots: list[WrittenSnapshot] = field(default_factory=list)
    """The snapshots written after the sweep (``snapshot create``), one per tenant."""

    def exit_code(self, fail_on: Severity | None) -> int:
        if any(outcome.status in FAILED_STATUSES for outcome in self.outcomes):
            return EXIT_CHECK_FAILED
        if fail_on is not None and any(
            stored.waived is None and stored.finding.severity >= fail_on for stored in self.open_findings
        ):
            return EXIT_FINDINGS
        return EXIT_OK


async def sweep(
    settings: MonitorSettings,
    *,
    only_checks: Sequence[str] | None = None,
    only_tenants: Sequence[str] | None = None,
    progress: Progress | None = None,
    snapshots: bool = False,
) -> SweepResult:
    """Run every selected check for every selected tenant once, at most
    ``worker.max_parallel_checks`` at a time, then read the open findings; with ``snapshots``,
    write each tenant's snapshot after its alerts were delivered."""
    app = await build_app(settings, only_checks=only_checks, only_tenants=only_tenants)
    try:
        return await _sweep(app, progress, snapshots)
    finally:
        await app.aclose()


async def _sweep(app: MonitorApp, progress: Progress | None, snapshots: bool = False) -> SweepResult:
    parallel = asyncio.Semaphore(app.settings.worker.max_parallel_checks)

    async def one(tenant: Tenant, prepared: PreparedCheck) -> RunOutcome:
        async with parallel:
            if progress:
                progress(tenant, prepared, None)
            outcome = await app.runner.run(tenant, prepared)
            if progress:
                progress(tenant, prepared, outcome)
            return outcome

    outcomes = await asyncio.gather(*(one(t, c) for t in app.tenants for c in app.checks))
    await app.alerts.deliver_all()  # what cannot be delivered now stays in the outbox
    swept_checks = {prepared.id for prepared in app.checks}
    open_findings = [
        stored
        for tenant in app.tenants
        for stored in await app.store.findings(tenant=tenant.tenant_id, status="open")
        if stored.finding.check in swept_checks or stored.finding.check == "worker"
    ]
    names = {tenant.tenant_id: tenant.name for tenant in app.tenants}
    written = [await write_snapshot(app, tenant) for tenant in app.tenants] if snapshots else []
    return SweepResult(list(outcomes), open_findings, names, written)


async def run_worker(
    settings: MonitorSettings, *, on_started: Callable[[Worker, int | None], None] | None = None
) -> None:
    """The worker with its health server, until SIGTERM or SIGINT; returns after a clean drain."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        app = await build_app(settings)
        try:
            await _serve(app, stop, on_started)
        finally:
            await app.aclose()
    finally:
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signal_number)


async def _serve(
    app: MonitorApp, stop: asyncio.Event, on_started: Callable[[Worker, int | None], None] | None
) -> None:
    worker = Worker(app)
    health: HealthServer | None = None
    if app.settings.health.enabled:
        settings = app.settings.health
        telemetry = app.telemetry
        metrics = telemetry.prometheus_exposition if telemetry and telemetry.prometheus_enabled else None
        health = HealthServer(
            settings.host, settings.port, worker.status, worker.readiness_problems, metrics=metrics
        )
        await health.start()
    try:
        if on_started:
            on_started(worker, health.port if health else None)
        await worker.run(stop)
    finally:
        if health is not None:
            await health.stop()
