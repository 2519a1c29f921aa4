"""``entra-monitor run`` and ``checks list`` as real processes, with the throw-away plugin
distribution of ``tests/support/plugins.py`` on ``PYTHONPATH``.

The process is stopped the way a service manager stops it (SIGTERM) while checks are running; its
JSON log lines (stdout, flushed per record) and its state file say what happened.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from monitor.settings import render_config
from monitor.state import open_store
from tests.support.emulator import RunningEmulator, console_script
from tests.support.plugins import (
    BROKEN,
    BUILTIN_CHECKS,
    ENTRY_POINTS,
    GOOD,
    STATIC_FINDINGS,
    write_plugin_distribution,
)

GRACE_SECONDS = 2
CHECK_IDS = tuple(sorted((*BUILTIN_CHECKS, *GOOD)))
Record = dict[str, Any]


@dataclass
class Setup:
    """A working directory with the plugin distribution, a settings file and the environment."""

    directory: Path
    config: Path
    state: Path
    environment: dict[str, str]


@dataclass
class WorkerProcess:
    """A running ``entra-monitor run`` and its captured output."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def records(self) -> list[Record]:
        """The JSON log lines so far (anything else on stdout is skipped)."""
        records = []
        for line in self.stdout.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
        return records

    def wait_for(self, matches: Callable[[Record], bool], what: str, seconds: float = 30) -> Record:
        """The first log record ``matches`` accepts; fails with the output after ``seconds`` or
        when the process exits first."""
        deadline = time.monotonic() + seconds
        while True:
            found = next((record for record in self.records() if matches(record)), None)
            if found is not None:
                return found
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no log record for {what}:\n{self.output()}")
            time.sleep(0.02)

    def terminate(self, seconds: float = GRACE_SECONDS + 10) -> int:
        """SIGTERM, then the exit code (failing if the process outlives ``seconds``)."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait(seconds)

    def wait(self, seconds: float) -> int:
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the worker did not exit within {seconds} s:\n{self.output()}") from None

    def output(self) -> str:
        return f"stdout:\n{self.stdout.read_text()}\nstderr:\n{self.stderr.read_text()}"


def message(text: str, check: str | None = None) -> Callable[[Record], bool]:
    return lambda record: record.get("message") == text and (check is None or record.get("check") == check)


def wait_for_file(path: Path, process: WorkerProcess, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{path.name} never appeared:\n{process.output()}")
        time.sleep(0.02)


def checks_table(enabled: Mapping[str, Mapping[str, str]]) -> str:
    """``[checks.<id>]`` tables: the ``enabled`` ones with their settings, every other one off."""
    lines = []
    for check_id in CHECK_IDS:
        lines.append(f"[checks.{check_id}]")
        if check_id not in enabled:
            lines.append("enabled = false")
            continue
        lines.append(f"[checks.{check_id}.settings]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in enabled[check_id].items()]
    return "\n".join(lines) + "\n"


def setup(emulator: RunningEmulator, directory: Path, checks: Mapping[str, Mapping[str, str]]) -> Setup:
    plugins = write_plugin_distribution(directory / "site-packages")
    state = directory / "state" / "monitor.db"
    config = directory / "monitor.toml"
    rendered = render_config(info_file=emulator.log.with_name("emulator.json"), state_path=state)
    config.write_text(rendered + "\n" + checks_table(checks))
    environment = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        "PYTHONPATH": str(plugins),
        "ENTRA_MONITOR_HEALTH__PORT": "0",
        "ENTRA_MONITOR_WORKER__GRACE_SECONDS": str(GRACE_SECONDS),
        "ENTRA_MONITOR_LOGGING__FORMAT": "json",
    }
    return Setup(directory, config, state, environment)


@contextlib.contextmanager
def worker_process(setup: Setup, name: str) -> Iterator[WorkerProcess]:
    """``entra-monitor run --config …`` until the block ends (killed if it is still running)."""
    stdout, stderr = setup.directory / f"{name}.out", setup.directory / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [console_script(), "run", "--config", str(setup.config)],
            stdout=out,
            stderr=err,
            cwd=setup.directory,
            env=setup.environment,
        )
    try:
        yield WorkerProcess(process, stdout, stderr)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def health_url(running: WorkerProcess) -> str:
    listening = running.wait_for(lambda r: str(r.get("message", "")).startswith("health endpoint"), "health")
    return str(listening["message"]).removeprefix("health endpoint listening on ")


def test_sigterm_lets_a_run_finish_within_the_grace_period_and_cancels_one_that_does_not(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    started = {
        check_id: tmp_path / f"{check_id}.started" for check_id in ("waiting-release", "waiting-forever")
    }
    release = tmp_path / "release"
    configured = setup(
        emulator,
        tmp_path,
        {
            "waiting-release": {
                "started_file": str(started["waiting-release"]),
                "release_file": str(release),
            },
            "waiting-forever": {"started_file": str(started["waiting-forever"])},
        },
    )
    with worker_process(configured, "run") as running:
        for path in started.values():
            wait_for_file(path, running)
        url = health_url(running)
        with httpx.Client(base_url=url, timeout=5) as http:
            assert http.get("/readyz").json() == {"ready": True}
            status = http.get("/status").json()
        assert [(c["check"], c["lastRun"]) for c in status["checks"]] == [
            ("waiting-forever", None),
            ("waiting-release", None),
        ]
        signalled = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        running.wait_for(message(f"waiting up to {GRACE_SECONDS:g} s for 2 running checks"), "the drain")
        release.touch()  # only now: the run finishes inside the grace period
        assert running.wait(GRACE_SECONDS + 10) == 0, running.output()
        elapsed = time.monotonic() - signalled
        records = running.records()
    assert GRACE_SECONDS <= elapsed < GRACE_SECONDS + 5
    messages = [record["message"] for record in records]
    assert "cancelled 1 checks still running after the grace period" in messages
    assert messages[-1] == "worker stopped"
    with open_store(configured.state) as store:
        runs = {run.check: run for run in store.runs()}
    assert {check: (run.status, run.error) for check, run in runs.items()} == {
        "waiting-release": ("succeeded", None),
        "waiting-forever": ("cancelled", "the worker stopped during the run"),
    }
    assert all(run.ended is not None for run in runs.values())


def test_a_restarted_process_reports_no_finding_twice(emulator: RunningEmulator, tmp_path: Path) -> None:
    configured = setup(emulator, tmp_path, {"static-findings": {}})
    transitions: list[list[str]] = []
    for attempt in ("first", "second"):
        with worker_process(configured, attempt) as running:
            done = running.wait_for(message("check run succeeded", "static-findings"), "the run")
            assert done["findings"] == STATIC_FINDINGS
            assert running.terminate() == 0, running.output()
            records = running.records()
        assert records[-1]["message"] == "worker stopped"
        transitions.append(
            sorted(
                r["transition"] for r in records if r.get("check") == "static-findings" and "transition" in r
            )
        )
    assert transitions == [["new"] * STATIC_FINDINGS, []]
    with open_store(configured.state) as store:
        assert [run.status for run in store.runs(check="static-findings")] == ["succeeded", "succeeded"]
        assert len(store.findings(check="static-findings")) == STATIC_FINDINGS


def test_checks_list_names_the_broken_plugins_and_lists_the_rest(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    configured = setup(emulator, tmp_path, {check_id: {} for check_id in CHECK_IDS})
    result = subprocess.run(
        [console_script(), "checks", "list", "--config", str(configured.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=configured.directory,
        env=configured.environment,
    )
    assert result.returncode == 0, result.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.stdout.splitlines()]
    listed = [(row[0], row[2]) for row in rows if row and row[0]]  # id, enabled; not wrapped lines
    assert listed == [(check_id, "yes") for check_id in CHECK_IDS]
    for name, problem in BROKEN.items():
        assert f"not loaded: {name} ({ENTRY_POINTS[name]}): {problem}" in result.stderr, name
