"""Schedules as APScheduler 3 triggers, with crontab's meaning of the day-of-week field.

APScheduler 3 numbers weekdays from 0 = Monday, crontab from 0 = Sunday (7 is Sunday too), so
``CronTrigger.from_crontab("0 6 * * 1-5")`` would run Tuesday to Saturday. :func:`cron_trigger`
translates the numbers; names (``mon-fri``) mean the same to both and pass through.
"""

from __future__ import annotations

from datetime import UTC

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.check import Cron, Interval

CRONTAB_DAYS = 7


def _days(part: str) -> list[int] | None:
    """Crontab weekday numbers (0-7) of one comma-separated element, or None for a name or ``*``."""
    base, _, step_text = part.partition("/")
    step = int(step_text) if step_text else 1
    if base == "*":
        first, last = 0, 6
    elif base.isdigit():
        first = int(base)
        last = 6 if step_text else first
    elif "-" in base and all(side.isdigit() for side in base.split("-", 1)):
        first, last = (int(side) for side in base.split("-", 1))
    else:
        return None
    if not (0 <= first <= CRONTAB_DAYS and 0 <= last <= CRONTAB_DAYS and first <= last and step > 0):
        raise ValueError(f"day of week {part!r} is outside 0-7 (0 and 7 are Sunday)")
    return list(range(first, last + 1, step))


def apscheduler_weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler 3 reads it (``1-5`` → ``0,1,2,3,4``)."""
    if field == "*":
        return field
    converted: list[str] = []
    for part in field.split(","):
        days = _days(part)
        if days is None:
            converted.append(part)
        else:
            converted.extend(str((day - 1) % 7) for day in days)
    return ",".join(dict.fromkeys(converted))


def cron_trigger(expression: str, jitter: float | None = None) -> CronTrigger:
    """The trigger of a five-field crontab line in UTC; ValueError for a malformed line."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected five fields (minute hour day month day_of_week), got {len(fields)}")
    minute, hour, day, month, weekdays = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=apscheduler_weekdays(weekdays),
        timezone=UTC,
        jitter=jitter,
    )


def build_trigger(schedule: Interval | Cron, jitter_seconds: float) -> BaseTrigger:
    """APScheduler's trigger for a schedule, in UTC, with the jitter (which only ever delays)."""
    jitter = jitter_seconds or None
    if isinstance(schedule, Cron):
        return cron_trigger(schedule.expression, jitter)
    return IntervalTrigger(seconds=schedule.total_seconds, timezone=UTC, jitter=jitter)
