"""Graph's DateTimeOffset values as the checks read and write them: one parser for every time a
check reads from Graph or from its own watermarks, and one format for times in findings."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# graph-facts §3: doc examples carry malformed offsets such as "-8:00".
_SHORT_OFFSET = re.compile(r"([+-])(\d):(\d\d)$")


def parse_graph_time(value: object) -> datetime | None:
    """A Graph DateTimeOffset as aware UTC; None for null, empty, unparseable and Graph's
    ``0001-01-01`` placeholder. Naive values are taken as UTC (Graph's times are UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _SHORT_OFFSET.sub(r"\g<1>0\g<2>:\g<3>", value.strip().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.year <= 1:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def graph_time_text(moment: datetime) -> str:
    """``moment`` in UTC as Graph writes it, ending in ``Z`` (``2026-11-27T12:00:00Z``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
