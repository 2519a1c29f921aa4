"""Delivery from the outbox: send what is due, record the outcome, never lose or reorder an alert.

:func:`deliver_due` is one round: route new alerts to the sinks, take the deliveries due now
(per sink in alert order, at most ``batch_size``), post them, and record each outcome before the
next send of that sink:

- 2xx: delivered.
- 408, 429, 5xx, a connection failure or a timeout: pending, retried after an exponential, capped,
  jittered back-off (or the sink's ``Retry-After``, capped the same way); the sink's later alerts
  wait behind it, so it receives everything in order once it is back.
- any other 4xx: parked (the sink refuses it for good) and logged once; never retried.

Delivery is at least once: a crash after the sink accepted an alert and before the success was
recorded sends it again, with the same idempotency key, so the receiver can drop the repeat.
Sinks are served concurrently, each one's deliveries in order.

Digests: when routing binds one batch's deliveries to a sink into a digest (more than
``digest_threshold`` of them), they are posted as one message under the digest's own idempotency
key and settled together: all delivered, all retried, or all parked.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from monitor.alerts.settings import RetrySettings
from monitor.alerts.sinks import AzureMonitorSink, HttpSink, Sink, digest_thresholds, routes
from monitor.check import Severity
from monitor.graph.retry import parse_retry_after
from monitor.state.store import Alert, Delivery

logger = logging.getLogger(__name__)
RETRIED_STATUSES = frozenset({408, 429})


class Outbox(Protocol):
    """The store's outbox methods as coroutines (see :class:`monitor.state.StateStore`)."""

    async def write_reminders(
        self, now: datetime, min_severity: Severity, interval: timedelta
    ) -> list[Alert]: ...

    async def route_alerts(
        self,
        accepts: Mapping[str, Callable[[Alert], bool]],
        now: datetime,
        digest_over: Mapping[str, int] | None = None,
    ) -> int: ...

    async def due_deliveries(
        self, now: datetime, sinks: Collection[str], limit: int = 100
    ) -> list[Delivery]: ...

    async def mark_delivered(self, alert_ids: Sequence[int], sink: str, now: datetime) -> None: ...

    async def mark_failed(
        self, alert_ids: Sequence[int], sink: str, error: str, retry_at: datetime
    ) -> list[Delivery]: ...

    async def park(self, alert_ids: Sequence[int], sink: str, now: datetime, reason: str) -> None: ...

    async def prune_alerts(self, before: datetime) -> int: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: attempt ``n`` (1-based) waits ``initial * multiplier**(n-1)``
    capped at ``max_seconds``, shortened by a random fraction up to ``jitter``."""

    settings: RetrySettings = field(default_factory=RetrySettings)
    random: Callable[[], float] = random.random

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``attempts`` failed attempts; a sink's ``retry_after`` wins when it
        asks for longer, up to ``max_seconds``."""
        settings = self.settings
        exponential = settings.initial_seconds * settings.multiplier ** max(attempts - 1, 0)
        capped = min(exponential, settings.max_seconds)
        jittered = capped * (1 - settings.jitter * self.random())
        if retry_after is not None:
            return min(max(jittered, retry_after), settings.max_seconds)
        return jittered


@dataclass
class DeliveryReport:
    """What one round did: deliveries delivered, to be retried and parked (alert id, sink), the
    deliveries routed, the reminders written and the digests sent (digest key, sink)."""

    delivered: list[tuple[int, str]] = field(default_factory=list)
    retried: list[tuple[int, str]] = field(default_factory=list)
    parked: list[tuple[int, str]] = field(default_factory=list)
    routed: int = 0
    reminders: int = 0
    digests: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Outcome:
    kind: str  # delivered, retry or park
    reason: str = ""
    retry_after: float | None = None


async def deliver_due(
    outbox: Outbox,
    sinks: Sequence[Sink],
    client: httpx.AsyncClient,
    now: datetime,
    *,
    backoff: Backoff | None = None,
    batch_size: int = 100,
    digest_threshold: int = 0,
) -> DeliveryReport:
    """One delivery round at ``now`` (see the module docstring); what it did. ``digest_threshold``
    (0: never) binds more than that many alerts of one batch for one sink into a digest. Storage
    failures raise StateError; a sink's failure never raises."""
    backoff = backoff or Backoff()
    report = DeliveryReport()
    report.routed = await outbox.route_alerts(routes(sinks), now, digest_thresholds(sinks, digest_threshold))
    due = await outbox.due_deliveries(now, [sink.id for sink in sinks], batch_size)
    by_id = {sink.id: sink for sink in sinks}
    queues: dict[str, list[Delivery]] = {}
    for delivery in due:
        queues.setdefault(delivery.sink, []).append(delivery)
    drains = [
        _drain(outbox, by_id[sink_id], queue, client, now, backoff, report)
        for sink_id, queue in queues.items()
    ]
    failures = [result for result in await asyncio.gather(*drains, return_exceptions=True) if result]
    if failures:
        raise failures[0]  # a storage failure (StateError); sinks' own failures never get here
    return report


