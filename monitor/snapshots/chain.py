"""Reading a tenant's chain of snapshots from disk: ``<directory>/<tenant>/<snapshot id>/``.

A chain directory holds one directory per snapshot, ``pruned.json`` once retention removed some,
and, only while a snapshot is being written (or after a crash during the write), a hidden
``.tmp-<id>`` directory that is never part of the chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.snapshots.manifest import MANIFEST, SNAPSHOT, sha256_hex

PRUNED = "pruned.json"
TEMPORARY_PREFIX = ".tmp-"


@dataclass(frozen=True)
class StoredSnapshot:
    """One snapshot directory and its manifest as read (``manifest`` None when unreadable, with
    ``problem`` saying why)."""

    path: Path
    manifest: dict[str, Any] | None
    manifest_bytes: bytes | None
    problem: str | None = None

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def sequence(self) -> int | None:
        value = self.manifest.get("sequence") if self.manifest else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def manifest_sha256(self) -> str | None:
        return sha256_hex(self.manifest_bytes) if self.manifest_bytes is not None else None

    def document(self) -> dict[str, Any]:
        """The parsed ``snapshot.json``; OSError or ValueError when it cannot be read."""
        loaded = json.loads((self.path / SNAPSHOT).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{self.path / SNAPSHOT} is not a JSON object")
        return loaded


def read_snapshot(path: Path) -> StoredSnapshot:
    """The snapshot in directory ``path`` with its manifest, or the reason it cannot be read."""
    manifest_path = path / MANIFEST
    try:
        data = manifest_path.read_bytes()
    except FileNotFoundError:
        return StoredSnapshot(path, None, None, "manifest.json is missing")
    except OSError as error:
        return StoredSnapshot(path, None, None, f"manifest.json cannot be read ({error.strerror})")
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return StoredSnapshot(path, None, data, "manifest.json is not valid JSON")
    if not isinstance(manifest, dict):
        return StoredSnapshot(path, None, data, "manifest.json is not a JSON object")
    return StoredSnapshot(path, manifest, data)


def snapshot_directories(chain: Path) -> list[Path]:
    """The snapshot directories of a chain, by name (hidden and temporary ones left out)."""
    if not chain.is_dir():
        return []
    return sorted(p for p in chain.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_chain(chain: Path) -> list[StoredSnapshot]:
    """Every snapshot of a chain, in chain order: by sequence, unreadable manifests last by name."""
    snapshots = [read_snapshot(path) for path in snapshot_directories(chain)]
    return sorted(snapshots, key=lambda s: (s.sequence is None, s.sequence or 0, s.id))


def head(chain: Path) -> StoredSnapshot | None:
    """The latest snapshot with a readable manifest (the one a new snapshot links to), or None."""
    readable = [s for s in read_chain(chain) if s.sequence is not None]
    return readable[-1] if readable else None


def read_pruned(chain: Path) -> dict[str, Any] | None:
    """``pruned.json`` of a chain, or None when nothing was ever pruned; ValueError when it is not
    valid JSON."""
    path = chain / PRUNED
    if not path.exists():
        return None
    loaded = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a JSON object")
    return loaded


def is_chain_directory(path: Path) -> bool:
    """Whether ``path`` looks like a tenant's chain (rather than one snapshot's directory)."""
    return path.is_dir() and not (path / MANIFEST).exists() and not (path / SNAPSHOT).exists()
