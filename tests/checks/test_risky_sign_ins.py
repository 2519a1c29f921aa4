"""risky-sign-ins rules on hand-made data: risk levels and outcomes, single-factor, retention at
its boundary, timestamps naive and offset, missing and null fields, the read window, the de-duplication
of events read twice, and Identity Protection without a licence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checks.risky_sign_ins import (
    DETECTION_MEMORY,
    SIGN_IN_MEMORY,
    SIGN_IN_WATERMARK,
    RiskySignIn,
    RiskySignInData,
    RiskySignIns,
    RiskySignInsSettings,
    RiskyUser,
    read_risky_sign_ins,
    risk_filter,
    risky_user_from_graph,
    sign_in_from_graph,
    sign_in_rules,
    window_start,
)
from monitor.check import CheckContext, Measurement, Severity
from monitor.errors import GraphLicenseError
from monitor.memory import Memory
from tests.support.checks import MemoryWatermarks
from tests.support.fake_graph import FakeGraph

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SETTINGS = RiskySignInsSettings()
MFA = "multiFactorAuthentication"
SINGLE = "singleFactorAuthentication"


def graph_sign_in(
    identifier: str = "s1",
    *,
    created: object = "2026-11-27T11:00:00Z",
    level: object = "high",
    error_code: object = 0,
    requirement: object = MFA,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": identifier,
        "createdDateTime": created,
        "userId": "u1",
        "userPrincipalName": "ada@contoso.com",
        "appDisplayName": "Platform APIs",
        "ipAddress": "203.0.113.9",
        "location": {"city": "Lagos", "state": None, "countryOrRegion": "NG"},
        "riskLevelDuringSignIn": level,
        "riskLevelAggregated": level,
        "status": {"errorCode": error_code, "failureReason": "Other."},
        "authenticationRequirement": requirement,
        **extra,
    }


def parsed(**fields: Any) -> RiskySignIn:
    sign_in = sign_in_from_graph(graph_sign_in(**fields))
    assert sign_in is not None
    return sign_in


def evaluate(data: RiskySignInData, now: datetime = NOW) -> set[tuple[str, Severity, str, str]]:
    return {
        (f.rule, f.severity, f.resource.type, f.resource.id)
        for f in RiskySignIns().evaluate(data, SETTINGS, now)
    }


# -- sign-in rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "error_code", "requirement", "rules"),
    [
        ("high", 0, MFA, ["high-risk-sign-in-succeeded"]),
        ("high", 0, SINGLE, ["high-risk-sign-in-succeeded", "risky-sign-in-single-factor"]),
        ("medium", 0, MFA, ["medium-risk-sign-in-succeeded"]),
        ("medium", 0, SINGLE, ["medium-risk-sign-in-succeeded", "risky-sign-in-single-factor"]),
        ("low", 0, SINGLE, ["risky-sign-in-single-factor"]),
        ("low", 0, MFA, []),
        ("none", 0, SINGLE, []),
        ("hidden", 0, SINGLE, []),  # a tenant without P2: the risk is not known
        ("unknownFutureValue", 0, SINGLE, []),
        (None, 0, SINGLE, []),
        ("high", 50126, SINGLE, []),  # a failed attempt was stopped
        ("high", 53003, MFA, []),
        ("high", None, SINGLE, []),  # null errorCode is not proof of success
        ("high", "0", SINGLE, []),  # nor is a string
        ("high", False, SINGLE, []),  # nor a boolean (False == 0 in Python)
        ("medium", 0, None, ["medium-risk-sign-in-succeeded"]),  # v1.0: no requirement field
        ("medium", 0, "singlefactorauthentication", ["medium-risk-sign-in-succeeded"]),
    ],
)
def test_the_rules_of_one_sign_in(
    level: object, error_code: object, requirement: object, rules: list[str]
) -> None:
    assert sign_in_rules(parsed(level=level, error_code=error_code, requirement=requirement)) == rules


def test_a_sign_in_without_status_is_not_a_success() -> None:
    sign_in = sign_in_from_graph({**graph_sign_in(), "status": None})
    assert sign_in is not None
    assert sign_in.error_code is None
    assert sign_in_rules(sign_in) == []
    without = {key: value for key, value in graph_sign_in().items() if key != "status"}
    assert sign_in_rules(sign_in_from_graph(without)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("created", [None, "", "not a date", "0001-01-01T00:00:00Z", 1764244800])
def test_a_sign_in_without_a_usable_time_or_id_is_skipped(created: object) -> None:
    assert sign_in_from_graph(graph_sign_in(created=created)) is None


@pytest.mark.parametrize("identifier", [None, "", 7])
def test_a_sign_in_without_an_id_is_skipped(identifier: object) -> None:
    assert sign_in_from_graph({**graph_sign_in(), "id": identifier}) is None


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2026-11-27T11:00:00Z", datetime(2026, 11, 27, 11, tzinfo=UTC)),
        ("2026-11-27T11:00:00.1234567Z", datetime(2026, 11, 27, 11, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-27T11:00:00", datetime(2026, 11, 27, 11, tzinfo=UTC)),  # naive: Graph's UTC
        ("2026-11-27T12:00:00+01:00", datetime(2026, 11, 27, 11, tzinfo=UTC)),
        ("2026-11-27T06:00:00-5:00", datetime(2026, 11, 27, 11, tzinfo=UTC)),
    ],
)
def test_timestamps_are_read_as_utc(created: str, expected: datetime) -> None:
    assert parsed(created=created).created == expected


def test_a_sign_in_is_reported_for_retention_days_after_it_happened() -> None:
    sign_in = parsed(created="2026-10-28T12:00:00Z")  # exactly 30 days before NOW
    data = RiskySignInData((sign_in,))
    reported = {("high-risk-sign-in-succeeded", Severity.CRITICAL, "signIn", "s1")}
    assert evaluate(data, NOW) == reported
    assert evaluate(data, NOW - timedelta(seconds=1)) == reported
    assert evaluate(data, NOW + timedelta(seconds=1)) == set()


def test_an_offset_time_counts_at_its_utc_instant_for_retention() -> None:
    sign_in = parsed(created="2026-10-28T13:00:00+01:00")  # 12:00 UTC, exactly 30 days before
    assert len(evaluate(RiskySignInData((sign_in,)), NOW)) == 1
    assert evaluate(RiskySignInData((sign_in,)), NOW + timedelta(seconds=1)) == set()


def test_the_finding_explains_the_sign_in() -> None:
    (finding, single) = RiskySignIns().evaluate(RiskySignInData((parsed(requirement=SINGLE),)), SETTINGS, NOW)
    assert finding.message == (
        "The sign-in of 'ada@contoso.com' to Platform APIs on 2026-11-27T11:00:00Z from 203.0.113.9 "
        "(NG) succeeded although Identity Protection rated it high risk (risk level high, "
        "authentication requirement singleFactorAuthentication)."
    )
    assert finding.resource.display_name == "ada@contoso.com"
    assert finding.evidence["status"] == {"errorCode": 0, "failureReason": "Other."}
    assert finding.evidence["location"] == {"city": "Lagos", "state": None, "countryOrRegion": "NG"}
    assert finding.evidence["authenticationRequirement"] == SINGLE
    assert finding.remediation
    assert finding.references
    assert single.rule == "risky-sign-in-single-factor"
    assert single.message.endswith(".")


def test_a_sign_in_with_missing_fields_still_explains_itself() -> None:
    bare = sign_in_from_graph(
        {
            "id": "s2",
            "createdDateTime": "2026-11-27T10:00:00Z",
            "riskLevelDuringSignIn": "medium",
            "status": {"errorCode": 0},
        }
    )
    assert bare is not None
    (finding,) = RiskySignIns().evaluate(RiskySignInData((bare,)), SETTINGS, NOW)
    assert finding.message == (
        "The sign-in of '' to an application on 2026-11-27T10:00:00Z succeeded although Identity "
        "Protection rated it medium risk (risk level medium, authentication requirement unknown)."
    )
    assert finding.evidence["riskEventTypes_v2"] == []
    assert finding.evidence["location"] == {"city": None, "state": None, "countryOrRegion": None}


def test_nothing_to_report() -> None:
    assert RiskySignIns().evaluate(RiskySignInData(()), SETTINGS, NOW) == []
    assert RiskySignIns().evaluate(RiskySignInData((), None), SETTINGS, NOW) == []


# -- users at risk ------------------------------------------------------------------------------


def user(identifier: str, state: object, level: object = "high") -> RiskyUser:
    return risky_user_from_graph(
        {
            "id": identifier,
            "userPrincipalName": f"{identifier}@contoso.com",
            "userDisplayName": identifier.title(),
            "riskLevel": level,
            "riskState": state,
        }
    )


def test_users_at_risk_or_confirmed_compromised_are_reported() -> None:
    users = tuple(
        user(name, state)
        for name, state in [
            ("a", "atRisk"),
            ("b", "confirmedCompromised"),
            ("c", "dismissed"),
            ("d", "remediated"),
            ("e", "confirmedSafe"),
            ("f", "none"),
            ("g", None),
            ("h", "unknownFutureValue"),
            ("i", "AtRisk"),  # enum values are case-sensitive camelCase
        ]
    )
    assert evaluate(RiskySignInData((), users)) == {
        ("user-at-risk", Severity.HIGH, "user", "a"),
        ("user-at-risk", Severity.HIGH, "user", "b"),
    }


def test_a_user_at_risk_carries_the_detections_newest_first() -> None:
    detections = {
        "a": (
            {
                "id": "d1",
                "userId": "A",
                "riskEventType": "unfamiliarFeatures",
                "detectedDateTime": "2026-11-01T00:00:00Z",
            },
            {
                "id": "d2",
                "userId": "A",
                "riskEventType": "anonymizedIPAddress",
                "detectedDateTime": "2026-11-20T00:00:00Z",
            },
        )
    }
    (finding,) = RiskySignIns().evaluate(
        RiskySignInData((), (user("A", "atRisk"),), detections), SETTINGS, NOW
    )
    assert [d["id"] for d in finding.evidence["riskDetections"]] == ["d2", "d1"]
    assert finding.evidence["riskState"] == "atRisk"
    assert finding.message == (
        "Identity Protection holds user 'A@contoso.com' at risk (risk level high, state atRisk) after "
        "anonymizedIPAddress, unfamiliarFeatures."
    )
    (plain,) = RiskySignIns().evaluate(RiskySignInData((), (user("b", "atRisk", None),)), SETTINGS, NOW)
    assert plain.evidence["riskDetections"] == []
    assert (
        plain.message
        == "Identity Protection holds user 'b@contoso.com' at risk (risk level none, state atRisk)."
    )


# -- the read window ----------------------------------------------------------------------------

LOOKBACK = timedelta(days=30)
OVERLAP = timedelta(minutes=60)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, NOW - LOOKBACK),  # first run
        ("garbage", NOW - LOOKBACK),
        ("2026-11-27T11:45:00+00:00", datetime(2026, 11, 27, 10, 45, tzinfo=UTC)),
        ("2026-11-27T11:45:00", datetime(2026, 11, 27, 10, 45, tzinfo=UTC)),  # naive: UTC
        ("2026-11-27T12:45:00+01:00", datetime(2026, 11, 27, 10, 45, tzinfo=UTC)),
        ("2026-10-28T13:00:00Z", NOW - LOOKBACK),  # exactly lookback + overlap ago
        ("2026-10-28T13:00:01Z", NOW - LOOKBACK + timedelta(seconds=1)),
        ("2026-10-01T00:00:00Z", NOW - LOOKBACK),  # off for weeks: the log keeps 30 days
        ("2026-11-27T14:00:00Z", NOW),  # a watermark from the future never reads past now
    ],
)
def test_the_window_starts_at_the_watermark_minus_the_overlap(stored: str | None, expected: datetime) -> None:
    assert window_start(stored, NOW, OVERLAP, LOOKBACK) == expected


def test_the_filter_asks_for_the_window_and_the_risk_levels_only() -> None:
    start = datetime(2026, 11, 27, 10, 45, tzinfo=UTC)
    assert risk_filter(start, NOW) == (
        "createdDateTime ge 2026-11-27T10:45:00Z and createdDateTime le 2026-11-27T12:00:00Z and "
        "(riskLevelDuringSignIn eq 'low' or riskLevelDuringSignIn eq 'medium' or "
        "riskLevelDuringSignIn eq 'high')"
    )


# -- collect with a hand-made Graph ------------------------------------------------------------


def licence_error(path: str) -> GraphLicenseError:
    return GraphLicenseError(
        f"the tenant has no Microsoft Entra ID P2 licence, which {path} needs", licence="P2"
    )


async def collect(
    graph: FakeGraph, watermarks: MemoryWatermarks, now: datetime = NOW
) -> tuple[RiskySignInData, CheckContext]:
    context = CheckContext("tenant", graph, SETTINGS, now, watermarks)  # type: ignore[arg-type]
    return await RiskySignIns().collect(context), context


async def test_an_event_read_twice_counts_once() -> None:
    memory = Memory(SIGN_IN_MEMORY, loaded=False)
    graph = FakeGraph(
        {
            "auditLogs/signIns": [
                graph_sign_in("s1"),
                graph_sign_in("s1"),
                graph_sign_in("s2", error_code=50126),
                graph_sign_in("s3", level="low"),
                graph_sign_in("s4", level="none"),  # the server should not send it; ignored if it does
                graph_sign_in("s5", created=None),
                graph_sign_in("s6", created="2026-11-27T10:59:59Z"),  # one second before the window
                graph_sign_in("s7", created="2026-11-27T12:00:01Z"),  # one second after it
                graph_sign_in("s8", created="2026-11-27T11:00:00Z", level="medium"),  # at its start
            ]
        }
    )
    counts = await read_risky_sign_ins(graph, memory, NOW - OVERLAP, NOW)  # type: ignore[arg-type]
    assert counts == {"high": {"success": 1, "failure": 1}, "low": {"success": 1}, "medium": {"success": 1}}
    assert [item.id for item in memory] == ["s1", "s2", "s3", "s8"]
    again = await read_risky_sign_ins(graph, memory, NOW - OVERLAP, NOW)  # type: ignore[arg-type]
    assert again == {}


async def test_collect_remembers_reads_the_new_window_and_forgets_after_retention() -> None:
    watermarks = MemoryWatermarks()
    old = graph_sign_in("old", created="2026-10-28T12:00:00Z")  # exactly 30 days before NOW
    graph = FakeGraph(
        {
            "auditLogs/signIns": [old],
            "identityProtection/riskyUsers": [{"id": "u1", "riskState": "atRisk", "riskLevel": "high"}],
            "identityProtection/riskDetections": [
                {
                    "id": "d1",
                    "userId": "U1",
                    "riskEventType": "passwordSpray",
                    "detectedDateTime": "2026-11-27T10:00:00Z",
                }
            ],
        }
    )
    data, context = await collect(graph, watermarks)
    assert [s.id for s in data.sign_ins] == ["old"]
    assert data.detections == {
        "u1": (
            {
                "id": "d1",
                "userId": "U1",
                "riskEventType": "passwordSpray",
                "riskLevel": None,
                "riskState": None,
                "activity": None,
                "requestId": None,
                "ipAddress": None,
                "detectedDateTime": "2026-11-27T10:00:00Z",
            },
        )
    }
    assert evaluate(data) == {
        ("high-risk-sign-in-succeeded", Severity.CRITICAL, "signIn", "old"),
        ("user-at-risk", Severity.HIGH, "user", "u1"),
    }
    assert context.unavailable == {}
    assert watermarks.values[SIGN_IN_WATERMARK] == NOW.isoformat()
    assert DETECTION_MEMORY in watermarks.values

    # One second later the old sign-in is past retention: forgotten, nothing read twice.
    later = NOW + timedelta(seconds=1)
    graph.reads.clear()
    data, _context = await collect(FakeGraph({"auditLogs/signIns": [old]}), watermarks, later)
    assert data.sign_ins == ()
    assert data.new_by_level_and_outcome == {}  # outside the window: not counted again
    assert '"old"' not in watermarks.values[SIGN_IN_MEMORY]
    graph2 = FakeGraph({})
    data, _context = await collect(graph2, watermarks, later + timedelta(minutes=15))
    sign_in_query = graph2.reads[0][2]
    assert sign_in_query is not None
    assert sign_in_query.filter == risk_filter(later - OVERLAP, later + timedelta(minutes=15))
    assert graph2.reads[0][:2] == ("beta", "auditLogs/signIns")


async def test_without_p2_every_rule_is_unavailable_and_the_log_is_still_read() -> None:
    graph = FakeGraph(
        {"auditLogs/signIns": [graph_sign_in("s1")]},
        {"identityProtection/riskyUsers": licence_error("riskyUsers")},
    )
    data, context = await collect(graph, MemoryWatermarks())
    reason = "the tenant has no Microsoft Entra ID P2 licence, which riskyUsers needs"
    assert context.unavailable == {
        "high-risk-sign-in-succeeded": reason,
        "medium-risk-sign-in-succeeded": reason,
        "risky-sign-in-single-factor": reason,
        "user-at-risk": reason,
    }
    assert data.risky_users is None
    assert evaluate(data) == {("high-risk-sign-in-succeeded", Severity.CRITICAL, "signIn", "s1")}


async def test_a_sign_in_log_the_tenant_is_not_licensed_for_makes_the_check_unavailable() -> None:
    graph = FakeGraph({}, {"auditLogs/signIns": licence_error("auditLogs/signIns")})
    watermarks = MemoryWatermarks()
    with pytest.raises(GraphLicenseError):
        await collect(graph, watermarks)
    assert watermarks.values == {}


# -- gauges ------------------------------------------------------------------------------------


def measure(data: RiskySignInData) -> list[Measurement]:
    measured = RiskySignIns().measure(data, SETTINGS, NOW)
    declared = {gauge.name: set(gauge.attributes) for gauge in RiskySignIns.gauges}
    assert all(set(m.attributes) == declared[m.gauge] for m in measured)
    return measured


def gauges(
    sign_ins: dict[tuple[str, str], int] | None = None, users: dict[str, int] | None = None
) -> list[Measurement]:
    """Every measurement in the check's order: the six level × outcome counts, then the three levels."""
    return [
        Measurement(
            "entra_monitor.sign_ins.risky",
            float((sign_ins or {}).get((level, outcome), 0)),
            {"risk_level": level, "outcome": outcome},
        )
        for level in ("low", "medium", "high")
        for outcome in ("success", "failure")
    ] + [
        Measurement("entra_monitor.users.at_risk", float((users or {}).get(level, 0)), {"risk_level": level})
        for level in ("low", "medium", "high")
    ]


