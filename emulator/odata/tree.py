"""The ``$filter`` syntax tree, its errors, Graph's date-time precision, and evaluation.

Strings compare case-insensitively, as the directory and the reports do. Date-time literals are
compared as integer 100-nanosecond ticks, because Graph emits seven fractional digits.
"""

from __future__ import annotations

import enum
import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

ORDERINGS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    name: getattr(operator, name) for name in ("eq", "ne", "gt", "ge", "lt", "le")
}
FUNCTIONS: Final = {"startswith": "startsWith", "endswith": "endsWith", "contains": "contains"}
_STRING_METHODS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "startsWith": str.startswith,
    "endsWith": str.endswith,
    "contains": str.__contains__,
}
OPERATORS: Final = frozenset([*ORDERINGS, *_STRING_METHODS, "in", "not", "any", "all", "eqNull"])
MAX_NESTING: Final = 64  # parentheses, not and lambdas; far below the recursion limit


class FilterError(Exception):
    """Base of every ``$filter`` failure; ``message`` is a human sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FilterSyntaxError(FilterError):
    """Malformed filter text; the message has Graph's wording and ``reason`` says what was wrong."""

    def __init__(self, text: str, position: int, reason: str) -> None:
        super().__init__(f"Syntax error at position {position} in '{text}'.")
        self.text = text
        self.position = position
        self.reason = reason


class UnsupportedFilter(FilterError):  # noqa: N818 - the name other modules import
    """A well-formed filter clause that the collection does not support (Graph answers 400)."""

    def __init__(self, path: str, operator: str, needs_advanced: bool = False) -> None:
        spelled = "eq null" if operator == "eqNull" else operator
        super().__init__(
            f"Operator '{spelled}' is not supported on '{path}' because the required parameters "
            "might be missing. Try adding $count=true query parameter and "
            "ConsistencyLevel:eventual header."
            if needs_advanced
            else f"Unsupported or invalid query filter clause specified for property '{path}' "
            f"(operator '{spelled}')."
        )
        self.path = path
        self.operator = operator
        self.needs_advanced = needs_advanced


# --- date and time -------------------------------------------------------------------------

_TICKS_PER_SECOND: Final = 10_000_000
_TICKS_PER_DAY: Final = 86_400 * _TICKS_PER_SECOND
_DATETIME_PATTERN: Final = re.compile(  # ranges checked here; day-of-month by date()
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([01][0-9]|2[0-3]):([0-5][0-9])"
    r"(?::([0-5][0-9])(?:\.([0-9]{1,7}))?)?(?:[Zz]|([+-])([01]?[0-9]|2[0-3]):([0-5][0-9]))"
)
_EPOCH: Final = datetime(1, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=4096)  # a log spans few days; this halves the cost of a row
def _day_ticks(day: str) -> int:
    return (date.fromisoformat(day).toordinal() - 1) * _TICKS_PER_DAY


def parse_datetime_ticks(text: str) -> int:
    """Return ISO-8601 ``text`` as 100-ns ticks since 0001-01-01T00:00:00Z.

    Accepts 0-7 fractional digits, seconds optional, ``Z`` or an offset ``±h:mm``/``±hh:mm``.
    Raises ValueError for anything else, including impossible dates and times.
    """
    match = _DATETIME_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO-8601 date and time with an offset: {text!r}")
    day, hours, minutes, seconds, fraction, sign, offset_hours, offset_minutes = match.groups()
    ticks = _day_ticks(day) + _TICKS_PER_SECOND * (int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0))
    if fraction:
        ticks += int(fraction.ljust(7, "0"))
    if sign:
        offset = (int(offset_hours) * 3600 + int(offset_minutes) * 60) * _TICKS_PER_SECOND
        ticks += -offset if sign == "+" else offset
    return ticks


