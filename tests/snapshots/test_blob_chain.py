"""Real chains from the core's snapshot writer (document, CSV, report and signed manifest), copied to
Azurite as the worker would (an upload after every write, local retention on), then downloaded and
verified with the core's verify."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitor.snapshots.blob import BlobSnapshotStore
from monitor.snapshots.blob_settings import BlobSettings
from monitor.snapshots.verify import verify_chain
from monitor.snapshots.writer import WrittenSnapshot
from tests.snapshots.conftest import entra_monitor, write_key, write_public_key
from tests.snapshots.support import Chain, new_chain
from tests.snapshots.test_blob import blob_settings, tree
from tests.support.azurite import RunningAzurite, start_azurite

TENANT = "lab"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAzurite]:
    with start_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


@pytest.fixture
def settings(azurite: RunningAzurite, request: pytest.FixtureRequest) -> BlobSettings:
    container = "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    return blob_settings(azurite.connection_string(), container)


@pytest.fixture
def raw(azurite: RunningAzurite, settings: BlobSettings) -> Iterator[ContainerClient]:
    with BlobServiceClient.from_connection_string(azurite.connection_string()) as service:
        yield service.get_container_client(settings.container)


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, Ed25519PrivateKey]:
    path = tmp_path / "signing.pem"
    return path, write_key(path)


def write_and_upload(chain: Chain, store: BlobSnapshotStore | None, count: int) -> list[WrittenSnapshot]:
    """Write ``count`` snapshots an hour apart, uploading each right after it is written (as the worker
    does) unless ``store`` is None."""
    written: list[WrittenSnapshot] = []
    for _ in range(count):
        (snapshot,) = chain.write()
        if store is not None:
            store.upload(snapshot.path, TENANT, snapshot.id)
        written.append(snapshot)
    return written


def signed_chain(directory: Path, key: tuple[Path, Ed25519PrivateKey], keep_last: int) -> Chain:
    return new_chain(directory, keep_last=keep_last, signing_key_path=key[0])


def test_the_container_keeps_the_whole_chain_and_it_verifies_after_download(
    settings: BlobSettings, key: tuple[Path, Ed25519PrivateKey], tmp_path: Path
) -> None:
    chain_writer = signed_chain(tmp_path / "local", key, keep_last=2)
    with BlobSnapshotStore(settings) as store:
        written = write_and_upload(chain_writer, store, 5)
        listed = store.list_snapshots(TENANT)
        chain = store.download_chain(TENANT, tmp_path / "copy")

    ids = [snapshot.id for snapshot in written]
    assert listed == ids
    local = tmp_path / "local" / TENANT
    assert sorted(path.name for path in local.iterdir()) == [*ids[3:], "pruned.json"]
    assert sorted(path.name for path in chain.iterdir()) == [*ids, "pruned.json"]
    assert (chain / "pruned.json").read_bytes() == (local / "pruned.json").read_bytes()
    for snapshot_id in ids[3:]:
        assert tree(chain / snapshot_id) == tree(local / snapshot_id)

    copy = verify_chain(chain, key[1].public_key())
    assert copy.problems == []
    assert copy.verified == ids
    assert len(copy.signed_by) == 1
    assert verify_chain(local, key[1].public_key()).verified == ids[3:]
    public_key = write_public_key(key[1], tmp_path / "public.pem")
    command = entra_monitor("snapshot", "verify", str(chain), "--public-key", str(public_key), cwd=tmp_path)
    assert command.returncode == 0, command.stdout + command.stderr
    assert f"VALID 5 snapshot(s) of {TENANT} in {chain}; signed by " in command.stdout


def test_a_copy_started_after_local_pruning_verifies_from_the_pruned_record(
    settings: BlobSettings, key: tuple[Path, Ed25519PrivateKey], tmp_path: Path
) -> None:
    chain_writer = signed_chain(tmp_path / "local", key, keep_last=2)
    write_and_upload(chain_writer, None, 3)  # before the Blob copy was switched on
    with BlobSnapshotStore(settings) as store:
        later = write_and_upload(chain_writer, store, 2)
        chain = store.download_chain(TENANT, tmp_path / "copy")

    assert sorted(path.name for path in chain.iterdir()) == sorted([*(s.id for s in later), "pruned.json"])
    copy = verify_chain(chain, key[1].public_key())
    assert copy.problems == []
    assert copy.verified == [snapshot.id for snapshot in later]
    assert any(note.startswith("pruned: the chain starts after sequence") for note in copy.notes)


def test_a_blob_altered_in_the_container_is_named_by_verify(
    settings: BlobSettings, raw: ContainerClient, key: tuple[Path, Ed25519PrivateKey], tmp_path: Path
) -> None:
    chain_writer = signed_chain(tmp_path / "local", key, keep_last=10)
    with BlobSnapshotStore(settings) as store:
        first, second = write_and_upload(chain_writer, store, 2)
        # Azurite has no immutability policy, so an overwrite succeeds here as it would not in production.
        raw.upload_blob(f"{TENANT}/{first.id}/findings.csv", b"tenant,check\r\n", overwrite=True)
        chain = store.download_chain(TENANT, tmp_path / "copy")

    copy = verify_chain(chain, key[1].public_key())
    assert copy.bad == {first.id}
    assert len(copy.problems) == 1
    assert copy.problems[0].startswith(f"altered: {first.id}/findings.csv has SHA-256 ")
    assert second.id in copy.verified
