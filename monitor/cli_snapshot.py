"""``entra-monitor snapshot``: create, verify, compare, list and download compliance snapshots.

Exit codes: ``create`` as ``once`` (0, or 3 when a check could not run; the snapshot records it
either way), 2 for invalid settings or a snapshot that could not be copied to Blob Storage;
``verify`` and ``download`` 0 valid, 1 tampered, 2 a usage problem (no such path, an unreadable
key, no Blob copy configured or reachable); ``diff`` and
``list`` 0, or 2 for a path that is not a snapshot.
"""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.cli_worker import ConfigOption, reported, settings_from, validated_settings
from monitor.settings import DEFAULT_CONFIG_FILE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from monitor.snapshots.verify import Verification

snapshot_app = typer.Typer(
    help="Compliance snapshots for auditors: create, verify, diff, list, download.", no_args_is_help=True
)
errors = Console(stderr=True)
EXIT_VALID, EXIT_TAMPERED, EXIT_USAGE = 0, 1, 2


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for scripts.")]


@snapshot_app.command("create")
def create(
    config: ConfigOption = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", help="Only this tenant (repeatable).")
    ] = None,
) -> None:
    """Run a sweep like `once`, then write each tenant's snapshot (and copy it to Blob Storage when
    [snapshots.blob] is enabled); alerts are delivered and telemetry flushed as `once` does. Exit 0,
    2 invalid settings or a failed Blob copy, 3 a check could not run (the snapshot records which)."""
    from monitor.sweep import sweep

    out = Console()
    with reported():
        settings = settings_from(config, sys.stderr)
        result = asyncio.run(sweep(settings, only_tenants=tenant, snapshots=True))
    for written in result.snapshots:
        summary = written.document["summary"]["open_by_severity"]
        counts = ", ".join(f"{count} {severity}" for severity, count in summary.items())
        out.print(Text(f"snapshot {written.id} (sequence {written.sequence}) written to {written.path}"))
        out.print(Text(f"  open findings: {counts}"))
        if written.pruned:
            out.print(Text(f"  retention removed: {', '.join(written.pruned)}"))
        if written.uploaded_to:
            out.print(Text(f"  copied to {written.uploaded_to}"))
        if written.upload_error:
            errors.print(Text("error: ", style="red") + Text(written.upload_error))
    if any(written.upload_error for written in result.snapshots):
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(result.exit_code(None))


@snapshot_app.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(help="A snapshot directory or a tenant's chain directory.")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Ed25519 public key (PEM) the manifests must be signed with; default: the public half "
            "of the configured snapshots.signing_key_path, if any.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check every file's hash, that no file was added or removed, the chain of manifests back to
    the first snapshot (or the recorded pruning point) and the signatures. Exit 0 valid, 1 tampered
    (each problem named), 2 usage."""
    from monitor.snapshots.verify import verify_path

    out = Console()
    key = _public_key(public_key, config)
    try:
        result = verify_path(path, key)
    except ValueError as error:
        errors.print(Text("error: ", style="red") + Text(str(error)))
        raise typer.Exit(EXIT_USAGE) from None
    print_verification(result, key is not None, out)
    raise typer.Exit(EXIT_VALID if result.ok else EXIT_TAMPERED)


@snapshot_app.command("download")
def download(
    destination: Annotated[Path, typer.Argument(help="A new or empty directory for the downloaded chain.")],
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant name whose chain to download.")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Ed25519 public key (PEM) to verify the signatures with."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Download a tenant's chain from the Blob Storage copy ([snapshots.blob]) into DESTINATION and
    verify it there, so the copy can be compared with the local chain. Exit 0 valid, 1 tampered,
    2 settings, access or usage problems."""
    from monitor.snapshots.upload import SnapshotUploadError, download_chain
    from monitor.snapshots.verify import verify_path

    out = Console()
    with reported():
        settings = settings_from(config, sys.stderr)
    if not settings.snapshots.blob.enabled:
        errors.print(Text("error: snapshots.blob.enabled is false; accepted: a configured Blob copy"))
        raise typer.Exit(EXIT_USAGE)
    if destination.exists() and any(destination.iterdir()):
        errors.print(Text(f"error: {destination} is not empty; accepted: a new or empty directory"))
        raise typer.Exit(EXIT_USAGE)
    key = _public_key(public_key, config)
    try:
        chain = download_chain(settings, tenant, destination)
    except SnapshotUploadError as error:
        errors.print(Text("error: ", style="red") + Text(str(error)))
        raise typer.Exit(EXIT_USAGE) from None
    out.print(Text(f"downloaded the snapshots of {tenant} to {chain}"))
    result = verify_path(chain, key)
    print_verification(result, key is not None, out)
    raise typer.Exit(EXIT_VALID if result.ok else EXIT_TAMPERED)


def print_verification(result: Verification, key_given: bool, out: Console) -> None:
    for problem in result.problems:
        out.print(Text("TAMPERED ", style="bold red") + Text(problem))
    for note in result.notes:
        out.print(Text("note: ", style="yellow") + Text(note))
    what = f"{len(result.verified)} snapshot(s)" + (f" of {result.tenant}" if result.tenant else "")
    if result.ok:
        signed = (
            f"; signed by {', '.join(sorted(result.signed_by))}"
            if key_given and result.signed_by
            else ("" if result.signed_by else "; not signed")
        )
        out.print(Text("VALID ", style="bold green") + Text(f"{what} in {result.path}{signed}"))
    else:
        out.print(Text(f"{len(result.problems)} problem(s) in {what} in {result.path}", style="red"))


