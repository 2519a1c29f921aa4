"""The pieces every generated collection shares: the tenant context and the collection contract.

A collection orders its objects by a *key* (a tuple of ints). Directory collections use their
position: fixed objects first, then generated ones, then objects injected at run time. The sign-in
log uses a time-ordered key instead (see ``signins.py``). Paging resumes strictly after a key, so
objects injected later never shift a page a client is reading.
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from emulator.ids import Seeded
from emulator.odata.filter import Node, required_values
from emulator.tenant.scale import Scale

Key = tuple[int, ...]
GraphObject = dict[str, Any]

LICENSES = ("free", "P1", "P2")


@dataclass
class TenantContext:
    """What every generator needs: the seed's random streams, the instant, the counts."""

    seed: int
    now: datetime
    scale: Scale
    license: str = "P2"
    seeded: Seeded = field(init=False)
    tenant_id: str = field(init=False)
    domain: str = field(init=False)
    organization: str = field(init=False)

    def __post_init__(self) -> None:
        if self.license not in LICENSES:
            raise ValueError(f"license must be one of {', '.join(LICENSES)}, got {self.license!r}")
        self.seeded = Seeded(self.seed)
        self.tenant_id = self.seeded.guid("tenant", 0)
        self.organization = f"Contoso {self.seed}"
        self.domain = f"contoso{self.seed}.onmicrosoft.com"

    def ago(self, days: float = 0.0, hours: float = 0.0) -> datetime:
        return self.now - timedelta(days=days, hours=hours)

    def ahead(self, days: float = 0.0, hours: float = 0.0) -> datetime:
        return self.now + timedelta(days=days, hours=hours)

    @property
    def premium(self) -> bool:
        return self.license in ("P1", "P2")


class Collection(ABC):
    """A Graph collection the emulator can page through and filter."""

    entity_type: str
    """The unqualified Graph type of the items (``application``, ``signIn`` …)."""

    @abstractmethod
    def count(self) -> int:
        """How many objects the collection holds now."""

    @abstractmethod
    def scan(self, after: Key | None, filter_node: Node | None) -> Iterator[tuple[Key, GraphObject]]:
        """Objects in collection order, strictly after ``after``.

        May skip objects that cannot match ``filter_node`` (a cheap pre-selection); the caller still
        evaluates the filter on every object yielded.
        """

    @abstractmethod
    def get(self, object_id: str) -> GraphObject | None:
        """One object by its id, or None."""


