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

import enum
import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

# fmt: off
__all__ = [
    "OPERATORS", "And", "Compare", "FilterCapabilities", "FilterError", "FilterSyntaxError",
    "Function", "In", "Lambda", "Literal", "LiteralKind", "Node", "Not", "Or", "Path", "TimeBounds",
    "UnsupportedFilter", "check_capabilities", "datetime_to_ticks", "evaluate",
    "parse_datetime_ticks", "parse_filter", "required_values", "time_bounds",
]
# fmt: on

_ORDERINGS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    name: getattr(operator, name) for name in ("eq", "ne", "gt", "ge", "lt", "le")
}
_FUNCTIONS: Final = {"startswith": "startsWith", "endswith": "endsWith", "contains": "contains"}
_STRING_METHODS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "startsWith": str.startswith,
    "endsWith": str.endswith,
    "contains": str.__contains__,
}
OPERATORS: Final = frozenset([*_ORDERINGS, *_STRING_METHODS, "in", "not", "any", "all", "eqNull"])
_MAX_NESTING: Final = 64  # parentheses, not and lambdas; far below the recursion limit


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


_TEXT_KINDS: Final = frozenset({LiteralKind.STRING, LiteralKind.GUID, LiteralKind.ENUM})


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
        if self.op not in _ORDERINGS:
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
        if all(value.kind in _TEXT_KINDS for value in self.values):
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
    if literal.kind in _TEXT_KINDS:
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
    ordering = _ORDERINGS[op]
    return lambda value: (found := to_key(value)) is not None and ordering(found, key)


# --- lexer ---------------------------------------------------------------------------------

