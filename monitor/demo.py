"""``entra-monitor demo``: the emulated tenant, what it plants, and a first look through Graph.

It starts the emulator, shows the planted problems, reads two collections through the monitor's
Graph client (real MSAL, certificate credential, paging, pacing), writes a settings file for the
emulated tenant (the code of ``config init --from-emulator``) and runs the worker against it:
every check on a one-minute schedule, with the health endpoint and Prometheus metrics on
``/metrics``, until Ctrl+C. ``--once`` runs one sweep instead, writes its signed snapshot and
checks that it verifies, and exits. Alerts go to a signed webhook on a loopback port
(:mod:`monitor.demo_sink`), which prints what arrives. Snapshots go to ``<state dir>/snapshots``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from emulator.app import EmulatorOptions
from emulator.console import print_banner
from emulator.run import PreparedEmulator, running
from emulator.tenant.scale import parse_scale
from monitor.demo_sink import DemoSink, demo_sink
from monitor.graph.connection import connect, emulator_connection
from monitor.graph.probe import probe
from monitor.graph.query import Query
from monitor.logs import configure_logging
from monitor.plugins import discover_checks
from monitor.settings import MonitorSettings, load_settings, render_config
from monitor.settings.render import toml_value
from monitor.snapshots.manifest import load_public_key
from monitor.snapshots.verify import verify_path
from monitor.sweep import SweepResult, run_worker, sweep
from monitor.worker import Worker

DEMO_INTERVAL_SECONDS = 60


async def _read_through_graph(prepared: PreparedEmulator, console: Console) -> None:
    """Read two collections with the monitor's own Graph client, as the checks will."""
    connection = emulator_connection(prepared.info_file, "certificate")
    async with connect(connection) as graph:
        soon = datetime.now(UTC) + timedelta(days=30)
        apps = expiring = 0
        query = Query(select=("id", "displayName", "keyCredentials", "passwordCredentials"))
        async for app in graph.iterate("applications", query=query):
            apps += 1
            ends = [c["endDateTime"] for c in app["keyCredentials"] + app["passwordCredentials"]]
            if any(datetime.fromisoformat(end.replace("Z", "+00:00")) <= soon for end in ends):
                expiring += 1
        console.print("  acquired an app-only Graph token with MSAL and the certificate client")
        console.print(
            f"  read {apps} applications; {expiring} have a credential expired or ending within 30 days"
        )
        risky = Query(filter="riskLevelDuringSignIn eq 'high' and status/errorCode eq 0")
        count = sum([1 async for _ in graph.iterate("auditLogs/signIns", query=risky)])
        console.print(f"  found {count} successful high-risk sign-ins in the last 30 days of the sign-in log")
        console.print("\n[bold]Permissions[/bold]: one request per collection the monitor reads")
        results = await probe(graph)
        reached = sum(result.ok for result in results)
        console.print(f"  {reached} of {len(results)} collections answer the certificate client")


def walkthrough(prepared: PreparedEmulator, console: Console) -> None:
    console.print("\n[bold]Walkthrough[/bold]: the monitor's Graph client (MSAL certificate credential)")
    asyncio.run(_read_through_graph(prepared, console))


def demo_settings(
    prepared: PreparedEmulator, state_dir: Path, console: Console, sink: DemoSink, key: str
) -> MonitorSettings:
    """Write a complete settings file for the running emulator (the same code as
    ``config init --from-emulator``) and load it, with a one-minute schedule so runs show, the
    local alert sink (its key stays in memory, not in the file) and Prometheus metrics."""
    checks = list(discover_checks().checks.values())
    config = state_dir / "monitor.toml"
    text = render_config(checks, prepared.info_file, state_dir / "state" / "monitor.db")
    # The snapshot settings go into the file, so that `snapshot list --config …` and friends find them.
    snapshots = {
        "directory": state_dir / "snapshots",
        "signing_key_path": demo_signing_key(state_dir),
    }
    for name, value in snapshots.items():
        commented = next(line for line in text.splitlines() if line.startswith(f"# {name} = "))
        text = text.replace(commented, f"{name} = {toml_value(value)}", 1)
    config.write_text(text)
    webhook = {"kind": "webhook", "id": "demo", "url": sink.url, "hmac_key": key, "min_severity": "info"}
    overrides: dict[str, object] = {
        "health.port": 0,
        "alerts.sinks": [webhook],
        "telemetry.prometheus.enabled": True,
    }
    for check in checks:
        overrides[f"checks.{check.id}.interval_seconds"] = DEMO_INTERVAL_SECONDS
        overrides[f"checks.{check.id}.jitter_seconds"] = 0
    settings = load_settings(config, overrides=overrides, environ={}, env_file=None, checks=checks)
    console.print(
        f"\n[bold]Monitor[/bold] settings written to {config}"
        f" (try `entra-monitor config show --config {config}`)"
    )
    console.print(f"  state (findings, runs, watermarks, the alert outbox): {settings.state.path}")
    console.print(
        f"  alerts: a signed webhook at {sink.url} (this process checks each signature); in real use"
        " Teams, Slack or your own endpoint"
    )
    console.print(
        f"  snapshots for auditors: {settings.snapshots.directory}/<tenant>/ after every complete sweep,"
        f" signed with {settings.snapshots.signing_key_path}"
    )
    return settings


