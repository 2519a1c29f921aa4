"""access-review-due end to end: the findings on the session's emulated tenant are exactly the
emulator's ground truth for the check, and the days to the next due review of each required scope
are what the emulator's review truth implies."""

from __future__ import annotations

from datetime import timedelta

from checks.access_review_due import AccessReviewDue
from emulator.tenant.rules import DEFAULT_BASELINE
from emulator.tenant.truth import FINISHED_REVIEW_STATES, parse_time
from emulator.tenant.truth_policies import covers, required_scopes
from tests.support.checks import NOW, identities, run_check, run_once, truth_identities, truth_of
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


async def test_days_to_due_of_each_scope_is_what_the_review_truth_implies(emulator: RunningEmulator) -> None:
    """The emulator's own truth rules (its required scopes, its coverage of a scope by a
    definition's query) on its reference tenant: per required scope, the earliest end of an
    unfinished instance of a covering definition, in days from the run's now."""
    reference = emulator.reference()
    definitions = [d for _key, d in reference.review_definitions.scan(None, None)]
    expected: dict[tuple[str, str, str], float] = {}
    for scope_type, scope in required_scopes(
        DEFAULT_BASELINE, reference.governance.groups, reference.fixed.by_name
    ):
        open_ends = [
            parse_time(instance["endDateTime"])
            for definition in definitions
            if covers(definition, scope["id"])
            for _key, instance in reference.review_instances[definition["id"]].scan(None, None)
            if instance["status"] not in FINISHED_REVIEW_STATES
        ]
        if open_ends:
            expected[(scope_type, scope["id"], scope["displayName"])] = (min(open_ends) - NOW) / timedelta(
                days=1
            )
    run = await run_once(emulator, AccessReviewDue)
    measured = AccessReviewDue().measure(run.data, run.settings, NOW)
    assert {
        (m.attributes["scope_type"], m.attributes["scope_id"], m.attributes["display_name"]): m.value
        for m in measured
    } == expected
    assert len(measured) == len(expected)
    # On the session tenant: the overdue Security Administrator review, Platform Admins' due
    # within due_soon_days and the Calendar/Teams App's beyond it.
    assert sorted(expected.values()) == [-38.0, 10.0, 25.0]
    overdue = [f for f in truth_of(emulator, AccessReviewDue.id, at=NOW) if f["rule"] == "review-overdue"]
    (instance_end,) = [parse_time(f["detail"]["endDateTime"]) for f in overdue]
    assert min(expected.values()) == (instance_end - NOW) / timedelta(days=1)
