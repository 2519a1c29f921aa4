"""The Graph client's OpenTelemetry instruments (named in docs/telemetry.md).

Every request, retry, throttle and wait is counted here and nowhere else, so dashboards and the
benchmark read the same numbers. Without a meter provider the instruments are OpenTelemetry's
no-op ones; the composition root passes the configured provider.
"""

from __future__ import annotations

from opentelemetry import metrics

METER_NAME = "entra_monitor.graph"

REQUESTS = "entra_monitor.graph.requests"
RETRIES = "entra_monitor.graph.retries"
THROTTLED = "entra_monitor.graph.throttled"
WAIT = "entra_monitor.graph.wait"
RETRY_AFTER = "entra_monitor.graph.retry_after"
DURATION = "entra_monitor.graph.request.duration"
OBJECTS = "entra_monitor.graph.objects"


class GraphInstruments:
    """Counters and histograms for one process; attributes carry the tenant and endpoint."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        self.requests = meter.create_counter(
            REQUESTS, unit="{request}", description="Graph HTTP requests sent, by endpoint and status."
        )
        self.retries = meter.create_counter(
            RETRIES, unit="{retry}", description="Graph requests sent again, by reason."
        )
        self.throttled = meter.create_counter(
            THROTTLED,
            unit="{response}",
            description="Graph answers with status 429, including inside $batch.",
        )
        self.wait = meter.create_counter(
            WAIT,
            unit="s",
            description="Time spent waiting before sending, by cause (retry_after, backoff, pacing).",
        )
        self.retry_after = meter.create_counter(
            RETRY_AFTER, unit="s", description="Sum of the Retry-After values Graph sent."
        )
        self.duration = meter.create_histogram(
            DURATION, unit="s", description="Time from sending a Graph request to its complete answer."
        )
        self.objects = meter.create_counter(
            OBJECTS, unit="{object}", description="Objects read from Graph collections, by endpoint."
        )
