"""The worker in-process: plugin discovery, schedule semantics, failure isolation, timeouts, the
health endpoints over HTTP and restarts, with fake checks the tests drive.

The tenant is the session emulator (its Graph client is real; only ``graph-access`` uses it). The
runner's clock is injected where the tests assert stored times; APScheduler keeps real time, so
the schedule tests use one-second intervals and read the run times APScheduler logs
(``Running job "…" (scheduled at …)``): those are the exact due times, jitter 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.job import Job
from pydantic import SecretStr

from checks.graph_access import GraphAccess
from monitor.alerts.settings import AlertSettings, SlackSinkSettings, WebhookSinkSettings
from monitor.app import Scheduled, build_app
from monitor.check import (
    Check,
    CheckContext,
    CheckSettings,
    Cron,
    Finding,
    Gauge,
    Interval,
    Measurement,
    Resource,
    Severity,
)
from monitor.clock import Clock, utc_now
from monitor.health import HealthServer
from monitor.plugins import Discovery, discover_checks, log_broken
from monitor.schedules import apscheduler_weekdays
from monitor.settings import CheckConfig, MonitorSettings, load_settings, render_config
from monitor.state import open_store
from monitor.worker import Worker, build_trigger
from tests.alerts.receiver import running_receiver
from tests.support.emulator import RunningEmulator
from tests.support.plugins import BROKEN, BUILTIN_CHECKS, GOOD, PACKAGE, write_plugin_distribution

TENANT = "emulator"
T1 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EVERY_SECOND = CheckConfig(interval_seconds=1, jitter_seconds=0)
HOURLY = CheckConfig(interval_seconds=3600, jitter_seconds=0)


# ── Fake checks ────────────────────────────────────────────────────────────────────────────


@dataclass
class Probe:
    """What a fake check's runs did, and the switches the test flips while the worker runs.

    With ``gate`` set, every collect waits for one permit of it, so the test decides when each
    run may finish."""

    findings: list[Finding] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    """Rules the check says it could not evaluate, with the reason."""
    measurements: list[Measurement] = field(default_factory=list)
    fail: bool = False
    seconds: float = 0.0
    gate: asyncio.Semaphore | None = None
    starts: int = 0
    finished: int = 0
    active: int = 0
    most_active: int = 0


def fake_check(check_id: str, probe: Probe, *, alert_after: int = 3) -> type[Check[CheckSettings, None]]:
    """A check class whose runs ``probe`` records and steers."""

    class Fake(Check[CheckSettings, None]):
        id = check_id
        title = f"Fake check {check_id}"
        description = "A check the test drives."
        permissions = ()
        schedule = Interval(hours=1)
        failures_before_alert = alert_after
        gauges = (Gauge("entra_monitor.fake.value", "1", "A value the test sets.", ("app",)),)

        async def collect(self, context: CheckContext) -> None:
            probe.starts += 1
            probe.active += 1
            probe.most_active = max(probe.most_active, probe.active)
            try:
                if probe.gate is not None:
                    await probe.gate.acquire()
                await asyncio.sleep(probe.seconds)
                if probe.fail:
                    raise RuntimeError(f"{check_id} was told to fail")
                for rule, reason in probe.unavailable.items():
                    context.rules_unavailable([rule], reason)
            finally:
                probe.active -= 1
                probe.finished += 1

        def evaluate(self, data: None, settings: CheckSettings, now: datetime) -> list[Finding]:
            return list(probe.findings)

        def measure(self, data: None, settings: CheckSettings, now: datetime) -> list[Measurement]:
            return list(probe.measurements)

    return Fake


def finding(resource_id: str, severity: Severity, rule: str = "fake-rule") -> Finding:
    return Finding(
        rule,
        severity,
        Resource("application", resource_id, f"App {resource_id}"),
        f"App {resource_id} breaks the fake rule.",
        "Nothing to do: the finding is fake.",
    )


class FakeClock:
    """The runner's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# ── Helpers ────────────────────────────────────────────────────────────────────────────────


