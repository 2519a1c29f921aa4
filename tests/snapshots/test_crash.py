"""A writer killed with SIGKILL at any point of a write leaves the chain valid: before the rename
there is no new snapshot (only a hidden temporary directory, removed by the next write), after it a
complete one; killed before pruning, the snapshots it meant to remove are still there and verify."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.snapshots.chain import read_chain
from monitor.snapshots.verify import verify_path
from tests.snapshots.support import T0, new_chain

REPOSITORY = Path(__file__).resolve().parents[2]
# Runs one write in a process of its own that kills itself with SIGKILL at the point it is told:
# after the n-th file of the temporary directory, just before the rename, or just before pruning.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from pathlib import Path

    import monitor.snapshots.writer as writer
    from tests.snapshots.support import new_chain

    directory, point, now, keep_last = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    written = []
    write_file = writer._write_file
    def counting(path, data):
        digest = write_file(path, data)
        written.append(path.name)
        if point == f"after-{len(written)}":
            die()
        return digest
    writer._write_file = counting
    rename = os.rename
    def renaming(source, target):
        if point == "before-rename" and str(source).rsplit("/", 1)[-1].startswith(".tmp-"):
            die()
        rename(source, target)
    writer.os.rename = renaming
    prune = writer._prune
    def pruning(chain, doomed, when):
        if point == "before-prune":
            die()
        return prune(chain, doomed, when)
    writer._prune = pruning
    chain = new_chain(directory, keep_last=int(keep_last) if keep_last != "none" else None)
    chain.clock.now = datetime.fromisoformat(now)
    chain.write()
    print("finished")
    """
)


def write_and_kill(directory: Path, point: str, keep_last: int | None = None) -> None:
    now = (T0 + timedelta(hours=5)).isoformat()
    result = subprocess.run(
        [sys.executable, "-c", WRITER, str(directory), point, now, str(keep_last or "none")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPOSITORY,
    )
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stdout, result.stderr)
    assert "finished" not in result.stdout


@pytest.mark.parametrize("point", ["after-1", "after-2", "after-3", "after-4", "before-rename"])
def test_a_write_killed_before_the_rename_leaves_no_new_snapshot(tmp_path: Path, point: str) -> None:
    chain = new_chain(tmp_path)
    before = [w.id for w in chain.write(2)]
    write_and_kill(tmp_path, point)

    leftovers = [p.name for p in chain.tenant_directory.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1
    result = verify_path(chain.tenant_directory)
    assert result.problems == []
    assert result.verified == before
    assert f"ignored: {leftovers[0]}, an unfinished write (never part of the chain)" in result.notes

    # The next write carries on from the last complete snapshot and clears the leftover.
    chain.clock.now = T0 + timedelta(hours=6)
    (written,) = chain.write()
    assert written.sequence == 3
    assert not [p for p in chain.tenant_directory.iterdir() if p.name.startswith(".tmp-")]
    result = verify_path(chain.tenant_directory)
    assert (result.problems, result.verified) == ([], [*before, written.id])


def test_a_write_killed_before_pruning_leaves_a_valid_longer_chain(tmp_path: Path) -> None:
    chain = new_chain(tmp_path, keep_last=2)
    before = [w.id for w in chain.write(2)]
    write_and_kill(tmp_path, "before-prune", keep_last=2)

    snapshots = read_chain(chain.tenant_directory)
    assert [s.sequence for s in snapshots] == [1, 2, 3]
    newest = snapshots[-1].manifest
    assert newest is not None
    assert newest["pruned"] == {
        "through_sequence": 1,
        "last_pruned_id": before[0],
        "last_pruned_manifest_sha256": snapshots[0].manifest_sha256,
    }
    result = verify_path(chain.tenant_directory)
    assert result.problems == []
    assert result.verified == [*before, snapshots[-1].id]

    # The next write removes what the killed one meant to, and more, as keep_last says.
    chain.clock.now = T0 + timedelta(hours=6)
    (written,) = chain.write()
    assert [s.sequence for s in read_chain(chain.tenant_directory)] == [3, 4]
    assert written.pruned == (before[0], before[1])
    assert verify_path(chain.tenant_directory).problems == []


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from tests.snapshots.support import new_chain

    new_chain(Path(sys.argv[1])).write(int(sys.argv[2]))
    """
)


def test_two_processes_writing_one_chain_take_turns(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(tmp_path), "5"], cwd=REPOSITORY)
        for _ in range(2)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    snapshots = read_chain(tmp_path / "lab")
    assert [s.sequence for s in snapshots] == list(range(1, 11))
    result = verify_path(tmp_path / "lab")
    assert (result.problems, len(result.verified)) == ([], 10)
