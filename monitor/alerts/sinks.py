"""The places alerts go: Microsoft Teams, Slack, a signed JSON webhook and Application Insights.

A :class:`Sink` decides which alerts it takes (:meth:`Sink.accepts`: minimum severity, tenants,
checks, transitions). An :class:`HttpSink` turns one alert, or a digest of many, into the HTTP
request it posts (:meth:`HttpSink.request`, :meth:`HttpSink.digest_request`); it never sends
anything itself: :func:`monitor.alerts.delivery.deliver_due` does, through the one
``httpx.AsyncClient`` it is given. The :class:`AzureMonitorSink` instead emits each alert as one
custom event through the telemetry (never as a digest: every alert is its own event). A sink's
URL and key stay :class:`~pydantic.SecretStr` until the request is built, so its repr and every
message name the sink by id only.

The generic webhook's signature lets a receiver check origin and freshness::

    expected = hmac.new(key, f"{timestamp}.".encode() + body, sha256).hexdigest()
    compare_digest(header_signature, "sha256=" + expected) and abs(now - timestamp) < 300
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from monitor.alerts.payloads import (
    ALERT_EVENT,
    DIGEST_TITLES,
    alert_document,
    digest_document,
    event_properties,
    slack_digest,
    slack_message,
    teams_digest,
    teams_message,
)
from monitor.alerts.settings import (
    AlertSettings,
    AzureMonitorSinkSettings,
    HttpSinkSettings,
    SinkSettings,
    SlackSinkSettings,
    TeamsSinkSettings,
    WebhookSinkSettings,
)
from monitor.errors import ConfigurationError
from monitor.logs import REDACTED
from monitor.state.store import Alert, Delivery

DEFAULT_IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class SinkRequest:
    """A POST to make: the URL (secret until sent), the body and the headers."""

    url: SecretStr
    content: bytes
    headers: dict[str, str]


class EventEmitter(Protocol):
    """What the Azure Monitor sink emits through: :meth:`monitor.telemetry.Telemetry.emit_event`."""

    def emit_event(self, name: str, properties: Mapping[str, str]) -> None: ...


class Sink(abc.ABC):
    """One configured sink. ``tenant_names`` maps directory ids to the configured tenant names, so
    a filter may name a tenant either way. ``digests``: whether a flood of one run's alerts is sent
    to it as one digest (``alerts.digest_threshold``)."""

    kind: str = ""
    digests: bool = True
    settings: SinkSettings

    def __init__(self, settings: SinkSettings, tenant_names: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._tenants = {tenant.casefold() for tenant in settings.tenants}
        self._tenant_names = {key.casefold(): value.casefold() for key, value in (tenant_names or {}).items()}

    @property
    def id(self) -> str:
        return self.settings.id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"

    def accepts(self, alert: Alert) -> bool:
        """Whether this sink takes ``alert``: severity at least ``min_severity`` (for a resolution,
        the severity it had), its tenant, check and transition among those configured (empty: all)."""
        finding = alert.finding
        tenant = finding.tenant.casefold()
        return (
            finding.severity >= self.settings.min_severity
            and (not self._tenants or bool({tenant, self._tenant_names.get(tenant, tenant)} & self._tenants))
            and (not self.settings.checks or finding.check in self.settings.checks)
            and alert.kind in self.settings.transitions
        )


class HttpSink(Sink):
    """A sink that is posted to: Teams, Slack or the generic webhook."""

    settings: HttpSinkSettings

    def __init__(
        self,
        settings: HttpSinkSettings,
        tenant_names: Mapping[str, str] | None = None,
        digest_titles: int = DIGEST_TITLES,
    ) -> None:
        super().__init__(settings, tenant_names)
        self.digest_titles = digest_titles

    @property
    def timeout_seconds(self) -> float:
        return self.settings.timeout_seconds

    def request(self, alert: Alert, idempotency_key: str, now: datetime) -> SinkRequest:
        """The POST that delivers ``alert``; ``now`` is the sending time (for signatures)."""
        return self._post(self.payload(alert), idempotency_key, now)

    def digest_request(self, deliveries: Sequence[Delivery], digest_key: str, now: datetime) -> SinkRequest:
        """The POST that delivers ``deliveries`` (one batch) as one digest under ``digest_key``."""
        document = digest_document(deliveries, digest_key, self.digest_titles)
        return self._post(self.digest_payload(document), digest_key, now)

    def _post(self, payload: Mapping[str, Any], idempotency_key: str, now: datetime) -> SinkRequest:
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", DEFAULT_IDEMPOTENCY_HEADER: idempotency_key}
        return SinkRequest(self.settings.url, content, headers)

    @abc.abstractmethod
    def payload(self, alert: Alert) -> dict[str, Any]:
        """The JSON body for ``alert``."""

    @abc.abstractmethod
    def digest_payload(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body for a digest (:func:`monitor.alerts.payloads.digest_document`)."""


