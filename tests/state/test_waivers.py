"""Waivers: matching by fingerprint or by rule + resource (narrowed by check and tenant), expiry
through the expiry date, and what a waived finding does and does not produce."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.check import Severity
from monitor.errors import ConfigurationError
from monitor.state import SqliteStateStore, Transition
from tests.state.factories import CHECK, T0, TENANT, at, make_finding, make_waiver

LAST_DAY = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
DAY_AFTER = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def test_a_waiver_needs_a_fingerprint_or_a_rule_and_a_resource() -> None:
    with pytest.raises(ConfigurationError, match="set a fingerprint, or a rule and a resource_id"):
        make_waiver(rule="credential-expired")


def test_a_waiver_by_fingerprint_matches_only_that_finding() -> None:
    finding = make_finding()
    waiver = make_waiver(fingerprint=finding.fingerprint.upper())

    assert waiver.matches(finding)
    assert not waiver.matches(make_finding("app-2"))
    assert not waiver.matches(make_finding(tenant="fabrikam"))


def test_a_waiver_by_rule_and_resource_matches_any_tenant_and_check_unless_narrowed() -> None:
    broad = make_waiver(rule="credential-expired", resource_id="APP-1")
    narrow = make_waiver(rule="credential-expired", resource_id="app-1", check=CHECK, tenant="Contoso")

    assert broad.matches(make_finding())
    assert broad.matches(make_finding(tenant="fabrikam", check="x"))
    assert not broad.matches(make_finding(rule="credential-expiring"))
    assert not broad.matches(make_finding("app-2"))
    assert narrow.matches(make_finding())
    assert not narrow.matches(make_finding(tenant="fabrikam"))
    assert not narrow.matches(make_finding(check="other-check"))


def test_a_waiver_is_active_through_its_expiry_date() -> None:
    waiver = make_waiver(expires=date(2026, 12, 31), fingerprint="f" * 32)

    assert waiver.active(date(2026, 12, 30))
    assert waiver.active(date(2026, 12, 31))
    assert not waiver.active(date(2027, 1, 1))


def test_a_waived_finding_is_stored_but_not_announced_nor_counted(store: SqliteStateStore) -> None:
    finding, other = make_finding("app-1"), make_finding("app-2")
    waiver = make_waiver(rule="credential-expired", resource_id="app-1")

    transitions = store.reconcile(TENANT, CHECK, [finding, other], T0, [waiver])

    assert transitions == [Transition("new", other.fingerprint, other, None)]
    assert [(stored.finding.resource.id, stored.waived) for stored in store.findings()] == [
        ("app-1", waiver),
        ("app-2", None),
    ]
    assert store.open_counts() == {(TENANT, CHECK, Severity.HIGH): 1}


def test_a_waived_finding_gives_no_transitions_while_it_changes(store: SqliteStateStore) -> None:
    waiver = make_waiver(fingerprint=make_finding().fingerprint)
    store.reconcile(TENANT, CHECK, [make_finding()], T0, [waiver])

    assert store.reconcile(TENANT, CHECK, [make_finding(severity=Severity.CRITICAL)], at(1), [waiver]) == []
    assert store.reconcile(TENANT, CHECK, [], at(2), [waiver]) == []
    assert store.reconcile(TENANT, CHECK, [make_finding()], at(3), [waiver]) == []
    assert store.findings()[0].times_reopened == 1


def test_an_expired_waiver_stops_suppressing_and_the_finding_is_announced_once(
    store: SqliteStateStore,
) -> None:
    finding = make_finding()
    waiver = make_waiver(expires=date(2026, 12, 31), fingerprint=finding.fingerprint)
    store.reconcile(TENANT, CHECK, [finding], T0, [waiver])

    assert store.reconcile(TENANT, CHECK, [finding], LAST_DAY, [waiver]) == []
    assert store.reconcile(TENANT, CHECK, [finding], DAY_AFTER, [waiver]) == [
        Transition("new", finding.fingerprint, finding, None)
    ]
    assert store.reconcile(TENANT, CHECK, [finding], at(24 * 40), [waiver]) == []
    assert store.findings()[0].waived is None
    assert store.open_counts() == {(TENANT, CHECK, Severity.HIGH): 1}


def test_a_removed_waiver_announces_a_reopening_when_an_earlier_episode_was_announced(
    store: SqliteStateStore,
) -> None:
    finding = make_finding()
    waiver = make_waiver(fingerprint=finding.fingerprint)
    store.reconcile(TENANT, CHECK, [finding], T0, [])
    store.reconcile(TENANT, CHECK, [], at(1), [])
    assert store.reconcile(TENANT, CHECK, [finding], at(2), [waiver]) == []

    transitions = store.reconcile(TENANT, CHECK, [finding], at(3), [])

    assert transitions == [Transition("reopened", finding.fingerprint, finding, None)]


def test_waiving_an_announced_finding_silences_it_and_its_resolution_is_still_announced(
    store: SqliteStateStore,
) -> None:
    finding = make_finding()
    waiver = make_waiver(fingerprint=finding.fingerprint)
    store.reconcile(TENANT, CHECK, [finding], T0, [])

    assert store.reconcile(TENANT, CHECK, [finding], at(1), [waiver]) == []
    assert store.reconcile(TENANT, CHECK, [finding], at(2), []) == []
    assert store.reconcile(TENANT, CHECK, [], at(3), [waiver]) == [
        Transition("resolved", finding.fingerprint, finding, None)
    ]


def test_a_finding_waived_for_its_whole_life_resolves_silently(store: SqliteStateStore) -> None:
    waiver = make_waiver(rule="credential-expired", resource_id="app-1")
    store.reconcile(TENANT, CHECK, [make_finding()], T0, [waiver])

    assert store.reconcile(TENANT, CHECK, [], at(1), [waiver]) == []
    assert store.findings(status="resolved")[0].resolved_at == at(1)


def test_of_several_matching_waivers_the_longest_lasting_is_recorded(store: SqliteStateStore) -> None:
    short = make_waiver(expires=date(2026, 12, 1), rule="credential-expired", resource_id="app-1")
    long = make_waiver(expires=date(2027, 6, 30), fingerprint=make_finding().fingerprint)
    expired = make_waiver(expires=date(2026, 1, 1), rule="credential-expired", resource_id="app-1")

    store.reconcile(TENANT, CHECK, [make_finding()], T0, [short, expired, long])

    assert store.findings()[0].waived == long


def test_a_waiver_scoped_to_another_tenant_does_not_suppress(store: SqliteStateStore) -> None:
    waiver = make_waiver(rule="credential-expired", resource_id="app-1", tenant="fabrikam")

    transitions = store.reconcile(TENANT, CHECK, [make_finding()], T0, [waiver])

    assert [transition.kind for transition in transitions] == ["new"]
