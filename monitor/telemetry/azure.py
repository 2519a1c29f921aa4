"""The Azure Monitor exporters, built locked down.

The exporter decides at construction whether to start statsbeat (Microsoft-owned endpoints), the
customer SDK stats and the OneSettings control-plane poller, reading environment variables only
(notes §3 "Lockdown"). So the variables that switch them off are set just while the exporters are
built, then restored: the process environment (and other tests) never see them. ``credential`` is
always passed, so ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` never makes the exporter build a
managed-identity credential of its own that would probe the instance metadata service.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.errors import ConfigurationError
from monitor.telemetry.settings import CONNECTION_STRING_VARIABLE, AzureMonitorSettings

_STATSBEAT_DISABLED = "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"
_SDKSTATS_DISABLED = "APPLICATIONINSIGHTS_SDKSTATS_DISABLED"
_CONTROL_PLANE_DISABLED = "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED"
_RESOURCE_METRIC_DISABLED = "APPLICATIONINSIGHTS_OPENTELEMETRY_RESOURCE_METRIC_DISABLED"

_environment_lock = threading.Lock()


class TokenCredential(Protocol):
    """What Entra authentication of ingestion needs: azure-core's ``TokenCredential`` shape."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class AzureExporters:
    """The log (custom events) and metric exporters sharing one configuration."""

    logs: Any
    metrics: Any


def resolve_connection_string(settings: AzureMonitorSettings, environ: Mapping[str, str]) -> str:
    """The connection string from the setting, else from ``APPLICATIONINSIGHTS_CONNECTION_STRING``.

    Raises ConfigurationError naming the setting when neither has one with an instrumentation key;
    the message never quotes the string (its key is a secret).
    """
    if settings.connection_string is not None:
        value, source = (
            settings.connection_string.get_secret_value(),
            "telemetry.azure_monitor.connection_string",
        )
    else:
        value, source = environ.get(CONNECTION_STRING_VARIABLE, ""), CONNECTION_STRING_VARIABLE
    fields = {
        key.strip().lower(): item.strip()
        for key, _, item in (part.partition("=") for part in value.split(";"))
        if key.strip()
    }
    if not fields.get("instrumentationkey"):
        raise ConfigurationError(
            f"{source}: no Application Insights connection string with an InstrumentationKey; "
            "accepted: the resource's connection string (Overview page), or disable "
            "telemetry.azure_monitor"
        )
    endpoint = fields.get("ingestionendpoint", "")
    if endpoint and not endpoint.lower().startswith(("http://", "https://")):
        raise ConfigurationError(f"{source}: IngestionEndpoint is not an http(s) URL")
    return value


@contextlib.contextmanager
def _locked_down_environment(settings: AzureMonitorSettings) -> Iterator[None]:
    """Switch off what calls out by itself while the exporters are built, then restore."""
    overrides = {
        _STATSBEAT_DISABLED: None if settings.statsbeat else "true",
        _SDKSTATS_DISABLED: None if settings.sdk_stats else "true",
        _CONTROL_PLANE_DISABLED: None if settings.control_plane else "true",
        _RESOURCE_METRIC_DISABLED: "true",
    }
    with _environment_lock:
        saved = {name: os.environ.get(name) for name in overrides}
        try:
            for name, value in overrides.items():
                if value is not None:
                    os.environ[name] = value
            yield
        finally:
            for name, previous in saved.items():
                if previous is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = previous


def build_azure_exporters(
    settings: AzureMonitorSettings,
    *,
    export_timeout_seconds: float,
    credential: TokenCredential | None,
    environ: Mapping[str, str],
) -> AzureExporters:
    """Build the exporters; ConfigurationError when Entra authentication is on without a credential.

    Each request is bounded by ``export_timeout_seconds`` (connect and read) and is not retried
    in-line: a failed batch goes to the offline storage, when there is one, and is sent again after
    the next successful export, so a flush or shutdown never waits out a retry schedule.
    """
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter, AzureMonitorMetricExporter

    if settings.entra_authentication and credential is None:
        raise ConfigurationError(
            "telemetry.azure_monitor.entra_authentication: no credential to authenticate ingestion with; "
            "configure a tenant credential or set entra_authentication = false"
        )
    options: dict[str, Any] = {
        "connection_string": resolve_connection_string(settings, environ),
        "credential": credential if settings.entra_authentication else None,
        "timeout": export_timeout_seconds,
        "read_timeout": export_timeout_seconds,
        "retry_total": 0,
        "disable_offline_storage": settings.storage_directory is None,
    }
    if settings.storage_directory is not None:
        options["storage_directory"] = str(settings.storage_directory)
    if settings.ca_bundle is not None:
        options["connection_verify"] = str(settings.ca_bundle)
    with _locked_down_environment(settings):
        return AzureExporters(
            logs=AzureMonitorLogExporter(**options), metrics=AzureMonitorMetricExporter(**options)
        )
