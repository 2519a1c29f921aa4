"""Findings, times and sink settings for the alert tests."""

from __future__ import annotations

from typing import Any

from monitor.alerts import SlackSinkSettings, TeamsSinkSettings, WebhookSinkSettings
from monitor.check import Severity
from tests.alerts.conftest import HMAC_KEY, URL_SECRET
from tests.state.factories import CHECK, T0, TENANT, at, make_finding

__all__ = ["CHECK", "T0", "TENANT", "at", "make_finding", "slack", "teams", "webhook"]


def webhook(url: str, **fields: Any) -> WebhookSinkSettings:
    return WebhookSinkSettings(
        kind="webhook", id=fields.pop("id", "hook"), url=f"{url}?{URL_SECRET}", hmac_key=HMAC_KEY, **fields
    )


def teams(url: str, **fields: Any) -> TeamsSinkSettings:
    return TeamsSinkSettings(
        kind="teams", id=fields.pop("id", "ops-teams"), url=f"{url}?{URL_SECRET}", **fields
    )


def slack(url: str, **fields: Any) -> SlackSinkSettings:
    return SlackSinkSettings(
        kind="slack", id=fields.pop("id", "ops-slack"), url=f"{url}?{URL_SECRET}", **fields
    )


def findings(count: int, severity: Severity = Severity.HIGH) -> list[Any]:
    return [make_finding(f"app-{index}", severity=severity) for index in range(count)]