def test_the_gauges_are_declared_as_documented() -> None:
    assert [(g.name, g.unit, g.attributes) for g in RiskySignIns.gauges] == [
        ("entra_monitor.sign_ins.risky", "{sign-in}", ("risk_level", "outcome")),
        ("entra_monitor.users.at_risk", "{user}", ("risk_level",)),
    ]


def test_nothing_at_risk_measures_every_combination_at_zero() -> None:
    assert measure(RiskySignInData(())) == gauges()


def test_the_new_sign_ins_are_measured_by_level_and_outcome_and_old_ones_not() -> None:
    remembered = (parsed(identifier="old", level="high"),)  # read by an earlier run: not new
    counted = {"high": {"failure": 2}, "low": {"success": 1, "failure": 3}}
    assert measure(RiskySignInData(remembered, (), {}, counted)) == gauges(
        {("high", "failure"): 2, ("low", "success"): 1, ("low", "failure"): 3}
    )


def test_users_at_risk_are_measured_by_level() -> None:
    users = (
        user("a", "atRisk", "high"),
        user("b", "confirmedCompromised", "high"),
        user("c", "atRisk", "medium"),
        user("d", "atRisk", "low"),
        user("e", "remediated", "high"),  # no longer at risk
        user("f", "dismissed", "medium"),
        user("g", "atRisk", "hidden"),  # no level to count it under
        user("h", "atRisk", None),
        user("i", None, "high"),
    )
    assert measure(RiskySignInData((), users)) == gauges(users={"high": 2, "medium": 1, "low": 1})


