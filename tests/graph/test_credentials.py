"""Credential settings: validation that names the field, and loading certificates
(monitor/graph/credentials.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import TypeAdapter, ValidationError

from emulator.crypto import self_signed_certificate
from monitor.errors import ConfigurationError
from monitor.graph.credentials import (
    CertificateCredential,
    ClientSecretCredential,
    CredentialSettings,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from tests.support.emulator import RunningEmulator

CLIENT_ID = "12bb62f1-5773-4887-96ce-05ce3f5d898b"
SECRET = "s3cr3t~value.that-must-not-leak"
ADAPTER: TypeAdapter[CredentialSettings] = TypeAdapter(CredentialSettings)


def parse(data: dict[str, Any]) -> CredentialSettings:
    return ADAPTER.validate_python(data)


def error_locations(raised: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [error["loc"] for error in raised.value.errors()]


# Validation ----------------------------------------------------------------------------------


def test_kind_chooses_the_model(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("x")

    assert isinstance(
        parse({"kind": "client_secret", "client_id": CLIENT_ID, "client_secret": SECRET}),
        ClientSecretCredential,
    )
    assert isinstance(parse({"kind": "managed_identity"}), ManagedIdentityCredential)
    workload = parse({"kind": "workload_identity", "client_id": CLIENT_ID, "token_file": str(token_file)})
    assert isinstance(workload, WorkloadIdentityCredential)
    assert workload.token_file == token_file


def test_unknown_kind_names_kind() -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "password", "client_id": CLIENT_ID})

    assert raised.value.errors()[0]["type"] == "union_tag_invalid"
    assert "'kind'" in str(raised.value)
    assert "'client_secret', 'certificate', 'managed_identity', 'workload_identity'" in str(raised.value)


def test_missing_secret_names_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "client_secret", "client_id": CLIENT_ID})

    assert error_locations(raised) == [("client_secret", "client_secret")]


def test_blank_secret_names_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "client_secret", "client_id": CLIENT_ID, "client_secret": "  "})

    assert error_locations(raised) == [("client_secret", "client_secret")]
    assert "the client secret is empty" in str(raised.value)


def test_client_id_must_be_a_guid_and_the_secret_never_shows() -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "client_secret", "client_id": "my-app", "client_secret": SECRET})

    assert error_locations(raised) == [("client_secret", "client_id")]
    assert SECRET not in str(raised.value)


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "client_secret", "client_id": CLIENT_ID, "client_secret": SECRET, "secret": "x"})

    assert error_locations(raised) == [("client_secret", "secret")]


def test_secret_stays_out_of_repr_and_dump() -> None:
    credential = parse({"kind": "client_secret", "client_id": CLIENT_ID, "client_secret": SECRET})

    assert SECRET not in repr(credential)
    assert SECRET not in str(credential.model_dump())
    assert credential.description == f"client secret credential for client {CLIENT_ID}"


def test_missing_certificate_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "certificate", "client_id": CLIENT_ID, "certificate_path": str(tmp_path / "no.pem")})

    assert error_locations(raised) == [("certificate", "certificate_path")]
    assert raised.value.errors()[0]["type"] == "path_not_file"


def test_managed_identity_accepts_at_most_one_id() -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "managed_identity", "client_id": CLIENT_ID, "object_id": CLIENT_ID})

    assert "set at most one of client_id, resource_id and object_id (got client_id and object_id)" in str(
        raised.value
    )


@pytest.mark.parametrize(
    ("settings", "description"),
    [
        ({}, "system-assigned managed identity"),
        ({"client_id": CLIENT_ID}, f"user-assigned managed identity (client id {CLIENT_ID})"),
        (
            {"resource_id": "/subscriptions/s/resourcegroups/rg/providers/x/id"},
            "user-assigned managed identity (resource id /subscriptions/s/resourcegroups/rg/providers/x/id)",
        ),
    ],
)
def test_managed_identity_description(settings: dict[str, str], description: str) -> None:
    assert parse({"kind": "managed_identity", **settings}).description == description


def test_managed_identity_resource_id_must_be_an_arm_id() -> None:
    with pytest.raises(ValidationError) as raised:
        parse({"kind": "managed_identity", "resource_id": "id-entra-monitor"})

    assert error_locations(raised) == [("managed_identity", "resource_id")]


# Workload identity from the environment ------------------------------------------------------


def test_workload_identity_from_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text("eyJ")

    credential = WorkloadIdentityCredential.from_environment(
        {"AZURE_CLIENT_ID": CLIENT_ID, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    )

    assert credential == WorkloadIdentityCredential(client_id=CLIENT_ID, token_file=token_file)


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({}, "AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE not set"),
        ({"AZURE_CLIENT_ID": CLIENT_ID}, "AZURE_FEDERATED_TOKEN_FILE not set"),
        (
            {"AZURE_CLIENT_ID": CLIENT_ID, "AZURE_FEDERATED_TOKEN_FILE": "/nonexistent/token"},
            "AZURE_FEDERATED_TOKEN_FILE: /nonexistent/token is not a file",
        ),
    ],
)
def test_workload_identity_environment_errors_name_the_variable(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        WorkloadIdentityCredential.from_environment(environment)

    assert str(raised.value).startswith(message)


# Loading certificates ------------------------------------------------------------------------


def certificate_settings(path: Path, **changes: Any) -> CertificateCredential:
    return CertificateCredential(client_id=CLIENT_ID, certificate_path=path, **changes)


def test_pem_with_separate_key(emulator: RunningEmulator) -> None:
    registration = emulator.info["clients"]["certificate"]
    settings = certificate_settings(
        Path(registration["certificatePath"]), private_key_path=Path(registration["privateKeyPath"])
    )

    material = settings.load()

    assert material.sha1_thumbprint == registration["thumbprint"]
    assert material.chain == (material.certificate,)
    assert "private_key" not in repr(material)


def test_pem_with_key_in_the_same_file(emulator: RunningEmulator, tmp_path: Path) -> None:
    registration = emulator.info["clients"]["certificate"]
    combined = tmp_path / "combined.pem"
    combined.write_bytes(
        Path(registration["privateKeyPath"]).read_bytes() + Path(registration["certificatePath"]).read_bytes()
    )

    assert certificate_settings(combined).load().sha1_thumbprint == registration["thumbprint"]


def test_pfx_with_password(emulator: RunningEmulator) -> None:
    registration = emulator.info["clients"]["certificate"]
    settings = certificate_settings(Path(registration["pfxPath"]), password=registration["pfxPassword"])

    assert settings.load().sha1_thumbprint == registration["thumbprint"]


def test_subject_name_chain_puts_the_leaf_first(emulator: RunningEmulator) -> None:
    registration = emulator.info["clients"]["subjectName"]
    settings = certificate_settings(
        Path(registration["certificatePath"]), private_key_path=Path(registration["privateKeyPath"])
    )

    material = settings.load()

    assert len(material.chain) == 2
    assert material.chain[0] is material.certificate
    assert material.certificate.issuer == material.chain[1].subject
    assert material.chain_pem().count("-----BEGIN CERTIFICATE-----") == 2


@pytest.mark.parametrize("password", [None, "wrong"])
def test_pfx_without_the_right_password_names_password(
    emulator: RunningEmulator, password: str | None
) -> None:
    settings = certificate_settings(
        Path(emulator.info["clients"]["certificate"]["pfxPath"]), password=password
    )

    with pytest.raises(ConfigurationError, match=r"^password: cannot open certificate_path as PKCS#12"):
        settings.load()


def test_pem_without_a_key_names_private_key_path(emulator: RunningEmulator) -> None:
    settings = certificate_settings(Path(emulator.info["clients"]["certificate"]["certificatePath"]))

    with pytest.raises(
        ConfigurationError, match=r"^certificate_path: no PEM private key found; .*private_key_path"
    ):
        settings.load()


def test_key_of_another_certificate_is_refused(emulator: RunningEmulator) -> None:
    clients = emulator.info["clients"]
    settings = certificate_settings(
        Path(clients["certificate"]["certificatePath"]),
        private_key_path=Path(clients["subjectName"]["privateKeyPath"]),
    )

    with pytest.raises(
        ConfigurationError, match=r"^certificate_path: no certificate in the file matches the"
    ):
        settings.load()


def write_self_signed(tmp_path: Path, password: bytes | None) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    certificate = self_signed_certificate(
        key, "monitor", now - timedelta(days=1), now + timedelta(days=30), 7
    )
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    certificate_path = tmp_path / "certificate.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return certificate_path, key_path


def test_encrypted_pem_key_with_password(tmp_path: Path) -> None:
    certificate_path, key_path = write_self_signed(tmp_path, b"pa55")

    material = certificate_settings(certificate_path, private_key_path=key_path, password="pa55").load()

    assert material.certificate.subject.rfc4514_string() == "CN=monitor"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (None, "password: the private key in private_key_path is encrypted: set password"),
        ("wrong", "password: cannot decrypt the private key in private_key_path"),
    ],
)
def test_encrypted_pem_key_needs_the_password(tmp_path: Path, password: str | None, message: str) -> None:
    certificate_path, key_path = write_self_signed(tmp_path, b"pa55")

    with pytest.raises(ConfigurationError) as raised:
        certificate_settings(certificate_path, private_key_path=key_path, password=password).load()

    assert str(raised.value) == message


def test_pfx_with_a_separate_key_is_refused(emulator: RunningEmulator) -> None:
    registration = emulator.info["clients"]["certificate"]
    settings = certificate_settings(
        Path(registration["pfxPath"]),
        private_key_path=Path(registration["privateKeyPath"]),
        password=registration["pfxPassword"],
    )

    with pytest.raises(
        ConfigurationError, match=r"^private_key_path: a PKCS#12 certificate_path holds its own"
    ):
        settings.load()


def test_non_rsa_key_is_refused(tmp_path: Path) -> None:
    key_path = tmp_path / "ec.pem"
    key_path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    certificate_path, _ = write_self_signed(tmp_path, None)

    with pytest.raises(ConfigurationError, match=r"^private_key_path: the private key is not RSA"):
        certificate_settings(certificate_path, private_key_path=key_path).load()
