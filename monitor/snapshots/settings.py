"""The ``[snapshots]`` settings: where compliance snapshots are written, how many are kept, and the
key they are signed with.

Same style as :mod:`monitor.settings.models`: frozen, unknown keys refused, every field described.
The signing key's password is a :class:`~pydantic.SecretStr`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr

from monitor.snapshots.blob_settings import BlobSettings


class SnapshotSettings(BaseModel):
    """``[snapshots]``: a hash-chained, optionally signed snapshot per tenant after every full sweep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True, description="true or false: the worker writes a snapshot after each complete sweep"
    )
    directory: Path = Field(
        default=Path("snapshots"),
        description="the directory of the snapshot chains, one sub-directory per tenant (relative to the "
        "working directory)",
    )
    keep_last: int | None = Field(
        default=None, ge=1, description="keep at most this many snapshots per tenant (absent: no limit)"
    )
    keep_days: int | None = Field(
        default=None, ge=1, description="remove snapshots older than this many days (absent: no limit)"
    )
    signing_key_path: FilePath | None = Field(
        default=None,
        description="an existing PEM file of an Ed25519 private key (openssl genpkey -algorithm ed25519) "
        "that signs each manifest (absent: manifests are not signed)",
    )
    signing_key_password: SecretStr | None = Field(
        default=None,
        description="the password of an encrypted signing key; a secret: set it through an environment "
        "variable rather than the file",
    )
    blob: BlobSettings = Field(
        default_factory=BlobSettings,
        description="the [snapshots.blob] table: an Azure Blob Storage copy of every snapshot",
    )
