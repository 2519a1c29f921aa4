"""Verifying a snapshot or a tenant's chain: every file's hash, no file added or missing, the chain
of manifest hashes back to the first snapshot or the recorded pruning point, sequence numbers
without gaps, and the signatures.

Each problem is one sentence that starts with what happened (``altered``, ``removed``, ``added``,
``inserted``, ``reordered``, ``renamed``, ``forged``, ``unreadable``) and names the snapshot and
file. What a chain cannot prove by itself is said in :attr:`Verification.notes`: that the newest
snapshot was not removed (compare the head with a copy, such as the Blob container), and that
signatures were not checked when no public key was given.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from monitor.snapshots.chain import (
    PRUNED,
    TEMPORARY_PREFIX,
    StoredSnapshot,
    is_chain_directory,
    read_chain,
    read_pruned,
    read_snapshot,
)
from monitor.snapshots.manifest import MANIFEST, SNAPSHOT, sha256_hex, signature_problem


@dataclass
class Verification:
    """The outcome of verifying a path: ``problems`` (empty: valid) and ``notes``."""

    path: Path
    tenant: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    """Ids of the snapshots whose files and links were checked, in chain order."""
    bad: set[str] = field(default_factory=set)
    """Ids of the snapshots a problem is about."""
    signed_by: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, snapshot: str | None, text: str) -> None:
        self.problems.append(text)
        if snapshot is not None:
            self.bad.add(snapshot)


def verify_path(path: Path, public_key: Ed25519PublicKey | None = None) -> Verification:
    """Verify a chain directory (``<directory>/<tenant>``) or one snapshot directory (with the
    chain before it, when it sits in one). ValueError when ``path`` is neither."""
    if not path.is_dir():
        raise ValueError(f"{path} is not a directory; accepted: a snapshot directory or a tenant's chain")
    if is_chain_directory(path):
        chains = _chains_within(path)
        if chains:
            names = ", ".join(str(chain) for chain in chains)
            raise ValueError(f"{path} holds the chains of tenants; accepted: one tenant's chain ({names})")
        return verify_chain(path, public_key)
    snapshot = read_snapshot(path)
    return verify_chain(path.parent, public_key, upto=snapshot)


def _chains_within(path: Path) -> list[Path]:
    """The tenants' chains in ``path`` when it is the snapshots directory itself (holding no
    snapshot of its own), else an empty list."""
    children = sorted(c for c in path.iterdir() if c.is_dir() and not c.name.startswith("."))
    if any((child / MANIFEST).exists() for child in children):
        return []
    return [c for c in children if any((g / MANIFEST).exists() for g in c.iterdir() if g.is_dir())]


def verify_chain(
    chain: Path, public_key: Ed25519PublicKey | None = None, *, upto: StoredSnapshot | None = None
) -> Verification:
    """Verify ``chain``; with ``upto``, only that snapshot and those before it."""
    result = Verification(upto.path if upto is not None else chain)
    everything = read_chain(chain)
    if upto is not None and upto.sequence is not None:
        snapshots = [s for s in everything if s.sequence is None or s.sequence <= upto.sequence]
        snapshots = [s for s in snapshots if s.sequence is not None or s.id == upto.id]
    elif upto is not None:
        snapshots = [upto]
    else:
        snapshots = everything
        _stray_entries(chain, result)
    if not everything:
        result.problem(None, f"removed: {chain} holds no snapshot")
        return result
    tenants = {s.manifest.get("tenant") for s in everything if s.manifest}
    result.tenant = next(iter(tenants)) if len(tenants) == 1 else None
    if len(tenants) > 1:
        names = ", ".join(sorted(map(str, tenants)))
        result.problem(None, f"inserted: the chain mixes snapshots of several tenants ({names})")
    for snapshot in snapshots:
        _verify_files(snapshot, result)
        _verify_signature(snapshot, public_key, result)
    readable = [s for s in snapshots if s.sequence is not None]
    _verify_links(readable, result)
    if readable:
        _verify_start(chain, readable[0], everything, result)
    result.verified = [s.id for s in readable]
    if readable and upto is None:
        head = readable[-1]
        result.notes.append(
            f"head: {head.id} (sequence {head.sequence}); a chain cannot show that newer snapshots were "
            "removed: compare the head with your last record or the Blob copy"
        )
    if public_key is None and any(s.manifest and s.manifest.get("signature") for s in snapshots):
        result.notes.append("signatures not checked: no public key given (--public-key FILE)")
    return result


def _stray_entries(chain: Path, result: Verification) -> None:
    for entry in sorted(chain.iterdir()):
        if entry.name.startswith(TEMPORARY_PREFIX):
            result.notes.append(f"ignored: {entry.name}, an unfinished write (never part of the chain)")
        elif entry.is_file() and entry.name != PRUNED:
            result.problem(None, f"added: {entry.name} in the chain directory is not part of any snapshot")


def _verify_files(snapshot: StoredSnapshot, result: Verification) -> None:
    where = snapshot.id
    manifest = snapshot.manifest
    if manifest is None:
        result.problem(where, f"unreadable: {where}/{MANIFEST}: {snapshot.problem}")
        return
    if manifest.get("snapshot") != snapshot.id:
        result.problem(
            where,
            f"renamed: the directory {where} holds the manifest of snapshot {manifest.get('snapshot')!r}",
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict) or SNAPSHOT not in listed:
        result.problem(where, f"altered: {where}/{MANIFEST} does not list {SNAPSHOT}")
        listed = listed if isinstance(listed, dict) else {}
    present = {p.name for p in snapshot.path.iterdir()} - {MANIFEST}
    for name in sorted(present - set(listed)):
        result.problem(where, f"added: {where}/{name} is not in the manifest")
    for name, expected in sorted(listed.items()):
        path = snapshot.path / name
        if name not in present:
            result.problem(where, f"removed: {where}/{name} is missing")
            continue
        actual = sha256_hex(path.read_bytes()) if path.is_file() else "(not a file)"
        if actual != expected:
            result.problem(
                where, f"altered: {where}/{name} has SHA-256 {actual}, the manifest records {expected}"
            )


def _verify_signature(
    snapshot: StoredSnapshot, public_key: Ed25519PublicKey | None, result: Verification
) -> None:
    manifest = snapshot.manifest
    if manifest is None:
        return
    signature = manifest.get("signature")
    if isinstance(signature, dict):
        result.signed_by.add(str(signature.get("public_key_fingerprint")))
    if public_key is None:
        return
    problem = signature_problem(manifest, public_key)
    if problem is not None:
        result.problem(snapshot.id, f"forged: {snapshot.id}/{MANIFEST}: {problem}")


def _verify_links(readable: list[StoredSnapshot], result: Verification) -> None:
    """Sequence numbers without gaps or repeats, each manifest naming the one before it by the
    SHA-256 of its bytes, and ids that sort in the chain's order."""
    for before, after in itertools.pairwise(readable):
        if before.sequence is None or after.sequence is None:
            continue
        previous = _previous(after)
        if after.sequence == before.sequence:
            result.problem(
                after.id, f"inserted: {before.id} and {after.id} both claim sequence {after.sequence}"
            )
            continue
        if after.sequence != before.sequence + 1:
            missing = (
                f"sequence {before.sequence + 1}"
                if after.sequence == before.sequence + 2
                else f"sequences {before.sequence + 1} to {after.sequence - 1}"
            )
            named = f" ({after.id} names {previous.get('id')} as its previous)" if previous else ""
            result.problem(
                after.id, f"removed: the snapshot(s) of {missing} between {before.id} and {after.id}{named}"
            )
            continue
        if previous is None or previous.get("id") != before.id:
            claimed = previous.get("id") if previous else None
            result.problem(
                after.id,
                f"inserted or reordered: {after.id} (sequence {after.sequence}) names {claimed!r} as its "
                f"previous, but the snapshot before it is {before.id}",
            )
        elif previous.get("manifest_sha256") != before.manifest_sha256:
            result.problem(
                before.id,
                f"altered: {before.id}/{MANIFEST} has SHA-256 {before.manifest_sha256}, but {after.id} "
                f"records {previous.get('manifest_sha256')} for it (changed after {after.id} was written)",
            )
        if after.id <= before.id:
            result.problem(
                after.id,
                f"reordered: {after.id} (sequence {after.sequence}) sorts before {before.id} "
                f"(sequence {before.sequence})",
            )


