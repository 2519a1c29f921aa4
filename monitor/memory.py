"""What a check remembers between runs, kept in its watermarks.

Some rules are about *events*: a risky sign-in, a grant that appeared, a policy that changed. The
worker resolves a finding that a run no longer reports, so a check that saw an event once must keep
reporting it for as long as the finding should stay open, without reading the event again. A
:class:`Memory` holds those events: each under a stable id, with the time that decides when it is
forgotten and the small JSON record its finding is built from.

Memories are stored through :class:`~monitor.check.Watermarks`, so they are written only when the
run succeeds: a run that fails or is cut short leaves the previous memory, and the next run reads the
same window again. Records hold evidence only (ids, names, times); never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.check import Watermarks

FORMAT = 1


@dataclass(frozen=True)
class Remembered:
    """One remembered event: ``at`` decides when it is forgotten; ``record`` is its evidence."""

    id: str
    at: datetime
    record: Mapping[str, Any]


class Memory:
    """Events by id, oldest forgotten first. Load with :meth:`load`, save with :meth:`save`."""

    def __init__(self, key: str, entries: Mapping[str, Remembered] | None = None, *, loaded: bool) -> None:
        self.key = key
        self._entries: dict[str, Remembered] = dict(entries or {})
        self.loaded = loaded
        """False on a check's first run: nothing was stored under ``key`` yet."""

    @classmethod
    async def load(cls, watermarks: Watermarks, key: str) -> Memory:
        """The memory stored under ``key``; an empty one (``loaded`` False) before the first run.

        A value this version cannot read (hand-edited, or written by a newer version) raises
        ValueError naming the key, rather than being forgotten silently.
        """
        text = await watermarks.get(key)
        if text is None:
            return cls(key, loaded=False)
        try:
            document = json.loads(text)
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                raise ValueError(f"format {document.get('format') if isinstance(document, dict) else None!r}")
            entries = {
                str(item["id"]): Remembered(
                    str(item["id"]), datetime.fromisoformat(str(item["at"])), dict(item["record"])
                )
                for item in document["entries"]
            }
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"the stored memory {key!r} cannot be read ({error}); delete the watermark to start afresh"
            ) from None
        return cls(key, entries, loaded=True)

    async def save(self, watermarks: Watermarks) -> None:
        """Store the memory (kept only if the run succeeds)."""
        entries = [
            {"id": item.id, "at": item.at.isoformat(), "record": dict(item.record)}
            for item in sorted(self._entries.values(), key=lambda item: (item.at, item.id))
        ]
        text = json.dumps({"format": FORMAT, "entries": entries}, separators=(",", ":"), sort_keys=True)
        await watermarks.set(self.key, text)

    def remember(self, id: str, at: datetime, record: Mapping[str, Any]) -> bool:
        """Add an event; True if it is new. A known id keeps its first ``at`` and record, so an
        event read twice (an overlap window, a restart) counts once."""
        if at.tzinfo is None:
            raise ValueError(f"the time of {id!r} must be timezone-aware")
        if id in self._entries:
            return False
        self._entries[id] = Remembered(id, at, dict(record))
        return True

    def forget_before(self, cutoff: datetime) -> list[Remembered]:
        """Forget the events whose ``at`` is before ``cutoff``; return them."""
        gone = [item for item in self._entries.values() if item.at < cutoff]
        for item in gone:
            del self._entries[item.id]
        return gone

    def __contains__(self, id: object) -> bool:
        return id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Remembered]:
        return iter(sorted(self._entries.values(), key=lambda item: (item.at, item.id)))

    def get(self, id: str) -> Remembered | None:
        return self._entries.get(id)
