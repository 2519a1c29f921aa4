"""Digests: one run of one check that gives a sink more than ``digest_threshold`` alerts sends that
sink one digest instead of a flood; each alert is still recorded, and settled, with the digest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from monitor.alerts import (
    Backoff,
    RetrySettings,
    build_sink,
    deliver_due,
    sign,
)
from monitor.alerts.payloads import ADAPTIVE_CARD
from monitor.alerts.sinks import Sink
from monitor.check import Severity
from monitor.state import open_store
from monitor.state.sqlite import SqliteStateStore, digest_key
from monitor.state.store import Delivery
from tests.alerts.conftest import HMAC_KEY
from tests.alerts.factories import CHECK, T0, TENANT, make_finding, slack, teams, webhook
from tests.alerts.receiver import Receiver
from tests.alerts.threaded import ThreadedOutbox

NO_JITTER = Backoff(RetrySettings(initial_seconds=60, multiplier=2, max_seconds=600, jitter=0))
SUMMARY = (
    "12 alerts from one run of credential-expiry for tenant contoso (2 critical, 4 high, 6 low); "
    "the 5 most severe are listed. Every alert is in the monitor's state: entra-monitor findings "
    "list shows them."
)
TOP_TITLES = [
    "New critical finding: credential-expired",
    "New critical finding: credential-expired",
    "New high finding: credential-expired",
    "New high finding: credential-expired",
    "New high finding: credential-expired",
]


def twelve_findings() -> list[Any]:
    """2 critical, 4 high and 6 low, in an order that is not the severity order."""
    severities = [Severity.LOW] * 3 + [Severity.HIGH] * 2 + [Severity.CRITICAL] * 2
    severities += [Severity.HIGH] * 2 + [Severity.LOW] * 3
    return [make_finding(f"app-{index:02}", severity=s) for index, s in enumerate(severities)]


async def deliver(
    store: SqliteStateStore, sinks: list[Sink], client: httpx.AsyncClient, seconds: int = 0
) -> Any:
    now = T0 + timedelta(seconds=seconds)
    return await deliver_due(
        ThreadedOutbox(store), sinks, client, now, backoff=NO_JITTER, batch_size=5, digest_threshold=10
    )


def expected_document(deliveries: list[Delivery], sink: str) -> dict[str, Any]:
    batch = deliveries[0].alert.batch
    return {
        "digest": True,
        "digestId": digest_key(batch, sink),
        "title": "12 alerts from credential-expiry for contoso",
        "tenant": TENANT,
        "check": CHECK,
        "count": 12,
        "bySeverity": {"critical": 2, "high": 4, "medium": 0, "low": 6, "info": 0},
        "byTransition": {"new": 12},
        "topTitles": TOP_TITLES,
        "summary": SUMMARY,
        "alerts": [
            {
                "alertId": delivery.alert.key,
                "idempotencyKey": delivery.idempotency_key,
                "event": "new",
                "severity": delivery.alert.finding.severity.label,
                "rule": "credential-expired",
                "resourceId": delivery.alert.finding.resource.id,
                "fingerprint": delivery.alert.fingerprint,
            }
            for delivery in deliveries
        ],
        "occurred": "2026-11-27T12:00:00Z",
    }


async def test_a_flood_from_one_run_is_one_signed_digest_carrying_every_alert(
    store: SqliteStateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    sink = build_sink(webhook(receiver.url()))
    store.reconcile(TENANT, CHECK, twelve_findings(), T0, [])

    # batch_size is 5: the digest is never cut, all 12 go in the one message.
    report = await deliver(store, [sink], client)
    await deliver(store, [sink], client, 1)

    deliveries = store.deliveries(sink="hook")
    (request,) = receiver.received
    assert request.json == expected_document(deliveries, "hook")
    assert request.headers["idempotency-key"] == digest_key(deliveries[0].alert.batch, "hook")
    timestamp = int(request.headers["x-entra-monitor-timestamp"])
    assert request.headers["x-entra-monitor-signature"] == sign(SecretStr(HMAC_KEY), timestamp, request.body)
    assert [(d.status, d.attempts, d.finished) for d in deliveries] == [("delivered", 1, T0)] * 12
    assert {d.digest for d in deliveries} == {digest_key(deliveries[0].alert.batch, "hook")}
    assert report.delivered == [(d.alert.alert_id, "hook") for d in deliveries]
    assert report.digests == [(deliveries[0].digest, "hook")]
    assert HMAC_KEY not in request.body.decode()


async def test_teams_and_slack_digests_are_one_card_and_one_message(
    store: SqliteStateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    sinks = [build_sink(teams(receiver.url("/teams"))), build_sink(slack(receiver.url("/slack")))]
    store.reconcile(TENANT, CHECK, twelve_findings(), T0, [])

    await deliver(store, sinks, client)

    by_path = {request.path.split("?")[0]: request for request in receiver.received}
    assert len(receiver.received) == 2
    digest = store.deliveries(sink="ops-teams")[0].digest
    assert by_path["/teams"].headers["idempotency-key"] == digest
    assert by_path["/teams"].json == {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD,
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "12 alerts from credential-expiry for contoso",
                            "weight": "Bolder",
                            "size": "Medium",
                            "color": "Attention",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": SUMMARY, "wrap": True},
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "critical", "value": "2"},
                                {"title": "high", "value": "4"},
                                {"title": "low", "value": "6"},
                            ],
                        },
                        {"type": "TextBlock", "text": "Most severe", "weight": "Bolder", "wrap": True},
                        *(
                            {"type": "TextBlock", "text": f"- {title}", "wrap": True, "spacing": "None"}
                            for title in TOP_TITLES
                        ),
                    ],
                },
            }
        ],
    }
    assert by_path["/slack"].json == {
        "text": f"12 alerts from credential-expiry for contoso: {SUMMARY}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "12 alerts from credential-expiry for contoso"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": SUMMARY}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*critical*: 2"},
                    {"type": "mrkdwn", "text": "*high*: 4"},
                    {"type": "mrkdwn", "text": "*low*: 6"},
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Most severe*\n" + "\n".join(f"• {t}" for t in TOP_TITLES),
                },
            },
        ],
    }
    assert {d.status for d in store.deliveries()} == {"delivered"}
    assert len(store.deliveries()) == 24


async def test_the_threshold_counts_per_run_and_per_sink(
    store: SqliteStateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    everything = build_sink(webhook(receiver.url("/all"), id="all"))
    urgent = build_sink(webhook(receiver.url("/urgent"), id="urgent", min_severity="high"))
    store.reconcile(TENANT, CHECK, twelve_findings(), T0, [])  # 12 for "all", 6 for "urgent"
    store.reconcile(TENANT, "other-check", [make_finding("x", check="other-check")], T0, [])
    store.reconcile(TENANT, CHECK, [], T0 + timedelta(hours=1), [])  # 12 resolved: a second batch

    for second in range(20):
        await deliver(store, [everything, urgent], client, second)

    paths = [
        (r.path.split("?")[0], r.json.get("digest", False), r.json.get("count")) for r in receiver.received
    ]
    assert paths.count(("/all", True, 12)) == 2  # the opening run and the resolving run
    assert paths.count(("/urgent", False, None)) == 6 + 1 + 6  # at most 10: one message each
    assert ("/all", False, None) in paths  # the other check's single alert
    assert len(paths) == 2 + 13 + 1
    assert {d.status for d in store.deliveries()} == {"delivered"}


async def test_a_digest_is_retried_whole_with_its_key_and_parked_whole(
    database: Path, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    sink = build_sink(webhook(receiver.url()))
    receiver.answer = lambda _: (503, {})
    with open_store(database) as store:
        store.reconcile(TENANT, CHECK, twelve_findings(), T0, [])
        store.reconcile(
            TENANT, CHECK, [*twelve_findings(), make_finding("late")], T0 + timedelta(seconds=1), []
        )
        await deliver(store, [sink], client)
        failed = store.deliveries()
    # A restart; the sink comes back after the back-off.
    receiver.answer = lambda _: (200, {})
    with open_store(database) as store:
        await deliver(store, [sink], client, 59)
        assert len(receiver.received) == 1
        await deliver(store, [sink], client, 60)
        await deliver(store, [sink], client, 61)
        delivered = store.deliveries()

    keys = [request.headers["idempotency-key"] for request in receiver.received]
    assert keys == [failed[0].digest, failed[0].digest, failed[12].idempotency_key]
    assert receiver.received[0].body == receiver.received[1].body  # the same digest, re-signed
    assert [(d.attempts, d.last_error) for d in failed[:12]] == [
        (1, "the webhook sink answered HTTP 503 Service Unavailable")
    ] * 12
    assert [d.attempts for d in failed[12:]] == [0]  # the later alert waited behind the digest
    assert [(d.status, d.attempts) for d in delivered] == [("delivered", 2)] * 12 + [("delivered", 1)]

    receiver.answer = lambda _: (410, {})
    with open_store(database) as store:
        store.reconcile(TENANT, CHECK, [], T0 + timedelta(hours=1), [])
        await deliver(store, [sink], client, 3600)
        parked = store.deliveries("parked")
    assert len(parked) == 13
    assert len({d.digest for d in parked}) == 1
    assert {d.last_error for d in parked} == {
        "the webhook sink answered HTTP 410 Gone; check the sink's URL and what it accepts"
    }
