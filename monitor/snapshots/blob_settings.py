"""The ``[snapshots.blob]`` settings: an optional Azure Blob Storage container every snapshot is
copied to (with an immutability policy in production).

Same style as :mod:`monitor.settings.models`: frozen, unknown keys refused, every field described.
The connection string carries the account key, so it is a :class:`~pydantic.SecretStr`.
"""

from __future__ import annotations

import re
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

BlobCredential = Literal["connection_string", "managed_identity", "tenant"]
CONTAINER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
"""Azure's rule for container names: 3 to 63 lower-case letters, digits and single hyphens."""


class BlobSettings(BaseModel):
    """``[snapshots.blob]``: where snapshots are uploaded and how the monitor signs in to storage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=False, description="true or false: upload each snapshot to Azure Blob Storage"
    )
    account_url: str | None = Field(
        default=None,
        description="the storage account's blob endpoint, e.g. https://acct.blob.core.windows.net "
        "(not needed with a connection string)",
    )
    container: str = Field(
        default="compliance-snapshots",
        description="the container: 3 to 63 lower-case letters, digits and single hyphens",
    )
    connection_string: SecretStr | None = Field(
        default=None,
        description="the storage account's connection string (credential = connection_string); a secret: "
        "set it through an environment variable rather than the file",
    )
    credential: BlobCredential = Field(
        default="managed_identity",
        description="connection_string, managed_identity (the host's managed identity) or tenant "
        "(the credential of the first [[tenants]] entry)",
    )
    managed_identity_client_id: str | None = Field(
        default=None,
        description="the client id of a user-assigned managed identity (credential = managed_identity; "
        "absent: the system-assigned one)",
    )
    api_version: str | None = Field(
        default=None,
        description="the Blob service API version to send, e.g. 2021-12-02 (absent: the library's default)",
    )

    @field_validator("container")
    @classmethod
    def _container_name(cls, value: str) -> str:
        if not CONTAINER_NAME.match(value) or "--" in value:
            raise ValueError(
                "not a container name; accepted: 3 to 63 lower-case letters, digits and single hyphens"
            )
        return value

    @field_validator("account_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("not a URL; accepted: https://<account>.blob.core.windows.net")
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError("not https; accepted: an https URL (http only to localhost, e.g. Azurite)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credential_complete(self) -> Self:
        if not self.enabled:
            return self
        if self.credential == "connection_string" and self.connection_string is None:
            raise ValueError(
                "credential is connection_string but connection_string is not set; accepted: set "
                "connection_string, or credential = managed_identity or tenant with account_url"
            )
        if self.credential != "connection_string" and self.account_url is None:
            raise ValueError(
                f"credential is {self.credential} but account_url is not set; accepted: account_url "
                "(https://<account>.blob.core.windows.net), or credential = connection_string"
            )
        return self
