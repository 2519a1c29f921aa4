"""How the monitor proves who it is to one tenant: the credential settings, one model per kind.

:data:`CredentialSettings` is a union discriminated by ``kind``:

- ``client_secret``      an app registration's client secret;
- ``certificate``        an app registration's certificate: a PEM file (certificate, and the private
                         key unless ``private_key_path`` names it) or a PKCS#12 file (.pfx/.p12);
                         ``send_certificate_chain`` sends the ``x5c`` header that subject-name/issuer
                         authentication needs;
- ``managed_identity``   the Azure resource's managed identity, system-assigned unless one of
                         ``client_id``, ``resource_id`` or ``object_id`` names a user-assigned one;
- ``workload_identity``  workload identity federation: an external token (Kubernetes, CI) read from
                         ``token_file`` on every acquisition, since it rotates.

Validation names the field that is wrong (pydantic's ``loc``). Files must exist when the settings
are loaded. Secrets are :class:`~pydantic.SecretStr`, so no repr or log shows them.
:meth:`CertificateCredential.load` reads the key and certificates, raising ConfigurationError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator, model_validator

from monitor.errors import ConfigurationError

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ClientId = Annotated[str, Field(pattern=_GUID, description="The application (client) id, a GUID.")]
_PEM_KEY = re.compile(
    rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----.+?-----END (?:[A-Z]+ )*PRIVATE KEY-----", re.S
)


class _Credential(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClientSecretCredential(_Credential):
    """An app registration's client secret (its value, not its id)."""

    kind: Literal["client_secret"] = "client_secret"
    client_id: ClientId
    client_secret: SecretStr

    @field_validator("client_secret")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the client secret is empty")
        return value

    @property
    def description(self) -> str:
        return f"client secret credential for client {self.client_id}"


@dataclass(frozen=True)
class CertificateMaterial:
    """A loaded client certificate: the RSA key, the certificate that matches it, and every
    certificate the file holds (that one first), as sent in ``x5c``."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def sha1_thumbprint(self) -> str:
        """Upper-case hex SHA-1 of the certificate, as the app registration shows it."""
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - Entra's x5t

    def chain_pem(self) -> str:
        return "".join(item.public_bytes(serialization.Encoding.PEM).decode("ascii") for item in self.chain)


class CertificateCredential(_Credential):
    """An app registration's certificate, from a PEM or PKCS#12 (.pfx/.p12) file."""

    kind: Literal["certificate"] = "certificate"
    client_id: ClientId
    certificate_path: FilePath
    private_key_path: FilePath | None = None
    password: SecretStr | None = None
    send_certificate_chain: bool = False

    @property
    def description(self) -> str:
        return f"certificate credential for client {self.client_id}"

    def load(self) -> CertificateMaterial:
        """Read the key and certificates. The format is told by content (PEM or PKCS#12), not by
        the file name. Raises ConfigurationError naming the field at fault."""
        data = _read(self.certificate_path, "certificate_path")
        password = self.password.get_secret_value().encode() if self.password else None
        if b"-----BEGIN" in data:
            key_data = _read(self.private_key_path, "private_key_path") if self.private_key_path else data
            key_field = "private_key_path" if self.private_key_path else "certificate_path"
            key = _pem_private_key(key_data, password, key_field)
            certificates = _pem_certificates(data)
        else:
            if self.private_key_path is not None:
                raise ConfigurationError(
                    "private_key_path: a PKCS#12 certificate_path holds its own key; remove private_key_path"
                )
            key, certificates = _pkcs12(data, password)
        return _material(key, certificates)


