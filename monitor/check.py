"""The public plugin API: what a check is, what it is given, and what it returns.

A check is one module in ``checks/`` (or in a third-party package) exposing one subclass of
:class:`Check`, registered under the entry-point group ``entra_monitor.checks``::

    class CredentialExpiry(Check[CredentialExpirySettings, list[Application]]):
        id = "credential-expiry"
        title = "Application credentials expiring or expired"
        description = "…"
        permissions = ("Application.Read.All",)
        schedule = Interval(hours=6)
        settings_model = CredentialExpirySettings

        async def collect(self, context: CheckContext) -> list[Application]:
            return [app async for app in context.graph.iterate("applications", query=...)]

        def evaluate(self, data, settings, now) -> list[Finding]:
            ...  # pure: no I/O, the time is an argument

The worker calls ``collect`` (Graph reads only, through ``context.graph``), then ``evaluate``
(pure, so every rule is unit-tested with hand-made data), then reconciles the findings with the
stored state. A :class:`Finding` is identified by its fingerprint (tenant + check + rule +
resource), which survives restarts and reordering.
"""

from __future__ import annotations

import abc
import enum
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

if TYPE_CHECKING:
    from monitor.baseline import Baseline
    from monitor.graph.client import GraphClient

CHECK_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Severity(enum.IntEnum):
    """How urgent a finding is; ordered, so ``severity >= Severity.HIGH`` reads as it should."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``"high"`` → HIGH; ValueError naming the accepted values otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            accepted = ", ".join(member.label for member in cls)
            raise ValueError(f"unknown severity {text!r}; accepted: {accepted}") from None


def _severity_from_text(value: Any) -> Any:
    return Severity.parse(value) if isinstance(value, str) else value


SeverityLevel = Annotated[
    Severity,
    BeforeValidator(_severity_from_text),
    PlainSerializer(lambda severity: severity.label, return_type=str),
]
"""A severity in settings, written as its name (``"high"``)."""


@dataclass(frozen=True)
class Resource:
    """The directory object a finding is about."""

    type: str
    """Graph's type name: ``application``, ``servicePrincipal``, ``user``, ``conditionalAccessPolicy`` …"""
    id: str
    display_name: str = ""


@dataclass(frozen=True)
class Finding:
    """One rule broken by one resource, with what proves it and what to do.

    ``evidence`` holds the Graph fields that prove the finding (never a secret: key ids and dates,
    not key material); ``references`` names the seed-document section or benchmark control the rule
    enforces. The worker fills in ``tenant`` and ``check``; ``evaluate`` sets the rest.
    """

    rule: str
    severity: Severity
    resource: Resource
    message: str
    remediation: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    tenant: str = ""
    check: str = ""

    @property
    def fingerprint(self) -> str:
        """Stable identity: the same tenant, check, rule and resource always give the same value."""
        return fingerprint(self.tenant, self.check, self.rule, self.resource.type, self.resource.id)

    def for_run(self, tenant: str, check: str) -> Finding:
        """This finding attributed to a tenant and check (what the runner stores)."""
        return Finding(
            self.rule,
            self.severity,
            self.resource,
            self.message,
            self.remediation,
            dict(self.evidence),
            tuple(self.references),
            tenant,
            check,
        )


def fingerprint(tenant: str, check: str, rule: str, resource_type: str, resource_id: str) -> str:
    """SHA-256 over the identifying fields, lower-cased ids, 32 hex characters."""
    parts = (tenant.lower(), check, rule, resource_type, resource_id.lower())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Interval:
    """Run every so often (the first run is at start-up)."""

    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @property
    def total_seconds(self) -> int:
        return (((self.weeks * 7 + self.days) * 24 + self.hours) * 60 + self.minutes) * 60 + self.seconds


@dataclass(frozen=True)
class Cron:
    """Run at the times a crontab line names (minute hour day month day_of_week), in UTC."""

    expression: str


Schedule = Interval | Cron


class CheckSettings(BaseModel):
    """Base of every check's settings model: thresholds and switches, validated from the config."""

    model_config = ConfigDict(frozen=True, extra="forbid")


SettingsT = TypeVar("SettingsT", bound=CheckSettings)
DataT = TypeVar("DataT")


class Watermarks(abc.ABC):
    """Per-check, per-tenant positions for incremental reads (a sign-in log's newest timestamp)."""

    @abc.abstractmethod
    async def get(self, key: str) -> str | None:
        """The stored value, or None before the first run."""

    @abc.abstractmethod
    async def set(self, key: str, value: str) -> None:
        """Remember ``value``; it is stored only if the run succeeds."""


