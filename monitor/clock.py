"""Time, injected: the worker asks a clock instead of calling ``datetime.now`` itself, so tests
move time by hand. All times are timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
