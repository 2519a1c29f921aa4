"""Alerts: lifecycle transitions written to the outbox, then delivered to Teams, Slack and webhooks.

::

    sinks = build_sinks(settings.alerts, tenant_names)        # from [alerts] settings
    store.reconcile(...)                                       # writes one Alert per transition
    report = await deliver_due(outbox, sinks, client, now, backoff=Backoff(settings.alerts.retry))

The outbox lives in the state database (:meth:`monitor.state.StateStore.route_alerts` and the
methods after it); ``payloads.py`` says what an alert carries, ``sinks.py`` how each sink wants it,
``delivery.py`` how it is sent, retried and parked.
"""

from __future__ import annotations

from monitor.alerts.delivery import Backoff, DeliveryReport, Outbox, ThreadedOutbox, deliver_due
from monitor.alerts.payloads import alert_document, event_name, slack_message, teams_message
from monitor.alerts.settings import (
    AlertSettings,
    RetrySettings,
    SinkSettings,
    SlackSinkSettings,
    TeamsSinkSettings,
    WebhookSinkSettings,
)
from monitor.alerts.sinks import (
    Sink,
    SinkRequest,
    SlackSink,
    TeamsSink,
    WebhookSink,
    build_sink,
    build_sinks,
    sign,
)

__all__ = [
    "AlertSettings",
    "Backoff",
    "DeliveryReport",
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
    "ThreadedOutbox",
    "WebhookSink",
    "WebhookSinkSettings",
    "alert_document",
    "build_sink",
    "build_sinks",
    "deliver_due",
    "event_name",
    "sign",
    "slack_message",
    "teams_message",
]
