"""Finding the checks: the entry-point group ``entra_monitor.checks``.

Built-in checks are registered in this project's ``pyproject.toml`` and third-party packages add
theirs the same way::

    [project.entry-points."entra_monitor.checks"]
    my-check = "my_package.my_check:MyCheck"

A plugin that fails to import, is not a :class:`~monitor.check.Check`, declares itself wrongly or
reuses an id is reported by name in :attr:`Discovery.broken`, and the others load all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from monitor.check import Check, declaration_problems

GROUP = "entra_monitor.checks"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point that could not be used, and why."""

    name: str
    target: str
    problem: str


@dataclass
class Discovery:
    """The checks that loaded, by id in id order, and the plugins that did not."""

    checks: dict[str, type[Check[Any, Any]]] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)


def discover_checks(points: Iterable[EntryPoint] | None = None) -> Discovery:
    """Load every check of the entry-point group (or of ``points``, for tests)."""
    discovery = Discovery()
    for point in sorted(points if points is not None else entry_points(group=GROUP), key=lambda p: p.name):
        check = _load(point, discovery)
        if check is None:
            continue
        if check.id in discovery.checks:
            _broken(discovery, point, f"declares id {check.id!r}, which another plugin already uses")
            continue
        discovery.checks[check.id] = check
    discovery.checks = dict(sorted(discovery.checks.items()))
    return discovery


def _load(point: EntryPoint, discovery: Discovery) -> type[Check[Any, Any]] | None:
    try:
        loaded = point.load()
    except Exception as error:
        _broken(discovery, point, f"failed to import: {type(error).__name__}: {error}")
        return None
    problems = declaration_problems(loaded)
    if problems:
        _broken(discovery, point, "; ".join(problems))
        return None
    check: type[Check[Any, Any]] = loaded
    return check


def _broken(discovery: Discovery, point: EntryPoint, problem: str) -> None:
    discovery.broken.append(BrokenPlugin(point.name, point.value, problem))


def log_broken(discovery: Discovery) -> None:
    """One ERROR line per plugin that did not load (the worker calls this once logging is set up)."""
    for broken in discovery.broken:
        logger.error("check plugin %s (%s) is not loaded: %s", broken.name, broken.target, broken.problem)
