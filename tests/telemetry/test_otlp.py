"""OTLP over HTTP/protobuf to a local collector stand-in: the event and the metrics arrive."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from monitor.check import Severity
from monitor.telemetry import OtlpSettings, TelemetrySettings, setup_telemetry


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Silent."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    httpd.shutdown()
    httpd.server_close()


def test_events_and_metrics_arrive_over_otlp(collector: tuple[str, list[tuple[str, str, bytes]]]) -> None:
    endpoint, received = collector
    telemetry = setup_telemetry(TelemetrySettings(otlp=OtlpSettings(enabled=True, endpoint=endpoint)))
    telemetry.emit_event("EntraMonitorFindingOpened", {"tenant": "contoso"})
    telemetry.instruments.record_open_findings("contoso", "consent-grants", {Severity.CRITICAL: 1})
    assert telemetry.shutdown(5.0)
    assert {(path, content_type) for path, content_type, _ in received} == {
        ("/v1/logs", "application/x-protobuf"),
        ("/v1/metrics", "application/x-protobuf"),
    }
    logs = ExportLogsServiceRequest.FromString(next(body for path, _, body in received if path == "/v1/logs"))
    record = logs.resource_logs[0].scope_logs[0].log_records[0]
    assert logs.resource_logs[0].scope_logs[0].scope.name == "entra_monitor.events"
    assert {item.key: item.value.string_value for item in record.attributes} == {
        "tenant": "contoso",
        "microsoft.custom_event.name": "EntraMonitorFindingOpened",
    }
    metrics = ExportMetricsServiceRequest.FromString(
        next(body for path, _, body in received if path == "/v1/metrics")
    )
    names = {metric.name for scope in metrics.resource_metrics[0].scope_metrics for metric in scope.metrics}
    assert names == {"entra_monitor.findings.open"}
