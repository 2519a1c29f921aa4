"""BlobSnapshotStore against a real Azurite Blob service (tests/support/azurite.py).

Each test works in its own container of one Azurite started for the module. Snapshots are plain
directories laid out as docs/snapshots.md describes (a hash-chained manifest written last).
Azurite cannot enforce immutability (WORM) policies, so that layer is not tested here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_container_sas,
)
from pydantic import SecretStr

from monitor.errors import ConfigurationError
from monitor.snapshots.blob import BlobSnapshotStore, BlobStoreError
from monitor.snapshots.blob_settings import BlobSettings
from monitor.snapshots.verify import verify_chain
from tests.snapshots.support import new_chain
from tests.support.azurite import ACCOUNT_KEY, ACCOUNT_NAME, RunningAzurite, start_azurite

TENANT = "lab"
FILES = ("findings.csv", "report.html", "snapshot.json")
CONTENT_TYPES = {
    "findings.csv": "text/csv; charset=utf-8",
    "report.html": "text/html; charset=utf-8",
    "snapshot.json": "application/json",
    "manifest.json": "application/json",
}


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAzurite]:
    with start_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


@pytest.fixture
def container(request: pytest.FixtureRequest) -> str:
    """A container name of the test's own."""
    return "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]


@pytest.fixture
def settings(azurite: RunningAzurite, container: str) -> BlobSettings:
    return blob_settings(azurite.connection_string(), container)


@pytest.fixture
def store(settings: BlobSettings) -> Iterator[BlobSnapshotStore]:
    with BlobSnapshotStore(settings) as opened:
        yield opened


@pytest.fixture
def raw(azurite: RunningAzurite, container: str) -> Iterator[ContainerClient]:
    """The same container through the SDK directly, to arrange and inspect blobs."""
    with BlobServiceClient.from_connection_string(azurite.connection_string()) as service:
        client = service.get_container_client(container)
        if not client.exists():
            client.create_container()
        yield client


def blob_settings(connection_string: str, container: str) -> BlobSettings:
    return BlobSettings(
        enabled=True,
        credential="connection_string",
        connection_string=SecretStr(connection_string),
        container=container,
    )


def write_chain(root: Path, count: int) -> list[Path]:
    """``count`` snapshots of tenant lab in ``root/lab/``, written by the core's writer (document,
    findings.csv, report and chained manifest), an hour apart."""
    return [written.path for written in new_chain(root).write(count)]


def tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by its relative path, with its bytes."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_upload_writes_every_file_under_tenant_and_id_manifest_last(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)

    result = store.upload(snapshot, TENANT, snapshot.name)

    assert result.uploaded == (*FILES, "manifest.json")
    assert result.unchanged == ()
    blobs = {blob.name: blob for blob in raw.list_blobs(include=["metadata"])}
    assert set(blobs) == {f"{TENANT}/{snapshot.name}/{name}" for name in CONTENT_TYPES}
    for name, content_type in CONTENT_TYPES.items():
        blob = blobs[f"{TENANT}/{snapshot.name}/{name}"]
        assert blob.content_settings.content_type == content_type
        assert raw.download_blob(blob.name).readall() == (snapshot / name).read_bytes()


