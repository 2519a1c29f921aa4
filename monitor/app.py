"""The composition root: the one place that builds services from settings.

:func:`build_app` discovers the checks, validates each enabled check's own settings, opens the
state store, and connects a Graph client per tenant; :class:`MonitorApp` hands them to the worker
and to the one-shot commands and closes them again. Nothing else constructs these services.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from monitor.alerts.dispatcher import AlertDispatcher
from monitor.alerts.sinks import SinkSecretsFilter, build_sinks
from monitor.baseline import load_baseline
from monitor.check import Check, Cron, Interval, Schedule
from monitor.clock import Clock, utc_now
from monitor.errors import ConfigurationError
from monitor.graph.azure_credential import AzureTokenCredential
from monitor.graph.connection import azure_credential, connect, describe_validation
from monitor.graph.instruments import GraphInstruments
from monitor.plugins import Discovery, discover_checks, log_broken
from monitor.runner import CheckRunner, PreparedCheck, Tenant
from monitor.settings import CheckConfig, MonitorSettings, WaiverSettings
from monitor.snapshots.writer import SnapshotWriter
from monitor.state import Waiver
from monitor.storage import AsyncStore
from monitor.telemetry import Telemetry, setup_telemetry


@dataclass(frozen=True)
class Scheduled:
    """When a check runs: its schedule (the check's default or the configured one) and jitter."""

    schedule: Schedule
    jitter_seconds: float


@dataclass
class MonitorApp:
    """Everything a sweep or the worker needs, built from one settings object."""

    settings: MonitorSettings
    discovery: Discovery
    checks: list[PreparedCheck]
    schedules: dict[str, Scheduled]
    tenants: list[Tenant]
    store: AsyncStore
    runner: CheckRunner
    clock: Clock
    alerts: AlertDispatcher
    instruments: GraphInstruments = field(default_factory=GraphInstruments)
    telemetry: Telemetry | None = None
    log_filter: logging.Filter | None = None
    snapshots: SnapshotWriter | None = None
    """Writes compliance snapshots (``[snapshots]``); its signing key is loaded when it is built."""
    """Masks the sinks' secrets in log records; removed again by :meth:`aclose`."""

    async def aclose(self) -> None:
        """Close the Graph clients and the store, then flush and stop telemetry (waiting at most
        ``worker.grace_seconds``: a dead ingestion endpoint never holds up the exit)."""
        try:
            for tenant in self.tenants:
                await tenant.graph.aclose()
            await self.alerts.aclose()
        finally:
            _remove_log_filter(self.log_filter)
            try:
                await self.store.close()
            finally:
                if self.telemetry is not None:
                    grace = self.settings.worker.grace_seconds
                    await asyncio.to_thread(self.telemetry.shutdown, grace)


def prepare_checks(
    settings: MonitorSettings, discovery: Discovery, only: Sequence[str] | None = None
) -> tuple[list[PreparedCheck], dict[str, Scheduled]]:
    """The enabled checks (or ``only`` these ids) with validated settings and schedules.

    Check settings start from the baseline (``settings.baseline`` or the built-in one), then
    ``[checks.<id>.settings]``. Raises ConfigurationError for a configured check that does not
    exist, an ``only`` id that does not, a bad baseline, or check settings its model refuses
    (naming ``checks.<id>.settings.<field>``).
    """
    known = discovery.checks
    unknown = sorted((set(settings.checks) | set(only or ())) - set(known))
    if unknown:
        raise ConfigurationError(
            f"checks: no check named {', '.join(map(repr, unknown))}; known: {', '.join(known) or 'none'}"
        )
    baseline = load_baseline(settings.baseline)
    prepared: list[PreparedCheck] = []
    schedules: dict[str, Scheduled] = {}
    for check_id, check_class in known.items():
        config = settings.checks.get(check_id, CheckConfig())
        if (only and check_id not in only) or (not only and not config.enabled):
            continue
        check: Check[Any, Any] = check_class()
        try:
            values = {**check_class.baseline_defaults(baseline), **config.settings}
            check_settings = check_class.settings_model.model_validate(values)
        except ValidationError as error:
            raise ConfigurationError(f"checks.{check_id}.settings: {describe_validation(error)}") from None
        timeout = config.timeout_seconds or check_class.timeout_seconds
        prepared.append(PreparedCheck(check, check_settings, timeout))
        schedules[check_id] = Scheduled(_schedule(check_class, config), config.jitter_seconds)
    return prepared, schedules


def _schedule(check: type[Check[Any, Any]], config: CheckConfig) -> Schedule:
    if config.cron:
        return Cron(config.cron)
    if config.interval_seconds:
        return Interval(seconds=config.interval_seconds)
    return check.schedule


def waivers_from(settings: MonitorSettings) -> list[Waiver]:
    """The configured waivers, with tenant names resolved to directory ids."""
    ids = {tenant.name: tenant.tenant_id for tenant in settings.tenants}
    return [_waiver(entry, ids) for entry in settings.waivers]


def _waiver(entry: WaiverSettings, tenant_ids: dict[str, str]) -> Waiver:
    tenant = tenant_ids.get(entry.tenant, entry.tenant) if entry.tenant else None
    return Waiver(
        fingerprint=entry.fingerprint,
        rule=entry.rule,
        resource_id=entry.resource_id,
        check=entry.check,
        tenant=tenant,
        justification=entry.justification,
        approver=entry.approver,
        expires=entry.expires,
    )


async def build_app(
    settings: MonitorSettings,
    *,
    only_checks: Sequence[str] | None = None,
    only_tenants: Sequence[str] | None = None,
    clock: Clock = utc_now,
    instruments: GraphInstruments | None = None,
    discovery: Discovery | None = None,
) -> MonitorApp:
    """Build the services; the caller closes them with :meth:`MonitorApp.aclose`.

    ``discovery`` defaults to the installed checks (tests pass their own). Raises
    ConfigurationError (unknown check or tenant, bad check settings or credentials) or StateError
    (the store cannot be opened); nothing is left open when it raises.
    """
    discovery = discovery or discover_checks()
    log_broken(discovery)
    checks, schedules = prepare_checks(settings, discovery, only_checks)
    snapshots = SnapshotWriter(settings.snapshots, clock=clock)
    chosen = [t for t in settings.tenants if not only_tenants or t.name in only_tenants]
    missing = sorted(set(only_tenants or ()) - {t.name for t in settings.tenants})
    if missing:
        names = ", ".join(t.name for t in settings.tenants)
        raise ConfigurationError(f"tenants: no tenant named {', '.join(map(repr, missing))}; known: {names}")
    ingestion_credential = _ingestion_credential(settings)
    try:
        telemetry = setup_telemetry(settings.telemetry, credential=ingestion_credential)
    except BaseException:
        if ingestion_credential is not None:
            ingestion_credential.close()
        raise
    telemetry.on_shutdown(ingestion_credential)
    instruments = instruments or telemetry.graph_instruments
    tenants: list[Tenant] = []
    try:
        # Alerts become Application Insights events only through an enabled Azure Monitor exporter.
        events = telemetry if settings.telemetry.azure_monitor.enabled else None
        sinks = build_sinks(settings.alerts, {t.tenant_id: t.name for t in settings.tenants}, events=events)
        store = await AsyncStore.open(settings.state.path)
    except BaseException:
        telemetry.shutdown(0)
        raise
    try:
        for tenant in chosen:
            tenants.append(Tenant(tenant.name, tenant.tenant_id, connect(tenant, instruments)))
    except BaseException:
        for built in tenants:
            await built.graph.aclose()
        await store.close()
        telemetry.shutdown(0)
        raise
    runner = CheckRunner(store, checks, waivers_from(settings), clock, telemetry.instruments)
    alerts = AlertDispatcher(settings.alerts, sinks, store, clock, telemetry.instruments)
    log_filter = _install_log_filter(SinkSecretsFilter(sinks)) if sinks else None
    return MonitorApp(
        settings,
        discovery,
        checks,
        schedules,
        tenants,
        store,
        runner,
        clock,
        alerts,
        instruments,
        telemetry,
        log_filter,
        snapshots,
    )


def _ingestion_credential(settings: MonitorSettings) -> AzureTokenCredential | None:
    """The tenant credential that authenticates Azure Monitor ingestion, when asked for."""
    azure = settings.telemetry.azure_monitor
    if not (azure.enabled and azure.entra_authentication):
        return None
    name = azure.credential_tenant
    tenant = next((t for t in settings.tenants if name is None or t.name == name), None)
    if tenant is None:
        known = ", ".join(t.name for t in settings.tenants)
        raise ConfigurationError(
            f"telemetry.azure_monitor.credential_tenant: no tenant named {name!r}; known: {known}"
        )
    return azure_credential(tenant)


def _install_log_filter(log_filter: logging.Filter) -> logging.Filter:
    """Mask the sinks' URLs and keys in every record the root handlers write (httpx logs each
    request's URL, which for a webhook carries its credential, at INFO and DEBUG)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)
    return log_filter


def _remove_log_filter(log_filter: logging.Filter | None) -> None:
    if log_filter is not None:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(log_filter)


def describe_schedule(scheduled: Scheduled) -> str:
    """``every 1 h (jitter 30 s)`` or ``cron 0 6 * * 1 UTC``, for tables and /status."""
    schedule = scheduled.schedule
    if isinstance(schedule, Cron):
        return f"cron {schedule.expression} UTC"
    seconds = schedule.total_seconds
    unit = next(
        (
            f"{seconds // size} {name}"
            for size, name in ((86400, "d"), (3600, "h"), (60, "min"))
            if seconds % size == 0
        ),
        f"{seconds} s",
    )
    return f"every {unit}" + (f" (jitter {scheduled.jitter_seconds:g} s)" if scheduled.jitter_seconds else "")
