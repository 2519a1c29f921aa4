"""Throttling shaped like Microsoft Graph's limits (graph-facts §9).

Each family has a token bucket per scope (per tenant and app, or per tenant for every app):

- ``directory``: resource units per app and tenant, 3,500 / 5,000 / 8,000 per 10 s by tenant
  size; ``GET applications`` costs 2 units, ``$select`` saves one, ``$top`` under 20 saves one.
- ``keyCredentials``: listing applications or service principals with ``keyCredentials`` in
  ``$select``: 150 requests per minute per tenant.
- ``reports`` (sign-in logs and usage reports): 5 requests per 10 s per app and tenant.
- ``identityProtection`` and ``conditionalAccess``: one request per second per tenant, all apps
  together, answered **without** ``Retry-After``.
- ``governance`` (access reviews): not documented; 60 requests per 10 s per app and tenant.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Budget:
    limit: float
    window_seconds: float
    per_app: bool = True
    retry_after: bool = True

    @property
    def rate(self) -> float:
        return self.limit / self.window_seconds


def directory_limit(users: int) -> int:
    if users < 50:
        return 3_500
    return 5_000 if users <= 500 else 8_000


def real_budgets(users: int) -> dict[str, Budget]:
    return {
        "directory": Budget(directory_limit(users), 10),
        "keyCredentials": Budget(150, 60, per_app=False),
        "reports": Budget(5, 10),
        "identityProtection": Budget(1, 1, per_app=False, retry_after=False),
        "conditionalAccess": Budget(1, 1, per_app=False, retry_after=False),
        "governance": Budget(60, 10),
    }


TIGHT_BUDGETS = {
    "directory": Budget(20, 10),
    "keyCredentials": Budget(10, 60, per_app=False),
    "reports": Budget(2, 10),
    "identityProtection": Budget(1, 1, per_app=False, retry_after=False),
    "conditionalAccess": Budget(1, 1, per_app=False, retry_after=False),
    "governance": Budget(5, 10),
}
MODES = ("real", "tight", "off")
# identityProtection and conditionalAccess share one bucket per tenant (graph-facts §9).
SHARED_BUCKETS = {"conditionalAccess": "identityProtection"}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Throttle:
    """Decides whether a request fits its family's budget; thread-safe."""

    def __init__(self, users: int, mode: str = "real", overrides: dict[str, Budget] | None = None) -> None:
        self._users = users
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self.configure(mode, overrides)

    def configure(self, mode: str, overrides: dict[str, Budget] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"throttling mode must be one of {', '.join(MODES)}, got {mode!r}")
        budgets = (
            {} if mode == "off" else dict(TIGHT_BUDGETS if mode == "tight" else real_budgets(self._users))
        )
        budgets.update(overrides or {})
        with self._lock:
            self.mode = mode
            self.budgets = budgets
            self._buckets.clear()

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "budgets": {
                name: {
                    "limit": b.limit,
                    "windowSeconds": b.window_seconds,
                    "perApp": b.per_app,
                    "retryAfter": b.retry_after,
                }
                for name, b in self.budgets.items()
            },
        }

    def charge(self, family: str, cost: float, tenant_id: str, app_id: str, now: float) -> Throttled | None:
        """Take ``cost`` from the bucket; None if it fits, else how long until it would."""
        budget = self.budgets.get(family)
        if budget is None:
            return None
        bucket_name = SHARED_BUCKETS.get(family, family)
        key = (bucket_name, tenant_id, app_id if budget.per_app else "*")
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=budget.limit, updated=now)
            elapsed = max(now - bucket.updated, 0.0)
            bucket.tokens = min(budget.limit, bucket.tokens + elapsed * budget.rate)
            bucket.updated = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return None
            wait = (cost - bucket.tokens) / budget.rate
        return Throttled(
            family,
            max(1, math.ceil(wait)),
            budget.retry_after,
            key[0] if not budget.per_app else "app",
        )


@dataclass(frozen=True)
class Throttled:
    family: str
    retry_after_seconds: int
    send_retry_after: bool
    scope: str


def budget_from(value: dict[str, float], base: Budget | None) -> Budget:
    """A budget from control-endpoint JSON (``{"limit": 5, "windowSeconds": 10}``)."""
    start = base or Budget(1, 1)
    return replace(
        start,
        limit=float(value.get("limit", start.limit)),
        window_seconds=float(value.get("windowSeconds", start.window_seconds)),
    )