def test_reupload_is_idempotent(store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    store.upload(snapshot, TENANT, snapshot.name)
    before = {blob.name: blob.etag for blob in raw.list_blobs()}

    again = store.upload(snapshot, TENANT, snapshot.name)

    assert again.uploaded == ()
    assert again.unchanged == (*FILES, "manifest.json")
    assert {blob.name: blob.etag for blob in raw.list_blobs()} == before


def test_upload_resumes_after_a_crash_part_way(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    # the earlier attempt got the first two files out before it died
    for name in FILES[:2]:
        raw.upload_blob(f"{TENANT}/{snapshot.name}/{name}", (snapshot / name).read_bytes())
    assert store.list_snapshots(TENANT) == []

    result = store.upload(snapshot, TENANT, snapshot.name)

    assert result.unchanged == FILES[:2]
    assert result.uploaded == (FILES[2], "manifest.json")
    assert store.list_snapshots(TENANT) == [snapshot.name]


def test_a_conflicting_blob_is_refused_and_kept_and_the_snapshot_stays_unlisted(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    blob = f"{TENANT}/{snapshot.name}/snapshot.json"  # the last file before the manifest
    raw.upload_blob(blob, b'{"forged": true}')

    with pytest.raises(BlobStoreError) as raised:
        store.upload(snapshot, TENANT, snapshot.name)

    message = str(raised.value)
    assert f"blob {blob}: the blob already exists with different content" in message
    assert f"container {store.container}" in message
    assert f"storage account {ACCOUNT_NAME}" in message
    assert str(snapshot / "snapshot.json") in message
    assert raw.download_blob(blob).readall() == b'{"forged": true}'
    names = {item.name for item in raw.list_blobs()}
    assert names == {f"{TENANT}/{snapshot.name}/{name}" for name in FILES}  # no manifest
    assert store.list_snapshots(TENANT) == []


def test_only_snapshots_with_a_manifest_are_listed_and_downloadable(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    first, second, third = write_chain(tmp_path / "local", 3)
    store.upload(first, TENANT, first.name)
    store.upload(third, TENANT, third.name)
    for name in FILES:
        raw.upload_blob(f"{TENANT}/{second.name}/{name}", (second / name).read_bytes())
    store.upload(first, "fabrikam", first.name)  # the store keeps tenants apart by prefix alone

    assert store.list_snapshots(TENANT) == [first.name, third.name]
    assert store.list_snapshots("fabrikam") == [first.name]
    assert store.list_snapshots("nobody") == []
    with pytest.raises(BlobStoreError) as raised:
        store.download(TENANT, second.name, tmp_path / "copy")
    assert f"no complete snapshot {second.name} of tenant {TENANT} (no manifest.json; 3 other blobs)" in str(
        raised.value
    )
    assert not (tmp_path / "copy" / TENANT / second.name).exists()


def test_download_chain_reproduces_the_local_directory_byte_for_byte(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    snapshots = write_chain(local, 3)
    for snapshot in snapshots:
        store.upload(snapshot, TENANT, snapshot.name)

    chain = store.download_chain(TENANT, tmp_path / "copy")

    assert chain == tmp_path / "copy" / TENANT
    assert tree(chain) == tree(local / TENANT)
    assert len(tree(chain)) == 3 * 4
    assert verify_chain(chain).problems == []
    assert sorted(path.name for path in chain.iterdir()) == [snapshot.name for snapshot in snapshots]


def test_every_version_of_pruned_json_is_kept_and_the_newest_comes_back(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    first, second = write_chain(local, 2)
    pruned = local / TENANT / "pruned.json"
    pruned.write_text('{"removed": [], "through_sequence": 4}\n')
    results = [store.upload(first, TENANT, first.name), store.upload(second, TENANT, second.name)]
    pruned.write_text('{"removed": [], "through_sequence": 7}\n')  # retention removed more since
    again = store.upload(second, TENANT, second.name)

    chain = store.download_chain(TENANT, tmp_path / "copy")

    assert [result.pruned_record for result in [*results, again]] == [
        f"{TENANT}/pruned/4.json",
        f"{TENANT}/pruned/4.json",
        f"{TENANT}/pruned/7.json",
    ]
    assert {name for name in raw.list_blob_names() if "/pruned/" in name} == {
        f"{TENANT}/pruned/4.json",
        f"{TENANT}/pruned/7.json",
    }
    assert (
        raw.download_blob(f"{TENANT}/pruned/4.json").readall() == b'{"removed": [], "through_sequence": 4}\n'
    )
    assert tree(chain) == tree(local / TENANT)
    assert (chain / "pruned.json").read_bytes() == b'{"removed": [], "through_sequence": 7}\n'
    assert store.list_snapshots(TENANT) == [first.name, second.name]


def test_an_edited_pruned_json_stops_the_upload(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    pruned = tmp_path / "local" / TENANT / "pruned.json"
    pruned.write_text('{"through_sequence": "three"}')

    with pytest.raises(BlobStoreError) as raised:
        store.upload(snapshot, TENANT, snapshot.name)

    assert str(raised.value).startswith(
        f"{pruned} is not a pruning record: it has no positive integer through_sequence"
    )
    assert list(raw.list_blob_names()) == []


def test_download_refuses_to_replace_an_existing_directory(store: BlobSnapshotStore, tmp_path: Path) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    store.upload(snapshot, TENANT, snapshot.name)
    existing = tmp_path / "copy" / TENANT / snapshot.name
    existing.mkdir(parents=True)

    with pytest.raises(BlobStoreError, match=f"{existing} already exists"):
        store.download(TENANT, snapshot.name, tmp_path / "copy")
    assert list(existing.iterdir()) == []


def test_download_chain_of_an_unknown_tenant_is_an_error(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    with pytest.raises(BlobStoreError, match=f"no complete snapshot of tenant {TENANT}$"):
        store.download_chain(TENANT, tmp_path / "copy")


def test_a_directory_without_manifest_is_not_uploaded(
    store: BlobSnapshotStore, raw: ContainerClient, tmp_path: Path
) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    (snapshot / "manifest.json").unlink()

    with pytest.raises(
        BlobStoreError, match=f"{snapshot} is not a complete snapshot: it has no manifest.json"
    ):
        store.upload(snapshot, TENANT, snapshot.name)
    assert list(raw.list_blobs()) == []


def test_a_missing_container_is_created_when_allowed(
    store: BlobSnapshotStore, azurite: RunningAzurite, container: str, tmp_path: Path
) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)

    store.upload(snapshot, TENANT, snapshot.name)

    with BlobServiceClient.from_connection_string(azurite.connection_string()) as service:
        assert service.get_container_client(container).exists()
    assert store.list_snapshots(TENANT) == [snapshot.name]


def test_a_missing_container_is_named_when_creating_it_is_not_allowed(
    settings: BlobSettings, container: str, tmp_path: Path
) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    with BlobSnapshotStore(settings, create_container=False) as store:
        with pytest.raises(BlobStoreError) as upload:
            store.upload(snapshot, TENANT, snapshot.name)
        with pytest.raises(BlobStoreError) as listing:
            store.list_snapshots(TENANT)

    assert str(upload.value).endswith(
        f"container {container}: the container does not exist; create it (the deployment's Bicep "
        "template does) or set snapshots.blob.container to an existing one"
    )
    assert str(listing.value).endswith(
        f"container {container}, blob {TENANT}/: could not list the snapshots of tenant {TENANT}: "
        "the container does not exist (HTTP 404 ContainerNotFound)"
    )


def test_a_wrong_account_key_is_a_clear_error_without_the_key(
    azurite: RunningAzurite, container: str, tmp_path: Path
) -> None:
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    connection_string = azurite.connection_string(wrong_key)
    (snapshot,) = write_chain(tmp_path / "local", 1)

    with (
        BlobSnapshotStore(blob_settings(connection_string, container)) as store,
        pytest.raises(BlobStoreError) as raised,
    ):
        store.upload(snapshot, TENANT, snapshot.name)

    message = str(raised.value)
    blob = f"{TENANT}/{snapshot.name}/findings.csv"
    assert message == (
        f"storage account {ACCOUNT_NAME} ({azurite.blob_endpoint}), container {container}, blob {blob}: "
        "could not upload the blob: access denied (HTTP 403 AuthorizationFailure); check the connection "
        "string's account key, or that its SAS allows read, write, list and create on this container and "
        "has not expired"
    )
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    for secret in (wrong_key, connection_string, ACCOUNT_KEY):
        assert secret not in message
        assert secret not in repr(raised.value)


def test_a_read_only_sas_cannot_upload_and_the_sas_is_not_shown(
    azurite: RunningAzurite, raw: ContainerClient, container: str, tmp_path: Path
) -> None:
    sas = generate_container_sas(
        ACCOUNT_NAME,
        container,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    connection_string = f"BlobEndpoint={azurite.blob_endpoint};SharedAccessSignature={sas}"
    (snapshot,) = write_chain(tmp_path / "local", 1)

    with BlobSnapshotStore(blob_settings(connection_string, container), create_container=False) as store:
        with pytest.raises(BlobStoreError) as raised:
            store.upload(snapshot, TENANT, snapshot.name)
        assert store.list_snapshots(TENANT) == []  # reading is allowed

    message = str(raised.value)
    blob = f"{TENANT}/{snapshot.name}/findings.csv"
    assert message.startswith(
        f"storage account {ACCOUNT_NAME} ({azurite.blob_endpoint}), container {container}, blob {blob}: "
        "could not upload the blob: access denied (HTTP 403 AuthorizationPermissionMismatch)"
    )
    signature = dict(part.split("=", 1) for part in sas.split("&"))["sig"]
    assert signature not in message
    assert "sig=" not in message
    assert list(raw.list_blobs()) == []


def test_an_unreachable_endpoint_is_named(container: str, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/{ACCOUNT_NAME}"
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint};"
    )

    with (
        BlobSnapshotStore(blob_settings(connection_string, container), retry_total=0) as store,
        pytest.raises(BlobStoreError) as raised,
    ):
        store.list_snapshots(TENANT)

    assert str(raised.value) == (
        f"storage account {ACCOUNT_NAME} ({endpoint}), container {container}, blob {TENANT}/: could not "
        f"list the snapshots of tenant {TENANT}: could not reach the service (ServiceRequestError); check "
        "the account URL or connection string's endpoint, the network and the DNS name"
    )


def test_a_malformed_connection_string_is_a_configuration_error_without_its_value(container: str) -> None:
    connection_string = "AccountKey=c2VjcmV0;not-a-connection-string"

    with pytest.raises(ConfigurationError) as raised:
        BlobSnapshotStore(blob_settings(connection_string, container))

    assert str(raised.value).startswith(
        "snapshots.blob.connection_string: not a storage connection string; accepted:"
    )
    assert "c2VjcmV0" not in str(raised.value)


def test_a_token_credential_is_required_for_managed_identity(container: str) -> None:
    settings = BlobSettings(
        enabled=True, credential="managed_identity", account_url="https://acct.blob.core.windows.net"
    )
    with pytest.raises(
        ConfigurationError, match=r"^snapshots\.blob\.credential: managed_identity needs a token"
    ):
        BlobSnapshotStore(settings)


def test_tokens_are_not_sent_over_http() -> None:
    settings = BlobSettings(
        enabled=True, credential="tenant", account_url="http://127.0.0.1:10000/devstoreaccount1"
    )
    with pytest.raises(ConfigurationError) as raised:
        BlobSnapshotStore(settings, object())  # type: ignore[arg-type]
    assert str(raised.value).startswith(
        "snapshots.blob.account_url: http://127.0.0.1:10000/devstoreaccount1 is not https, and tokens are "
        "only sent over TLS"
    )


@pytest.mark.parametrize("tenant", ["../etc", "a/b", ".hidden", ""])
def test_names_that_would_leave_the_tenant_prefix_are_refused(
    store: BlobSnapshotStore, tenant: str, tmp_path: Path
) -> None:
    with pytest.raises(BlobStoreError, match="cannot name a blob path segment"):
        store.list_snapshots(tenant)
    with pytest.raises(BlobStoreError, match="cannot name a blob path segment"):
        store.download(TENANT, tenant, tmp_path)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_azurite_is_stopped_and_reaped_when_the_helper_exits(tmp_path: Path) -> None:
    with start_azurite(tmp_path) as running:
        os.kill(running.pid, 0)  # alive while in use
        pid = running.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
