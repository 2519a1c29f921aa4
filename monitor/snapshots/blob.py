"""Copies of snapshot chains in Azure Blob Storage, and reading them back for verification.

Layout in the container mirrors the local snapshots directory: ``<tenant>/<snapshot id>/<file>`` for
every file of a snapshot. The chain's ``pruned.json`` (the list of snapshots local retention removed)
grows with every pruning, and a blob under an immutability policy cannot be replaced, so each version
is kept as ``<tenant>/pruned/<through_sequence>.json``; a downloaded chain gets the newest as
``pruned.json``. The container itself is never pruned.

Contract:

- **Complete or invisible.** :meth:`BlobSnapshotStore.upload` writes ``manifest.json`` last, and
  :meth:`~BlobSnapshotStore.list_snapshots` lists only snapshots whose manifest exists, so a reader
  never takes a half-uploaded snapshot for a complete one.
- **Never overwrite, never delete.** Every upload is ``overwrite=False``. A blob that already holds the
  same bytes counts as uploaded (re-running an upload after a crash is safe); one with other bytes is
  an error naming the blob. In production the container carries an immutability (WORM) policy, set by
  the deployment, that the store neither sets nor needs to know about. Azurite, which the tests run
  against, does not implement immutability (501), so WORM itself is not tested here.
- **Errors** are :class:`BlobStoreError` naming the account, container and blob and what to do (the
  missing role "Storage Blob Data Contributor", a refused key, a missing container); the connection
  string, account key or SAS never appears in a message.

The API is synchronous: the snapshot writer runs off the event loop in a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import NoReturn
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from monitor.errors import MonitorError
from monitor.snapshots.blob_client import (
    connection_string_secrets,
    describe_failure,
    error_code,
    service_client,
)
from monitor.snapshots.blob_settings import BlobSettings
from monitor.snapshots.chain import PRUNED, TEMPORARY_PREFIX
from monitor.snapshots.manifest import MANIFEST

PRUNED_VERSIONS = "pruned"
SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
"""A tenant name, snapshot id or file name: one path segment, no separators, no leading dot."""
CONTENT_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


class BlobStoreError(MonitorError):
    """A snapshot could not be uploaded to, listed in or read from Blob Storage. The message names
    the account, container and blob, the service's status and error code, and what to do next."""


@dataclass(frozen=True)
class UploadResult:
    """What :meth:`BlobSnapshotStore.upload` did: files written now and files already there with the
    same bytes, each in upload order (``manifest.json`` last)."""

    snapshot_id: str
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]
    pruned_record: str | None = None
    """The blob holding the chain's ``pruned.json`` as it was at upload, when the chain has one."""


