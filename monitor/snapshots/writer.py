"""Writing a snapshot into its tenant's chain: atomically, hash-chained, optionally signed, then
applying retention.

:meth:`SnapshotWriter.write` is synchronous file IO (the worker calls it in a thread):

1. the chain's head (the snapshot with the highest sequence) gives the previous document and the
   SHA-256 of its ``manifest.json``;
2. ``findings.csv``, ``report.html``, ``snapshot.json`` and, last, ``manifest.json`` (which holds
   the others' SHA-256) are written into ``<chain>/.tmp-<id>/``, each streamed to disk while it is
   hashed (a large tenant's report and document are tens of MB each) and fsynced, then the
   directory is fsynced and renamed to ``<chain>/<id>`` and the chain directory fsynced: a crash
   at any point leaves either no new snapshot or a complete one, and a leftover ``.tmp-*``
   directory is never part of the chain (the next write removes it);
3. retention (``keep_last`` / ``keep_days``) is planned before the manifest is written, so the new
   manifest's ``pruned`` member already records where the chain will be cut; the old directories are
   removed after the rename and listed in ``pruned.json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from monitor.clock import Clock, utc_now
from monitor.errors import MonitorError
from monitor.snapshots.chain import PRUNED, TEMPORARY_PREFIX, StoredSnapshot, read_chain, read_pruned
from monitor.snapshots.csv_export import findings_csv
from monitor.snapshots.manifest import (
    FINDINGS,
    MANIFEST,
    REPORT,
    SNAPSHOT,
    load_private_key,
    pretty_bytes,
    sha256_hex,
    sign,
)
from monitor.snapshots.report import stream_report as default_render_report
from monitor.snapshots.settings import SnapshotSettings
from monitor.snapshots.times import SCHEMA_VERSION, iso, parse_time

logger = logging.getLogger(__name__)
ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
RenderReport = Callable[[dict[str, Any], dict[str, Any] | None], str | Iterable[str]]
"""Renders ``report.html`` from the document and the previous one, whole or in pieces."""
CHUNK_CHARACTERS = 1 << 16
"""Pieces of text are joined up to about this many characters before each write."""
BuildDocument = Callable[[dict[str, Any] | None, datetime, str], dict[str, Any]]
"""Builds ``snapshot.json`` from the previous document, the creation time and the new id."""


class SnapshotError(MonitorError):
    """A snapshot could not be written (the directory is not writable, the disk is full …)."""


@dataclass(frozen=True)
class WrittenSnapshot:
    """A snapshot now in its chain."""

    path: Path
    id: str
    sequence: int
    manifest_sha256: str
    document: dict[str, Any]
    pruned: tuple[str, ...] = ()
    """Ids of the snapshots retention removed after this one was written."""
    uploaded_to: str | None = None
    """Where the Blob Storage copy is (``[snapshots.blob]`` enabled and the copy succeeded)."""
    upload_error: str | None = None
    """Why the Blob Storage copy failed (the local snapshot is complete regardless)."""


class SnapshotWriter:
    """Writes snapshots into ``settings.directory/<tenant>/``. The signing key is loaded here, so a
    wrong key path or password is a ConfigurationError when the monitor starts, not at the first
    snapshot."""

    def __init__(
        self,
        settings: SnapshotSettings,
        *,
        clock: Clock = utc_now,
        render_report: RenderReport | None = None,
    ) -> None:
        self.settings = settings
        self.directory = settings.directory
        self._clock = clock
        self._render = render_report or default_render_report
        self._key: Ed25519PrivateKey | None = None
        if settings.signing_key_path is not None:
            password = settings.signing_key_password
            self._key = load_private_key(
                settings.signing_key_path, password.get_secret_value() if password else None
            )

    @property
    def signs(self) -> bool:
        return self._key is not None

    def public_key(self) -> Ed25519PublicKey | None:
        """The public half of the signing key (None: snapshots are not signed)."""
        return self._key.public_key() if self._key is not None else None

    def chain_directory(self, tenant: str) -> Path:
        return self.directory / tenant

    def write(self, tenant: str, build: BuildDocument) -> WrittenSnapshot:
        """Write the next snapshot of ``tenant`` (see the module docstring). Raises SnapshotError
        when the files cannot be written; the chain is then unchanged."""
        chain = self.chain_directory(tenant)
        try:
            chain.mkdir(parents=True, exist_ok=True)
            with _locked(chain):  # another process (`snapshot create` beside the worker) waits
                _remove_leftovers(chain)
                existing = [s for s in read_chain(chain) if s.sequence is not None]
                head = existing[-1] if existing else None
                previous = _previous_document(head)
                created = self._clock()
                snapshot_id = _new_id(created, tenant, head)
                document = build(previous, created, snapshot_id)
                doomed = _retention_plan(existing, created, self.settings)
                temporary = chain / f"{TEMPORARY_PREFIX}{snapshot_id}"
                temporary.mkdir()
                files = self._files(document, previous)
                hashes = {name: _write_file(temporary / name, files[name]()) for name in sorted(files)}
                manifest = self._manifest(document, hashes, head, doomed)
                manifest_bytes = pretty_bytes(manifest)
                _write_file(temporary / MANIFEST, (manifest_bytes,))
                target = chain / snapshot_id
                _rename_into_place(temporary, target)
                removed = _prune(chain, doomed, self._clock())
        except OSError as error:
            raise SnapshotError(
                f"snapshots.directory: cannot write a snapshot of {tenant} under {chain} "
                f"({error.strerror or error}); check that the directory is writable and has space"
            ) from None
        logger.info(
            "snapshot written",
            extra={"tenant": tenant, "snapshot": snapshot_id, "path": str(target), "pruned": removed},
        )
        return WrittenSnapshot(
            target, snapshot_id, manifest["sequence"], sha256_hex(manifest_bytes), document, tuple(removed)
        )

    def _files(
        self, document: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Callable[[], Iterable[bytes]]]:
        """Each file but the manifest, as a producer of its bytes in pieces."""
        encoder = json.JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False)
        return {
            SNAPSHOT: lambda: _encoded(itertools.chain(encoder.iterencode(document), "\n")),
            FINDINGS: lambda: _encoded(findings_csv(document)),
            REPORT: lambda: _encoded(self._render(document, previous)),
        }

    def _manifest(
        self,
        document: Mapping[str, Any],
        hashes: Mapping[str, str],
        head: StoredSnapshot | None,
        doomed: list[StoredSnapshot],
    ) -> dict[str, Any]:
        if doomed:
            last = doomed[-1]
            pruned: Any = {
                "through_sequence": last.sequence,
                "last_pruned_id": last.id,
                "last_pruned_manifest_sha256": last.manifest_sha256,
            }
        else:
            pruned = head.manifest.get("pruned") if head is not None and head.manifest else None
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "snapshot": document["id"],
            "tenant": document["tenant"]["name"],
            "created_at": document["created_at"],
            "files": dict(sorted(hashes.items())),
            "previous": None if head is None else {"id": head.id, "manifest_sha256": head.manifest_sha256},
            "sequence": 1 if head is None else (head.sequence or 0) + 1,
            "pruned": pruned,
            "signature": None,
        }
        return sign(manifest, self._key) if self._key is not None else manifest


@contextlib.contextmanager
def _locked(chain: Path) -> Iterator[None]:
    """Lock the chain directory itself (flock on its descriptor, no file left behind): one writer
    at a time picks the head and writes after it."""
    descriptor = os.open(chain, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _previous_document(head: StoredSnapshot | None) -> dict[str, Any] | None:
    if head is None:
        return None
    try:
        return head.document()
    except (OSError, ValueError) as error:
        # The chain still links to it; only the change fields lose their comparison.
        logger.warning("cannot read the previous snapshot %s: %s", head.id, error)
        return None


def _new_id(created: datetime, tenant: str, head: StoredSnapshot | None) -> str:
    """``<UTC time to the second>-<tenant>``; a second later than the head's when two snapshots
    fall in the same second, so ids stay unique and sort in chain order."""
    moment = created.replace(microsecond=0)
    if head is not None:
        with contextlib.suppress(ValueError):
            head_time = datetime.strptime(head.id[:16], ID_TIME_FORMAT).replace(tzinfo=moment.tzinfo)
            if moment <= head_time:
                moment = head_time + timedelta(seconds=1)
    return f"{moment.strftime(ID_TIME_FORMAT)}-{tenant}"


def _retention_plan(
    existing: list[StoredSnapshot], created: datetime, settings: SnapshotSettings
) -> list[StoredSnapshot]:
    """The oldest snapshots to remove once the new one is written: a prefix of the chain."""
    count = 0
    if settings.keep_last is not None:
        count = max(count, len(existing) + 1 - settings.keep_last)
    if settings.keep_days is not None:
        cutoff = created - timedelta(days=settings.keep_days)
        for index, snapshot in enumerate(existing):
            when = snapshot.manifest.get("created_at") if snapshot.manifest else None
            if isinstance(when, str) and parse_time(when) < cutoff:
                count = max(count, index + 1)
    return existing[: max(count, 0)]


def _rename_into_place(temporary: Path, target: Path) -> None:
    """The written temporary directory becomes the snapshot, durably."""
    _fsync_directory(temporary)
    os.rename(temporary, target)
    _fsync_directory(target.parent)


def _write_file(path: Path, data: Iterable[bytes]) -> str:
    """Write ``data`` piece by piece to a new file, fsync it; its SHA-256 (hex)."""
    digest = hashlib.sha256()
    with path.open("xb") as handle:
        for piece in data:
            digest.update(piece)
            handle.write(piece)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def _encoded(text: str | Iterable[str]) -> Iterator[bytes]:
    """UTF-8 pieces of ``text``, small pieces joined to about CHUNK_CHARACTERS."""
    if isinstance(text, str):
        yield text.encode("utf-8")
        return
    batch: list[str] = []
    size = 0
    for piece in text:
        batch.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARACTERS:
            yield "".join(batch).encode("utf-8")
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode("utf-8")


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _prune(chain: Path, doomed: list[StoredSnapshot], now: datetime) -> list[str]:
    """Record the removed snapshots in pruned.json (atomically), then remove their directories."""
    if not doomed:
        return []
    try:
        record = read_pruned(chain) or {}
    except ValueError:
        record = {}
    removed = list(record.get("removed", []))
    known = {entry.get("id") for entry in removed if isinstance(entry, dict)}
    for snapshot in doomed:
        if snapshot.id not in known:
            removed.append(
                {
                    "id": snapshot.id,
                    "sequence": snapshot.sequence,
                    "manifest_sha256": snapshot.manifest_sha256,
                    "removed_at": iso(now),
                }
            )
    removed.sort(key=lambda entry: entry.get("sequence") or 0)
    last = removed[-1]
    document = {
        "schema_version": SCHEMA_VERSION,
        "tenant": chain.name,
        "through_sequence": last["sequence"],
        "last_pruned_id": last["id"],
        "last_pruned_manifest_sha256": last["manifest_sha256"],
        "removed": removed,
    }
    temporary = chain / f"{TEMPORARY_PREFIX}{PRUNED}"
    temporary.write_bytes(pretty_bytes(document))
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, chain / PRUNED)
    for snapshot in doomed:
        shutil.rmtree(snapshot.path)
    _fsync_directory(chain)
    return [snapshot.id for snapshot in doomed]


def _remove_leftovers(chain: Path) -> None:
    """Temporary directories and files of a write that crashed: never part of the chain."""
    for path in chain.iterdir():
        if path.name.startswith(TEMPORARY_PREFIX):
            logger.warning("removing %s, left by a snapshot write that did not finish", path)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
