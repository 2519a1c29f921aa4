"""The ``[telemetry]`` settings: where metrics and alert events go, and what may call out by itself.

Everything that would contact Microsoft on its own (statsbeat, SDK stats, the control-plane
settings service) stays off unless switched on here. Live metrics, performance counters, the
Azure resource detectors and auto-instrumentation are never set up: the monitor builds its own
providers around the exporters instead of using the distro's ``configure_azure_monitor``. The
connection string is a :class:`~pydantic.SecretStr`, so a repr or log line never shows its key.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

CONNECTION_STRING_VARIABLE = "APPLICATIONINSIGHTS_CONNECTION_STRING"
SERVICE_NAME = "entra-compliance-monitor"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AzureMonitorSettings(_Section):
    """``[telemetry.azure_monitor]``: Application Insights through the Azure Monitor exporter."""

    enabled: bool = Field(
        default=False, description="true or false: export metrics and events to Azure Monitor"
    )
    connection_string: SecretStr | None = Field(
        default=None,
        description="the Application Insights connection string (InstrumentationKey=…;IngestionEndpoint=…); "
        f"when absent, {CONNECTION_STRING_VARIABLE} is read",
    )
    entra_authentication: bool = Field(
        default=False,
        description="true or false: authenticate ingestion with a tenant's Entra credential (see "
        "credential_tenant) instead of the instrumentation key alone; needs an https endpoint",
    )
    credential_tenant: str | None = Field(
        default=None,
        description="with entra_authentication: the name of the [[tenants]] entry whose credential "
        "authenticates ingestion (default: the first tenant); in Azure, a managed identity with the "
        "Monitoring Metrics Publisher role on the Application Insights resource",
    )
    storage_directory: Path | None = Field(
        default=None,
        description="a directory for telemetry that could not be sent, retried after the next successful "
        "export; absent: no offline storage (never the temporary directory)",
    )
    ca_bundle: Path | None = Field(
        default=None, description="a PEM file of CA certificates that the ingestion endpoint is verified with"
    )
    statsbeat: bool = Field(
        default=False,
        description="true or false: let the exporter send its own usage statistics to Microsoft",
    )
    sdk_stats: bool = Field(
        default=False,
        description="true or false: let the exporter send item counts (Item_Success_Count …) as metrics",
    )
    control_plane: bool = Field(
        default=False,
        description="true or false: let the exporter poll Microsoft's SDK configuration service",
    )

    @field_validator("ca_bundle")
    @classmethod
    def _existing_bundle(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file; accepted: a PEM file of CA certificates")
        return value


class OtlpSettings(_Section):
    """``[telemetry.otlp]``: OTLP over HTTP/protobuf, for Grafana, Datadog, Elastic and others."""

    enabled: bool = Field(default=False, description="true or false: export metrics and events over OTLP")
    endpoint: str = Field(
        default="http://127.0.0.1:4318",
        description="the collector's base URL, http or https, without /v1/metrics or /v1/logs",
    )

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL; accepted: a URL like http://collector:4318")
        return value.rstrip("/")


class PrometheusSettings(_Section):
    """``[telemetry.prometheus]``: metrics kept for a scrape of the health server."""

    enabled: bool = Field(
        default=False, description="true or false: keep metrics for the Prometheus text exposition"
    )


class ConsoleSettings(_Section):
    """``[telemetry.console]``: metrics and events printed as JSON, for development."""

    enabled: bool = Field(default=False, description="true or false: print metrics and events to stdout")


class TelemetrySettings(_Section):
    """``[telemetry]``: the exporters, the export cadence and the bounds on every export."""

    azure_monitor: AzureMonitorSettings = Field(
        default_factory=AzureMonitorSettings, description="the [telemetry.azure_monitor] table"
    )
    otlp: OtlpSettings = Field(default_factory=OtlpSettings, description="the [telemetry.otlp] table")
    prometheus: PrometheusSettings = Field(
        default_factory=PrometheusSettings, description="the [telemetry.prometheus] table"
    )
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings, description="the [telemetry.console] table"
    )
    service_name: str = Field(
        default=SERVICE_NAME,
        min_length=1,
        description="the service.name resource attribute (cloud role name in Application Insights)",
    )
    export_interval_seconds: float = Field(
        default=60.0, ge=1.0, le=3600.0, description="seconds between metric exports, 1 to 3600"
    )
    export_timeout_seconds: float = Field(
        default=10.0,
        gt=0.0,
        le=120.0,
        description="seconds one export may wait to connect and for an answer, above 0 and at most 120",
    )