@dataclass
class CheckContext:
    """What ``collect`` is given for one run: the tenant's Graph client, the check's settings, the
    time the run started, and its watermarks."""

    tenant: str
    graph: GraphClient
    settings: CheckSettings
    now: datetime
    watermarks: Watermarks
    run_id: str = ""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Rules this run could not evaluate, each with the reason (see :meth:`rules_unavailable`)."""

    def rules_unavailable(self, rules: Iterable[str], reason: str) -> None:
        """Say this run could not evaluate ``rules``, for ``reason`` (a licence the tenant lacks,
        say). The worker keeps their open findings as they are instead of resolving them, and
        reports the run as partly unavailable; the check's other rules are recorded as usual."""
        for rule in rules:
            self.unavailable[rule] = reason


GAUGE_NAME = re.compile(r"^entra_monitor\.[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Gauge:
    """One of a check's own instruments: the latest value per attribute set, recorded each run
    (``entra_monitor.credentials.days_to_expiry``, unit ``d``). docs/telemetry.md lists them."""

    name: str
    unit: str
    description: str
    attributes: tuple[str, ...] = ()
    """The attribute names every measurement of the gauge carries (bounded cardinality)."""


@dataclass(frozen=True)
class Measurement:
    """One value of a declared gauge from one run; ``attributes`` say what it is about (ids and
    names, never a secret). The worker adds the tenant."""

    gauge: str
    value: float
    attributes: Mapping[str, str] = field(default_factory=dict)


class Check(abc.ABC, Generic[SettingsT, DataT]):
    """Base class of every check. Subclasses set the class attributes and implement the two
    methods; the loader validates the declarations and reports a wrong one by name."""

    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]]
    schedule: ClassVar[Schedule]
    settings_model: ClassVar[type[CheckSettings]] = CheckSettings
    timeout_seconds: ClassVar[float] = 900.0
    failures_before_alert: ClassVar[int] = 3
    """Consecutive failed runs after which the check raises a "check failing" finding of its own."""
    gauges: ClassVar[tuple[Gauge, ...]] = ()
    """The instruments :meth:`measure` records values of."""

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        """Settings values taken from the platform baseline (``config/baseline.toml``); values in
        ``[checks.<id>.settings]`` override them, and the model's own defaults fill the rest."""
        return {}

    @abc.abstractmethod
    async def collect(self, context: CheckContext) -> DataT:
        """Read what ``evaluate`` needs from Graph (through ``context.graph`` only)."""

    @abc.abstractmethod
    def evaluate(self, data: DataT, settings: SettingsT, now: datetime) -> list[Finding]:
        """The findings in ``data``: pure, deterministic, no I/O; ``now`` is timezone-aware UTC."""

    def measure(self, data: DataT, settings: SettingsT, now: datetime) -> list[Measurement]:
        """The values of the check's :attr:`gauges` in ``data`` (pure, like ``evaluate``); none
        by default."""
        return []


def declaration_problems(check: type[Any]) -> list[str]:
    """What is wrong with a check class's declarations (empty when it is well formed)."""
    if not isinstance(check, type) or not issubclass(check, Check):
        return ["is not a subclass of monitor.check.Check"]
    problems: list[str] = []
    check_id = getattr(check, "id", None)
    if not isinstance(check_id, str) or not CHECK_ID.match(check_id):
        problems.append(f"id {check_id!r} is not a lower-case, dash-separated name like 'credential-expiry'")
    for name in ("title", "description"):
        if not isinstance(getattr(check, name, None), str) or not getattr(check, name).strip():
            problems.append(f"{name} is missing or empty")
    permissions = getattr(check, "permissions", None)
    if not isinstance(permissions, tuple) or not all(isinstance(p, str) for p in permissions):
        problems.append("permissions must be a tuple of Graph application permission names")
    elif any("Write" in permission for permission in permissions):
        problems.append("permissions must be read-only; the monitor never writes to the directory")
    schedule = getattr(check, "schedule", None)
    if not isinstance(schedule, Interval | Cron):
        problems.append("schedule must be an Interval or a Cron")
    elif isinstance(schedule, Interval) and schedule.total_seconds <= 0:
        problems.append("schedule interval must be longer than zero")
    gauges = getattr(check, "gauges", ())
    if not isinstance(gauges, tuple) or not all(isinstance(g, Gauge) for g in gauges):
        problems.append("gauges must be a tuple of monitor.check.Gauge")
    else:
        for gauge in gauges:
            if not GAUGE_NAME.match(gauge.name):
                problems.append(
                    f"gauge name {gauge.name!r} is not like 'entra_monitor.credentials.days_to_expiry'"
                )
        names = [gauge.name for gauge in gauges]
        if len(set(names)) != len(names):
            problems.append("gauges declare one name twice")
    model = getattr(check, "settings_model", None)
    if not isinstance(model, type) or not issubclass(model, CheckSettings):
        problems.append("settings_model must be a subclass of monitor.check.CheckSettings")
    if getattr(check, "__abstractmethods__", None):
        missing = ", ".join(sorted(check.__abstractmethods__))
        problems.append(f"does not implement {missing}")
    return problems
