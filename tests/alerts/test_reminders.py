"""Reminders: a finding still open at or above ``reminder_min_severity`` is announced again every
``reminder_interval_hours`` after its latest alert, at most once per interval across restarts, and
never while waived or after it resolves."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from monitor.alerts import AlertSettings, build_sinks
from monitor.alerts.dispatcher import AlertDispatcher
from monitor.check import Severity
from monitor.state import open_store
from monitor.storage import AsyncStore
from tests.alerts.factories import CHECK, T0, TENANT, at, make_finding
from tests.alerts.receiver import Receiver
from tests.state.factories import make_waiver

DAY = timedelta(hours=24)
HIGH = make_finding("app-high", severity=Severity.HIGH)
CRITICAL = make_finding("app-critical", severity=Severity.CRITICAL)
MEDIUM = make_finding("app-medium", severity=Severity.MEDIUM)
WAIVED = make_finding("app-waived", severity=Severity.CRITICAL)
WAIVER = make_waiver(resource_id="app-waived", rule="credential-expired")


def reminded(database: Path, now: datetime) -> list[tuple[str, str]]:
    """Open the store (a restart each time), write the reminders due at ``now``."""
    with open_store(database) as store:
        return [
            (alert.kind, alert.finding.resource.id)
            for alert in store.write_reminders(now, Severity.HIGH, DAY)
        ]


def test_still_open_severe_findings_are_reminded_once_per_interval_across_restarts(database: Path) -> None:
    with open_store(database) as store:
        store.reconcile(TENANT, CHECK, [HIGH, CRITICAL, MEDIUM, WAIVED], T0, [WAIVER])

    assert reminded(database, at(23.99)) == []
    # Most severe first; the medium one is below the minimum, the waived one never announced.
    assert reminded(database, at(24)) == [("reminder", "app-critical"), ("reminder", "app-high")]
    assert reminded(database, at(24)) == []
    assert reminded(database, at(47.99)) == []
    with open_store(database) as store:  # the checks keep seeing them: no effect on reminders
        store.reconcile(TENANT, CHECK, [HIGH, CRITICAL, MEDIUM, WAIVED], at(30), [WAIVER])
    assert reminded(database, at(48)) == [("reminder", "app-critical"), ("reminder", "app-high")]

    with open_store(database) as store:
        reminders = [alert for alert in store.alerts() if alert.kind == "reminder"]
    assert [(a.created, a.first_seen, a.finding.severity) for a in reminders] == [
        (at(24), T0, Severity.CRITICAL),
        (at(24), T0, Severity.HIGH),
        (at(48), T0, Severity.CRITICAL),
        (at(48), T0, Severity.HIGH),
    ]
    assert len({a.batch for a in reminders}) == 2  # one batch per round of one tenant's check
    assert len({a.key for a in reminders}) == 4


def test_a_newer_alert_restarts_the_interval_and_resolved_or_waived_findings_get_none(database: Path) -> None:
    with open_store(database) as store:
        store.reconcile(TENANT, CHECK, [HIGH, CRITICAL], T0, [])
        raised = make_finding("app-high", severity=Severity.CRITICAL)
        store.reconcile(TENANT, CHECK, [raised, CRITICAL], at(12), [])  # severity_raised at 12 h
        store.reconcile(TENANT, "other-check", [make_finding("other", check="other-check")], T0, [])

    assert reminded(database, at(24)) == [("reminder", "app-critical"), ("reminder", "other")]
    assert reminded(database, at(36)) == [("reminder", "app-high")]

    with open_store(database) as store:
        store.reconcile(
            TENANT, CHECK, [raised], at(40), [make_waiver(resource_id="app-high", rule="credential-expired")]
        )
        store.reconcile(TENANT, "other-check", [], at(40), [])
    # app-critical resolved, app-high waived, other resolved: nothing more.
    assert reminded(database, at(100)) == []


async def test_the_dispatcher_sends_reminders_to_the_sinks_that_take_them(
    database: Path, receiver: Receiver
) -> None:
    settings = AlertSettings.model_validate(
        {
            "reminder_interval_hours": 24,
            "sinks": [
                {"kind": "slack", "id": "all", "url": receiver.url("/all")},
                {"kind": "slack", "id": "changes", "url": receiver.url("/changes"), "transitions": ["new"]},
            ],
        }
    )
    now = [T0]
    store = await AsyncStore.open(database)
    dispatcher = AlertDispatcher(settings, build_sinks(settings), store, lambda: now[0])
    try:
        await store.reconcile(TENANT, CHECK, [HIGH], T0, [])
        first = await dispatcher.deliver()
        now[0] = at(24)
        second = await dispatcher.deliver()
        third = await dispatcher.deliver()
    finally:
        await dispatcher.aclose()
        await store.close()

    assert (first.reminders, second.reminders, third.reminders) == (0, 1, 0)
    sent = [(r.path, r.json["blocks"][0]["text"]["text"]) for r in receiver.received]
    assert sorted(sent) == sorted(
        [
            ("/all", "New high finding: credential-expired"),
            ("/changes", "New high finding: credential-expired"),
            ("/all", "Still open, high: credential-expired"),
        ]
    )


async def test_no_reminders_when_the_interval_is_zero(database: Path, receiver: Receiver) -> None:
    settings = AlertSettings.model_validate(
        {"reminder_interval_hours": 0, "sinks": [{"kind": "slack", "id": "all", "url": receiver.url()}]}
    )
    store = await AsyncStore.open(database)
    dispatcher = AlertDispatcher(settings, build_sinks(settings), store, lambda: at(24 * 30))
    try:
        await store.reconcile(TENANT, CHECK, [HIGH], T0, [])
        report = await dispatcher.deliver()
    finally:
        await dispatcher.aclose()
        await store.close()
    with open_store(database) as reopened:
        alerts = reopened.alerts()
    assert report.reminders == 0
    assert [alert.kind for alert in alerts] == ["new"]
    assert len(receiver.received) == 1


async def test_the_dispatcher_prunes_sent_alerts_past_retention_hourly(
    database: Path, receiver: Receiver
) -> None:
    settings = AlertSettings.model_validate(
        {
            "retention_days": 2,
            "reminder_min_severity": "critical",
            "sinks": [{"kind": "slack", "id": "all", "url": receiver.url()}],
        }
    )
    now = [T0]
    store = await AsyncStore.open(database)
    dispatcher = AlertDispatcher(settings, build_sinks(settings), store, lambda: now[0])
    seen: list[list[int]] = []
    try:
        await store.reconcile(TENANT, CHECK, [HIGH, MEDIUM], T0, [])
        await dispatcher.deliver()  # alerts 1, 2 (new) delivered; pruned at T0: nothing
        await store.reconcile(TENANT, CHECK, [HIGH], at(1), [])
        now[0] = at(1)
        await dispatcher.deliver()  # alert 3 (medium resolved) delivered; pruned: nothing
        for moment in (
            T0 + 2 * DAY - timedelta(minutes=10),
            T0 + 2 * DAY + timedelta(minutes=20),
            at(1) + 2 * DAY,
        ):
            now[0] = moment
            await dispatcher.deliver()
            with open_store(database) as reader:
                seen.append([alert.alert_id for alert in reader.alerts()])
    finally:
        await dispatcher.aclose()
        await store.close()
    # Two days less ten minutes: too young. Twenty minutes later alert 2 is past retention, but
    # the last prune was half an hour ago. An hour after that it goes (superseded by alert 3);
    # alert 1 is the high finding's latest and stays.
    assert seen == [[1, 2, 3], [1, 2, 3], [1, 3]]
