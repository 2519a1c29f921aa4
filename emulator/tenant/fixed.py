"""The objects every emulated tenant has, whatever its scale.

- Microsoft's own service principals (Microsoft Graph with its real permission catalogue, Exchange,
  SharePoint and the first-party apps users sign in to);
- the monitor's own registrations, one per way of authenticating (secret, certificate, subject
  name and issuer, workload identity federation, managed identities), a registration with too few
  permissions and a disabled one — the clients a test or the demo uses;
- the seed's platform applications (SCIM provisioning, calendar/Teams, the management portal and
  the platform APIs) and two SAML gallery applications, carrying some of the planted problems.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.crypto import (
    create_authority,
    deterministic_rsa_key,
    self_signed_certificate,
    sha1_thumbprint,
)
from emulator.identity.registry import (
    ClientCertificate,
    ClientRegistration,
    ClientSecret,
    FederatedCredential,
    FederatedIssuer,
    IdentityRegistry,
    ManagedIdentity,
    SubjectNameTrust,
)
from emulator.ids import iso
from emulator.tenant import catalog
from emulator.tenant.base import GraphObject, TenantContext
from emulator.tenant.objects import (
    app_role,
    app_role_assignment,
    application,
    key_credential,
    password_credential,
    permission_scope,
    random_guid,
    service_principal,
)

PRODUCTION_APPS = ("SCIM Provisioning App", "Calendar/Teams App")
SERVICE_ACCOUNT_SUBJECT = "system:serviceaccount:entra-monitor:entra-monitor"
SNI_SUBJECT = "CN=entra-monitor.contoso.example"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "~._-"


@dataclass
class ClientMaterial:
    """What a client needs to authenticate; the emulator writes it to its info file."""

    secret: str | None = None
    certificate: x509.Certificate | None = None
    private_key: rsa.RSAPrivateKey | None = None
    issuer_certificate: x509.Certificate | None = None


@dataclass
class FixedObjects:
    applications: list[GraphObject] = field(default_factory=list)
    service_principals: list[GraphObject] = field(default_factory=list)
    app_role_assignments: list[GraphObject] = field(default_factory=list)
    grants: list[GraphObject] = field(default_factory=list)
    registry: IdentityRegistry | None = None
    materials: dict[str, ClientMaterial] = field(default_factory=dict)
    """Per role name (``secret``, ``certificate`` …): the client id and what it authenticates with."""
    client_ids: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, GraphObject] = field(default_factory=dict)
    """Service principals by display name, for policies and reviews that refer to them."""
    interactive_app_ids: list[str] = field(default_factory=list)


class FixedBuilder:
    """Builds :class:`FixedObjects` for one tenant; deterministic in the seed and ``now``."""

    def __init__(self, context: TenantContext) -> None:
        self.context = context
        self.fixed = FixedObjects()
        self.rng = context.seeded.rng("fixed")
        self._clients: dict[str, ClientRegistration] = {}
        self._identities: list[ManagedIdentity] = []
        self.graph_sp: GraphObject = {}

    def guid(self, name: str) -> str:
        return self.context.seeded.named_guid(f"fixed:{name}")

    def build(self) -> FixedObjects:
        self._microsoft()
        self._monitor_clients()
        self._managed_identities()
        from emulator.tenant.platform import PlatformBuilder  # it builds on this builder

        PlatformBuilder(self).build()
        issuer = FederatedIssuer(
            issuer=self.federated_issuer_url,
            key_id=self.guid("federated-issuer-key")[:8],
            private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )
        self.fixed.registry = IdentityRegistry(
            tenant_id=self.context.tenant_id,
            tenant_domain=self.context.domain,
            clients=self._clients,
            managed_identities=tuple(self._identities),
            federated_issuers=(issuer,),
            identity_header=self._secret_value(self.context.seeded.rng("identity-header")),
        )
        return self.fixed

    @property
    def federated_issuer_url(self) -> str:
        return f"https://eastus.oic.prod-aks.azure.com/{self.context.tenant_id}/{self.guid('aks-cluster')}/"

    # -- Microsoft -------------------------------------------------------------------------

    def _microsoft(self) -> None:
        roles = [
            app_role(p.id, p.value, p.display_name, f"Allows the app to {p.display_name.lower()}.")
            for p in catalog.GRAPH_APP_ROLES
        ]
        scopes = [
            permission_scope(
                p.id,
                p.value,
                p.display_name,
                admin_only=p.value.endswith(".All") or p.high_privilege,
            )
            for p in catalog.GRAPH_SCOPES
        ]
        for app in catalog.FIRST_PARTY_APPS:
            is_graph = app.app_id == catalog.GRAPH_APP_ID
            sp = service_principal(
                id=self.guid(app.display_name),
                appDisplayName=app.display_name,
                appId=app.app_id,
                appOwnerOrganizationId=catalog.MICROSOFT_SERVICES_TENANT,
                displayName=app.display_name,
                servicePrincipalNames=[app.app_id] + (["https://graph.microsoft.com"] if is_graph else []),
                appRoles=roles if is_graph else [],
                oauth2PermissionScopes=scopes if is_graph else [],
                signInAudience="AzureADMultipleOrgs",
                verifiedPublisher={
                    "addedDateTime": None,
                    "displayName": "Microsoft Corporation",
                    "verifiedPublisherId": None,
                },
            )
            self.add_service_principal(sp)
            if app.interactive:
                self.fixed.interactive_app_ids.append(app.app_id)
        self.graph_sp = self.fixed.by_name["Microsoft Graph"]

    # -- helpers ---------------------------------------------------------------------------

    def add_service_principal(self, sp: GraphObject) -> None:
        self.fixed.service_principals.append(sp)
        self.fixed.by_name[sp["displayName"]] = sp

    def _secret_value(self, rng: random.Random) -> str:
        head = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(3))
        return head + "8Q~" + "".join(rng.choice(_SECRET_ALPHABET) for _ in range(34))

    def registration(
        self,
        name: str,
        *,
        keys: list[GraphObject] | None = None,
        passwords: list[GraphObject] | None = None,
        account_enabled: bool = True,
        tags: list[str] | None = None,
    ) -> tuple[GraphObject, GraphObject]:
        """An application and its service principal in this tenant."""
        app_id = self.guid(f"{name}/appId")
        app = application(
            id=self.guid(f"{name}/application"),
            appId=app_id,
            createdDateTime=iso(self.context.ago(days=400).replace(microsecond=0)),
            displayName=name,
            identifierUris=[f"api://{app_id}"],
            publisherDomain=self.context.domain,
            keyCredentials=keys or [],
            passwordCredentials=passwords or [],
            tags=tags or [],
        )
        sp = service_principal(
            id=self.guid(f"{name}/servicePrincipal"),
            accountEnabled=account_enabled,
            appDisplayName=name,
            appId=app_id,
            appOwnerOrganizationId=self.context.tenant_id,
            displayName=name,
            servicePrincipalNames=[app_id, f"api://{app_id}"],
            tags=["WindowsAzureActiveDirectoryIntegratedApp", *(tags or [])],
        )
        self.fixed.applications.append(app)
        self.add_service_principal(sp)
        return app, sp

    def grant_app_roles(self, sp: GraphObject, values: tuple[str, ...]) -> None:
        for number, value in enumerate(values):
            created = self.context.ago(days=300 - number)
            unique = self.rng.randbytes(15) + bytes([number])
            self.fixed.app_role_assignments.append(
                app_role_assignment(sp, self.graph_sp, catalog.APP_ROLES_BY_VALUE[value].id, created, unique)
            )

    def window(self, start_days_ago: float, lifetime_days: float) -> tuple[datetime, datetime]:
        start = self.context.ago(days=start_days_ago).replace(microsecond=0)
        return start, start + timedelta(days=lifetime_days)

    def secret_credential(self, name: str, start: datetime, end: datetime, value: str) -> GraphObject:
        return password_credential(
            key_id=random_guid(self.rng), display_name=name, start=start, end=end, hint=value[:3]
        )

    def _certificate_credential(
        self, subject: str, certificate: x509.Certificate, start: datetime, end: datetime
    ) -> GraphObject:
        return key_credential(
            key_id=random_guid(self.rng),
            display_name=f"CN={subject}",
            start=start,
            end=end,
            thumbprint=sha1_thumbprint(certificate),
        )

    def _enrol(
        self,
        role: str,
        sp: GraphObject,
        roles: tuple[str, ...],
        material: ClientMaterial,
        **credentials: Any,
    ) -> None:
        """Register ``sp``'s app with the identity platform, grant it ``roles`` on Graph and note
        what a client in ``role`` authenticates with (``credentials``: ClientRegistration fields)."""
        client_id = sp["appId"]
        self._clients[client_id] = ClientRegistration(
            client_id=client_id,
            display_name=sp["displayName"],
            service_principal_id=sp["id"],
            roles=roles,
            enabled=sp["accountEnabled"],
            **credentials,
        )
        self.grant_app_roles(sp, roles)
        self.fixed.client_ids[role] = client_id
        self.fixed.materials[role] = material

    # -- the monitor's own registrations ---------------------------------------------------

    def _secret_client(self, role: str, name: str, roles: tuple[str, ...], *, enabled: bool = True) -> None:
        value = self._secret_value(self.context.seeded.rng(f"secret:{role}"))
        start, end = self.window(30, 365)
        credential = self.secret_credential("monitor secret", start, end, value)
        _app, sp = self.registration(name, passwords=[credential], account_enabled=enabled)
        secret = ClientSecret(credential["keyId"], value, start, end)
        self._enrol(role, sp, roles, ClientMaterial(secret=value), secrets=(secret,))

    def _monitor_clients(self) -> None:
        self._secret_client("secret", "Entra Compliance Monitor", catalog.MONITOR_ROLES)
        self._secret_client(
            "limited",
            "Entra Compliance Monitor (read applications only)",
            ("Application.Read.All",),
        )
        self._secret_client(
            "disabled", "Retired Reporting Integration", ("Directory.Read.All",), enabled=False
        )
        self._certificate_client()
        self._subject_name_client()
        self._federated_client()

    def _certificate_client(self) -> None:
        name = "Entra Compliance Monitor (certificate)"
        start, end = self.window(30, 365)
        key = deterministic_rsa_key(f"{self.context.seed}:monitor-certificate")
        certificate = self_signed_certificate(
            key, "entra-compliance-monitor", start, end, serial=self.context.seed + 1
        )
        credential = self._certificate_credential("entra-compliance-monitor", certificate, start, end)
        _app, sp = self.registration(name, keys=[credential])
        registered = ClientCertificate(credential["keyId"], certificate, start, end)
        material = ClientMaterial(certificate=certificate, private_key=key)
        self._enrol("certificate", sp, catalog.MONITOR_ROLES, material, certificates=(registered,))

    def _subject_name_client(self) -> None:
        """Subject-name/issuer trust: no key credential is registered, so the client certificate
        (issued by a CA the tenant trusts) need not be deterministic."""
        name = "Entra Compliance Monitor (subject name)"
        real_now = datetime.now(self.context.now.tzinfo)
        authority = create_authority(real_now, common_name="Contoso Issuing CA")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name.from_rfc4514_string(SNI_SUBJECT))
            .issuer_name(authority.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(real_now - timedelta(days=1))
            .not_valid_after(real_now + timedelta(days=365))
            .sign(authority.key, hashes.SHA256())
        )
        _app, sp = self.registration(name)
        material = ClientMaterial(
            certificate=certificate, private_key=key, issuer_certificate=authority.certificate
        )
        trust = SubjectNameTrust(SNI_SUBJECT, authority.certificate)
        self._enrol("subject-name", sp, catalog.MONITOR_ROLES, material, subject_name_trust=trust)

    def _federated_client(self) -> None:
        name = "Entra Compliance Monitor (workload identity)"
        _app, sp = self.registration(name)
        trust = FederatedCredential("aks-entra-monitor", self.federated_issuer_url, SERVICE_ACCOUNT_SUBJECT)
        self._enrol("federated", sp, catalog.MONITOR_ROLES, ClientMaterial(), federated_credentials=(trust,))

    def _managed_identities(self) -> None:
        subscription = self.context.seeded.guid("subscription", 0)
        group = f"/subscriptions/{subscription}/resourcegroups/rg-entra-monitor/providers"
        for role, name, resource in (
            (
                "managed-identity-system",
                "entra-monitor",
                f"{group}/Microsoft.App/containerApps/entra-monitor",
            ),
            (
                "managed-identity-user",
                "id-entra-monitor",
                f"{group}/Microsoft.ManagedIdentity/userAssignedIdentities/id-entra-monitor",
            ),
        ):
            app_id = self.guid(f"{name}/appId")
            end = self.context.ahead(days=55).replace(microsecond=0)
            sp = service_principal(
                id=self.guid(f"{name}/servicePrincipal"),
                alternativeNames=[f"isExplicit={role.endswith('user')}", resource],
                appId=app_id,
                displayName=name,
                keyCredentials=[
                    key_credential(
                        key_id=random_guid(self.rng),
                        display_name=f"CN={app_id}",
                        start=end - timedelta(days=90),
                        end=end,
                        thumbprint=self.rng.randbytes(20),
                    )
                ],
                servicePrincipalNames=[
                    app_id,
                    f"https://identity.azure.net/{self.rng.randbytes(18).hex()}",
                ],
                servicePrincipalType="ManagedIdentity",
                signInAudience=None,
            )
            self.add_service_principal(sp)
            self.grant_app_roles(sp, catalog.MONITOR_ROLES)
            self._identities.append(
                ManagedIdentity(
                    client_id=app_id,
                    object_id=sp["id"],
                    display_name=name,
                    roles=catalog.MONITOR_ROLES,
                    resource_id=resource if role.endswith("user") else None,
                )
            )
            self.fixed.client_ids[role] = app_id
