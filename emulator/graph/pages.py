"""Reading one page of a collection: filter, project, and say where the next page starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from emulator.graph.endpoint import property_names
from emulator.graph.query import Query, SkipTokens
from emulator.odata.filter import evaluate
from emulator.tenant.base import Collection, GraphObject, Key

LOOKAHEAD_LIMIT = 10_000
"""After a full page, scan at most this many objects for one more match before promising a
next page anyway (the real service may also end on an empty page)."""

View = Callable[[GraphObject], GraphObject]


@dataclass(frozen=True)
class Page:
    items: list[GraphObject]
    next_key: Key | None
    next_skip: int | None
    count: int | None


def read_page(collection: Collection, query: Query, paging: str, view: View) -> Page:
    """The page ``query`` asks for, as ``view`` shows each object (the filter sees the same
    properties the client does); ``paging`` is ``skiptoken`` (resume after a key) or ``skip``
    (offset, as the access-review APIs page)."""
    node = query.filter_node
    items: list[GraphObject] = []
    last: Key | None = None
    more = False
    to_skip = query.skip if paging == "skip" else 0
    misses_after_page = 0
    for key, raw in collection.scan(query.after, node):
        obj = view(raw)
        if node is not None and not evaluate(node, obj):
            if len(items) >= query.top:
                misses_after_page += 1
                if misses_after_page >= LOOKAHEAD_LIMIT:
                    more = True
                    break
            continue
        if to_skip:
            to_skip -= 1
            continue
        if len(items) >= query.top:
            more = True
            break
        items.append(obj)
        last = key
    count = None
    if query.count:
        count = sum(
            1 for _key, raw in collection.scan(None, node) if node is None or evaluate(node, view(raw))
        )
    if not more:
        return Page(items, None, None, count)
    if paging == "skip":
        return Page(items, None, query.skip + len(items), count)
    return Page(items, last, None, count)


def project(obj: GraphObject, select: tuple[str, ...] | None) -> GraphObject:
    """``$select``: the chosen properties in the object's own order (type annotations kept).
    A chosen property the object lacks is null, unless the object's ``@odata.type`` does not
    declare it (an ipNamedLocation never carries ``countriesAndRegions``)."""
    if select is None:
        return obj
    chosen = set(select)
    projected = {key: value for key, value in obj.items() if key in chosen or key == "@odata.type"}
    declared = _declared_properties(obj)
    for name in select:
        if declared is None or name in declared:
            projected.setdefault(name, None)
    return projected


def _declared_properties(obj: GraphObject) -> frozenset[str] | None:
    """Property names of the type ``obj`` names in ``@odata.type``, or None when it names none."""
    annotation = obj.get("@odata.type")
    if not isinstance(annotation, str):
        return None
    return property_names("v1.0", annotation.rpartition(".")[2]) or None


def next_link(base: str, path: str, query: Query, page: Page, tokens: SkipTokens) -> str | None:
    """``@odata.nextLink``: the same query options plus where to resume."""
    options: list[tuple[str, str]] = list(query.original)
    if page.next_key is not None:
        options.append(("$skiptoken", tokens.encode(page.next_key, query)))
    elif page.next_skip is not None:
        if not any(name.lower() == "$top" for name, _value in options):
            options.append(("$top", str(query.top)))
        options.append(("$skip", str(page.next_skip)))
    else:
        return None
    encoded = urlencode(options, safe="$,()'")
    return f"{base}{path}?{encoded}"