def datetime_to_ticks(instant: datetime) -> int:
    """Return ``instant`` as ticks like :func:`parse_datetime_ticks`; naive means UTC."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return (instant - _EPOCH) // timedelta(microseconds=1) * 10


# --- the syntax tree -----------------------------------------------------------------------


class LiteralKind(enum.Enum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    NULL = "null"
    GUID = "guid"
    DATETIME = "datetime"  # DateTimeOffset; value is the text as written
    DATE = "date"  # Edm.Date; value is "YYYY-MM-DD"
    ENUM = "enum"  # microsoft.graph.riskLevel'medium'; value is "medium"


TEXT_KINDS: Final = frozenset({LiteralKind.STRING, LiteralKind.GUID, LiteralKind.ENUM})


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant in a filter. ``type_name`` is the enum type of a typed enum literal."""

    kind: LiteralKind
    value: str | int | float | bool | None
    type_name: str | None = None

    @property
    def text(self) -> str:
        """The value of a string-like literal; raises TypeError for numbers, booleans and null."""
        if not isinstance(self.value, str):
            raise TypeError(f"a {self.kind.value} literal has no text value")
        return self.value


@dataclass(frozen=True, slots=True)
class Path:
    """A property path as written, e.g. ``status/errorCode``; segments with a dot are type casts.

    Inside a lambda the path starts with the lambda ``variable`` (``k/endDateTime``), which
    stands for the collection element. ``key`` is the path without the variable and without
    type-cast segments; ``relative`` is the path without the variable only.
    """

    text: str
    variable: str | None = None
    key: str = field(init=False, repr=False, compare=False)
    relative: str = field(init=False, repr=False, compare=False)
    _steps: tuple[tuple[str, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segments = self.text.split("/")
        if self.variable is not None:
            if segments[0] != self.variable:
                raise ValueError(f"path {self.text!r} does not start with {self.variable!r}")
            segments = segments[1:]
        steps = tuple((s.lower(), True) if "." in s else (s, False) for s in segments)
        object.__setattr__(self, "_steps", steps)
        object.__setattr__(self, "relative", "/".join(segments))
        object.__setattr__(self, "key", "/".join(s for s in segments if "." not in s))

    def resolve(self, obj: Any) -> Any:
        """Return the value at this path in ``obj``; None where anything along it is missing.

        A type-cast segment is skipped unless the object there names another ``@odata.type``.
        """
        value = obj
        for name, is_cast in self._steps:
            if type(value) is not dict and not isinstance(value, Mapping):
                return None
            if not is_cast:
                value = value.get(name)
                continue
            odata_type = value.get("@odata.type")
            if isinstance(odata_type, str) and odata_type.lstrip("#").lower() != name:
                return None
        return value


class Node:
    """Base of the syntax tree; ``matches`` is :func:`evaluate` for that node."""

    __slots__ = ()

    def matches(self, obj: Any) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class And(Node):
    operands: tuple[Node, ...]

    def matches(self, obj: Any) -> bool:
        for operand in self.operands:  # noqa: SIM110 - no generator per row
            if not operand.matches(obj):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Or(Node):
    operands: tuple[Node, ...]

    def matches(self, obj: Any) -> bool:
        for operand in self.operands:  # noqa: SIM110 - no generator per row
            if operand.matches(obj):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node

    def matches(self, obj: Any) -> bool:
        return not self.operand.matches(obj)


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``path op literal`` with op in eq ne gt ge lt le; the test is compiled once, here."""

    path: Path
    op: str
    literal: Literal
    _test: Callable[[Any], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in ORDERINGS:
            raise ValueError(f"not a comparison operator: {self.op!r}")
        object.__setattr__(self, "_test", _compile_comparison(self.op, self.literal))

    def matches(self, obj: Any) -> bool:
        return self._test(self.path.resolve(obj))


@dataclass(frozen=True, slots=True)
class Function(Node):
    """``startsWith``/``endsWith``/``contains`` (canonical names) of a path and a string."""

    name: str
    path: Path
    literal: Literal
    _needle: str = field(init=False, repr=False, compare=False)
    _method: Callable[[str, str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_method", _STRING_METHODS[self.name])
        object.__setattr__(self, "_needle", self.literal.text.lower())

    def matches(self, obj: Any) -> bool:
        value = self.path.resolve(obj)
        return isinstance(value, str) and self._method(value.lower(), self._needle)


@dataclass(frozen=True, slots=True)
class In(Node):
    """``path in (literal, ...)``: equal to any of the values."""

    path: Path
    values: tuple[Literal, ...]
    _texts: frozenset[str] | None = field(init=False, repr=False, compare=False)
    _tests: tuple[Callable[[Any], bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        texts = None
        if all(value.kind in TEXT_KINDS for value in self.values):
            texts = frozenset(value.text.lower() for value in self.values)
        object.__setattr__(self, "_texts", texts)
        object.__setattr__(self, "_tests", tuple(_compile_comparison("eq", v) for v in self.values))

    def matches(self, obj: Any) -> bool:
        value = self.path.resolve(obj)
        if self._texts is not None:
            return isinstance(value, str) and value.lower() in self._texts
        return any(test(value) for test in self._tests)


@dataclass(frozen=True, slots=True)
class Lambda(Node):
    """``path/any(v: body)`` or ``path/all(v: body)``; ``body`` sees each element as ``v``.

    A missing, null or non-list value counts as an empty collection: any is false, all is true.
    """

    path: Path
    kind: str
    variable: str
    body: Node

    def matches(self, obj: Any) -> bool:
        items = self.path.resolve(obj)
        if not isinstance(items, list | tuple):
            items = ()
        body = self.body
        wanted = self.kind == "any"  # any: stop at the first match; all: at the first miss
        for item in items:
            if body.matches(item) is wanted:
                return wanted
        return not wanted


def evaluate(node: Node, obj: Mapping[str, Any]) -> bool:
    """Return whether the Graph JSON object ``obj`` satisfies the filter ``node``."""
    return node.matches(obj)


# --- compiled comparisons ------------------------------------------------------------------
# A key function maps an object's value to a key comparable with the literal's, or to None when
# the two cannot be compared (wrong type, unparseable): then eq is false and ne is true.


def _ticks_key(value: Any) -> int | None:
    if isinstance(value, str):
        try:
            return parse_datetime_ticks(value)
        except ValueError:
            return None
    return datetime_to_ticks(value) if isinstance(value, datetime) else None


def _text_key(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


_VALUE_KEYS: Final[Mapping[LiteralKind, Callable[[Any], Any]]] = {
    LiteralKind.DATETIME: _ticks_key,
    LiteralKind.DATE: lambda value: value[:10] if isinstance(value, str) else None,
    LiteralKind.BOOLEAN: lambda value: value if isinstance(value, bool) else None,
    LiteralKind.INTEGER: lambda value: None if isinstance(value, bool) else _number(value),
    LiteralKind.DECIMAL: lambda value: None if isinstance(value, bool) else _number(value),
}


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) else None


def _literal_key(literal: Literal) -> tuple[Any, Callable[[Any], Any]]:
    """Return the literal's comparison key and the function giving an object value's key."""
    if literal.kind in TEXT_KINDS:
        return literal.text.lower(), _text_key
    if literal.kind is LiteralKind.DATETIME:
        return parse_datetime_ticks(literal.text), _ticks_key
    return literal.value, _VALUE_KEYS[literal.kind]


def _compile_comparison(op: str, literal: Literal) -> Callable[[Any], bool]:
    """Return a test of one resolved value; ``ne`` is always the negation of ``eq``."""
    if literal.kind is LiteralKind.NULL:
        if op in ("eq", "ne"):
            return (lambda value: value is None) if op == "eq" else (lambda value: value is not None)
        return lambda value: False
    key, to_key = _literal_key(literal)
    if to_key is _text_key and op in ("eq", "ne"):  # the hot case, kept to one call
        if op == "eq":
            return lambda value: isinstance(value, str) and value.lower() == key
        return lambda value: not isinstance(value, str) or value.lower() != key
    if op == "ne":
        return lambda value: to_key(value) != key
    ordering = ORDERINGS[op]
    return lambda value: (found := to_key(value)) is not None and ordering(found, key)
