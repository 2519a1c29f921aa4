"""The emulator's clock: the tenant's "now", advancing with real time, movable at run time.

Generated data is fixed relative to the start instant (``--now``); the clock keeps running from
there so that tokens expire and throttling windows refill, and tests can move it forward through
``POST /_emulator/clock`` instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class EmulatorClock:
    """Time as the emulated tenant sees it: ``start + real elapsed time + manual offset``."""

    def __init__(self, start: datetime, monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("the emulator clock needs a timezone-aware start time")
        self._start = start.astimezone(UTC)
        self._monotonic = monotonic
        self._origin = monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def start(self) -> datetime:
        """The instant the tenant was generated for (``--now``)."""
        return self._start

    def seconds(self) -> float:
        """Seconds since the start instant, including any manual advance."""
        with self._lock:
            return self._monotonic() - self._origin + self._offset

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.seconds())

    def advanced(self) -> datetime:
        """The start instant plus the manual advances only, without the real time elapsed: what
        slow-moving state (log retention) follows, so it stays put during a test session and
        changes only when a test moves the clock."""
        with self._lock:
            return self._start + timedelta(seconds=self._offset)

    def timestamp(self) -> float:
        """The current emulated time as POSIX seconds."""
        return self._start.timestamp() + self.seconds()

    def advance(self, seconds: float) -> None:
        """Move the clock forward; it never goes back, so issued tokens and windows stay ordered."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += seconds

    def advance_to(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a timezone-aware instant is required")
        delta = (instant - self.now()).total_seconds()
        self.advance(max(delta, 0.0))
