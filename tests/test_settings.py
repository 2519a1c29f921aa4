"""Settings: sources and their precedence, one exact message per problem, secrets never shown,
and the rendered configuration file."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field

from monitor.check import Check, CheckContext, CheckSettings, Cron, Finding, Interval
from monitor.errors import ConfigurationError
from monitor.graph.connection import connect, emulator_connection
from monitor.graph.credentials import (
    CertificateCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from monitor.graph.probe import probe
from monitor.graph.settings import GraphClientSettings
from monitor.settings import (
    CheckConfig,
    HealthSettings,
    LogSettings,
    MonitorSettings,
    StateSettings,
    TenantSettings,
    WaiverSettings,
    WorkerSettings,
    load_settings,
    redacted,
    render_config,
    toml_document,
)
from monitor.settings.sources import key_lines
from monitor.snapshots.blob_settings import BlobSettings
from monitor.snapshots.settings import SnapshotSettings
from tests.support.emulator import RunningEmulator

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "11111111-2222-3333-4444-555555555555"
SECRET = "Sup3r~S3cret.value"
FIELDS = "tenants, checks, waivers, state, health, logging, worker, alerts, telemetry, snapshots, baseline"
KINDS = "client_secret, certificate, managed_identity or workload_identity"
CERTIFICATE_ACCEPTED = (
    "an existing PEM file (certificate, and key unless private_key_path names it) or PKCS#12 file (.pfx/.p12)"
)


class DummySettings(CheckSettings):
    warning_days: int = Field(default=30, ge=1, description="days before expiry to warn")
    apps: list[str] = Field(default_factory=lambda: ["SCIM Provisioning App"], description="apps to watch")


class Dummy(Check[DummySettings, None]):
    id: ClassVar[str] = "dummy-expiry"
    title: ClassVar[str] = "A dummy check"
    description: ClassVar[str] = "Used by the settings tests."
    permissions: ClassVar[tuple[str, ...]] = ("Application.Read.All",)
    schedule: ClassVar[Interval | Cron] = Interval(hours=6)
    settings_model: ClassVar[type[CheckSettings]] = DummySettings

    async def collect(self, context: CheckContext) -> None:
        return None

    def evaluate(self, data: None, settings: DummySettings, now: datetime) -> list[Finding]:
        return []


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config/monitor.toml or .env of the repository, and no ENTRA_MONITOR_ variable leaks in."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def base(certificate: Path | str) -> str:
    """One tenant, seven lines: [[tenants]] 1, name 2, tenant_id 3, [tenants.credential] 4,
    kind 5, client_id 6, certificate_path 7."""
    return (
        f'[[tenants]]\nname = "contoso"\ntenant_id = "{GUID}"\n[tenants.credential]\n'
        f'kind = "certificate"\nclient_id = "{CLIENT}"\ncertificate_path = "{certificate}"\n'
    )


def write(tmp_path: Path, text: str, name: str = "monitor.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(path: Path | None, environ: dict[str, str] | None = None, **options: Any) -> MonitorSettings:
    options.setdefault("env_file", None)
    return load_settings(path, environ=environ or {}, **options)


def problems(path: Path | None, environ: dict[str, str] | None = None, **options: Any) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load(path, environ, **options)
    return str(raised.value).splitlines()


def test_a_minimal_file_gives_the_defaults(tmp_path: Path, certificate: Path) -> None:
    settings = load(write(tmp_path, base(certificate)))
    tenant = settings.tenants[0]
    assert (tenant.name, tenant.tenant_id, tenant.cloud) == ("contoso", GUID, "global")
    assert isinstance(tenant.credential, CertificateCredential)
    assert settings.state == StateSettings(path=Path("state/monitor.db"))
    assert settings.health == HealthSettings(host="127.0.0.1", port=8080, enabled=True)
    assert settings.logging == LogSettings(format="auto", level="INFO")
    assert settings.worker == WorkerSettings(
        grace_seconds=30, misfire_grace_seconds=300, max_parallel_checks=4
    )
    assert (settings.checks, settings.waivers, settings.baseline) == ({}, [], None)


def test_overrides_beat_the_environment_which_beats_dotenv_which_beats_the_file(
    tmp_path: Path, certificate: Path
) -> None:
    file = write(
        tmp_path,
        base(certificate)
        + '[health]\nport = 1000\nhost = "file"\n[logging]\nlevel = "debug"\nformat = "json"\n'
        + "[worker]\ngrace_seconds = 1\n",
    )
    dotenv = write(
        tmp_path,
        "ENTRA_MONITOR_HEALTH__PORT=2000\nENTRA_MONITOR_HEALTH__HOST=dotenv\nENTRA_MONITOR_LOGGING__LEVEL=warning\n",
        ".env",
    )
    environ = {"ENTRA_MONITOR_HEALTH__PORT": "3000", "entra_monitor_health__host": "env"}
    settings = load(file, environ, env_file=dotenv, overrides={"health.port": 4000})
    assert settings.health.port == 4000  # overrides
    assert settings.health.host == "env"  # environment (names in any case)
    assert settings.logging.level == "WARNING"  # .env
    assert settings.logging.format == "json"  # file
    assert settings.worker.grace_seconds == 1  # file
    assert settings.worker.misfire_grace_seconds == 300  # default


def test_nested_overrides_merge_into_the_file(tmp_path: Path, certificate: Path) -> None:
    file = write(tmp_path, base(certificate) + "[health]\nport = 1000\n")
    settings = load(file, overrides={"health": {"host": "::1"}, "state": {"path": "x.db"}})
    assert (settings.health.host, settings.health.port) == ("::1", 1000)
    assert settings.state.path == Path("x.db")


def test_config_monitor_toml_is_read_when_no_file_is_given(tmp_path: Path, certificate: Path) -> None:
    (tmp_path / "config").mkdir()
    write(tmp_path / "config", base(certificate))
    assert load(None).tenants[0].name == "contoso"


def test_without_a_file_the_tenants_are_missing(tmp_path: Path) -> None:
    assert problems(None) == [
        "tenants (not set in the environment; no settings file): required but not set; "
        "accepted: one [[tenants]] table per tenant (at least one)"
    ]


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"--config: .*nope.toml does not exist; accepted"):
        load(tmp_path / "nope.toml")


def test_a_secret_from_the_environment_joins_a_tenant_of_the_file_by_index_or_name(
    tmp_path: Path, certificate: Path
) -> None:
    file = write(
        tmp_path,
        base(certificate)
        + f'[[tenants]]\nname = "lab-east"\ntenant_id = "{GUID}"\n[tenants.credential]\n'
        + f'kind = "client_secret"\nclient_id = "{CLIENT}"\n',
    )
    for variable in (
        "ENTRA_MONITOR_TENANTS__1__CREDENTIAL__CLIENT_SECRET",
        "ENTRA_MONITOR_TENANTS__LAB_EAST__CREDENTIAL__CLIENT_SECRET",
    ):
        settings = load(file, {variable: SECRET})
        credential = settings.tenants[1].credential
        assert isinstance(credential, ClientSecretCredential)
        assert credential.client_secret.get_secret_value() == SECRET
        assert [tenant.name for tenant in settings.tenants] == ["contoso", "lab-east"]


def test_a_sinks_url_from_the_environment_joins_its_sink_by_index_or_id(
    tmp_path: Path, certificate: Path
) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    file = write(tmp_path, base(certificate) + '[[alerts.sinks]]\nkind = "slack"\nid = "ops-chat"\n')
    for variable in ("ENTRA_MONITOR_ALERTS__SINKS__0__URL", "ENTRA_MONITOR_ALERTS__SINKS__OPS_CHAT__URL"):
        (sink,) = load(file, {variable: url}).alerts.sinks
        assert (sink.id, sink.url.get_secret_value()) == ("ops-chat", url)
    found = problems(file, {"ENTRA_MONITOR_ALERTS__SINKS__SOC__URL": url})
    assert found[0] == (
        "alerts.sinks.soc (environment variable ENTRA_MONITOR_ALERTS__SINKS__SOC__URL): no such element; "
        "accepted: an index from 0 to 1 (1 adds one), or the id of a sink in the file (ops-chat)"
    )
    assert all(url not in line for line in found)


def test_tenants_can_come_from_the_environment_alone(tmp_path: Path) -> None:
    numbered = {
        "ENTRA_MONITOR_TENANTS__0__NAME": "contoso",
        "ENTRA_MONITOR_TENANTS__0__TENANT_ID": GUID,
        "ENTRA_MONITOR_TENANTS__0__CREDENTIAL__KIND": "managed_identity",
    }
    as_json = {
        "ENTRA_MONITOR_TENANTS": f'[{{"name": "contoso", "tenant_id": "{GUID}", '
        '"credential": {"kind": "managed_identity"}}]'
    }
    for environ in (numbered, as_json):
        tenant = load(None, environ).tenants[0]
        assert tenant.name == "contoso"
        assert isinstance(tenant.credential, ManagedIdentityCredential)


def test_check_ids_in_variables_use_underscores_and_lists_are_json(tmp_path: Path, certificate: Path) -> None:
    environ = {
        "ENTRA_MONITOR_CHECKS__DUMMY_EXPIRY__ENABLED": "false",
        "ENTRA_MONITOR_CHECKS__DUMMY_EXPIRY__SETTINGS__APPS": '["a", "b"]',
        "ENTRA_MONITOR_CHECKS__DUMMY_EXPIRY__SETTINGS__WARNING_DAYS": "45",
    }
    settings = load(write(tmp_path, base(certificate)), environ, checks=[Dummy])
    assert settings.checks["dummy-expiry"].enabled is False
    assert settings.checks["dummy-expiry"].settings == {"apps": ["a", "b"], "warning_days": "45"}


def test_a_complete_file_of_every_section_loads(tmp_path: Path, certificate: Path) -> None:
    text = (
        f'baseline = "{certificate}"\n'
        + base(certificate)
        + (
            '[[tenants]]\nname = "fabrikam"\ntenant_id = "' + GUID + '"\ncloud = "usgov"\n'
            '[tenants.credential]\nkind = "managed_identity"\n'
            "[checks.dummy-expiry]\nenabled = false\ncron = '0 6 * * 1-5'\njitter_seconds = 0\n"
            "[checks.dummy-expiry.settings]\nwarning_days = 14\n"
            '[[waivers]]\nfingerprint = "0123456789ABCDEF0123456789ABCDEF"\njustification = "vendor"\n'
            'approver = "security@contoso.com"\nexpires = 2026-12-31\n'
            '[[waivers]]\nrule = "secret-in-production"\nresource_id = "abc"\ncheck = "dummy-expiry"\n'
            'justification = "vendor"\napprover = "me"\nexpires = 2026-12-31\n'
            '[state]\npath = "var/state.db"\n[health]\nport = 0\n[worker]\nmax_parallel_checks = 8\n'
        )
    )
    settings = load(write(tmp_path, text), checks=[Dummy])
    assert [tenant.cloud for tenant in settings.tenants] == ["global", "usgov"]
    assert settings.checks["dummy-expiry"] == CheckConfig(
        enabled=False, cron="0 6 * * 1-5", jitter_seconds=0, settings={"warning_days": 14}
    )
    assert settings.waivers[0].fingerprint == "0123456789abcdef0123456789abcdef"
    assert settings.waivers[1].rule == "secret-in-production"
    assert settings.baseline == certificate
    assert (settings.state.path, settings.health.port, settings.worker.max_parallel_checks) == (
        Path("var/state.db"),
        0,
        8,
    )


# (what to append to or replace in the base file, the variables, the expected line, with
# {file} for the file's path)
INVALID: list[tuple[str, str, dict[str, str], str]] = [
    (
        "unknown section",
        "+[helth]\nport = 1\n",
        {},
        f"helth ({{file}}:8): unknown setting; accepted: {FIELDS}",
    ),
    (
        "unknown key in a tenant",
        "s/tenant_id = /tenantid = /",
        {},
        "tenants[0].tenantid ({file}:3): unknown setting; accepted: tenant_id, cloud, authority_host, "
        "graph_endpoint, ca_bundle, credential, client, name",
    ),
    (
        "wrong type",
        '+[health]\nport = "eighty"\n',
        {},
        "health.port ({file}:9): input should be a valid integer, unable to parse string as an integer; "
        "accepted: a TCP port, 0 to 65535 (0 picks a free one)",
    ),
    (
        "bad GUID",
        f"s/{GUID}/not-a-guid/",
        {},
        "tenants[0].tenant_id ({file}:3): not in the accepted form; accepted: The directory (tenant) id, "
        "a GUID",
    ),
    (
        "unknown cloud",
        's/name = "contoso"/name = "contoso"\ncloud = "mars"/',
        {},
        "tenants[0].cloud ({file}:3): unknown cloud; accepted: global, usgov, usgov-dod, china",
    ),
    (
        "unknown credential kind",
        's/kind = "certificate"/kind = "password"/',
        {},
        f"tenants[0].credential.kind ({{file}}:5): unknown credential kind 'password'; accepted: {KINDS}",
    ),
    (
        "credential without a kind",
        's/kind = "certificate"\n//',
        {},
        f"tenants[0].credential.kind ({{file}}:4): the credential has no kind; accepted: {KINDS}",
    ),
    (
        "missing credential field",
        's/kind = "certificate"/kind = "client_secret"/;s/certificate_path = .*\n//',
        {},
        "tenants[0].credential.client_secret ({file}:4): required but not set; accepted: the secret's "
        "value, a non-empty string (set it through an environment variable rather than the file)",
    ),
    (
        "nonexistent certificate file",
        's/certificate_path = .*/certificate_path = "\\/nowhere\\/monitor.pem"/',
        {},
        f"tenants[0].credential.certificate_path ({{file}}:7): /nowhere/monitor.pem is not an existing "
        f"file; accepted: {CERTIFICATE_ACCEPTED}",
    ),
    (
        "plain http override",
        's/name = "contoso"/name = "contoso"\nauthority_host = "http:\\/\\/login.example"/',
        {},
        "tenants[0].authority_host ({file}:3): 'http://login.example' is not an https:// URL; only TLS "
        "endpoints are accepted (use ca_bundle to trust a private CA); accepted: Overrides the cloud's "
        "sign-in host (https only), e.g. the emulator",
    ),
    (
        "bad cron",
        "+[checks.dummy-expiry]\ncron = 'every day'\n",
        {},
        "checks.dummy-expiry.cron ({file}:9): not a crontab line (expected five fields (minute hour day "
        "month day_of_week), got 2); accepted: five fields 'minute hour day month day_of_week' in UTC, "
        "e.g. '0 6 * * 1-5'",
    ),
    (
        "cron and interval both set",
        "+[checks.dummy-expiry]\ncron = '0 6 * * *'\ninterval_seconds = 60\n",
        {},
        "checks.dummy-expiry ({file}:8): interval_seconds and cron are both set; accepted: one of them, "
        "or neither",
    ),
    (
        "bad check id",
        "+[checks.Dummy_Expiry]\nenabled = false\n",
        {},
        "checks.Dummy_Expiry ({file}:8): not in the accepted form; accepted: a check id: lower-case "
        "words joined by '-', like credential-expiry",
    ),
    (
        "waiver without fingerprint or rule and resource",
        '+[[waivers]]\nrule = "r"\njustification = "j"\napprover = "a"\nexpires = 2026-12-31\n',
        {},
        "waivers[0] ({file}:8): the waiver names no finding; accepted: fingerprint, or rule and "
        "resource_id (optionally narrowed by check and tenant)",
    ),
    (
        "waiver with a short fingerprint",
        '+[[waivers]]\nfingerprint = "abc"\njustification = "j"\napprover = "a"\nexpires = 2026-12-31\n',
        {},
        "waivers[0].fingerprint ({file}:9): not in the accepted form; accepted: a finding's "
        "fingerprint, 32 hex characters",
    ),
    (
        "negative number",
        "+[worker]\nmax_parallel_checks = -1\n",
        {},
        "worker.max_parallel_checks ({file}:9): input should be greater than or equal to 1; accepted: "
        "check runs in flight at once, across all tenants (1 to 64)",
    ),
    (
        "negative seconds",
        "+[checks.dummy-expiry]\njitter_seconds = -5\n",
        {},
        "checks.dummy-expiry.jitter_seconds ({file}:9): input should be greater than or equal to 0; "
        "accepted: up to this many seconds of random delay, so runs do not align",
    ),
    (
        "unknown log level",
        '+[logging]\nlevel = "loud"\n',
        {},
        "logging.level ({file}:9): input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'; "
        "accepted: one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case)",
    ),
    (
        "duplicate tenant names",
        f'+[[tenants]]\nname = "Contoso"\ntenant_id = "{GUID}"\n[tenants.credential]\n'
        'kind = "managed_identity"\n',
        {},
        "tenants[1].name ({file}:9): already the name of tenants[0]; accepted: a name unique among the "
        "tenants",
    ),
    (
        "wrong type from the environment",
        "",
        {"ENTRA_MONITOR_HEALTH__PORT": "abc"},
        "health.port (environment variable ENTRA_MONITOR_HEALTH__PORT): input should be a valid integer, "
        "unable to parse string as an integer; accepted: a TCP port, 0 to 65535 (0 picks a free one)",
    ),
    (
        "unknown variable",
        "",
        {"ENTRA_MONITOR_HELTH__PORT": "1"},
        f"helth (environment variable ENTRA_MONITOR_HELTH__PORT): unknown setting; accepted: {FIELDS}",
    ),
    (
        "unknown nested variable",
        "",
        {"ENTRA_MONITOR_HEALTH__PORTS": "1"},
        "health.ports (environment variable ENTRA_MONITOR_HEALTH__PORTS): unknown setting; accepted: "
        "enabled, host, port",
    ),
    (
        "variable of bad JSON",
        "",
        {"ENTRA_MONITOR_TENANTS": "[{"},
        "tenants (environment variable ENTRA_MONITOR_TENANTS): not valid JSON; accepted: JSON, or one "
        "variable per setting with __ between names",
    ),
    (
        "variable naming no tenant",
        "",
        {"ENTRA_MONITOR_TENANTS__FABRIKAM__CREDENTIAL__CLIENT_SECRET": SECRET},
        "tenants.fabrikam (environment variable ENTRA_MONITOR_TENANTS__FABRIKAM__CREDENTIAL__CLIENT_SECRET): "
        "no such element; accepted: an index from 0 to 1 (1 adds one), or the name of a tenant in the "
        "file (contoso)",
    ),
    (
        "tenant added by the environment without a name",
        "",
        {
            "ENTRA_MONITOR_TENANTS__1__TENANT_ID": GUID,
            "ENTRA_MONITOR_TENANTS__1__CREDENTIAL__KIND": "managed_identity",
        },
        "tenants[1].name (environment variable ENTRA_MONITOR_TENANTS__1__…): required but not set; accepted: "
        "a label for --tenant, logs and metrics: letters, digits, '.', '_' or '-', at most 64 characters, "
        "unique among the tenants",
    ),
    (
        "wrong type from the environment into a file tenant",
        "",
        {"ENTRA_MONITOR_TENANTS__0__CLIENT__MAX_CONCURRENCY": "0"},
        "tenants[0].client.max_concurrency (environment variable "
        "ENTRA_MONITOR_TENANTS__0__CLIENT__MAX_CONCURRENCY): input should be greater than or equal to 1; "
        "accepted: Requests in flight per tenant",
    ),
]


def _edit(text: str, edit: str) -> str:
    if edit.startswith("+"):
        return text + edit[1:]
    for command in edit.split(";") if edit else []:
        _, old, new, _ = re.split(r"(?<!\\)/", command)
        text = re.sub(old.replace("\\/", "/"), new.replace("\\/", "/"), text, count=1)
    return text


@pytest.mark.parametrize(
    ("edit", "environ", "expected"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_each_problem_names_the_setting_its_source_and_what_is_accepted(
    tmp_path: Path, certificate: Path, edit: str, environ: dict[str, str], expected: str
) -> None:
    file = write(tmp_path, _edit(base(certificate), edit))
    assert expected.format(file=file) in problems(file, environ, checks=[Dummy])


def test_problems_from_dotenv_name_the_file(tmp_path: Path, certificate: Path) -> None:
    dotenv = write(tmp_path, "OTHER_TOOL=1\nENTRA_MONITOR_LOGGING__FORMAT=xml\n", ".env")
    assert problems(write(tmp_path, base(certificate)), env_file=dotenv) == [
        f"logging.format (variable ENTRA_MONITOR_LOGGING__FORMAT in {dotenv}): input should be 'auto', "
        "'json' or 'text'; accepted: json, text, or auto (json unless writing to a terminal)"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path, certificate: Path) -> None:
    text = _edit(base(certificate), f"s/{GUID}/nope/") + "[health]\nport = -1\n[worker]\ngrace_seconds = -1\n"
    found = problems(write(tmp_path, text), {"ENTRA_MONITOR_BOGUS": "1"})
    assert [line.split(" ", 1)[0] for line in found] == [
        "bogus",
        "tenants[0].tenant_id",
        "health.port",
        "worker.grace_seconds",
    ]


def test_invalid_toml_names_the_line(tmp_path: Path, certificate: Path) -> None:
    file = write(tmp_path, base(certificate) + "[health\nport = 1\n")
    with pytest.raises(ConfigurationError) as raised:
        load(file)
    assert str(raised.value).startswith(f"{file}:8: not valid TOML (")


def test_check_settings_are_validated_against_the_installed_check(tmp_path: Path, certificate: Path) -> None:
    text = (
        base(certificate)
        + "[checks.dummy-expiry.settings]\nwarning_days = 0\n[checks.other]\nenabled = false\n"
    )
    text += (
        '[[waivers]]\nfingerprint = "' + "a" * 32 + '"\ncheck = "gone"\njustification = "j"\napprover = "a"\n'
    )
    text += "expires = 2026-12-31\n"
    file = write(tmp_path, text)
    assert problems(file, checks=[Dummy]) == [
        f"checks.dummy-expiry.settings.warning_days ({file}:9): input should be greater than or equal to 1; "
        "accepted: days before expiry to warn",
        f"checks.other ({file}:10): unknown check; accepted: an installed check id (dummy-expiry)",
        f"waivers[0].check ({file}:14): unknown check; accepted: an installed check id (dummy-expiry)",
    ]
    assert load(file).checks["other"].enabled is False  # without the checks, ids are not known


def test_a_secret_is_never_part_of_a_message(tmp_path: Path, certificate: Path) -> None:
    text = (
        f'[[tenants]]\nname = "a"\ntenant_id = "{SECRET}"\n[tenants.credential]\nkind = "certificate"\n'
        f'client_id = "{SECRET}"\ncertificate_path = "{certificate}"\nclient_secret = "{SECRET}"\n'
        f'password = {{ value = "{SECRET}" }}\n'
    )
    environ = {
        "ENTRA_MONITOR_TENANTS__1__CREDENTIAL__CLIENT_SECRET": SECRET,
        "ENTRA_MONITOR_TENANTS__1__CREDENTIAL__KIND": SECRET,
        "ENTRA_MONITOR_STATE": SECRET,
    }
    found = problems(write(tmp_path, text), environ)
    assert len(found) >= 5
    assert not [line for line in found if SECRET in line]


def test_secrets_stay_out_of_repr_and_redacted_output(tmp_path: Path, certificate: Path) -> None:
    file = write(
        tmp_path,
        base(certificate).replace("certificate_path", f'password = "{SECRET}"\ncertificate_path'),
    )
    settings = load(file, {"ENTRA_MONITOR_LOGGING__LEVEL": "info"})
    shown = redacted(settings)
    assert shown["tenants"][0]["credential"]["password"] == "**********"
    assert next(iter(shown["tenants"][0])) == "name"
    for text in (repr(settings), str(settings), str(shown), toml_document(shown)):
        assert SECRET not in text


def test_redacted_settings_print_as_toml_that_reads_back(tmp_path: Path, certificate: Path) -> None:
    settings = load(write(tmp_path, base(certificate) + "[checks.dummy-expiry.settings]\napps = ['x']\n"))
    shown = redacted(settings)
    assert tomllib.loads(toml_document(shown)) == _without_none(shown)


def _without_none(value: Any) -> Any:
    """TOML has no null: what toml_document leaves out."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def test_key_lines_follow_arrays_of_tables_and_dotted_keys() -> None:
    text = (
        "top = 1\n[[tenants]]\nname = 'a'\n[tenants.credential]\nkind = 'x'\n"
        '[[tenants]]\nclient.max_attempts = 2\n[checks."credential-expiry".settings]\nwarning_days = 3\n'
    )
    lines = key_lines(text)
    assert lines[("top",)] == 1
    assert lines[("tenants", 0)] == 2
    assert lines[("tenants", 0, "credential", "kind")] == 5
    assert lines[("tenants", 1)] == 6
    assert lines[("tenants", 1, "client", "max_attempts")] == 7
    assert lines[("checks", "credential-expiry", "settings", "warning_days")] == 9


