"""Events and metrics through the real Azure Monitor exporter to the local ingestion endpoint, the
Prometheus exposition and the console exporter, compared exactly."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from monitor.check import Gauge, Measurement, Severity
from monitor.errors import ConfigurationError
from monitor.telemetry import (
    AzureMonitorSettings,
    ConsoleSettings,
    PrometheusSettings,
    Telemetry,
    TelemetrySettings,
    setup_telemetry,
)
from tests.support.ingestion import INSTRUMENTATION_KEY, IngestionServer, ingestion_server

AT_RISK = Gauge("entra_monitor.users.at_risk", "{user}", "Users at risk.", ("risk_level",))
LOCKDOWN_VARIABLES = (
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED",
)


@pytest.fixture
def server() -> Iterator[IngestionServer]:
    with ingestion_server() as running:
        yield running


@pytest.fixture
def telemetry(server: IngestionServer) -> Iterator[Telemetry]:
    settings = TelemetrySettings(
        azure_monitor=AzureMonitorSettings(
            enabled=True, connection_string=SecretStr(server.connection_string)
        )
    )
    configured = setup_telemetry(settings, environ={})
    yield configured
    assert configured.shutdown(5.0)


def _record_sample(telemetry: Telemetry) -> None:
    instruments = telemetry.instruments
    instruments.record_open_findings("contoso", "credential-expiry", {Severity.HIGH: 2, Severity.LOW: 1})
    instruments.record_run("contoso", "credential-expiry", "succeeded", 1.5)
    instruments.record_run("contoso", "credential-expiry", "failed", 0.5)
    instruments.record_measurements(
        "contoso", [AT_RISK], [Measurement(AT_RISK.name, 3.0, {"risk_level": "high"})]
    )


def _key(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


def test_events_arrive_as_custom_events_with_their_properties(
    telemetry: Telemetry, server: IngestionServer
) -> None:
    telemetry.emit_event("EntraMonitorFindingOpened", {"tenant": "contoso", "severity": "high"})
    telemetry.emit_event("EntraMonitorFindingResolved", {"tenant": "fabrikam"})
    assert telemetry.flush(5.0)
    assert server.events() == [
        {
            "ver": 2,
            "name": "EntraMonitorFindingOpened",
            "properties": {"tenant": "contoso", "severity": "high", "logger_name": "entra_monitor.events"},
            "measurements": {},
        },
        {
            "ver": 2,
            "name": "EntraMonitorFindingResolved",
            "properties": {"tenant": "fabrikam", "logger_name": "entra_monitor.events"},
            "measurements": {},
        },
    ]
    envelope = server.envelopes()[0]
    assert envelope["iKey"] == INSTRUMENTATION_KEY
    assert envelope["tags"]["ai.cloud.role"] == "entra-compliance-monitor"
    assert {request.headers["content-type"] for request in server.requests} == {"application/json"}


def test_metrics_arrive_with_the_documented_names_attributes_and_values(
    telemetry: Telemetry, server: IngestionServer
) -> None:
    _record_sample(telemetry)
    telemetry.graph_instruments.requests.add(1, {"tenant": "contoso", "endpoint": "applications"})
    assert telemetry.flush(5.0)
    finding = {"tenant": "contoso", "check": "credential-expiry"}
    expected = [
        *(
            {
                "name": "entra_monitor.findings.open",
                "value": {"high": 2, "low": 1}.get(severity.label, 0),
                "count": 1,
                "properties": {**finding, "severity": severity.label},
            }
            for severity in Severity
        ),
        {
            "name": "entra_monitor.check.runs",
            "value": 1,
            "count": 1,
            "properties": {**finding, "status": "succeeded"},
        },
        {
            "name": "entra_monitor.check.runs",
            "value": 1,
            "count": 1,
            "properties": {**finding, "status": "failed"},
        },
        {
            "name": "entra_monitor.check.run.duration",
            "value": 1.5,
            "count": 1,
            "min": 1.5,
            "max": 1.5,
            "properties": {**finding, "status": "succeeded"},
        },
        {
            "name": "entra_monitor.check.run.duration",
            "value": 0.5,
            "count": 1,
            "min": 0.5,
            "max": 0.5,
            "properties": {**finding, "status": "failed"},
        },
        {
            "name": AT_RISK.name,
            "value": 3.0,
            "count": 1,
            "properties": {"risk_level": "high", "tenant": "contoso"},
        },
        {
            "name": "entra_monitor.graph.requests",
            "value": 1,
            "count": 1,
            "properties": {"tenant": "contoso", "endpoint": "applications"},
        },
    ]
    assert sorted(map(_key, server.metrics())) == sorted(map(_key, expected))


def test_a_measurement_of_an_undeclared_gauge_or_attributes_is_dropped(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    recorded = telemetry.instruments.record_measurements(
        "contoso",
        [AT_RISK],
        [
            Measurement("entra_monitor.unknown", 1.0),
            Measurement(AT_RISK.name, 1.0, {"risk_level": "low", "user": "u1"}),
            Measurement(AT_RISK.name, 2.0, {"risk_level": "low"}),
        ],
    )
    assert recorded == 1
    assert [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING] == [
        "dropped a measurement of gauge entra_monitor.unknown: not declared with these attributes",
        f"dropped a measurement of gauge {AT_RISK.name}: not declared with these attributes",
    ]


def test_prometheus_exposition_names_the_metrics() -> None:
    telemetry = setup_telemetry(TelemetrySettings(prometheus=PrometheusSettings(enabled=True)), environ={})
    _record_sample(telemetry)
    body, content_type = telemetry.prometheus_exposition()
    text = body.decode()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert (
        'entra_monitor_findings_open{check="credential-expiry",otel_scope_name="entra_monitor.worker",'
        'otel_scope_schema_url="",otel_scope_version="",severity="high",tenant="contoso"} 2.0'
    ) in text
    for name in (
        "# TYPE entra_monitor_findings_open gauge",
        "# TYPE entra_monitor_check_runs_total counter",
        "# TYPE entra_monitor_check_run_duration_seconds histogram",
        "# TYPE entra_monitor_users_at_risk gauge",
    ):
        assert name in text
    assert telemetry.shutdown(5.0)


def test_prometheus_exposition_is_refused_when_not_enabled() -> None:
    telemetry = setup_telemetry(TelemetrySettings(), environ={})
    with pytest.raises(RuntimeError, match=r"telemetry\.prometheus is not enabled"):
        telemetry.prometheus_exposition()
    assert telemetry.shutdown(5.0)


def test_console_exporter_prints_events_and_metrics() -> None:
    stream = io.StringIO()
    telemetry = setup_telemetry(
        TelemetrySettings(console=ConsoleSettings(enabled=True)), console_stream=stream
    )
    telemetry.emit_event("EntraMonitorFindingOpened", {"tenant": "contoso"})
    _record_sample(telemetry)
    assert telemetry.shutdown(5.0)
    output = stream.getvalue()
    assert '"microsoft.custom_event.name": "EntraMonitorFindingOpened"' in output
    assert '"name": "entra_monitor.findings.open"' in output
    assert '"name": "entra_monitor.check.runs"' in output


def test_connection_string_comes_from_the_environment_when_not_set(server: IngestionServer) -> None:
    settings = TelemetrySettings(azure_monitor=AzureMonitorSettings(enabled=True))
    telemetry = setup_telemetry(
        settings, environ={"APPLICATIONINSIGHTS_CONNECTION_STRING": server.connection_string}
    )
    telemetry.emit_event("EntraMonitorCheckFailing", {"tenant": "contoso"})
    assert telemetry.shutdown(5.0)
    assert [event["name"] for event in server.events()] == ["EntraMonitorCheckFailing"]


def test_a_missing_connection_string_names_the_setting_and_never_quotes_the_key() -> None:
    settings = TelemetrySettings(azure_monitor=AzureMonitorSettings(enabled=True))
    with pytest.raises(ConfigurationError, match=r"^APPLICATIONINSIGHTS_CONNECTION_STRING: no Application"):
        setup_telemetry(settings, environ={})
    broken = AzureMonitorSettings(
        enabled=True, connection_string=SecretStr("IngestionEndpoint=http://x/;Key=s3cr3t")
    )
    with pytest.raises(ConfigurationError) as raised:
        setup_telemetry(TelemetrySettings(azure_monitor=broken), environ={})
    assert str(raised.value).startswith("telemetry.azure_monitor.connection_string: no Application")
    assert "s3cr3t" not in str(raised.value)


def test_entra_authentication_needs_a_credential(server: IngestionServer) -> None:
    settings = AzureMonitorSettings(
        enabled=True, connection_string=SecretStr(server.connection_string), entra_authentication=True
    )
    with pytest.raises(
        ConfigurationError, match=r"^telemetry\.azure_monitor\.entra_authentication: no credential"
    ):
        setup_telemetry(TelemetrySettings(azure_monitor=settings), environ={})


def test_settings_never_show_the_connection_string() -> None:
    settings = TelemetrySettings(
        azure_monitor=AzureMonitorSettings(
            enabled=True, connection_string=SecretStr(f"InstrumentationKey={INSTRUMENTATION_KEY}")
        )
    )
    assert INSTRUMENTATION_KEY not in repr(settings)
    assert INSTRUMENTATION_KEY not in settings.model_dump_json()


def test_settings_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"export_timeout_seconds"):
        TelemetrySettings(export_timeout_seconds=0)
    with pytest.raises(ValidationError, match=r"otlp\.endpoint"):
        TelemetrySettings.model_validate({"otlp": {"endpoint": "collector:4318"}})
    with pytest.raises(ValidationError, match=r"azure_monitor\.live_metrics"):
        TelemetrySettings.model_validate({"azure_monitor": {"live_metrics": True}})


def test_lockdown_variables_do_not_leak_into_the_process(server: IngestionServer) -> None:
    before = {name: os.environ.get(name) for name in LOCKDOWN_VARIABLES}
    settings = AzureMonitorSettings(enabled=True, connection_string=SecretStr(server.connection_string))
    telemetry = setup_telemetry(TelemetrySettings(azure_monitor=settings), environ={})
    assert {name: os.environ.get(name) for name in LOCKDOWN_VARIABLES} == before
    assert telemetry.shutdown(5.0)
