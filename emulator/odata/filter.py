"""OData v4 ``$filter`` for the emulated Graph: parse, check, evaluate, and narrow a scan by it.

The emulator answers like Microsoft Graph: a supported filter is evaluated exactly, an unsupported
one is a 400, never a silently unfiltered list (graph-facts §0, and the per-collection operator
lists in §1, §2, §4, §5, §7).

Typical use in a collection handler::

    node = parse_filter(text)                                     # FilterSyntaxError
    check_capabilities(node, capabilities, advanced=advanced)     # UnsupportedFilter
    bounds = time_bounds(node, "createdDateTime")                 # narrow an index scan first
    rows = [row for row in candidates if evaluate(node, row)]

Exceptions (``message`` is one sentence fit for a Graph error body)::

    FilterError
     ├── FilterSyntaxError   malformed text; ``position`` is a 0-based index into it
     └── UnsupportedFilter   well formed, but this collection does not support it

Strings compare case-insensitively, as the directory and the reports do. Date-time literals are
compared as integer 100-nanosecond ticks, because Graph emits seven fractional digits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from emulator.odata.parser import parse_filter
from emulator.odata.tree import (
    OPERATORS,
    TEXT_KINDS,
    And,
    Compare,
    FilterError,
    FilterSyntaxError,
    Function,
    In,
    Lambda,
    Literal,
    LiteralKind,
    Node,
    Not,
    Or,
    Path,
    UnsupportedFilter,
    datetime_to_ticks,
    evaluate,
    parse_datetime_ticks,
)

# fmt: off
__all__ = [
    "OPERATORS", "And", "Compare", "FilterCapabilities", "FilterError", "FilterSyntaxError",
    "Function", "In", "Lambda", "Literal", "LiteralKind", "Node", "Not", "Or", "Path", "TimeBounds",
    "UnsupportedFilter", "check_capabilities", "datetime_to_ticks", "evaluate",
    "parse_datetime_ticks", "parse_filter", "required_values", "time_bounds",
]
# fmt: on

# --- capabilities --------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterCapabilities:
    """What a collection supports: path -> operator names (see ``OPERATORS``).

    ``properties`` are allowed on every request; ``advanced`` only on advanced queries
    (``ConsistencyLevel: eventual`` and ``$count=true``). Paths are written without type-cast
    segments (``scope/query``); inside a lambda they are ``<collection>/<sub-property>``, or the
    collection itself for a collection of primitives. Raises ValueError on unknown operators.
    """

    properties: Mapping[str, frozenset[str]]
    advanced: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for mapping in (self.properties, self.advanced):
            for path, operators in mapping.items():
                if unknown := set(operators) - OPERATORS:
                    raise ValueError(f"unknown filter operators for {path!r}: {sorted(unknown)}")


def check_capabilities(node: Node, capabilities: FilterCapabilities, *, advanced: bool) -> None:
    """Raise UnsupportedFilter for the first clause, left to right, the collection rejects.

    Within one clause an operator supported nowhere is reported before one that needs an
    advanced query, so ``needs_advanced`` is True only when advanced query would fix the clause.
    """
    for paths, operators in _clauses(node, negated=False, scope=None):
        support = [(name, _support(capabilities, paths, name)) for name in operators]
        for name, level in support:
            if not level:
                raise UnsupportedFilter(paths[0], name, needs_advanced=False)
        for name, level in support:
            if level == "advanced" and not advanced:
                raise UnsupportedFilter(paths[0], name, needs_advanced=True)


def _support(capabilities: FilterCapabilities, paths: tuple[str, ...], name: str) -> str:
    if any(name in capabilities.properties.get(path, ()) for path in paths):
        return "default"
    if any(name in capabilities.advanced.get(path, ()) for path in paths):
        return "advanced"
    return ""


def _clauses(
    node: Node, *, negated: bool, scope: str | None
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Yield (capability paths, required operators) per clause, left to right.

    The first capability path is the one reported; the second, if any, keeps type casts.
    """
    negation = ("not",) if negated else ()
    match node:
        case And(operands) | Or(operands):
            for operand in operands:
                yield from _clauses(operand, negated=negated, scope=scope)
        case Not(operand):
            yield from _clauses(operand, negated=True, scope=scope)
        case Compare(path, op, literal):
            needed: tuple[str, ...] = (op,)
            if literal.kind is LiteralKind.NULL and op in ("eq", "ne"):
                needed = ("eqNull", "ne") if op == "ne" else ("eqNull",)
            yield _capability_paths(path, scope), needed + negation
        case Function(name, path):
            yield _capability_paths(path, scope), (name, *negation)
        case In(path):
            yield _capability_paths(path, scope), ("in", *negation)
        case Lambda(path, kind, _, body):
            paths = _capability_paths(path, scope)
            yield paths, (kind, *negation)
            yield from _clauses(body, negated=negated, scope=paths[0])


