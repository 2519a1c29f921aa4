"""``entra-monitor once`` against a small emulated tenant prints exactly the planted problems of
every built-in check (the emulator's ground truth), and nothing else.

The monitor keeps the host's time, so this tenant runs on real time too (no ``--now``), and the
truth is evaluated at the moment the sweep evaluated its rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.plugins import discover_checks
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.plugins import BUILTIN_CHECKS
from tests.test_once import once, write_config

Key = tuple[str, str, str, str]


def truth_findings(emulator: RunningEmulator, at: str) -> set[Key]:
    """The ground truth evaluated at the monitor's own run time (its clock is the host's)."""
    with emulator.control() as control:
        truth = control.get("/truth", params={"at": at}).json()
    return {
        (f["check"], f["rule"], f["severity"], f["resource"]["id"].lower())
        for f in truth["findings"]
        if f["check"] in BUILTIN_CHECKS
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    directory = tmp_path_factory.mktemp("live")
    with start_emulator(directory, "--seed", "7", "--scale", "small", "--throttling", "off") as running:
        yield running


def test_once_reports_exactly_the_planted_problems(live: RunningEmulator, tmp_path: Path) -> None:
    result = once(write_config(live, tmp_path, "certificate"), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {run["check"]: run["status"] for run in document["runs"]} == dict.fromkeys(
        BUILTIN_CHECKS, "succeeded"
    )
    reported = {
        (f["check"], f["rule"], f["severity"], f["resource"]["id"].lower()) for f in document["openFindings"]
    }
    started = min(run["started"] for run in document["runs"])
    assert reported == truth_findings(live, started)
    assert len(document["openFindings"]) == len(reported)  # no finding twice
    assert all(f["remediation"] and f["evidence"] for f in document["openFindings"])
    # Every check's gauges are measured and printed; only declared gauges, with their attributes.
    checks = discover_checks().checks
    for run in document["runs"]:
        gauges = {gauge.name: set(gauge.attributes) for gauge in checks[run["check"]].gauges}
        measured = {m["gauge"] for m in run["measurements"]}
        assert measured == set(gauges), run["check"]
        assert all(set(m["attributes"]) == gauges[m["gauge"]] for m in run["measurements"])
    # ...with the values the check computed (exact values: tests/checks/*_emulator.py).
    buckets = {
        m["attributes"]["bucket"]: m["value"]
        for run in document["runs"]
        for m in run["measurements"]
        if m["gauge"] == "entra_monitor.credentials.count"
    }
    assert set(buckets) == {"expired", "critical", "warning", "ok", "no_end_date"}
