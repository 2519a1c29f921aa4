"""``entra-monitor probe``: which collections a credential reaches, and the tenant settings file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from monitor.graph.connection import connect, emulator_connection
from monitor.graph.credentials import CertificateCredential
from monitor.graph.probe import MISSING_PERMISSION, OK, probe, probed_endpoints
from monitor.settings import load_settings
from tests.support.emulator import RunningEmulator, console_script

TENANT = "0f3c8a52-6f34-4a2b-9d7e-1c2b3a4d5e6f"
CLIENT = "2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def info_file(emulator: RunningEmulator) -> Path:
    return Path(emulator.info["infoFile"])


async def test_every_collection_answers_the_certificate_client(emulator: RunningEmulator) -> None:
    connection = emulator_connection(info_file(emulator), "certificate")
    assert isinstance(connection.credential, CertificateCredential)
    async with connect(connection) as graph:
        results = await probe(graph)
    assert [(r.endpoint.path, r.status) for r in results] == [(e.path, OK) for e, _ in probed_endpoints()]
    assert len(results) == 13


async def test_a_limited_client_is_told_each_permission_to_grant(emulator: RunningEmulator) -> None:
    async with connect(emulator_connection(info_file(emulator), "limited")) as graph:
        results = await probe(graph)
    reached = {r.endpoint.path for r in results if r.status == OK}
    assert reached == {"applications", "servicePrincipals"}
    missing = {r.detail for r in results if r.status == MISSING_PERMISSION}
    assert missing == {
        "grant AccessReview.Read.All",
        "grant AuditLog.Read.All",
        "grant DelegatedPermissionGrant.Read.All",
        "grant GroupMember.Read.All",
        "grant IdentityRiskEvent.Read.All",
        "grant IdentityRiskyUser.Read.All",
        "grant Policy.Read.All",
        "grant User.Read.All",
    }


def run_probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), "probe", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_the_command_exits_by_outcome(emulator: RunningEmulator) -> None:
    info = info_file(emulator)
    complete = run_probe("--emulator", str(info))
    assert complete.returncode == 0, complete.stderr
    assert complete.stdout.count(" ok ") == 13
    limited = run_probe("--emulator", str(info), "--client", "limited")
    assert limited.returncode == 1
    assert limited.stdout.count("missing permission") == 11
    unknown = run_probe("--emulator", str(info), "--client", "nobody")
    assert unknown.returncode == 2
    assert (
        "client: 'nobody' is not one of certificate, secret, subjectName, federated, limited"
        in unknown.stderr
    )


def test_the_example_file_is_valid_once_its_files_exist(tmp_path: Path) -> None:
    example = (Path(__file__).parents[2] / "config" / "tenants.example.toml").read_text()
    for original in ("/etc/entra-monitor/monitor.pem", "/var/run/secrets/azure/tokens/azure-identity-token"):
        stand_in = tmp_path / Path(original).name
        stand_in.write_text("stand-in")
        example = example.replace(original, str(stand_in))
    path = tmp_path / "tenants.toml"
    path.write_text(example)
    connections = {t.name: t for t in load_settings(path, environ={}, env_file=None).tenants}
    kinds = {name: connection.credential.kind for name, connection in connections.items()}
    assert kinds == {
        "contoso": "certificate",
        "fabrikam": "managed_identity",
        "northwind": "workload_identity",
        "lab": "client_secret",
    }
    assert connections["lab"].client.max_concurrency == 8