class IndexedCollection(Collection):
    """Fixed objects, then ``generated_count`` objects made on demand, then injected objects.

    ``generate(index)`` builds generated object ``index``; ``generated_index(id)`` inverts its id.
    ``alternate_keys`` maps a property (such as ``appId`` or a grant's ``clientId``) to a lookup
    from a value to the positions holding it, so that ``appId eq '…'`` filters and
    ``(appId='…')`` addressing need no scan.
    """

    def __init__(
        self,
        entity_type: str,
        fixed: Iterable[GraphObject],
        generated_count: int,
        generate: Callable[[int], GraphObject],
        generated_index: Callable[[str], int | None],
        alternate_keys: Mapping[str, Callable[[str], Iterable[int]]] | None = None,
    ) -> None:
        self.entity_type = entity_type
        self._fixed = list(fixed)
        self._generated_count = generated_count
        self._generate = generate
        self._generated_index = generated_index
        self._fixed_positions = {obj["id"].lower(): position for position, obj in enumerate(self._fixed)}
        self._injected: list[GraphObject] = []
        self._injected_positions: dict[str, int] = {}
        self._injected_keys: dict[tuple[str, str], list[int]] = {}
        self._replaced: dict[int, GraphObject] = {}
        self._alternate_keys = dict(alternate_keys or {})
        self._alternate_keys.setdefault("id", self._positions_of_id)

    # -- positions -------------------------------------------------------------------------

    @property
    def fixed_count(self) -> int:
        return len(self._fixed)

    def count(self) -> int:
        return len(self._fixed) + self._generated_count + len(self._injected)

    def at(self, position: int) -> GraphObject:
        """The object at ``position`` (0 ≤ position < count())."""
        replaced = self._replaced.get(position)
        if replaced is not None:
            return replaced
        if position < len(self._fixed):
            return self._fixed[position]
        index = position - len(self._fixed)
        if index < self._generated_count:
            return self._generate(index)
        return self._injected[index - self._generated_count]

    def position_of(self, object_id: str) -> int | None:
        lowered = object_id.lower()
        position = self._fixed_positions.get(lowered)
        if position is not None:
            return position
        position = self._injected_positions.get(lowered)
        if position is not None:
            return position
        index = self._generated_index(object_id)
        if index is not None and index < self._generated_count:
            return len(self._fixed) + index
        return None

    def _positions_of_id(self, object_id: str) -> Iterable[int]:
        position = self.position_of(object_id)
        return () if position is None else (position,)

    def positions_by(self, property_name: str, value: str) -> list[int]:
        """Positions whose ``property_name`` may equal ``value`` (a superset; [] if none)."""
        lookup = self._alternate_keys.get(property_name)
        if lookup is None:
            raise KeyError(property_name)
        injected = self._injected_keys.get((property_name, value.lower()), [])
        return sorted({*lookup(value), *injected})

    def generated_position(self, index: int) -> int:
        return len(self._fixed) + index

    def get(self, object_id: str) -> GraphObject | None:
        position = self.position_of(object_id)
        return None if position is None else self.at(position)

    # -- run-time changes ------------------------------------------------------------------

    def inject(self, obj: GraphObject) -> int:
        """Append a new object; returns its position."""
        position = self.count()
        self._injected.append(obj)
        self._injected_positions[obj["id"].lower()] = position
        for property_name in self._alternate_keys:
            value = obj.get(property_name)
            if isinstance(value, str):
                self._injected_keys.setdefault((property_name, value.lower()), []).append(position)
        return position

    def replace(self, position: int, obj: GraphObject) -> None:
        """Change an existing object (a credential added at run time, a policy edited)."""
        if not 0 <= position < self.count():
            raise IndexError(position)
        if position >= len(self._fixed) + self._generated_count:
            self._injected[position - len(self._fixed) - self._generated_count] = obj
        else:
            self._replaced[position] = obj

    def changed_positions(self) -> list[int]:
        """Positions of objects replaced or injected at run time."""
        injected_start = len(self._fixed) + self._generated_count
        return sorted({*self._replaced, *range(injected_start, self.count())})

    def injected_positions(self) -> range:
        return range(len(self._fixed) + self._generated_count, self.count())

    # -- scanning --------------------------------------------------------------------------

    def candidates(self, filter_node: Node | None) -> list[int] | None:
        """Sorted positions that can match, when an alternate key pins them down; else None."""
        if filter_node is None:
            return None
        for property_name in self._alternate_keys:
            # As written: lookups fold case themselves, and grant ids are case-sensitive base64.
            values = required_values(filter_node, property_name, keep_case=True)
            if values is None:
                continue
            positions = {position for value in values for position in self.positions_by(property_name, value)}
            return sorted(position for position in positions if position < self.count())
        return None

    def scan(self, after: Key | None, filter_node: Node | None) -> Iterator[tuple[Key, GraphObject]]:
        start = after[0] + 1 if after else 0
        candidates = self.candidates(filter_node)
        if candidates is not None:
            for position in candidates[bisect.bisect_left(candidates, start) :]:
                yield (position,), self.at(position)
            return
        for position in range(start, self.count()):
            yield (position,), self.at(position)


class ListCollection(IndexedCollection):
    """A small collection held entirely in memory (policies, reviews, named locations)."""

    def __init__(self, entity_type: str, objects: Iterable[GraphObject]) -> None:
        super().__init__(entity_type, objects, 0, _no_generated, _no_index)


def _no_generated(index: int) -> GraphObject:
    raise IndexError(index)


def _no_index(object_id: str) -> int | None:
    return None
