"""How the Graph client paces, retries and times out, and the known throttling budgets it paces to.

Defaults come from Microsoft's published limits (graph-facts §9); a tenant with a different
arrangement (a shared app, a tighter budget agreed with Microsoft) overrides them in settings.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Budget(BaseModel):
    """At most ``limit`` requests in any ``window_seconds``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = Field(gt=0)
    window_seconds: float = Field(gt=0)


def default_budgets() -> dict[str, Budget]:
    """Documented per-tenant limits the client paces to before Graph has to say so.

    The directory's resource-unit budget (3,500–8,000 per 10 s) is left to the adaptive limiter:
    its cost per request varies and a sweep at the default concurrency stays well below it.
    """
    return {
        # Sign-in logs and other identity reports: 5 requests per 10 s per app and tenant.
        "reports": Budget(limit=5, window_seconds=10),
        # Listing applications or service principals with keyCredentials: 150 per minute per tenant.
        "keyCredentials": Budget(limit=150, window_seconds=60),
        # Identity Protection and conditional access share 1 request per second per tenant, and
        # their 429s carry no Retry-After, so pacing is the only protection.
        "identityProtection": Budget(limit=1, window_seconds=1),
    }


SHARED_FAMILIES = {"conditionalAccess": "identityProtection"}
"""Families that spend the same budget (graph-facts §9)."""


class GraphClientSettings(BaseModel):
    """Connection pool, pacing and retry policy of one tenant's Graph client."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_concurrency: int = Field(default=8, ge=1, le=64, description="Requests in flight per tenant.")
    timeout_seconds: float = Field(default=60, gt=0, description="Per request: connect, read, write, pool.")
    max_attempts: int = Field(default=8, ge=1, le=50, description="Tries of one request, the first included.")
    max_retry_after_seconds: float = Field(
        default=120, gt=0, description="Cap on how long one Retry-After is honoured."
    )
    backoff_initial_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    pacing_margin: float = Field(
        default=0.02, ge=0, le=0.5, description="Share of each known budget left unused as a safety margin."
    )
    budgets: dict[str, Budget] = Field(default_factory=default_budgets)
    user_agent: str = "entra-compliance-monitor"
