"""What each sink receives, compared exactly, from a real store through a real HTTP server; the
webhook's HMAC verifies with the key; the filters choose the alerts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import httpx

from monitor.alerts import Backoff, build_sink, deliver_due, event_name
from monitor.alerts.payloads import WORKER_CHECK
from monitor.check import Finding, Resource, Severity
from monitor.runner import WORKER_CHECK as RUNNER_WORKER_CHECK
from monitor.state import SqliteStateStore
from monitor.state.sqlite import idempotency_key
from tests.alerts.conftest import HMAC_KEY, URL_SECRET
from tests.alerts.factories import CHECK, T0, TENANT, at, make_finding, slack, teams, webhook
from tests.alerts.receiver import Receiver
from tests.alerts.threaded import ThreadedOutbox

FINDING = make_finding("app-1", evidence={"keyId": "k-1", "endDateTime": "2026-11-01", "count": 3})
RESOURCE_TEXT = "App app-1 (application app-1)"


async def deliver_one(store: SqliteStateStore, sink_settings: object, client: httpx.AsyncClient) -> None:
    store.reconcile(TENANT, CHECK, [FINDING], T0, [])
    sink = build_sink(sink_settings)  # type: ignore[arg-type]
    report = await deliver_due(ThreadedOutbox(store), [sink], client, at(1), backoff=Backoff())
    assert report.delivered == [(1, sink.id)]


async def test_the_webhook_receives_the_alert_document_signed(
    store: SqliteStateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    await deliver_one(store, webhook(receiver.url()), client)

    (alert,) = store.alerts()
    (request,) = receiver.received
    assert request.path == f"/hook?{URL_SECRET}"
    assert request.json == {
        "alertId": alert.key,
        "event": "new",
        "transition": "new",
        "tenant": TENANT,
        "check": CHECK,
        "rule": "credential-expired",
        "severity": "high",
        "previousSeverity": None,
        "resource": {"type": "application", "id": "app-1", "name": "App app-1"},
        "fingerprint": FINDING.fingerprint,
        "title": "New high finding: credential-expired",
        "message": "Application app-1 has an expired client secret.",
        "remediation": "Remove the expired secret and rotate to a certificate.",
        "evidence": {"keyId": "k-1", "endDateTime": "2026-11-01", "count": "3"},
        "references": ["seed §4.2"],
        "firstSeen": "2026-11-27T12:00:00Z",
        "occurred": "2026-11-27T12:00:00Z",
    }
    timestamp = str(int(at(1).timestamp()))
    expected = hmac.new(HMAC_KEY.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["x-entra-monitor-timestamp"] == timestamp
    assert hmac.compare_digest(request.headers["x-entra-monitor-signature"], "sha256=" + expected.hexdigest())
    assert request.headers["idempotency-key"] == idempotency_key(alert.key, "hook")
    assert request.headers["content-type"] == "application/json"
    wrong = hmac.new(
        b"another key of thirty-two characters", f"{timestamp}.".encode() + request.body, "sha256"
    )
    assert request.headers["x-entra-monitor-signature"] != "sha256=" + wrong.hexdigest()


async def test_teams_receives_an_adaptive_card(
    store: SqliteStateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    await deliver_one(store, teams(receiver.url()), client)

    (request,) = receiver.received
    facts = [
        {"title": "Tenant", "value": TENANT},
        {"title": "Check", "value": CHECK},
        {"title": "Rule", "value": "credential-expired"},
        {"title": "Severity", "value": "high"},
        {"title": "Resource", "value": RESOURCE_TEXT},
        {"title": "First seen", "value": "2026-11-27T12:00:00Z"},
        {"title": "Fingerprint", "value": FINDING.fingerprint},
    ]
    assert request.json == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "New high finding: credential-expired",
                            "weight": "Bolder",
                            "size": "Medium",
                            "color": "Attention",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": FINDING.message, "wrap": True},
                        {"type": "FactSet", "facts": facts},
                        {"type": "TextBlock", "text": "Remediation", "weight": "Bolder", "wrap": True},
                        {"type": "TextBlock", "text": FINDING.remediation, "wrap": True},
                        {"type": "TextBlock", "text": "Evidence", "weight": "Bolder", "wrap": True},
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "keyId", "value": "k-1"},
                                {"title": "endDateTime", "value": "2026-11-01"},
                                {"title": "count", "value": "3"},
                            ],
                        },
                    ],
                },
            }
        ],
    }


async def test_slack_receives_blocks_with_a_text_fallback(
    store: SqliteStateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    await deliver_one(store, slack(receiver.url()), client)

    (request,) = receiver.received
    fields = [
        f"*Tenant*\n{TENANT}",
        f"*Check*\n{CHECK}",
        "*Rule*\ncredential-expired",
        "*Severity*\nhigh",
        f"*Resource*\n{RESOURCE_TEXT}",
        "*First seen*\n2026-11-27T12:00:00Z",
        f"*Fingerprint*\n{FINDING.fingerprint}",
    ]
    assert request.json == {
        "text": f"New high finding: credential-expired: {FINDING.message}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "New high finding: credential-expired"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": FINDING.message}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Remediation*\n{FINDING.remediation}"}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "Evidence: keyId: k-1; endDateTime: 2026-11-01; count: 3"}
                ],
            },
        ],
    }


async def test_filters_choose_by_severity_tenant_check_and_transition(
    store: SqliteStateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    sinks = [
        build_sink(webhook(receiver.url("/high"), id="high", min_severity="high")),
        build_sink(webhook(receiver.url("/fabrikam"), id="fabrikam", tenants=("Fabrikam-Name",)),
                   {"fabrikam-id": "fabrikam-name"}),
        build_sink(webhook(receiver.url("/worker"), id="worker", checks=("worker",))),
        build_sink(webhook(receiver.url("/resolved"), id="resolved", transitions=("resolved",))),
    ]  # fmt: skip
    store.reconcile(TENANT, CHECK, [make_finding("a", severity=Severity.MEDIUM)], T0, [])
    store.reconcile(TENANT, CHECK, [make_finding("b", severity=Severity.CRITICAL)], at(1), [])
    store.reconcile(
        "fabrikam-id", CHECK, [make_finding("c", tenant="fabrikam-id", severity=Severity.LOW)], at(1), []
    )
    failing = Finding("check-failing", Severity.HIGH, Resource("check", CHECK, "Credentials"), "Failing.",
                      "Fix.", {}, (), TENANT, WORKER_CHECK)  # fmt: skip
    store.reconcile(TENANT, WORKER_CHECK, [failing], at(2), [])

    await deliver_due(ThreadedOutbox(store), sinks, client, at(3))

    arrived = sorted((request.path.split("?")[0], request.json["resource"]["id"], request.json["event"])
                     for request in receiver.received)  # fmt: skip
    assert arrived == [
        ("/fabrikam", "c", "new"),
        ("/high", "b", "new"),
        ("/high", CHECK, "check_failing"),
        ("/resolved", "a", "resolved"),
        ("/worker", CHECK, "check_failing"),
    ]


def test_the_worker_check_id_is_the_runners() -> None:
    assert WORKER_CHECK == RUNNER_WORKER_CHECK


def test_a_resolved_failing_check_is_a_recovery(store: SqliteStateStore) -> None:
    failing = Finding("check-failing", Severity.HIGH, Resource("check", CHECK), "Failing.", "Fix.", {}, (),
                      TENANT, WORKER_CHECK)  # fmt: skip
    store.reconcile(TENANT, WORKER_CHECK, [failing], T0, [])
    store.reconcile(TENANT, WORKER_CHECK, [], T0 + timedelta(hours=1), [])

    assert [event_name(alert) for alert in store.alerts()] == ["check_failing", "check_recovered"]
