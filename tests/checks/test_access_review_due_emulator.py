"""access-review-due end to end: the findings on the session's emulated tenant are exactly the
emulator's ground truth for the check."""

from __future__ import annotations

from checks.access_review_due import AccessReviewDue
from tests.support.checks import identities, run_check, truth_identities, truth_of
from tests.support.emulator import RunningEmulator


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, AccessReviewDue.id)
    findings = await run_check(emulator, AccessReviewDue)
    found = identities(findings)
    assert found == truth_identities(truth)
    assert len(findings) == len(found)
    # Every rule is planted (see emulator/tenant/reviews.py).
    assert {f["rule"] for f in truth} == {
        "scope-without-review",
        "recurrence-longer-than-quarterly",
        "review-due-soon",
        "review-overdue",
        "last-review-too-old",
    }


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator, AccessReviewDue)
    for finding in findings:
        assert finding.evidence
        assert finding.remediation
        assert finding.references
        assert finding.message.endswith(".")


async def test_scope_findings_carry_the_days_until_the_next_due_review(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator, AccessReviewDue)
    (overdue,) = [f for f in findings if f.rule == "review-overdue"]
    (stale,) = [
        f for f in findings if f.rule == "last-review-too-old" and f.evidence["daysUntilNextDue"] is not None
    ]
    assert stale.evidence["daysUntilNextDue"] == overdue.evidence["daysUntilDue"] < 0
    assert overdue.evidence["definitionId"] in stale.evidence["coveringDefinitions"]
