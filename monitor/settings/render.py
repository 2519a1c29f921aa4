"""The complete, commented settings file ``config init`` writes, and settings printed as TOML.

:func:`render_config` is the single source of ``config/monitor.example.toml`` (a test keeps the two
equal). Its ``[checks]`` part is generated from the installed checks (title, default schedule,
settings model with defaults and descriptions); with an emulator's info file, the tenant is the
emulated one, signed in to with its certificate client, so the result validates as it stands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from string import Template
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from monitor.baseline import load_baseline
from monitor.check import Check, Cron, Interval, Schedule
from monitor.graph.connection import emulator_connection
from monitor.settings.models import CheckConfig, StateSettings

_HEADER = """\
# entra-compliance-monitor settings, written by `entra-monitor config init`.
#
# Sources, highest precedence first: command-line options; environment variables
# ENTRA_MONITOR_<SECTION>__<KEY> ("__" between names, e.g. ENTRA_MONITOR_HEALTH__PORT=9090);
# a .env file in the working directory (same names); this file (--config, default
# config/monitor.toml); the defaults shown commented out below.
#
# Keep secrets out of this file: give them through the environment, addressing a tenant by
# index or name, e.g. ENTRA_MONITOR_TENANTS__0__CREDENTIAL__CLIENT_SECRET or
# ENTRA_MONITOR_TENANTS__CONTOSO__CREDENTIAL__PASSWORD. Secrets are never printed or logged.
#
# Check this file with `entra-monitor config validate`; see the effective settings, secrets
# redacted, with `entra-monitor config show`.

# ── Tenants ─────────────────────────────────────────────────────────────────────────────────
# One [[tenants]] table per tenant, each with one [tenants.credential]:
#   name            a label for --tenant, logs and metrics (letters, digits, '.', '_', '-')
#   tenant_id       the directory (tenant) id, a GUID
#   cloud           global (default), usgov (GCC High, L4), usgov-dod (L5) or china (21Vianet)
#   authority_host  optional https:// override of the cloud's sign-in host (an emulator, a proxy)
#   graph_endpoint  optional https:// override of the cloud's Graph endpoint
#   ca_bundle       optional PEM file of CA certificates to trust instead of the system's;
#                   TLS verification is never switched off
# Credential kinds:
#   certificate        client_id, certificate_path (PEM with the key, or .pfx/.p12), optional
#                      private_key_path, password, send_certificate_chain (subject name + issuer)
#   managed_identity   none for the system-assigned identity, or one of client_id, resource_id,
#                      object_id for a user-assigned one (recommended when running in Azure)
#   workload_identity  client_id and token_file (Kubernetes Azure Workload Identity, CI OIDC)
#   client_secret      client_id and client_secret (for trials only; prefer a certificate)
"""

_EXAMPLE_TENANT = """\
[[tenants]]
name = "contoso"
tenant_id = "00000000-0000-0000-0000-000000000000"   # replace with your tenant id
cloud = "global"
# authority_host = "https://login.microsoftonline.com"
# graph_endpoint = "https://graph.microsoft.com"
# ca_bundle = "/etc/entra-monitor/ca.pem"
[tenants.credential]
kind = "certificate"
client_id = "00000000-0000-0000-0000-000000000000"   # replace with the app's client id
certificate_path = "/etc/entra-monitor/monitor.pem"  # replace with the certificate file
# private_key_path = "/etc/entra-monitor/monitor-key.pem"
# password = "…"   # better: ENTRA_MONITOR_TENANTS__0__CREDENTIAL__PASSWORD
# send_certificate_chain = false

