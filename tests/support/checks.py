"""Running one check against an emulated tenant the way the runner does, for end-to-end tests:
baseline settings, a real Graph client, ``collect`` then ``evaluate`` at the tenant's fixed time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.baseline import load_baseline
from monitor.check import Check, CheckContext, CheckSettings, Finding, Watermarks
from monitor.graph.connection import connect
from tests.graph.conftest import connection_to
from tests.support.emulator import RunningEmulator

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
"""The session emulator's ``--now``."""


class MemoryWatermarks(Watermarks):
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


def truth_of(emulator: RunningEmulator, check_id: str) -> list[dict[str, Any]]:
    """The emulator's ground-truth findings of one check."""
    with emulator.control() as control:
        response = control.get("/truth")
        response.raise_for_status()
        findings: list[dict[str, Any]] = response.json()["findings"]
    return [f for f in findings if f["check"] == check_id]


def baseline_settings(check: type[Check[Any, Any]]) -> CheckSettings:
    return check.settings_model.model_validate(check.baseline_defaults(load_baseline()))


async def collect_data(emulator: RunningEmulator, check: type[Check[Any, Any]]) -> tuple[Any, CheckSettings]:
    """What ``collect`` reads from the tenant, and the baseline settings it ran with."""
    settings = baseline_settings(check)
    async with connect(connection_to(emulator)) as graph:
        context = CheckContext(emulator.info["tenantId"], graph, settings, NOW, MemoryWatermarks())
        data = await check().collect(context)
    return data, settings


async def run_check(emulator: RunningEmulator, check: type[Check[Any, Any]]) -> list[Finding]:
    data, settings = await collect_data(emulator, check)
    return check().evaluate(data, settings, NOW)