def test_without_identity_protection_nothing_is_measured() -> None:
    counted = {"high": {"success": 1}}
    unavailable = RiskySignInData((), None, {}, counted, identity_protection_unavailable="no P2")
    assert measure(unavailable) == []
    assert measure(RiskySignInData((), None, {}, counted)) == []


async def test_a_run_measures_the_sign_ins_it_read_first_at_the_window_boundaries() -> None:
    start = NOW - timedelta(days=30)
    graph = FakeGraph(
        {
            "auditLogs/signIns": [
                graph_sign_in("at-start", created="2026-10-28T12:00:00Z"),
                graph_sign_in("before", created="2026-10-28T11:59:59Z"),  # one second before the window
                graph_sign_in("after", created="2026-11-27T12:00:01Z"),  # one second after it
                graph_sign_in("at-end", created="2026-11-27T12:00:00Z", level="medium", error_code=50126),
                graph_sign_in("offset", created="2026-11-27T13:00:00+02:00", level="low"),  # 11:00Z
                graph_sign_in("naive", created="2026-11-27T11:30:00", level="low", error_code=None),
                graph_sign_in("none", level="none"),
                graph_sign_in("at-start", created="2026-10-28T12:00:00Z"),  # read twice: counted once
            ],
            "identityProtection/riskyUsers": [
                {"id": "u1", "riskState": "atRisk", "riskLevel": "medium"},
                {"id": "u2", "riskState": "confirmedCompromised", "riskLevel": "medium"},
            ],
        }
    )
    watermarks = MemoryWatermarks()
    data, _context = await collect(graph, watermarks)
    assert data.window_start == start
    assert measure(data) == gauges(
        {("high", "success"): 1, ("medium", "failure"): 1, ("low", "success"): 1, ("low", "failure"): 1},
        {"medium": 2},
    )
    again, _context = await collect(graph, watermarks)  # the same sign-ins again: none new
    assert measure(again) == gauges(users={"medium": 2})


async def test_a_run_without_p2_measures_nothing() -> None:
    graph = FakeGraph(
        {"auditLogs/signIns": [graph_sign_in("s1")]},
        {"identityProtection/riskyUsers": licence_error("riskyUsers")},
    )
    data, _context = await collect(graph, MemoryWatermarks())
    assert data.new_by_level_and_outcome == {"high": {"success": 1}}
    assert measure(data) == []
