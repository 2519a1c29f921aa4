"""risky-sign-ins end to end: the findings equal the emulator's ground truth on the session tenant;
on a tenant of its own, a second run after new sign-ins are injected reads only the new window and
still equals the truth, and a restart from the first run's watermarks reports nothing twice; a P1
tenant reports every rule unavailable (risk levels are hidden without P2) and still reads the log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from checks.risky_sign_ins import OUTCOMES, RISK_LEVELS, SIGN_IN_WATERMARK, RiskySignIns, risk_filter
from emulator.tenant.plants import SIGN_IN_PLANTS
from emulator.tenant.signins import PLANT_PROFILES
from monitor.check import CheckContext, Finding
from monitor.graph.client import GraphClient
from monitor.graph.query import Query
from tests.support.checks import (
    NOW,
    Identity,
    MemoryWatermarks,
    emulator_now,
    endpoint_stats,
    identities,
    identity,
    private_emulator,
    reset_stats,
    run_check,
    run_once,
    truth_identities,
    truth_of,
)
from tests.support.emulator import RunningEmulator


def truth_keys(emulator: RunningEmulator) -> set[Identity]:
    return truth_identities(truth_of(emulator, RiskySignIns.id))


class RecordingGraph:
    """Passes reads through to the real client and remembers each collection read's path and query."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self.reads: list[tuple[str, str, Query | None]] = []

    async def iterate(
        self, path: str, *, version: str = "v1.0", query: Query | None = None, **options: Any
    ) -> AsyncIterator[dict[str, Any]]:
        self.reads.append((version, path, query))
        async for item in self.graph.iterate(path, version=version, query=query, **options):
            yield item


async def run(
    emulator: RunningEmulator, watermarks: MemoryWatermarks, now: datetime
) -> tuple[list[Finding], Any, RecordingGraph, CheckContext]:
    """One run keeping ``watermarks``, with the Graph reads it made."""
    once = await run_once(emulator, RiskySignIns, watermarks=watermarks, now=now, wrap_graph=RecordingGraph)
    recording = once.context.graph
    assert isinstance(recording, RecordingGraph)
    return once.findings, once.data, recording, once.context


# -- the session tenant -----------------------------------------------------------------------


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator, RiskySignIns)
    assert identities(findings) == truth_keys(emulator)
    assert len(findings) == len(identities(findings))
    assert {f["rule"] for f in truth_of(emulator, RiskySignIns.id)} == {
        "high-risk-sign-in-succeeded",
        "medium-risk-sign-in-succeeded",
        "risky-sign-in-single-factor",
        "user-at-risk",
    }


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    truth = {(f["rule"], f["resource"]["id"]): f for f in truth_of(emulator, RiskySignIns.id)}
    findings = await run_check(emulator, RiskySignIns)
    for finding in findings:
        assert finding.message.endswith(".")
        assert finding.remediation
        assert finding.references
        expected = truth[(finding.rule, finding.resource.id)]["detail"]
        if finding.resource.type == "signIn":
            assert finding.evidence["id"] == finding.resource.id
            assert finding.evidence["userId"] == expected["userId"]
            assert finding.evidence["createdDateTime"] == expected["createdDateTime"]
            assert finding.evidence["riskLevelDuringSignIn"] == expected["riskLevel"]
            assert finding.evidence["status"]["errorCode"] == 0
            assert finding.evidence["authenticationRequirement"] in (
                "singleFactorAuthentication",
                "multiFactorAuthentication",
            )
            assert finding.resource.display_name == finding.evidence["userPrincipalName"]
        else:
            assert finding.evidence["riskState"] == expected["riskState"]
            assert finding.evidence["riskLevel"] == expected["riskLevel"]
            detections = finding.evidence["riskDetections"]
            assert detections  # every user at risk here got there through a detection
            assert {d["userId"] for d in detections} == {finding.resource.id}


