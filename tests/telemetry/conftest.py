"""Runs tests/telemetry/child.py in a fresh interpreter, so its audit hook, exporter threads and
library singletons never touch the test process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ChildRun:
    report: dict[str, Any]
    stderr: str
    exit_code: int
    seconds: float
    """From start to exit, interpreter start-up and imports included."""


def run_child(options: dict[str, Any], *, limit_seconds: float) -> ChildRun:
    """Run the child; fail the test when it has not exited within ``limit_seconds``."""
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "tests.telemetry.child", json.dumps(options)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=limit_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the telemetry child did not exit within {limit_seconds} s")
    seconds = time.monotonic() - started
    lines = completed.stdout.strip().splitlines()
    assert completed.returncode == 0, completed.stderr[-3000:]
    return ChildRun(json.loads(lines[-1]), completed.stderr, completed.returncode, seconds)
