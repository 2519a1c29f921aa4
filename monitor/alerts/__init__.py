"""Alerts: lifecycle transitions written to the outbox, then delivered to Teams, Slack and webhooks.

::

    sinks = build_sinks(settings.alerts, tenant_names, events=telemetry)   # from [alerts] settings
    store.reconcile(...)                                       # writes one Alert per transition
    store.write_reminders(now, Severity.HIGH, timedelta(hours=24))   # still-open findings again
    report = await deliver_due(outbox, sinks, client, now, backoff=Backoff(settings.alerts.retry),
                               digest_threshold=settings.alerts.digest_threshold)

The outbox lives in the state database (:meth:`monitor.state.StateStore.route_alerts` and the
methods after it); ``payloads.py`` says what an alert carries, ``sinks.py`` how each sink wants it,
``delivery.py`` how it is sent, retried and parked.
"""

from __future__ import annotations

from monitor.alerts.delivery import Backoff, DeliveryReport, Outbox, deliver_due
from monitor.alerts.payloads import (
    ALERT_EVENT,
    alert_document,
    digest_document,
    event_name,
    event_properties,
    slack_digest,
    slack_message,
    teams_digest,
    teams_message,
)
from monitor.alerts.settings import (
    AlertSettings,
    AzureMonitorSinkSettings,
    RetrySettings,
    SinkSettings,
    SlackSinkSettings,
    TeamsSinkSettings,
    WebhookSinkSettings,
)
from monitor.alerts.sinks import (
    AzureMonitorSink,
    EventEmitter,
    HttpSink,
    Sink,
    SinkRequest,
    SinkSecretsFilter,
    SlackSink,
    TeamsSink,
    WebhookSink,
    build_sink,
    build_sinks,
    sign,
)

__all__ = [
    "ALERT_EVENT",
    "AlertSettings",
    "AzureMonitorSink",
    "AzureMonitorSinkSettings",
    "Backoff",
    "DeliveryReport",
    "EventEmitter",
    "HttpSink",
    "Outbox",
    "RetrySettings",
    "Sink",
    "SinkRequest",
    "SinkSecretsFilter",
    "SinkSettings",
    "SlackSink",
    "SlackSinkSettings",
    "TeamsSink",
    "TeamsSinkSettings",
    "WebhookSink",
    "WebhookSinkSettings",
    "alert_document",
    "build_sink",
    "build_sinks",
    "deliver_due",
    "digest_document",
    "event_name",
    "event_properties",
    "sign",
    "slack_digest",
    "slack_message",
    "teams_digest",
    "teams_message",
]
