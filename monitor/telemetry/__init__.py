"""Telemetry: metrics and alert events through OpenTelemetry, to Azure Monitor, OTLP, a
Prometheus scrape or the console (docs/telemetry.md names every instrument and event).

Build it once in the composition root with :func:`setup_telemetry`; nothing here is global.
"""

from __future__ import annotations

from monitor.telemetry.azure import TokenCredential, resolve_connection_string
from monitor.telemetry.instruments import (
    CHECK_RUN_DURATION,
    CHECK_RUNS,
    OPEN_FINDINGS,
    MonitorInstruments,
)
from monitor.telemetry.settings import (
    CONNECTION_STRING_VARIABLE,
    AzureMonitorSettings,
    ConsoleSettings,
    OtlpSettings,
    PrometheusSettings,
    TelemetrySettings,
)
from monitor.telemetry.setup import EVENT_LOGGER, EVENT_NAME_ATTRIBUTE, Telemetry, setup_telemetry

__all__ = [
    "CHECK_RUNS",
    "CHECK_RUN_DURATION",
    "CONNECTION_STRING_VARIABLE",
    "EVENT_LOGGER",
    "EVENT_NAME_ATTRIBUTE",
    "OPEN_FINDINGS",
    "AzureMonitorSettings",
    "ConsoleSettings",
    "MonitorInstruments",
    "OtlpSettings",
    "PrometheusSettings",
    "Telemetry",
    "TelemetrySettings",
    "TokenCredential",
    "resolve_connection_string",
    "setup_telemetry",
]
