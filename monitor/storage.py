"""The state store, reached from the event loop.

:class:`~monitor.state.StateStore` is synchronous (sqlite3). :class:`AsyncStore` opens it and runs
every call in one dedicated thread, so the connection is only ever used from the thread that
created it and the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from monitor.check import Finding, Severity, Watermarks
from monitor.state import (
    Alert,
    Delivery,
    RunRecord,
    StateStore,
    StoredFinding,
    Transition,
    Waiver,
    open_store,
)

T = TypeVar("T")


class AsyncStore:
    """The store's API as coroutines; ``await AsyncStore.open(path)``, then ``await store.close()``."""

    def __init__(self, executor: ThreadPoolExecutor, store: StateStore) -> None:
        self._executor = executor
        self._store = store

    @classmethod
    async def open(cls, path: Path) -> AsyncStore:
        """Open (and migrate) the store at ``path``; raises StateError."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state")
        try:
            store = await asyncio.get_running_loop().run_in_executor(executor, open_store, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, store)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    async def reconcile(
        self,
        tenant: str,
        check: str,
        findings: Sequence[Finding],
        now: datetime,
        waivers: Sequence[Waiver],
        unevaluated: Collection[str] = (),
    ) -> list[Transition]:
        return await self._call(self._store.reconcile, tenant, check, findings, now, waivers, unevaluated)

    async def findings(
        self, tenant: str | None = None, check: str | None = None, status: str | None = "open"
    ) -> list[StoredFinding]:
        return await self._call(self._store.findings, tenant, check, status)

    async def open_counts(self) -> dict[tuple[str, str, Severity], int]:
        return await self._call(self._store.open_counts)

    async def get_watermark(self, tenant: str, check: str, key: str) -> str | None:
        return await self._call(self._store.get_watermark, tenant, check, key)

    async def set_watermarks(self, tenant: str, check: str, values: Mapping[str, str]) -> None:
        await self._call(self._store.set_watermarks, tenant, check, values)

    async def start_run(self, tenant: str, check: str, started: datetime) -> str:
        return await self._call(self._store.start_run, tenant, check, started)

    async def finish_run(
        self, run_id: str, ended: datetime, status: str, counts: Mapping[str, int], error: str | None
    ) -> None:
        await self._call(self._store.finish_run, run_id, ended, status, counts, error)

    async def runs(
        self, tenant: str | None = None, check: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        return await self._call(self._store.runs, tenant, check, limit)

    async def abandon_running(self, ended: datetime, reason: str) -> int:
        return await self._call(self._store.abandon_running, ended, reason)

    async def consecutive_failures(self, tenant: str, check: str) -> int:
        return await self._call(self._store.consecutive_failures, tenant, check)

    async def check_writable(self) -> None:
        await self._call(self._store.check_writable)

    # -- the alert outbox (monitor.alerts.Outbox) ----------------------------------------------

    async def write_reminders(
        self, now: datetime, min_severity: Severity, interval: timedelta
    ) -> list[Alert]:
        return await self._call(self._store.write_reminders, now, min_severity, interval)

    async def route_alerts(
        self,
        accepts: Mapping[str, Callable[[Alert], bool]],
        now: datetime,
        digest_over: Mapping[str, int] | None = None,
    ) -> int:
        return await self._call(self._store.route_alerts, accepts, now, digest_over)

    async def due_deliveries(self, now: datetime, sinks: Collection[str], limit: int = 100) -> list[Delivery]:
        return await self._call(self._store.due_deliveries, now, sinks, limit)

    async def delivery_counts(self) -> dict[str, dict[str, int]]:
        return await self._call(self._store.delivery_counts)

    async def mark_delivered(self, alert_ids: Sequence[int], sink: str, now: datetime) -> None:
        await self._call(self._store.mark_delivered, alert_ids, sink, now)

    async def mark_failed(
        self, alert_ids: Sequence[int], sink: str, error: str, retry_at: datetime
    ) -> list[Delivery]:
        return await self._call(self._store.mark_failed, alert_ids, sink, error, retry_at)

    async def park(self, alert_ids: Sequence[int], sink: str, now: datetime, reason: str) -> None:
        await self._call(self._store.park, alert_ids, sink, now, reason)

    async def prune_alerts(self, before: datetime) -> int:
        return await self._call(self._store.prune_alerts, before)

    async def deliveries(self, status: str | None = None, sink: str | None = None) -> list[Delivery]:
        return await self._call(self._store.deliveries, status, sink)

    async def close(self) -> None:
        try:
            await self._call(self._store.close)
        finally:
            self._executor.shutdown(wait=True)


class StoredWatermarks(Watermarks):
    """A run's watermarks: read from the store, written only when the run succeeds (see
    :meth:`pending`), so a failed run reads the same log window again next time."""

    def __init__(self, store: AsyncStore, tenant: str, check: str) -> None:
        self._store = store
        self._tenant = tenant
        self._check = check
        self._pending: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        if key in self._pending:
            return self._pending[key]
        return await self._store.get_watermark(self._tenant, self._check, key)

    async def set(self, key: str, value: str) -> None:
        self._pending[key] = value

    @property
    def pending(self) -> Mapping[str, str]:
        return dict(self._pending)
