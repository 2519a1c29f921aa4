"""deploy/azure/grant-graph-permissions.sh grants exactly the union of the permissions the checks
declare (from the plugin registry), all read-only, and refuses to grant anything that could write."""

from __future__ import annotations

import subprocess
from pathlib import Path

from monitor.graph.permissions import least_privilege_permissions
from monitor.plugins import discover_checks
from tests.deploy.conftest import AZURE

SCRIPT = AZURE / "grant-graph-permissions.sh"


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_the_script_grants_the_union_of_the_checks_declared_permissions() -> None:
    discovery = discover_checks()
    assert not discovery.broken
    declared = {permission for check in discovery.checks.values() for permission in check.permissions}

    result = run(SCRIPT, "--list")

    assert result.returncode == 0, result.stderr
    granted = result.stdout.split()
    assert len(granted) == len(set(granted))
    assert set(granted) == declared
    assert set(granted) == set(least_privilege_permissions())
    assert all(permission.endswith(".Read.All") for permission in granted)


def test_the_script_refuses_a_permission_that_could_write(tmp_path: Path) -> None:
    edited = tmp_path / SCRIPT.name
    listed = "  User.Read.All\n"
    edited.write_text(SCRIPT.read_text().replace(listed, listed + "  Directory.ReadWrite.All\n"))

    result = run(edited, "--list")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "refusing: Directory.ReadWrite.All is not a read-only (*.Read.All) permission" in result.stderr


def test_the_script_names_its_arguments_when_they_are_wrong() -> None:
    for args in ((), ("rg",), ("rg", "id-monitor", "--force")):
        result = run(SCRIPT, *args)

        assert result.returncode == 2, args
        assert "usage:" in result.stderr
        assert "RESOURCE_GROUP IDENTITY_NAME [--dry-run]" in result.stderr


def test_the_script_is_executable_and_strict() -> None:
    text = SCRIPT.read_text()

    assert SCRIPT.stat().st_mode & 0o111
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert subprocess.run(["/bin/bash", "-n", str(SCRIPT)], check=False).returncode == 0
