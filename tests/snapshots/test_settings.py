"""The [snapshots] and [snapshots.blob] settings: defaults, and messages that name what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.snapshots.blob_settings import BlobSettings
from monitor.snapshots.settings import SnapshotSettings


def test_defaults() -> None:
    settings = SnapshotSettings()
    assert settings.enabled is True
    assert settings.directory == Path("snapshots")
    assert (settings.keep_last, settings.keep_days, settings.signing_key_path) == (None, None, None)
    assert settings.blob == BlobSettings()
    assert (settings.blob.enabled, settings.blob.container, settings.blob.credential) == (
        False,
        "compliance-snapshots",
        "managed_identity",
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"container": "Bad_Name"}, "accepted: 3 to 63 lower-case letters, digits and single hyphens"),
        ({"container": "a--b"}, "accepted: 3 to 63 lower-case letters, digits and single hyphens"),
        ({"account_url": "ftp://x"}, "accepted: https://<account>.blob.core.windows.net"),
        ({"account_url": "http://example.com"}, "http only to localhost"),
        ({"credential": "password"}, "'connection_string', 'managed_identity' or 'tenant'"),
        (
            {"enabled": True, "credential": "connection_string"},
            "credential is connection_string but connection_string is not set",
        ),
        ({"enabled": True}, "credential is managed_identity but account_url is not set"),
    ],
)
def test_blob_settings_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        BlobSettings.model_validate(values)
    assert message in str(raised.value)


def test_connection_string_never_shown() -> None:
    secret = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0"
    settings = BlobSettings(enabled=True, credential="connection_string", connection_string=secret)
    assert "c2VjcmV0" not in repr(settings)
    assert "c2VjcmV0" not in str(settings.model_dump())


def test_keep_limits_refuse_zero() -> None:
    with pytest.raises(ValidationError, match="keep_last"):
        SnapshotSettings(keep_last=0)
    with pytest.raises(ValidationError, match="signing_key_path"):
        SnapshotSettings(signing_key_path=Path("/nonexistent/key.pem"))