# A second tenant, with the managed identity of the Azure resource the monitor runs on:
# [[tenants]]
# name = "fabrikam"
# tenant_id = "00000000-0000-0000-0000-000000000000"
# [tenants.credential]
# kind = "managed_identity"
# client_id = "00000000-0000-0000-0000-000000000000"   # a user-assigned identity; omit for system
"""

_CLIENT = """\
# Graph client tuning for the tenant above (the defaults are shown):
# [tenants.client]
# max_concurrency = 8              # requests in flight for this tenant (1 to 64)
# timeout_seconds = 60.0           # per request
# max_attempts = 8                 # tries of one request, the first included
# max_retry_after_seconds = 120.0  # cap on one Retry-After
# backoff_initial_seconds = 1.0    # exponential backoff with jitter when Graph gives no Retry-After
# backoff_max_seconds = 60.0
# pacing_margin = 0.02             # share of each known throttling budget left unused
# user_agent = "entra-compliance-monitor"
# Known throttling budgets: reports, keyCredentials, identityProtection; a budgets table
# replaces all of them, so list every one you keep.
# [tenants.client.budgets.reports]
# limit = 5
# window_seconds = 10.0
"""

_SECTIONS = Template("""\
# ── Waivers ─────────────────────────────────────────────────────────────────────────────────
# An accepted risk: the findings a waiver matches stay recorded but raise no alert until it
# expires. Name the finding by fingerprint (`entra-monitor findings` shows it), or by rule and
# resource_id, optionally narrowed to one check and tenant.
# [[waivers]]
# fingerprint = "0123456789abcdef0123456789abcdef"
# rule = "secret-in-production"
# resource_id = "00000000-0000-0000-0000-000000000000"
# check = "credential-expiry"
# tenant = "contoso"
# justification = "Vendor app; the vendor rotates the secret, tracked in CHG-1234"
# approver = "security@contoso.com"
# expires = 2026-12-31

# ── State ───────────────────────────────────────────────────────────────────────────────────
[state]
path = $state_path   # SQLite file of findings, runs and watermarks

# ── Health endpoints: /healthz, /readyz, /status ────────────────────────────────────────────
[health]
# enabled = true
# host = "127.0.0.1"   # 0.0.0.0 to be reachable from outside a container
# port = 8080          # 0 picks a free port

# ── Logging ─────────────────────────────────────────────────────────────────────────────────
[logging]
# format = "auto"   # json, text, or auto (json unless writing to a terminal)
# level = "INFO"    # DEBUG, INFO, WARNING, ERROR or CRITICAL

# ── Alerts: every finding that opens, changes or resolves, sent to Teams, Slack or a webhook ───
# Written to the state database first, then delivered; retried with back-off until the sink takes
# it; refused ones (4xx) are parked. docs/telemetry.md has every field and the payloads.
[alerts]
# batch_size = 100
# reminder_interval_hours = 24.0   # re-announce still-open findings after this many hours; 0 = off
# reminder_min_severity = "high"   # only findings this severe get reminders
# digest_threshold = 10            # more alerts than this from one run to one sink: one digest; 0 = off
# digest_titles = 5                # titles a digest lists, most severe first
# retention_days = 30.0           # sent alerts leave the outbox after this (each finding's latest stays)
[alerts.retry]
# initial_seconds = 30.0
# multiplier = 2.0
# max_seconds = 3600.0
# jitter = 0.2
# [[alerts.sinks]]
# kind = "teams"            # or "slack", or "webhook" (JSON signed with hmac_key)
# id = "ops"
# url = "https://…"         # a secret: or ENTRA_MONITOR_ALERTS__SINKS__0__URL
# min_severity = "high"
# tenants = []              # names or directory ids; empty: all
# checks = []               # check ids, "worker" for failing checks; empty: all
# [[alerts.sinks]]          # alerts as Application Insights custom events (EntraMonitorAlert);
# kind = "azure_monitor"    # needs [telemetry.azure_monitor] enabled = true
# id = "appinsights"

# ── Telemetry: metrics ───────────────────────────────────────────────────────────────────────
# Off unless an exporter is enabled; nothing calls Microsoft by itself (docs/telemetry.md).
[telemetry]
# export_interval_seconds = 60.0   # how often metrics are exported
# export_timeout_seconds = 10.0    # the longest wait for an ingestion endpoint
[telemetry.azure_monitor]
# enabled = false
# connection_string = "InstrumentationKey=…;IngestionEndpoint=https://…"   # a secret; or the
#                     APPLICATIONINSIGHTS_CONNECTION_STRING environment variable
# storage_directory = "state/telemetry"   # keep what could not be sent, send it later
[telemetry.prometheus]
# enabled = false   # GET /metrics on the health server
[telemetry.otlp]
# enabled = false
# endpoint = "http://127.0.0.1:4318"
[telemetry.console]
# enabled = false