def _capability_paths(path: Path, scope: str | None) -> tuple[str, ...]:
    candidates: tuple[str, ...] = (path.key, path.relative)
    if scope is not None:
        candidates = tuple(f"{scope}/{c}" if c else scope for c in candidates)
    return tuple(dict.fromkeys(candidates))


# --- analysis ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """An interval of ticks; a None end is unbounded."""

    lower: int | None = None
    lower_inclusive: bool = True
    upper: int | None = None
    upper_inclusive: bool = True

    def contains(self, ticks: int) -> bool:
        """Return whether ``ticks`` lies within the bounds."""
        if self.lower is not None and (
            ticks < self.lower or (ticks == self.lower and not self.lower_inclusive)
        ):
            return False
        return self.upper is None or not (
            ticks > self.upper or (ticks == self.upper and not self.upper_inclusive)
        )


def _conjuncts(node: Node) -> Iterator[Node]:
    if isinstance(node, And):
        for operand in node.operands:
            yield from _conjuncts(operand)
    else:
        yield node


def _on_path(candidate: Path, path: str) -> bool:
    return candidate.variable is None and path in (candidate.key, candidate.text)


def time_bounds(node: Node, path: str) -> TimeBounds:
    """Return the tightest bounds on ``path`` that every matching object's ticks lie within.

    Only top-level conjuncts ``path op <DateTimeOffset>`` count (ge/gt lower, le/lt upper, eq
    both); anything under ``or`` or ``not`` is ignored, so the bounds are a safe superset.
    """
    lower: int | None = None
    upper: int | None = None
    lower_inclusive = upper_inclusive = True
    for clause in _conjuncts(node):
        if not isinstance(clause, Compare) or clause.literal.kind is not LiteralKind.DATETIME:
            continue
        if not _on_path(clause.path, path):
            continue
        ticks = parse_datetime_ticks(clause.literal.text)
        inclusive = clause.op in ("ge", "le", "eq")
        if clause.op in ("ge", "gt", "eq") and (
            lower is None or ticks > lower or (ticks == lower and not inclusive)
        ):
            lower, lower_inclusive = ticks, inclusive
        if clause.op in ("le", "lt", "eq") and (
            upper is None or ticks < upper or (ticks == upper and not inclusive)
        ):
            upper, upper_inclusive = ticks, inclusive
    return TimeBounds(lower, lower_inclusive, upper, upper_inclusive)


def required_values(node: Node, path: str, *, keep_case: bool = False) -> frozenset[str] | None:
    """Return the lower-cased strings ``path`` must equal for ``node`` to hold, or None.

    Sound: whenever ``evaluate(node, obj)`` is true, ``value.lower()`` is in the returned set.
    None means the filter does not constrain ``path`` to a finite set of strings. With
    ``keep_case`` the strings are as written (opaque base64 ids do not survive lower-casing).
    """

    def text(literal: Literal) -> str:
        return literal.text if keep_case else literal.text.lower()

    match node:
        case And(operands):
            constrained = [required_values(operand, path, keep_case=keep_case) for operand in operands]
            sets = [values for values in constrained if values is not None]
            if not sets:
                return None
            folded = [frozenset(value.lower() for value in values) for values in sets]
            return frozenset(v for values in sets for v in values if all(v.lower() in f for f in folded))
        case Or(operands):
            result: set[str] = set()
            for operand in operands:
                values = required_values(operand, path, keep_case=keep_case)
                if values is None:
                    return None
                result |= values
            return frozenset(result)
        case Compare(candidate, "eq", literal) if literal.kind in TEXT_KINDS:
            return frozenset({text(literal)}) if _on_path(candidate, path) else None
        case In(candidate, values) if all(value.kind in TEXT_KINDS for value in values):
            return frozenset(text(v) for v in values) if _on_path(candidate, path) else None
    return None
