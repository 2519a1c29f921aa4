"""One Graph endpoint and the facts that govern it (graph-facts §1–§9): the permissions that
allow it, the licence it needs, its throttling family and cost, its page sizes, the ``$filter``
forms it supports, and how to find its data in the tenant."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources

from emulator.odata.filter import FilterCapabilities
from emulator.tenant.base import Collection, GraphObject
from emulator.tenant.model import Tenant

Resolved = Collection | GraphObject | None
Resolver = Callable[[Tenant, Mapping[str, str]], Resolved]
DIRECTORY_ADVANCED = frozenset({"ne", "not", "endsWith", "eqNull"})


def capabilities(default: Mapping[str, str], advanced: Mapping[str, str] | None = None) -> FilterCapabilities:
    """Capabilities from ``{"path": "eq in startsWith"}`` tables."""
    return FilterCapabilities(
        properties={path: frozenset(ops.split()) for path, ops in default.items()},
        advanced={path: frozenset(ops.split()) for path, ops in (advanced or {}).items()},
    )


def directory_capabilities(default: Mapping[str, str]) -> FilterCapabilities:
    """Directory objects: ``ne``, ``not``, ``endsWith`` and ``eq null`` need advanced query."""
    return capabilities(default, {path: " ".join(sorted(DIRECTORY_ADVANCED)) for path in default})


@functools.cache
def property_names(version: str, entity_type: str) -> frozenset[str]:
    """Structural property names of a Graph type (from the published metadata)."""
    data = json.loads(resources.files("emulator.data").joinpath("properties.json").read_text())
    names = data.get(version, {}).get(entity_type) or data["v1.0"].get(entity_type, [])
    return frozenset(names)


@dataclass(frozen=True)
class Endpoint:
    name: str
    pattern: str
    resolve: Resolver
    entity_type: str
    family: str
    permissions: tuple[frozenset[str], ...]
    context: str
    """``@odata.context`` after ``$metadata#``; ``{id}`` is replaced by the path's id."""
    versions: frozenset[str] = frozenset({"v1.0"})
    is_collection: bool = True
    page_default: int = 100
    page_max: int = 999
    filters: FilterCapabilities | None = None
    count_supported: bool = False
    paging: str = "skiptoken"
    licence: str | None = None
    resource_units: int = 1
    resource_label: str = ""
    select_types: tuple[str, ...] = ()
    default_select: tuple[str, ...] | None = None
    """Properties returned when the request has no ``$select`` (None: all of them)."""
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", compile_pattern(self.pattern))

    def selectable(self, version: str = "v1.0") -> frozenset[str]:
        names: set[str] = set()
        for type_name in self.select_types or (self.entity_type,):
            names |= property_names(version, type_name)
        return frozenset(names)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``servicePrincipals/{id}/appRoleAssignedTo`` -> a regex with named groups for the ids."""
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(
        re.escape(part) if number % 2 == 0 else f"(?P<{part}>[^/']+)" for number, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$", re.IGNORECASE)
