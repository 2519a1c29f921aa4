"""One run of one check for one tenant: collect → evaluate → reconcile → record.

:meth:`CheckRunner.run` never raises for a check's own failure: a check that raises, times out or
finds its data unlicensed gets its run recorded with that status and the other checks carry on.
After ``failures_before_alert`` consecutive failed runs, the worker's own pseudo-check
(:data:`WORKER_CHECK`) holds a ``check-failing`` finding for it, resolved by its next success.
Only cancellation (the worker stopping) propagates, after the run is recorded as cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitor.check import Check, CheckContext, CheckSettings, Finding, Measurement, Resource, Severity
from monitor.clock import Clock
from monitor.errors import GraphLicenseError
from monitor.graph.client import GraphClient
from monitor.graph.coverage import counting_coverage
from monitor.logs import log_context
from monitor.state import Transition, Waiver
from monitor.storage import AsyncStore, StoredWatermarks
from monitor.telemetry.instruments import MonitorInstruments

COVERAGE_PREFIX = "coverage:"
"""Run counts named ``coverage:<collection>`` hold the objects the run read from that collection."""
NOT_EVALUATED_PREFIX = "not_evaluated:"
"""A run count ``not_evaluated:<rule>`` (always 1) names a rule the run could not evaluate."""
WORKER_CHECK = "worker"
"""The check id under which the worker files findings about itself (failing checks)."""
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tenant:
    """A tenant as the runner sees it: its name, directory id and Graph client."""

    name: str
    tenant_id: str
    graph: GraphClient


@dataclass(frozen=True)
class PreparedCheck:
    """A check instance with its validated settings and effective timeout."""

    check: Check[Any, Any]
    settings: CheckSettings
    timeout_seconds: float

    @property
    def id(self) -> str:
        return self.check.id


@dataclass(frozen=True)
class RunOutcome:
    """What one run did: its status, the findings it produced and the lifecycle changes."""

    run_id: str
    tenant: str
    check: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    error: str | None = None
    duration_seconds: float = 0.0
    started: datetime | None = None
    """The run's ``now``: the time its rules were evaluated at."""
    measurements: list[Measurement] = field(default_factory=list)
    """The values of the check's gauges from this run (a succeeded run only)."""
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Rules a succeeded run could not evaluate, with the reason; their findings were kept as they
    were (see :meth:`monitor.check.CheckContext.rules_unavailable`)."""
    coverage: Mapping[str, int] = field(default_factory=dict)
    """Objects the run read per Graph collection (see :mod:`monitor.graph.coverage`)."""

    @property
    def note(self) -> str | None:
        """The error, or for a partly evaluated run which rules were skipped and why."""
        if self.error or not self.unavailable:
            return self.error
        reasons: dict[str, list[str]] = {}
        for rule, reason in sorted(self.unavailable.items()):
            reasons.setdefault(reason, []).append(rule)
        return "; ".join(f"not evaluated: {', '.join(rules)} ({reason})" for reason, rules in reasons.items())


class CheckRunner:
    """Runs checks against the state store; ``checks`` are every check the tenants run (for the
    check-failing bookkeeping)."""

    def __init__(
        self,
        store: AsyncStore,
        checks: Sequence[PreparedCheck],
        waivers: Sequence[Waiver],
        clock: Clock,
        instruments: MonitorInstruments | None = None,
    ) -> None:
        self._store = store
        self._checks = {prepared.id: prepared for prepared in checks}
        self._waivers = list(waivers)
        self._clock = clock
        self._instruments = instruments

    async def run(self, tenant: Tenant, prepared: PreparedCheck) -> RunOutcome:
        """Run ``prepared`` once for ``tenant`` and record it (see the module docstring)."""
        started = self._clock()
        run_id = await self._store.start_run(tenant.tenant_id, prepared.id, started)
        with log_context(tenant=tenant.name, check=prepared.id, run_id=run_id):
            began = time.monotonic()
            try:
                with counting_coverage() as coverage:
                    outcome = await self._attempt(tenant, prepared, run_id, started)
            except asyncio.CancelledError:
                await self._finish(run_id, "cancelled", {}, "the worker stopped during the run")
                raise
            outcome = replace(
                outcome,
                duration_seconds=time.monotonic() - began,
                started=started,
                coverage=coverage.as_dict(),
            )
            await self._finish(run_id, outcome.status, _counts(outcome), outcome.note)
            failing = await self._reconcile_failing(tenant)
            for transition in outcome.transitions + failing:
                _log_transition(transition)
            await self._record(tenant, prepared, outcome)
            logger.info(
                "check run %s",
                outcome.status,
                extra={"status": outcome.status, "findings": len(outcome.findings), "error": outcome.note},
            )
            return replace(outcome, transitions=outcome.transitions + failing)

    async def _attempt(
        self, tenant: Tenant, prepared: PreparedCheck, run_id: str, now: datetime
    ) -> RunOutcome:
        check = prepared.check
        watermarks = StoredWatermarks(self._store, tenant.tenant_id, check.id)
        context = CheckContext(tenant.tenant_id, tenant.graph, prepared.settings, now, watermarks, run_id)
        try:
            async with asyncio.timeout(prepared.timeout_seconds):
                data = await check.collect(context)
            findings = [
                f.for_run(tenant.tenant_id, check.id) for f in check.evaluate(data, prepared.settings, now)
            ]
            measurements = _declared(check, check.measure(data, prepared.settings, now))
        except TimeoutError:
            error = f"the run took longer than its timeout of {prepared.timeout_seconds:g} s and was stopped"
            return RunOutcome(run_id, tenant.tenant_id, check.id, "timed_out", error=error)
        except GraphLicenseError as error:
            return RunOutcome(run_id, tenant.tenant_id, check.id, "unavailable", error=error.reason)
        except Exception as error:
            logger.exception("check run failed")
            detail = f"{type(error).__name__}: {error}"
            return RunOutcome(run_id, tenant.tenant_id, check.id, "failed", error=detail)
        unavailable = dict(context.unavailable)
        transitions = await self._store.reconcile(
            tenant.tenant_id, check.id, findings, now, self._waivers, unavailable.keys()
        )
        if watermarks.pending:
            await self._store.set_watermarks(tenant.tenant_id, check.id, watermarks.pending)
        return RunOutcome(
            run_id,
            tenant.tenant_id,
            check.id,
            "succeeded",
            findings,
            transitions,
            measurements=measurements,
            unavailable=unavailable,
        )

    async def _record(self, tenant: Tenant, prepared: PreparedCheck, outcome: RunOutcome) -> None:
        """The run, its gauges and the check's open findings as metrics (when telemetry is on)."""
        if self._instruments is None:
            return
        self._instruments.record_run(tenant.tenant_id, prepared.id, outcome.status, outcome.duration_seconds)
        self._instruments.record_measurements(tenant.tenant_id, prepared.check.gauges, outcome.measurements)
        counts = await self._store.open_counts()
        for check_id in (prepared.id, WORKER_CHECK):
            by_severity = {s: counts.get((tenant.tenant_id, check_id, s), 0) for s in Severity}
            self._instruments.record_open_findings(tenant.tenant_id, check_id, by_severity)

    async def _finish(self, run_id: str, status: str, counts: Mapping[str, int], error: str | None) -> None:
        await self._store.finish_run(run_id, self._clock(), status, counts, error)

    async def _reconcile_failing(self, tenant: Tenant) -> list[Transition]:
        """The worker's own findings for this tenant: one per check failing N runs in a row."""
        findings = []
        for prepared in self._checks.values():
            failures = await self._store.consecutive_failures(tenant.tenant_id, prepared.id)
            if failures >= prepared.check.failures_before_alert:
                findings.append(_check_failing(tenant.tenant_id, prepared, failures))
        return await self._store.reconcile(
            tenant.tenant_id, WORKER_CHECK, findings, self._clock(), self._waivers
        )


