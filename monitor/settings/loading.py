"""Loading the settings from their sources, and showing them without their secrets."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.check import Check, CheckSettings
from monitor.errors import ConfigurationError
from monitor.settings.models import MonitorSettings
from monitor.settings.problems import validation_problems
from monitor.settings.sources import (
    Layer,
    Merged,
    Problem,
    dotenv_variables,
    environment_layer,
    file_layer,
    merge,
    overrides_layer,
)

DEFAULT_CONFIG_FILE = Path("config/monitor.toml")
DEFAULT_ENV_FILE = Path(".env")


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = DEFAULT_ENV_FILE,
    checks: Sequence[type[Check[Any, Any]]] | None = None,
) -> MonitorSettings:
    """The validated settings. Precedence, highest first: ``overrides`` (command-line options; keys
    may be dotted, ``"health.port"``), ``environ`` (default ``os.environ``), ``env_file``, the TOML
    ``config_file`` (default ``config/monitor.toml`` when it exists), the defaults.

    With ``checks`` (the installed checks), ``[checks.<id>]`` must name one of them and its
    ``settings`` must validate against the check's settings model.

    Raises ConfigurationError with one line per problem: the setting, its source (``file:line`` or
    the variable) and what is accepted; the value of a secret is never part of it.
    """
    if config_file is None and DEFAULT_CONFIG_FILE.is_file():
        config_file = DEFAULT_CONFIG_FILE
    if config_file is not None and not config_file.is_file():
        raise ConfigurationError(
            f"--config: {config_file} does not exist; accepted: a TOML settings file "
            f"(write one with `entra-monitor config init -o {config_file}`)"
        )
    layers: list[Layer] = [file_layer(config_file)] if config_file is not None else []
    problems: list[Problem] = []
    if env_file is not None and env_file.is_file():
        layer, found = environment_layer(dotenv_variables(env_file), f"variable {{}} in {env_file}")
        layers.append(layer)
        problems += found
    layer, found = environment_layer(os.environ if environ is None else environ, "environment variable {}")
    layers += [layer, overrides_layer(overrides or {})]
    problems += found
    where = f"{config_file} or the environment" if config_file else "the environment; no settings file"
    merged = merge(layers, fallback=f"not set in {where}")
    problems += merged.problems
    settings: MonitorSettings | None = None
    try:
        settings = MonitorSettings(**merged.values)
    except ValidationError as error:
        problems += validation_problems(error, MonitorSettings, merged.origin)
    if settings is not None:
        problems += _tenant_name_problems(settings, merged)
        if checks is not None:
            problems += _check_problems(settings, checks, merged)
    if problems:
        raise ConfigurationError("\n".join(str(problem) for problem in problems))
    assert settings is not None
    return settings


def _tenant_name_problems(settings: MonitorSettings, merged: Merged) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for position, tenant in enumerate(settings.tenants):
        first = seen.setdefault(tenant.name.lower(), position)
        if first != position:
            path = ("tenants", position, "name")
            message = f"already the name of tenants[{first}]; accepted: a name unique among the tenants"
            problems.append(Problem(path, merged.origin(path), message))
    return problems


def _check_problems(
    settings: MonitorSettings, checks: Sequence[type[Check[Any, Any]]], merged: Merged
) -> list[Problem]:
    """Unknown check ids in ``[checks.…]`` and ``[[waivers]]``, and check settings that do not
    validate against the check's settings model."""
    installed = {check.id: check for check in checks}
    accepted = f"accepted: an installed check id ({', '.join(sorted(installed)) or 'none installed'})"
    problems: list[Problem] = []
    for check_id, config in settings.checks.items():
        path: tuple[str | int, ...] = ("checks", check_id)
        check = installed.get(check_id)
        if check is None:
            problems.append(Problem(path, merged.origin(path), f"unknown check; {accepted}"))
            continue
        try:
            check.settings_model.model_validate(config.settings)
        except ValidationError as error:
            problems += validation_problems(error, check.settings_model, merged.origin, (*path, "settings"))
    for position, waiver in enumerate(settings.waivers):
        if waiver.check is not None and waiver.check not in installed:
            path = ("waivers", position, "check")
            problems.append(Problem(path, merged.origin(path), f"unknown check; {accepted}"))
    return problems


def check_settings(settings: MonitorSettings, check: type[Check[Any, Any]]) -> CheckSettings:
    """The check's settings model filled from ``[checks.<id>.settings]`` (its defaults otherwise).
    Assumes :func:`load_settings` validated them with ``checks``; raises ConfigurationError if not."""
    config = settings.checks.get(check.id)
    try:
        return check.settings_model.model_validate(config.settings if config is not None else {})
    except ValidationError as error:
        path = ("checks", check.id, "settings")
        lines = validation_problems(error, check.settings_model, lambda _: "settings", path)
        raise ConfigurationError("\n".join(str(line) for line in lines)) from None


def redacted(settings: MonitorSettings) -> dict[str, Any]:
    """The settings as JSON-compatible data, every secret replaced by ``**********`` (each
    tenant's ``name`` first)."""
    data = settings.model_dump(mode="json")
    data["tenants"] = [{"name": tenant.pop("name"), **tenant} for tenant in data["tenants"]]
    return data
