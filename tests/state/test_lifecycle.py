"""Finding lifecycle through ``reconcile``: new → open → resolved → reopened, severity changes,
idempotency, isolation per (tenant, check), and restarts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.check import Severity
from monitor.state import SqliteStateStore, StoredFinding, Transition, open_store
from tests.state.factories import CHECK, T0, TENANT, at, make_finding


def kinds(transitions: list[Transition]) -> list[tuple[str, str]]:
    return [(transition.kind, transition.finding.resource.id) for transition in transitions]


def only(store: SqliteStateStore, status: str | None = "open") -> StoredFinding:
    (stored,) = store.findings(status=status)
    return stored


def test_a_finding_never_seen_is_new_and_stored_open(store: SqliteStateStore) -> None:
    finding = make_finding()

    transitions = store.reconcile(TENANT, CHECK, [finding], T0, [])

    assert transitions == [Transition("new", finding.fingerprint, finding, None)]
    assert store.findings() == [StoredFinding(finding, "open", T0, T0, None, None, 0)]


def test_a_finding_still_present_gives_no_transition_and_moves_last_seen(store: SqliteStateStore) -> None:
    finding = make_finding()
    store.reconcile(TENANT, CHECK, [finding], T0, [])

    assert store.reconcile(TENANT, CHECK, [finding], at(6), []) == []

    stored = only(store)
    assert (stored.status, stored.first_seen, stored.last_seen, stored.resolved_at) == (
        "open",
        T0,
        at(6),
        None,
    )


def test_reconciling_the_same_findings_twice_is_idempotent(store: SqliteStateStore) -> None:
    findings = [make_finding("app-1"), make_finding("app-2", severity=Severity.LOW)]

    first = store.reconcile(TENANT, CHECK, findings, T0, [])
    second = store.reconcile(TENANT, CHECK, findings, T0, [])

    assert kinds(first) == [("new", "app-1"), ("new", "app-2")]
    assert second == []
    assert [stored.finding for stored in store.findings()] == findings


def test_a_finding_no_longer_reported_is_resolved_with_its_last_version(store: SqliteStateStore) -> None:
    finding = make_finding()
    store.reconcile(TENANT, CHECK, [finding], T0, [])

    transitions = store.reconcile(TENANT, CHECK, [], at(6), [])

    assert transitions == [Transition("resolved", finding.fingerprint, finding, None)]
    assert store.findings() == []
    assert only(store, "resolved") == StoredFinding(finding, "resolved", T0, T0, at(6), None, 0)
    assert store.reconcile(TENANT, CHECK, [], at(12), []) == []
    assert only(store, "resolved").resolved_at == at(6)


def test_a_resolved_finding_that_returns_is_reopened(store: SqliteStateStore) -> None:
    finding = make_finding()
    store.reconcile(TENANT, CHECK, [finding], T0, [])
    store.reconcile(TENANT, CHECK, [], at(6), [])

    transitions = store.reconcile(TENANT, CHECK, [finding], at(12), [])

    assert transitions == [Transition("reopened", finding.fingerprint, finding, None)]
    assert only(store) == StoredFinding(finding, "open", T0, at(12), None, None, 1)
    store.reconcile(TENANT, CHECK, [], at(18), [])
    assert kinds(store.reconcile(TENANT, CHECK, [finding], at(24), [])) == [("reopened", "app-1")]
    assert only(store).times_reopened == 2


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        (Severity.MEDIUM, Severity.CRITICAL, "severity_raised"),
        (Severity.HIGH, Severity.LOW, "severity_lowered"),
    ],
)
def test_a_severity_change_is_a_transition_with_the_previous_severity(
    store: SqliteStateStore, before: Severity, after: Severity, kind: str
) -> None:
    store.reconcile(TENANT, CHECK, [make_finding(severity=before)], T0, [])
    changed = make_finding(severity=after, message="now worse or better")

    transitions = store.reconcile(TENANT, CHECK, [changed], at(6), [])

    assert transitions == [Transition(kind, changed.fingerprint, changed, before)]
    assert only(store).finding == changed
    assert store.reconcile(TENANT, CHECK, [changed], at(12), []) == []


def test_new_changed_and_resolved_come_in_one_reconcile_in_a_stated_order(store: SqliteStateStore) -> None:
    store.reconcile(TENANT, CHECK, [make_finding("b"), make_finding("a"), make_finding("c")], T0, [])

    transitions = store.reconcile(
        TENANT, CHECK, [make_finding("d"), make_finding("c", severity=Severity.CRITICAL)], at(1), []
    )

    assert kinds(transitions) == [
        ("new", "d"),
        ("severity_raised", "c"),
        *sorted([("resolved", "a"), ("resolved", "b")], key=lambda kind: make_finding(kind[1]).fingerprint),
    ]


def test_evidence_and_every_field_round_trip_exactly(store: SqliteStateStore) -> None:
    evidence = {
        "keyId": "5b0c…",
        "nested": {"list": [1, 2.5, None, True, "ü"], "empty": {}},
        "zero": 0,
        "big": 2**53,
    }
    finding = make_finding(evidence=evidence)

    store.reconcile(TENANT, CHECK, [finding], T0, [])

    stored = only(store).finding
    assert stored == finding
    assert stored.evidence == evidence
    assert stored.references == ("seed §4.2",)
    assert stored.fingerprint == finding.fingerprint


def test_duplicates_collapse_to_the_most_severe(store: SqliteStateStore) -> None:
    low, high = make_finding(severity=Severity.LOW), make_finding(severity=Severity.HIGH)

    transitions = store.reconcile(TENANT, CHECK, [low, high, low], T0, [])

    assert transitions == [Transition("new", high.fingerprint, high, None)]


def test_findings_without_tenant_and_check_are_attributed_to_the_run(store: SqliteStateStore) -> None:
    bare = make_finding(tenant="", check="")

    (transition,) = store.reconcile(TENANT, CHECK, [bare], T0, [])

    assert (transition.finding.tenant, transition.finding.check) == (TENANT, CHECK)
    assert transition.fingerprint == make_finding().fingerprint


def test_a_finding_of_another_check_is_refused(store: SqliteStateStore) -> None:
    with pytest.raises(ValueError, match="belongs to tenant 'contoso', check 'other-check'"):
        store.reconcile(TENANT, CHECK, [make_finding(check="other-check")], T0, [])


def test_naive_datetimes_are_refused(store: SqliteStateStore) -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        store.reconcile(TENANT, CHECK, [make_finding()], datetime(2026, 11, 27, 12), [])


def test_evidence_that_is_not_json_is_refused_and_nothing_is_stored(store: SqliteStateStore) -> None:
    good, bad = make_finding("app-1"), make_finding("app-2", evidence={"when": T0})

    with pytest.raises(ValueError, match="evidence of finding credential-expired on application app-2"):
        store.reconcile(TENANT, CHECK, [good, bad], T0, [])

    assert store.findings(status=None) == []


def test_a_run_of_one_check_never_resolves_another_checks_findings(store: SqliteStateStore) -> None:
    mine, theirs = make_finding(check=CHECK), make_finding(check="stale-guests", rule="guest-inactive")
    store.reconcile(TENANT, CHECK, [mine], T0, [])
    store.reconcile(TENANT, "stale-guests", [theirs], T0, [])

    assert kinds(store.reconcile(TENANT, CHECK, [], at(6), [])) == [("resolved", "app-1")]

    assert [stored.finding for stored in store.findings()] == [theirs]
    assert [stored.finding for stored in store.findings(check="stale-guests")] == [theirs]
    assert store.findings(check=CHECK) == []


def test_tenants_are_isolated(store: SqliteStateStore) -> None:
    contoso, fabrikam = make_finding(tenant="contoso"), make_finding(tenant="fabrikam")
    assert contoso.fingerprint != fabrikam.fingerprint

    assert kinds(store.reconcile("contoso", CHECK, [contoso], T0, [])) == [("new", "app-1")]
    assert kinds(store.reconcile("fabrikam", CHECK, [fabrikam], T0, [])) == [("new", "app-1")]
    assert kinds(store.reconcile("contoso", CHECK, [], at(1), [])) == [("resolved", "app-1")]

    assert [stored.finding for stored in store.findings()] == [fabrikam]
    assert [stored.finding for stored in store.findings(tenant="contoso", status="resolved")] == [contoso]


def test_findings_are_listed_most_severe_first_and_filtered_by_status(store: SqliteStateStore) -> None:
    store.reconcile(
        TENANT,
        CHECK,
        [make_finding("low", severity=Severity.LOW), make_finding("crit", severity=Severity.CRITICAL)],
        T0,
        [],
    )
    store.reconcile(TENANT, "other", [make_finding("info", check="other", severity=Severity.INFO)], T0, [])
    store.reconcile(TENANT, "other", [], at(1), [])

    assert [stored.finding.resource.id for stored in store.findings()] == ["crit", "low"]
    assert [stored.finding.resource.id for stored in store.findings(status="resolved")] == ["info"]
    assert [stored.finding.resource.id for stored in store.findings(status=None)] == ["crit", "low", "info"]
    with pytest.raises(ValueError, match="unknown finding status 'closed'; accepted: open, resolved"):
        store.findings(status="closed")


def test_open_counts_by_tenant_check_and_severity(store: SqliteStateStore) -> None:
    store.reconcile(
        TENANT,
        CHECK,
        [make_finding("a"), make_finding("b"), make_finding("c", severity=Severity.LOW)],
        T0,
        [],
    )
    store.reconcile("fabrikam", CHECK, [make_finding("a", tenant="fabrikam")], T0, [])
    store.reconcile(TENANT, "other", [make_finding("x", check="other")], T0, [])
    store.reconcile(TENANT, "other", [], at(1), [])

    assert store.open_counts() == {
        (TENANT, CHECK, Severity.HIGH): 2,
        (TENANT, CHECK, Severity.LOW): 1,
        ("fabrikam", CHECK, Severity.HIGH): 1,
    }


def test_a_restart_resumes_without_announcing_known_findings_again(database: Path) -> None:
    findings = [make_finding("app-1"), make_finding("app-2")]
    with open_store(database) as first:
        assert len(first.reconcile(TENANT, CHECK, findings, T0, [])) == 2
        first.reconcile(TENANT, CHECK, findings[:1], at(1), [])

    with open_store(database) as second:
        assert second.reconcile(TENANT, CHECK, findings[:1], at(2), []) == []
        assert kinds(second.reconcile(TENANT, CHECK, findings, at(3), [])) == [("reopened", "app-2")]
        stored = second.findings()

    assert [(item.finding.resource.id, item.first_seen, item.last_seen) for item in stored] == [
        ("app-1", T0, at(3)),
        ("app-2", T0, at(3)),
    ]


def test_returned_datetimes_are_utc_even_when_given_in_another_zone(store: SqliteStateStore) -> None:
    elsewhere = T0.astimezone(timezone(timedelta(hours=5, minutes=30)))

    store.reconcile(TENANT, CHECK, [make_finding()], elsewhere, [])

    stored = only(store)
    assert stored.first_seen == T0
    assert stored.first_seen.tzinfo is UTC
    assert stored.last_seen.utcoffset() == timedelta(0)


def test_a_second_store_reads_what_the_first_wrote(store: SqliteStateStore, database: Path) -> None:
    store.reconcile(TENANT, CHECK, [make_finding()], T0, [])

    with open_store(database) as reader:
        assert [stored.finding for stored in reader.findings()] == [make_finding()]
        store.reconcile(TENANT, CHECK, [], at(1), [])
        assert reader.findings() == []


def test_the_store_may_be_called_from_another_thread(store: SqliteStateStore) -> None:
    with ThreadPoolExecutor(max_workers=1) as worker:
        transitions = worker.submit(store.reconcile, TENANT, CHECK, [make_finding()], T0, []).result()

    assert kinds(transitions) == [("new", "app-1")]
    assert len(store.findings()) == 1


def test_findings_of_rules_a_run_could_not_evaluate_stay_exactly_as_they_were(
    store: SqliteStateStore,
) -> None:
    skipped = make_finding("user-1", rule="user-at-risk")
    kept = make_finding("app-1")
    gone = make_finding("app-2")
    store.reconcile(TENANT, CHECK, [skipped, kept, gone], T0, [])

    transitions = store.reconcile(TENANT, CHECK, [kept], at(1), [], unevaluated={"user-at-risk"})

    assert kinds(transitions) == [("resolved", "app-2")]
    assert {(s.finding.resource.id, s.last_seen) for s in store.findings()} == {
        ("user-1", T0),
        ("app-1", at(1)),
    }
    assert kinds(store.reconcile(TENANT, CHECK, [kept], at(2), [])) == [("resolved", "user-1")]