# ── Snapshots: tamper-evident compliance records for auditors ─────────────────────────────────
# After every complete sweep of a tenant, a directory under <directory>/<tenant>/ with
# snapshot.json, findings.csv, report.html and a hash-chained manifest.json (docs/snapshots.md).
[snapshots]
# enabled = true
# directory = "snapshots"
# keep_last = 90                # keep at most this many per tenant; absent: all
# keep_days = 400               # remove those older than this many days; absent: none
# signing_key_path = "/etc/entra-monitor/snapshot-signing.pem"   # Ed25519 PEM private key
# signing_key_password = "…"    # a secret: or ENTRA_MONITOR_SNAPSHOTS__SIGNING_KEY_PASSWORD
[snapshots.blob]
# enabled = false               # also upload every snapshot to Azure Blob Storage
# account_url = "https://acct.blob.core.windows.net"
# container = "compliance-snapshots"
# credential = "managed_identity"   # or "connection_string", or "tenant" (the first tenant's)
# managed_identity_client_id = "…"  # a user-assigned identity; absent: the system-assigned one
# connection_string = "…"       # a secret: or ENTRA_MONITOR_SNAPSHOTS__BLOB__CONNECTION_STRING
# api_version = "2021-12-02"    # absent: the library's default

# ── Worker ──────────────────────────────────────────────────────────────────────────────────
[worker]
# grace_seconds = 30.0            # seconds running checks get to finish on shutdown
# misfire_grace_seconds = 300.0   # a run this many seconds late is skipped
# max_parallel_checks = 4         # check runs in flight at once, across all tenants