async def test_the_first_run_reads_thirty_days_of_risky_sign_ins_only(emulator: RunningEmulator) -> None:
    watermarks = MemoryWatermarks()
    _findings, data, recording, context = await run(emulator, watermarks, NOW)
    sign_in_reads = [read for read in recording.reads if read[1] == "auditLogs/signIns"]
    assert [(version, query.filter if query else None) for version, _path, query in sign_in_reads] == [
        ("beta", risk_filter(NOW - timedelta(days=30), NOW))
    ]
    assert data.window_start == NOW - timedelta(days=30)
    assert watermarks.values[SIGN_IN_WATERMARK] == NOW.isoformat()
    assert context.unavailable == {}
    counted = sum(n for outcomes in data.new_by_level_and_outcome.values() for n in outcomes.values())
    assert counted == len(data.sign_ins)
    assert data.new_by_level_and_outcome["high"]["failure"] >= 1  # the planted failed attempt


# -- a tenant of its own: injected sign-ins, the second run and a restart ---------------------


@pytest.fixture(scope="module")
def own_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with private_emulator(tmp_path_factory, "risky-sign-ins") as running:
        yield running


def sign_in_reads(emulator: RunningEmulator) -> dict[str, tuple[int, int]]:
    """Requests and objects returned per sign-in endpoint since the statistics were reset."""
    return {
        name: (entry["requests"], entry["items"])
        for name, entry in endpoint_stats(emulator).items()
        if "signIn" in name
    }


async def test_a_second_run_reads_only_the_new_window_and_a_restart_reports_nothing_twice(
    own_emulator: RunningEmulator,
) -> None:
    first = MemoryWatermarks()
    first_findings, first_data, _recording, _context = await run(own_emulator, first, NOW)
    assert identities(first_findings) == truth_keys(own_emulator)
    after_first = first.copy()

    injected: dict[str, dict[str, Any]] = {}
    with own_emulator.control() as control:
        for name, spec in {
            "high": {"riskLevel": "high"},
            "medium-single-factor": {"riskLevel": "medium", "singleFactor": True},
            "high-failure": {"riskLevel": "high", "errorCode": 50126, "singleFactor": True},
            "no-risk": {"riskLevel": "none", "singleFactor": True},
        }.items():
            response = control.post("/signIns", json=spec)
            response.raise_for_status()
            injected[name] = response.json()
    reset_stats(own_emulator)
    now = emulator_now(own_emulator)

    second_findings, data, recording, _context = await run(own_emulator, first, now)
    assert identities(second_findings) == truth_keys(own_emulator)
    assert {f.resource.id for f in second_findings} >= {
        f.resource.id for f in first_findings
    }  # the first run's sign-ins stay reported though this run did not read them again
    high, medium = injected["high"]["id"].lower(), injected["medium-single-factor"]["id"].lower()
    expected_new = {
        ("high-risk-sign-in-succeeded", "critical", "signIn", high),
        ("medium-risk-sign-in-succeeded", "high", "signIn", medium),
        ("risky-sign-in-single-factor", "high", "signIn", medium),
    }
    assert identities(second_findings) - identities(first_findings) == expected_new
    # One request for the window since the first run (an hour of overlap), nothing older: the
    # response held the three risky injected sign-ins and the first run's risky ones of that hour.
    overlapping = [s for s in first_data.sign_ins if s.created >= NOW - timedelta(minutes=60)]
    assert sign_in_reads(own_emulator) == {"signIns": (1, 3 + len(overlapping))}
    sent = [query for _v, path, query in recording.reads if path == "auditLogs/signIns"]
    assert [query.filter if query else None for query in sent] == [
        risk_filter(NOW - timedelta(minutes=60), now)
    ]
    assert data.window_start == NOW - timedelta(minutes=60)
    assert data.new_by_level_and_outcome == {"high": {"success": 1, "failure": 1}, "medium": {"success": 1}}

    # A restart: run 2 again from the first run's watermarks gives the same findings, once each.
    restarted, again, _recording, _context = await run(own_emulator, after_first.copy(), now)
    assert sorted(map(identity, restarted)) == sorted(map(identity, second_findings))
    assert len(restarted) == len(identities(restarted))
    assert again.new_by_level_and_outcome == data.new_by_level_and_outcome

    # And a third run from run 2's watermarks counts nothing new and still reports everything.
    third, third_data, _recording, _context = await run(own_emulator, first, now)
    assert third_data.new_by_level_and_outcome == {}
    assert sorted(map(identity, third)) == sorted(map(identity, second_findings))