def demo_signing_key(state_dir: Path) -> Path:
    """An Ed25519 key that signs the demo's snapshots (made once, like `openssl genpkey -algorithm
    ed25519`), with its public half next to it for `snapshot verify --public-key`."""
    key_path = state_dir / "snapshot-signing.pem"
    if not key_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key_path.write_bytes(pem)
        key_path.chmod(0o600)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public_key_path(key_path).write_bytes(public)
    return key_path


def public_key_path(key_path: Path) -> Path:
    return key_path.with_name("snapshot-signing.pub.pem")


def print_snapshots(result: SweepResult, settings: MonitorSettings, console: Console) -> bool:
    """Where each snapshot was written and whether its chain verifies with the public key."""
    key_path = settings.snapshots.signing_key_path
    public_path = public_key_path(key_path) if key_path else None
    public_key = load_public_key(public_path) if public_path else None
    valid = True
    for written in result.snapshots:
        verification = verify_path(written.path.parent, public_key)
        valid = valid and verification.ok
        console.print(f"  snapshot {written.id} written to {written.path}", highlight=False)
        if verification.ok:
            console.print(
                f"  it verifies: {len(verification.verified)} snapshot(s) in the chain, every file hash, the"
                " manifest chain and the Ed25519 signature check out",
                highlight=False,
            )
        else:
            for problem in verification.problems:
                console.print(f"  [red]does not verify[/red]: {problem}", highlight=False)
        key_option = f" --public-key {public_path}" if public_path else ""
        console.print(
            f"  an auditor checks it with `entra-monitor snapshot verify {written.path.parent}{key_option}`"
            f" and opens {written.path / 'report.html'}",
            highlight=False,
        )
    return valid


def print_alert(console: Console) -> Callable[[dict[str, Any]], None]:
    def printed(message: dict[str, Any]) -> None:
        if message.get("digest"):
            top = "; ".join(message["topTitles"])
            console.print(f"  [bold]digest[/bold] {message['title']}: {top} …", highlight=False)
            return
        resource = message["resource"]["name"] or message["resource"]["id"]
        console.print(f"  [bold]alert[/bold] {message['title']} — {resource}", highlight=False)

    return printed


def print_received(sink: DemoSink, console: Console) -> None:
    by_severity = Counter(alert["severity"] for alert in sink.alerts)
    order = ("critical", "high", "medium", "low", "info")
    counts = ", ".join(f"{by_severity[s]} {s}" for s in order if by_severity[s])
    console.print(
        f"  {len(sink.alerts)} alerts arrived at the local webhook in {len(sink.messages)} messages"
        f" ({sink.digests} digests), each signature verified ({counts or 'none'});"
        f" {sink.refused} refused, {sink.repeats} repeats dropped"
    )


async def show_metrics(worker: Worker, port: int, console: Console) -> None:
    """Once every check has run, print what the Prometheus endpoint says about open findings."""
    # The worker has no event for "every check ran once"; a demo can poll its status.
    while not all(entry["lastRun"] for entry in worker.status()["checks"]):  # noqa: ASYNC110
        await asyncio.sleep(1)
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    open_findings: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("entra_monitor_findings_open{"):
            severity = line.split('severity="', 1)[1].split('"', 1)[0]
            open_findings[severity] += int(float(line.rsplit(" ", 1)[1]))
    summary = ", ".join(f"{count} {severity}" for severity, count in sorted(open_findings.items()))
    console.print(f"  metrics: http://127.0.0.1:{port}/metrics says open findings: {summary}")


def print_sweep_summary(result: SweepResult, console: Console) -> None:
    for outcome in result.outcomes:
        console.print(f"  {outcome.check}: {outcome.status}, {len(outcome.findings)} findings")
    console.print(f"  {len(result.open_findings)} findings open in the state store")


def run_demo(*, seed: int, scale: str, once: bool, state_dir: Path, console: Console) -> int:
    try:
        options = EmulatorOptions(seed=seed, scale=parse_scale(scale))
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        return 2
    key = secrets.token_urlsafe(32)
    with running(options, state_dir) as prepared:
        print_banner(prepared, console)
        walkthrough(prepared, console)
        on_alert = (lambda _alert: None) if once else print_alert(console)
        with demo_sink(key.encode(), on_alert) as sink:
            settings = demo_settings(prepared, state_dir, console, sink, key)
            if once:
                console.print("\n[bold]One sweep[/bold] of every check (`entra-monitor snapshot create`):")
                result = asyncio.run(sweep(settings, snapshots=True))
                print_sweep_summary(result, console)
                print_received(sink, console)
                return 0 if print_snapshots(result, settings, console) else 1
            return _run_worker(prepared, settings, console)


def _run_worker(prepared: PreparedEmulator, settings: MonitorSettings, console: Console) -> int:
    configure_logging("text", "INFO")
    console.print(
        f"\n[bold]Worker[/bold] running every check every {DEMO_INTERVAL_SECONDS} s against"
        f" {prepared.base_url}; press Ctrl+C to stop."
    )
    tasks: set[asyncio.Task[None]] = set()

    def started(worker: Worker, port: int | None) -> None:
        console.print(f"  health: http://127.0.0.1:{port}/healthz, /readyz, /status and /metrics")
        if port is not None:
            task = asyncio.get_running_loop().create_task(show_metrics(worker, port, console))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    asyncio.run(run_worker(settings, on_started=started))
    return 0
