"""Who may obtain tokens from the emulated identity platform, and with what.

The tenant generator fills an :class:`IdentityRegistry`; the identity routes only read it. Each
registration mirrors what Entra stores for an application: its client id (``appId``), the object
id of its service principal (the token's ``oid``), the Microsoft Graph application permissions
granted to it (the token's ``roles``) and its credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class ClientSecret:
    key_id: str
    value: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ClientCertificate:
    key_id: str
    certificate: x509.Certificate
    start: datetime
    end: datetime


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential: trust tokens from ``issuer`` about ``subject``."""

    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...] = (FEDERATED_AUDIENCE,)


@dataclass(frozen=True)
class SubjectNameTrust:
    """Subject-name/issuer authentication: any certificate with this subject issued by this CA,
    presented in the assertion's ``x5c`` header, is accepted (no thumbprint registered)."""

    subject: str
    issuer_certificate: x509.Certificate


@dataclass(frozen=True)
class ClientRegistration:
    client_id: str
    display_name: str
    service_principal_id: str
    roles: tuple[str, ...]
    enabled: bool = True
    secrets: tuple[ClientSecret, ...] = ()
    certificates: tuple[ClientCertificate, ...] = ()
    federated_credentials: tuple[FederatedCredential, ...] = ()
    subject_name_trust: SubjectNameTrust | None = None


@dataclass(frozen=True)
class ManagedIdentity:
    """A managed identity the App Service / Container Apps endpoint can issue tokens for.

    ``resource_id`` is the ARM id of a user-assigned identity; ``None`` marks the system-assigned one.
    """

    client_id: str
    object_id: str
    display_name: str
    roles: tuple[str, ...]
    resource_id: str | None = None
    hosting_resource_id: str | None = None
    """ARM id of the resource a system-assigned identity belongs to (its tokens' ``xms_mirid``)."""

    @property
    def system_assigned(self) -> bool:
        return self.resource_id is None


@dataclass(frozen=True)
class FederatedIssuer:
    """An external OIDC issuer the tenant trusts (a Kubernetes cluster, a CI pipeline).

    The emulator holds its private key so it can mint the tokens such an issuer would write to
    ``AZURE_FEDERATED_TOKEN_FILE``.
    """

    issuer: str
    key_id: str
    private_key: rsa.RSAPrivateKey


@dataclass
class IdentityRegistry:
    tenant_id: str
    tenant_domain: str
    clients: dict[str, ClientRegistration] = field(default_factory=dict)
    managed_identities: tuple[ManagedIdentity, ...] = ()
    federated_issuers: tuple[FederatedIssuer, ...] = ()
    identity_header: str = ""
    """The secret the managed-identity endpoint expects in ``X-IDENTITY-HEADER``."""

    def knows_tenant(self, tenant: str) -> bool:
        """True for the tenant id or its domain names (case-insensitive), as Entra accepts both."""
        lowered = tenant.lower()
        return lowered in {self.tenant_id, self.tenant_domain.lower()}