class BlobSnapshotStore:
    """A container of snapshot chains. ``credential`` is required for the ``managed_identity`` and
    ``tenant`` credentials (an ``azure.core`` ``TokenCredential``) and ignored for
    ``connection_string``. ``create_container`` allows creating a missing container on first use;
    ``retry_total`` is how often a failed request is retried (tests use 0 for an unreachable endpoint)."""

    def __init__(
        self,
        settings: BlobSettings,
        credential: TokenCredential | None = None,
        *,
        create_container: bool = True,
        retry_total: int = 3,
    ) -> None:
        self._secrets = connection_string_secrets(settings)
        self._uses_connection_string = settings.credential == "connection_string"
        self._service = service_client(settings, credential, retry_total)
        self.account = self._service.account_name or "(unknown account)"
        self.container = settings.container
        parts = urlsplit(self._service.url)
        self.endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        self._container: ContainerClient = self._service.get_container_client(settings.container)
        self._create_container = create_container

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.account} container={self.container}>"

    def close(self) -> None:
        self._container.close()
        self._service.close()

    def __enter__(self) -> BlobSnapshotStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def upload(self, snapshot_dir: Path, tenant: str, snapshot_id: str) -> UploadResult:
        """Upload every file under ``snapshot_dir`` to ``<tenant>/<snapshot_id>/<file>``, ``manifest.json``
        last. Raises :class:`BlobStoreError` when the directory has no manifest, or when a blob already
        exists with different bytes (nothing is overwritten; files before it stay uploaded, and the
        manifest is not written, so the snapshot stays unlisted).

        When the directory containing ``snapshot_dir`` (its chain) has a ``pruned.json``, that is
        uploaded first as ``<tenant>/pruned/<through_sequence>.json``, so a chain whose first stored
        snapshot follows a pruning still verifies from the container."""
        _check_segment(tenant, "tenant name")
        _check_segment(snapshot_id, "snapshot id")
        names = _snapshot_files(snapshot_dir)
        pruned_record = self._upload_pruned_record(snapshot_dir.parent / PRUNED, tenant)
        uploaded: list[str] = []
        unchanged: list[str] = []
        for name in names:
            data = (snapshot_dir / name).read_bytes()
            blob = f"{tenant}/{snapshot_id}/{name}"
            (uploaded if self._put(blob, data, snapshot_dir / name) else unchanged).append(name)
        return UploadResult(snapshot_id, tuple(uploaded), tuple(unchanged), pruned_record)

    def _upload_pruned_record(self, path: Path, tenant: str) -> str | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            through = json.loads(data)["through_sequence"]
        except (ValueError, TypeError, KeyError):
            through = None
        if not isinstance(through, int) or isinstance(through, bool) or through < 1:
            raise BlobStoreError(
                f"{path} is not a pruning record: it has no positive integer through_sequence; the chain's "
                "pruned.json is written by retention and must not be edited"
            )
        blob = f"{tenant}/{PRUNED_VERSIONS}/{through}.json"
        self._put(blob, data, path)
        return blob

    def _put(self, blob: str, data: bytes, source: Path) -> bool:
        """Create ``blob`` with ``data``; False when it already holds exactly these bytes."""
        try:
            self._create_blob(blob, data)
        except ResourceExistsError:
            existing = self._read(blob)
            if existing == data:
                return False
            raise BlobStoreError(
                f"{self._where(blob)}: the blob already exists with different content "
                f"({len(existing)} bytes, sha256 {hashlib.sha256(existing).hexdigest()}) than {source} "
                f"({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}); snapshots are never "
                "overwritten. Compare both copies: either the local snapshot or the stored one was altered"
            ) from None
        return True

    def _create_blob(self, blob: str, data: bytes) -> None:
        """Upload a new blob, creating the container first when it is missing and that is allowed.
        The container is not checked up front: a SAS or role limited to blobs may not read it."""
        content = ContentSettings(
            content_type=CONTENT_TYPES.get(PurePosixPath(blob).suffix, "application/octet-stream"),
            content_md5=bytearray(hashlib.md5(data, usedforsecurity=False).digest()),
        )
        for attempt in (1, 2):
            try:
                self._container.upload_blob(
                    blob, data, overwrite=False, content_settings=content, validate_content=True
                )
                return
            except ResourceExistsError:
                raise
            except ResourceNotFoundError as error:
                if attempt == 2 or error_code(error) != "ContainerNotFound":
                    self._fail(error, "upload the blob", blob)
            except AzureError as error:
                self._fail(error, "upload the blob", blob)
            self._create_missing_container()

    # -- reading -------------------------------------------------------------------------------

    def list_snapshots(self, tenant: str) -> list[str]:
        """The ids of the tenant's complete snapshots (those whose ``manifest.json`` exists), sorted
        (the ids start with their UTC time, so this is the chain's order)."""
        _check_segment(tenant, "tenant name")
        ids: set[str] = set()
        try:
            for name in self._container.list_blob_names(name_starts_with=f"{tenant}/"):
                parts = name.split("/")
                if len(parts) == 3 and parts[2] == MANIFEST and SEGMENT.match(parts[1]):
                    ids.add(parts[1])
        except AzureError as error:
            self._fail(error, f"list the snapshots of tenant {tenant}", f"{tenant}/")
        return sorted(ids)

    def download(self, tenant: str, snapshot_id: str, dest: Path) -> Path:
        """Download one complete snapshot to ``dest/<tenant>/<snapshot_id>/`` (``dest`` is a snapshots
        directory) and return that directory. Files arrive in a temporary directory renamed into place,
        so an interrupted download leaves no partial snapshot. Raises :class:`BlobStoreError` when the
        snapshot has no manifest in the container or the target directory already exists."""
        _check_segment(tenant, "tenant name")
        _check_segment(snapshot_id, "snapshot id")
        prefix = f"{tenant}/{snapshot_id}/"
        target = dest / tenant / snapshot_id
        if target.exists():
            raise BlobStoreError(f"cannot download {self._where(prefix)}: {target} already exists")
        try:
            names = sorted(self._container.list_blob_names(name_starts_with=prefix))
        except AzureError as error:
            self._fail(error, f"list the files of snapshot {snapshot_id}", prefix)
        files = [name.removeprefix(prefix) for name in names]
        if MANIFEST not in files:
            raise BlobStoreError(
                f"{self._where(prefix)}: no complete snapshot {snapshot_id} of tenant {tenant} "
                f"(no {MANIFEST}; {len(files)} other blobs); list the complete ones with list_snapshots"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        # named like the writer's temporary directories, which verify ignores and the writer cleans up
        staging = Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{snapshot_id}.", dir=target.parent))
        try:
            for relative in files:
                path = staging.joinpath(*_safe_relative(relative, prefix))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self._read(prefix + relative))
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def download_chain(self, tenant: str, dest: Path) -> Path:
        """Download every complete snapshot of the tenant, and the newest pruning record as
        ``pruned.json`` when the container has one, to ``dest/<tenant>/`` (the local snapshots layout,
        so ``snapshot verify`` works on it); return that directory. Raises :class:`BlobStoreError`
        when the tenant has no snapshot."""
        snapshot_ids = self.list_snapshots(tenant)
        if not snapshot_ids:
            raise BlobStoreError(f"{self._where(f'{tenant}/')}: no complete snapshot of tenant {tenant}")
        chain = dest / tenant
        for snapshot_id in snapshot_ids:
            self.download(tenant, snapshot_id, dest)
        newest = self._newest_pruned_record(tenant)
        if newest is not None:
            (chain / PRUNED).write_bytes(self._read(newest))
        return chain

    def _newest_pruned_record(self, tenant: str) -> str | None:
        """The ``<tenant>/pruned/<n>.json`` blob with the highest ``n``, if any."""
        prefix = f"{tenant}/{PRUNED_VERSIONS}/"
        versions: dict[int, str] = {}
        try:
            for name in self._container.list_blob_names(name_starts_with=prefix):
                stem = name.removeprefix(prefix).removesuffix(".json")
                if stem.isdigit() and name.endswith(".json"):
                    versions[int(stem)] = name
        except AzureError as error:
            self._fail(error, f"list the pruning records of tenant {tenant}", prefix)
        return versions[max(versions)] if versions else None

    def _read(self, blob: str) -> bytes:
        data = self._read_if_exists(blob)
        if data is None:
            raise BlobStoreError(f"{self._where(blob)}: the blob does not exist")
        return data

    def _read_if_exists(self, blob: str) -> bytes | None:
        try:
            return self._container.download_blob(blob, validate_content=True).readall()
        except ResourceNotFoundError as error:
            if error_code(error) == "BlobNotFound":
                return None
            self._fail(error, "download the blob", blob)
        except AzureError as error:
            self._fail(error, "download the blob", blob)

    # -- the container and errors --------------------------------------------------------------

    def _create_missing_container(self) -> None:
        if not self._create_container:
            raise BlobStoreError(
                f"{self._where()}: the container does not exist; create it (the deployment's "
                "Bicep template does) or set snapshots.blob.container to an existing one"
            )
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass  # another writer created it meanwhile
        except AzureError as error:
            self._fail(error, "create the missing container", None)

    def _where(self, blob: str | None = None) -> str:
        place = f"storage account {self.account} ({self.endpoint}), container {self.container}"
        return f"{place}, blob {blob}" if blob else place

    def _fail(self, error: AzureError, action: str, blob: str | None) -> NoReturn:
        """Raise a :class:`BlobStoreError` for ``error`` (chained to nothing, so the SDK's text, which
        can quote a signed request, never reaches a log)."""
        reason = describe_failure(error, connection_string=self._uses_connection_string, scrub=self._scrub)
        raise BlobStoreError(f"{self._where(blob)}: could not {action}: {reason}") from None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _check_segment(value: str, what: str) -> None:
    if not SEGMENT.match(value) or ".." in value:
        raise BlobStoreError(
            f"{what} {value!r} cannot name a blob path segment; accepted: letters, digits, '.', '_' and "
            "'-', starting with a letter or digit"
        )


def _safe_relative(relative: str, prefix: str) -> list[str]:
    """The path segments of a downloaded blob below its snapshot, refusing anything that could
    leave the snapshot directory."""
    parts = relative.split("/")
    if not all(SEGMENT.match(part) and ".." not in part for part in parts):
        raise BlobStoreError(
            f"refusing to download blob {prefix}{relative}: its name is not a safe file path"
        )
    return parts


def _snapshot_files(snapshot_dir: Path) -> list[str]:
    """Every regular file under ``snapshot_dir`` as a relative POSIX path, sorted, manifest last."""
    if not (snapshot_dir / MANIFEST).is_file():
        raise BlobStoreError(f"{snapshot_dir} is not a complete snapshot: it has no {MANIFEST}")
    names = sorted(
        path.relative_to(snapshot_dir).as_posix() for path in snapshot_dir.rglob("*") if path.is_file()
    )
    for name in names:
        _safe_relative(name, f"{snapshot_dir}/")
    names.remove(MANIFEST)
    return [*names, MANIFEST]
