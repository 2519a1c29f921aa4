"""Which Graph answers are worth another try, and how long to wait before it.

- 429, 503 and 504 honour ``Retry-After`` (seconds, possibly fractional, or an HTTP date), capped
  by settings; without one they back off like any other transient failure.
- Other 5xx answers, connection failures, cut-off bodies and unparseable pages back off
  exponentially with jitter: attempt ``n`` waits between half and all of
  ``min(initial × 2ⁿ⁻¹, max)``, so retries of many requests spread out but never shrink to zero.
- 400, 403, 404 and the rest are never retried: the request itself is wrong.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from datetime import UTC, datetime

from tenacity import RetryCallState

from monitor.graph.settings import GraphClientSettings

HONOURS_RETRY_AFTER = frozenset({429, 503, 504})
NOT_RETRIED_5XX = frozenset({501, 505})


def is_retryable_status(status: int) -> bool:
    return status == 429 or (status >= 500 and status not in NOT_RETRIED_5XX)


class TransientError(Exception):
    """One attempt that failed in a way another attempt may fix (internal to the client).

    ``reason`` is one of ``throttled``, ``server_error``, ``connection``, ``bad_response`` and
    ``token_expired``; ``retry_after`` is the honoured delay in seconds, when Graph gave one.
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        status: int = 0,
        code: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.request_id = request_id


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number (``"10"``, ``"2.128"``) or an HTTP
    date. None when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


def backoff_seconds(
    settings: GraphClientSettings, attempt: int, draw: Callable[[], float] = random.random
) -> float:
    """The jittered exponential delay after failed attempt number ``attempt`` (1-based)."""
    growth: float = 2.0 ** (attempt - 1)
    ceiling = min(settings.backoff_initial_seconds * growth, settings.backoff_max_seconds)
    return ceiling * (0.5 + draw() / 2)


class RetryWait:
    """tenacity ``wait`` strategy: the capped Retry-After when there is one, else jittered
    exponential backoff. Also remembers the cause of the last wait for the instruments."""

    def __init__(self, settings: GraphClientSettings) -> None:
        self._settings = settings
        self._cap = settings.max_retry_after_seconds

    def __call__(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, TransientError):
            if failure.reason == "token_expired":
                return 0.0
            if failure.retry_after is not None:
                return min(failure.retry_after, self._cap)
        return backoff_seconds(self._settings, state.attempt_number)

    @staticmethod
    def cause(failure: TransientError) -> str:
        if failure.reason == "token_expired":
            return "none"
        return "retry_after" if failure.retry_after is not None else "backoff"
