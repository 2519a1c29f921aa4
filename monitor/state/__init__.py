"""The monitor's state: findings and their lifecycle, waivers, watermarks and run history.

::

    store = open_store(Path("state/monitor.db"))      # SQLite, WAL, migrated in place
    transitions = store.reconcile(tenant, check, findings, now, waivers)
    store.findings(status="open"); store.open_counts(); store.runs(limit=20)

:class:`StateStore` (in ``store.py``) states the contract; ``sqlite.py`` implements it. Storage
failures raise :class:`monitor.errors.StateError`.
"""

from __future__ import annotations

from monitor.state.migrations import SCHEMA_VERSION
from monitor.state.sqlite import DEFAULT_BUSY_TIMEOUT_SECONDS, SqliteStateStore, open_store
from monitor.state.store import (
    DELIVERY_STATUSES,
    FAILED_RUN_STATUSES,
    FINDING_STATUSES,
    RUN_STATUSES,
    TRANSITION_KINDS,
    Alert,
    Delivery,
    RunRecord,
    StateStore,
    StoredFinding,
    Transition,
    Waiver,
)

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_SECONDS",
    "DELIVERY_STATUSES",
    "FAILED_RUN_STATUSES",
    "FINDING_STATUSES",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "TRANSITION_KINDS",
    "Alert",
    "Delivery",
    "RunRecord",
    "SqliteStateStore",
    "StateStore",
    "StoredFinding",
    "Transition",
    "Waiver",
    "open_store",
]
