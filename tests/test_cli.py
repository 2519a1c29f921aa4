"""The ``entra-monitor`` command line, run as the real console script in subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from emulator.tenant.ground_truth import GroundTruth
from emulator.tenant.model import Tenant, TenantConfig
from emulator.tenant.scale import PRESETS
from tests.support.emulator import console_script, start_emulator

ENVIRONMENT = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENVIRONMENT,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert re.search(r"emulator\s+Run the emulated Entra ID tenant", result.stdout)
    assert re.search(r"demo\s+Start the emulated tenant", result.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scale", "huge"],
            "unknown scale 'huge'; use one of tiny, small, medium, large or name=count pairs",
        ),
        (["--scale", "small,widgets=3"], "cannot read scale item 'widgets=3'"),
        (["--license", "E5"], "license must be one of free, P1, P2, got 'E5'"),
        (["--throttling", "sometimes"], "throttling mode must be one of real, tight, off, got 'sometimes'"),
        (["--error-rate", "1.5"], "error_rate must be between 0 and 1, got 1.5"),
    ],
)
def test_invalid_emulator_options_exit_2_naming_the_problem(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = run("emulator", "--port", "0", "--state-dir", str(tmp_path), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_time_without_a_zone_is_refused(tmp_path: Path) -> None:
    result = run("emulator", "--now", "2026-11-27T12:00:00", "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert "add a time zone" in result.stderr


def test_a_busy_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("emulator", "--port", str(port), "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_the_emulator_prints_how_to_reach_it_and_stops_on_sigterm(tmp_path: Path) -> None:
    with start_emulator(tmp_path, "--scale", "tiny", "--seed", "5") as running:
        info = running.info
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=30) == 0
        printed = running.log.read_text()
    for value in (info["authority"], info["graphBaseUrl"], info["caBundle"], info["infoFile"], info["truth"]):
        assert value in printed
    assert info["clients"]["secret"]["clientSecret"] not in printed


def test_demo_once_walks_through_the_planted_tenant(tmp_path: Path) -> None:
    result = run("demo", "--once", "--scale", "tiny", "--seed", "9", "--state-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "emulator.json").read_text())
    now = datetime.fromisoformat(info["now"].replace("Z", "+00:00"))
    tenant = Tenant(TenantConfig(9, now, PRESETS["tiny"]))
    truth = GroundTruth(tenant).document()
    soon = now + timedelta(days=30)
    expiring = 0
    for _key, app in tenant.applications.scan(None, None):
        ends = [c["endDateTime"] for c in app["keyCredentials"] + app["passwordCredentials"]]
        expiring += any(datetime.fromisoformat(end.replace("Z", "+00:00")) <= soon for end in ends)
    high_risk = sum(1 for f in truth["findings"] if f["rule"] == "high-risk-sign-in-succeeded")
    applications = tenant.applications.count()
    assert (
        f"read {applications} applications; {expiring} have a credential expired or ending" in result.stdout
    )
    assert f"found {high_risk} successful high-risk sign-ins" in result.stdout
    assert "acquired an app-only Graph token with MSAL and the certificate client" in result.stdout
    assert "13 of 13 collections answer the certificate client" in result.stdout
    # Every finding the sweep opened reached the demo's local webhook once, signature verified.
    found = re.search(r"(\d+) findings open in the state store", result.stdout)
    assert found is not None
    opened = int(found[1])
    assert opened == len(truth["findings"])
    assert f"{opened} alerts arrived at the local webhook in " in result.stdout
    assert "signature verified" in result.stdout
    assert "; 0 refused, 0 repeats dropped" in result.stdout


def test_demo_worker_prints_alerts_as_they_arrive_and_the_prometheus_metrics(tmp_path: Path) -> None:
    command = [console_script(), "demo", "--scale", "tiny", "--seed", "9", "--state-dir", str(tmp_path)]
    environment = {**ENVIRONMENT, "COLUMNS": "400"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "/metrics says open findings:" in line:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    # A run's alerts may be printed just after the metrics line, and log lines written by the
    # worker's thread can share a line with them: count them in the whole output.
    singles = re.findall(r"alert New (?:critical|high|medium|low|info) finding: ", output)
    digested = [int(count) for count in re.findall(r"digest (\d+) alerts from ", output)]
    alerts = len(singles) + sum(digested)
    summary = next(line for line in lines if "/metrics says open findings:" in line)
    counted = sum(int(count) for count in re.findall(r"(\d+) (?:critical|high|medium|low|info)", summary))
    assert alerts == counted
    assert counted > 0
    assert "worker stopped" in output