def base_settings(emulator: RunningEmulator, directory: Path) -> MonitorSettings:
    """The ``config init --from-emulator`` file, state under ``directory``, no health server (the
    tests start their own) and a short grace period."""
    config = directory / "monitor.toml"
    info_file = emulator.log.with_name("emulator.json")
    config.write_text(render_config(info_file=info_file, state_path=directory / "state" / "monitor.db"))
    overrides = {
        "health.enabled": False,
        "worker.grace_seconds": 0.5,
        "snapshots.directory": str(directory / "snapshots"),
    }
    return load_settings(config, overrides, environ={}, env_file=None)


def with_checks(settings: MonitorSettings, **checks: CheckConfig) -> MonitorSettings:
    configs = {check_id.replace("_", "-"): config for check_id, config in checks.items()}
    return settings.model_copy(update={"checks": configs})


@contextlib.asynccontextmanager
async def running(
    settings: MonitorSettings, *checks: type[Check[Any, Any]], clock: Clock = utc_now
) -> AsyncIterator[Worker]:
    """A worker for ``checks`` running until the block ends, then stopped and closed."""
    discovery = Discovery(checks={check.id: check for check in sorted(checks, key=lambda c: c.id)})
    app = await build_app(settings, discovery=discovery, clock=clock)
    worker = Worker(app)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        finally:
            await app.aclose()


@contextlib.asynccontextmanager
async def serving(worker: Worker) -> AsyncIterator[httpx.AsyncClient]:
    """The worker's health server on a free port, and a client for it."""
    server = HealthServer("127.0.0.1", 0, worker.status, worker.readiness_problems)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            yield client
    finally:
        await server.stop()


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    """Poll ``condition`` until it holds; AssertionError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {seconds} s for {what}")
        await asyncio.sleep(0.01)


def scheduled_times(caplog: pytest.LogCaptureFixture, check_id: str) -> list[datetime]:
    """The due times APScheduler started the check's job for, in order."""
    times: list[datetime] = []
    for record in caplog.records:
        if record.name.startswith("apscheduler.executors") and record.msg.startswith("Running job"):
            assert isinstance(record.args, tuple)
            job, run_time = record.args
            if isinstance(job, Job) and job.id == f"{TENANT}/{check_id}":
                assert isinstance(run_time, datetime)
                times.append(run_time)
    return times


def skipped(caplog: pytest.LogCaptureFixture) -> int:
    return sum("maximum number of running instances reached" in r.getMessage() for r in caplog.records)


def last_run(worker: Worker, check_id: str) -> dict[str, Any] | None:
    for entry in worker.status()["checks"]:
        if entry["check"] == check_id:
            last: dict[str, Any] | None = entry["lastRun"]
            return last
    raise AssertionError(f"{check_id} is not in /status")


def failures(worker: Worker, check_id: str) -> int:
    return next(int(e["consecutiveFailures"]) for e in worker.status()["checks"] if e["check"] == check_id)


async def run_until_done(settings: MonitorSettings, check: type[Check[Any, Any]], clock: Clock) -> None:
    """Start a worker, wait for the check's first run to be recorded, stop it."""
    async with running(settings, check, clock=clock) as worker:
        await eventually(lambda: last_run(worker, check.id) is not None, f"the run of {check.id}")


@pytest.fixture
def settings(emulator: RunningEmulator, tmp_path: Path) -> MonitorSettings:
    return base_settings(emulator, tmp_path)


