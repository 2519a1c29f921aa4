"""The worker's and ``once``'s side of alert delivery: the configured sinks, one HTTP client for
them, and delivery rounds that never overlap.

The worker calls :meth:`AlertDispatcher.deliver` after every check run and on a timer (a failed
delivery becomes due again when its back-off ends); ``once`` calls :meth:`deliver_all` before it
exits, so what it found is delivered (or left pending in the outbox for the next run) either way.
Each round first writes the reminders that are due (``alerts.reminder_interval_hours``), so they
go out through the outbox like any alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from monitor.alerts.delivery import Backoff, DeliveryReport, Outbox, deliver_due
from monitor.alerts.settings import AlertSettings
from monitor.alerts.sinks import Sink
from monitor.clock import Clock
from monitor.errors import StateError
from monitor.telemetry.instruments import MonitorInstruments

logger = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(hours=1)


class AlertDispatcher:
    """Delivery rounds for ``sinks`` from ``outbox``; close with :meth:`aclose`."""

    def __init__(
        self,
        settings: AlertSettings,
        sinks: Sequence[Sink],
        outbox: Outbox,
        clock: Clock,
        instruments: MonitorInstruments | None = None,
    ) -> None:
        self.sinks = list(sinks)
        self._instruments = instruments
        self._settings = settings
        self._outbox = outbox
        self._clock = clock
        self._backoff = Backoff(settings.retry)
        self._client = httpx.AsyncClient(follow_redirects=False)
        self._round = asyncio.Lock()
        self._pruned_at: datetime | None = None

    async def deliver(self) -> DeliveryReport:
        """One round now: write due reminders, route new alerts, send what is due. A storage
        failure is logged and retried on the next round (the alerts stay in the outbox); a sink's
        failure never raises."""
        settings = self._settings
        async with self._round:
            try:
                now = self._clock()
                await self._prune(now)
                if not self.sinks:
                    return DeliveryReport()
                reminders = []
                if settings.reminder_interval_hours > 0:
                    interval = timedelta(hours=settings.reminder_interval_hours)
                    reminders = await self._outbox.write_reminders(
                        now, settings.reminder_min_severity, interval
                    )
                report = await deliver_due(
                    self._outbox,
                    self.sinks,
                    self._client,
                    now,
                    backoff=self._backoff,
                    batch_size=settings.batch_size,
                    digest_threshold=settings.digest_threshold,
                )
                report.reminders = len(reminders)
                self._count(report)
                return report
            except StateError as error:
                logger.error("alert delivery could not read or update the outbox: %s", error)
                return DeliveryReport()

    async def _prune(self, now: datetime) -> None:
        """Delete sent alerts past ``retention_days``, at most once per ``PRUNE_EVERY``."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        removed = await self._outbox.prune_alerts(now - timedelta(days=self._settings.retention_days))
        if removed:
            logger.info("pruned sent alerts from the outbox", extra={"alerts": removed})

    def _count(self, report: DeliveryReport) -> None:
        if self._instruments is None:
            return
        for outcome, keys in (
            ("delivered", report.delivered),
            ("retried", report.retried),
            ("parked", report.parked),
        ):
            for sink, count in Counter(sink for _alert_id, sink in keys).items():
                self._instruments.record_deliveries(sink, outcome, count)

    async def deliver_all(self, max_rounds: int = 50) -> DeliveryReport:
        """Rounds until one delivers nothing more (what is left waits for its back-off)."""
        total = DeliveryReport()
        for _ in range(max_rounds):
            report = await self.deliver()
            total.delivered += report.delivered
            total.retried += report.retried
            total.parked += report.parked
            total.routed += report.routed
            total.reminders += report.reminders
            total.digests += report.digests
            if not report.delivered:
                break
        return total

    async def aclose(self) -> None:
        await self._client.aclose()
