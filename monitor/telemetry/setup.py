"""Building the monitor's telemetry from the settings: one meter provider, one event logger.

Nothing here is global. :func:`setup_telemetry` returns a :class:`Telemetry` that the composition
root passes on (``Telemetry.meter_provider`` to ``GraphInstruments``, ``Telemetry.instruments`` to
the worker) and shuts down on exit. The OpenTelemetry global providers are never set, and the SDK's
exit hooks are off: the caller's :meth:`Telemetry.shutdown` bounds the wait instead.

Events are OpenTelemetry log records from the logger ``entra_monitor.events``, emitted through
the logs API, not through Python's ``logging``: no handler sits on the root logger, so the
exporters' own warnings ("Retrying due to server request error …") are written by the monitor's
log handlers and never exported again (notes §3: that feedback loop never ends).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Protocol, TextIO

from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from monitor.graph.instruments import GraphInstruments
from monitor.telemetry.azure import TokenCredential, build_azure_exporters
from monitor.telemetry.instruments import MonitorInstruments
from monitor.telemetry.settings import TelemetrySettings

EVENT_LOGGER = "entra_monitor.events"
EVENT_NAME_ATTRIBUTE = "microsoft.custom_event.name"
"""The log-record attribute the Azure Monitor exporter turns into a custom event's name."""

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SupportsClose(Protocol):
    def close(self) -> None: ...


class Telemetry:
    """The configured providers and the monitor's instruments; see :func:`setup_telemetry`."""

    def __init__(
        self,
        meter_provider: MeterProvider,
        logger_provider: LoggerProvider,
        exposition: Callable[[], bytes] | None,
    ) -> None:
        self.meter_provider = meter_provider
        self.instruments = MonitorInstruments(meter_provider)
        self.graph_instruments = GraphInstruments(meter_provider)
        self._logger_provider = logger_provider
        self._events = logger_provider.get_logger(EVENT_LOGGER)
        self._exposition = exposition
        self._shutdown_started = False
        self._closing: list[SupportsClose] = []

    def on_shutdown(self, resource: SupportsClose | None) -> None:
        """Close ``resource`` (an exporter's credential, say) once the exporters have stopped."""
        if resource is not None:
            self._closing.append(resource)

    @property
    def prometheus_enabled(self) -> bool:
        return self._exposition is not None

    def emit_event(self, name: str, properties: Mapping[str, str]) -> None:
        """Emit one custom event; never blocks on the network. ``properties`` become the event's
        customDimensions (an entry named like the name attribute is ignored)."""
        attributes: dict[str, str] = {key: str(value) for key, value in properties.items()}
        attributes[EVENT_NAME_ATTRIBUTE] = name
        self._events.emit(
            severity_number=SeverityNumber.INFO, severity_text="INFO", body=name, attributes=attributes
        )

    def prometheus_exposition(self) -> tuple[bytes, str]:
        """The current metrics in the Prometheus text format and its content type; raises
        RuntimeError when ``[telemetry.prometheus]`` is not enabled."""
        if self._exposition is None:
            raise RuntimeError("telemetry.prometheus is not enabled; set enabled = true to serve metrics")
        return self._exposition(), PROMETHEUS_CONTENT_TYPE

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Export what is pending; True when everything finished within ``timeout_seconds``."""
        return _bounded(self._flush, timeout_seconds, "flush")

    def shutdown(self, grace_seconds: float = 5.0) -> bool:
        """Flush and stop the exporters, waiting at most ``grace_seconds``; True when they
        finished in time. An export still waiting on a slow endpoint is abandoned (its batch goes
        to the offline storage if the exporter gets an answer, else it is lost). Idempotent."""
        if self._shutdown_started:
            return True
        self._shutdown_started = True
        return _bounded(self._shutdown, grace_seconds, "shutdown")

    def _flush(self) -> None:
        self._logger_provider.force_flush()
        self.meter_provider.force_flush()

    def _shutdown(self) -> None:
        self._logger_provider.shutdown()
        self.meter_provider.shutdown()
        for resource in self._closing:
            resource.close()


def _bounded(work: Callable[[], object], timeout_seconds: float, name: str) -> bool:
    """Run ``work`` on a daemon thread and wait at most ``timeout_seconds`` for it: the SDK's own
    timeouts do not cut short an export stuck in a read (notes §3), and a daemon thread does not
    hold up the interpreter's exit."""
    thread = threading.Thread(target=work, name=f"telemetry-{name}", daemon=True)
    thread.start()
    thread.join(max(timeout_seconds, 0.0))
    return not thread.is_alive()


def setup_telemetry(
    settings: TelemetrySettings,
    *,
    credential: TokenCredential | None = None,
    console_stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> Telemetry:
    """Build the providers and exporters ``settings`` ask for; no network I/O happens here.

    ``credential`` authenticates Azure Monitor ingestion when ``entra_authentication`` is on;
    ``console_stream`` is where the console exporter writes (stdout by default); ``environ`` is
    where ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is looked up (``os.environ`` by default).
    Raises ConfigurationError naming the setting when the Azure Monitor connection string is
    missing or invalid.
    """
    timeout_millis = settings.export_timeout_seconds * 1000
    interval_millis = settings.export_interval_seconds * 1000
    readers: list[MetricReader] = []
    log_exporters: list[tuple[LogRecordExporter, bool]] = []  # (exporter, batched)
    if settings.azure_monitor.enabled:
        azure = build_azure_exporters(
            settings.azure_monitor,
            export_timeout_seconds=settings.export_timeout_seconds,
            credential=credential,
            environ=os.environ if environ is None else environ,
        )
        readers.append(PeriodicExportingMetricReader(azure.metrics, interval_millis, timeout_millis))
        log_exporters.append((azure.logs, True))
    if settings.otlp.enabled:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        base, timeout = settings.otlp.endpoint, settings.export_timeout_seconds
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=timeout),
                interval_millis,
                timeout_millis,
            )
        )
        log_exporters.append((OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=timeout), True))
    if settings.console.enabled:
        stream = console_stream or sys.stdout
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(out=stream), interval_millis))
        log_exporters.append((ConsoleLogRecordExporter(out=stream), False))
    exposition: Callable[[], bytes] | None = None
    if settings.prometheus.enabled:
        reader, exposition = _prometheus_reader()
        readers.append(reader)
    resource = Resource.create({SERVICE_NAME: settings.service_name})
    meter_provider = MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)
    # The SDK's own metrics about the log pipeline are not the monitor's: keep them out of exports.
    logger_provider = LoggerProvider(
        resource=resource, shutdown_on_exit=False, meter_provider=NoOpMeterProvider()
    )
    for exporter, batched in log_exporters:
        processor = (
            BatchLogRecordProcessor(exporter, export_timeout_millis=timeout_millis)
            if batched
            else SimpleLogRecordProcessor(exporter)
        )
        logger_provider.add_log_record_processor(processor)
    return Telemetry(meter_provider, logger_provider, exposition)


def _prometheus_reader() -> tuple[MetricReader, Callable[[], bytes]]:
    """A Prometheus reader on its own registry (not prometheus_client's global one)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    reader = PrometheusMetricReader(registry=registry)
    return reader, lambda: generate_latest(registry)