class ManagedIdentityCredential(_Credential):
    """The managed identity of the Azure resource the monitor runs on. With no id it is the
    system-assigned identity; at most one of the ids names a user-assigned identity."""

    kind: Literal["managed_identity"] = "managed_identity"
    client_id: ClientId | None = None
    resource_id: Annotated[str, Field(pattern=r"^/subscriptions/[^/]+/.+")] | None = None
    object_id: Annotated[str, Field(pattern=_GUID)] | None = None

    @model_validator(mode="after")
    def _one_id_at_most(self) -> Self:
        given = [name for name in ("client_id", "resource_id", "object_id") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(
                f"set at most one of client_id, resource_id and object_id (got {' and '.join(given)})"
            )
        return self

    @property
    def description(self) -> str:
        for name in ("client_id", "resource_id", "object_id"):
            value = getattr(self, name)
            if value:
                return f"user-assigned managed identity ({name.replace('_', ' ')} {value})"
        return "system-assigned managed identity"


class WorkloadIdentityCredential(_Credential):
    """Workload identity federation: the app trusts tokens of an external issuer, read from
    ``token_file`` (for example the projected service-account token of Azure Workload Identity)."""

    kind: Literal["workload_identity"] = "workload_identity"
    client_id: ClientId
    token_file: FilePath

    @property
    def description(self) -> str:
        return f"workload identity credential for client {self.client_id}"

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> WorkloadIdentityCredential:
        """From ``AZURE_CLIENT_ID`` and ``AZURE_FEDERATED_TOKEN_FILE``, as the Azure Workload Identity
        webhook sets them. Raises ConfigurationError naming a missing or invalid variable."""
        missing = [
            name for name in ("AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE") if not environment.get(name)
        ]
        if missing:
            raise ConfigurationError(
                f"{' and '.join(missing)} not set: workload identity needs both environment variables"
            )
        token_file = Path(environment["AZURE_FEDERATED_TOKEN_FILE"])
        if not token_file.is_file():
            raise ConfigurationError(f"AZURE_FEDERATED_TOKEN_FILE: {token_file} is not a file")
        if not re.match(_GUID, environment["AZURE_CLIENT_ID"]):
            raise ConfigurationError("AZURE_CLIENT_ID: not an application (client) id GUID")
        return cls(client_id=environment["AZURE_CLIENT_ID"], token_file=token_file)


CredentialSettings = Annotated[
    ClientSecretCredential | CertificateCredential | ManagedIdentityCredential | WorkloadIdentityCredential,
    Field(discriminator="kind"),
]
"""Any credential, chosen by its ``kind``."""


def _read(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"{name}: cannot read {path} ({error.strerror})") from None


def _pem_private_key(data: bytes, password: bytes | None, name: str) -> rsa.RSAPrivateKey:
    block = _PEM_KEY.search(data)
    if block is None:
        raise ConfigurationError(
            f"{name}: no PEM private key found; put the key in the file or set private_key_path"
        )
    try:
        key = serialization.load_pem_private_key(block.group(0), password)
    except TypeError:
        problem = "is encrypted: set password" if password is None else "is not encrypted: remove password"
        raise ConfigurationError(f"password: the private key in {name} {problem}") from None
    except ValueError:
        if password is None:
            raise ConfigurationError(f"{name}: the PEM private key cannot be parsed") from None
        raise ConfigurationError(f"password: cannot decrypt the private key in {name}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{name}: the private key is not RSA; Entra ID needs an RSA key")
    return key


def _pem_certificates(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigurationError("certificate_path: no PEM certificate found") from None


def _pkcs12(data: bytes, password: bytes | None) -> tuple[rsa.RSAPrivateKey, list[x509.Certificate]]:
    try:
        key, certificate, additional = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise ConfigurationError(
            "password: cannot open certificate_path as PKCS#12 (wrong or missing password, or not a "
            ".pfx/.p12 file)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey) or certificate is None:
        raise ConfigurationError(
            "certificate_path: the PKCS#12 file needs an RSA private key and its certificate"
        )
    return key, [certificate, *additional]


def _material(key: rsa.RSAPrivateKey, certificates: list[x509.Certificate]) -> CertificateMaterial:
    public = key.public_key().public_numbers()
    for certificate in certificates:
        certificate_key = certificate.public_key()
        if isinstance(certificate_key, rsa.RSAPublicKey) and certificate_key.public_numbers() == public:
            others = tuple(item for item in certificates if item is not certificate)
            return CertificateMaterial(key, certificate, (certificate, *others))
    raise ConfigurationError(
        "certificate_path: no certificate in the file matches the private key (check private_key_path)"
    )