class AzureMonitorSink(Sink):
    """Application Insights: each alert is emitted as one custom event :data:`ALERT_EVENT` with
    :func:`~monitor.alerts.payloads.event_properties`. "Delivered" means handed to the exporter,
    which batches, retries and keeps its offline storage; never a digest."""

    kind = "azure_monitor"
    digests = False
    timeout_seconds = 0.0
    settings: AzureMonitorSinkSettings

    def __init__(
        self,
        settings: AzureMonitorSinkSettings,
        events: EventEmitter,
        tenant_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings, tenant_names)
        self._events = events

    def emit(self, alert: Alert) -> None:
        """Hand ``alert`` to the exporter as one custom event; never blocks on the network."""
        self._events.emit_event(ALERT_EVENT, event_properties(alert))


class TeamsSink(HttpSink):
    """A Teams Workflows webhook; the body is a message with one Adaptive Card."""

    kind = "teams"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return teams_message(alert)

    def digest_payload(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return teams_digest(document)


class SlackSink(HttpSink):
    """A Slack incoming webhook; the body is blocks with a text fallback."""

    kind = "slack"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return slack_message(alert)

    def digest_payload(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return slack_digest(document)


def sign(key: SecretStr, timestamp: int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``f"{timestamp}." + body`` under ``key``."""
    digest = hmac.new(key.get_secret_value().encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookSink(HttpSink):
    """A generic JSON webhook, signed, with the idempotency key in a header of its own. A digest
    is :func:`~monitor.alerts.payloads.digest_document` itself: every alert id and idempotency key,
    under the digest's own key."""

    kind = "webhook"
    settings: WebhookSinkSettings

    def payload(self, alert: Alert) -> dict[str, Any]:
        return alert_document(alert)

    def digest_payload(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return dict(document)

    def _post(self, payload: Mapping[str, Any], idempotency_key: str, now: datetime) -> SinkRequest:
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(now.timestamp())
        settings = self.settings
        headers = {
            "Content-Type": "application/json",
            settings.idempotency_header: idempotency_key,
            settings.timestamp_header: str(timestamp),
            settings.signature_header: sign(settings.hmac_key, timestamp, content),
        }
        return SinkRequest(settings.url, content, headers)


_SINK_CLASSES: dict[type[Any], type[HttpSink]] = {
    TeamsSinkSettings: TeamsSink,
    SlackSinkSettings: SlackSink,
    WebhookSinkSettings: WebhookSink,
}


def build_sink(
    settings: SinkSettings,
    tenant_names: Mapping[str, str] | None = None,
    *,
    events: EventEmitter | None = None,
    digest_titles: int = DIGEST_TITLES,
    index: int = 0,
) -> Sink:
    """The sink one ``[[alerts.sinks]]`` entry (number ``index``) describes. ``events`` is the
    telemetry when ``[telemetry.azure_monitor]`` is enabled, else None: an ``azure_monitor`` sink
    then raises ConfigurationError naming both settings."""
    if isinstance(settings, AzureMonitorSinkSettings):
        if events is None:
            raise ConfigurationError(
                f'alerts.sinks[{index}] (id {settings.id!r}): kind "azure_monitor" sends alerts as '
                "Application Insights events, which needs telemetry.azure_monitor.enabled = true (with "
                "its connection_string); enable it, or remove the sink"
            )
        return AzureMonitorSink(settings, events, tenant_names)
    return _SINK_CLASSES[type(settings)](settings, tenant_names, digest_titles)


def build_sinks(
    settings: AlertSettings,
    tenant_names: Mapping[str, str] | None = None,
    *,
    events: EventEmitter | None = None,
) -> list[Sink]:
    """Every configured sink, in the configured order (see :func:`build_sink` for ``events``)."""
    return [
        build_sink(sink, tenant_names, events=events, digest_titles=settings.digest_titles, index=index)
        for index, sink in enumerate(settings.sinks)
    ]


def routes(sinks: Sequence[Sink]) -> dict[str, Callable[[Alert], bool]]:
    """``{sink id: sink.accepts}``, what :meth:`monitor.state.StateStore.route_alerts` takes."""
    return {sink.id: sink.accepts for sink in sinks}


def digest_thresholds(sinks: Sequence[Sink], threshold: int) -> dict[str, int]:
    """``{sink id: threshold}`` for the sinks that take digests (none when ``threshold`` is 0)."""
    return {sink.id: threshold for sink in sinks if sink.digests} if threshold > 0 else {}


class SinkSecretsFilter(logging.Filter):
    """Masks the sinks' URLs (whole, and their path and query, where Slack and Teams put the
    credential) and HMAC keys in every record it sees. httpx logs each request's full URL at INFO;
    install this on the log handler (:func:`monitor.logs.configure_logging`'s) when sinks are
    configured, so a DEBUG log level cannot leak a webhook's credential."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        super().__init__()
        secrets: set[str] = set()
        for sink in sinks:
            if not isinstance(sink, HttpSink):
                continue
            url = sink.settings.url.get_secret_value()
            parts = urlsplit(url)
            secrets.update({url, parts.path + (f"?{parts.query}" if parts.query else "")})
            if isinstance(sink.settings, WebhookSinkSettings):
                secrets.add(sink.settings.hmac_key.get_secret_value())
        # Longest first, so a URL is masked whole before its path is.
        self._secrets = sorted((secret for secret in secrets if len(secret) > 1), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for secret in self._secrets:
            masked = masked.replace(secret, REDACTED)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
