"""access-review-due: every rule of ``evaluate`` on hand-made data, at and around each threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from checks.access_review_due import (
    AccessReviewDue,
    AccessReviewDueSettings,
    AccessReviewInventory,
    RequiredScope,
    ReviewDefinition,
    parse_definition,
    parse_graph_time,
)
from monitor.baseline import load_baseline
from monitor.check import Finding, Measurement, Severity
from monitor.directory_roles import BUILT_IN_ROLES

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SETTINGS = AccessReviewDueSettings()
GLOBAL_ADMIN = BUILT_IN_ROLES["Global Administrator"]
GROUP_ID = "0b1c2d3e-0000-4000-8000-000000000001"
ROLE_SCOPE = RequiredScope("directoryRole", GLOBAL_ADMIN, "Global Administrator")
GROUP_SCOPE = RequiredScope("group", GROUP_ID, "Platform Admins")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def recurrence(pattern_type: str = "absoluteMonthly", interval: Any = 3) -> dict[str, Any]:
    return {
        "pattern": {"type": pattern_type, "interval": interval, "dayOfMonth": 0},
        "range": {"type": "noEnd", "startDate": "2026-01-01", "endDate": None},
    }


def instance(end: Any, status: str = "Completed", instance_id: str = "i1") -> dict[str, Any]:
    return {
        "id": instance_id,
        "status": status,
        "endDateTime": iso(end) if isinstance(end, datetime) else end,
    }


def definition(
    *instances: dict[str, Any],
    query: str | None = None,
    repeat: dict[str, Any] | None = None,
    one_time: bool = False,
    definition_id: str = "d1",
) -> ReviewDefinition:
    raw: dict[str, Any] = {
        "id": definition_id,
        "displayName": "Quarterly review",
        "status": "InProgress",
        "scope": {
            "@odata.type": "#microsoft.graph.accessReviewQueryScope",
            "query": query or f"/groups/{GROUP_ID}/transitiveMembers",
        },
        "settings": {"recurrence": None if one_time else (repeat or recurrence())},
    }
    return parse_definition(raw, instances)


def evaluate(
    *definitions: ReviewDefinition,
    scopes: tuple[RequiredScope, ...] = (),
    settings: AccessReviewDueSettings = SETTINGS,
    now: datetime = NOW,
) -> list[Finding]:
    return AccessReviewDue().evaluate(AccessReviewInventory(definitions, scopes), settings, now)


def rules(findings: list[Finding]) -> set[tuple[str, Severity, str]]:
    return {(f.rule, f.severity, f.resource.id) for f in findings}


# -- settings -------------------------------------------------------------------------------


def test_defaults_equal_the_shipped_baseline() -> None:
    from_baseline = AccessReviewDueSettings.model_validate(AccessReviewDue.baseline_defaults(load_baseline()))
    assert from_baseline == AccessReviewDueSettings()


def test_an_unknown_role_name_is_refused_but_a_template_id_is_accepted() -> None:
    with pytest.raises(ValidationError, match="Global Admin"):
        AccessReviewDueSettings(required_roles=("Global Admin",))
    assert AccessReviewDueSettings(required_roles=(GLOBAL_ADMIN.upper(),)).required_roles


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T12:00:00Z", NOW),
        ("2026-11-27T12:00:00.1234567Z", NOW + timedelta(microseconds=123456)),
        ("2026-11-27T12:00:00", NOW),  # naive: Graph's times are UTC
        ("2026-11-27T13:00:00+01:00", NOW),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
        ("not a date", None),
    ],
)
def test_graph_times(text: Any, expected: datetime | None) -> None:
    assert parse_graph_time(text) == expected


def test_missing_fields_are_tolerated() -> None:
    parsed = parse_definition({"id": "d9", "scope": None, "settings": None}, [{"id": "i9"}])
    assert parsed.display_name == "d9"
    assert parsed.recurrence is None
    assert parsed.scope_queries == ()
    assert parsed.instances[0].end is None


def test_principal_and_resource_scopes_count_as_coverage() -> None:
    raw = {
        "id": "d1",
        "scope": {
            "@odata.type": "#microsoft.graph.principalResourceMembershipsScope",
            "principalScopes": [{"query": "/users"}],
            "resourceScopes": [{"query": f"/groups/{GROUP_ID.upper()}"}],
        },
        "settings": {"recurrence": recurrence()},
    }
    done = instance(NOW - timedelta(days=1))
    assert evaluate(parse_definition(raw, [done]), scopes=(GROUP_SCOPE,)) == []


# -- recurrence-longer-than-quarterly --------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern_type", "interval", "reported"),
    [
        ("absoluteMonthly", 3, False),
        ("relativeMonthly", 4, True),
        ("absoluteYearly", 1, True),
        ("relativeYearly", None, True),  # null interval counts as 1
        ("weekly", 13, False),  # 91 days: 2.99 months
        ("weekly", 14, True),  # 98 days: 3.22 months
        ("daily", 91, False),
        ("daily", 92, True),  # 92 days: 3.02 months
        ("absoluteMonthly", 0, False),  # 0 counts as 1
        ("unknownFutureValue", 1, True),
    ],
)
def test_recurrence(pattern_type: str, interval: Any, reported: bool) -> None:
    found = evaluate(definition(repeat=recurrence(pattern_type, interval)))
    expected = {("recurrence-longer-than-quarterly", Severity.MEDIUM, "d1")} if reported else set()
    assert rules(found) == expected
    assert all(f.resource.type == "accessReviewScheduleDefinition" for f in found)


def test_a_one_time_review_has_no_recurrence_to_report() -> None:
    assert evaluate(definition(one_time=True)) == []


def test_the_recurrence_limit_is_a_setting() -> None:
    yearly = definition(repeat=recurrence("absoluteYearly", 1))
    assert evaluate(yearly, settings=AccessReviewDueSettings(max_recurrence_months=12)) == []


# -- review-overdue and review-due-soon ------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (NOW - timedelta(seconds=1), ("review-overdue", Severity.HIGH)),
        (NOW, ("review-due-soon", Severity.LOW)),
        (NOW + timedelta(days=14), ("review-due-soon", Severity.LOW)),
        (NOW + timedelta(days=14, seconds=1), None),
    ],
)
def test_unfinished_instances(end: datetime, expected: tuple[str, Severity] | None) -> None:
    found = evaluate(definition(instance(end, "InProgress", "i7")))
    assert rules(found) == ({(*expected, "i7")} if expected else set())
    for finding in found:
        assert finding.resource.type == "accessReviewInstance"
        assert finding.evidence["definitionId"] == "d1"
        assert finding.evidence["endDateTime"] == iso(end)


def test_offset_timestamps_are_compared_in_utc() -> None:
    # 13:00:00+01:00 is 12:00:00Z, exactly now: due soon, not overdue.
    (finding,) = evaluate(definition(instance("2026-11-27T13:00:00+01:00", "InProgress")))
    assert finding.rule == "review-due-soon"
    berlin = NOW.astimezone(timezone(timedelta(hours=1)))
    assert rules(evaluate(definition(instance("2026-11-27T11:59:59Z", "InProgress")), now=berlin)) == {
        ("review-overdue", Severity.HIGH, "i1")
    }


@pytest.mark.parametrize("status", ["Completed", "AutoReviewed", "Applied"])
def test_finished_instances_are_never_due(status: str) -> None:
    assert evaluate(definition(instance(NOW - timedelta(days=1), status))) == []


@pytest.mark.parametrize("end", [None, "", "0001-01-01T00:00:00Z"])
def test_an_instance_without_an_end_is_not_judged(end: Any) -> None:
    assert evaluate(definition(instance(end, "InProgress"))) == []


def test_due_soon_days_is_a_setting() -> None:
    in_ten_days = definition(instance(NOW + timedelta(days=10), "NotStarted"))
    assert evaluate(in_ten_days, settings=AccessReviewDueSettings(due_soon_days=9)) == []
    assert len(evaluate(in_ten_days, settings=AccessReviewDueSettings(due_soon_days=10))) == 1


# -- scope-without-review and last-review-too-old --------------------------------------------


def test_a_scope_nothing_covers_has_no_review() -> None:
    (finding,) = evaluate(scopes=(ROLE_SCOPE,))
    assert (finding.rule, finding.severity, finding.resource.type) == (
        "scope-without-review",
        Severity.HIGH,
        "directoryRole",
    )
    assert finding.resource.id == GLOBAL_ADMIN
    assert finding.evidence["daysUntilNextDue"] is None


def test_a_scope_covered_only_by_one_time_reviews() -> None:
    recent = instance(NOW - timedelta(days=1))
    found = evaluate(definition(recent, one_time=True), scopes=(GROUP_SCOPE,))
    assert rules(found) == {("scope-without-review", Severity.HIGH, GROUP_ID)}


def test_a_role_is_matched_by_its_template_id_in_the_query() -> None:
    query = (
        "/roleManagement/directory/roleAssignmentScheduleInstances?$expand=principal"
        f"&$filter=(roleDefinitionId eq '{GLOBAL_ADMIN.upper()}')"
    )
    recent = instance(NOW - timedelta(days=1))
    assert evaluate(definition(recent, query=query), scopes=(ROLE_SCOPE,)) == []


@pytest.mark.parametrize(
    ("age", "reported"),
    [
        (timedelta(days=92), False),
        (timedelta(days=92, seconds=1), True),
        (timedelta(days=92, seconds=-1), False),
    ],
)
def test_last_completed_review_age(age: timedelta, reported: bool) -> None:
    found = evaluate(definition(instance(NOW - age)), scopes=(GROUP_SCOPE,))
    assert rules(found) == ({("last-review-too-old", Severity.HIGH, GROUP_ID)} if reported else set())


def test_the_latest_finished_instance_of_any_covering_definition_counts() -> None:
    old = definition(instance(NOW - timedelta(days=200)), definition_id="d1")
    recent = definition(instance(NOW - timedelta(days=5), "Applied", "i2"), one_time=True, definition_id="d2")
    assert evaluate(old, recent, scopes=(GROUP_SCOPE,)) == []


def test_a_covered_scope_that_never_completed_a_review() -> None:
    open_instance = instance(NOW + timedelta(days=30), "InProgress")
    (finding,) = evaluate(definition(open_instance), scopes=(GROUP_SCOPE,))
    assert (finding.rule, finding.resource.id) == ("last-review-too-old", GROUP_ID)
    assert finding.evidence["lastCompletedEndDateTime"] is None
    assert finding.evidence["daysUntilNextDue"] == 30


def test_days_until_next_due_is_the_earliest_open_instance() -> None:
    late = instance(NOW - timedelta(days=3, hours=12), "InProgress", "i1")
    later = instance(NOW + timedelta(days=40), "NotStarted", "i2")
    old = instance(NOW - timedelta(days=100), "Completed", "i3")
    found = evaluate(definition(late, later, old), scopes=(GROUP_SCOPE,))
    (stale,) = [f for f in found if f.rule == "last-review-too-old"]
    assert stale.evidence["daysUntilNextDue"] == -3.5
    assert rules(found) == {
        ("review-overdue", Severity.HIGH, "i1"),
        ("last-review-too-old", Severity.HIGH, GROUP_ID),
    }


def test_review_age_is_a_setting() -> None:
    old = definition(instance(NOW - timedelta(days=100)))
    assert (
        evaluate(old, scopes=(GROUP_SCOPE,), settings=AccessReviewDueSettings(max_review_age_days=100)) == []
    )


def test_a_named_scope_missing_from_the_directory() -> None:
    missing = RequiredScope("servicePrincipal", None, "SCIM Provisioning App")
    (finding,) = evaluate(scopes=(missing,))
    assert (finding.rule, finding.severity, finding.resource.id) == (
        "scope-without-review",
        Severity.HIGH,
        "SCIM Provisioning App",
    )
    assert finding.evidence["found"] is False


def test_nothing_to_evaluate() -> None:
    assert evaluate() == []


def test_every_finding_explains_itself() -> None:
    found = evaluate(
        definition(instance(NOW - timedelta(days=1), "InProgress"), repeat=recurrence("absoluteYearly", 1)),
        scopes=(ROLE_SCOPE, GROUP_SCOPE),
    )
    assert {f.rule for f in found} == {
        "recurrence-longer-than-quarterly",
        "review-overdue",
        "scope-without-review",
        "last-review-too-old",
    }
    for finding in found:
        assert finding.evidence
        assert finding.remediation
        assert finding.references
        assert finding.message.endswith(".")
        assert finding.message[0].isupper()


# -- gauge -----------------------------------------------------------------------------------


def measure(*definitions: ReviewDefinition, scopes: tuple[RequiredScope, ...] = ()) -> list[Measurement]:
    measured = AccessReviewDue().measure(AccessReviewInventory(definitions, scopes), SETTINGS, NOW)
    (gauge,) = AccessReviewDue.gauges
    assert all(m.gauge == gauge.name and set(m.attributes) == set(gauge.attributes) for m in measured)
    return measured


def due(days: float, scope: RequiredScope = GROUP_SCOPE) -> Measurement:
    attributes = {"scope_type": scope.type, "scope_id": str(scope.id), "display_name": scope.display_name}
    return Measurement("entra_monitor.access_reviews.days_to_due", days, attributes)


def test_the_gauge_is_declared_as_documented() -> None:
    assert [(g.name, g.unit, g.attributes) for g in AccessReviewDue.gauges] == [
        ("entra_monitor.access_reviews.days_to_due", "d", ("scope_type", "scope_id", "display_name"))
    ]


@pytest.mark.parametrize(
    ("end", "days"),
    [
        (NOW + timedelta(days=14), 14.0),
        (NOW + timedelta(days=14, seconds=1), 14 + 1 / 86400),
        (NOW + timedelta(days=14, seconds=-1), 14 - 1 / 86400),
        (NOW, 0.0),
        (NOW - timedelta(seconds=1), -1 / 86400),
        (NOW - timedelta(days=3, hours=12), -3.5),
        ("2026-11-27T12:00:00", 0.0),  # naive: UTC
        ("2026-11-28T14:00:00+02:00", 1.0),
        ("2026-11-27T12:00:00.5Z", 0.5 / 86400),  # unrounded
    ],
)
def test_days_to_due_is_the_unrounded_time_to_the_open_instance(end: Any, days: float) -> None:
    assert measure(definition(instance(end, "InProgress")), scopes=(GROUP_SCOPE,)) == [due(days)]


def test_the_earliest_open_instance_of_any_covering_definition_counts() -> None:
    first = definition(
        instance(NOW + timedelta(days=40), "NotStarted", "i1"),
        instance(NOW - timedelta(days=1), "Completed", "i2"),  # finished: not due
        definition_id="d1",
    )
    second = definition(
        instance(NOW + timedelta(days=9), "InProgress", "i3"), one_time=True, definition_id="d2"
    )
    role_query = (
        "/roleManagement/directory/roleAssignmentScheduleInstances"
        f"?$filter=(roleDefinitionId eq '{GLOBAL_ADMIN}')"
    )
    role = definition(
        instance(NOW - timedelta(days=2), "InProgress", "i4"), query=role_query, definition_id="d3"
    )
    assert measure(first, second, role, scopes=(ROLE_SCOPE, GROUP_SCOPE)) == [
        due(-2.0, ROLE_SCOPE),
        due(9.0),
    ]


@pytest.mark.parametrize("status", ["Completed", "AutoReviewed", "Applied"])
def test_a_scope_with_only_finished_instances_is_not_measured(status: str) -> None:
    assert measure(definition(instance(NOW + timedelta(days=5), status)), scopes=(GROUP_SCOPE,)) == []


@pytest.mark.parametrize("end", [None, "", "0001-01-01T00:00:00Z", "soon"])
def test_an_open_instance_without_a_usable_end_is_not_measured(end: Any) -> None:
    assert measure(definition(instance(end, "InProgress")), scopes=(GROUP_SCOPE,)) == []


def test_uncovered_missing_and_absent_scopes_are_not_measured() -> None:
    other = definition(
        instance(NOW + timedelta(days=5), "InProgress"), query="/groups/someone-else/transitiveMembers"
    )
    missing = RequiredScope("servicePrincipal", None, "SCIM Provisioning App")
    assert measure(other, scopes=(ROLE_SCOPE, GROUP_SCOPE, missing)) == []
    assert measure(definition(instance(NOW, "InProgress"))) == []
    assert measure() == []
