"""Delivery without loss: a sink that is down gets everything in order, exactly once, when it is
back (also across a restart); Retry-After is honoured; a 4xx parks; no secret is stored or logged."""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.alerts import Backoff, RetrySettings, build_sink, deliver_due
from monitor.alerts.sinks import Sink, SinkSecretsFilter
from monitor.state import open_store
from monitor.state.store import StateStore
from tests.alerts.conftest import HMAC_KEY, URL_SECRET
from tests.alerts.factories import CHECK, T0, TENANT, at, findings, webhook
from tests.alerts.receiver import Receiver
from tests.alerts.threaded import ThreadedOutbox

NO_JITTER = Backoff(RetrySettings(initial_seconds=60, multiplier=2, max_seconds=600, jitter=0))


async def round_at(store: StateStore, sink: Sink, client: httpx.AsyncClient, now: datetime) -> None:
    await deliver_due(ThreadedOutbox(store), [sink], client, now, backoff=NO_JITTER)


def body_ids(receiver: Receiver) -> list[str]:
    return [request.json["resource"]["id"] for request in receiver.accepted]


async def test_a_sink_down_for_a_while_gets_everything_in_order_exactly_once(
    database: Path, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    sink = build_sink(webhook(receiver.url()))
    receiver.answer = lambda _: (503, {})
    moments = [T0 + timedelta(seconds=seconds) for seconds in (0, 60, 180, 420, 1020, 1620)]
    for index, now in enumerate(moments):
        # A restart between attempts: the store is closed and opened again each time.
        with open_store(database) as store:
            store.reconcile(TENANT, CHECK, findings(index + 1), now, [])
            await round_at(store, sink, client, now)
            # Before its back-off ends, nothing is sent again.
            await round_at(store, sink, client, now + timedelta(seconds=59))
    with open_store(database) as store:
        (head, *rest) = store.deliveries()
        retries = [request.json["resource"]["id"] for request in receiver.received]

    assert retries == ["app-0"] * 6  # only the oldest is tried; the later ones wait behind it
    assert head.attempts == 6
    assert head.next_attempt == moments[-1] + timedelta(seconds=600)  # 60, 120, 240, 480, 600 (capped)
    assert head.last_error == "the webhook sink answered HTTP 503 Service Unavailable"
    assert [delivery.attempts for delivery in rest] == [0] * 5

    receiver.answer = lambda _: (200, {})
    with open_store(database) as store:
        await round_at(store, sink, client, at(1))
        await round_at(store, sink, client, at(2))
        assert [delivery.status for delivery in store.deliveries()] == ["delivered"] * 6

    assert body_ids(receiver) == ["app-0", "app-1", "app-2", "app-3", "app-4", "app-5"]
    keys = receiver.accepted_keys()
    assert len(set(keys)) == len(keys) == 6


async def test_an_unreachable_sink_is_retried_without_its_url_in_the_error(
    store: StateStore, client: httpx.AsyncClient
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = build_sink(webhook(f"http://127.0.0.1:{port}/hook"))
    store.reconcile(TENANT, CHECK, findings(1), T0, [])

    await round_at(store, sink, client, T0)

    (delivery,) = store.deliveries("pending")
    assert delivery.last_error == "could not reach the webhook sink (ConnectError)"
    assert (delivery.attempts, delivery.next_attempt) == (1, T0 + timedelta(seconds=60))


async def test_retry_after_is_honoured_up_to_the_cap(
    store: StateStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    sink = build_sink(webhook(receiver.url()))
    store.reconcile(TENANT, CHECK, findings(1), T0, [])
    receiver.answer = lambda _: (429, {"Retry-After": "300"})
    await round_at(store, sink, client, T0)
    receiver.answer = lambda _: (503, {"Retry-After": "86400"})
    await round_at(store, sink, client, T0 + timedelta(seconds=300))

    (delivery,) = store.deliveries()
    assert delivery.next_attempt == T0 + timedelta(seconds=300 + 600)
    assert len(receiver.received) == 2


def test_jitter_shortens_the_wait_by_at_most_its_fraction() -> None:
    settings = RetrySettings(initial_seconds=10, multiplier=3, max_seconds=100, jitter=0.5)

    assert [Backoff(settings, lambda: 1.0).delay(attempt) for attempt in (1, 2, 3, 4)] == [5, 15, 45, 50]
    assert [Backoff(settings, lambda: 0.0).delay(attempt) for attempt in (1, 2, 3, 4)] == [10, 30, 90, 100]


async def test_a_4xx_parks_the_alert_reports_it_once_and_never_retries(
    store: StateStore, receiver: Receiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    sink = build_sink(webhook(receiver.url()))
    store.reconcile(TENANT, CHECK, findings(2), T0, [])
    receiver.answer = lambda request: (400, {}) if request.json["resource"]["id"] == "app-0" else (200, {})

    with caplog.at_level(logging.INFO, logger="monitor.alerts"):
        report = await deliver_due(ThreadedOutbox(store), [sink], client, T0, backoff=NO_JITTER)
        for hours in (1, 24, 48):
            await round_at(store, sink, client, at(hours))

    assert (report.parked, report.delivered) == ([(1, "hook")], [(2, "hook")])
    (parked,) = store.deliveries("parked")
    assert parked.alert.alert_id == 1
    assert parked.last_error == (
        "the webhook sink answered HTTP 400 Bad Request; check the sink's URL and what it accepts"
    )
    assert [request.json["resource"]["id"] for request in receiver.received] == ["app-0", "app-1"]
    parked_logs = [record for record in caplog.records if record.getMessage().startswith("alert parked")]
    assert len(parked_logs) == 1
    assert parked_logs[0].sink == "hook"  # type: ignore[attr-defined]


async def test_no_secret_in_the_database_errors_or_logs(
    database: Path, receiver: Receiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    sink = build_sink(webhook(receiver.url()))
    answers = iter([(503, {}), (401, {}), (200, {})])
    receiver.answer = lambda _: next(answers)
    # httpx logs every request's full URL at INFO; the filter masks it on the handler.
    caplog.handler.addFilter(SinkSecretsFilter([sink]))
    with caplog.at_level(logging.DEBUG), open_store(database) as store:
        store.reconcile(TENANT, CHECK, findings(2), T0, [])
        for hours in (0, 1, 2):
            await round_at(store, sink, client, at(hours))
        errors = [delivery.last_error for delivery in store.deliveries()]
        text = repr(sink) + repr(sink.settings) + repr(store.deliveries()) + str(errors)

    raw = b"".join(path.read_bytes() for path in database.parent.iterdir())
    logs = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert [request.headers["idempotency-key"] for request in receiver.received]  # something was sent
    for secret in (URL_SECRET, "URLSECRET42", HMAC_KEY, receiver.url()):
        assert secret.encode() not in raw
        assert secret not in logs
        assert secret not in text


def test_without_the_filter_httpx_would_log_the_url(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """Why the filter exists: httpx's own request line carries the URL."""
    sink = build_sink(webhook(receiver.url()))
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: POST %s "%s"',
        (receiver.url() + "?" + URL_SECRET, "HTTP/1.1 200 OK"),
        None,
    )

    assert SinkSecretsFilter([sink]).filter(record)

    assert record.getMessage() == 'HTTP Request: POST [redacted] "HTTP/1.1 200 OK"'
