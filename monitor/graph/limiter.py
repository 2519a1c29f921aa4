"""Pacing Graph requests per tenant: a concurrency limit, the known budgets, and an adaptive rate.

Each throttling family (directory, reports, identityProtection, …) of a tenant has a
:class:`FamilyPacer`. A pacer with a known budget sends at most ``limit`` requests in any window
(shrunk by a safety margin), which is how a sign-in backlog is read at the reporting API's full
rate without 429s. Every pacer also adapts: a 429 halves its rate (starting from the rate it was
actually achieving) and pauses the whole family until the Retry-After has passed, so concurrent
requests do not each walk into the same wall; successes then raise the rate again by small steps
until the limit disappears. The result is a sweep that runs near the budget without a 429 storm.

Time and sleeping are injected, so tests drive the pacers with a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from monitor.graph.settings import SHARED_FAMILIES, Budget

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MINIMUM_RATE = 0.05
"""Requests per second below which adaptation never goes (one every 20 s)."""
RECOVERY_FACTOR = 1.05
"""Rate growth per success after a 429."""
HISTORY_SECONDS = 10.0
PACING_SLACK_SECONDS = 0.1
"""Added to every budget window: a request that opens a new connection arrives later than one on a
warm connection sent after it, and a one-second window has no room for that in a relative margin."""
DECREASE_INTERVAL_SECONDS = 1.0
UNLIMITED_RATE = 200.0
"""Requests per second above which a family without a known budget is no longer held back."""


@dataclass(frozen=True)
class Waited:
    """How long an acquisition waited, split by cause."""

    pacing: float = 0.0
    paused: float = 0.0

    @property
    def total(self) -> float:
        return self.pacing + self.paused


class FamilyPacer:
    """Decides when the next request of one family of one tenant may go."""

    def __init__(self, budget: Budget | None, margin: float, clock: Clock, sleep: Sleep) -> None:
        self._limit = budget.limit if budget else 0
        self._window = budget.window_seconds * (1 + margin) + PACING_SLACK_SECONDS if budget else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._rate: float | None = None
        self._last_sent = float("-inf")
        self._last_cut = float("-inf")

    @property
    def rate(self) -> float | None:
        """The adaptive limit in requests per second; None when only the budget (if any) applies."""
        return self._rate

    async def acquire(self, slot: asyncio.Semaphore | None = None, permits: int = 1) -> Waited:
        """Wait until ``permits`` requests may be sent, take a concurrency ``slot`` if given, and
        record the requests as sent now. The caller releases the slot when the answer is in. The
        family stays locked while it waits for the slot, so its budget is measured at the moment
        requests really leave. (``permits`` > 1 paces the inner requests of a ``$batch``.)"""
        async with self._lock:
            paused = pacing = 0.0
            # A 429 elsewhere in the family may extend the pause while this request sleeps.
            for remaining in range(permits, 0, -1):
                while True:
                    if (pause := self._paused_until - self._clock()) > 0:
                        await self._sleep(pause)
                        paused += pause
                    elif (delay := self._pacing_delay()) > 0:
                        await self._sleep(delay)
                        pacing += delay
                    else:
                        break
                if remaining == 1 and slot is not None:
                    await slot.acquire()
                self._record(self._clock())
            return Waited(pacing=pacing, paused=paused)

    def _record(self, now: float) -> None:
        self._sent.append(now)
        self._last_sent = now
        horizon = now - max(self._window, HISTORY_SECONDS)
        while len(self._sent) > self._limit and self._sent[0] < horizon:
            self._sent.popleft()

    def throttled(self, pause_seconds: float) -> None:
        """Graph answered 429: hold every request of the family for ``pause_seconds`` and halve the
        rate being achieved — once per congestion event: 429s that arrive while the family is
        already paused, or within a second of the last cut, answer requests sent before it."""
        now = self._clock()
        already_reacting = now < self._paused_until or now - self._last_cut < DECREASE_INTERVAL_SECONDS
        self._paused_until = max(self._paused_until, now + pause_seconds)
        if already_reacting:
            return
        self._last_cut = now
        recent = [sent for sent in self._sent if sent >= now - HISTORY_SECONDS]
        span = max(now - recent[0], 1.0) if recent else HISTORY_SECONDS
        achieved = len(recent) / span
        if self._limit:
            achieved = min(achieved, self._limit / self._window)
        current = self._rate if self._rate is not None else achieved
        self._rate = max(min(current, achieved) / 2, MINIMUM_RATE)

    def succeeded(self) -> None:
        """A request got through: creep back towards no adaptive limit."""
        if self._rate is None:
            return
        self._rate *= RECOVERY_FACTOR
        ceiling = self._limit / self._window if self._limit else UNLIMITED_RATE
        if self._rate >= ceiling:
            self._rate = None

    def _pacing_delay(self) -> float:
        now = self._clock()
        delay = 0.0
        if self._limit and len(self._sent) >= self._limit:
            delay = self._sent[-self._limit] + self._window - now
        if self._rate is not None:
            delay = max(delay, self._last_sent + 1 / self._rate - now)
        return delay


class TenantLimiter:
    """One tenant's concurrency limit and its family pacers."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        budgets: Mapping[str, Budget],
        margin: float,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._budgets = dict(budgets)
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._pacers: dict[str, FamilyPacer] = {}

    def pacer(self, family: str) -> FamilyPacer:
        name = SHARED_FAMILIES.get(family, family)
        if name not in self._pacers:
            self._pacers[name] = FamilyPacer(self._budgets.get(name), self._margin, self._clock, self._sleep)
        return self._pacers[name]

    async def pace(self, family: str, permits: int) -> Waited:
        """Spend ``permits`` of ``family``'s budget without taking a slot (inner ``$batch`` requests)."""
        return await self.pacer(family).acquire(None, permits)

    @contextlib.asynccontextmanager
    async def admit(self, family: str) -> AsyncIterator[Waited]:
        """Hold one of the tenant's request slots, once ``family``'s pacing lets the request go."""
        waited = await self.pacer(family).acquire(self._semaphore)
        try:
            yield waited
        finally:
            self._semaphore.release()