# ── Baseline ────────────────────────────────────────────────────────────────────────────────
# baseline = "config/baseline.toml"   # thresholds every check starts from (default: built in)
""")

_CHECKS_HEADER = """\
# ── Checks ──────────────────────────────────────────────────────────────────────────────────
# Every installed check runs on its default schedule with its default thresholds; a
# [checks.<id>] table changes that:
#   enabled           false: never run it
#   interval_seconds  run every this many seconds instead, or
#   cron              at the times of a five-field crontab line in UTC ("0 6 * * 1-5"); not both
#   jitter_seconds    up to this much random delay, so runs do not align (default 30)
#   timeout_seconds   cancel a run after this long (default: the check's own)
#   [checks.<id>.settings]  the check's thresholds; those marked "from the baseline" default
#                     to the baseline file (see [baseline] below), which every check reads
# In the environment, write the id with "_" for "-":
# ENTRA_MONITOR_CHECKS__CREDENTIAL_EXPIRY__SETTINGS__WARNING_DAYS=45.
"""


def render_config(
    checks: Sequence[type[Check[Any, Any]]] = (),
    info_file: Path | None = None,
    state_path: Path | None = None,
) -> str:
    """The commented TOML settings: placeholders to replace, or with ``info_file`` a tenant that
    is the running emulator. ``state_path`` defaults to ``state/monitor.db``. Raises
    ConfigurationError if the info file cannot be read."""
    tenant = _EXAMPLE_TENANT if info_file is None else _emulator_tenant(info_file)
    state = state_path if state_path is not None else StateSettings().path
    parts = [_HEADER, tenant, _CLIENT, _checks(checks), _SECTIONS.substitute(state_path=toml_value(state))]
    return "\n".join(part.rstrip("\n") + "\n" for part in parts)


def _emulator_tenant(info_file: Path) -> str:
    connection = emulator_connection(info_file, "certificate")
    credential = connection.credential.model_dump(exclude_defaults=True)
    lines = [
        "# The emulated tenant of `entra-monitor emulator`, read from its info file",
        f"# {info_file}; it stands in for the cloud's hosts and signs its own TLS certificates.",
        "[[tenants]]",
        'name = "emulator"',
        f"tenant_id = {toml_value(connection.tenant_id)}",
        'cloud = "global"',
        f"authority_host = {toml_value(connection.authority_host)}",
        f"graph_endpoint = {toml_value(connection.graph_endpoint)}",
        f"ca_bundle = {toml_value(connection.ca_bundle)}",
        "[tenants.credential]",
        f"kind = {toml_value(connection.credential.kind)}",
        *(f"{key} = {toml_value(value)}" for key, value in credential.items()),
    ]
    return "\n".join(lines) + "\n"


def _checks(checks: Sequence[type[Check[Any, Any]]]) -> str:
    if not checks:
        example = ["[checks.credential-expiry]", "enabled = true", "interval_seconds = 21600"]
        return _CHECKS_HEADER + "".join(f"# {line}\n" for line in example)
    blocks = [_CHECKS_HEADER.rstrip("\n")]
    for check in sorted(checks, key=lambda check: check.id):
        blocks.append(_check_block(check))
    return "\n\n".join(blocks) + "\n"


def _check_block(check: type[Check[Any, Any]]) -> str:
    defaults = CheckConfig()
    schedule = check.schedule
    lines = [
        f"# {check.title}: {describe_schedule(schedule)} by default.",
        f"[checks.{check.id}]",
        "enabled = true",
        f"# interval_seconds = {schedule.total_seconds if isinstance(schedule, Interval) else 3600}",
        f"# cron = {toml_value(schedule.expression if isinstance(schedule, Cron) else '0 6 * * *')}",
        f"# jitter_seconds = {toml_value(defaults.jitter_seconds)}",
        f"# timeout_seconds = {toml_value(float(check.timeout_seconds))}",
        f"[checks.{check.id}.settings]",
    ]
    from_baseline = check.baseline_defaults(load_baseline())
    for name, field in check.settings_model.model_fields.items():
        if field.description:
            lines.append(f"# {name}: {field.description.rstrip('.')}")
        if name in from_baseline:
            value = toml_value(_serialised(field, from_baseline[name]))
            lines.append(f"# {name} = {value}   # from the baseline")
        elif field.is_required():
            lines.append(f"# {name} = …   (required)")
        else:
            lines.append(
                f"# {name} = {toml_value(_serialised(field, field.get_default(call_default_factory=True)))}"
            )
    return "\n".join(lines)


def _serialised(field: FieldInfo, value: Any) -> Any:
    """``value`` as the settings file writes it (a severity as ``"high"``, not its number)."""
    annotation: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    adapter = TypeAdapter[Any](annotation)
    return adapter.dump_python(adapter.validate_python(value), mode="json")


def describe_schedule(schedule: Schedule) -> str:
    """``Interval(hours=6)`` → ``every 6 hours``, ``Interval(hours=1)`` → ``every hour``;
    ``Cron("0 6 * * *")`` → ``at cron '0 6 * * *' (UTC)``."""
    if isinstance(schedule, Cron):
        return f"at cron {schedule.expression!r} (UTC)"
    remaining = schedule.total_seconds
    parts: list[str] = []
    for unit, seconds in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, remaining = divmod(remaining, seconds)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return "every " + " ".join(parts).removeprefix("1 ")


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    """One TOML value (inline); None has no TOML form and raises ValueError."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return toml_value(value.model_dump(mode="json"))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    raise ValueError(f"no TOML form for {type(value).__name__}")


def toml_document(data: Mapping[str, Any]) -> str:
    """``data`` as a TOML document: tables as ``[a.b]``, lists of tables as ``[[a]]``, None left out."""
    lines: list[str] = []
    _write_table(lines, data, ())
    return "\n".join(lines).strip("\n") + "\n"


def _write_table(lines: list[str], table: Mapping[str, Any], path: tuple[str, ...]) -> None:
    for key, value in table.items():
        if value is not None and not _is_table(value) and not _is_table_list(value):
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, value in table.items():
        here = (*path, key)
        if _is_table(value):
            lines += ["", f"[{'.'.join(toml_key(part) for part in here)}]"]
            _write_table(lines, value, here)
        elif _is_table_list(value):
            for element in value:
                lines += ["", f"[[{'.'.join(toml_key(part) for part in here)}]]"]
                _write_table(lines, element, here)


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)
