"""Hand-made findings, times and waivers for the state-store tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from monitor.check import Finding, Resource, Severity
from monitor.state import Waiver

TENANT = "contoso"
CHECK = "credential-expiry"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    """``hours`` after T0."""
    return T0 + timedelta(hours=hours)


def make_finding(
    resource_id: str = "app-1",
    *,
    rule: str = "credential-expired",
    severity: Severity = Severity.HIGH,
    tenant: str = TENANT,
    check: str = CHECK,
    evidence: dict[str, Any] | None = None,
    message: str = "",
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        resource=Resource("application", resource_id, f"App {resource_id}"),
        message=message or f"Application {resource_id} has an expired client secret.",
        remediation="Remove the expired secret and rotate to a certificate.",
        evidence=evidence
        if evidence is not None
        else {"keyId": f"key-{resource_id}", "endDateTime": "2026-11-01"},
        references=("seed §4.2",),
        tenant=tenant,
        check=check,
    )


def make_waiver(expires: date = date(2026, 12, 31), **fields: Any) -> Waiver:
    return Waiver(
        justification="Vendor app, retired in Q1", approver="ciso@contoso.example", expires=expires, **fields
    )
