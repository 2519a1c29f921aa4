"""``entra-monitor config``: init, validate and show, with their exit codes and redaction."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from monitor.config_cli import config_app, installed_checks
from monitor.settings import render_config
from tests.support.emulator import RunningEmulator

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "monitor.example.toml"
GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "Sup3r~S3cret.value"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty working directory and no ENTRA_MONITOR_ variables of the machine."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith("ENTRA_MONITOR_"):
            monkeypatch.delenv(name)


def run(*args: str) -> Result:
    app = typer.Typer()
    app.add_typer(config_app, name="config")
    return CliRunner().invoke(app, ["config", *args])


def secret_tenant(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(
        f'[[tenants]]\nname = "lab"\ntenant_id = "{GUID}"\n[tenants.credential]\nkind = "client_secret"\n'
        f'client_id = "{GUID}"\nclient_secret = "{SECRET}"\n'
    )
    return path


def test_the_example_file_is_what_config_init_writes() -> None:
    assert EXAMPLE.read_text() == render_config(installed_checks()), (
        "config/monitor.example.toml is out of date: regenerate it with "
        "`entra-monitor config init --force -o config/monitor.example.toml`"
    )


def test_init_prints_the_complete_file() -> None:
    result = run("init")
    assert result.exit_code == 0
    assert result.stdout == render_config(installed_checks())
    tomllib.loads(result.stdout)


def test_init_writes_a_file_and_keeps_an_existing_one(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "monitor.toml"
    assert run("init", "-o", str(target)).exit_code == 0
    assert target.read_text() == render_config(installed_checks())
    target.write_text("# mine\n")
    refused = run("init", "-o", str(target))
    assert refused.exit_code == 2
    assert "exists; give --force" in refused.stderr
    assert target.read_text() == "# mine\n"
    assert run("init", "-o", str(target), "--force").exit_code == 0


def test_init_from_an_unreadable_info_file_exits_2(tmp_path: Path) -> None:
    result = run("init", "--from-emulator", str(tmp_path / "missing.json"))
    assert result.exit_code == 2
    assert "not a readable emulator info file" in result.stderr


def test_init_from_the_emulator_validates(emulator: RunningEmulator, tmp_path: Path) -> None:
    target = tmp_path / "monitor.toml"
    assert run("init", "--from-emulator", emulator.info["infoFile"], "-o", str(target)).exit_code == 0
    result = run("validate", "--config", str(target))
    assert result.exit_code == 0, result.stderr
    checks = len(installed_checks())
    assert result.stdout == f"valid: 1 tenant, {checks} checks configured (0 disabled)\n"


def test_validate_reads_config_monitor_toml_by_default(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    secret_tenant(tmp_path).rename(tmp_path / "config" / "monitor.toml")
    result = run("validate")
    assert result.exit_code == 0
    assert result.stdout.startswith("valid: 1 tenant, ")


def test_validate_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = secret_tenant(tmp_path)
    path.write_text(path.read_text().replace(GUID, "nope", 1) + "[health]\nport = 70000\n")
    result = run("validate", "--config", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "invalid settings (2 problems):",
        f"  tenants[0].tenant_id ({path}:3): not in the accepted form; accepted: The directory (tenant) id, "
        "a GUID",
        f"  health.port ({path}:9): input should be less than or equal to 65535; accepted: a TCP port, "
        "0 to 65535 (0 picks a free one)",
    ]
    assert SECRET not in result.stderr


def test_validate_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = run("validate", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "nope.toml does not exist" in result.stderr


def test_show_redacts_secrets_as_toml_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = secret_tenant(tmp_path)
    monkeypatch.setenv("ENTRA_MONITOR_HEALTH__PORT", "9090")
    shown = run("show", "--config", str(path))
    assert shown.exit_code == 0
    assert SECRET not in shown.stdout
    document = tomllib.loads(shown.stdout)
    assert document["tenants"][0]["credential"]["client_secret"] == "**********"
    assert document["health"]["port"] == 9090
    as_json = run("show", "--config", str(path), "--format", "json")
    assert as_json.exit_code == 0
    assert SECRET not in as_json.stdout
    data = json.loads(as_json.stdout)
    assert data["tenants"][0]["credential"]["client_secret"] == "**********"
    assert (data["health"]["port"], data["baseline"]) == (9090, None)


def test_show_of_invalid_settings_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text("[health]\nport = 1\n")
    result = run("show", "--config", str(path))
    assert result.exit_code == 2
    assert "tenants (not set in" in result.stderr


def test_every_commented_setting_in_the_example_is_valid_toml_once_uncommented() -> None:
    lines = [line.removeprefix("# ") for line in EXAMPLE.read_text().splitlines()]
    settings = [line for line in lines if line.endswith("# from the baseline")]
    assert len(settings) >= 18
    for line in settings:
        assert tomllib.loads(line), line
