"""A throw-away check plugin distribution, written into a directory the way pip would install it.

:func:`write_plugin_distribution` writes the package ``fakechecks`` and its
``fakechecks-0.1.dist-info`` (``METADATA`` and ``entry_points.txt`` with the
``entra_monitor.checks`` group), so a directory on ``sys.path`` (in-process:
``monkeypatch.syspath_prepend``) or ``PYTHONPATH`` (a subprocess) registers its checks exactly as
a third-party package does. Next to the good checks it ships one broken plugin of each kind
:func:`monitor.plugins.discover_checks` must report: :data:`BROKEN` maps each entry-point name to
the start of the problem it is expected to be reported with.

The good checks never touch Graph:

- ``static-findings`` finds :data:`STATIC_FINDINGS` fixed findings, at once;
- ``waiting-release`` touches ``started_file`` when its collect starts, then waits for
  ``release_file`` to appear (polling every 20 ms; without one it waits an hour);
- ``waiting-forever`` is the same check under another id, for a second run that never finishes.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

PACKAGE = "fakechecks"
DISTRIBUTION = "fakechecks-0.1.dist-info"

BUILTIN_CHECKS = tuple(
    sorted(
        point.name
        for point in entry_points(group="entra_monitor.checks")
        if point.value.startswith("checks.")
    )
)
"""This project's own checks (read before any throw-away plugin is on the path)."""
GOOD = ("static-findings", "waiting-forever", "waiting-release")
"""The ids of the checks that load (each is also its entry-point name)."""

STATIC_FINDINGS = 2

BROKEN = {
    "bad-id": "id 'Bad_Id' is not a lower-case, dash-separated name like 'credential-expiry'",
    "explodes": "failed to import: RuntimeError: the fakechecks.explodes plugin fails at import",
    "gauges": "gauge name 'days_left' is not like 'entra_monitor.credentials.days_to_expiry'; "
    "gauges declare one name twice",
    "incomplete": "title is missing or empty; description is missing or empty; does not implement evaluate",
    "missing-attribute": "failed to import: AttributeError:",
    "not-a-check": "is not a subclass of monitor.check.Check",
    "writer": "permissions must be read-only; the monitor never writes to the directory",
    "zz-duplicate": "declares id 'graph-access', which another plugin already uses",
}
"""Entry-point name → the start of the problem reported for it."""

ENTRY_POINTS = {
    "static-findings": "fakechecks.static:StaticFindings",
    "waiting-release": "fakechecks.waiting:WaitingRelease",
    "waiting-forever": "fakechecks.waiting:WaitingForever",
    "bad-id": "fakechecks.broken:BadId",
    "explodes": "fakechecks.explodes:NeverLoaded",
    "gauges": "fakechecks.broken:BadGauges",
    "incomplete": "fakechecks.broken:Incomplete",
    "missing-attribute": "fakechecks.static:NoSuchCheck",
    "not-a-check": "fakechecks.broken:NotACheck",
    "writer": "fakechecks.broken:Writer",
    # Sorted after the built-in graph-access, so this one is the duplicate.
    "zz-duplicate": "fakechecks.broken:Duplicate",
}

_STATIC = '''\
"""Fixed findings, found at once."""

from __future__ import annotations

from datetime import datetime

from monitor.check import Check, CheckContext, CheckSettings, Finding, Interval, Resource, Severity


class StaticFindings(Check[CheckSettings, None]):
    id = "static-findings"
    title = "Two fixed findings"
    description = "Finds the same two findings on every run."
    permissions = ()
    schedule = Interval(hours=1)

    async def collect(self, context: CheckContext) -> None:
        return None

    def evaluate(self, data: None, settings: CheckSettings, now: datetime) -> list[Finding]:
        return [
            Finding(
                "fixed-rule",
                severity,
                Resource("application", f"app-{severity.label}", f"App {severity.label}"),
                f"App {severity.label} breaks the fixed rule.",
                "Nothing to do: this is a test plugin.",
            )
            for severity in (Severity.HIGH, Severity.LOW)
        ]
'''

_WAITING = '''\
"""A check whose collect announces itself, then waits for a file."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from monitor.check import Check, CheckContext, CheckSettings, Finding, Interval


class WaitingSettings(CheckSettings):
    started_file: Path | None = None
    release_file: Path | None = None


class WaitingRelease(Check[WaitingSettings, None]):
    id = "waiting-release"
    title = "Waits for a release file"
    description = "Touches started_file, then waits until release_file exists."
    permissions = ()
    schedule = Interval(hours=1)
    settings_model = WaitingSettings

    async def collect(self, context: CheckContext) -> None:
        settings = context.settings
        assert isinstance(settings, WaitingSettings)
        if settings.started_file is not None:
            settings.started_file.touch()
        if settings.release_file is None:
            await asyncio.sleep(3600)
        while settings.release_file is not None and not settings.release_file.exists():
            await asyncio.sleep(0.02)

    def evaluate(self, data: None, settings: WaitingSettings, now: datetime) -> list[Finding]:
        return []


class WaitingForever(WaitingRelease):
    id = "waiting-forever"
    title = "Waits for a release file (a second one)"
'''

_BROKEN = '''\
"""Plugins declared wrongly, each in its own way."""

from __future__ import annotations

from datetime import datetime

from monitor.check import Check, CheckContext, CheckSettings, Finding, Gauge, Interval


class NotACheck:
    id = "not-a-check"


class Base(Check[CheckSettings, None]):
    id = "base"
    title = "A well-formed base"
    description = "Subclassed below with one thing wrong each."
    permissions = ()
    schedule = Interval(hours=1)

    async def collect(self, context: CheckContext) -> None:
        return None

    def evaluate(self, data: None, settings: CheckSettings, now: datetime) -> list[Finding]:
        return []


class BadId(Base):
    id = "Bad_Id"


class Writer(Base):
    id = "writer"
    permissions = ("Directory.ReadWrite.All",)


class Duplicate(Base):
    id = "graph-access"


class BadGauges(Base):
    id = "gauges"
    gauges = (
        Gauge("days_left", "d", "Not in the entra_monitor namespace."),
        Gauge("entra_monitor.fake.count", "1", "Declared twice."),
        Gauge("entra_monitor.fake.count", "1", "Declared twice."),
    )


class Incomplete(Check[CheckSettings, None]):
    id = "incomplete"
    permissions = ()
    schedule = Interval(hours=1)

    async def collect(self, context: CheckContext) -> None:
        return None
'''

_EXPLODES = '''\
"""A plugin that fails while it is imported."""

raise RuntimeError("the fakechecks.explodes plugin fails at import")
'''


def write_plugin_distribution(directory: Path) -> Path:
    """Write the ``fakechecks`` distribution into ``directory`` (created if needed) and return
    it: the entry to put on ``sys.path`` or ``PYTHONPATH``."""
    package = directory / PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    sources = {
        "__init__.py": '"""A throw-away check plugin written by the tests."""\n',
        "static.py": _STATIC,
        "waiting.py": _WAITING,
        "broken.py": _BROKEN,
        "explodes.py": _EXPLODES,
    }
    for name, source in sources.items():
        (package / name).write_text(source)
    metadata = directory / DISTRIBUTION
    metadata.mkdir(exist_ok=True)
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: fakechecks\nVersion: 0.1\n")
    points = "".join(f"{name} = {target}\n" for name, target in ENTRY_POINTS.items())
    (metadata / "entry_points.txt").write_text(f"[entra_monitor.checks]\n{points}")
    return directory
