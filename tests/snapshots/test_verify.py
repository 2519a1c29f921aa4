"""Every way of tampering with a chain is detected and named: an edited finding, a deleted or added
file, a removed, inserted or reordered snapshot, a forged manifest, a wrong key."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitor.snapshots.manifest import pretty_bytes, public_key_fingerprint, sign
from monitor.snapshots.verify import verify_path
from monitor.snapshots.writer import WrittenSnapshot
from tests.snapshots.conftest import write_key
from tests.snapshots.support import new_chain


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey]:
    key = write_key(tmp_path / "key.pem")
    chain = new_chain(tmp_path / "snapshots", signing_key_path=tmp_path / "key.pem")
    written = chain.write(4)
    return chain.tenant_directory, written, key


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_untouched_chain_verifies(signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey]) -> None:
    chain, written, key = signed
    result = verify_path(chain, key.public_key())
    assert result.problems == []
    assert result.verified == [w.id for w in written]
    assert result.signed_by == {public_key_fingerprint(key.public_key())}
    assert [w.sequence for w in written] == [1, 2, 3, 4]
    # One snapshot verifies with the chain before it.
    single = verify_path(written[1].path, key.public_key())
    assert (single.problems, single.verified) == ([], [written[0].id, written[1].id])


def test_an_edited_finding_is_named(signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey]) -> None:
    chain, written, key = signed
    target = written[1].path / "snapshot.json"
    recorded = sha(target)
    target.write_text(target.read_text().replace('"severity": "high"', '"severity": "low"'))
    result = verify_path(chain, key.public_key())
    assert result.problems == [
        f"altered: {written[1].id}/snapshot.json has SHA-256 {sha(target)}, the manifest records {recorded}"
    ]
    assert result.bad == {written[1].id}


def test_deleted_and_added_files_are_named(
    signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey],
) -> None:
    chain, written, key = signed
    (written[2].path / "findings.csv").unlink()
    (written[0].path / "notes.txt").write_text("added later")
    (chain / "extra.json").write_text("{}")
    result = verify_path(chain, key.public_key())
    assert result.problems == [
        "added: extra.json in the chain directory is not part of any snapshot",
        f"added: {written[0].id}/notes.txt is not in the manifest",
        f"removed: {written[2].id}/findings.csv is missing",
    ]


def test_a_removed_snapshot_is_named(signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey]) -> None:
    chain, written, key = signed
    shutil.rmtree(written[1].path)
    result = verify_path(chain, key.public_key())
    assert result.problems == [
        f"removed: the snapshot(s) of sequence 2 between {written[0].id} and {written[2].id} "
        f"({written[2].id} names {written[1].id} as its previous)"
    ]


def test_removing_the_first_snapshots_without_pruning_is_named(
    signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey],
) -> None:
    chain, written, key = signed
    shutil.rmtree(written[0].path)
    shutil.rmtree(written[1].path)
    result = verify_path(chain, key.public_key())
    assert result.problems == [
        f"removed: the snapshots before {written[2].id} (sequence 3); no pruning is recorded"
    ]


def test_reordered_snapshots_are_named(signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey]) -> None:
    chain, written, key = signed
    second, third = written[1].path, written[2].path
    second.rename(chain / "swap")
    third.rename(second)
    (chain / "swap").rename(third)
    result = verify_path(chain, key.public_key())
    assert result.problems == [
        f"renamed: the directory {third.name} holds the manifest of snapshot '{second.name}'",
        f"renamed: the directory {second.name} holds the manifest of snapshot '{third.name}'",
        f"inserted or reordered: {second.name} (sequence 3) names '{second.name}' as its previous, "
        f"but the snapshot before it is {third.name}",
        f"reordered: {second.name} (sequence 3) sorts before {third.name} (sequence 2)",
        f"inserted or reordered: {written[3].id} (sequence 4) names '{third.name}' as its previous, "
        f"but the snapshot before it is {second.name}",
    ]


def test_an_inserted_snapshot_is_named(signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey]) -> None:
    chain, written, key = signed
    copy = chain / (written[1].id[:15] + "9Z-lab")
    shutil.copytree(written[1].path, copy)
    result = verify_path(chain, key.public_key())
    assert (
        f"renamed: the directory {copy.name} holds the manifest of snapshot '{written[1].id}'"
        in result.problems
    )
    assert (
        f"inserted: {written[1].id} and {copy.name} both claim sequence 2" in result.problems
        or f"inserted: {copy.name} and {written[1].id} both claim sequence 2" in result.problems
    )
    assert not result.ok


def test_a_forged_manifest_is_named(signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey]) -> None:
    chain, written, key = signed
    # Edit a finding and make the manifest agree with it: the old signature no longer fits, and
    # the next snapshot's link names the old manifest.
    snapshot = written[1].path / "snapshot.json"
    snapshot.write_text(snapshot.read_text().replace('"severity": "high"', '"severity": "low"'))
    manifest_path = written[1].path / "manifest.json"
    recorded = sha(manifest_path)
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["snapshot.json"] = sha(snapshot)
    manifest_path.write_bytes(pretty_bytes(manifest))
    result = verify_path(chain, key.public_key())
    assert result.problems == [
        f"forged: {written[1].id}/manifest.json: its signature does not verify with the key "
        f"{public_key_fingerprint(key.public_key())}: the manifest was changed after signing",
        f"altered: {written[1].id}/manifest.json has SHA-256 {sha(manifest_path)}, but {written[2].id} "
        f"records {recorded} for it (changed after {written[2].id} was written)",
    ]
    # Without a key, the chain alone still catches it.
    assert verify_path(chain).problems == result.problems[1:]


def test_a_re_signed_head_is_caught_only_by_the_key(
    signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey], tmp_path: Path
) -> None:
    chain, written, key = signed
    head = written[-1].path
    snapshot = head / "snapshot.json"
    snapshot.write_text(snapshot.read_text().replace('"severity": "high"', '"severity": "low"'))
    manifest = json.loads((head / "manifest.json").read_text())
    manifest["files"]["snapshot.json"] = sha(snapshot)
    forger = Ed25519PrivateKey.generate()
    (head / "manifest.json").write_bytes(pretty_bytes(sign(manifest, forger)))
    assert verify_path(chain).problems == []  # nothing links to the head: only a key can tell
    result = verify_path(chain, key.public_key())
    assert result.problems == [
        f"forged: {written[-1].id}/manifest.json: it was signed by the key "
        f"{public_key_fingerprint(forger.public_key())}, not by the given key "
        f"{public_key_fingerprint(key.public_key())}"
    ]


def test_the_wrong_key_fails_every_snapshot(
    signed: tuple[Path, list[WrittenSnapshot], Ed25519PrivateKey],
) -> None:
    chain, written, key = signed
    other = Ed25519PrivateKey.generate()
    result = verify_path(chain, other.public_key())
    assert result.problems == [
        f"forged: {w.id}/manifest.json: it was signed by the key {public_key_fingerprint(key.public_key())}, "
        f"not by the given key {public_key_fingerprint(other.public_key())}"
        for w in written
    ]


def test_an_unsigned_chain_fails_when_a_key_is_required(tmp_path: Path) -> None:
    chain = new_chain(tmp_path / "snapshots")
    written = chain.write(2)
    assert verify_path(chain.tenant_directory).problems == []
    key = Ed25519PrivateKey.generate()
    assert verify_path(chain.tenant_directory, key.public_key()).problems == [
        f"forged: {w.id}/manifest.json: it is not signed" for w in written
    ]
