"""A small tenant with a 1,000,000-event sign-in log: it starts, serves the end of its log and
its risky sign-ins exactly as the in-process reference generates them, and stays small.

The log spans the 30 days before ``--now`` (P1/P2 sign-in retention, graph-facts §4), newest
first; its oldest events are reached by a ``createdDateTime`` filter rather than by paging a
thousand pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulator.tenant.base import GraphObject
from emulator.tenant.ground_truth import GroundTruth
from emulator.tenant.model import Tenant
from emulator.tenant.signins import PLANT_PROFILES, beta_view, v1_view
from tests.support.emulator import RunningEmulator, collect, start_emulator

pytestmark = pytest.mark.slow

SIGN_INS = 1_000_000
SCALE = f"small,signIns={SIGN_INS}"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WINDOW_START = NOW - timedelta(days=30)
# The log's last (oldest) events: everything up to five minutes into the window.
TAIL_END = WINDOW_START + timedelta(minutes=5)
MEMORY_LIMIT_KIB = 200 * 1024
TIMESTAMP = re.compile(r"([0-9-]{10}T[0-9:]{8})(?:\.([0-9]{1,7}))?Z")


def _text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def _ticks(text: str) -> int:
    """A Graph timestamp in 100-ns ticks since the Unix epoch (exact, unlike fromisoformat)."""
    found = TIMESTAMP.fullmatch(text)
    assert found is not None, text
    seconds = int(datetime.fromisoformat(found[1]).replace(tzinfo=UTC).timestamp())
    return seconds * 10_000_000 + int((found[2] or "").ljust(7, "0"))


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    started = time.monotonic()
    arguments = ("--seed", "7", "--now", _text(NOW), "--scale", SCALE, "--throttling", "off")
    with start_emulator(tmp_path_factory.mktemp("large"), *arguments) as running:
        elapsed = time.monotonic() - started
        peak = running.peak_rss_kib()
        print(f"\n{SIGN_INS:,}-sign-in emulator serving after {elapsed:.1f} s, peak RSS {peak} KiB")
        yield running


@pytest.fixture(scope="module")
def large_reference(large: RunningEmulator) -> Tenant:
    return large.reference()


@pytest.fixture(scope="module")
def graph(large: RunningEmulator) -> Iterator[httpx.Client]:
    with large.graph() as client:
        yield client


def _tail_indices(reference: Tenant) -> list[int]:
    """Indices of the reference events at or before TAIL_END, newest first, found by reading
    the log backwards from its last event until a thousand events in a row are later."""
    bound = _ticks(_text(TAIL_END))
    found: list[int] = []
    later_in_a_row = 0
    index = SIGN_INS - 1
    while later_in_a_row < 1000:
        if _ticks(reference.sign_ins.sign_in(index)["createdDateTime"]) <= bound:
            found.append(index)
            later_in_a_row = 0
        else:
            later_in_a_row += 1
        index -= 1
    return sorted(found)


def test_truth_counts_a_million_sign_ins(large: RunningEmulator, large_reference: Tenant) -> None:
    with large.control() as control:
        truth = control.get("/truth", params={"at": _text(NOW)}).json()
    assert truth["counts"]["signIns"] == SIGN_INS
    assert truth["scale"]["sign_ins"] == SIGN_INS
    assert truth["counts"] == GroundTruth(large_reference).counts()


def test_the_end_of_the_log_is_the_references_last_events(
    graph: httpx.Client, large_reference: Tenant
) -> None:
    tail = _tail_indices(large_reference)
    assert tail[-1] == SIGN_INS - 1
    assert len(tail) > 50  # more than one page of $top=50 below
    expected = [v1_view(large_reference.sign_ins.sign_in(index)) for index in tail]
    started = time.monotonic()
    served, requests = collect(
        graph, f"/v1.0/auditLogs/signIns?$filter=createdDateTime le {_text(TAIL_END)}&$top=50"
    )
    print(f"\nlast {len(served)} events in {requests} pages, {time.monotonic() - started:.2f} s")
    assert served == expected
    assert all(_ticks(event["createdDateTime"]) >= _ticks(_text(WINDOW_START)) for event in served)


def test_the_last_page_by_time_bounds_on_beta(graph: httpx.Client, large_reference: Tenant) -> None:
    tail = _tail_indices(large_reference)
    expected = [beta_view(large_reference.sign_ins.sign_in(index), large_reference.context) for index in tail]
    before_window = _text(WINDOW_START - timedelta(hours=1))
    bounds = f"createdDateTime ge {before_window} and createdDateTime le {_text(TAIL_END)}"
    response = graph.get("/beta/auditLogs/signIns", params={"$filter": bounds})
    assert response.status_code == 200
    body = response.json()
    assert "@odata.nextLink" not in body
    assert body["value"] == expected


def test_high_risk_sign_ins_over_the_whole_window_are_the_planted_ones(
    graph: httpx.Client, large_reference: Tenant
) -> None:
    planted = sorted(
        index
        for index, plant in large_reference.plan.sign_in_plants.items()
        if PLANT_PROFILES[plant.kind].level == "high"
    )
    assert len(planted) == 3 * SIGN_INS // 2000  # three high-risk kinds, one in 2,000 each
    expected: list[GraphObject] = [v1_view(large_reference.sign_ins.sign_in(index)) for index in planted]
    started = time.monotonic()
    served, requests = collect(graph, "/v1.0/auditLogs/signIns?$filter=riskLevelDuringSignIn eq 'high'")
    print(f"\n{len(served)} high-risk sign-ins in {requests} pages, {time.monotonic() - started:.2f} s")
    assert served == expected


def test_peak_memory_stays_under_200_mb_after_serving(large: RunningEmulator, graph: httpx.Client) -> None:
    """Last in the module, after everything above was served; also reads the newest page and
    one deep in the log."""
    newest = graph.get("/v1.0/auditLogs/signIns", params={"$top": "1000"})
    middle = NOW - timedelta(days=15)
    deep = graph.get("/beta/auditLogs/signIns", params={"$filter": f"createdDateTime le {_text(middle)}"})
    assert (newest.status_code, len(newest.json()["value"])) == (200, 1000)
    assert (deep.status_code, len(deep.json()["value"])) == (200, 1000)
    peak = large.peak_rss_kib()
    print(f"\npeak RSS after serving: {peak} KiB ({peak / 1024:.0f} MiB)")
    assert peak < MEMORY_LIMIT_KIB
