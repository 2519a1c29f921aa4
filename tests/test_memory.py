"""A check's memory of events across runs: stored through its watermarks, de-duplicated by id,
forgotten by age, and never silently dropped when unreadable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.memory import Memory, Remembered
from tests.support.checks import MemoryWatermarks

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)


async def test_before_the_first_run_the_memory_is_empty_and_not_loaded() -> None:
    memory = await Memory.load(MemoryWatermarks(), "events")
    assert not memory.loaded
    assert len(memory) == 0
    assert list(memory) == []


async def test_a_saved_memory_loads_back_equal() -> None:
    watermarks = MemoryWatermarks()
    memory = await Memory.load(watermarks, "events")
    assert memory.remember("b", T0 + timedelta(seconds=1), {"user": "b@contoso.com"})
    assert memory.remember("a", T0, {"user": "a@contoso.com", "levels": ["high"]})
    await memory.save(watermarks)

    again = await Memory.load(watermarks, "events")
    assert again.loaded
    assert list(again) == [
        Remembered("a", T0, {"user": "a@contoso.com", "levels": ["high"]}),
        Remembered("b", T0 + timedelta(seconds=1), {"user": "b@contoso.com"}),
    ]
    assert "a" in again
    assert "c" not in again
    assert again.get("b") == Remembered("b", T0 + timedelta(seconds=1), {"user": "b@contoso.com"})


async def test_an_event_seen_twice_counts_once_and_keeps_its_first_record() -> None:
    memory = Memory("events", loaded=True)
    assert memory.remember("a", T0, {"n": 1})
    assert not memory.remember("a", T0 + timedelta(hours=1), {"n": 2})
    assert list(memory) == [Remembered("a", T0, {"n": 1})]


async def test_events_older_than_the_cutoff_are_forgotten_and_one_at_it_is_kept() -> None:
    memory = Memory("events", loaded=True)
    memory.remember("old", T0 - timedelta(seconds=1), {})
    memory.remember("edge", T0, {})
    memory.remember("new", T0 + timedelta(days=1), {})
    gone = memory.forget_before(T0)
    assert [item.id for item in gone] == ["old"]
    assert [item.id for item in memory] == ["edge", "new"]


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Memory("events", loaded=True).remember("a", datetime(2026, 11, 27), {})


@pytest.mark.parametrize(
    "stored",
    ["not json", "[]", '{"format": 2, "entries": []}', '{"format": 1, "entries": [{"id": "a"}]}'],
)
async def test_an_unreadable_memory_is_an_error_naming_the_key(stored: str) -> None:
    watermarks = MemoryWatermarks()
    watermarks.values["events"] = stored
    with pytest.raises(ValueError, match="'events' cannot be read"):
        await Memory.load(watermarks, "events")
