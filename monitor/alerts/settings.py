"""The shape of the ``[alerts]`` settings: the sinks alerts go to and how failed sends are retried.

Same style as :mod:`monitor.settings.models`: frozen, unknown keys refused, every field described.
Webhook URLs carry their own credential (Teams' ``sig=``, Slack's path) and HMAC keys are secrets,
so both are :class:`~pydantic.SecretStr`: a repr, a log line or ``config show`` never shows them,
and a validation message never repeats them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from monitor.check import CHECK_ID, Severity, SeverityLevel

SINK_ID = r"^[a-z][a-z0-9]*([-_][a-z0-9]+)*$"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
TransitionKind = Literal["new", "reopened", "resolved", "severity_raised", "severity_lowered", "reminder"]
"""The values of :data:`monitor.state.store.ALERT_KINDS` (a test keeps the two equal)."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _FilteredSink(_Section):
    """What every sink has: an id and the filters that choose its alerts."""

    id: str = Field(
        pattern=SINK_ID,
        description="a name for logs and the outbox: lower-case letters, digits, '-' or '_', unique "
        "among the sinks; renaming a sink makes its pending alerts wait for the old name",
    )
    min_severity: SeverityLevel = Field(
        default=Severity.LOW, description="info, low, medium, high or critical: quieter alerts are not sent"
    )
    tenants: tuple[str, ...] = Field(
        default=(), description="tenant names or directory ids whose alerts are sent (empty: every tenant)"
    )
    checks: tuple[Annotated[str, Field(pattern=CHECK_ID.pattern)], ...] = Field(
        default=(), description="check ids whose alerts are sent, 'worker' for failing checks (empty: all)"
    )
    transitions: tuple[TransitionKind, ...] = Field(
        default=("new", "reopened", "resolved", "severity_raised", "severity_lowered", "reminder"),
        description="which alerts are sent: new, reopened, resolved, severity_raised, severity_lowered, "
        "reminder (a finding still open after alerts.reminder_interval_hours)",
    )


class AzureMonitorSinkSettings(_FilteredSink):
    """Application Insights: each alert becomes one custom event ``EntraMonitorAlert``, sent by
    the telemetry's Azure Monitor exporter (``[telemetry.azure_monitor]`` must be enabled)."""

    kind: Literal["azure_monitor"] = Field(description="azure_monitor")


class _SinkSettings(_FilteredSink):
    """A sink reached over HTTP: the filters, the webhook URL and how long to wait for it."""

    url: SecretStr = Field(
        description="the webhook URL, https (http only to localhost); it is a secret: set it through "
        "an environment variable rather than the file"
    )
    timeout_seconds: float = Field(
        default=10, gt=0, le=120, description="seconds to wait for the sink's answer before retrying later"
    )

    @field_validator("url")
    @classmethod
    def _https(cls, value: SecretStr) -> SecretStr:
        # The message never repeats the URL: it is a credential.
        parts = urlsplit(value.get_secret_value())
        if not parts.hostname:
            raise ValueError("not a URL; accepted: https://host/path")
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ValueError("not https; accepted: an https URL (http only to localhost)")
        return value


class TeamsSinkSettings(_SinkSettings):
    """Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"),
    which posts each alert as an Adaptive Card."""

    kind: Literal["teams"] = Field(description="teams")


class SlackSinkSettings(_SinkSettings):
    """A Slack incoming webhook; each alert is a message of blocks with a text fallback."""

    kind: Literal["slack"] = Field(description="slack")


class WebhookSinkSettings(_SinkSettings):
    """Any HTTP endpoint: the alert as JSON, signed with HMAC-SHA256 over ``timestamp + "." + body``."""

    kind: Literal["webhook"] = Field(description="webhook")
    hmac_key: SecretStr = Field(
        description="the shared key the receiver verifies signatures with, at least 32 characters; a "
        "secret: set it through an environment variable rather than the file"
    )
    signature_header: str = Field(
        default="X-Entra-Monitor-Signature", description="header carrying 'sha256=<hex HMAC>'"
    )
    timestamp_header: str = Field(
        default="X-Entra-Monitor-Timestamp",
        description="header carrying the signing time in Unix seconds; receivers refuse old ones",
    )
    idempotency_header: str = Field(
        default="Idempotency-Key", description="header carrying the key that is the same for every repeat"
    )

    @field_validator("hmac_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("too short; accepted: at least 32 characters")
        return value


HttpSinkSettings = TeamsSinkSettings | SlackSinkSettings | WebhookSinkSettings
SinkSettings = Annotated[
    TeamsSinkSettings | SlackSinkSettings | WebhookSinkSettings | AzureMonitorSinkSettings,
    Field(discriminator="kind"),
]


class RetrySettings(_Section):
    """Back-off between attempts of a failed send: exponential, capped, with jitter."""

    initial_seconds: float = Field(default=30, gt=0, description="seconds before the first retry")
    multiplier: float = Field(default=2, ge=1, description="each further retry waits this many times longer")
    max_seconds: float = Field(
        default=3600, gt=0, description="the longest wait between attempts, also the cap on Retry-After"
    )
    jitter: float = Field(
        default=0.2, ge=0, le=1, description="each wait is shortened by a random fraction up to this (0 to 1)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_seconds < self.initial_seconds:
            raise ValueError(
                "max_seconds is less than initial_seconds; accepted: max_seconds >= initial_seconds"
            )
        return self


class AlertSettings(_Section):
    """``[alerts]``: where alerts go, how their delivery is retried, reminders and digests."""

    sinks: tuple[SinkSettings, ...] = Field(
        default=(),
        description="the sinks, each [[alerts.sinks]] with a kind: teams, slack, webhook or azure_monitor",
    )
    retry: RetrySettings = Field(default_factory=RetrySettings, description="back-off of failed sends")
    batch_size: int = Field(
        default=100, gt=0, le=10_000, description="at most this many sends per delivery round"
    )
    reminder_interval_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 365,
        description="hours after its latest alert that a finding still open is announced again "
        "(transition 'reminder'); 0: no reminders",
    )
    reminder_min_severity: SeverityLevel = Field(
        default=Severity.HIGH,
        description="info, low, medium, high or critical: only open findings this severe get reminders",
    )
    retention_days: float = Field(
        default=30,
        ge=1,
        le=3650,
        description="days a sent (delivered or parked) alert stays in the outbox before it is deleted; "
        "the latest alert about each finding stays for reminders (1 to 3650)",
    )
    digest_threshold: int = Field(
        default=10,
        ge=0,
        le=10_000,
        description="when one run of one check gives a sink more alerts than this, the sink gets one "
        "digest instead (the Azure Monitor sink excepted: it records every alert); 0: never digest",
    )
    digest_titles: int = Field(
        default=5, ge=1, le=50, description="how many alert titles, most severe first, a digest lists"
    )

    @field_validator("sinks")
    @classmethod
    def _unique_ids(cls, sinks: tuple[SinkSettings, ...]) -> tuple[SinkSettings, ...]:
        ids = [sink.id for sink in sinks]
        repeated = sorted({sink_id for sink_id in ids if ids.count(sink_id) > 1})
        if repeated:
            raise ValueError(f"sink ids repeated: {', '.join(repeated)}; accepted: a unique id per sink")
        return sinks
