"""The alert outbox over a synchronous store, for tests that drive ``deliver_due`` with a plain
``SqliteStateStore`` (the monitor itself uses :class:`monitor.storage.AsyncStore`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from monitor.check import Severity
from monitor.state.store import Alert, Delivery, StateStore


class ThreadedOutbox:
    """:class:`monitor.alerts.Outbox` over a synchronous store, each call in a worker thread (the SQLite store
    serialises calls with its own lock). The worker uses its ``AsyncStore`` instead."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def write_reminders(
        self, now: datetime, min_severity: Severity, interval: timedelta
    ) -> list[Alert]:
        return await asyncio.to_thread(self._store.write_reminders, now, min_severity, interval)

    async def route_alerts(
        self,
        accepts: Mapping[str, Callable[[Alert], bool]],
        now: datetime,
        digest_over: Mapping[str, int] | None = None,
    ) -> int:
        return await asyncio.to_thread(self._store.route_alerts, accepts, now, digest_over)

    async def due_deliveries(self, now: datetime, sinks: Collection[str], limit: int = 100) -> list[Delivery]:
        return await asyncio.to_thread(self._store.due_deliveries, now, sinks, limit)

    async def mark_delivered(self, alert_ids: Sequence[int], sink: str, now: datetime) -> None:
        await asyncio.to_thread(self._store.mark_delivered, alert_ids, sink, now)

    async def mark_failed(
        self, alert_ids: Sequence[int], sink: str, error: str, retry_at: datetime
    ) -> list[Delivery]:
        return await asyncio.to_thread(self._store.mark_failed, alert_ids, sink, error, retry_at)

    async def park(self, alert_ids: Sequence[int], sink: str, now: datetime, reason: str) -> None:
        await asyncio.to_thread(self._store.park, alert_ids, sink, now, reason)

    async def prune_alerts(self, before: datetime) -> int:
        return await asyncio.to_thread(self._store.prune_alerts, before)
