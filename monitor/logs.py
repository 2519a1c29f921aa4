"""Structured logging: JSON lines for machines, Rich text for people, secrets masked in both.

:func:`configure_logging` configures the **root** logger, so that records from libraries (httpx,
APScheduler, MSAL, uvicorn) come out in the same format and through the same redaction as the
monitor's own. It replaces the one handler it installed before, never anyone else's (pytest's
capture handler survives), so calling it twice leaves one handler. httpx and httpcore log every
request at INFO, and so does the Azure SDK's HTTP logging policy (Blob Storage, the Azure Monitor
exporter): they are held at WARNING unless the level is DEBUG.

A JSON record is one line::

    {"time": "2026-11-27T12:00:00.123Z", "level": "INFO", "logger": "monitor.runner",
     "message": "…", "tenant": "contoso", "check": "credential-expiry", "run_id": "…",
     "<extra key>": …, "exception": "Traceback …"}

``tenant``, ``check`` and ``run_id`` come from :func:`log_context` and appear only when set (an
explicit ``extra={"tenant": …}`` wins); further ``extra`` fields follow; ``exception`` is there
only when the record carries one. Context values are contextvars, so they follow asyncio tasks
created inside the block and ``asyncio.to_thread`` calls, but not bare threads.

Redaction (:class:`RedactingFilter`, on the handler) rewrites the record before any formatter
sees it: in the message (after ``%`` arguments are merged), the exception text, the stack and
every string inside ``extra`` values it masks JWT-shaped tokens (``eyJ….….…``), ``Bearer <x>``
and ``client_secret=…`` / ``client_assertion=…`` / ``password=…`` / ``…_token=…`` pairs (also in
``key: value`` and quoted forms); the whole value of an ``extra`` key whose name contains
secret, password, token, assertion or key is replaced by ``[redacted]``. This is a safety net;
code still passes names and ids to the log, never credentials.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from rich.console import Console
from rich.logging import RichHandler

from monitor.errors import ConfigurationError

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "RedactingFilter",
    "TextFormatter",
    "configure_logging",
    "current_context",
    "log_context",
    "redact_text",
]

REDACTED = "[redacted]"
HANDLER_NAME = "entra-monitor"
FORMATS = ("auto", "json", "text")
CONTEXT_FIELDS = ("tenant", "check", "run_id")
QUIET_LIBRARIES = ("httpx", "httpcore", "azure")

_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_SECRET_PAIR = re.compile(
    r"(?i)(?P<key>[\"']?(?:client_secret|client_assertion|password|access_token|refresh_token|id_token)"
    r"[\"']?\s*[=:]\s*)(?P<quote>[\"']?)[^\s\"'&,;}]+"
)
_SECRET_KEY_WORDS = ("secret", "password", "token", "assertion", "key")

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured duplicate of the message
}

_context: ContextVar[Mapping[str, str]] = ContextVar(
    "entra_monitor_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(
    *, tenant: str | None = None, check: str | None = None, run_id: str | None = None
) -> Iterator[None]:
    """Attach tenant, check and run id to every record logged inside the block.

    Blocks nest: a value given here overrides the outer one, a value left None keeps it, and the
    outer values are back when the block exits (also on an exception).
    """
    given = {"tenant": tenant, "check": check, "run_id": run_id}
    merged = {**_context.get(), **{name: value for name, value in given.items() if value is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    """The tenant, check and run id set by the enclosing :func:`log_context` blocks."""
    return dict(_context.get())


def redact_text(text: str) -> str:
    """``text`` with tokens, bearer credentials and secret-bearing pairs masked."""
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    return _SECRET_PAIR.sub(lambda match: f"{match['key']}{match['quote']}{REDACTED}", text)


def _is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_KEY_WORDS)


def _redact_value(value: Any) -> Any:
    """Mask secrets inside strings, and whole values under secret-sounding keys, recursively."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _is_secret_key(str(key)) else _redact_value(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record, context fields excluded, in the order they were set."""
    return {
        name: value
        for name, value in record.__dict__.items()
        if name not in _STANDARD_ATTRIBUTES and name not in CONTEXT_FIELDS and not name.startswith("_")
    }


class RedactingFilter(logging.Filter):
    """Adds the :func:`log_context` fields to a record and masks secrets in it (see module doc).

    Runs on the handler, so it sees records from every logger that propagates to the root. The
    record is rewritten in place: later handlers see the masked version too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for name, value in extra_fields(record).items():
            setattr(record, name, REDACTED if _is_secret_key(name) else _redact_value(value))
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields as in the module docstring. Values JSON cannot hold
    (datetimes, paths, enums) are written as their ``str()``."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                document[name] = value
        document.update(extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        return json.dumps(document, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The message followed by ``tenant=… check=… run_id=…`` and the extra fields as ``key=value``,
    then the exception text; Rich adds the time and level columns."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, None)]
        pairs += [f"{name}={value}" for name, value in extra_fields(record).items()]
        text = record.getMessage()
        if pairs:
            text = f"{text}  {' '.join(pairs)}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{record.stack_info}"
        return text


def _level_number(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.strip().upper())
    if number is None:
        raise ConfigurationError(
            f"logging.level: {level!r} is not a log level; use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return number


def _build_handler(format: str, stream: TextIO) -> logging.Handler:
    use_json = format == "json" or (format == "auto" and not stream.isatty())
    handler: logging.Handler
    if use_json:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    else:
        # Rich tracebacks would render the exception from the live frames, bypassing redaction.
        console = Console(file=stream)
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
        handler.setFormatter(TextFormatter())
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(format: str = "auto", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record through one redacting handler on the root logger.

    ``format`` is ``"json"``, ``"text"`` or ``"auto"`` (JSON unless ``stream`` is a terminal);
    ``stream`` defaults to the current ``sys.stdout``. Raises ConfigurationError for an unknown
    format or level. Idempotent: the handler this function installed earlier is replaced.
    Python warnings are routed into logging too.
    """
    if format not in FORMATS:
        raise ConfigurationError(f"logging.format: {format!r} is not a log format; use auto, json or text")
    number = _level_number(level)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == HANDLER_NAME:
            root.removeHandler(existing)
            existing.close()
    root.addHandler(_build_handler(format, stream if stream is not None else sys.stdout))
    root.setLevel(number)
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(logging.DEBUG if number <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)
