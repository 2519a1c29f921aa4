"""access-review-due end to end: the findings on the session's emulated tenant are exactly the
emulator's ground truth for the check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from checks.access_review_due import AccessReviewDue, AccessReviewDueSettings
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
    return [f for f in findings if f["check"] == AccessReviewDue.id]


async def run_check(emulator: RunningEmulator) -> list[Finding]:
    check = AccessReviewDue()
    settings = AccessReviewDueSettings.model_validate(AccessReviewDue.baseline_defaults(load_baseline()))
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
    findings = await run_check(emulator)
    for finding in findings:
        assert finding.evidence
        assert finding.remediation
        assert finding.references
        assert finding.message.endswith(".")


async def test_scope_findings_carry_the_days_until_the_next_due_review(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator)
    (overdue,) = [f for f in findings if f.rule == "review-overdue"]
    (stale,) = [
        f for f in findings if f.rule == "last-review-too-old" and f.evidence["daysUntilNextDue"] is not None
    ]
    assert stale.evidence["daysUntilNextDue"] == overdue.evidence["daysUntilDue"] < 0
    assert overdue.evidence["definitionId"] in stale.evidence["coveringDefinitions"]
