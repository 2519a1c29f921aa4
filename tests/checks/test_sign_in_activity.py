"""The service principals' last sign-ins: one ``appId eq`` read per application while that is
cheaper than the whole report, the whole report once otherwise, and the same answer either way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from checks.sign_in_activity import SIGN_IN_ACTIVITY, read_last_sign_ins, report_pages
from monitor.graph.client import GraphClient
from monitor.graph.query import Query
from tests.support.fake_graph import FakeGraph

MAY = datetime(2026, 5, 1, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)
REPORT: list[dict[str, Any]] = [
    {"appId": "AAAA", "lastSignInActivity": {"lastSignInDateTime": "2026-05-01T00:00:00Z"}},
    {"appId": "aaaa", "lastSignInActivity": {"lastSignInDateTime": "2026-06-01T00:00:00Z"}},
    {"appId": "bbbb", "lastSignInActivity": None},
    {"appId": "cccc", "lastSignInActivity": {"lastSignInDateTime": "2026-05-01T00:00:00-8:00"}},
]


def report_answer(query: Query | None) -> list[dict[str, Any]]:
    """The report as Graph filters it by ``appId eq '…'`` (or whole, without a filter)."""
    if query is None or query.filter is None:
        return REPORT
    wanted = query.filter.removeprefix("appId eq '").removesuffix("'")
    return [entry for entry in REPORT if entry["appId"].lower() == wanted]


def graph() -> FakeGraph:
    return FakeGraph({SIGN_IN_ACTIVITY: report_answer})


def filters(fake: FakeGraph) -> list[str | None]:
    return [query.filter if query else None for _version, _path, query in fake.reads]


EXPECTED = {"aaaa": JUNE, "bbbb": None, "dddd": None}


@pytest.mark.parametrize(
    ("service_principals", "expected_filters"),
    [
        (5_000, ["appId eq 'aaaa'", "appId eq 'bbbb'", "appId eq 'dddd'"]),  # 5 pages > 3 apps
        (2_997, ["appId eq 'aaaa'", "appId eq 'bbbb'", "appId eq 'dddd'"]),  # 3 pages = 3 apps
        (1_998, [None]),  # 2 pages < 3 apps: the whole report
        (0, [None]),
    ],
)
async def test_the_cheaper_way_is_chosen_and_the_answer_is_the_same(
    service_principals: int, expected_filters: list[str | None]
) -> None:
    fake = graph()
    found = await read_last_sign_ins(
        cast(GraphClient, fake), ["AAAA", "bbbb", "dddd"], service_principals=service_principals
    )
    assert found == EXPECTED
    assert filters(fake) == expected_filters
    assert {(version, path) for version, path, _query in fake.reads} == {("beta", SIGN_IN_ACTIVITY)}
    assert all(
        query is not None and query.select == ("appId", "lastSignInActivity") for *_r, query in fake.reads
    )


async def test_without_app_ids_every_entry_is_read_once() -> None:
    fake = graph()
    found = await read_last_sign_ins(cast(GraphClient, fake))
    assert found == {"aaaa": JUNE, "bbbb": None, "cccc": datetime(2026, 5, 1, 8, tzinfo=UTC)}
    assert filters(fake) == [None]


async def test_asking_about_nothing_reads_nothing() -> None:
    fake = graph()
    assert await read_last_sign_ins(cast(GraphClient, fake), [], service_principals=100_000) == {}
    assert fake.reads == []


def test_the_report_is_counted_in_pages_of_its_largest_size() -> None:
    assert [report_pages(n) for n in (0, 1, 999, 1_000, 100_000)] == [1, 1, 1, 2, 101]
