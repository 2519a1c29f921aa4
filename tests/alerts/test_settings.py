"""The [alerts] settings: sinks by kind, URLs and keys secret in every repr and message."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from monitor.alerts import AlertSettings, Backoff, WebhookSinkSettings, build_sinks
from monitor.alerts.settings import TransitionKind
from monitor.check import Severity
from monitor.state.store import ALERT_KINDS
from tests.alerts.conftest import HMAC_KEY

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"


def test_sinks_are_chosen_by_kind_with_their_defaults() -> None:
    settings = AlertSettings.model_validate(
        {
            "sinks": [
                {"kind": "slack", "id": "ops", "url": SLACK_URL},
                {"kind": "webhook", "id": "siem", "url": "https://siem.example/in", "hmac_key": HMAC_KEY,
                 "min_severity": "high", "tenants": ["contoso"], "checks": ["worker"]},
            ],
            "retry": {"initial_seconds": 5, "max_seconds": 50},
        }
    )  # fmt: skip

    assert [type(sink).__name__ for sink in build_sinks(settings)] == ["SlackSink", "WebhookSink"]
    slack, webhook = settings.sinks
    assert (slack.min_severity, slack.tenants, slack.checks, slack.transitions) == (
        Severity.LOW,
        (),
        (),
        ALERT_KINDS,
    )
    assert isinstance(webhook, WebhookSinkSettings)
    assert (webhook.min_severity, webhook.signature_header, webhook.idempotency_header) == (
        Severity.HIGH,
        "X-Entra-Monitor-Signature",
        "Idempotency-Key",
    )
    assert Backoff(settings.retry, lambda: 0.0).delay(5) == 50
    assert "SECRET" not in repr(settings)
    assert HMAC_KEY not in repr(settings)


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        ({"kind": "slack", "id": "ops", "url": "http://hooks.slack.com/XXXXSECRETXXXX"}, "not https"),
        ({"kind": "slack", "id": "ops", "url": "XXXXSECRETXXXX"}, "not a URL"),
        ({"kind": "webhook", "id": "x", "url": "https://a.example/", "hmac_key": "XXXXSECRETXXXX"},
         "at least 32 characters"),
        ({"kind": "pager", "id": "x", "url": SLACK_URL}, "does not match any of the expected tags"),
    ],
)  # fmt: skip
def test_invalid_sinks_are_refused_without_repeating_the_secret(sink: dict[str, str], expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        AlertSettings.model_validate({"sinks": [sink]})

    messages = " ".join(error["msg"] for error in raised.value.errors())
    assert expected in messages
    assert "SECRET" not in messages


def test_sink_ids_are_unique() -> None:
    sink = {"kind": "slack", "id": "ops", "url": SLACK_URL}
    with pytest.raises(ValidationError, match="sink ids repeated: ops"):
        AlertSettings.model_validate({"sinks": [sink, sink]})


def test_the_transition_kinds_are_the_stores() -> None:
    assert typing.get_args(TransitionKind) == ALERT_KINDS


def test_reminder_and_digest_defaults_and_the_azure_monitor_sink() -> None:
    settings = AlertSettings.model_validate({"sinks": [{"kind": "azure_monitor", "id": "appinsights"}]})
    (events,) = settings.sinks
    assert (settings.reminder_interval_hours, settings.reminder_min_severity) == (24, Severity.HIGH)
    assert (settings.digest_threshold, settings.digest_titles) == (10, 5)
    assert (events.kind, events.min_severity, events.transitions) == (
        "azure_monitor",
        Severity.LOW,
        ALERT_KINDS,
    )
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        AlertSettings.model_validate(
            {"sinks": [{"kind": "azure_monitor", "id": "appinsights", "url": "https://x.example/"}]}
        )
