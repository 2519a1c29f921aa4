"""``entra-monitor demo --once`` writes a signed snapshot, says where it is, and the chain it says
to verify is accepted by ``snapshot verify`` with the public key it names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.snapshots.conftest import entra_monitor


def test_demo_once_writes_a_snapshot_that_verifies(tmp_path: Path) -> None:
    demo = entra_monitor(
        "demo", "--once", "--scale", "tiny", "--seed", "9", "--state-dir", str(tmp_path), cwd=tmp_path
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    text = " ".join(demo.stdout.split())  # Rich wraps long lines
    assert "it verifies: 1 snapshot(s) in the chain" in text
    command = re.search(r"`entra-monitor (snapshot verify \S+ --public-key \S+)`", text)
    assert command is not None, text
    arguments = command.group(1).split()
    assert arguments[2] == str(tmp_path / "snapshots" / "emulator")
    (snapshot,) = (tmp_path / "snapshots" / "emulator").iterdir()
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "findings.csv",
        "manifest.json",
        "report.html",
        "snapshot.json",
    ]
    verified = entra_monitor(*arguments, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert "VALID 1 snapshot(s) of emulator" in " ".join(verified.stdout.split())
    assert "signed by SHA256:" in verified.stdout
    # The settings file the demo wrote names the snapshots too, so the other commands find them.
    listed = entra_monitor(
        "snapshot", "list", "--config", str(tmp_path / "monitor.toml"), "--format", "json", cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert [entry["id"] for entry in json.loads(listed.stdout)] == [snapshot.name]
