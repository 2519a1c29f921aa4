"""The worker's commands: ``run``, ``once``, ``checks list`` and ``findings list``.

They share one shape: load the settings (``--config``), configure logging, build what they need
through the composition root, and turn MonitorErrors into one red line and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from monitor.check import Severity
from monitor.errors import MonitorError
from monitor.logs import configure_logging
from monitor.settings import MonitorSettings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (TOML); default config/monitor.toml when it exists."),
]
errors = Console(stderr=True)
checks_app = typer.Typer(help="The checks the monitor knows.", no_args_is_help=True)
findings_app = typer.Typer(help="The findings in the state store.", no_args_is_help=True)


@contextmanager
def reported() -> Iterator[None]:
    """MonitorErrors (settings, state, authentication) as one message and exit code 2."""
    try:
        yield
    except MonitorError as error:
        errors.print(Text("error: ", style="red") + Text(str(error)))
        raise typer.Exit(2) from None


def settings_from(config: Path | None, log_stream: Any = None) -> MonitorSettings:
    """The settings, validated against the installed checks too, with logging configured."""
    settings = validated_settings(config)
    configure_logging(settings.logging.format, settings.logging.level, log_stream)
    return settings


def validated_settings(config: Path | None) -> MonitorSettings:
    from monitor.plugins import discover_checks

    return load_settings(config, checks=list(discover_checks().checks.values()))


def run(config: ConfigOption = None) -> None:
    """Run the worker: every enabled check for every tenant on its schedule, until SIGTERM/SIGINT."""
    from monitor.sweep import run_worker

    with reported():
        settings = settings_from(config, sys.stdout)
        asyncio.run(run_worker(settings))


def once(
    config: ConfigOption = None,
    check: Annotated[list[str] | None, typer.Option("--check", help="Only this check (repeatable).")] = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", help="Only this tenant (repeatable).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 when an open finding is at least this severe.")
    ] = None,
) -> None:
    """One sweep of the checks, for pipelines and cron. Exit 0 clean, 1 findings at --fail-on or
    above, 2 invalid settings, 3 a check could not run."""
    from monitor.sweep import sweep

    if output not in ("table", "json"):
        raise typer.BadParameter("accepted: table, json", param_hint="--format")
    try:
        threshold = Severity.parse(fail_on) if fail_on else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--fail-on") from None
    out = Console()
    with reported():
        settings = settings_from(config, sys.stderr)
        if out.is_terminal and output == "table":
            with Progress(console=errors, transient=True) as bar:
                task = bar.add_task("checks", total=None)

                def advance(tenant: Any, prepared: Any, outcome: Any) -> None:
                    label = f"{prepared.id} for {tenant.name}"
                    bar.update(task, description=label if outcome is None else f"done: {label}")

                result = asyncio.run(
                    sweep(settings, only_checks=check, only_tenants=tenant, progress=advance)
                )
        else:
            result = asyncio.run(sweep(settings, only_checks=check, only_tenants=tenant))
    if output == "json":
        typer.echo(json.dumps(sweep_document(result), indent=2))
    else:
        print_sweep(result, out)
    raise typer.Exit(result.exit_code(threshold))


def sweep_document(result: Any) -> dict[str, Any]:
    """The JSON of ``once --format json``: runs, then open findings."""
    return {
        "runs": [
            {
                "tenant": result.tenant_names.get(o.tenant, o.tenant),
                "tenantId": o.tenant,
                "check": o.check,
                "runId": o.run_id,
                "started": o.started.isoformat() if o.started else None,
                "status": o.status,
                "findings": len(o.findings),
                "error": o.error,
                "unavailable": dict(o.unavailable),
                "measurements": [
                    {"gauge": m.gauge, "value": m.value, "attributes": dict(m.attributes)}
                    for m in o.measurements
                ],
            }
            for o in result.outcomes
        ],
        "openFindings": [finding_document(stored, result.tenant_names) for stored in result.open_findings],
    }


def finding_document(stored: Any, tenant_names: dict[str, str]) -> dict[str, Any]:
    finding = stored.finding
    return {
        "fingerprint": finding.fingerprint,
        "tenant": tenant_names.get(finding.tenant, finding.tenant),
        "check": finding.check,
        "rule": finding.rule,
        "severity": finding.severity.label,
        "resource": {
            "type": finding.resource.type,
            "id": finding.resource.id,
            "displayName": finding.resource.display_name,
        },
        "message": finding.message,
        "remediation": finding.remediation,
        "evidence": dict(finding.evidence),
        "references": list(finding.references),
        "status": stored.status,
        "firstSeen": stored.first_seen.isoformat(),
        "lastSeen": stored.last_seen.isoformat(),
        "waived": None if stored.waived is None else stored.waived.justification,
    }


def print_sweep(result: Any, out: Console) -> None:
    runs = Table(title="Check runs")
    for column in ("Tenant", "Check", "Status", "Findings", "Note"):
        runs.add_column(column, overflow="fold")
    for o in result.outcomes:
        style = ("yellow" if o.unavailable else "green") if o.status == "succeeded" else "red"
        runs.add_row(
            result.tenant_names.get(o.tenant, o.tenant),
            o.check,
            Text(o.status, style=style),
            str(len(o.findings)),
            Text(o.note or ""),
        )
    out.print(runs)
    print_findings(result.open_findings, result.tenant_names, out)


def print_findings(stored_findings: list[Any], tenant_names: dict[str, str], out: Console) -> None:
    table = Table(title=f"Open findings ({len(stored_findings)})")
    for column in ("Severity", "Tenant", "Check", "Rule", "Resource", "Message"):
        table.add_column(column, overflow="fold")
    ordered = sorted(stored_findings, key=lambda s: (-s.finding.severity, s.finding.check, s.finding.rule))
    for stored in ordered:
        finding = stored.finding
        severity = finding.severity.label + (" (waived)" if stored.waived else "")
        table.add_row(
            severity,
            tenant_names.get(finding.tenant, finding.tenant),
            finding.check,
            finding.rule,
            Text(finding.resource.display_name or finding.resource.id),
            Text(finding.message),
        )
    out.print(table)


@checks_app.command("list")
def list_checks(config: ConfigOption = None) -> None:
    """Every check found (built-in and plugins), whether it is enabled, its schedule and permissions;
    plugins that failed to load are listed with the reason."""
    from monitor.app import prepare_checks
    from monitor.plugins import discover_checks

    with reported():
        settings = validated_settings(config)
        discovery = discover_checks()
        prepared, schedules = prepare_checks(settings, discovery)
    enabled = {p.id for p in prepared}
    table = Table(title="Checks")
    for column in ("Id", "Title", "Enabled", "Schedule", "Permissions"):
        table.add_column(column, overflow="fold")
    from monitor.app import describe_schedule

    for check_id, check in discovery.checks.items():
        schedule = describe_schedule(schedules[check_id]) if check_id in schedules else "-"
        table.add_row(
            check_id,
            check.title,
            "yes" if check_id in enabled else "no",
            schedule,
            ", ".join(check.permissions),
        )
    Console().print(table)
    for broken in discovery.broken:
        errors.print(Text(f"not loaded: {broken.name} ({broken.target}): {broken.problem}", style="red"))


@findings_app.command("list")
def list_findings(
    config: ConfigOption = None,
    status: Annotated[str, typer.Option("--status", help="open, resolved or all.")] = "open",
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The findings in the state store."""
    from monitor.storage import AsyncStore

    if status not in ("open", "resolved", "all"):
        raise typer.BadParameter("accepted: open, resolved, all", param_hint="--status")

    async def read(settings: MonitorSettings) -> list[Any]:
        store = await AsyncStore.open(settings.state.path)
        try:
            return await store.findings(status=None if status == "all" else status)
        finally:
            await store.close()

    with reported():
        settings = validated_settings(config)
        stored = asyncio.run(read(settings))
    names = {tenant.tenant_id: tenant.name for tenant in settings.tenants}
    if output == "json":
        typer.echo(json.dumps([finding_document(s, names) for s in stored], indent=2))
    else:
        print_findings(stored, names, Console())