# -- a P1 tenant: nothing can be evaluated, the sign-in log is still read ---------------------


@pytest.fixture(scope="module")
def p1_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with private_emulator(tmp_path_factory, "risky-sign-ins-p1", "--license", "P1") as running:
        yield running


async def test_without_p2_every_rule_is_unavailable_and_the_sign_in_log_is_still_read(
    p1_emulator: RunningEmulator,
) -> None:
    watermarks = MemoryWatermarks()
    findings, data, recording, context = await run(p1_emulator, watermarks, NOW)
    assert set(context.unavailable) == {
        "high-risk-sign-in-succeeded",
        "medium-risk-sign-in-succeeded",
        "risky-sign-in-single-factor",
        "user-at-risk",
    }
    assert set(context.unavailable.values()) == {context.unavailable["user-at-risk"]}
    assert "Microsoft Entra ID P2" in context.unavailable["user-at-risk"]
    assert [path for _v, path, _q in recording.reads] == [
        "auditLogs/signIns",
        "identityProtection/riskyUsers",
    ]
    assert data.risky_users is None
    assert data.identity_protection_unavailable == context.unavailable["user-at-risk"]
    assert SIGN_IN_WATERMARK in watermarks.values
    # A P1 tenant's sign-ins carry riskLevel "hidden", so none matches the risk filter.
    assert findings == []


# -- gauges on the session tenant -------------------------------------------------------------


def planted_risky_sign_ins(emulator: RunningEmulator, since: datetime) -> dict[tuple[str, str], int]:
    """The sign-ins the emulator planted at risk (its in-process reference tenant) that happened
    in ``[since, NOW]``, by risk level and outcome of their profile."""
    reference = emulator.reference()
    planted: dict[tuple[str, str], int] = {}
    for index, plant in reference.plan.sign_in_plants.items():
        created = datetime.fromisoformat(
            reference.sign_ins.sign_in(index)["createdDateTime"].replace("Z", "+00:00")
        )
        if since <= created <= NOW:
            profile = PLANT_PROFILES[plant.kind]
            key = (profile.level, "success" if profile.error is None else "failure")
            planted[key] = planted.get(key, 0) + 1
    return planted


async def test_the_gauges_of_a_first_run_equal_what_the_emulator_planted_and_the_truth(
    emulator: RunningEmulator,
) -> None:
    run = await run_once(emulator, RiskySignIns)
    measured = RiskySignIns().measure(run.data, run.settings, NOW)
    planted = planted_risky_sign_ins(emulator, NOW - timedelta(days=30))
    assert sum(planted.values()) == len(SIGN_IN_PLANTS) * 2  # small: two of each kind, all within 30 days
    assert {
        (m.attributes["risk_level"], m.attributes["outcome"]): m.value
        for m in measured
        if m.gauge == "entra_monitor.sign_ins.risky"
    } == {(level, outcome): planted.get((level, outcome), 0) for level in RISK_LEVELS for outcome in OUTCOMES}
    users = [f for f in truth_of(emulator, RiskySignIns.id) if f["rule"] == "user-at-risk"]
    assert {
        m.attributes["risk_level"]: m.value for m in measured if m.gauge == "entra_monitor.users.at_risk"
    } == {level: sum(1 for f in users if f["detail"]["riskLevel"] == level) for level in RISK_LEVELS}
    assert len(measured) == 9


async def test_a_second_run_measures_only_what_it_saw_first(emulator: RunningEmulator) -> None:
    watermarks = MemoryWatermarks()
    await run_once(emulator, RiskySignIns, watermarks=watermarks)
    again = await run_once(emulator, RiskySignIns, watermarks=watermarks)
    measured = RiskySignIns().measure(again.data, again.settings, NOW)
    assert [m.value for m in measured if m.gauge == "entra_monitor.sign_ins.risky"] == [0.0] * 6


async def test_without_p2_nothing_is_measured(p1_emulator: RunningEmulator) -> None:
    run = await run_once(p1_emulator, RiskySignIns)
    assert RiskySignIns().measure(run.data, run.settings, NOW) == []
