"""BlobSnapshotStore with a token credential (the managed_identity and tenant settings), against Azurite
serving HTTPS with OAuth: the SDK sends bearer tokens only over TLS. Azurite's basic OAuth checks a
token's issuer, audience and lifetime but not its signature, so the credential here mints tokens for
the storage audience itself; what is tested is the store's path through a TokenCredential (the scope
it asks for, uploads and reads with bearer tokens, and the errors when no token or a wrong one comes).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from monitor.snapshots.blob import BlobSnapshotStore, BlobStoreError
from monitor.snapshots.blob_settings import BlobSettings
from tests.snapshots.test_blob import FILES, TENANT, tree, write_chain
from tests.support.azurite import ACCOUNT_NAME, RunningAzurite, TlsFiles, self_signed_tls, start_azurite

STORAGE = "https://storage.azure.com"
TENANT_ID = "7a1b2c3d-0000-4000-8000-00000000c0de"
SIGNING_KEY = "azurite-basic-oauth-does-not-check-signatures"


class StorageTokens:
    """An ``azure.core`` TokenCredential minting tokens Azurite accepts; records the scopes asked."""

    def __init__(self, audience: str = STORAGE, failure: str | None = None) -> None:
        self.audience = audience
        self.failure = failure
        self.scopes: list[tuple[str, ...]] = []
        self.issued: list[str] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.scopes.append(scopes)
        if self.failure is not None:
            raise ClientAuthenticationError(message=self.failure)
        now = int(time.time())
        claims_set = {
            "aud": self.audience,
            "iss": f"https://sts.windows.net/{TENANT_ID}/",
            "tid": TENANT_ID,
            "iat": now,
            "nbf": now - 60,
            "exp": now + 3600,
        }
        token = jwt.encode(claims_set, SIGNING_KEY, algorithm="HS256")
        self.issued.append(token)
        return AccessToken(token, now + 3600)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def azurite_https(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[RunningAzurite]:
    with start_azurite(tmp_path_factory.mktemp("azurite-https"), tls) as running:
        yield running


@pytest.fixture
def settings(
    azurite_https: RunningAzurite,
    tls: TlsFiles,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> BlobSettings:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.certificate))  # trust the self-signed certificate
    return BlobSettings(
        enabled=True,
        credential="managed_identity",
        account_url=azurite_https.blob_endpoint,
        container="t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20],
    )


def test_snapshots_round_trip_with_a_token_for_the_storage_audience(
    settings: BlobSettings, tmp_path: Path
) -> None:
    snapshots = write_chain(tmp_path / "local", 2)
    credential = StorageTokens()

    with BlobSnapshotStore(settings, credential) as store:
        results = [store.upload(snapshot, TENANT, snapshot.name) for snapshot in snapshots]
        listed = store.list_snapshots(TENANT)
        chain = store.download_chain(TENANT, tmp_path / "copy")

    assert [result.uploaded for result in results] == [(*FILES, "manifest.json")] * 2
    assert listed == [snapshot.name for snapshot in snapshots]
    assert tree(chain) == tree(tmp_path / "local" / TENANT)
    assert set(credential.scopes) == {(f"{STORAGE}/.default",)}


def test_no_token_is_a_clear_error(settings: BlobSettings, tmp_path: Path) -> None:
    (snapshot,) = write_chain(tmp_path / "local", 1)
    reason = "tenant lab: managed identity unavailable (no IDENTITY_ENDPOINT); run on Azure or use a key"
    credential = StorageTokens(failure=reason)

    with BlobSnapshotStore(settings, credential) as store, pytest.raises(BlobStoreError) as raised:
        store.upload(snapshot, TENANT, snapshot.name)

    blob = f"{TENANT}/{snapshot.name}/findings.csv"
    assert str(raised.value) == (
        f"storage account {ACCOUNT_NAME} ({settings.account_url}), container {settings.container}, "
        f"blob {blob}: could not upload the blob: no credential: {reason}"
    )


def test_a_token_for_another_audience_is_refused_without_showing_it(
    settings: BlobSettings,
) -> None:
    credential = StorageTokens(audience="https://graph.microsoft.com")

    with BlobSnapshotStore(settings, credential) as store, pytest.raises(BlobStoreError) as raised:
        store.list_snapshots(TENANT)

    message = str(raised.value)
    assert message == (
        f"storage account {ACCOUNT_NAME} ({settings.account_url}), container {settings.container}, "
        f"blob {TENANT}/: could not list the snapshots of tenant {TENANT}: the service refused the "
        "credential (HTTP 403 AuthenticationFailed); check the account key or SAS in the connection "
        "string, or the identity's token"
    )
    assert credential.issued
    assert all(token not in message for token in credential.issued)
