"""The worker writes a snapshot of a tenant once every enabled check has finished a run since the
last one, and not before."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from monitor.check import Severity
from monitor.settings import CheckConfig
from monitor.snapshots.chain import read_chain
from monitor.snapshots.verify import verify_path
from tests.support.emulator import RunningEmulator
from tests.test_worker import (
    EVERY_SECOND,
    TENANT,
    Probe,
    base_settings,
    eventually,
    fake_check,
    finding,
    running,
    with_checks,
)


def snapshot_ids(directory: Path) -> list[str]:
    return [s.id for s in read_chain(directory / TENANT)]


async def test_a_snapshot_follows_each_complete_sweep(emulator: RunningEmulator, tmp_path: Path) -> None:
    fast, slow = Probe(findings=[finding("a1", Severity.HIGH)]), Probe(gate=asyncio.Semaphore(0))
    settings = with_checks(
        base_settings(emulator, tmp_path),
        fake_fast=EVERY_SECOND,
        fake_slow=CheckConfig(interval_seconds=3600),
    )
    directory = settings.snapshots.directory
    checks = (fake_check("fake-fast", fast), fake_check("fake-slow", slow))
    async with running(settings, *checks):
        # The fast check runs again and again; the slow one has not finished: no snapshot yet.
        await eventually(lambda: fast.finished >= 3, "three runs of the fast check")
        assert snapshot_ids(directory) == []
        assert slow.gate is not None
        slow.gate.release()
        await eventually(lambda: len(snapshot_ids(directory)) == 1, "the first snapshot")
        await asyncio.sleep(2.5)  # the fast check runs on, the slow one does not: still one
        assert len(snapshot_ids(directory)) == 1
    (only,) = read_chain(directory / TENANT)
    document = json.loads((only.path / "snapshot.json").read_text())
    assert [(c["id"], c["status"]) for c in document["checks"]] == [
        ("fake-fast", "succeeded"),
        ("fake-slow", "succeeded"),
    ]
    assert [f["resource"]["id"] for c in document["checks"] for f in c["findings"]] == ["a1"]
    assert verify_path(directory / TENANT).problems == []


async def test_no_snapshot_when_switched_off(emulator: RunningEmulator, tmp_path: Path) -> None:
    probe = Probe()
    settings = with_checks(base_settings(emulator, tmp_path), fake_fast=EVERY_SECOND)
    settings = settings.model_copy(
        update={"snapshots": settings.snapshots.model_copy(update={"enabled": False})}
    )
    async with running(settings, fake_check("fake-fast", probe)):
        await eventually(lambda: probe.finished >= 2, "two runs")
    assert snapshot_ids(settings.snapshots.directory) == []
