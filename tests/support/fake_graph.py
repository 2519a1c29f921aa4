"""A stand-in for the Graph client in the checks' unit tests of ``collect``: it serves canned
objects per path (or raises the error given for a path) and records every read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from monitor.graph.query import Query

Answer = Sequence[Mapping[str, Any]] | Callable[[Query | None], Sequence[Mapping[str, Any]]]


class FakeGraph:
    """``iterate(path)`` yields ``collections[path]`` (a list, or a function of the query for
    answers that depend on ``$filter``) or raises ``errors[path]``; ``reads`` lists every
    ``(version, path, query)`` asked for, in order."""

    def __init__(
        self, collections: Mapping[str, Answer], errors: Mapping[str, Exception] | None = None
    ) -> None:
        self.collections = collections
        self.errors = dict(errors or {})
        self.reads: list[tuple[str, str, Query | None]] = []

    async def iterate(
        self, path: str, *, version: str = "v1.0", query: Query | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        self.reads.append((version, path, query))
        if path in self.errors:
            raise self.errors[path]
        answer = self.collections.get(path, [])
        for item in answer(query) if callable(answer) else answer:
            yield dict(item)

    @property
    def paths(self) -> list[str]:
        return [path for _version, path, _query in self.reads]
