"""conditional-access-baseline end to end: the findings on the session's emulated tenant are
exactly the emulator's ground truth for the check."""

from __future__ import annotations

from checks.conditional_access_baseline import ConditionalAccessBaseline
from tests.support.checks import collect_data, identities, run_check, truth_identities, truth_of
from tests.support.emulator import RunningEmulator


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, ConditionalAccessBaseline.id)
    findings = await run_check(emulator, ConditionalAccessBaseline)
    found = identities(findings)
    assert found == truth_identities(truth)
    assert len(findings) == len(found)
    # The planted tenant leaves the MFA policy in report-only and one pilot of each state; the
    # other rules fire only on run-time changes (unit-tested in test_conditional_access_baseline).
    assert {f["rule"] for f in truth} == {"admin-mfa-not-enforced", "policy-disabled", "policy-report-only"}


async def test_the_baseline_names_resolve_to_the_tenants_objects(emulator: RunningEmulator) -> None:
    data, _settings = await collect_data(emulator, ConditionalAccessBaseline)
    assert all(len(ids) == 1 for ids in data.admin_apps.values())
    assert all(len(ids) == 1 for ids in data.protected_apps.values())
    assert all(len(ids) == 1 for ids in data.allowed_groups.values())
    assert data.policies


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator, ConditionalAccessBaseline)
    assert findings
    for finding in findings:
        assert finding.evidence
        assert finding.remediation
        assert finding.references
        assert finding.message.endswith(".")
