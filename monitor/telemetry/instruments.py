"""The worker's own instruments (named in docs/telemetry.md): open findings, check runs and their
duration, and the checks' declared gauges.

Like :class:`monitor.graph.instruments.GraphInstruments`, they are created on the meter provider
the composition root passes; without one they are OpenTelemetry's no-op instruments.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from opentelemetry import metrics

from monitor.check import Gauge, Measurement, Severity

METER_NAME = "entra_monitor.worker"

OPEN_FINDINGS = "entra_monitor.findings.open"
CHECK_RUNS = "entra_monitor.check.runs"
CHECK_RUN_DURATION = "entra_monitor.check.run.duration"
ALERT_DELIVERIES = "entra_monitor.alerts.deliveries"

_log = logging.getLogger(__name__)


class MonitorInstruments:
    """Records what the worker measures; every series carries the ``tenant`` attribute."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        self._meter = (meter_provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        self._open_findings = self._meter.create_gauge(
            OPEN_FINDINGS,
            unit="{finding}",
            description="Open (not waived, not resolved) findings, by tenant, check and severity.",
        )
        self._runs = self._meter.create_counter(
            CHECK_RUNS, unit="{run}", description="Finished check runs, by tenant, check and status."
        )
        self._run_duration = self._meter.create_histogram(
            CHECK_RUN_DURATION, unit="s", description="Time from a check run's start to its end."
        )
        self._deliveries = self._meter.create_counter(
            ALERT_DELIVERIES,
            unit="{delivery}",
            description="Alert delivery attempts, by sink and outcome (delivered, retried, parked).",
        )
        self._gauges: dict[str, tuple[Gauge, metrics._Gauge]] = {}

    def record_open_findings(self, tenant: str, check: str, counts: Mapping[Severity, int]) -> None:
        """Record the open findings of one check for every severity, zeros included, so a
        severity whose findings were all resolved drops to 0 instead of keeping its last count."""
        for severity in Severity:
            self._open_findings.set(
                counts.get(severity, 0),
                {"tenant": tenant, "check": check, "severity": severity.label},
            )

    def record_deliveries(self, sink: str, outcome: str, count: int) -> None:
        """Count ``count`` delivery attempts to ``sink`` that ended ``outcome`` (``delivered``,
        ``retried`` or ``parked``); an alert in a digest counts once."""
        if count:
            self._deliveries.add(count, {"sink": sink, "outcome": outcome})

    def record_run(self, tenant: str, check: str, status: str, duration_seconds: float) -> None:
        """Count one finished run (``status`` as in ``monitor.state.RUN_STATUSES``) and its duration."""
        attributes = {"tenant": tenant, "check": check, "status": status}
        self._runs.add(1, attributes)
        self._run_duration.record(duration_seconds, attributes)

    def record_measurements(
        self, tenant: str, gauges: Iterable[Gauge], measurements: Iterable[Measurement]
    ) -> int:
        """Record a check's measurements on its declared gauges with ``tenant`` added; returns how
        many were recorded. A measurement of an undeclared gauge, or whose attribute names differ
        from the declaration, is dropped with a warning (bounded cardinality is the contract)."""
        declared = {gauge.name: self._instrument(gauge) for gauge in gauges}
        recorded = 0
        for measurement in measurements:
            found = declared.get(measurement.gauge)
            if found is None or set(measurement.attributes) != set(found[0].attributes):
                _log.warning(
                    "dropped a measurement of gauge %s: not declared with these attributes",
                    measurement.gauge,
                    extra={"gauge": measurement.gauge, "tenant": tenant},
                )
                continue
            found[1].set(measurement.value, {**measurement.attributes, "tenant": tenant})
            recorded += 1
        return recorded

    def _instrument(self, gauge: Gauge) -> tuple[Gauge, metrics._Gauge]:
        known = self._gauges.get(gauge.name)
        if known is None:
            instrument = self._meter.create_gauge(gauge.name, unit=gauge.unit, description=gauge.description)
            known = self._gauges[gauge.name] = (gauge, instrument)
        return known
