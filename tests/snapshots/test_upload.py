"""``snapshot create`` with ``[snapshots.blob]`` copies each snapshot to Blob Storage (Azurite) and
the chain downloaded from there verifies; a failed copy leaves the local snapshot complete, exits 2
without the key, and goes up with the next snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.snapshots.blob import BlobSnapshotStore
from monitor.snapshots.blob_settings import BlobSettings
from monitor.snapshots.verify import verify_path
from tests.snapshots.conftest import monitor, snapshot_config
from tests.support.azurite import ACCOUNT_KEY, RunningAzurite, start_azurite
from tests.support.emulator import RunningEmulator

CONTAINER = "core-upload"
WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3Jvbmc="


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAzurite]:
    with start_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


def test_snapshots_are_copied_and_verify_from_the_container(
    live: RunningEmulator, azurite: RunningAzurite, tmp_path: Path
) -> None:
    config = snapshot_config(
        live,
        tmp_path,
        f'[snapshots.blob]\nenabled = true\ncredential = "connection_string"\ncontainer = "{CONTAINER}"\n',
    )
    variable = "ENTRA_MONITOR_SNAPSHOTS__BLOB__CONNECTION_STRING"
    chain = tmp_path / "snapshots" / "lab"

    refused = monitor(config, "snapshot", "create", environ={variable: azurite.connection_string(WRONG_KEY)})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    (first,) = sorted(chain.iterdir())
    message = " ".join(refused.stderr.split())
    assert (
        f"snapshots.blob: snapshot {first.name} of lab is written locally at {first} but was not copied"
        in message
    )
    assert WRONG_KEY not in refused.stdout + refused.stderr
    assert verify_path(chain).problems == []

    copied = monitor(config, "snapshot", "create", environ={variable: azurite.connection_string()})
    assert copied.returncode == 0, copied.stdout + copied.stderr
    first, second = sorted(chain.iterdir())
    assert f"copied to {azurite.blob_endpoint}/{CONTAINER}/lab/{second.name}/" in copied.stdout

    settings = BlobSettings(
        enabled=True,
        credential="connection_string",
        container=CONTAINER,
        connection_string=azurite.connection_string(ACCOUNT_KEY),
    )
    with BlobSnapshotStore(settings) as store:
        assert store.list_snapshots("lab") == [first.name, second.name]  # the refused one went up too
        downloaded = store.download_chain("lab", tmp_path / "downloaded")
    result = verify_path(downloaded)
    assert (result.problems, result.verified) == ([], [first.name, second.name])
    for snapshot in (first, second):
        for file in snapshot.iterdir():
            assert (downloaded / snapshot.name / file.name).read_bytes() == file.read_bytes()

    fetched = monitor(
        config,
        "snapshot",
        "download",
        str(tmp_path / "fetched"),
        "--tenant",
        "lab",
        environ={variable: azurite.connection_string()},
    )
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    for snapshot in (first, second):
        for file in snapshot.iterdir():
            assert (
                tmp_path / "fetched" / "lab" / snapshot.name / file.name
            ).read_bytes() == file.read_bytes()
    again = monitor(
        config,
        "snapshot",
        "download",
        str(tmp_path / "fetched"),
        "--tenant",
        "lab",
        environ={variable: azurite.connection_string()},
    )
    assert again.returncode == 2
    assert "is not empty; accepted: a new or empty directory" in " ".join(again.stderr.split())


def test_download_names_a_tenant_the_container_does_not_hold(
    live: RunningEmulator, azurite: RunningAzurite, tmp_path: Path
) -> None:
    config = snapshot_config(
        live,
        tmp_path,
        '[snapshots.blob]\nenabled = true\ncredential = "connection_string"\n'
        f'container = "{CONTAINER}-none"\n',
    )
    variable = "ENTRA_MONITOR_SNAPSHOTS__BLOB__CONNECTION_STRING"
    result = monitor(
        config,
        "snapshot",
        "download",
        str(tmp_path / "fetched"),
        "--tenant",
        "nobody",
        environ={variable: azurite.connection_string()},
    )
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "snapshots.blob: the snapshots of nobody could not be downloaded" in message
    assert ACCOUNT_KEY not in result.stdout + result.stderr