def _verify_start(
    chain: Path, first: StoredSnapshot, everything: list[StoredSnapshot], result: Verification
) -> None:
    """The first snapshot is sequence 1 without a previous, or the recorded pruning point."""
    previous = _previous(first)
    if first.sequence == 1:
        if previous is not None:
            result.problem(first.id, f"altered: {first.id} is sequence 1 but names a previous snapshot")
        return
    if previous is None:
        result.problem(first.id, f"altered: {first.id} is sequence {first.sequence} but names no previous")
        return
    cut = _latest_cut(everything)
    try:
        listed = read_pruned(chain)
    except (OSError, ValueError) as error:
        result.problem(None, f"unreadable: {PRUNED}: {error}")
        listed = None
    removed = {
        entry.get("id"): entry.get("manifest_sha256")
        for entry in (listed or {}).get("removed", [])
        if isinstance(entry, dict)
    }
    before = f"the snapshots before {first.id} (sequence {first.sequence})"
    if cut is None:
        if previous.get("id") in removed:
            result.problem(
                first.id,
                f"removed: {before} are listed in {PRUNED} but no manifest records the pruning "
                "(the snapshot that recorded it may have been removed)",
            )
        else:
            result.problem(first.id, f"removed: {before}; no pruning is recorded")
        return
    through = cut.get("through_sequence")
    if not isinstance(through, int) or first.sequence is None or first.sequence > through + 1:
        result.problem(first.id, f"removed: {before}; the pruning recorded only reaches sequence {through}")
        return
    if first.sequence == through + 1:
        recorded = (cut.get("last_pruned_id"), cut.get("last_pruned_manifest_sha256"))
        if (previous.get("id"), previous.get("manifest_sha256")) != recorded:
            result.problem(
                first.id,
                f"altered: {first.id} names {previous.get('id')} as its previous, but the pruning record "
                f"names {recorded[0]} ({recorded[1]})",
            )
        elif listed is None:
            result.problem(None, f"removed: {PRUNED}, the list of snapshots retention removed, is missing")
        result.notes.append(f"pruned: the chain starts after sequence {through} ({recorded[0]}), as recorded")
        return
    # Snapshots awaiting removal are still here (a write stopped before pruning them).
    if removed.get(previous.get("id")) != previous.get("manifest_sha256"):
        result.problem(first.id, f"removed: {before}; {PRUNED} does not list {previous.get('id')}")


def _previous(snapshot: StoredSnapshot) -> dict[str, Any] | None:
    previous = snapshot.manifest.get("previous") if snapshot.manifest else None
    return previous if isinstance(previous, dict) else None


def _latest_cut(snapshots: list[StoredSnapshot]) -> dict[str, Any] | None:
    """The pruning record of the newest manifest that has one."""
    for snapshot in reversed(snapshots):
        pruned = snapshot.manifest.get("pruned") if snapshot.manifest else None
        if isinstance(pruned, dict):
            return pruned
    return None
