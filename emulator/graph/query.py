"""OData system query options as Graph reads them: ``$select``, ``$filter``, ``$top``,
``$skiptoken``/``$skip``, ``$count``, ``$orderby``, ``$expand``, ``$search``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emulator.graph.errors import GraphError, bad_request, unsupported_query
from emulator.odata.filter import (
    FilterSyntaxError,
    Node,
    UnsupportedFilter,
    check_capabilities,
    parse_filter,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from emulator.graph.endpoint import Endpoint

KNOWN_OPTIONS = (
    "$select",
    "$filter",
    "$top",
    "$skiptoken",
    "$skip",
    "$count",
    "$orderby",
    "$expand",
    "$search",
)


@dataclass(frozen=True)
class Query:
    select: tuple[str, ...] | None
    filter_text: str | None
    filter_node: Node | None
    top: int
    after: tuple[int, ...] | None
    skip: int
    count: bool
    advanced: bool
    original: tuple[tuple[str, str], ...]
    """The query options other than the paging token, to repeat in ``@odata.nextLink``."""
    resource: str = ""
    """The request's path: a paging token is valid for this resource and these options only."""

    @property
    def fingerprint(self) -> bytes:
        return hashlib.sha256(json.dumps([self.resource, self.original]).encode()).digest()[:8]


def read_options(params: Mapping[str, str]) -> dict[str, str]:
    """System query options by lower-case name; unknown ``$`` options are a 400."""
    options: dict[str, str] = {}
    for name, value in params.items():
        lowered = name.lower()
        if not lowered.startswith("$"):
            continue
        if lowered not in KNOWN_OPTIONS:
            raise bad_request(f"Query option '{name}' is not supported.")
        options[lowered] = value
    return options


def parse_query(
    params: Mapping[str, str],
    headers: Mapping[str, str],
    endpoint: Endpoint,
    tokens: SkipTokens,
    version: str = "v1.0",
    path: str = "",
) -> Query:
    options = read_options(params)
    directory = endpoint.family == "directory"
    eventual = headers.get("consistencylevel", "").lower() == "eventual"
    count = options.get("$count", "false").lower() == "true"
    # The /$count segment is itself a count: with ConsistencyLevel it allows advanced filters.
    advanced = eventual and (count or endpoint.name.endswith(".count"))
    for unsupported in ("$expand", "$search", "$orderby"):
        if unsupported in options:
            raise bad_request(
                f"Query option '{unsupported}' is not supported by the emulator on '{endpoint.name}'.",
                code="Request_BadRequest" if directory else "BadRequest",
            )
    if count and not endpoint.count_supported:
        raise bad_request(f"Query option '$count' is not supported on '{endpoint.name}'.")
    if count and directory and not eventual:
        count = False  # graph-facts §0: $count=true without ConsistencyLevel is silently ignored.
    select = _parse_select(options.get("$select"), endpoint, version)
    filter_text = options.get("$filter")
    node = _parse_filter(filter_text, endpoint, advanced) if filter_text is not None else None
    top = _parse_top(options.get("$top"), endpoint)
    original = tuple(
        (name, value) for name, value in params.items() if name.lower() not in ("$skiptoken", "$skip")
    )
    skip = 0
    after = None
    if "$skip" in options:
        if endpoint.paging != "skip":
            raise bad_request(f"Query option '$skip' is not supported on '{endpoint.name}'.")
        skip = _non_negative(options["$skip"], "$skip")
    resource = path.strip("/").lower()
    query = Query(select, filter_text, node, top, None, skip, count, advanced, original, resource)
    if "$skiptoken" in options:
        after = tokens.decode(options["$skiptoken"], query)
        query = Query(select, filter_text, node, top, after, skip, count, advanced, original, resource)
    return query


def _non_negative(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"Invalid value '{text}' for query option '{name}'.") from None
    if value < 0:
        raise bad_request(f"Invalid value '{text}' for query option '{name}'.")
    return value


def _parse_top(text: str | None, endpoint: Endpoint) -> int:
    if text is None:
        return endpoint.page_default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= endpoint.page_max:
        code = "Request_BadRequest" if endpoint.family == "directory" else "BadRequest"
        raise bad_request(
            f"Invalid page size specified: '{text}'. Must be between 1 and {endpoint.page_max} inclusive.",
            code=code,
        )
    return value


def _parse_select(text: str | None, endpoint: Endpoint, version: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise bad_request("The $select query option cannot be empty.")
    known = endpoint.selectable(version)  # beta types have more properties (signIn)
    for name in names:
        if name not in known:
            code = "Request_BadRequest" if endpoint.family == "directory" else "BadRequest"
            raise bad_request(
                f"Could not find a property named '{name}' on type 'microsoft.graph.{endpoint.entity_type}'.",
                code=code,
            )
    return names


def _parse_filter(text: str, endpoint: Endpoint, advanced: bool) -> Node:
    if endpoint.filters is None:
        raise bad_request(f"Query option '$filter' is not supported on '{endpoint.name}'.")
    try:
        node = parse_filter(text)
        check_capabilities(node, endpoint.filters, advanced=advanced)
    except FilterSyntaxError as error:
        raise bad_request(f"Invalid filter clause: {error.message}") from None
    except UnsupportedFilter as error:
        if endpoint.family == "directory":
            if error.needs_advanced:
                raise unsupported_query(error.message) from None
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for property '{error.path}' "
                f"of resource '{endpoint.resource_label}'."
            ) from None
        raise GraphError(
            400,
            "BadRequest",
            f"Invalid filter clause: the property '{error.path}' does not support "
            f"the '{error.operator}' operator on '{endpoint.name}'.",
        ) from None
    return node


class SkipTokens:
    """Opaque paging tokens: the resume key and the query they belong to, under an HMAC so a
    forged or reused token is a clear 400 instead of a wrong page."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, key: tuple[int, ...], query: Query) -> str:
        payload = struct.pack(f">B{len(key)}q", len(key), *key) + query.fingerprint
        mac = hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(b"DSpt" + payload + mac).rstrip(b"=").decode()

    def decode(self, token: str, query: Query) -> tuple[int, ...]:
        invalid = bad_request(
            "The $skiptoken value is not valid for this request.", code="Request_BadRequest"
        )
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise invalid from None
        if len(raw) < 4 + 1 + 8 + 12 or raw[:4] != b"DSpt":
            raise invalid
        payload, mac = raw[4:-12], raw[-12:]
        if not hmac.compare_digest(mac, hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]):
            raise invalid
        size = payload[0]
        if len(payload) != 1 + 8 * size + 8 or payload[1 + 8 * size :] != query.fingerprint:
            raise invalid
        return tuple(struct.unpack(f">{size}q", payload[1 : 1 + 8 * size]))
