"""Retry classification, Retry-After parsing and the backoff curve."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.graph.retry import backoff_seconds, is_retryable_status, parse_retry_after
from monitor.graph.settings import GraphClientSettings


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 412, 501, 505])
def test_final_statuses_are_not_retried(status: int) -> None:
    assert not is_retryable_status(status)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("10", 10.0),
        ("2.128", 2.128),
        ("0", 0.0),
        ("-3", 0.0),
        (" 7 ", 7.0),
        (None, None),
        ("", None),
        ("soon", None),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Fri, 27 Nov 2026 11:59:00 GMT", now) == 0.0


def test_backoff_doubles_within_jitter_and_stops_at_the_maximum() -> None:
    settings = GraphClientSettings(backoff_initial_seconds=1, backoff_max_seconds=10)
    assert [backoff_seconds(settings, n, lambda: 0.0) for n in range(1, 7)] == [0.5, 1, 2, 4, 5, 5]
    assert [backoff_seconds(settings, n, lambda: 1.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
