"""The outbox in the state database: reconcile writes one alert per transition in its own
transaction; alerts fan out to sinks; deliveries come due in order per sink and settle once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from monitor.check import Severity
from monitor.errors import StateError
from monitor.state import SqliteStateStore, open_store
from monitor.state.sqlite import idempotency_key
from monitor.state.store import Alert
from tests.alerts.factories import CHECK, T0, TENANT, at, findings, make_finding
from tests.state.factories import make_waiver


def everything(_: Alert) -> bool:
    return True


def test_reconcile_writes_one_alert_per_transition_in_order(store: SqliteStateStore) -> None:
    first = findings(2)
    raised = make_finding("app-0", severity=Severity.CRITICAL)
    store.reconcile(TENANT, CHECK, first, T0, [])
    transitions = store.reconcile(TENANT, CHECK, [raised], at(1), [])

    alerts = store.alerts()

    assert [(alert.alert_id, alert.kind, alert.fingerprint) for alert in alerts] == [
        (1, "new", first[0].fingerprint),
        (2, "new", first[1].fingerprint),
        (3, "severity_raised", raised.fingerprint),
        (4, "resolved", first[1].fingerprint),
    ]
    assert [transition.kind for transition in transitions] == ["severity_raised", "resolved"]
    assert alerts[2].finding == raised
    assert alerts[2].previous_severity == Severity.HIGH
    assert [alert.created for alert in alerts] == [T0, T0, at(1), at(1)]
    assert [alert.first_seen for alert in alerts] == [T0, T0, T0, T0]
    assert len({alert.key for alert in alerts}) == 4


def test_no_alert_without_a_transition(store: SqliteStateStore) -> None:
    store.reconcile(TENANT, CHECK, findings(1), T0, [])
    store.reconcile(TENANT, CHECK, findings(1), at(1), [])
    store.reconcile(
        TENANT,
        "other-check",
        [make_finding("x", check="other-check")],
        at(1),
        [make_waiver(check="other-check", rule="credential-expired", resource_id="x")],
    )

    assert [alert.kind for alert in store.alerts()] == ["new"]


def test_findings_and_their_alerts_are_one_transaction(store: SqliteStateStore, database: Path) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("DROP TABLE deliveries")
        connection.execute("DROP TABLE alerts")
    connection.close()

    with pytest.raises(StateError, match="no such table: alerts"):
        store.reconcile(TENANT, CHECK, findings(2), T0, [])

    assert store.findings(status=None) == []


def test_routing_fans_out_once_to_the_sinks_that_accept(store: SqliteStateStore) -> None:
    store.reconcile(TENANT, CHECK, [*findings(1), make_finding("low", severity=Severity.LOW)], T0, [])
    accepts = {"all": everything, "high-only": lambda alert: alert.finding.severity >= Severity.HIGH}

    assert store.route_alerts(accepts, T0) == 3
    assert store.route_alerts(accepts, T0) == 0
    assert store.route_alerts({**accepts, "late": everything}, T0) == 0
    deliveries = store.deliveries()
    assert [(d.alert.alert_id, d.sink, d.status, d.attempts) for d in deliveries] == [
        (1, "all", "pending", 0),
        (1, "high-only", "pending", 0),
        (2, "all", "pending", 0),
    ]
    assert [d.idempotency_key for d in deliveries] == [
        idempotency_key(d.alert.key, d.sink) for d in deliveries
    ]
    assert len({d.idempotency_key for d in deliveries}) == 3


def test_a_delivery_waiting_for_its_back_off_holds_back_later_ones_of_its_sink_only(
    store: SqliteStateStore,
) -> None:
    store.reconcile(TENANT, CHECK, findings(3), T0, [])
    store.route_alerts({"a": everything, "b": everything}, T0)

    (failed,) = store.mark_failed([1], "a", "the webhook sink answered HTTP 503", at(1))

    assert (failed.status, failed.attempts, failed.next_attempt, failed.last_error) == (
        "pending",
        1,
        at(1),
        "the webhook sink answered HTTP 503",
    )
    assert [(d.alert.alert_id, d.sink) for d in store.due_deliveries(T0, ["a", "b"])] == [
        (1, "b"),
        (2, "b"),
        (3, "b"),
    ]
    assert [(d.alert.alert_id, d.sink) for d in store.due_deliveries(at(1), ["a"])] == [
        (1, "a"),
        (2, "a"),
        (3, "a"),
    ]
    assert [(d.alert.alert_id, d.sink) for d in store.due_deliveries(at(1), ["a", "b"], limit=2)] == [
        (1, "a"),
        (1, "b"),
    ]
    assert store.due_deliveries(at(1), ["unknown"]) == []


def test_delivered_and_parked_settle_for_good(store: SqliteStateStore) -> None:
    store.reconcile(TENANT, CHECK, findings(3), T0, [])
    store.route_alerts({"a": everything}, T0)

    store.mark_delivered([1], "a", at(1))
    store.park([2], "a", at(1), "the webhook sink answered HTTP 400 Bad Request")

    assert [d.alert.alert_id for d in store.due_deliveries(at(1), ["a"])] == [3]
    (parked,) = store.deliveries("parked")
    assert (parked.alert.alert_id, parked.attempts, parked.finished, parked.last_error) == (
        2,
        1,
        at(1),
        "the webhook sink answered HTTP 400 Bad Request",
    )
    (delivered,) = store.deliveries("delivered", sink="a")
    assert (delivered.alert.alert_id, delivered.attempts, delivered.finished) == (1, 1, at(1))
    for settle in (
        lambda: store.mark_delivered([1], "a", at(2)),
        lambda: store.mark_failed([2], "a", "again", at(2)),
        lambda: store.park([9], "a", at(2), "none"),
    ):
        with pytest.raises(ValueError, match="no pending delivery"):
            settle()
    with pytest.raises(ValueError, match="unknown delivery status"):
        store.deliveries("lost")


def test_the_outbox_survives_reopening_the_file(database: Path) -> None:
    with open_store(database) as store:
        store.reconcile(TENANT, CHECK, findings(2), T0, [])
        store.route_alerts({"a": everything}, T0)
        store.mark_failed([1], "a", "down", at(1))
        before = store.deliveries()

    with open_store(database) as store:
        assert store.deliveries() == before
        assert [d.alert.alert_id for d in store.due_deliveries(at(1), ["a"])] == [1, 2]
        assert [d.idempotency_key for d in store.deliveries()] == [d.idempotency_key for d in before]


def test_one_message_settles_all_its_alerts_or_none(store: SqliteStateStore) -> None:
    store.reconcile(TENANT, CHECK, findings(3), T0, [])
    store.route_alerts({"a": everything}, T0)
    store.mark_delivered([2], "a", at(1))

    with pytest.raises(ValueError, match="no pending delivery of alert 2 to sink 'a'"):
        store.mark_delivered([1, 2, 3], "a", at(1))
    assert [(d.alert.alert_id, d.status, d.attempts) for d in store.deliveries()] == [
        (1, "pending", 0),
        (2, "delivered", 1),
        (3, "pending", 0),
    ]

    failed = store.mark_failed([1, 3], "a", "the sink answered HTTP 503", at(2))
    assert [(d.alert.alert_id, d.attempts, d.next_attempt) for d in failed] == [(1, 1, at(2)), (3, 1, at(2))]


def test_pruning_keeps_pending_alerts_and_each_findings_latest(store: SqliteStateStore) -> None:
    first = findings(3)
    store.reconcile(TENANT, CHECK, first, T0, [])  # alerts 1-3: new
    store.reconcile(TENANT, CHECK, first[:1], at(1), [])  # alerts 4, 5: app-1, app-2 resolved
    store.route_alerts({"a": everything}, at(1))
    store.mark_delivered([1, 2, 4], "a", at(1))
    store.park([5], "a", at(1), "the sink answered HTTP 400")
    # alert 3 (app-2 new) is still pending: it stays whatever its age
    store.reconcile(TENANT, CHECK, first[1:2], at(2), [])  # alert 6: app-0 resolved, 7: app-1 reopened

    removed = store.prune_alerts(at(3))

    # 1 (app-0 new, superseded by 6) and 2 (app-1 new) and 4 (app-1 resolved, superseded by 7) go;
    # 3 is pending; 5 is app-2's latest; 6 and 7 are unrouted but the latest of their findings.
    assert removed == 3
    assert [alert.alert_id for alert in store.alerts()] == [3, 5, 6, 7]
    assert [(d.alert.alert_id, d.status) for d in store.deliveries()] == [(3, "pending"), (5, "parked")]
    assert store.prune_alerts(at(3)) == 0
    store.reconcile(TENANT, CHECK, first, at(4), [])
    assert min(alert.alert_id for alert in store.alerts(after=7)) == 8  # ids are never reused


def test_pruning_spares_what_is_younger_than_the_cut(store: SqliteStateStore) -> None:
    first = findings(2)
    store.reconcile(TENANT, CHECK, first, T0, [])
    store.reconcile(TENANT, CHECK, [], at(2), [])
    store.route_alerts({"a": everything}, at(2))
    store.mark_delivered([1, 2, 3, 4], "a", at(2))

    assert store.prune_alerts(T0) == 0
    assert store.prune_alerts(at(1)) == 2
    assert [alert.kind for alert in store.alerts()] == ["resolved", "resolved"]
