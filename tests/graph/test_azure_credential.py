"""The tenant's credential as an Azure SDK TokenCredential, against the emulator's token endpoint
and managed-identity endpoint: tokens for Azure Monitor ingestion, served from MSAL's cache,
errors that name the problem and never the secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError

from monitor.graph.azure_credential import AzureTokenCredential
from monitor.graph.connection import GraphConnection, azure_credential, emulator_connection
from monitor.graph.credentials import ManagedIdentityCredential
from tests.graph.test_auth import app_service, emulator_endpoints, requests_to, secret_credential
from tests.support.emulator import RunningEmulator

MONITOR_SCOPE = "https://monitor.azure.com//.default"
__all__ = ["app_service"]  # a fixture these tests use


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _certificate_connection(emulator: RunningEmulator, directory: Path) -> GraphConnection:
    info_file = directory / "emulator.json"
    info_file.write_text(json.dumps(emulator.info), encoding="utf-8")
    return emulator_connection(info_file, "certificate")


def test_a_token_for_azure_monitor_comes_from_the_tenant_certificate(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    connection = _certificate_connection(emulator, tmp_path)
    with azure_credential(connection) as credential:
        before = requests_to(emulator)
        first = credential.get_token(MONITOR_SCOPE)
        again = credential.get_token(MONITOR_SCOPE)
        graph = credential.get_token("https://graph.microsoft.com/.default")
        after = requests_to(emulator)
    claims = _claims(first.token)
    assert claims["aud"] == "https://monitor.azure.com/"
    assert claims["tid"] == emulator.info["tenantId"]
    assert claims["appid"] == emulator.info["clients"]["certificate"]["clientId"]
    assert "roles" not in claims
    assert again.token == first.token  # MSAL's cache answered
    assert _claims(graph.token)["aud"] == "https://graph.microsoft.com"
    assert after - before == 2  # one token per resource


def test_a_managed_identity_gets_an_ingestion_token(
    emulator: RunningEmulator, app_service: dict[str, Any]
) -> None:
    settings = ManagedIdentityCredential(kind="managed_identity")
    endpoints = emulator_endpoints(emulator)
    with AzureTokenCredential(emulator.info["tenantId"], settings, endpoints) as credential:
        token = credential.get_token(MONITOR_SCOPE)
    assert _claims(token.token)["aud"] == "https://monitor.azure.com/"


@pytest.mark.parametrize(
    "scopes",
    [(), ("https://monitor.azure.com/.default", MONITOR_SCOPE), ("https://monitor.azure.com/read",)],
)
def test_scopes_other_than_one_dot_default_are_refused(
    emulator: RunningEmulator, tmp_path: Path, scopes: tuple[str, ...]
) -> None:
    connection = _certificate_connection(emulator, tmp_path)
    with (
        azure_credential(connection) as credential,
        pytest.raises(ClientAuthenticationError, match=r"exactly one scope of the form <resource>/\.default"),
    ):
        credential.get_token(*scopes)


def test_another_tenant_is_refused(emulator: RunningEmulator, tmp_path: Path) -> None:
    connection = _certificate_connection(emulator, tmp_path)
    other = "00000000-0000-0000-0000-000000000001"
    with azure_credential(connection) as credential, pytest.raises(ClientAuthenticationError, match=other):
        credential.get_token(MONITOR_SCOPE, tenant_id=other)


def test_a_wrong_secret_is_named_without_quoting_it(emulator: RunningEmulator) -> None:
    wrong = "not-the-secret-value-123"
    settings = secret_credential(emulator, client_secret=wrong)
    endpoints = emulator_endpoints(emulator)
    with (
        AzureTokenCredential(emulator.info["tenantId"], settings, endpoints) as credential,
        pytest.raises(ClientAuthenticationError) as raised,
    ):
        credential.get_token(MONITOR_SCOPE)
    message = str(raised.value)
    tenant = emulator.info["tenantId"]
    assert message.startswith(f"No access token for tenant {tenant} with the client secret")
    assert "AADSTS7000215" in message
    assert wrong not in message
    assert "client_secret" in message  # the hint names the setting to fix