def test_the_rendered_file_parses_and_validates_once_the_placeholders_are_filled(
    tmp_path: Path, certificate: Path
) -> None:
    text = render_config([Dummy])
    tomllib.loads(text)
    assert "[checks.dummy-expiry]" in text
    assert "# A dummy check: every 6 hours by default." in text
    assert "# warning_days = 30" in text
    assert '# apps = ["SCIM Provisioning App"]' in text
    filled = text.replace("/etc/entra-monitor/monitor.pem", str(certificate))
    settings = load(write(tmp_path, filled), checks=[Dummy])
    assert settings.tenants[0].name == "contoso"
    assert settings.checks["dummy-expiry"].enabled is True
    assert settings.state.path == Path("state/monitor.db")


def test_every_setting_is_in_the_rendered_file() -> None:
    text = render_config([Dummy])
    models: list[type[BaseModel]] = [
        TenantSettings,
        CertificateCredential,
        ClientSecretCredential,
        ManagedIdentityCredential,
        WorkloadIdentityCredential,
        GraphClientSettings,
        CheckConfig,
        WaiverSettings,
        StateSettings,
        HealthSettings,
        LogSettings,
        WorkerSettings,
        SnapshotSettings,
        BlobSettings,
        MonitorSettings,
        DummySettings,
    ]
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name in model.model_fields
        if not re.search(rf"(^|[\s\[.#(]){name}\b", text, re.MULTILINE)
    ]
    assert missing == []


def test_the_rendered_file_for_an_emulator_validates_and_connects(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    info_file = Path(emulator.info["infoFile"])
    text = render_config([Dummy], info_file, state_path=tmp_path / "state" / "monitor.db")
    settings = load(write(tmp_path, text), checks=[Dummy])
    tenant = settings.tenants[0]
    expected = emulator_connection(info_file, "certificate")
    assert tenant.name == "emulator"
    assert tenant.model_dump(exclude={"name"}) == expected.model_dump()
    assert settings.state.path == tmp_path / "state" / "monitor.db"


async def test_a_tenant_from_the_emulator_file_reads_graph(emulator: RunningEmulator, tmp_path: Path) -> None:
    text = render_config([], Path(emulator.info["infoFile"]))
    tenant = load(write(tmp_path, text)).tenants[0]
    async with connect(tenant) as graph:
        results = await probe(graph)
    assert results
    assert all(result.ok for result in results)
