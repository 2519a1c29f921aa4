"""Alerts leave the monitor: ``once`` delivers one signed webhook alert per finding it opened
before it exits, and a second sweep that changes nothing sends nothing; a sink that is down keeps
the alerts in the outbox for the next run."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from monitor.alerts.payloads import evidence_summary
from monitor.alerts.sinks import sign
from monitor.state import open_store
from tests.alerts.receiver import running_receiver
from tests.support.emulator import RunningEmulator
from tests.support.ingestion import ingestion_server
from tests.test_once import once, write_config

KEY = "k" * 40
CHECKS = ("--check", "credential-expiry", "--check", "conditional-access-baseline")


def with_webhook(config: Path, url: str, min_severity: str = "info") -> Path:
    config.write_text(
        config.read_text()
        + f'\n[[alerts.sinks]]\nkind = "webhook"\nid = "soc"\nurl = "{url}"\nhmac_key = "{KEY}"\n'
        + f'min_severity = "{min_severity}"\n'
    )
    return config


def test_once_delivers_each_new_finding_once_signed_and_nothing_on_a_quiet_rerun(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    with running_receiver() as receiver:
        config = with_webhook(write_config(emulator, tmp_path, "certificate"), receiver.url())
        first = once(config, *CHECKS, "--format", "json")
        delivered = list(receiver.accepted)
        second = once(config, *CHECKS, "--format", "json")
        again = len(receiver.accepted)
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    opened = {(f["fingerprint"], f["rule"], f["severity"]) for f in document["openFindings"]}
    sent = {(r.json["fingerprint"], r.json["rule"], r.json["severity"]) for r in delivered}
    assert sent == opened
    assert len(delivered) == len(opened)
    assert {r.json["transition"] for r in delivered} == {"new"}
    for request in delivered:
        timestamp = int(request.headers["x-entra-monitor-timestamp"])
        assert request.headers["x-entra-monitor-signature"] == sign(SecretStr(KEY), timestamp, request.body)
    assert len({r.headers["idempotency-key"] for r in delivered}) == len(delivered)
    assert second.returncode == first.returncode
    assert again == len(delivered)  # nothing changed, nothing sent
    for output in (first.stdout + first.stderr, second.stdout + second.stderr):
        assert KEY not in output
        assert receiver.url() not in output


def test_a_sink_that_is_down_keeps_the_alerts_for_the_next_run(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    with running_receiver() as receiver:
        receiver.answer = lambda _request: (503, {})
        config = with_webhook(write_config(emulator, tmp_path, "certificate"), receiver.url(), "critical")
        down = once(config, *CHECKS, "--format", "json")
        tried = len(receiver.received)
        with open_store(tmp_path / "state" / "monitor.db") as store:
            pending = store.deliveries("pending", "soc")
        critical = [f for f in json.loads(down.stdout)["openFindings"] if f["severity"] == "critical"]
    assert tried == 1  # the oldest was tried; the rest wait behind it, in order
    assert len(pending) == len(critical)
    assert [d.attempts for d in pending] == [1] + [0] * (len(critical) - 1)
    assert critical  # the planted tenant has critical findings to alert on


def with_events_sink(config: Path, connection_string: str | None) -> Path:
    telemetry = (
        f'\n[telemetry.azure_monitor]\nenabled = true\nconnection_string = "{connection_string}"\n'
        if connection_string
        else ""
    )
    config.write_text(
        config.read_text() + telemetry + '\n[[alerts.sinks]]\nkind = "azure_monitor"\nid = "appinsights"\n'
    )
    return config


def test_once_sends_one_application_insights_event_per_opened_finding(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    with ingestion_server() as ingestion:
        config = with_events_sink(
            write_config(emulator, tmp_path, "certificate"), ingestion.connection_string
        )
        result = once(config, *CHECKS, "--format", "json")
        events = ingestion.events()
    with open_store(tmp_path / "state" / "monitor.db") as store:
        alerts = store.alerts()
        deliveries = store.deliveries(sink="appinsights")
    assert result.returncode == 0, result.stderr
    opened = json.loads(result.stdout)["openFindings"]
    assert sorted(a.fingerprint for a in alerts) == sorted(f["fingerprint"] for f in opened)
    assert [d.status for d in deliveries] == ["delivered"] * len(alerts)
    assert len(opened) > 10  # more than a digest threshold: events are never digested
    assert len(events) == len(opened)
    expected = []
    for alert in alerts:
        finding = alert.finding
        expected.append(
            {
                "ver": 2,
                "name": "EntraMonitorAlert",
                "properties": {
                    "alertId": alert.key,
                    "event": "new",
                    "transition": "new",
                    "tenant": finding.tenant,
                    "check": finding.check,
                    "rule": finding.rule,
                    "severity": finding.severity.label,
                    "previousSeverity": "",
                    "resourceType": finding.resource.type,
                    "resourceId": finding.resource.id,
                    "resourceName": finding.resource.display_name,
                    "fingerprint": finding.fingerprint,
                    "title": f"New {finding.severity.label} finding: {finding.rule}",
                    "message": finding.message,
                    "remediation": finding.remediation,
                    "evidence": json.dumps(
                        evidence_summary(finding.evidence), ensure_ascii=False, separators=(",", ":")
                    ),
                    "references": json.dumps(
                        list(finding.references), ensure_ascii=False, separators=(",", ":")
                    ),
                    "firstSeen": alert.first_seen.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "occurred": alert.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "logger_name": "entra_monitor.events",  # added by the exporter
                },
                "measurements": {},
            }
        )
    key = lambda event: event["properties"]["alertId"]  # noqa: E731
    assert sorted(events, key=key) == sorted(expected, key=key)


def test_an_events_sink_without_azure_monitor_is_refused_naming_both_settings(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    config = with_events_sink(write_config(emulator, tmp_path, "certificate"), None)
    result = once(config, *CHECKS)
    assert result.returncode != 0
    assert "alerts.sinks[0] (id 'appinsights'): kind \"azure_monitor\"" in result.stderr
    assert "telemetry.azure_monitor.enabled = true" in result.stderr
