"""The format's version and how its times are written."""

from __future__ import annotations

from datetime import UTC, datetime

SCHEMA_VERSION = 1
"""The ``schema_version`` of snapshot.json, manifest.json and pruned.json."""


def iso(moment: datetime) -> str:
    """``2026-11-27T23:00:00Z``: UTC to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The datetime of an :func:`iso` string."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