@pytest.fixture
def scheduler_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="apscheduler")
    caplog.set_level(logging.INFO, logger="monitor")
    return caplog


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The throw-away plugin distribution on ``sys.path`` for the test, forgotten afterwards."""
    directory = write_plugin_distribution(tmp_path / "site-packages")
    monkeypatch.syspath_prepend(str(directory))
    yield directory
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


# ── Discovery ──────────────────────────────────────────────────────────────────────────────


def test_discovery_loads_the_good_plugins_and_names_each_broken_one(
    plugin_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    discovery = discover_checks()
    assert list(discovery.checks) == sorted([*BUILTIN_CHECKS, *GOOD])
    assert discovery.checks["graph-access"] is GraphAccess
    reported = {broken.name: broken.problem for broken in discovery.broken}
    assert sorted(reported) == sorted(BROKEN)
    for name, problem in BROKEN.items():
        assert reported[name].startswith(problem), name
    log_broken(discovery)
    logged = [record.getMessage() for record in caplog.records if record.name == "monitor.plugins"]
    assert len(logged) == len(BROKEN)
    for broken in discovery.broken:
        assert f"check plugin {broken.name} ({broken.target}) is not loaded: {broken.problem}" in logged


# ── Schedule semantics ─────────────────────────────────────────────────────────────────────


async def test_a_run_due_while_the_last_one_runs_is_skipped_not_queued(
    settings: MonitorSettings, scheduler_log: pytest.LogCaptureFixture
) -> None:
    gate = asyncio.Semaphore(0)
    probe = Probe(gate=gate)
    async with running(with_checks(settings, slow=EVERY_SECOND), fake_check("slow", probe)) as worker:
        await eventually(lambda: probe.starts == 1, "the first run")
        await eventually(lambda: skipped(scheduler_log) >= 1, "a due time skipped while the run runs")
        released = datetime.now(UTC)
        gate.release()
        await eventually(lambda: probe.starts == 2, "the next run")
        assert probe.most_active == 1
        assert (last_run(worker, "slow") or {}).get("status") == "succeeded"
    first, second = scheduled_times(scheduler_log, "slow")
    # The skipped due times are gone: the next run is the first due time after the release.
    assert timedelta(0) < second - released <= timedelta(seconds=1)
    assert (second - first) % timedelta(seconds=1) == timedelta(0)


async def test_runs_missed_while_the_loop_was_blocked_coalesce_into_one(
    settings: MonitorSettings, scheduler_log: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    async with running(with_checks(settings, quick=EVERY_SECOND), fake_check("quick", probe)):
        await eventually(lambda: probe.finished == 1, "the first run")
        time.sleep(2.5)  # noqa: ASYNC251 - the pause itself: a blocked loop misses at least two due times
        await eventually(lambda: probe.finished == 3, "the catch-up run and the next regular one")
        first, catch_up, regular = scheduled_times(scheduler_log, "quick")
    # One run for all the missed due times (the latest of them), then the schedule as before.
    assert catch_up - first >= timedelta(seconds=2)
    assert (catch_up - first) % timedelta(seconds=1) == timedelta(0)
    assert regular - catch_up == timedelta(seconds=1)
    assert probe.starts == 3
    assert probe.most_active == 1


PREVIOUS = datetime(2026, 11, 27, 5, 59, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "base"),
    [
        (Interval(minutes=1), PREVIOUS + timedelta(minutes=1)),
        (Interval(hours=6), PREVIOUS + timedelta(hours=6)),
        (Cron("0 6 * * *"), datetime(2026, 11, 27, 6, 0, tzinfo=UTC)),
        (Cron("15 */4 * * *"), datetime(2026, 11, 27, 8, 15, tzinfo=UTC)),
    ],
    ids=["every-minute", "every-6-h", "daily-06:00", "every-4-h-at-15"],
)
def test_jitter_only_delays_and_by_at_most_its_bound(schedule: Interval | Cron, base: datetime) -> None:
    now = PREVIOUS + timedelta(seconds=1)
    draws = [
        build_trigger(Scheduled(schedule, 10)).get_next_fire_time(PREVIOUS, now) - base for _ in range(300)
    ]
    assert all(timedelta(0) <= delay <= timedelta(seconds=10) for delay in draws)
    assert max(draws) - min(draws) > timedelta(seconds=8)  # spread over the bound, not a fixed delay
    exact = build_trigger(Scheduled(schedule, 0))
    assert {exact.get_next_fire_time(PREVIOUS, now) for _ in range(20)} == {base}


@pytest.mark.parametrize(
    ("expression", "weekday"),
    [
        ("30 2 * * 1", "Monday"),
        ("30 2 * * 0", "Sunday"),
        ("30 2 * * 7", "Sunday"),
        ("30 2 * * 6", "Saturday"),
        ("30 2 * * mon", "Monday"),
    ],
)
def test_a_cron_weekday_means_what_it_means_in_crontab(expression: str, weekday: str) -> None:
    trigger = build_trigger(Scheduled(Cron(expression), 0))
    next_time = trigger.get_next_fire_time(None, PREVIOUS)
    assert next_time.strftime("%A %H:%M") == f"{weekday} 02:30"


# ── Failures and timeouts ──────────────────────────────────────────────────────────────────


async def test_a_failing_check_alerts_after_its_limit_and_recovers_while_others_run(
    settings: MonitorSettings,
) -> None:
    gate = asyncio.Semaphore(0)
    flaky = Probe(fail=True, gate=gate)
    steady = Probe()
    checks = (fake_check("flaky", flaky, alert_after=2), fake_check("steady", steady))
    configured = with_checks(settings, flaky=EVERY_SECOND, steady=EVERY_SECOND)
    async with running(configured, *checks) as worker, serving(worker) as http:
        gate.release()
        await eventually(lambda: failures(worker, "flaky") == 1, "the first failure")
        gate.release()
        await eventually(lambda: failures(worker, "flaky") == 2, "the second failure")
        # The third run waits at the gate, so the count stays at the limit while we look.
        assert (await http.get("/readyz")).json() == {
            "ready": False,
            "problems": [f"flaky for {TENANT} has failed 2 runs in a row"],
        }
        alert = [stored.finding for stored in await worker.app.store.findings(check="worker")]
        assert [(f.rule, f.severity, f.resource.id, f.evidence["consecutiveFailures"]) for f in alert] == [
            ("check-failing", Severity.HIGH, "flaky", 2)
        ]
        last = last_run(worker, "flaky")
        assert last is not None
        assert (last["status"], last["error"]) == ("failed", "RuntimeError: flaky was told to fail")
        assert steady.finished >= 2
        assert (last_run(worker, "steady") or {}).get("status") == "succeeded"

        flaky.fail = False
        gate.release()
        await eventually(lambda: failures(worker, "flaky") == 0, "a successful run")
        assert (await http.get("/readyz")).json() == {"ready": True}
        assert await worker.app.store.findings(check="worker") == []
        resolved = await worker.app.store.findings(check="worker", status="resolved")
        assert [stored.finding.rule for stored in resolved] == ["check-failing"]


async def test_a_run_longer_than_its_timeout_is_recorded_as_timed_out(settings: MonitorSettings) -> None:
    probe = Probe(seconds=30)
    configured = with_checks(settings, sluggish=CheckConfig(timeout_seconds=0.2, jitter_seconds=0))
    async with running(configured, fake_check("sluggish", probe)) as worker:
        await eventually(lambda: last_run(worker, "sluggish") is not None, "the run to end")
        runs = await worker.app.store.runs(check="sluggish")
    assert [(run.status, run.error) for run in runs] == [
        ("timed_out", "the run took longer than its timeout of 0.2 s and was stopped")
    ]
    assert probe.finished == 1
    assert probe.active == 0


# ── Health endpoints ───────────────────────────────────────────────────────────────────────


async def test_health_endpoints_report_the_running_worker_over_http(
    settings: MonitorSettings, scheduler_log: pytest.LogCaptureFixture
) -> None:
    found = Probe(findings=[finding("app-1", Severity.HIGH), finding("app-2", Severity.LOW)])
    clean = Probe()
    configured = with_checks(settings, found=HOURLY, clean=HOURLY)
    checks = (GraphAccess, fake_check("found", found), fake_check("clean", clean))
    async with running(configured, *checks) as worker, serving(worker) as http:
        healthz = await http.get("/healthz")
        assert (healthz.status_code, healthz.json()["status"]) == (200, "ok")
        await eventually(
            lambda: all(entry["lastRun"] for entry in worker.status()["checks"]), "every first run", 60
        )
        readyz = await http.get("/readyz")
        assert (readyz.status_code, readyz.json()) == (200, {"ready": True})
        status = (await http.get("/status")).json()
        runs = {run.check: run for run in await worker.app.store.runs()}
    due = {check_id: scheduled_times(scheduler_log, check_id)[0] for check_id in ("clean", "found")}
    entries = {entry["check"]: entry for entry in status["checks"]}
    assert list(entries) == ["clean", "found", "graph-access"]
    for check_id, findings in (("clean", 0), ("found", 2), ("graph-access", 0)):
        entry = entries[check_id]
        assert entry["tenant"] == TENANT
        assert entry["consecutiveFailures"] == 0
        assert entry["lastRun"]["runId"] == runs[check_id].run_id
        assert entry["lastRun"]["durationSeconds"] >= 0
        assert {key: entry["lastRun"][key] for key in ("status", "findings", "error")} == {
            "status": "succeeded",
            "findings": findings,
            "error": None,
        }
        if check_id in due:
            assert entry["schedule"] == "every 1 h"
            assert datetime.fromisoformat(entry["nextRun"]) == due[check_id] + timedelta(hours=1)
    graph_access = entries["graph-access"]
    assert graph_access["schedule"] == "every 1 h (jitter 30 s)"
    first = scheduled_times(scheduler_log, "graph-access")[0]
    delay = datetime.fromisoformat(graph_access["nextRun"]) - (first + timedelta(hours=1))
    assert timedelta(0) <= delay <= timedelta(seconds=30)
    assert status["openFindings"] == {"critical": 0, "high": 1, "medium": 0, "low": 1, "info": 0}


# ── Restarts ───────────────────────────────────────────────────────────────────────────────


async def test_a_restarted_worker_files_no_duplicate_findings(
    settings: MonitorSettings, scheduler_log: pytest.LogCaptureFixture
) -> None:
    probe = Probe(findings=[finding("app-1", Severity.HIGH), finding("app-2", Severity.MEDIUM)])
    configured = with_checks(settings, found=HOURLY)
    clock = FakeClock(T1)
    for _ in range(2):  # a new app and worker on the same state file: a restart
        await run_until_done(configured, fake_check("found", probe), clock)
        clock.now += timedelta(hours=1)
    with open_store(settings.state.path) as store:
        second, first = store.runs(check="found")
        stored = store.findings(check="found")
    assert (first.status, first.started, first.counts["new"]) == ("succeeded", T1, 2)
    assert (second.status, second.started) == ("succeeded", T1 + timedelta(hours=1))
    assert not {"new", "reopened", "resolved"} & set(second.counts)
    assert sorted((s.finding.resource.id, s.first_seen, s.last_seen) for s in stored) == [
        ("app-1", T1, T1 + timedelta(hours=1)),
        ("app-2", T1, T1 + timedelta(hours=1)),
    ]
    new = [r for r in scheduler_log.records if getattr(r, "transition", None) == "new"]
    assert sorted(getattr(r, "resource", "") for r in new) == ["app-1", "app-2"]


async def test_rules_a_run_could_not_evaluate_keep_their_findings_and_are_noted(
    settings: MonitorSettings,
) -> None:
    licensed = finding("user-1", Severity.HIGH, rule="needs-licence")
    probe = Probe(findings=[licensed, finding("app-1", Severity.LOW), finding("app-2", Severity.LOW)])
    configured = with_checks(settings, partial=HOURLY)
    clock = FakeClock(T1)
    await run_until_done(configured, fake_check("partial", probe), clock)

    # The licence lapses: the rule is not evaluated and app-2 is gone; user-1 must not resolve.
    probe.findings = [finding("app-1", Severity.LOW)]
    probe.unavailable = {
        "needs-licence": "needs Microsoft Entra ID P2",
        "other-rule": "needs Microsoft Entra ID P2",
    }
    clock.now += timedelta(hours=1)
    await run_until_done(configured, fake_check("partial", probe), clock)
    with open_store(settings.state.path) as store:
        second, _first = store.runs(check="partial")
        open_now = store.findings(check="partial")
        resolved = store.findings(check="partial", status="resolved")
    assert (second.status, second.error) == (
        "succeeded",
        "not evaluated: needs-licence, other-rule (needs Microsoft Entra ID P2)",
    )
    assert sorted((s.finding.resource.id, s.last_seen) for s in open_now) == [
        ("app-1", T1 + timedelta(hours=1)),
        ("user-1", T1),
    ]
    assert [s.finding.resource.id for s in resolved] == ["app-2"]

    # Licensed again and the user is no longer at risk: now it resolves.
    probe.unavailable = {}
    clock.now += timedelta(hours=1)
    await run_until_done(configured, fake_check("partial", probe), clock)
    with open_store(settings.state.path) as store:
        assert [s.finding.resource.id for s in store.findings(check="partial")] == ["app-1"]
        third = store.runs(check="partial")[0]
    assert (third.status, third.error) == ("succeeded", None)


async def test_measurements_of_undeclared_gauges_or_attributes_are_dropped_and_logged(
    settings: MonitorSettings, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe(
        measurements=[
            Measurement("entra_monitor.fake.value", 3.0, {"app": "app-1"}),
            Measurement("entra_monitor.fake.other", 1.0, {"app": "app-1"}),
            Measurement("entra_monitor.fake.value", 2.0, {"app": "app-2", "user": "u"}),
        ]
    )
    configured = with_checks(settings, measured=HOURLY)
    caplog.set_level(logging.ERROR, logger="monitor")
    async with running(configured, fake_check("measured", probe)) as worker:
        await eventually(lambda: last_run(worker, "measured") is not None, "the run")
        last = last_run(worker, "measured")
    assert last is not None
    assert (last["status"], last["measurements"]) == ("succeeded", 1)
    dropped = [r for r in caplog.records if r.getMessage().startswith("dropped a measurement")]
    assert [(getattr(r, "gauge", None), getattr(r, "attributes", None)) for r in dropped] == [
        ("entra_monitor.fake.other", ["app"]),
        ("entra_monitor.fake.value", ["app", "user"]),
    ]


async def test_status_counts_each_sinks_deliveries_and_a_refusing_sink_parks(
    settings: MonitorSettings,
) -> None:
    probe = Probe(findings=[finding("app-1", Severity.HIGH), finding("app-2", Severity.LOW)])
    with running_receiver() as good, running_receiver() as refusing:
        refusing.answer = lambda _request: (400, {})
        sinks = (
            WebhookSinkSettings(
                kind="webhook", id="soc", url=SecretStr(good.url()), hmac_key=SecretStr("k" * 40)
            ),
            SlackSinkSettings(
                kind="slack", id="chat", url=SecretStr(refusing.url()), min_severity=Severity.HIGH
            ),
        )
        configured = with_checks(settings, found=HOURLY).model_copy(
            update={"alerts": AlertSettings(sinks=sinks)}
        )
        async with running(configured, fake_check("found", probe)) as worker, serving(worker) as http:
            await eventually(lambda: bool(worker.status()["alerts"]["soc"]["delivered"]), "the deliveries")
            status = (await http.get("/status")).json()
    assert status["alerts"] == {
        "soc": {"pending": 0, "delivered": 2, "parked": 0},
        "chat": {"pending": 0, "delivered": 0, "parked": 1},
    }
    assert sorted(request.json["resource"]["id"] for request in good.accepted) == ["app-1", "app-2"]
    assert len(refusing.received) == 1


@pytest.mark.parametrize(
    ("field", "apscheduler"),
    [
        ("1-5", "0,1,2,3,4"),
        ("0,6", "6,5"),
        ("*/2", "6,1,3,5"),
        ("7", "6"),
        ("mon-fri", "mon-fri"),
        ("*", "*"),
    ],
)
def test_crontab_weekdays_translate_to_apschedulers_numbering(field: str, apscheduler: str) -> None:
    assert apscheduler_weekdays(field) == apscheduler


def test_weekday_numbers_outside_crontabs_range_are_refused() -> None:
    with pytest.raises(ValueError, match="outside 0-7"):
        apscheduler_weekdays("8")
