"""Drift against the last known state: a compact snapshot of policies kept between runs, the
changes between two snapshots with a before/after diff, and the changes a check keeps reporting for
a while (in a :class:`~monitor.memory.Memory`).

A snapshot maps a resource type (``tokenLifetimePolicy``, ``conditionalAccessPolicy`` …) to each
policy's id, display name and *tracked* fields: the leaves of what a change is judged on, under
dotted names (``definition.AccessTokenLifetime``), so a diff names exactly the fields that moved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from checks.graph_values import graph_time_text
from monitor.memory import Memory

FORMAT = 1
Snapshot = dict[str, dict[str, dict[str, Any]]]
"""resource type → policy id → ``{"displayName": …, "tracked": {dotted name: value}}``."""


@dataclass(frozen=True)
class PolicyChange:
    """One change seen by a run: ``before``/``after`` hold the changed fields only (None for a
    policy added or deleted, whose other side is its whole tracked state)."""

    resource_type: str
    policy_id: str
    display_name: str
    detected_at: datetime
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    """Leaves of ``value`` under dotted names; nulls and empty objects dropped, so a control that
    is null and one that is absent read the same."""
    if isinstance(value, Mapping):
        for key in sorted(value):
            flatten(f"{prefix}.{key}" if prefix else str(key), value[key], into)
    elif value is not None:
        into[prefix] = value


def encode_snapshot(snapshot: Snapshot) -> str:
    return json.dumps({"format": FORMAT, **snapshot}, separators=(",", ":"), sort_keys=True)


def decode_snapshot(text: str | None, kinds: Sequence[str], key: str) -> Snapshot | None:
    """The snapshot stored under the watermark ``key``, with the resource types ``kinds``; None
    before the first run. Raises ValueError for one this version cannot read, rather than
    reporting every policy as changed."""
    if text is None:
        return None
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("unknown format")
        return {kind: dict(document[kind]) for kind in kinds}
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"the stored {key!r} watermark cannot be read ({error}); delete it to start afresh"
        ) from None


def policy_changes(previous: Snapshot, current: Snapshot, now: datetime) -> list[PolicyChange]:
    """Every policy whose tracked state differs between the snapshots, added or deleted; ordered
    by resource type as ``current`` lists them, then policy id."""
    changes: list[PolicyChange] = []
    for kind in [*current, *(kind for kind in previous if kind not in current)]:
        before_all, after_all = previous.get(kind, {}), current.get(kind, {})
        for policy_id in sorted(before_all.keys() | after_all.keys()):
            old, new = before_all.get(policy_id), after_all.get(policy_id)
            name = str((new or old or {}).get("displayName") or policy_id)
            if old is None or new is None:
                before = None if old is None else dict(old["tracked"])
                after = None if new is None else dict(new["tracked"])
                changes.append(PolicyChange(kind, policy_id, name, now, before, after))
                continue
            old_state, new_state = old["tracked"], new["tracked"]
            names = sorted(
                key for key in old_state.keys() | new_state.keys() if old_state.get(key) != new_state.get(key)
            )
            if names:
                before = {key: old_state.get(key) for key in names}
                after = {key: new_state.get(key) for key in names}
                changes.append(PolicyChange(kind, policy_id, name, now, before, after))
    return changes


def remember_changes(
    memory: Memory, previous: Snapshot | None, current: Snapshot, now: datetime, open_days: int
) -> list[PolicyChange]:
    """Add this run's changes to ``memory`` (none on the first run, when ``previous`` is None),
    forget those seen more than ``open_days`` ago, and return every change still remembered."""
    if previous is not None:
        for change in policy_changes(previous, current, now):
            change_id = f"{change.resource_type}:{change.policy_id}:{graph_time_text(now)}"
            memory.remember(change_id, now, _change_record(change))
    memory.forget_before(now - timedelta(days=open_days))
    return [_change_from_record(item.at, item.record) for item in memory]


def _change_record(change: PolicyChange) -> dict[str, Any]:
    return {
        "resourceType": change.resource_type,
        "policyId": change.policy_id,
        "displayName": change.display_name,
        "before": None if change.before is None else dict(change.before),
        "after": None if change.after is None else dict(change.after),
    }


def _change_from_record(at: datetime, record: Mapping[str, Any]) -> PolicyChange:
    before, after = record.get("before"), record.get("after")
    return PolicyChange(
        str(record["resourceType"]),
        str(record["policyId"]),
        str(record.get("displayName") or record["policyId"]),
        at,
        dict(before) if isinstance(before, Mapping) else None,
        dict(after) if isinstance(after, Mapping) else None,
    )
