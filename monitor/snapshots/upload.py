"""Copying a written snapshot to Azure Blob Storage (``[snapshots.blob]``).

The copy runs in the writer's thread right after the local write, with a store and credential
opened for it and closed again (snapshots are minutes or hours apart). The new snapshot goes first,
then every snapshot of the local chain the container does not list yet, so one that failed to copy
earlier goes up with the next. A failed copy never undoes the local snapshot: it is reported as
:class:`SnapshotUploadError` (the worker logs it; ``snapshot create`` exits 2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from monitor.errors import MonitorError
from monitor.graph.connection import azure_credential
from monitor.graph.credentials import ManagedIdentityCredential
from monitor.settings import MonitorSettings
from monitor.snapshots.blob import BlobSnapshotStore
from monitor.snapshots.chain import read_chain
from monitor.snapshots.writer import WrittenSnapshot


class SnapshotUploadError(MonitorError):
    """A snapshot was written locally but could not be copied to Blob Storage."""


def upload_snapshot(settings: MonitorSettings, written: WrittenSnapshot, tenant: str) -> str:
    """Copy ``written``, and any earlier snapshot of its chain the container lacks, to the
    configured container; return where ``written`` now is (``<endpoint>/<container>/<tenant>/<id>/``).
    Raises SnapshotUploadError naming the snapshot and the reason (never a key or connection string)."""
    try:
        with (
            _credential(settings) as credential,
            BlobSnapshotStore(settings.snapshots.blob, credential) as store,
        ):
            store.upload(written.path, tenant, written.id)  # first: it creates a missing container
            stored = set(store.list_snapshots(tenant))
            for snapshot in read_chain(written.path.parent):
                if snapshot.sequence is not None and snapshot.id not in stored:
                    store.upload(snapshot.path, tenant, snapshot.id)
            return f"{store.endpoint}/{store.container}/{tenant}/{written.id}/"
    except (MonitorError, AzureError) as error:
        raise SnapshotUploadError(
            f"snapshots.blob: snapshot {written.id} of {tenant} is written locally at {written.path} but was "
            f"not copied to Blob Storage: {error}"
        ) from None


def download_chain(settings: MonitorSettings, tenant: str, destination: Path) -> Path:
    """Download the tenant's chain from the configured container into ``destination/<tenant>/``
    (the local layout, ready for ``snapshot verify``); return that directory. Raises
    SnapshotUploadError naming the container and the reason (never a key or connection string)."""
    try:
        with (
            _credential(settings) as credential,
            BlobSnapshotStore(settings.snapshots.blob, credential) as store,
        ):
            return store.download_chain(tenant, destination)
    except (MonitorError, AzureError) as error:
        raise SnapshotUploadError(
            f"snapshots.blob: the snapshots of {tenant} could not be downloaded: {error}"
        ) from None


@contextlib.contextmanager
def _credential(settings: MonitorSettings) -> Iterator[TokenCredential | None]:
    """The credential ``snapshots.blob.credential`` names: none for a connection string, the first
    tenant's for ``tenant``, the host's managed identity (in the first tenant's cloud) otherwise."""
    blob = settings.snapshots.blob
    if blob.credential == "connection_string":
        yield None
        return
    tenant = settings.tenants[0]
    if blob.credential == "managed_identity":
        identity = ManagedIdentityCredential(client_id=blob.managed_identity_client_id)
        tenant = tenant.model_copy(update={"credential": identity})
    credential = azure_credential(tenant)
    try:
        yield credential
    finally:
        credential.close()