def _public_key(path: Path | None, config: Path | None) -> Ed25519PublicKey | None:
    """The key of --public-key, else the public half of the configured signing key, else None."""
    from monitor.errors import MonitorError
    from monitor.snapshots.manifest import load_public_key

    if path is not None:
        try:
            return load_public_key(path)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--public-key") from None
    if config is None and not DEFAULT_CONFIG_FILE.exists():
        return None
    with reported():
        settings = validated_settings(config)
    signing = settings.snapshots.signing_key_path
    if signing is None:
        return None
    from monitor.snapshots.writer import SnapshotWriter

    try:
        return SnapshotWriter(settings.snapshots).public_key()
    except MonitorError as error:
        errors.print(Text("error: ", style="red") + Text(str(error)))
        raise typer.Exit(EXIT_USAGE) from None


@snapshot_app.command("diff")
def diff(
    before: Annotated[Path, typer.Argument(help="The earlier snapshot (directory or snapshot.json).")],
    after: Annotated[Path, typer.Argument(help="The later snapshot (directory or snapshot.json).")],
    output: FormatOption = OutputFormat.table,
) -> None:
    """The findings new, resolved and changed (severity, message, evidence, waiver) from BEFORE to AFTER."""
    from monitor.snapshots.diff import diff_documents, load_document

    try:
        result = diff_documents(load_document(before), load_document(after))
    except ValueError as error:
        errors.print(Text("error: ", style="red") + Text(str(error)))
        raise typer.Exit(EXIT_USAGE) from None
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(
        Text(
            f"From {result.before} to {result.after}: {len(result.new)} new, "
            f"{len(result.resolved)} resolved, {len(result.changed)} changed"
        )
    )
    for title, entries in (("New", result.new), ("Resolved", result.resolved)):
        if entries:
            out.print(_findings_table(title, entries))
    if result.changed:
        table = Table(title="Changed")
        for column in ("Severity", "Check", "Rule", "Resource", "What changed"):
            table.add_column(column, overflow="fold")
        for entry in result.changed:
            changes = "; ".join(
                f"{name}: {_short(change['from'])} → {_short(change['to'])}"
                for name, change in entry["fields"].items()
            )
            table.add_row(*_cells(entry), Text(changes))
        out.print(table)


def _findings_table(title: str, entries: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("Severity", "Check", "Rule", "Resource", "Message"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(*_cells(entry), Text(entry["message"]))
    return table


def _cells(entry: dict[str, Any]) -> list[Text]:
    resource = entry["resource"]
    return [
        Text(entry["severity"]),
        Text(entry["check"]),
        Text(entry["rule"]),
        Text(resource.get("display_name") or resource.get("id") or ""),
    ]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


@snapshot_app.command("list")
def list_snapshots(
    config: ConfigOption = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's chain.")] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--directory", help="The snapshots directory (default: the configured snapshots.directory)."
        ),
    ] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Every snapshot: id, time, open findings by severity, and whether it verifies."""
    from monitor.snapshots.chain import read_chain
    from monitor.snapshots.verify import verify_chain

    key = None
    if directory is None:
        with reported():
            settings = validated_settings(config)
        directory = settings.snapshots.directory
        key = _public_key(None, config) if settings.snapshots.signing_key_path else None
    if not directory.is_dir():
        errors.print(Text("error: ", style="red") + Text(f"{directory} is not a directory of snapshots"))
        raise typer.Exit(EXIT_USAGE)
    chains = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if tenant is not None:
        chains = [p for p in chains if p.name == tenant]
    rows = []
    for chain in chains:
        result = verify_chain(chain, key)
        for snapshot in read_chain(chain):
            rows.append(_list_row(chain.name, snapshot, result))
    if output is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Snapshots in {directory}")
    for column in ("Tenant", "Id", "Seq", "Created", "Critical", "High", "Medium", "Low", "Info", "Verified"):
        table.add_column(column, overflow="fold")
    for row in rows:
        counts = row["open_by_severity"] or {}
        verified = Text("yes", style="green") if row["verified"] else Text("NO", style="bold red")
        table.add_row(
            Text(row["tenant"]),
            Text(row["id"]),
            str(row["sequence"] or "?"),
            row["created_at"] or "?",
            *(str(counts.get(s, "?")) for s in ("critical", "high", "medium", "low", "info")),
            verified,
        )
    Console().print(table)


def _list_row(tenant: str, snapshot: Any, result: Verification) -> dict[str, Any]:
    try:
        document = snapshot.document()
        by_severity = document["summary"]["open_by_severity"]
        created = document["created_at"]
    except (OSError, ValueError, KeyError, TypeError):
        by_severity, created = None, None
    return {
        "tenant": tenant,
        "id": snapshot.id,
        "sequence": snapshot.sequence,
        "created_at": created,
        "open_by_severity": by_severity,
        "verified": snapshot.id in result.verified and snapshot.id not in result.bad,
    }
