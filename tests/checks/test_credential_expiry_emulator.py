"""credential-expiry end to end: the findings on the session's emulated tenant are exactly the
emulator's ground truth for the check."""

from __future__ import annotations

from checks.credential_expiry import CredentialExpiry
from tests.support.checks import identities, run_check, truth_identities, truth_of
from tests.support.emulator import RunningEmulator


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, CredentialExpiry.id)
    findings = await run_check(emulator, CredentialExpiry)
    assert identities(findings) == truth_identities(truth)
    assert {f["rule"] for f in truth} >= {"credential-expired", "unused-application"}


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, CredentialExpiry.id)
    findings = await run_check(emulator, CredentialExpiry)
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
    findings = await run_check(emulator, CredentialExpiry)
    saml = [
        credential
        for finding in findings
        for credential in finding.evidence.get("credentials", [])
        if credential["credentialType"] == "samlSigningCertificate"
    ]
    assert saml
    assert len({c["keyId"] for c in saml}) == len(saml)
