"""Pacing with a fake clock: known budgets, pauses after 429, adaptive recovery, concurrency."""

from __future__ import annotations

import asyncio
import math

import pytest

from monitor.graph.limiter import (
    MINIMUM_RATE,
    PACING_SLACK_SECONDS,
    RECOVERY_FACTOR,
    UNLIMITED_RATE,
    FamilyPacer,
    TenantLimiter,
)
from monitor.graph.settings import Budget, GraphClientSettings
from tests.support.fake_time import FakeTime


def pacer(time: FakeTime, budget: Budget | None = None, margin: float = 0.0) -> FamilyPacer:
    return FamilyPacer(budget, margin, time.clock, time.sleep)


async def send_times(p: FamilyPacer, time: FakeTime, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await p.acquire()
        times.append(time.now - 1000.0)
    return times


async def test_a_known_budget_sends_at_most_limit_per_window() -> None:
    time = FakeTime()
    times = await send_times(pacer(time, Budget(limit=5, window_seconds=10)), time, 12)
    w = 10 + PACING_SLACK_SECONDS
    assert times == pytest.approx([0, 0, 0, 0, 0, w, w, w, w, w, 2 * w, 2 * w])


async def test_the_margin_widens_the_window() -> None:
    time = FakeTime()
    times = await send_times(pacer(time, Budget(limit=2, window_seconds=10), margin=0.05), time, 5)
    w = 10.5 + PACING_SLACK_SECONDS
    assert times == pytest.approx([0, 0, w, w, 2 * w])


async def test_a_429_never_slows_a_family_below_the_minimum_rate() -> None:
    time = FakeTime()
    p = pacer(time)
    for _ in range(12):
        await p.acquire()
        p.throttled(0.0)
        time.now += 1.0
    assert p.rate == MINIMUM_RATE


async def test_a_burst_of_429s_is_one_congestion_event() -> None:
    time = FakeTime()
    p = pacer(time)
    for _ in range(20):  # one $batch round: 20 requests sent at once
        await p.acquire()
    for _ in range(15):  # 15 of them answered 429 together
        p.throttled(2.0)
    assert p.rate == pytest.approx(10.0)  # 20 per second achieved, halved once
    time.now += 2.5
    p.throttled(2.0)  # a later 429 is news: cut again
    assert p.rate == pytest.approx(20 / 2.5 / 2)  # 20 requests in 2.5 s achieved, halved


async def test_without_a_budget_requests_are_not_held_back() -> None:
    time = FakeTime()
    assert await send_times(pacer(time), time, 50) == [0] * 50
    assert time.sleeps == []


async def test_a_429_pauses_the_family_and_halves_the_achieved_rate() -> None:
    time = FakeTime()
    p = pacer(time)
    for _ in range(40):  # 40 requests in 10 s: 4 per second
        await p.acquire()
        time.now += 0.25
    p.throttled(7.0)
    assert p.rate == pytest.approx(2.0)
    waited = await p.acquire()
    assert waited.paused == pytest.approx(7.0)
    waited = await p.acquire()
    assert waited.pacing == pytest.approx(0.5)  # half the achieved rate from now on


async def test_successes_lift_the_adaptive_limit_again() -> None:
    time = FakeTime()
    p = pacer(time)
    await p.acquire()
    p.throttled(1.0)
    assert p.rate == 0.5  # one request in the last second, halved
    steps = 0
    while p.rate is not None:
        p.succeeded()
        steps += 1
    # slowly, 5 % per success, so there is no storm straight after a 429
    assert steps == math.ceil(math.log(UNLIMITED_RATE / 0.5) / math.log(RECOVERY_FACTOR))


async def test_with_a_budget_recovery_stops_at_the_budget() -> None:
    time = FakeTime()
    p = pacer(time, Budget(limit=5, window_seconds=10))
    await p.acquire()
    p.throttled(0.0)
    while p.rate is not None:
        p.succeeded()
    # back to the plain budget: five in the next window
    times = await send_times(p, time, 5)
    assert len(times) == 5


async def test_a_pause_that_grows_while_waiting_is_honoured() -> None:
    time = FakeTime()
    p = pacer(time)
    p.throttled(5.0)
    original_sleep = time.sleep

    async def sleep_and_extend(seconds: float) -> None:
        await original_sleep(seconds)
        if len(time.sleeps) == 1:
            p.throttled(3.0)  # another request of the family got a 429 meanwhile

    p._sleep = sleep_and_extend
    waited = await p.acquire()
    assert waited.paused == pytest.approx(8.0)


async def test_conditional_access_and_identity_protection_share_one_pacer() -> None:
    time = FakeTime()
    limiter = TenantLimiter(
        max_concurrency=4,
        budgets={"identityProtection": Budget(limit=1, window_seconds=1)},
        margin=0.0,
        clock=time.clock,
        sleep=time.sleep,
    )
    assert limiter.pacer("conditionalAccess") is limiter.pacer("identityProtection")
    async with limiter.admit("identityProtection"):
        pass
    async with limiter.admit("conditionalAccess") as waited:
        assert waited.pacing == pytest.approx(1.0 + PACING_SLACK_SECONDS)


async def test_admission_holds_a_concurrency_slot() -> None:
    time = FakeTime()
    limiter = TenantLimiter(max_concurrency=2, budgets={}, margin=0.0, clock=time.clock, sleep=time.sleep)
    inside = 0
    most = 0
    release = asyncio.Event()

    async def request() -> None:
        nonlocal inside, most
        async with limiter.admit("directory"):
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(request()) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert inside == 2
    release.set()
    await asyncio.gather(*tasks)
    assert most == 2


async def test_pace_spends_permits_without_a_slot() -> None:
    time = FakeTime()
    limiter = TenantLimiter(
        max_concurrency=1,
        budgets={"reports": Budget(limit=5, window_seconds=10)},
        margin=0.0,
        clock=time.clock,
        sleep=time.sleep,
    )
    first = await limiter.pace("reports", 5)
    assert first.total == 0
    second = await limiter.pace("reports", 2)
    assert second.pacing == pytest.approx(10.0 + PACING_SLACK_SECONDS)


async def test_the_default_settings_read_a_sign_in_backlog_at_over_95_percent_of_the_budget() -> None:
    """The reporting API allows 5 requests per 10 s; margin and slack must leave at least 95 %."""
    settings = GraphClientSettings()
    time = FakeTime()
    p = pacer(time, settings.budgets["reports"], margin=settings.pacing_margin)
    times = await send_times(p, time, 105)
    steady = (len(times) - 6) / (times[-1] - times[5])  # after the first full window
    assert steady >= 0.95 * 5 / 10