_TOKEN_PATTERN: Final = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<punctuation>[(),:/])
    | (?P<string>'(?:[^']|'')*')
    | (?P<guid>[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})(?![\w.-])
    | (?P<datetime>[0-9]{4}(?:-[0-9]{2}){2}[Tt][\w:.+-]*)
    | (?P<date>[0-9]{4}(?:-[0-9]{2}){2})(?![\w.:-])
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![\w.])
    | (?P<enum>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+'(?:[^']|'')*')
    | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    """,
    re.VERBOSE | re.ASCII,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # a punctuation character, a group name of _TOKEN_PATTERN, or "end"
    text: str
    position: int

    def word(self) -> str:
        """The lower-cased text of a name token (keywords are case-insensitive), else ""."""
        return self.text.lower() if self.kind == "name" else ""


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens ending with an "end" token; raises FilterSyntaxError."""
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_PATTERN.match(text, position)
        if match is None:
            raise FilterSyntaxError(text, position, "unexpected character")
        kind = match.lastgroup or ""
        if kind != "space":
            token_text = match.group(kind)
            tokens.append(_Token(token_text if kind == "punctuation" else kind, token_text, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _unquote(quoted: str) -> str:
    return quoted[1:-1].replace("''", "'")


# --- parser --------------------------------------------------------------------------------


class _Parser:
    """Recursive descent: or > and > not > (comparison | in | function | lambda | parentheses)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokenize(text)
        self._index = 0
        self._variables: tuple[str, ...] = ()
        self._depth = 0

    def parse(self) -> Node:
        node = self._disjunction()
        self._expect("end", "expected 'and', 'or' or the end of the filter")
        return node

    def _peek(self, ahead: int = 0) -> _Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _next(self) -> _Token:
        token = self._peek()
        self._index = min(self._index + 1, len(self._tokens) - 1)
        return token

    def _error(self, token: _Token, reason: str) -> FilterSyntaxError:
        return FilterSyntaxError(self._text, token.position, reason)

    def _accept(self, kind_or_keyword: str) -> bool:
        """Consume the next token if it is this punctuation or (case-insensitive) keyword."""
        token = self._peek()
        if kind_or_keyword not in (token.kind, token.word()):
            return False
        self._next()
        return True

    def _expect(self, kind: str, reason: str) -> _Token:
        if self._peek().kind != kind:
            raise self._error(self._peek(), reason)
        return self._next()

    def _disjunction(self) -> Node:
        operands = [self._conjunction()]
        while self._accept("or"):
            operands.append(self._conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _conjunction(self) -> Node:
        operands = [self._unary()]
        while self._accept("and"):
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _unary(self) -> Node:
        self._depth += 1
        if self._depth > _MAX_NESTING:
            raise self._error(self._peek(), "the filter is nested too deeply")
        node = Not(self._unary()) if self._accept("not") else self._primary()
        self._depth -= 1
        return node

    def _primary(self) -> Node:
        token = self._peek()
        if token.kind == "(":
            self._next()
            node = self._disjunction()
            self._expect(")", "expected ')'")
            return node
        if token.kind != "name":
            raise self._error(token, "expected a property, a function, 'not' or '('")
        if token.word() in _FUNCTIONS and self._peek(1).kind == "(":
            return self._function()
        path = self._path()
        if self._peek().kind == "/":
            return self._lambda(path)
        operator_token = self._next()
        word = operator_token.word()
        if word in _ORDERINGS:
            return Compare(path, word, self._literal())
        if word == "in":
            return In(path, self._literal_list())
        raise self._error(operator_token, "expected a comparison operator, 'in' or a lambda")

    def _path(self) -> Path:
        """Read ``name(/name)*``, stopping before a ``/any(`` or ``/all(``."""
        first = self._expect("name", "expected a property")
        segments = [first.text]
        while self._peek().kind == "/" and not self._at_lambda():
            self._next()
            segments.append(self._expect("name", "expected a property after '/'").text)
        if not self._variables:
            return Path("/".join(segments))
        if segments[0] != self._variables[-1]:
            raise self._error(first, f"inside a lambda a path must start with '{self._variables[-1]}'")
        return Path("/".join(segments), self._variables[-1])

    def _at_lambda(self) -> bool:
        return self._peek(1).word() in ("any", "all") and self._peek(2).kind == "("

    def _function(self) -> Function:
        name = _FUNCTIONS[self._next().word()]
        self._next()  # "("
        path = self._path()
        self._expect(",", "expected ','")
        literal_token = self._peek()
        literal = self._literal()
        if literal.kind is not LiteralKind.STRING:
            raise self._error(literal_token, f"{name} needs a string literal")
        self._expect(")", "expected ')'")
        return Function(name, path, literal)

    def _lambda(self, path: Path) -> Lambda:
        self._next()  # "/"
        kind = self._next().word()
        self._next()  # "("
        variable = self._expect("name", "expected a lambda variable").text
        if "." in variable:
            raise self._error(self._tokens[self._index - 1], "a lambda variable cannot contain '.'")
        self._expect(":", "expected ':' after the lambda variable")
        self._variables += (variable,)
        body = self._disjunction()
        self._variables = self._variables[:-1]
        self._expect(")", "expected ')'")
        return Lambda(path, kind, variable, body)

    def _literal_list(self) -> tuple[Literal, ...]:
        self._expect("(", "expected '(' after 'in'")
        values = [self._literal()]
        while self._accept(","):
            values.append(self._literal())
        self._expect(")", "expected ',' or ')'")
        return tuple(values)

    def _literal(self) -> Literal:
        token = self._next()
        kind, text = token.kind, token.text
        if kind == "string":
            return Literal(LiteralKind.STRING, _unquote(text))
        if kind == "number":
            if any(mark in text for mark in ".eE"):
                return Literal(LiteralKind.DECIMAL, float(text))
            return Literal(LiteralKind.INTEGER, int(text))
        if kind == "guid":
            return Literal(LiteralKind.GUID, text)
        if kind == "enum":
            type_name, quoted = text.split("'", 1)
            return Literal(LiteralKind.ENUM, _unquote("'" + quoted), type_name)
        if kind in ("datetime", "date"):
            if not _is_valid_temporal(kind, text):
                raise self._error(token, f"not a valid {kind}: {text}")
            return Literal(LiteralKind(kind), text)
        if token.word() in _CONSTANTS:
            return _CONSTANTS[token.word()]
        raise self._error(token, "expected a literal")


_CONSTANTS: Final = {
    "true": Literal(LiteralKind.BOOLEAN, True),
    "false": Literal(LiteralKind.BOOLEAN, False),
    "null": Literal(LiteralKind.NULL, None),
}


def _is_valid_temporal(kind: str, text: str) -> bool:
    try:
        if kind == "datetime":
            parse_datetime_ticks(text)
        else:
            date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_filter(text: str) -> Node:
    """Parse a percent-decoded ``$filter`` value; raises FilterSyntaxError on malformed text."""
    return _Parser(text).parse()


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
        case Compare(candidate, "eq", literal) if literal.kind in _TEXT_KINDS:
            return frozenset({text(literal)}) if _on_path(candidate, path) else None
        case In(candidate, values) if all(value.kind in _TEXT_KINDS for value in values):
            return frozenset(text(v) for v in values) if _on_path(candidate, path) else None
    return None
