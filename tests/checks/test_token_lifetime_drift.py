"""token-lifetime-drift: every rule of ``evaluate`` on hand-made data at its boundaries, the
definition and TimeSpan parsing, and the change tracking (snapshot, diff, memory)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from checks.policy_snapshot import (
    PolicyChange,
    decode_snapshot,
    encode_snapshot,
    policy_changes,
    remember_changes,
)
from checks.token_lifetime_drift import (
    CA_POLICY,
    LIFETIME_POLICY,
    SNAPSHOT_KEY,
    TokenInventory,
    TokenLifetimeDrift,
    TokenLifetimeDriftSettings,
    parse_definition,
    parse_timespan,
    session_policy_from_graph,
    take_snapshot,
    token_policy_from_graph,
)
from monitor.baseline import load_baseline
from monitor.check import Finding, declaration_problems
from monitor.memory import Memory
from tests.support.checks import MemoryWatermarks

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
KINDS = (LIFETIME_POLICY, CA_POLICY)
SETTINGS = TokenLifetimeDriftSettings()
CHECK = TokenLifetimeDrift()


def token_policy(
    lifetime: str | None = None, *, definition: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    if definition is None:
        values = {"Version": 1} if lifetime is None else {"Version": 1, "AccessTokenLifetime": lifetime}
        definition = ['{"TokenLifetimePolicy":' + json.dumps(values) + "}"]
    return {
        "id": "tlp-1",
        "displayName": "Tokens",
        "definition": definition,
        "isOrganizationDefault": False,
        **extra,
    }


def ca_policy(state: str = "enabled", **session: Any) -> dict[str, Any]:
    return {"id": "ca-1", "displayName": "Sessions", "state": state, "sessionControls": session or None}


def frequency(value: Any, kind: Any = "hours", **extra: Any) -> dict[str, Any]:
    return {"isEnabled": True, "type": kind, "value": value, "frequencyInterval": "timeBased", **extra}


def evaluate(
    tokens: list[dict[str, Any]] = (),  # type: ignore[assignment]
    sessions: list[dict[str, Any]] = (),  # type: ignore[assignment]
    changes: tuple[PolicyChange, ...] = (),
    now: datetime = NOW,
) -> list[Finding]:
    data = TokenInventory(
        tuple(token_policy_from_graph(p) for p in tokens),
        tuple(session_policy_from_graph(p) for p in sessions),
        changes,
    )
    return CHECK.evaluate(data, SETTINGS, now)


def rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.resource.id) for f in findings]


# -- declarations and settings ----------------------------------------------------------------


def test_the_check_is_well_declared_and_read_only() -> None:
    assert declaration_problems(TokenLifetimeDrift) == []
    assert TokenLifetimeDrift.permissions == ("Policy.Read.All", "Application.Read.All")


def test_the_settings_come_from_the_baseline() -> None:
    defaults = TokenLifetimeDrift.baseline_defaults(load_baseline())
    assert defaults == {
        "access_token_lifetime_minutes": 60,
        "access_token_tolerance_minutes": 15,
        "refresh_token_days": 90,
        "session_hours": 8,
    }
    assert TokenLifetimeDriftSettings.model_validate(defaults) == SETTINGS
    assert SETTINGS.changed_open_days == 7


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01:00:00", timedelta(hours=1)),
        ("1.00:00:00", timedelta(days=1)),
        ("23:59:59", timedelta(hours=23, minutes=59, seconds=59)),
        ("00:90:00", timedelta(minutes=90)),
        ("01:15:00.5", timedelta(hours=1, minutes=15, seconds=0.5)),
        (" 00:10:00 ", timedelta(minutes=10)),
        ("until-revoked", None),
        ("1:00", None),
        ("", None),
        (None, None),
        (60, None),
    ],
)
def test_timespans(text: object, expected: timedelta | None) -> None:
    assert parse_timespan(text) == expected


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (
            ['{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"08:00:00"}}'],
            {"Version": 1, "AccessTokenLifetime": "08:00:00"},
        ),
        (
            ['{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"20:00:00",}}'],
            {"Version": 1, "AccessTokenLifetime": "20:00:00"},
        ),
        (["not json", '{"Other":{}}', '{"TokenLifetimePolicy":{"Version":1}}'], {"Version": 1}),
        (['{"TokenLifetimePolicy":"x"}'], None),
        (["[1, 2]", None, 3], None),
        ([], None),
        (None, None),
        ("{}", None),
    ],
)
def test_definitions(definition: object, expected: dict[str, Any] | None) -> None:
    assert parse_definition(definition) == expected


# -- access-token-lifetime-drift ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "drifts"),
    [
        ("01:00:00", False),
        ("01:15:00", False),  # exactly the tolerance above
        ("01:15:01", True),  # one second beyond
        ("01:14:59", False),
        ("00:45:00", False),  # exactly the tolerance below
        ("00:44:59", True),
        ("00:45:01", False),
        ("08:00:00", True),
        ("1.00:00:00", True),
        ("until-revoked", False),
        (None, False),
    ],
)
def test_access_token_lifetime_drift_boundaries(lifetime: str | None, drifts: bool) -> None:
    expected = [("access-token-lifetime-drift", "tlp-1")] if drifts else []
    assert rules(evaluate([token_policy(lifetime)])) == expected


def test_a_drift_explains_itself_with_the_targets_and_default_flag() -> None:
    raw = token_policy("08:00:00", isOrganizationDefault=True)
    targets = [
        {"@odata.type": "#microsoft.graph.application", "id": "app-2", "appId": "b", "displayName": "Two"},
        {
            "@odata.type": "#microsoft.graph.servicePrincipal",
            "id": "sp-1",
            "appId": "a",
            "displayName": "One",
        },
    ]
    data = TokenInventory((token_policy_from_graph(raw, targets),), ())
    (finding,) = CHECK.evaluate(data, SETTINGS, NOW)
    assert finding.message == (
        "The token-lifetime policy 'Tokens' issues access tokens valid for 480 minutes, longer than "
        "the baseline of 60 minutes by more than 15 minutes."
    )
    assert finding.evidence == {
        "policyId": "tlp-1",
        "displayName": "Tokens",
        "isOrganizationDefault": True,
        "appliesTo": [
            {"id": "app-2", "appId": "b", "displayName": "Two", "type": "application"},
            {"id": "sp-1", "appId": "a", "displayName": "One", "type": "servicePrincipal"},
        ],
        "accessTokenLifetime": "08:00:00",
        "accessTokenLifetimeMinutes": 480.0,
        "baselineMinutes": 60,
        "toleranceMinutes": 15,
    }
    assert finding.severity.label == "medium"
    assert finding.references


def test_unreadable_and_missing_definitions_break_no_rule() -> None:
    policies = [
        token_policy(definition=["{broken"]),
        token_policy(definition=[]),
        {"id": "tlp-2", "displayName": None, "definition": None, "isOrganizationDefault": None},
    ]
    assert evaluate(policies) == []


# -- retired-token-property -------------------------------------------------------------------


def test_retired_properties_are_reported_once_per_policy_with_their_values() -> None:
    definition = [
        '{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"01:00:00",'
        '"MaxInactiveTime":"90.00:00:00","MaxAgeSessionSingleFactor":"until-revoked",'
        '"SingleFactorRefreshTokenMaxAge":null,}}'
    ]
    (finding,) = evaluate([token_policy(definition=definition)])
    assert (finding.rule, finding.severity.label) == ("retired-token-property", "low")
    assert finding.evidence["retiredProperties"] == {
        "MaxInactiveTime": "90.00:00:00",
        "MaxAgeSessionSingleFactor": "until-revoked",
        "SingleFactorRefreshTokenMaxAge": None,
    }
    assert finding.evidence["refreshTokenDays"] == 90
    assert "90 days of inactivity" in finding.message
    assert finding.message.endswith(".")


def test_a_policy_can_drift_and_carry_retired_properties() -> None:
    definition = [
        '{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"04:00:00","MaxAgeMultiFactor":"1.00:00:00"}}'
    ]
    assert rules(evaluate([token_policy(definition=definition)])) == [
        ("access-token-lifetime-drift", "tlp-1"),
        ("retired-token-property", "tlp-1"),
    ]


# -- session controls ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("control", "exceeds"),
    [
        (frequency(8), False),  # exactly the baseline
        (frequency(9), True),
        (frequency(1, "days"), True),
        (frequency(24), True),
        (frequency(24, frequencyInterval=None), True),  # null interval: time based
        ({"isEnabled": True, "type": "hours", "value": 24}, True),
        (frequency(24, isEnabled=False), False),
        (frequency(24, isEnabled=None), False),
        (frequency(None, None, frequencyInterval="everyTime"), False),
        (frequency(24, None), False),
        (frequency(24, "weeks"), False),
        (frequency("24"), False),
        (frequency(True), False),
        (None, False),
    ],
)
def test_sign_in_frequency_boundaries(control: dict[str, Any] | None, exceeds: bool) -> None:
    expected = [("sign-in-frequency-exceeds-baseline", "ca-1")] if exceeds else []
    assert rules(evaluate(sessions=[ca_policy(signInFrequency=control)])) == expected


@pytest.mark.parametrize(
    ("control", "persistent"),
    [
        ({"isEnabled": True, "mode": "always"}, True),
        ({"isEnabled": True, "mode": "never"}, False),
        ({"isEnabled": False, "mode": "always"}, False),
        ({"mode": "always"}, False),
        (None, False),
    ],
)
def test_persistent_browser(control: dict[str, Any] | None, persistent: bool) -> None:
    expected = [("persistent-browser-session", "ca-1")] if persistent else []
    assert rules(evaluate(sessions=[ca_policy(persistentBrowser=control)])) == expected


@pytest.mark.parametrize("state", ["disabled", "enabledForReportingButNotEnforced", "", None])
def test_only_enabled_policies_are_judged(state: str | None) -> None:
    policy = ca_policy(
        signInFrequency=frequency(30, "days"), persistentBrowser={"isEnabled": True, "mode": "always"}
    )
    policy["state"] = state
    assert evaluate(sessions=[policy]) == []


def test_session_findings_explain_themselves() -> None:
    policy = ca_policy(signInFrequency=frequency(24), persistentBrowser={"isEnabled": True, "mode": "always"})
    first, second = evaluate(sessions=[policy])
    assert first.message == (
        "The conditional-access policy 'Sessions' lets sessions last 24 hours before signing in "
        "again, longer than the baseline of 8 hours."
    )
    assert first.evidence == {
        "policyId": "ca-1",
        "displayName": "Sessions",
        "state": "enabled",
        "signInFrequency": frequency(24),
        "sessionHours": 8,
    }
    assert second.rule == "persistent-browser-session"
    assert second.evidence["persistentBrowser"] == {"isEnabled": True, "mode": "always"}


def test_missing_and_empty_session_controls_break_nothing() -> None:
    assert (
        evaluate(sessions=[ca_policy(), {"id": "ca-2", "state": "enabled"}, ca_policy(signInFrequency={})])
        == []
    )
    assert evaluate() == []


# -- token-policy-changed: snapshots and diffs ------------------------------------------------


def snapshot(tokens: list[dict[str, Any]], sessions: list[dict[str, Any]] = ()) -> Any:  # type: ignore[assignment]
    return take_snapshot(
        [token_policy_from_graph(p, p.get("targets", ())) for p in tokens],
        [session_policy_from_graph(p) for p in sessions],
    )


def test_a_definition_change_is_diffed_property_by_property() -> None:
    before = snapshot([token_policy("01:00:00")])
    after = snapshot([token_policy("02:00:00")])
    (change,) = policy_changes(before, after, NOW)
    assert (change.resource_type, change.policy_id, change.detected_at) == (LIFETIME_POLICY, "tlp-1", NOW)
    assert change.before == {"definition.AccessTokenLifetime": "01:00:00"}
    assert change.after == {"definition.AccessTokenLifetime": "02:00:00"}


def test_formatting_and_null_controls_are_not_changes() -> None:
    spaced = token_policy(
        definition=['{ "TokenLifetimePolicy": { "Version": 1, "AccessTokenLifetime": "01:00:00", } }']
    )
    assert policy_changes(snapshot([token_policy("01:00:00")]), snapshot([spaced]), NOW) == []
    empty = {**ca_policy(), "sessionControls": {"signInFrequency": None, "persistentBrowser": None}}
    assert policy_changes(snapshot([], [ca_policy()]), snapshot([], [empty]), NOW) == []


def test_name_default_flag_targets_and_state_are_tracked() -> None:
    before = snapshot([token_policy("01:00:00")], [ca_policy(signInFrequency=frequency(4))])
    renamed = token_policy("01:00:00", displayName="Renamed", isOrganizationDefault=True)
    renamed["targets"] = [{"id": "app-1", "displayName": "One"}]
    after = snapshot([renamed], [ca_policy("disabled", signInFrequency=frequency(4))])
    token_change, session_change = policy_changes(before, after, NOW)
    assert token_change.before == {"appliesTo": [], "displayName": "Tokens", "isOrganizationDefault": False}
    assert token_change.after == {
        "appliesTo": ["app-1"],
        "displayName": "Renamed",
        "isOrganizationDefault": True,
    }
    assert token_change.display_name == "Renamed"
    assert (session_change.resource_type, session_change.before, session_change.after) == (
        CA_POLICY,
        {"state": "enabled"},
        {"state": "disabled"},
    )


def test_added_and_deleted_policies_are_changes() -> None:
    old = {**token_policy("01:00:00"), "id": "tlp-old", "displayName": "Old"}
    new = {**token_policy("01:00:00"), "id": "tlp-new", "displayName": "New"}
    added, deleted = policy_changes(snapshot([old]), snapshot([new]), NOW)
    assert (added.policy_id, added.before, added.display_name) == ("tlp-new", None, "New")
    assert added.after == {
        "appliesTo": [],
        "definition.AccessTokenLifetime": "01:00:00",
        "definition.Version": 1,
        "displayName": "New",
        "isOrganizationDefault": False,
    }
    assert (deleted.policy_id, deleted.after, deleted.display_name) == ("tlp-old", None, "Old")


def test_a_snapshot_survives_the_watermark_and_a_foreign_one_is_refused() -> None:
    taken = snapshot([token_policy("01:00:00")], [ca_policy(signInFrequency=frequency(4))])
    assert decode_snapshot(encode_snapshot(taken), KINDS, SNAPSHOT_KEY) == taken
    assert decode_snapshot(None, KINDS, SNAPSHOT_KEY) is None
    with pytest.raises(ValueError, match="policy-snapshot"):
        decode_snapshot('{"format": 99}', KINDS, SNAPSHOT_KEY)
    with pytest.raises(ValueError, match="delete it to start afresh"):
        decode_snapshot("not json", KINDS, SNAPSHOT_KEY)


# -- token-policy-changed: memory and findings ------------------------------------------------


def test_the_first_run_only_remembers() -> None:
    memory = Memory("changes", loaded=False)
    assert remember_changes(memory, None, snapshot([token_policy("08:00:00")]), NOW, 7) == []
    assert len(memory) == 0


def test_a_change_stays_reported_for_the_open_days_then_is_forgotten() -> None:
    memory = Memory("changes", loaded=False)
    before, after = snapshot([token_policy("01:00:00")]), snapshot([token_policy("02:00:00")])
    (seen,) = remember_changes(memory, before, after, NOW, 7)
    watermarks = MemoryWatermarks()
    asyncio.run(memory.save(watermarks))
    reloaded = asyncio.run(Memory.load(watermarks, "changes"))
    at_limit = NOW + timedelta(days=7)
    assert remember_changes(reloaded, after, after, at_limit, 7) == [seen]
    assert rules(evaluate(changes=(seen,), now=at_limit)) == [("token-policy-changed", "tlp-1")]
    later = at_limit + timedelta(seconds=1)
    assert evaluate(changes=(seen,), now=later) == []
    assert remember_changes(reloaded, after, after, later, 7) == []


def test_changes_of_one_policy_make_one_finding_with_every_diff() -> None:
    first = PolicyChange(LIFETIME_POLICY, "tlp-1", "Tokens", NOW - timedelta(days=2), {"a": 1}, {"a": 2})
    second = PolicyChange(
        LIFETIME_POLICY, "tlp-1", "Tokens 2", NOW, {"displayName": "Tokens"}, {"displayName": "Tokens 2"}
    )
    deleted = PolicyChange(CA_POLICY, "ca-1", "Sessions", NOW, {"state": "enabled"}, None)
    future = PolicyChange(CA_POLICY, "ca-2", "Later", NOW + timedelta(seconds=1), None, {"state": "enabled"})
    found = evaluate(changes=(second, deleted, first, future))
    assert [(f.rule, f.severity.label, f.resource.type, f.resource.id) for f in found] == [
        ("token-policy-changed", "info", CA_POLICY, "ca-1"),
        ("token-policy-changed", "info", LIFETIME_POLICY, "tlp-1"),
    ]
    session, token = found
    assert (
        session.message
        == "The conditional-access policy 'Sessions' was deleted; seen on 2026-11-27T12:00:00Z."
    )
    assert token.message == (
        "The token-lifetime policy 'Tokens 2' changed (displayName); seen on 2026-11-27T12:00:00Z."
    )
    assert token.evidence == {
        "policyId": "tlp-1",
        "displayName": "Tokens 2",
        "changedOpenDays": 7,
        "changes": [
            {"detectedAt": "2026-11-25T12:00:00Z", "before": {"a": 1}, "after": {"a": 2}},
            {
                "detectedAt": "2026-11-27T12:00:00Z",
                "before": {"displayName": "Tokens"},
                "after": {"displayName": "Tokens 2"},
            },
        ],
    }


def test_an_offset_detection_time_counts_in_utc() -> None:
    at = datetime(2026, 11, 20, 13, tzinfo=UTC).astimezone(timezone(timedelta(hours=1)))
    change = PolicyChange(CA_POLICY, "ca-1", "Sessions", at, None, {"state": "enabled"})
    (finding,) = evaluate(changes=(change,), now=NOW + timedelta(hours=1))
    assert finding.evidence["changes"][0]["detectedAt"] == "2026-11-20T13:00:00Z"
    assert evaluate(changes=(change,), now=NOW + timedelta(hours=1, seconds=1)) == []
