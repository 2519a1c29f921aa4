"""``entra-monitor once`` end to end: the real console script against the emulated tenant."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from monitor.graph.permissions import least_privilege_permissions
from tests.support.emulator import RunningEmulator, console_script

ACCESS = ("--check", "graph-access")
MISSING = sorted(set(least_privilege_permissions()) - {"Application.Read.All"})


def write_config(emulator: RunningEmulator, directory: Path, client: str) -> Path:
    info = emulator.info
    registration = info["clients"][client]
    if client == "certificate":
        credential = (
            'kind = "certificate"\n'
            f'client_id = "{registration["clientId"]}"\n'
            f'certificate_path = "{registration["certificatePath"]}"\n'
            f'private_key_path = "{registration["privateKeyPath"]}"\n'
        )
    else:
        credential = (
            f'kind = "client_secret"\nclient_id = "{registration["clientId"]}"\n'
            f'client_secret = "{registration["clientSecret"]}"\n'
        )
    path = directory / "monitor.toml"
    path.write_text(
        f"""
[[tenants]]
name = "lab"
tenant_id = "{info["tenantId"]}"
authority_host = "{info["authorityHost"]}"
graph_endpoint = "{info["baseUrl"]}"
ca_bundle = "{info["caBundle"]}"
[tenants.credential]
{credential}
[state]
path = "{directory / "state" / "monitor.db"}"
[health]
enabled = false
"""
    )
    return path


def once(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), "once", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=config.parent,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_a_clean_tenant_exits_zero(emulator: RunningEmulator, tmp_path: Path) -> None:
    result = once(
        write_config(emulator, tmp_path, "certificate"), *ACCESS, "--fail-on", "info", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [(run["tenant"], run["check"], run["status"]) for run in document["runs"]] == [
        ("lab", "graph-access", "succeeded")
    ]
    assert document["openFindings"] == []


def test_missing_permissions_are_findings_and_fail_the_pipeline(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    config = write_config(emulator, tmp_path, "limited")
    result = once(config, *ACCESS, "--fail-on", "high", "--format", "json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["openFindings"]
    assert {(f["rule"], f["severity"], f["check"], f["tenant"]) for f in findings} == {
        ("permission-missing", "high", "graph-access", "lab")
    }
    granted = sorted({permission for f in findings for permission in f["evidence"]["permissions"]})
    assert granted == MISSING
    assert len(findings) == 11
    assert result.stderr.count('"transition": "new"') == 11
    # The same sweep again: still open, nothing new, and a higher bar passes.
    again = once(config, *ACCESS, "--fail-on", "critical", "--format", "json")
    assert again.returncode == 0
    assert sorted(f["fingerprint"] for f in json.loads(again.stdout)["openFindings"]) == sorted(
        f["fingerprint"] for f in findings
    )
    assert '"transition": "new"' not in again.stderr


def test_the_table_names_each_finding(emulator: RunningEmulator, tmp_path: Path) -> None:
    result = once(write_config(emulator, tmp_path, "limited"), *ACCESS)
    assert result.returncode == 0, result.stderr
    assert "Open findings (11)" in result.stdout
    assert result.stdout.count("permission-missing") == 11


def test_bad_arguments_and_settings_exit_two(emulator: RunningEmulator, tmp_path: Path) -> None:
    config = write_config(emulator, tmp_path, "certificate")
    unknown = once(config, "--check", "no-such-check")
    assert unknown.returncode == 2
    assert "no check named 'no-such-check'; known: " in unknown.stderr
    assert "graph-access" in unknown.stderr.split("known: ")[1]
    config.write_text(config.read_text().replace("[health]", "[health]\nport = -1"))
    invalid = once(config)
    assert invalid.returncode == 2
    assert "health.port" in invalid.stderr
