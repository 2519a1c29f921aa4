"""The monitor's metrics leave the process: ``once`` exports its runs, the checks' gauges and the
open findings to Azure Monitor (a local ingestion endpoint) before it exits, and the worker serves
them on ``/metrics`` when Prometheus is on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import jwt

from monitor.check import Severity
from monitor.settings import load_settings
from monitor.sweep import run_worker
from monitor.worker import Worker
from tests.alerts.receiver import running_receiver
from tests.support.emulator import RunningEmulator
from tests.support.ingestion import ingestion_server
from tests.test_once import once, write_config

CHECKS = ("--check", "credential-expiry", "--check", "graph-access")


def test_once_exports_runs_gauges_and_open_findings_before_it_exits(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    config = write_config(emulator, tmp_path, "certificate")
    with ingestion_server() as ingestion:
        azure = f'enabled = true\nconnection_string = "{ingestion.connection_string}"\n'
        config.write_text(config.read_text() + "\n[telemetry.azure_monitor]\n" + azure)
        result = once(config, *CHECKS, "--format", "json")
        points = ingestion.metrics()
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    tenant = document["runs"][0]["tenantId"]
    runs = {
        (p["properties"]["check"], p["properties"]["status"]): p["value"]
        for p in points
        if p["name"] == "entra_monitor.check.runs"
    }
    assert runs == {("credential-expiry", "succeeded"): 1, ("graph-access", "succeeded"): 1}
    open_findings = {
        (p["properties"]["check"], p["properties"]["severity"]): p["value"]
        for p in points
        if p["name"] == "entra_monitor.findings.open" and p["properties"]["tenant"] == tenant
    }
    expected: dict[tuple[str, str], int] = {
        (check, severity.label): 0
        for check in ("credential-expiry", "graph-access", "worker")
        for severity in Severity
    }
    for finding in document["openFindings"]:
        expected[(finding["check"], finding["severity"])] += 1
    assert open_findings == expected
    (run,) = [r for r in document["runs"] if r["check"] == "credential-expiry"]
    exported = {
        (
            p["name"],
            json.dumps({k: v for k, v in p["properties"].items() if k != "tenant"}, sort_keys=True),
        ): p["value"]
        for p in points
        if p["name"].startswith("entra_monitor.credentials.")
    }
    printed = {
        (m["gauge"], json.dumps(m["attributes"], sort_keys=True)): m["value"] for m in run["measurements"]
    }
    assert exported == printed
    assert printed  # the check measured something to compare


async def test_the_worker_serves_prometheus_metrics_on_the_health_server(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    config = write_config(emulator, tmp_path, "certificate")
    others = ("credential-expiry", "consent-grants", "risky-sign-ins", "token-lifetime-drift")
    others += ("access-review-due", "conditional-access-baseline")
    text = config.read_text().replace("[health]\nenabled = false\n", "[health]\nport = 0\n")
    text += "[telemetry.prometheus]\nenabled = true\n"
    text += f'[snapshots]\ndirectory = "{tmp_path / "snapshots"}"\n'  # the worker writes one after its sweep
    text += "".join(f"[checks.{check}]\nenabled = false\n" for check in others)
    config.write_text(text)
    settings = load_settings(config, environ={})
    started: asyncio.Future[tuple[Worker, int | None]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_worker(settings, on_started=lambda w, p: started.set_result((w, p))))
    worker, port = await asyncio.wait_for(started, 30)
    try:
        for _ in range(300):
            if all(entry["lastRun"] for entry in worker.status()["checks"]):
                break
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            response = await http.get("/metrics")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert any(
        line.startswith("entra_monitor_check_runs")
        and 'check="graph-access"' in line
        and 'status="succeeded"' in line
        for line in lines
    )
    assert any(line.startswith("entra_monitor_findings_open") for line in lines)
    assert any(line.startswith("entra_monitor_graph_requests") for line in lines)


def test_alert_deliveries_are_counted_by_sink_and_outcome(emulator: RunningEmulator, tmp_path: Path) -> None:
    config = write_config(emulator, tmp_path, "certificate")
    with ingestion_server() as ingestion, running_receiver() as good, running_receiver() as refusing:
        refusing.answer = lambda _request: (410, {})
        azure = f'enabled = true\nconnection_string = "{ingestion.connection_string}"\n'
        soc = f'kind = "webhook"\nid = "soc"\nurl = "{good.url()}"\nhmac_key = "{"k" * 40}"\n'
        chat = f'kind = "slack"\nid = "chat"\nurl = "{refusing.url()}"\nmin_severity = "critical"\n'
        text = config.read_text() + "\n[telemetry.azure_monitor]\n" + azure
        text += "[[alerts.sinks]]\n" + soc + "[[alerts.sinks]]\n" + chat
        config.write_text(text)
        result = once(config, *CHECKS, "--format", "json")
        points = ingestion.metrics()
        delivered, refused = len(good.accepted), len(refusing.received)
    assert result.returncode == 0, result.stderr
    counted = {
        (p["properties"]["sink"], p["properties"]["outcome"]): p["value"]
        for p in points
        if p["name"] == "entra_monitor.alerts.deliveries"
    }
    critical = sum(1 for f in json.loads(result.stdout)["openFindings"] if f["severity"] == "critical")
    assert counted == {("soc", "delivered"): delivered, ("chat", "parked"): critical}
    assert refused == critical  # each was tried once and parked; a parked alert holds nothing back
    assert critical > 0


def test_entra_authenticated_ingestion_carries_the_tenants_token(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    config = write_config(emulator, tmp_path, "certificate")
    with ingestion_server(tls_directory=tmp_path / "tls", require_bearer=True) as ingestion:
        azure = (
            f'enabled = true\nconnection_string = "{ingestion.connection_string}"\n'
            f'entra_authentication = true\ncredential_tenant = "lab"\nca_bundle = "{ingestion.ca_bundle}"\n'
        )
        config.write_text(config.read_text() + "\n[telemetry.azure_monitor]\n" + azure)
        result = once(config, *CHECKS, "--format", "json")
        requests = list(ingestion.requests)
        points = ingestion.metrics()
    assert result.returncode == 0, result.stderr
    assert ingestion.connection_string.split("IngestionEndpoint=")[1].startswith("https://")
    assert requests
    audiences = set()
    for request in requests:
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        claims = jwt.decode(token, options={"verify_signature": False})
        audiences.add((claims["aud"], claims["tid"], claims["appid"]))
    client_id = emulator.info["clients"]["certificate"]["clientId"]
    assert audiences == {("https://monitor.azure.com/", emulator.info["tenantId"], client_id)}
    runs = {p["properties"]["check"] for p in points if p["name"] == "entra_monitor.check.runs"}
    assert runs == {"credential-expiry", "graph-access"}


def test_an_unknown_credential_tenant_is_a_settings_error(emulator: RunningEmulator, tmp_path: Path) -> None:
    config = write_config(emulator, tmp_path, "certificate")
    with ingestion_server() as ingestion:
        azure = (
            f'enabled = true\nconnection_string = "{ingestion.connection_string}"\n'
            'entra_authentication = true\ncredential_tenant = "contoso"\n'
        )
        config.write_text(config.read_text() + "\n[telemetry.azure_monitor]\n" + azure)
        result = once(config, *CHECKS)
    assert result.returncode == 2
    assert "telemetry.azure_monitor.credential_tenant: no tenant named 'contoso'; known: lab" in result.stderr
