"""The shape of the monitor's settings: one pydantic model per section of the configuration file.

Every field has a ``description`` saying what it accepts; validation messages quote it, so a
description reads as the completion of "accepted: …". Secrets are :class:`~pydantic.SecretStr`
(inherited from the credential models), so a repr, a log line or ``config show`` never shows them.
Use :func:`monitor.settings.load_settings` to build :class:`MonitorSettings` from its sources.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, FilePath, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from monitor.alerts.settings import AlertSettings
from monitor.check import CHECK_ID
from monitor.errors import ConfigurationError
from monitor.graph.clouds import CLOUDS, resolve_endpoints
from monitor.graph.connection import GraphConnection
from monitor.snapshots.settings import SnapshotSettings
from monitor.telemetry.settings import TelemetrySettings

ENV_PREFIX = "ENTRA_MONITOR_"
ENV_DELIMITER = "__"
TENANT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


CheckId = Annotated[
    str,
    Field(
        pattern=CHECK_ID.pattern,
        description="a check id: lower-case words joined by '-', like credential-expiry",
    ),
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TenantSettings(GraphConnection):
    """One monitored tenant: a name, where it lives and the credential the monitor signs in with."""

    name: str = Field(
        pattern=TENANT_NAME,
        description="a label for --tenant, logs and metrics: letters, digits, '.', '_' or '-', "
        "at most 64 characters, unique among the tenants",
    )

    @field_validator("cloud")
    @classmethod
    def _known_cloud(cls, value: str) -> str:
        if value not in CLOUDS:
            raise ValueError(f"unknown cloud; accepted: {', '.join(CLOUDS)}")
        return value

    @field_validator("authority_host", "graph_endpoint")
    @classmethod
    def _https_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            try:
                if info.field_name == "authority_host":
                    resolve_endpoints(authority_host=value)
                else:
                    resolve_endpoints(graph_endpoint=value)
            except ConfigurationError as error:
                raise ValueError(str(error).removeprefix(f"{info.field_name}: ")) from None
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _existing_bundle(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file; accepted: a PEM file of CA certificates")
        return value


class CheckConfig(_Section):
    """How one check runs: ``[checks.<id>]``; its thresholds go under ``[checks.<id>.settings]``."""

    enabled: bool = Field(default=True, description="true or false; a disabled check never runs")
    interval_seconds: int | None = Field(
        default=None, gt=0, description="run every this many seconds instead of the check's default schedule"
    )
    cron: str | None = Field(
        default=None,
        description="run at the times of a five-field crontab line (minute hour day month day_of_week), "
        "in UTC, e.g. '0 6 * * 1-5', instead of the default schedule",
    )
    jitter_seconds: float = Field(
        default=30, ge=0, description="up to this many seconds of random delay, so runs do not align"
    )
    timeout_seconds: float | None = Field(
        default=None, gt=0, description="seconds after which a run is cancelled (default: the check's own)"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="the check's own thresholds, as its documentation lists them"
    )

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from monitor.schedules import cron_trigger

        try:
            cron_trigger(value)
        except ValueError as error:
            raise ValueError(
                f"not a crontab line ({error}); accepted: five fields 'minute hour day month "
                "day_of_week' in UTC, e.g. '0 6 * * 1-5'"
            ) from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if self.interval_seconds is not None and self.cron is not None:
            raise ValueError("interval_seconds and cron are both set; accepted: one of them, or neither")
        return self


class WaiverSettings(_Section):
    """An accepted risk: findings it matches stay recorded but raise no alert until it expires."""

    fingerprint: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{32}$", description="a finding's fingerprint, 32 hex characters"
    )
    rule: str | None = Field(default=None, description="a rule id; with resource_id, instead of fingerprint")
    resource_id: str | None = Field(default=None, description="the id of the directory object the rule names")
    check: str | None = Field(
        default=None, pattern=CHECK_ID.pattern, description="limit the waiver to one check id"
    )
    tenant: str | None = Field(default=None, description="limit the waiver to one tenant name")
    justification: str = Field(min_length=1, description="why the risk is accepted (free text)")
    approver: str = Field(min_length=1, description="who accepted it (name or e-mail)")
    expires: date = Field(description="the last day the waiver applies, a TOML date like 2026-12-31")

    @field_validator("fingerprint", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _identifies_findings(self) -> Self:
        if self.fingerprint is None and (self.rule is None or self.resource_id is None):
            raise ValueError(
                "the waiver names no finding; accepted: fingerprint, or rule and resource_id "
                "(optionally narrowed by check and tenant)"
            )
        return self


class StateSettings(_Section):
    path: Path = Field(
        default=Path("state/monitor.db"),
        description="the SQLite file of findings and runs (relative to the working directory)",
    )


class HealthSettings(_Section):
    enabled: bool = Field(default=True, description="true or false: serve /healthz, /readyz and /status")
    host: str = Field(default="127.0.0.1", min_length=1, description="the address to listen on")
    port: int = Field(default=8080, ge=0, le=65535, description="a TCP port, 0 to 65535 (0 picks a free one)")


class LogSettings(_Section):
    format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json, text, or auto (json unless writing to a terminal)"
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description=f"one of {', '.join(LOG_LEVELS)} (any case)"
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class WorkerSettings(_Section):
    grace_seconds: float = Field(
        default=30, ge=0, description="seconds running checks get to finish on shutdown"
    )
    misfire_grace_seconds: float = Field(
        default=300, gt=0, description="a run this many seconds late (after a pause or sleep) is skipped"
    )
    max_parallel_checks: int = Field(
        default=4, ge=1, le=64, description="check runs in flight at once, across all tenants (1 to 64)"
    )


class MonitorSettings(BaseSettings):
    """Everything the worker needs. Build it with :func:`monitor.settings.load_settings`, which reads
    the TOML file, ``.env`` and the environment (prefix ``ENTRA_MONITOR_``, ``__`` between names)
    and says where a wrong value came from; the constructor itself only takes keyword values."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    tenants: list[TenantSettings] = Field(
        min_length=1, description="one [[tenants]] table per tenant (at least one)"
    )
    checks: dict[CheckId, CheckConfig] = Field(
        default_factory=dict, description="one [checks.<check id>] table per check to adjust"
    )
    waivers: list[WaiverSettings] = Field(default_factory=list, description="[[waivers]] tables")
    state: StateSettings = Field(default_factory=StateSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    logging: LogSettings = Field(default_factory=LogSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    alerts: AlertSettings = Field(
        default_factory=AlertSettings, description="the [alerts] table: where alerts go and how they retry"
    )
    telemetry: TelemetrySettings = Field(
        default_factory=TelemetrySettings, description="the [telemetry] table: where metrics and events go"
    )
    snapshots: SnapshotSettings = Field(
        default_factory=SnapshotSettings,
        description="the [snapshots] table: compliance snapshots for auditors, where and how many",
    )
    baseline: FilePath | None = Field(
        default=None, description="an existing TOML file of baseline thresholds (default: the built-in one)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings gathers the file, .env and the environment itself, so that every problem
        # can name the file line or variable it came from; validation sees only what it passes.
        return (init_settings,)

    def tenant(self, name: str) -> TenantSettings:
        """The tenant called ``name``; ConfigurationError listing the names otherwise."""
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        known = ", ".join(tenant.name for tenant in self.tenants)
        raise ConfigurationError(f"--tenant: no tenant named {name!r}; accepted: {known}")
