"""What the emulator prints at start-up: how to reach it, and what it planted."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from emulator.run import PreparedEmulator


def truth_table(truth: dict[str, Any]) -> Table:
    table = Table(title="Planted problems (the ground truth)", title_justify="left")
    table.add_column("check")
    table.add_column("rule")
    table.add_column("severity")
    table.add_column("count", justify="right")
    counts = Counter((f["check"], f["rule"], f["severity"]) for f in truth["findings"])
    for (check, rule, severity), count in sorted(counts.items()):
        table.add_row(check, rule, severity, str(count))
    for check, reason in truth["unavailable"].items():
        table.add_row(check, "(unavailable)", reason, "-")
    return table


def print_banner(prepared: PreparedEmulator, console: Console) -> None:
    info = prepared.info
    clients = info["clients"]
    counts = prepared.emulator.truth.counts()
    console.print(f"[bold]Emulated Entra ID tenant[/bold] {info['tenantId']} ({info['tenantDomain']})")
    console.print(f"  seed {info['seed']}, now {info['now']}, licence {info['license']}")
    console.print(
        "  "
        + ", ".join(
            f"{counts[name]:,} {name}"
            for name in ("users", "applications", "servicePrincipals", "oauth2PermissionGrants", "signIns")
        )
    )
    console.print(f"  authority      {info['authority']}")
    console.print(f"  Graph          {info['graphBaseUrl']}")
    console.print(f"  CA bundle      {info['caBundle']}")
    console.print(f"  secret client  {clients['secret']['clientId']} (secret in the info file)")
    console.print(
        f"  cert client    {clients['certificate']['clientId']} ({clients['certificate']['certificatePath']})"
    )
    console.print(f"  managed id.    IDENTITY_ENDPOINT={info['managedIdentity']['endpoint']}")
    console.print(f"  ground truth   {info['truth']}")
    console.print(f"  info file      {info['infoFile']}")
    console.print(truth_table(prepared.emulator.truth.document()))
