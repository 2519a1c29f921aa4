"""The Blob service client of :mod:`monitor.snapshots.blob`, built from ``[snapshots.blob]``, and
the sentence that explains one of its failures without quoting a secret.

The SDK's own error text can quote the string it signed or a URL carrying a SAS, so a failure is
described from its status, its storage error code and the kind of credential in use; free text is
only kept where it cannot hold a secret (a token credential's own message), and even then the
connection string's secret parts are scrubbed out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient, ExponentialRetry

from monitor.errors import ConfigurationError
from monitor.snapshots.blob_settings import BlobSettings

WRITER_ROLE = "Storage Blob Data Contributor"
SECRET_PARTS = ("accountkey", "sharedaccesssignature")
REFUSED_CREDENTIAL_CODES = frozenset({"AuthenticationFailed", "InvalidAuthenticationInfo"})


class NoRetryOnCredentialFailure(ExponentialRetry):
    """Storage's exponential retry (15 s, then 18 s and 24 s more), except when the credential could
    not produce a token: the monitor's credential already retried what was transient, and three more
    rounds would only delay the error by over a minute."""

    def increment(
        self,
        settings: dict[str, Any],
        request: Any,
        response: Any = None,
        error: AzureError | None = None,
    ) -> bool:
        if isinstance(error, ClientAuthenticationError) and error.response is None:
            return False
        return bool(super().increment(settings, request, response, error))


def service_client(
    settings: BlobSettings, credential: TokenCredential | None, retry_total: int
) -> BlobServiceClient:
    """The client for ``settings``; ConfigurationError when the settings and ``credential`` do not
    make one (the message never shows the connection string)."""
    options: dict[str, Any] = {"retry_policy": NoRetryOnCredentialFailure(retry_total=retry_total)}
    if settings.api_version is not None:
        options["api_version"] = settings.api_version
    if settings.credential == "connection_string":
        if settings.connection_string is None:
            raise ConfigurationError(
                "snapshots.blob.connection_string: not set; accepted: the storage account's connection "
                "string (credential = connection_string)"
            )
        try:
            return BlobServiceClient.from_connection_string(
                settings.connection_string.get_secret_value(), **options
            )
        except (ValueError, TypeError):
            raise ConfigurationError(
                "snapshots.blob.connection_string: not a storage connection string; accepted: "
                "'DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=…' or one "
                "with BlobEndpoint=… (the value is not shown: it is a secret)"
            ) from None
    if credential is None:
        raise ConfigurationError(
            f"snapshots.blob.credential: {settings.credential} needs a token credential, and none was "
            "given; accepted: connection_string, or managed_identity / tenant with a working identity"
        )
    if settings.account_url is None:
        raise ConfigurationError(
            f"snapshots.blob.account_url: not set; accepted: https://<account>.blob.core.windows.net "
            f"(credential = {settings.credential})"
        )
    if not settings.account_url.startswith("https://"):
        raise ConfigurationError(
            f"snapshots.blob.account_url: {settings.account_url} is not https, and tokens are only sent "
            f"over TLS; accepted: an https URL (credential = {settings.credential}), or credential = "
            "connection_string for a local emulator over http"
        )
    return BlobServiceClient(settings.account_url, credential=credential, **options)


def connection_string_secrets(settings: BlobSettings) -> list[str]:
    """The secret values in the connection string (account key, SAS) and its whole text, longest
    first."""
    if settings.connection_string is None:
        return []
    text = settings.connection_string.get_secret_value()
    secrets = [text] if text else []
    for part in text.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() in SECRET_PARTS and value:
            secrets.append(value)
    return sorted(secrets, key=len, reverse=True)


def error_code(error: AzureError) -> str | None:
    """The storage error code (``BlobNotFound``…) the SDK attached, if any."""
    code = getattr(error, "error_code", None)
    return str(getattr(code, "value", code)) if code else None


def describe_failure(error: AzureError, *, connection_string: bool, scrub: Callable[[str], str]) -> str:
    """Why ``error`` happened and what to do, in words for a person. ``connection_string`` says which
    kind of credential was used (a 403 means a key or SAS problem then, a missing role otherwise)."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    code = error_code(error)
    service = " ".join(part for part in (f"HTTP {status}" if status else "", code or "") if part)
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return (
            f"could not reach the service ({type(error).__name__}); check the account URL or connection "
            "string's endpoint, the network and the DNS name"
        )
    if isinstance(error, ClientAuthenticationError) and status is None:
        return f"no credential: {scrub(error.message)}"
    if isinstance(error, ClientAuthenticationError) or code in REFUSED_CREDENTIAL_CODES:
        return (
            f"the service refused the credential ({service}); check the account key or SAS in the "
            "connection string, or the identity's token"
        )
    if status == 403 and connection_string:
        return (
            f"access denied ({service}); check the connection string's account key, or that its SAS "
            "allows read, write, list and create on this container and has not expired"
        )
    if status == 403:
        return (
            f"access denied ({service}); grant the monitor's identity the role '{WRITER_ROLE}' on the "
            "storage account or container"
        )
    if code == "ContainerNotFound":
        return f"the container does not exist ({service})"
    if isinstance(error, HttpResponseError) and status is not None:
        return f"the service answered {service}"
    first_line = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {scrub(first_line)}"
