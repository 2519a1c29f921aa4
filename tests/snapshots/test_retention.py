"""Retention keeps the last N snapshots or the last D days, records where the chain was cut (in
the next manifest and in pruned.json), and what remains still verifies."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

from monitor.snapshots.chain import read_chain
from monitor.snapshots.verify import verify_path
from tests.snapshots.support import new_chain


def test_keep_last_prunes_and_the_rest_verifies(tmp_path: Path) -> None:
    chain = new_chain(tmp_path, keep_last=3)
    hashes: dict[str, str] = {}
    written = []
    for _ in range(6):
        (snapshot,) = chain.write()
        written.append(snapshot)
        hashes[snapshot.id] = snapshot.manifest_sha256
    assert [w.pruned for w in written] == [(), (), (), (written[0].id,), (written[1].id,), (written[2].id,)]
    remaining = read_chain(chain.tenant_directory)
    assert [s.sequence for s in remaining] == [4, 5, 6]
    head = remaining[-1].manifest
    assert head is not None
    assert head["pruned"] == {
        "through_sequence": 3,
        "last_pruned_id": written[2].id,
        "last_pruned_manifest_sha256": hashes[written[2].id],
    }
    pruned = json.loads((chain.tenant_directory / "pruned.json").read_text())
    assert [(e["id"], e["sequence"], e["manifest_sha256"]) for e in pruned["removed"]] == [
        (w.id, w.sequence, hashes[w.id]) for w in written[:3]
    ]
    assert (pruned["through_sequence"], pruned["last_pruned_id"]) == (3, written[2].id)

    result = verify_path(chain.tenant_directory)
    assert result.problems == []
    assert result.verified == [w.id for w in written[3:]]
    assert f"pruned: the chain starts after sequence 3 ({written[2].id}), as recorded" in result.notes


def test_keep_days_prunes_by_age(tmp_path: Path) -> None:
    chain = new_chain(tmp_path, keep_days=2)
    written = chain.write(5, step=timedelta(days=1))
    # The last write, four days after the first, keeps what is at most two days old.
    assert [s.id for s in read_chain(chain.tenant_directory)] == [w.id for w in written[2:]]
    assert verify_path(chain.tenant_directory).problems == []


def test_removing_more_than_was_pruned_is_named(tmp_path: Path) -> None:
    chain = new_chain(tmp_path, keep_last=3)
    written = chain.write(5)
    shutil.rmtree(written[2].path)  # the oldest that retention kept
    assert verify_path(chain.tenant_directory).problems == [
        f"removed: the snapshots before {written[3].id} (sequence 4); the pruning recorded only reaches "
        "sequence 2"
    ]


def test_a_missing_pruning_list_is_named(tmp_path: Path) -> None:
    chain = new_chain(tmp_path, keep_last=2)
    chain.write(3)
    (chain.tenant_directory / "pruned.json").unlink()
    assert verify_path(chain.tenant_directory).problems == [
        "removed: pruned.json, the list of snapshots retention removed, is missing"
    ]
