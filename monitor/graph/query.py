"""Building Graph URLs from untrusted values without string concatenation.

Checks name a path template and its values (``graph_path("servicePrincipals/{id}/appRoleAssignedTo",
id=sp_id)``) and write ``$filter`` literals through :func:`odata_string` and
:func:`odata_datetime`; the client assembles the query string. Graph's own ``@odata.nextLink``
is followed verbatim and never rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

_SAFE_QUERY = "$,'()/:=@*"
_FIELD = re.compile(r"\{(\w+)\}")


def graph_path(template: str, **values: str) -> str:
    """A relative Graph path with every ``{name}`` replaced by the percent-encoded value.

    ``graph_path("applications(appId='{app_id}')", app_id=x)`` also doubles single quotes, since a
    value inside ``'…'`` is an OData string literal. Raises KeyError for a missing value.
    """
    missing = set(_FIELD.findall(template)) - values.keys()
    if missing:
        raise KeyError(f"graph_path({template!r}) needs {', '.join(sorted(missing))}")

    def substitute(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        quoted_literal = template[match.start() - 1 : match.start()] == "'"
        return quote(value.replace("'", "''") if quoted_literal else value, safe="")

    return _FIELD.sub(substitute, template)


def odata_string(value: str) -> str:
    """An OData string literal: ``'O''Brien'``."""
    return "'" + value.replace("'", "''") + "'"


def odata_datetime(moment: datetime) -> str:
    """An unquoted OData DateTimeOffset literal in UTC (``2026-11-27T12:00:00Z``); naive times are
    refused because the monitor's times are always aware."""
    if moment.tzinfo is None:
        raise ValueError("OData date-times need a time zone; the monitor's times are UTC-aware")
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Query:
    """The query options of one collection read."""

    select: Sequence[str] = ()
    filter: str | None = None
    top: int | None = None
    orderby: str | None = None
    expand: str | None = None
    count: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def parameters(self, page_max: int | None) -> list[tuple[str, str]]:
        """Query options in a stable order; ``$top`` defaults to the collection's largest page."""
        options: list[tuple[str, str]] = []
        if self.select:
            options.append(("$select", ",".join(self.select)))
        if self.filter:
            options.append(("$filter", self.filter))
        if self.orderby:
            options.append(("$orderby", self.orderby))
        if self.expand:
            options.append(("$expand", self.expand))
        if self.count:
            options.append(("$count", "true"))
        top = self.top if self.top is not None else page_max
        if top is not None:
            options.append(("$top", str(top)))
        options.extend(self.extra.items())
        return options


def encode_query(options: Sequence[tuple[str, str]]) -> str:
    """``$select=id,appId&$filter=appId%20eq%20'x'``: spaces as ``%20``, OData punctuation kept."""
    return "&".join(f"{quote(name, safe='$')}={quote(value, safe=_SAFE_QUERY)}" for name, value in options)
