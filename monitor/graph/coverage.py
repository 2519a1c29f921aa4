"""What a check run examined: objects read per Graph collection, for the auditors' coverage
statement in a snapshot.

The runner opens :func:`counting_coverage` around a check's ``collect``; every page the tenant's
:class:`~monitor.graph.client.GraphClient` reads while it is open (and every collection answered
inside a ``$batch``) adds its objects under the collection's name (the route's path, like
``applications``, ``auditLogs/signIns`` or ``servicePrincipals/{id}/appRoleAssignments``). The
counter lives in a context variable, so runs of other checks sharing the same client, in other
tasks, are not counted in it, while tasks the check starts itself inherit it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar


class Coverage:
    """Objects examined per collection during one run."""

    def __init__(self) -> None:
        self.objects: Counter[str] = Counter()

    def add(self, collection: str, count: int) -> None:
        # A page with no objects still shows the collection was read (count 0).
        self.objects[collection] += count

    def as_dict(self) -> dict[str, int]:
        """The counts by collection, sorted by name."""
        return {name: self.objects[name] for name in sorted(self.objects)}


_current: ContextVar[Coverage | None] = ContextVar("monitor_graph_coverage", default=None)


@contextlib.contextmanager
def counting_coverage() -> Iterator[Coverage]:
    """Count the objects read in this context (and tasks started from it) until the block ends."""
    coverage = Coverage()
    token = _current.set(coverage)
    try:
        yield coverage
    finally:
        _current.reset(token)


def record_objects(collection: str, count: int) -> None:
    """Add ``count`` objects of ``collection`` to the coverage being counted, if any."""
    coverage = _current.get()
    if coverage is not None:
        coverage.add(collection, count)
