"""Running one check against an emulated tenant the way the runner does, for end-to-end tests:
baseline settings, a real Graph client, ``collect`` then ``evaluate`` at a given time (the
tenant's fixed time unless told), watermarks kept across runs when a test passes its own; the
emulator's ground truth to compare with; and a private emulator for tests that change a tenant."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import pytest

from monitor.baseline import load_baseline
from monitor.check import Check, CheckContext, CheckSettings, Finding, Watermarks
from monitor.graph.client import GraphClient
from monitor.graph.connection import connect
from tests.graph.conftest import connection_to
from tests.support.emulator import RunningEmulator, start_emulator

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
"""The session emulator's ``--now``."""

SettingsT = TypeVar("SettingsT", bound=CheckSettings)
GraphT = TypeVar("GraphT")

Identity = tuple[str, str, str, str]
"""What makes a finding the same finding: rule, severity label, resource type and resource id
(lower-cased: Graph's ids are GUIDs, whose case means nothing)."""


class MemoryWatermarks(Watermarks):
    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(values or {})

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def copy(self) -> MemoryWatermarks:
        """The watermarks as they are now, to start a run again from them (a restart)."""
        return MemoryWatermarks(self.values)


# -- what a finding is -----------------------------------------------------------------------


def identity(finding: Finding) -> Identity:
    return (finding.rule, finding.severity.label, finding.resource.type, finding.resource.id.lower())


def truth_identity(entry: Mapping[str, Any]) -> Identity:
    """The identity of one ground-truth finding of ``GET /_emulator/truth``."""
    resource = entry["resource"]
    return (entry["rule"], entry["severity"], resource["type"], str(resource["id"]).lower())


def identities(findings: Iterable[Finding]) -> set[Identity]:
    return {identity(f) for f in findings}


def truth_identities(truth: Iterable[Mapping[str, Any]]) -> set[Identity]:
    return {truth_identity(f) for f in truth}


# -- the emulator's control endpoints ------------------------------------------------------


def truth_of(emulator: RunningEmulator, check_id: str, *, at: datetime | None = None) -> list[dict[str, Any]]:
    """The emulator's ground-truth findings of one check, evaluated at ``at`` (default: the
    emulator's clock when it answers)."""
    params = {} if at is None else {"at": at.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    with emulator.control() as control:
        response = control.get("/truth", params=params)
        response.raise_for_status()
        findings: list[dict[str, Any]] = response.json()["findings"]
    return [f for f in findings if f["check"] == check_id]


def emulator_now(emulator: RunningEmulator) -> datetime:
    """The emulator's clock (it runs on from ``--now`` in real time)."""
    with emulator.control() as control:
        response = control.get("/clock")
        response.raise_for_status()
        return datetime.fromisoformat(response.json()["now"].replace("Z", "+00:00"))


def reset_stats(emulator: RunningEmulator) -> None:
    with emulator.control() as control:
        control.delete("/stats").raise_for_status()


def endpoint_stats(emulator: RunningEmulator) -> dict[str, dict[str, Any]]:
    """The statistics of each endpoint since they were last reset, by endpoint name."""
    with emulator.control() as control:
        response = control.get("/stats")
        response.raise_for_status()
        endpoints: dict[str, dict[str, Any]] = response.json()["endpoints"]
    return endpoints


def requests_per_endpoint(emulator: RunningEmulator) -> dict[str, int]:
    """Graph requests per endpoint since the statistics were last reset; ``identity.*`` (the token
    requests of a run's own sign-in, not Graph reads) left out."""
    return {
        name: entry["requests"]
        for name, entry in endpoint_stats(emulator).items()
        if not name.startswith("identity.")
    }


@contextlib.contextmanager
def private_emulator(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *extra: str,
    seed: int = 7,
    scale: str = "small",
    throttling: str = "off",
) -> Iterator[RunningEmulator]:
    """A tenant of a test module's own, for tests that change it at run time (never the session
    ``emulator``): the session's arguments (seed 7, ``NOW``, small, throttling off) unless told,
    plus ``extra`` (``"--license", "P1"``, say)."""
    now = NOW.isoformat().replace("+00:00", "Z")
    arguments = ("--seed", str(seed), "--now", now, "--scale", scale, "--throttling", throttling)
    with start_emulator(tmp_path_factory.mktemp(name), *arguments, *extra) as running:
        yield running


# -- one run of a check ---------------------------------------------------------------------


def baseline_settings(check: type[Check[SettingsT, Any]]) -> SettingsT:
    # settings_model is the check's SettingsT; the class attribute cannot say so.
    return cast(SettingsT, check.settings_model.model_validate(check.baseline_defaults(load_baseline())))


@dataclass(frozen=True)
class CheckRun:
    """One run's findings, what ``collect`` read, and the context it read with (its graph is the
    wrapped one when the run was given ``wrap_graph``)."""

    findings: list[Finding]
    data: Any
    settings: CheckSettings
    context: CheckContext


async def _collect(
    emulator: RunningEmulator,
    check: type[Check[Any, Any]],
    watermarks: Watermarks | None,
    now: datetime,
    wrap_graph: Callable[[GraphClient], Any] | None = None,
) -> tuple[Any, CheckSettings, CheckContext]:
    settings = baseline_settings(check)
    async with connect(connection_to(emulator)) as graph:
        client = graph if wrap_graph is None else wrap_graph(graph)
        kept = MemoryWatermarks() if watermarks is None else watermarks
        context = CheckContext(emulator.info["tenantId"], client, settings, now, kept)
        data = await check().collect(context)
    return data, settings, context


async def run_once(
    emulator: RunningEmulator,
    check: type[Check[Any, Any]],
    *,
    watermarks: Watermarks | None = None,
    now: datetime = NOW,
    wrap_graph: Callable[[GraphClient], Any] | None = None,
) -> CheckRun:
    """``collect`` then ``evaluate`` at ``now`` with the baseline settings, keeping ``watermarks``
    (fresh ones unless given); ``wrap_graph`` stands between the check and the Graph client."""
    data, settings, context = await _collect(emulator, check, watermarks, now, wrap_graph)
    return CheckRun(check().evaluate(data, settings, now), data, settings, context)


async def collect_data(
    emulator: RunningEmulator,
    check: type[Check[Any, Any]],
    *,
    watermarks: Watermarks | None = None,
    now: datetime = NOW,
) -> tuple[Any, CheckSettings]:
    """What ``collect`` reads from the tenant, and the baseline settings it ran with."""
    data, settings, _context = await _collect(emulator, check, watermarks, now)
    return data, settings


async def run_check(
    emulator: RunningEmulator,
    check: type[Check[Any, Any]],
    *,
    watermarks: Watermarks | None = None,
    now: datetime = NOW,
) -> list[Finding]:
    """The findings of one run (see :func:`run_once`)."""
    return (await run_once(emulator, check, watermarks=watermarks, now=now)).findings
