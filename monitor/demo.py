"""``entra-monitor demo``: the emulated tenant, what it plants, and a first look through Graph.

Until the worker exists this is a guided tour: it starts the emulator, shows the planted
problems, then authenticates with real MSAL (certificate credential) and reads two collections
the way the checks will, so a newcomer sees the whole stack answer within a minute.
"""

from __future__ import annotations

import signal
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msal
import requests
from rich.console import Console

from emulator.app import EmulatorOptions
from emulator.console import print_banner
from emulator.run import PreparedEmulator, running
from emulator.tenant.scale import parse_scale

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _token(info: dict[str, Any]) -> str:
    """A Graph token for the certificate client, through MSAL with its own trusted session
    (``REQUESTS_CA_BUNDLE`` would otherwise override ``verify``)."""
    session = requests.Session()
    session.verify = info["caBundle"]
    session.trust_env = False
    client = info["clients"]["certificate"]
    app = msal.ConfidentialClientApplication(
        client["clientId"],
        client_credential={
            "private_key": Path(client["privateKeyPath"]).read_text(),
            "thumbprint": client["thumbprint"],
        },
        authority=info["authority"],
        instance_discovery=False,
        http_client=session,
    )
    result = app.acquire_token_for_client([GRAPH_SCOPE])
    if "access_token" not in result:
        raise RuntimeError(f"token request failed: {result.get('error_description', result)}")
    return str(result["access_token"])


def _pages(client: httpx.Client, url: str) -> Any:
    while url:
        response = client.get(url)
        response.raise_for_status()
        body = response.json()
        yield from body["value"]
        url = body.get("@odata.nextLink")


def walkthrough(prepared: PreparedEmulator, console: Console) -> None:
    info = prepared.info
    console.print("\n[bold]Walkthrough[/bold]: MSAL certificate credential -> Graph")
    token = _token(info)
    console.print("  acquired an app-only Graph token with the certificate client")
    context = ssl.create_default_context(cafile=info["caBundle"])
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(verify=context, headers=headers, timeout=30) as client:
        graph = info["graphBaseUrl"]
        soon = datetime.now(UTC) + timedelta(days=30)
        apps = expiring = 0
        for app in _pages(
            client, f"{graph}/applications?$select=id,displayName,keyCredentials,passwordCredentials&$top=999"
        ):
            apps += 1
            ends = [c["endDateTime"] for c in app["keyCredentials"] + app["passwordCredentials"]]
            if any(datetime.fromisoformat(end.replace("Z", "+00:00")) <= soon for end in ends):
                expiring += 1
        console.print(
            f"  read {apps} applications; {expiring} have a credential expired or ending within 30 days"
        )
        risky = list(
            _pages(
                client,
                f"{graph}/auditLogs/signIns?$filter="
                "riskLevelDuringSignIn eq 'high' and status/errorCode eq 0",
            )
        )
        console.print(
            f"  found {len(risky)} successful high-risk sign-ins in the last 30 days of the sign-in log"
        )
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
