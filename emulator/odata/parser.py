"""Reading ``$filter`` text into the syntax tree of ``tree.py`` (OData v4 ABNF, as Graph uses it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from emulator.odata.tree import (
    FUNCTIONS,
    MAX_NESTING,
    ORDERINGS,
    And,
    Compare,
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
    parse_datetime_ticks,
)

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
        if self._depth > MAX_NESTING:
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
        if token.word() in FUNCTIONS and self._peek(1).kind == "(":
            return self._function()
        path = self._path()
        if self._peek().kind == "/":
            return self._lambda(path)
        operator_token = self._next()
        word = operator_token.word()
        if word in ORDERINGS:
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
        name = FUNCTIONS[self._next().word()]
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
