"""The places alerts go: Microsoft Teams, Slack and a signed JSON webhook.

A :class:`Sink` decides which alerts it takes (:meth:`Sink.accepts`: minimum severity, tenants,
checks, transitions) and turns one into the HTTP request it posts (:meth:`Sink.request`). It never
sends anything itself: :func:`monitor.alerts.delivery.deliver_due` does, through the one
``httpx.AsyncClient`` it is given. A sink's URL and key stay :class:`~pydantic.SecretStr` until the
request is built, so its repr and every message name the sink by id only.

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
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from monitor.alerts.payloads import alert_document, slack_message, teams_message
from monitor.alerts.settings import (
    AlertSettings,
    SinkSettings,
    SlackSinkSettings,
    TeamsSinkSettings,
    WebhookSinkSettings,
)
from monitor.logs import REDACTED
from monitor.state.store import Alert

DEFAULT_IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class SinkRequest:
    """A POST to make: the URL (secret until sent), the body and the headers."""

    url: SecretStr
    content: bytes
    headers: dict[str, str]


class Sink(abc.ABC):
    """One configured sink. ``tenant_names`` maps directory ids to the configured tenant names, so
    a filter may name a tenant either way."""

    kind: str = ""

    def __init__(self, settings: SinkSettings, tenant_names: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._tenants = {tenant.casefold() for tenant in settings.tenants}
        self._tenant_names = {key.casefold(): value.casefold() for key, value in (tenant_names or {}).items()}

    @property
    def id(self) -> str:
        return self.settings.id

    @property
    def timeout_seconds(self) -> float:
        return self.settings.timeout_seconds

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

    def request(self, alert: Alert, idempotency_key: str, now: datetime) -> SinkRequest:
        """The POST that delivers ``alert``; ``now`` is the sending time (for signatures)."""
        content = json.dumps(self.payload(alert), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", DEFAULT_IDEMPOTENCY_HEADER: idempotency_key}
        return SinkRequest(self.settings.url, content, headers)

    @abc.abstractmethod
    def payload(self, alert: Alert) -> dict[str, Any]:
        """The JSON body for ``alert``."""


class TeamsSink(Sink):
    """A Teams Workflows webhook; the body is a message with one Adaptive Card."""

    kind = "teams"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return teams_message(alert)


class SlackSink(Sink):
    """A Slack incoming webhook; the body is blocks with a text fallback."""

    kind = "slack"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return slack_message(alert)


def sign(key: SecretStr, timestamp: int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``f"{timestamp}." + body`` under ``key``."""
    digest = hmac.new(key.get_secret_value().encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookSink(Sink):
    """A generic JSON webhook, signed, with the idempotency key in a header of its own."""

    kind = "webhook"
    settings: WebhookSinkSettings

    def payload(self, alert: Alert) -> dict[str, Any]:
        return alert_document(alert)

    def request(self, alert: Alert, idempotency_key: str, now: datetime) -> SinkRequest:
        content = json.dumps(self.payload(alert), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(now.timestamp())
        settings = self.settings
        headers = {
            "Content-Type": "application/json",
            settings.idempotency_header: idempotency_key,
            settings.timestamp_header: str(timestamp),
            settings.signature_header: sign(settings.hmac_key, timestamp, content),
        }
        return SinkRequest(settings.url, content, headers)


_SINK_CLASSES: dict[type[Any], type[Sink]] = {
    TeamsSinkSettings: TeamsSink,
    SlackSinkSettings: SlackSink,
    WebhookSinkSettings: WebhookSink,
}


def build_sink(settings: SinkSettings, tenant_names: Mapping[str, str] | None = None) -> Sink:
    """The sink one ``[[alerts.sinks]]`` entry describes."""
    return _SINK_CLASSES[type(settings)](settings, tenant_names)


def build_sinks(settings: AlertSettings, tenant_names: Mapping[str, str] | None = None) -> list[Sink]:
    """Every configured sink, in the configured order."""
    return [build_sink(sink, tenant_names) for sink in settings.sinks]


def routes(sinks: Sequence[Sink]) -> dict[str, Callable[[Alert], bool]]:
    """``{sink id: sink.accepts}``, what :meth:`monitor.state.StateStore.route_alerts` takes."""
    return {sink.id: sink.accepts for sink in sinks}


class SinkSecretsFilter(logging.Filter):
    """Masks the sinks' URLs (whole, and their path and query, where Slack and Teams put the
    credential) and HMAC keys in every record it sees. httpx logs each request's full URL at INFO;
    install this on the log handler (:func:`monitor.logs.configure_logging`'s) when sinks are
    configured, so a DEBUG log level cannot leak a webhook's credential."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        super().__init__()
        secrets: set[str] = set()
        for sink in sinks:
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
