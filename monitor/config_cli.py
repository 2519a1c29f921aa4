"""``entra-monitor config``: write a complete settings file, check one, show the effective settings.

Exit codes: 0 on success, 2 when the settings (or the emulator info file) are wrong; problems go
to standard error, one line each, and never contain a secret.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.check import Check
from monitor.errors import ConfigurationError

config_app = typer.Typer(
    name="config",
    help="Write, check and show the monitor's settings (TOML file, .env and ENTRA_MONITOR_ variables).",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="The settings file (default: config/monitor.toml when it exists)."),
]


class ShowFormat(StrEnum):
    toml = "toml"
    json = "json"


def installed_checks() -> list[type[Check[Any, Any]]]:
    """The checks of the ``entra_monitor.checks`` entry-point group, by id (broken ones are
    logged and left out by :func:`monitor.plugins.discover_checks`)."""
    from monitor.plugins import discover_checks

    return list(discover_checks().checks.values())


def _fail(error: ConfigurationError, heading: str) -> typer.Exit:
    """Print the problems, one unwrapped line each, and the exit to raise."""
    lines = str(error).splitlines()
    typer.echo(f"{heading} ({len(lines)} problem{'s' if len(lines) != 1 else ''}):", err=True)
    for line in lines:
        typer.echo(f"  {line}", err=True)
    return typer.Exit(2)


@config_app.command("init")
def init(
    from_emulator: Annotated[
        Path | None,
        typer.Option(
            "--from-emulator",
            help="Fill the settings in for a running emulator from its info file (emulator.json).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of standard output.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")] = False,
) -> None:
    """Print (or write) a complete, commented settings file with every setting."""
    from monitor.settings import render_config

    try:
        text = render_config(installed_checks(), from_emulator)
    except ConfigurationError as error:
        raise _fail(error, "cannot write the settings") from None
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists() and not force:
        typer.echo(f"error: {output} exists; give --force to overwrite it", err=True)
        raise typer.Exit(2)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}; check it with `entra-monitor config validate --config {output}`", err=True)


@config_app.command("validate")
def validate(config: ConfigOption = None) -> None:
    """Check the settings from every source; exit 0 when valid, 2 with one line per problem."""
    from monitor.settings import CheckConfig, load_settings

    checks = installed_checks()
    try:
        settings = load_settings(config, checks=checks)
    except ConfigurationError as error:
        raise _fail(error, "invalid settings") from None
    disabled = [check.id for check in checks if not settings.checks.get(check.id, CheckConfig()).enabled]
    tenants = len(settings.tenants)
    plural = "s" if tenants != 1 else ""
    running = len(checks) - len(disabled)
    typer.echo(f"valid: {tenants} tenant{plural}, {running} checks configured ({len(disabled)} disabled)")


@config_app.command("show")
def show(
    config: ConfigOption = None,
    output_format: Annotated[
        ShowFormat, typer.Option("--format", help="toml (as a settings file) or json.")
    ] = ShowFormat.toml,
) -> None:
    """Print the effective settings, every source merged and defaults filled in, secrets redacted."""
    from monitor.settings import load_settings, redacted, toml_document

    try:
        settings = load_settings(config, checks=installed_checks())
    except ConfigurationError as error:
        raise _fail(error, "invalid settings") from None
    data = redacted(settings)
    if output_format is ShowFormat.json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(toml_document(data), nl=False)
