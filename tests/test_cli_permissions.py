"""``entra-monitor permissions``: the table for people, the JSON for scripts, both ending in the
exact set of read-only application permissions to grant."""

from __future__ import annotations

import json
import os
import subprocess

from typer.testing import CliRunner

from monitor.cli import app
from monitor.graph.permissions import ENDPOINTS
from tests.graph.test_permissions import EXPECTED_PERMISSIONS
from tests.support.emulator import console_script

ENDPOINT_KEYS = {
    "name",
    "method",
    "versions",
    "path",
    "permissions",
    "accepted",
    "licence",
    "family",
    "isCollection",
    "pageMax",
    "paging",
    "description",
}
HEADING = "Application permissions to grant (all read-only):"
WIDE = {"COLUMNS": "200", "NO_COLOR": "1"}


def test_the_table_lists_every_endpoint_then_the_permissions_to_grant() -> None:
    result = CliRunner().invoke(app, ["permissions"], env=WIDE)
    assert result.exit_code == 0, result.output
    table, _, grant = result.stdout.partition(HEADING)
    assert grant.split() == list(EXPECTED_PERMISSIONS)
    for endpoint in ENDPOINTS:
        assert f" /{endpoint.path} " in table, endpoint.path
    assert table.count("│ GET ") == len(ENDPOINTS)
    assert "/auditLogs/signIns " in table
    assert "beta, v1.0" in table
    assert "Entra ID P2" in table
    assert "Policy.Read.All and Application.Read.All" in table
    assert result.stderr == ""


def test_the_table_is_the_default_and_matches_format_table() -> None:
    runner = CliRunner()
    default = runner.invoke(app, ["permissions"], env=WIDE)
    explicit = runner.invoke(app, ["permissions", "--format", "table"], env=WIDE)
    assert default.stdout == explicit.stdout


def test_json_has_the_documented_shape() -> None:
    result = CliRunner().invoke(app, ["permissions", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"formatVersion", "endpoints", "permissions"}
    assert document["formatVersion"] == 1
    assert document["permissions"] == list(EXPECTED_PERMISSIONS)
    assert len(document["endpoints"]) == len(ENDPOINTS)
    for entry in document["endpoints"]:
        assert set(entry) == ENDPOINT_KEYS
        assert entry["method"] == "GET"
    by_name = {entry["name"]: entry for entry in document["endpoints"]}
    assert by_name["tokenLifetimePolicies.appliesTo"] == {
        "name": "tokenLifetimePolicies.appliesTo",
        "method": "GET",
        "versions": ["v1.0"],
        "path": "policies/tokenLifetimePolicies/{id}/appliesTo",
        "permissions": ["Policy.Read.All", "Application.Read.All"],
        "accepted": [
            [
                "Policy.Read.All",
                "Policy.Read.ApplicationConfiguration",
                "Policy.ReadWrite.ApplicationConfiguration",
            ],
            [
                "Application.Read.All",
                "Application.ReadWrite.All",
                "Application.ReadWrite.OwnedBy",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        ],
        "licence": None,
        "family": "directory",
        "isCollection": True,
        "pageMax": 999,
        "paging": "skiptoken",
        "description": "the applications a token lifetime policy applies to",
    }
    assert by_name["signIns"]["versions"] == ["beta", "v1.0"]
    assert by_name["signIns"]["licence"] == "P1"
    assert by_name["applications.count"]["pageMax"] is None
    granted = {permission for entry in document["endpoints"] for permission in entry["permissions"]}
    assert sorted(granted) == list(EXPECTED_PERMISSIONS)


def test_an_unknown_format_is_refused() -> None:
    result = CliRunner().invoke(app, ["permissions", "--format", "xml"], env=WIDE)
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr
    assert "'xml' is not one of 'table', 'json'" in result.stderr


def test_the_console_script_prints_the_same_json() -> None:
    result = subprocess.run(
        [console_script(), "permissions", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **WIDE},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(
        CliRunner().invoke(app, ["permissions", "--format", "json"]).stdout
    )