def _declared(check: Check[Any, Any], measurements: Sequence[Measurement]) -> list[Measurement]:
    """The measurements of gauges the check declares, with exactly the declared attributes; any
    other is a bug in the check, logged and dropped rather than exported under a wrong name."""
    gauges = {gauge.name: gauge for gauge in check.gauges}
    kept = []
    for measurement in measurements:
        gauge = gauges.get(measurement.gauge)
        if gauge is None or set(measurement.attributes) != set(gauge.attributes):
            logger.error(
                "dropped a measurement of an undeclared gauge or with other attributes than declared",
                extra={"gauge": measurement.gauge, "attributes": sorted(measurement.attributes)},
            )
            continue
        kept.append(measurement)
    return kept


def _log_transition(transition: Transition) -> None:
    finding = transition.finding
    logger.info(
        "finding %s: %s",
        transition.kind,
        finding.message,
        extra={
            "transition": transition.kind,
            "rule": finding.rule,
            "severity": finding.severity.label,
            "resource": finding.resource.id,
            "fingerprint": transition.fingerprint,
        },
    )


def _check_failing(tenant_id: str, prepared: PreparedCheck, failures: int) -> Finding:
    check = prepared.check
    return Finding(
        "check-failing",
        Severity.HIGH,
        Resource("check", check.id, check.title),
        f"The check {check.id} has failed {failures} runs in a row; what it watches is not being watched.",
        "Read the check's last error (`entra-monitor status` or the logs): a missing permission, an "
        "expired credential or Graph being unavailable are the usual causes.",
        {"consecutiveFailures": failures, "failuresBeforeAlert": check.failures_before_alert},
        (),
        tenant_id,
        WORKER_CHECK,
    )


def _counts(outcome: RunOutcome) -> dict[str, int]:
    counts: dict[str, int] = {"findings": len(outcome.findings)}
    for severity in Severity:
        counts[severity.label] = sum(1 for finding in outcome.findings if finding.severity == severity)
    for transition in outcome.transitions:
        counts[transition.kind] = counts.get(transition.kind, 0) + 1
    for collection, objects in outcome.coverage.items():
        counts[COVERAGE_PREFIX + collection] = objects
    for rule in outcome.unavailable:
        counts[NOT_EVALUATED_PREFIX + rule] = 1
    return counts


def coverage_of(counts: Mapping[str, int]) -> dict[str, int]:
    """The objects examined per collection, from a run record's ``counts``."""
    return {
        name.removeprefix(COVERAGE_PREFIX): value
        for name, value in sorted(counts.items())
        if name.startswith(COVERAGE_PREFIX)
    }


def not_evaluated_of(counts: Mapping[str, int]) -> list[str]:
    """The rules a run could not evaluate, sorted, from a run record's ``counts``."""
    return sorted(
        name.removeprefix(NOT_EVALUATED_PREFIX) for name in counts if name.startswith(NOT_EVALUATED_PREFIX)
    )
