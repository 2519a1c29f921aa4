"""The long-running worker: one APScheduler job per (tenant, check), and a graceful life cycle.

- Each job runs first at start-up, then on its schedule with jitter; ``max_instances=1`` (a run
  still going when the next is due is skipped, never overlapped), ``coalesce`` (runs missed while
  the loop was busy collapse into one), and a misfire grace period.
- At most ``worker.max_parallel_checks`` runs at once across tenants.
- Stopping (:meth:`Worker.run` returns when ``stop`` is set): the scheduler is paused so nothing
  new starts, runs in flight get ``worker.grace_seconds`` to finish and are then cancelled (and
  recorded as cancelled), and only then is the scheduler shut down. APScheduler 3 cancels async
  jobs on shutdown whatever ``wait`` says, which is why the worker tracks its own runs.
- A failing check never stops the worker: the runner records it and carries on.

The worker also answers the health server: :meth:`status` (checks, schedules, last and next runs,
open findings by severity) and :meth:`readiness_problems`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import MonitorApp, Scheduled, describe_schedule
from monitor.check import Severity
from monitor.errors import MonitorError, StateError
from monitor.runner import PreparedCheck, RunOutcome, Tenant
from monitor.schedules import build_trigger as schedule_trigger
from monitor.snapshots.service import write_snapshot
from monitor.state import DELIVERY_STATUSES

logger = logging.getLogger(__name__)
ALERT_ROUND_SECONDS = 30
"""How often the worker sends alerts whose back-off has ended (new ones go after each run)."""
STATE_PROBE_SECONDS = 30.0


def build_trigger(scheduled: Scheduled) -> BaseTrigger:
    """APScheduler's trigger for a check's schedule (see :mod:`monitor.schedules`)."""
    return schedule_trigger(scheduled.schedule, scheduled.jitter_seconds)


class Worker:
    """Schedules every enabled check for every tenant of ``app`` until told to stop."""

    def __init__(self, app: MonitorApp) -> None:
        self.app = app
        settings = app.settings.worker
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(settings.misfire_grace_seconds),
            },
        )
        self._parallel = asyncio.Semaphore(settings.max_parallel_checks)
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._last: dict[tuple[str, str], RunOutcome] = {}
        self._failures: dict[tuple[str, str], int] = {}
        self._open: Mapping[tuple[str, str, Severity], int] = {}
        self._deliveries: Mapping[str, Mapping[str, int]] = {}
        self._state_problem: str | None = None
        self._stopping = False
        self._swept: dict[str, set[str]] = {}
        """Per tenant, the checks that finished a run since its last snapshot."""

    async def run(self, stop: asyncio.Event) -> None:
        """Schedule, run until ``stop`` is set, then drain (see the module docstring)."""
        abandoned = await self.app.store.abandon_running(
            self.app.clock(), "the worker stopped without finishing this run (crash or kill)"
        )
        if abandoned:
            logger.warning("marked %d runs left running by an earlier worker as cancelled", abandoned)
        self._open = await self.app.store.open_counts()
        now = datetime.now(UTC)
        for tenant in self.app.tenants:
            for prepared in self.app.checks:
                self._scheduler.add_job(
                    self._job,
                    build_trigger(self.app.schedules[prepared.id]),
                    args=(tenant, prepared),
                    id=f"{tenant.name}/{prepared.id}",
                    name=f"{prepared.id} for {tenant.name}",
                    next_run_time=now,
                )
        if self.app.alerts.sinks:
            # Deliveries that failed become due again as their back-off ends.
            self._scheduler.add_job(
                self._deliver,
                IntervalTrigger(seconds=ALERT_ROUND_SECONDS),
                id="alerts",
                name="alert delivery",
                next_run_time=now,
            )
        self._scheduler.start()
        logger.info(
            "worker started",
            extra={"tenants": [t.name for t in self.app.tenants], "checks": [c.id for c in self.app.checks]},
        )
        probe = asyncio.create_task(self._probe_state())
        try:
            await stop.wait()
        finally:
            probe.cancel()
            await self._drain()

    async def _job(self, tenant: Tenant, prepared: PreparedCheck) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            async with self._parallel:
                outcome = await self.app.runner.run(tenant, prepared)
            await self._after(tenant, prepared, outcome)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Cancelled by the drain after the grace period: recorded by the runner, not an error.
        finally:
            self._in_flight.discard(task)

    async def _after(self, tenant: Tenant, prepared: PreparedCheck, outcome: RunOutcome) -> None:
        key = (tenant.name, prepared.id)
        self._last[key] = outcome
        self._failures[key] = await self.app.store.consecutive_failures(tenant.tenant_id, prepared.id)
        self._open = await self.app.store.open_counts()
        if outcome.transitions:
            await self._deliver()
        if outcome.status != "cancelled":
            await self._snapshot_if_swept(tenant, prepared)

    async def _snapshot_if_swept(self, tenant: Tenant, prepared: PreparedCheck) -> None:
        """A snapshot once every check of the tenant has finished a run since the last one."""
        if self.app.snapshots is None or not self.app.settings.snapshots.enabled:
            return
        swept = self._swept.setdefault(tenant.name, set())
        swept.add(prepared.id)
        if not {check.id for check in self.app.checks} <= swept:
            return
        swept.clear()
        try:
            await write_snapshot(self.app, tenant)  # the writer logs where it wrote it
        except MonitorError as error:
            logger.error("could not write the snapshot of %s: %s", tenant.name, error)

    async def _deliver(self) -> None:
        """A delivery round, then the outbox's counts for ``/status``."""
        await self.app.alerts.deliver()
        try:
            self._deliveries = await self.app.store.delivery_counts()
        except StateError as error:
            logger.error("could not count the alert deliveries: %s", error)

    async def _drain(self) -> None:
        self._stopping = True
        self._scheduler.pause()
        grace = self.app.settings.worker.grace_seconds
        running = set(self._in_flight)
        if running:
            logger.info("waiting up to %g s for %d running checks", grace, len(running))
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("cancelled %d checks still running after the grace period", len(pending))
                await asyncio.wait(pending)
        self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # APScheduler queues its real shutdown on the loop
        logger.info("worker stopped")

    async def _probe_state(self) -> None:
        while True:
            try:
                await self.app.store.check_writable()
                self._state_problem = None
            except Exception as error:
                self._state_problem = f"state store not writable: {error}"
            await asyncio.sleep(STATE_PROBE_SECONDS)

    def readiness_problems(self) -> list[str]:
        """Why the worker is not ready (empty when it is)."""
        problems = []
        if not self._scheduler.running or self._stopping:
            problems.append("the scheduler is not running")
        if self._state_problem:
            problems.append(self._state_problem)
        limits = {prepared.id: prepared.check.failures_before_alert for prepared in self.app.checks}
        for (tenant, check), failures in sorted(self._failures.items()):
            if failures >= limits.get(check, 1):
                problems.append(f"{check} for {tenant} has failed {failures} runs in a row")
        return problems

    def status(self) -> dict[str, Any]:
        """The JSON of ``/status``."""
        jobs = {job.id: job for job in self._scheduler.get_jobs()} if self._scheduler.running else {}
        checks = []
        for tenant in self.app.tenants:
            for prepared in self.app.checks:
                key = (tenant.name, prepared.id)
                job = jobs.get(f"{tenant.name}/{prepared.id}")
                last = self._last.get(key)
                checks.append(
                    {
                        "tenant": tenant.name,
                        "check": prepared.id,
                        "schedule": describe_schedule(self.app.schedules[prepared.id]),
                        "nextRun": _iso(job.next_run_time) if job and job.next_run_time else None,
                        "lastRun": None if last is None else _outcome(last),
                        "consecutiveFailures": self._failures.get(key, 0),
                    }
                )
        return {
            "checks": checks,
            "openFindings": self._open_by_severity(),
            "alerts": {
                sink.id: dict(self._deliveries.get(sink.id, dict.fromkeys(DELIVERY_STATUSES, 0)))
                for sink in self.app.alerts.sinks
            },
        }

    def _open_by_severity(self) -> dict[str, int]:
        totals = {severity.label: 0 for severity in reversed(Severity)}
        for (_tenant, _check, severity), count in self._open.items():
            totals[severity.label] += count
        return totals


def _outcome(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "runId": outcome.run_id,
        "status": outcome.status,
        "findings": len(outcome.findings),
        "measurements": len(outcome.measurements),
        "durationSeconds": round(outcome.duration_seconds, 3),
        "error": outcome.error,
        "unavailable": dict(outcome.unavailable),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