async def _drain(
    outbox: Outbox,
    sink: Sink,
    queue: Sequence[Delivery],
    client: httpx.AsyncClient,
    now: datetime,
    backoff: Backoff,
    report: DeliveryReport,
) -> None:
    """Send ``queue`` in order until the sink fails; a failure holds back the rest of the queue.
    The deliveries of one digest go as one message and share its outcome."""
    for group in _messages(queue):
        outcome = await _send(sink, group, client, now)
        ids = [delivery.alert.alert_id for delivery in group]
        keys = [(alert_id, sink.id) for alert_id in ids]
        digest = group[0].digest
        if digest and outcome.kind != "retry":
            report.digests.append((digest, sink.id))
        if outcome.kind == "delivered":
            await outbox.mark_delivered(ids, sink.id, now)
            report.delivered.extend(keys)
        elif outcome.kind == "park":
            await outbox.park(ids, sink.id, now, outcome.reason)
            report.parked.extend(keys)
            logger.warning(
                "alert parked: the sink refused it for good and it will not be retried",
                extra={"sink": sink.id, "alert_id": keys[0][0], "fingerprint": group[0].alert.fingerprint,
                       "alerts": len(keys), "reason": outcome.reason},
            )  # fmt: skip
        else:
            wait = backoff.delay(max(delivery.attempts for delivery in group) + 1, outcome.retry_after)
            await outbox.mark_failed(ids, sink.id, outcome.reason, now + timedelta(seconds=wait))
            report.retried.extend(keys)
            logger.info(
                "alert delivery failed; retrying later",
                extra={
                    "sink": sink.id,
                    "alert_id": keys[0][0],
                    "alerts": len(keys),
                    "reason": outcome.reason,
                    "retry_in_seconds": wait,
                },
            )
            return


def _messages(queue: Sequence[Delivery]) -> list[list[Delivery]]:
    """``queue`` cut into messages: each delivery alone, or one digest's deliveries together."""
    messages: list[list[Delivery]] = []
    for delivery in queue:
        if delivery.digest and messages and messages[-1][0].digest == delivery.digest:
            messages[-1].append(delivery)
        else:
            messages.append([delivery])
    return messages


async def _send(sink: Sink, group: Sequence[Delivery], client: httpx.AsyncClient, now: datetime) -> _Outcome:
    """Send one message (an alert, or a digest); the outcome, with a reason that names no URL or key."""
    if isinstance(sink, AzureMonitorSink):
        try:
            for delivery in group:
                sink.emit(delivery.alert)
        except Exception as error:  # the exporter refused to queue it; try again later
            return _Outcome(
                "retry", f"the azure_monitor sink could not queue the event ({type(error).__name__})"
            )
        return _Outcome("delivered")
    assert isinstance(sink, HttpSink)
    first = group[0]
    if first.digest:
        request = sink.digest_request(group, first.digest, now)
    else:
        request = sink.request(first.alert, first.idempotency_key, now)
    try:
        response = await client.post(
            request.url.get_secret_value(),
            content=request.content,
            headers=request.headers,
            timeout=sink.timeout_seconds,
        )
    except httpx.TimeoutException as error:
        return _Outcome("retry", f"no answer from the {sink.kind} sink within {sink.timeout_seconds:g} s "
                                 f"({type(error).__name__})")  # fmt: skip
    except httpx.TransportError as error:
        # The exception's text may quote the URL, which is a secret: only its type is kept.
        return _Outcome("retry", f"could not reach the {sink.kind} sink ({type(error).__name__})")
    status = response.status_code
    described = f"the {sink.kind} sink answered HTTP {status} {response.reason_phrase}".rstrip()
    if 200 <= status < 300:
        return _Outcome("delivered")
    if status in RETRIED_STATUSES or status >= 500:
        return _Outcome("retry", described, parse_retry_after(response.headers.get("Retry-After"), now))
    return _Outcome("park", f"{described}; check the sink's URL and what it accepts")
