"""Deterministic identifiers, random streams and timestamps for the generated tenant.

Every object is generated from ``(seed, kind, index)`` alone, so a tenant of any size needs no
memory for its objects and the same seed always gives the same tenant. Object ids are GUIDs that
encode ``(kind, index)`` through a keyed permutation: they look random, yet the emulator can turn
an id from a URL back into the index that generates the object, without any lookup table.
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import UTC, datetime, timedelta

_MASK64 = (1 << 64) - 1
_MASK24 = (1 << 24) - 1
_INDEX_BITS = 40
_TICKS_PER_SECOND = 10_000_000
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def mix64(value: int) -> int:
    """A 64-bit avalanche mix (splitmix64's finaliser): nearby inputs give unrelated outputs."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _text_key(text: str) -> int:
    key = 0
    for byte in text.encode():
        key = mix64(key ^ byte)
    return key


KIND_CODES = {
    "tenant": 1,
    "user": 2,
    "application": 3,
    "appId": 4,
    "servicePrincipal": 5,
    "foreignAppId": 6,
    "signIn": 7,
    "subscription": 8,
    "foreign-tenant": 9,
}
"""Kinds of indexed GUIDs and their codes (8 bits, encoded in every GUID of the kind)."""


class Seeded:
    """Random streams and ids derived from one tenant seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._key = mix64(seed & _MASK64)
        self._round_keys = [mix64(self._key ^ round_number) for round_number in range(4)]

    def key(self, kind: str, index: int = 0) -> int:
        """A 64-bit value that depends only on (seed, kind, index)."""
        return mix64(self._key ^ _text_key(kind) ^ mix64(index))

    def rng(self, kind: str, index: int = 0) -> random.Random:
        return random.Random(self.key(kind, index))

    def unit(self, kind: str, index: int) -> float:
        """A number in [0, 1) that depends only on (seed, kind, index); cheaper than :meth:`rng`."""
        return (self.key(kind, index) >> 11) / float(1 << 53)

    # -- GUIDs that encode (kind, index) --------------------------------------------------

    @staticmethod
    def _kind_code(kind: str) -> int:
        """The kind's fixed code: distinct kinds must never share one, or their GUIDs collide."""
        try:
            return KIND_CODES[kind]
        except KeyError:
            raise ValueError(f"no GUID kind {kind!r}; add it to KIND_CODES (or use named_guid)") from None

    def _permute(self, value: int, inverse: bool = False) -> int:
        left, right = value >> 24, value & _MASK24
        keys = reversed(self._round_keys) if inverse else self._round_keys
        for round_key in keys:
            if inverse:
                left, right = right ^ (mix64(left ^ round_key) & _MASK24), left
            else:
                left, right = right, left ^ (mix64(right ^ round_key) & _MASK24)
        return (left << 24) | right

    def guid(self, kind: str, index: int) -> str:
        """A version-4-shaped GUID for object ``index`` of ``kind``."""
        if not 0 <= index < (1 << _INDEX_BITS):
            raise ValueError(f"index {index} out of range")
        head = self._permute((self._kind_code(kind) << _INDEX_BITS) | index)
        tail = mix64(head ^ self._key) << 16 | (mix64(head) & 0xFFFF)
        value = (head << 80) | (tail & ((1 << 80) - 1))
        value = (value & ~(0xF << 76)) | (0x4 << 76)  # version 4
        value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        return str(uuid.UUID(int=value))

    def named_guid(self, name: str) -> str:
        """A version-4-shaped GUID for a one-off named object (a fixed application, a policy).

        Unlike :meth:`guid` it encodes no index, so all its random bits come from (seed, name):
        :meth:`guid` keeps only 8 bits of the kind, and named objects at index 0 collided with
        each other and with generated object 0 (two service principals with one id).
        """
        value = self.key(name, 0) << 64 | self.key(name, 1)
        value = (value & ~(0xF << 76)) | (0x4 << 76)  # version 4
        value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        return str(uuid.UUID(int=value))

    def index_of(self, kind: str, guid: str) -> int | None:
        """The index whose :meth:`guid` is ``guid`` (case-insensitive), or None."""
        try:
            value = uuid.UUID(guid).int
        except ValueError:
            return None
        plain = self._permute(value >> 80, inverse=True)
        if plain >> _INDEX_BITS != self._kind_code(kind):
            return None
        index = plain & ((1 << _INDEX_BITS) - 1)
        return index if self.guid(kind, index) == guid.lower() else None


def guid_bytes_le(guid: str) -> bytes:
    """A GUID's bytes in the little-endian layout .NET (and so Entra) uses in opaque ids."""
    return uuid.UUID(guid).bytes_le


def guid_from_bytes_le(data: bytes) -> str:
    return str(uuid.UUID(bytes_le=data))


def opaque_id(*parts: bytes) -> str:
    """Graph's opaque ids for grants and assignments: unpadded base64url of GUID bytes."""
    return base64.urlsafe_b64encode(b"".join(parts)).rstrip(b"=").decode()


def decode_opaque_id(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None


# -- time ------------------------------------------------------------------------------------


def to_ticks(moment: datetime) -> int:
    """100-nanosecond ticks since 0001-01-01 UTC (Graph's own precision)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _TICKS_PER_SECOND + delta.microseconds * 10


def from_ticks(ticks: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ticks // 10)


def format_ticks(ticks: int) -> str:
    """ISO-8601 UTC with seven fractional digits, as the sign-in log writes its timestamps."""
    seconds, fraction = divmod(ticks, _TICKS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:07d}Z"


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` and no fraction, as directory objects carry their dates."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


TICKS_PER_SECOND = _TICKS_PER_SECOND
