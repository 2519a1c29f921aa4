"""The ``entra-monitor`` command line."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor import cli_worker
from monitor.cli_snapshot import snapshot_app
from monitor.config_cli import config_app

if TYPE_CHECKING:
    from monitor.graph.connection import GraphConnection

app = typer.Typer(
    name="entra-monitor",
    help="Continuous compliance monitoring for Microsoft Entra ID, with an emulated tenant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

SeedOption = Annotated[
    int, typer.Option("--seed", help="Seed of the generated tenant (same seed, same tenant).")
]
ScaleOption = Annotated[
    str,
    typer.Option(
        "--scale",
        help="tiny, small, medium or large, optionally with counts (large,signIns=50000), or counts alone "
        "(users=500,applications=300,servicePrincipals=400,grants=1200,signIns=20000).",
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="The tenant's current time, ISO 8601 with a zone (default: the real time)."),
]
StateOption = Annotated[
    Path,
    typer.Option("--state-dir", help="Where the emulator writes its CA, client certificates and info file."),
]


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO-8601 date-time", param_hint="--now") from None
    if moment.tzinfo is None:
        raise typer.BadParameter("add a time zone, for example 2026-11-27T12:00:00Z", param_hint="--now")
    return moment


@app.command()
def emulator(
    seed: SeedOption = 42,
    scale: ScaleOption = "small",
    now: NowOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on; 0 picks a free one.")] = 8443,
    license: Annotated[str, typer.Option("--license", help="The tenant's licence: free, P1 or P2.")] = "P2",
    token_lifetime: Annotated[
        int, typer.Option("--token-lifetime", help="Access-token lifetime in seconds.")
    ] = 3599,
    throttling: Annotated[str, typer.Option("--throttling", help="real, tight or off.")] = "real",
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Added latency per request.")] = 0.0,
    error_rate: Annotated[
        float, typer.Option("--error-rate", help="Share of Graph requests answered 5xx.")
    ] = 0.0,
    drop_rate: Annotated[
        float, typer.Option("--drop-rate", help="Share of responses cut off mid-body.")
    ] = 0.0,
    malformed_rate: Annotated[
        float, typer.Option("--malformed-rate", help="Share of pages of bad JSON.")
    ] = 0.0,
    state_dir: StateOption = Path(".emulator"),
    info_file: Annotated[
        Path | None,
        typer.Option("--info-file", help="Where to write the JSON a client configures itself from."),
    ] = None,
) -> None:
    """Run the emulated Entra ID tenant (identity platform + Microsoft Graph over HTTPS)."""
    from emulator.app import EmulatorOptions
    from emulator.console import print_banner
    from emulator.faults import FaultProfile
    from emulator.run import prepare, serve
    from emulator.tenant.scale import parse_scale

    try:
        options = EmulatorOptions(
            seed=seed,
            now=_parse_now(now),
            scale=parse_scale(scale),
            license=license,
            token_lifetime_seconds=token_lifetime,
            throttling=throttling,
            faults=FaultProfile(
                latency_ms=latency_ms,
                error_rate=error_rate,
                drop_rate=drop_rate,
                malformed_rate=malformed_rate,
            ),
        )
        prepared, sock = prepare(options, host, port, state_dir, info_file)
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except OSError as error:
        console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {error.strerror}")
        raise typer.Exit(2) from None
    print_banner(prepared, Console())
    Console().print("Serving; press Ctrl+C to stop.")
    serve(prepared, sock)


@app.command()
def demo(
    seed: SeedOption = 42,
    scale: ScaleOption = "small",
    once: Annotated[
        bool, typer.Option("--once", help="Exit after the walkthrough instead of serving.")
    ] = False,
    state_dir: StateOption = Path(".demo"),
) -> None:
    """Start the emulated tenant, show what it plants, and walk through a first Graph read."""
    from monitor.demo import run_demo

    raise typer.Exit(run_demo(seed=seed, scale=scale, once=once, state_dir=state_dir, console=Console()))


class PermissionsFormat(StrEnum):
    table = "table"
    json = "json"


@app.command()
def permissions(
    output_format: Annotated[
        PermissionsFormat,
        typer.Option("--format", help="table for people, json for scripts (shape in docs/permissions.md)."),
    ] = PermissionsFormat.table,
) -> None:
    """List the Graph endpoints the monitor reads and the read-only permissions to grant it."""
    from monitor.graph.permissions import permissions_document

    if output_format is PermissionsFormat.json:
        typer.echo(json.dumps(permissions_document(), indent=2))
    else:
        _print_permissions_table(Console())


def _print_permissions_table(out: Console) -> None:
    """Every endpoint (GET, versions, path, permissions, licence), then the permissions to grant."""
    from monitor.graph.permissions import ENDPOINTS, least_privilege_permissions

    table = Table(title="Microsoft Graph endpoints the monitor reads")
    table.add_column("Method")
    table.add_column("Versions")
    table.add_column("Path", overflow="fold")
    table.add_column("Application permissions", overflow="fold")
    table.add_column("Licence")
    for endpoint in ENDPOINTS:
        table.add_row(
            "GET",
            ", ".join(sorted(endpoint.versions)),
            Text(f"/{endpoint.path}"),
            " and ".join(endpoint.permissions),
            f"Entra ID {endpoint.licence}" if endpoint.licence else "none",
        )
    out.print(table)
    out.print("Application permissions to grant (all read-only):")
    for permission in least_privilege_permissions():
        out.print(Text(f"  {permission}"))


@app.command()
def probe(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Settings file; its [[tenants]] are probed (default config/monitor.toml)."
        ),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Probe only the [[tenants]] entry with this name.")
    ] = None,
    emulator_info: Annotated[
        Path | None,
        typer.Option("--emulator", help="Probe a running emulated tenant through its info file instead."),
    ] = None,
    client: Annotated[
        str, typer.Option("--client", help="With --emulator: which of its clients to authenticate as.")
    ] = "certificate",
) -> None:
    """Check that each tenant's credential reaches every collection the monitor reads.

    Exits 0 when everything answers, 1 when a permission or licence is missing, 2 when the
    settings are wrong or no token can be acquired.
    """
    from monitor.errors import MonitorError
    from monitor.graph.connection import emulator_connection
    from monitor.settings import load_settings

    try:
        connections: dict[str, GraphConnection]
        if emulator_info is not None:
            connections = {"emulator": emulator_connection(emulator_info, client)}
        else:
            connections = {t.name: t for t in load_settings(config).tenants}
        if tenant is not None:
            if tenant not in connections:
                raise typer.BadParameter(f"no tenant named {tenant!r}; known: {', '.join(connections)}")
            connections = {tenant: connections[tenant]}
        complete = all(asyncio.run(_probe_tenant(name, c, Console())) for name, c in connections.items())
    except MonitorError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    raise typer.Exit(0 if complete else 1)


async def _probe_tenant(name: str, connection: GraphConnection, out: Console) -> bool:
    from monitor.graph.connection import connect
    from monitor.graph.probe import probe

    async with connect(connection) as graph:
        results = await probe(graph)
    table = Table(title=f"{name} ({connection.tenant_id})")
    for column in ("Collection", "Version", "Result", "Detail"):
        table.add_column(column, overflow="fold")
    for result in results:
        colour = "green" if result.ok else "red"
        table.add_row(
            Text(f"/{result.endpoint.path}"),
            result.version,
            Text(result.status, style=colour),
            Text(result.detail),
        )
    out.print(table)
    return all(result.ok for result in results)


app.command()(cli_worker.run)
app.command()(cli_worker.once)
app.add_typer(cli_worker.checks_app, name="checks")
app.add_typer(cli_worker.findings_app, name="findings")
app.add_typer(config_app, name="config")
app.add_typer(snapshot_app, name="snapshot")


def main() -> None:
    app()
