"""The configuration hash in a snapshot changes with every setting that shapes the result, and
never with a secret (so it neither leaks nor churns when a secret is rotated)."""

from __future__ import annotations

from typing import Any

from monitor.snapshots.document import configuration_sha256
from tests.snapshots.support import monitor_settings

WEBHOOK = {"kind": "webhook", "id": "ops", "url": "https://hooks.example.com/a?sig=one", "hmac_key": "k" * 32}


def settings_hash(**values: Any) -> str:
    return configuration_sha256(monitor_settings(**values))


def test_secrets_do_not_change_the_hash() -> None:
    base = settings_hash(alerts={"sinks": [WEBHOOK]})
    rotated = monitor_settings(
        alerts={"sinks": [{**WEBHOOK, "url": "https://hooks.example.com/a?sig=two", "hmac_key": "m" * 32}]}
    )
    secret = rotated.tenants[0].credential.model_copy(update={"client_secret": "another secret"})
    rotated = rotated.model_copy(
        update={"tenants": [rotated.tenants[0].model_copy(update={"credential": secret})]}
    )
    assert configuration_sha256(rotated) == base
    assert settings_hash(
        telemetry={"azure_monitor": {"connection_string": "InstrumentationKey=1"}}
    ) == settings_hash(telemetry={"azure_monitor": {"connection_string": "InstrumentationKey=2"}})


def test_thresholds_and_choices_change_the_hash() -> None:
    base = settings_hash()
    assert settings_hash(checks={"credential-expiry": {"settings": {"warning_days": 45}}}) != base
    assert settings_hash(checks={"credential-expiry": {"enabled": False}}) != base
    assert settings_hash(worker={"max_parallel_checks": 2}) != base
    assert settings_hash() == base  # and it is stable
