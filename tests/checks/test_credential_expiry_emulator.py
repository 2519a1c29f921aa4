"""credential-expiry end to end: the findings on the session's emulated tenant are exactly the
emulator's ground truth for the check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from checks.credential_expiry import CredentialExpiry, CredentialExpirySettings
from monitor.baseline import load_baseline
from monitor.check import CheckContext, Finding, Watermarks
from monitor.graph.connection import connect
from tests.graph.conftest import connection_to
from tests.support.emulator import RunningEmulator

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


class MemoryWatermarks(Watermarks):
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


def truth_of(emulator: RunningEmulator) -> list[dict[str, Any]]:
    with emulator.control() as control:
        response = control.get("/truth")
        response.raise_for_status()
        findings: list[dict[str, Any]] = response.json()["findings"]
    return [f for f in findings if f["check"] == CredentialExpiry.id]


async def run_check(emulator: RunningEmulator) -> list[Finding]:
    check = CredentialExpiry()
    settings = CredentialExpirySettings.model_validate(CredentialExpiry.baseline_defaults(load_baseline()))
    async with connect(connection_to(emulator)) as graph:
        context = CheckContext(emulator.info["tenantId"], graph, settings, NOW, MemoryWatermarks())
        data = await check.collect(context)
    return check.evaluate(data, settings, NOW)


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator)
    findings = await run_check(emulator)
    expected = {(f["rule"], f["severity"], f["resource"]["type"], f["resource"]["id"]) for f in truth}
    found = {(f.rule, f.severity.label, f.resource.type, f.resource.id) for f in findings}
    assert found == expected
    assert {f["rule"] for f in truth} >= {"credential-expired", "unused-application"}


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator)
    findings = await run_check(emulator)
    assert len(findings) == len({(f.rule, f.resource.id) for f in findings})
    for finding in findings:
        assert finding.evidence
        assert finding.remediation
        assert finding.references
        assert finding.message.endswith(".")
    # The truth's credential of each expiry finding is among the finding's evidence.
    for expected in truth:
        if "keyId" not in expected["detail"]:
            continue
        (match,) = [
            f for f in findings if (f.rule, f.resource.id) == (expected["rule"], expected["resource"]["id"])
        ]
        key_ids = {c["keyId"]: c["credentialType"] for c in match.evidence["credentials"]}
        assert key_ids[expected["detail"]["keyId"]] == expected["detail"]["credentialType"]


async def test_a_saml_certificate_is_reported_once(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator)
    saml = [
        credential
        for finding in findings
        for credential in finding.evidence.get("credentials", [])
        if credential["credentialType"] == "samlSigningCertificate"
    ]
    assert saml
    assert len({c["keyId"] for c in saml}) == len(saml)
