"""``entra-monitor demo``: the emulated tenant, what it plants, and a first look through Graph.

Until the worker exists this is a guided tour: it starts the emulator, shows the planted
problems, then reads two collections through the monitor's Graph client (real MSAL, certificate
credential, paging, pacing) the way the checks will, and probes every collection the monitor
needs, so a newcomer sees the whole stack answer within a minute.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from emulator.app import EmulatorOptions
from emulator.console import print_banner
from emulator.run import PreparedEmulator, running
from emulator.tenant.scale import parse_scale
from monitor.graph.connection import connect, emulator_connection
from monitor.graph.probe import probe
from monitor.graph.query import Query


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
    console.print(
        "  The monitor's checks, alerts and snapshots are being built next;"
        " the ground truth above is what they must find."
    )


def run_demo(*, seed: int, scale: str, once: bool, state_dir: Path, console: Console) -> int:
    try:
        options = EmulatorOptions(seed=seed, scale=parse_scale(scale))
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        return 2
    with running(options, state_dir) as prepared:
        print_banner(prepared, console)
        walkthrough(prepared, console)
        if once:
            return 0
        stop = threading.Event()
        for name in (signal.SIGINT, signal.SIGTERM):
            signal.signal(name, lambda *_: stop.set())
        console.print(f"\nThe emulated tenant keeps serving at {prepared.base_url}; press Ctrl+C to stop.")
        stop.wait()
    return 0
