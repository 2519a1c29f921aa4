"""Generated users, applications and service principals, made on demand from their index."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from emulator.ids import iso
from emulator.tenant import catalog
from emulator.tenant.base import GraphObject, TenantContext
from emulator.tenant.objects import (
    application,
    healthy_window,
    key_credential,
    password_credential,
    random_guid,
    security_identifier,
    service_principal,
    user,
)
from emulator.tenant.plants import PlantPlan

USER = "user"
APPLICATION = "application"
APP_ID = "appId"
SERVICE_PRINCIPAL = "servicePrincipal"
FOREIGN_APP_ID = "foreignAppId"


@dataclass(frozen=True)
class Person:
    id: str
    given_name: str
    surname: str
    display_name: str
    user_principal_name: str
    department: str
    job_title: str
    office: int
    """Index into ``catalog.OFFICE_LOCATIONS``."""


class People:
    """The tenant's generated users."""

    def __init__(self, context: TenantContext) -> None:
        self._context = context

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - one People per tenant, lives as long as it
    def person(self, index: int) -> Person:
        rng = self._context.seeded.rng(USER, index)
        given = rng.choice(catalog.FIRST_NAMES)
        surname = rng.choice(catalog.LAST_NAMES)
        return Person(
            id=self._context.seeded.guid(USER, index),
            given_name=given,
            surname=surname,
            display_name=f"{given} {surname}",
            user_principal_name=f"{given}.{surname}{index}@{self._context.domain}".lower(),
            department=rng.choice(catalog.DEPARTMENTS),
            job_title=rng.choice(catalog.JOB_TITLES),
            office=rng.randrange(len(catalog.OFFICE_LOCATIONS)),
        )

    def index_of(self, user_id: str) -> int | None:
        return self._context.seeded.index_of(USER, user_id)

    def user(self, index: int) -> GraphObject:
        """The user as ``GET /users/{id}?$select=…`` returns it: every v1.0 property, the ones
        never set at their Graph defaults (the Graph layer projects the default set)."""
        person = self.person(index)
        rng = self._context.seeded.rng("user-detail", index)
        city, state, country, *_ = catalog.OFFICE_LOCATIONS[person.office]
        created = self._context.ago(days=rng.uniform(60, 2000)).replace(microsecond=0)
        last_sign_in = self._context.ago(days=rng.uniform(0, 20), hours=rng.uniform(0, 23))
        upn = person.user_principal_name
        return user(
            id=person.id,
            businessPhones=[f"+1 425 555 {index % 10000:04d}"],
            displayName=person.display_name,
            givenName=person.given_name,
            jobTitle=person.job_title,
            mail=upn,
            mobilePhone=None,
            officeLocation=city,
            preferredLanguage="en-US",
            surname=person.surname,
            userPrincipalName=upn,
            accountEnabled=True,
            city=city,
            companyName=self._context.organization,
            country=country,
            createdDateTime=iso(created),
            creationType=None,
            department=person.department,
            employeeId=f"E{index:06d}",
            identities=[
                {"signInType": "userPrincipalName", "issuer": self._context.domain, "issuerAssignedId": upn}
            ],
            lastPasswordChangeDateTime=iso(created),
            mailNickname=upn.split("@")[0],
            onPremisesSyncEnabled=None,
            proxyAddresses=[f"SMTP:{upn}"],
            securityIdentifier=security_identifier(person.id),
            signInSessionsValidFromDateTime=iso(created),
            state=state,
            usageLocation=country,
            userType="Member",
            signInActivity={
                "lastSignInDateTime": iso(last_sign_in),
                "lastSignInRequestId": random_guid(rng),
                "lastNonInteractiveSignInDateTime": iso(last_sign_in + timedelta(minutes=5)),
                "lastNonInteractiveSignInRequestId": random_guid(rng),
                "lastSuccessfulSignInDateTime": iso(last_sign_in),
                "lastSuccessfulSignInRequestId": random_guid(rng),
            },
        )


@dataclass(frozen=True)
class AppIdentity:
    id: str
    app_id: str
    display_name: str


class Applications:
    """The tenant's generated app registrations and their service principals."""

    def __init__(self, context: TenantContext, plan: PlantPlan) -> None:
        self._context = context
        self._plan = plan

    # -- identities ------------------------------------------------------------------------

    def identity(self, index: int) -> AppIdentity:
        rng = self._context.seeded.rng("app-name", index)
        name = f"{rng.choice(catalog.APP_NOUNS)} {rng.choice(catalog.APP_QUALIFIERS)} {index:05d}"
        return AppIdentity(
            id=self._context.seeded.guid(APPLICATION, index),
            app_id=self._context.seeded.guid(APP_ID, index),
            display_name=name,
        )

    def index_of_app(self, object_id: str) -> int | None:
        return self._context.seeded.index_of(APPLICATION, object_id)

    def index_of_app_id(self, app_id: str) -> int | None:
        index = self._context.seeded.index_of(APP_ID, app_id)
        if index is None:
            index = self._context.seeded.index_of(FOREIGN_APP_ID, app_id)
        return index

    def service_principal_id(self, index: int) -> str:
        return self._context.seeded.guid(SERVICE_PRINCIPAL, index)

    def index_of_service_principal(self, object_id: str) -> int | None:
        return self._context.seeded.index_of(SERVICE_PRINCIPAL, object_id)

    def has_registration(self, index: int) -> bool:
        """Generated service principals beyond the application count belong to other tenants'
        apps or to managed identities; the first ones are this tenant's own registrations."""
        return index < self._context.scale.applications

    def is_managed_identity(self, index: int) -> bool:
        return not self.has_registration(index) and index % 5 == 0

    # -- activity (what the sign-in activity report says) --------------------------------

    def last_sign_in(self, index: int) -> datetime | None:
        """When the service principal last signed in, or None if it never did."""
        now = self._context.now
        if index in self._plan.interactive_apps:
            return now
        if index in self._plan.unused_service_principals:
            rng = self._context.seeded.rng("unused-activity", index)
            if rng.random() < 0.4:
                return None
            return now - timedelta(days=rng.uniform(100, 400))
        rng = self._context.seeded.rng("activity", index)
        return (now - timedelta(days=rng.uniform(0.5, 30))).replace(microsecond=0)

    # -- credentials -----------------------------------------------------------------------

    def credentials(self, index: int) -> tuple[list[GraphObject], list[GraphObject]]:
        """(keyCredentials, passwordCredentials) of generated application ``index``."""
        rng = self._context.seeded.rng("credentials", index)
        identity = self.identity(index)
        now = self._context.now
        style = rng.random()
        keys: list[GraphObject] = []
        passwords: list[GraphObject] = []
        if style < 0.75:
            start, end = healthy_window(rng, now, (180, 365))
            keys.append(self._certificate(rng, identity, start, end))
        if style >= 0.6:
            start, end = healthy_window(rng, now, (90, 180, 365))
            passwords.append(self._secret(rng, "client secret", start, end))
        plant = self._plan.app_plants.get(index)
        if plant is not None:
            keys, passwords = self._plant(plant, rng, identity, keys, passwords)
        return keys, passwords

    def _plant(
        self,
        plant: str,
        rng: random.Random,
        identity: AppIdentity,
        keys: list[GraphObject],
        passwords: list[GraphObject],
    ) -> tuple[list[GraphObject], list[GraphObject]]:
        now = self._context.now
        day = timedelta(days=1)
        if plant == "expired-secret":
            end = now - day * rng.uniform(1, 200)
            passwords.append(self._secret(rng, "old secret", end - 180 * day, end))
            if not keys:
                start, valid_end = healthy_window(rng, now, (365,))
                keys.append(self._certificate(rng, identity, start, valid_end))
        elif plant == "expiring-critical":
            end = now + day * rng.uniform(0.25, 6.75)
            keys.append(self._certificate(rng, identity, end - 365 * day, end))
        elif plant == "expiring-warning":
            end = now + day * rng.uniform(7.25, 29.75)
            passwords.append(self._secret(rng, "rotating secret", end - 180 * day, end))
        elif plant == "long-lifetime":
            start = now - day * rng.uniform(20, 100)
            passwords.append(self._secret(rng, "two-year secret", start, start + 730 * day))
        elif plant == "unused-application":
            certificate_end = now - day * rng.uniform(100, 400)
            secret_end = now - day * rng.uniform(95, 300)
            keys = [self._certificate(rng, identity, certificate_end - 365 * day, certificate_end)]
            passwords = [self._secret(rng, "client secret", secret_end - 180 * day, secret_end)]
        return keys, passwords

    @staticmethod
    def _certificate(
        rng: random.Random, identity: AppIdentity, start: datetime, end: datetime
    ) -> GraphObject:
        return key_credential(
            key_id=random_guid(rng),
            display_name=f"CN={identity.display_name}",
            start=start.replace(microsecond=0),
            end=end.replace(microsecond=0),
            thumbprint=rng.randbytes(20),
        )

    @staticmethod
    def _secret(rng: random.Random, name: str, start: datetime, end: datetime) -> GraphObject:
        hint = "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789~._-") for _ in range(3)
        )
        return password_credential(
            key_id=random_guid(rng),
            display_name=name,
            start=start.replace(microsecond=0),
            end=end.replace(microsecond=0),
            hint=hint,
        )

    # -- objects ---------------------------------------------------------------------------

    def application(self, index: int) -> GraphObject:
        identity = self.identity(index)
        rng = self._context.seeded.rng("app-detail", index)
        keys, passwords = self.credentials(index)
        created = self._context.ago(days=rng.uniform(400, 2500)).replace(microsecond=0)
        return application(
            id=identity.id,
            appId=identity.app_id,
            createdDateTime=iso(created),
            displayName=identity.display_name,
            identifierUris=[f"api://{identity.app_id}"],
            publisherDomain=self._context.domain,
            keyCredentials=keys,
            passwordCredentials=passwords,
            requiredResourceAccess=[],
        )

    def service_principal(self, index: int) -> GraphObject:
        if self.has_registration(index):
            identity = self.identity(index)
            return service_principal(
                id=self.service_principal_id(index),
                appDisplayName=identity.display_name,
                appId=identity.app_id,
                appOwnerOrganizationId=self._context.tenant_id,
                displayName=identity.display_name,
                servicePrincipalNames=[identity.app_id, f"api://{identity.app_id}"],
                tags=["WindowsAzureActiveDirectoryIntegratedApp"],
            )
        return self._foreign_service_principal(index)

    def _foreign_service_principal(self, index: int) -> GraphObject:
        rng = self._context.seeded.rng("foreign-sp", index)
        app_id = self._context.seeded.guid(FOREIGN_APP_ID, index)
        if self.is_managed_identity(index):
            name = f"mi-{rng.choice(catalog.APP_NOUNS).lower()}-{index:05d}"
            resource = (
                f"/subscriptions/{self._context.seeded.guid('subscription', 0)}/resourcegroups/rg-apps"
                f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
            )
            # Azure rotates a managed identity's certificate itself (about every 46 days of 90):
            # these credentials are never a finding, however close to expiry they look.
            end = (self._context.now + timedelta(days=rng.uniform(10, 80))).replace(microsecond=0)
            certificate = key_credential(
                key_id=random_guid(rng),
                display_name=f"CN={app_id}",
                start=end - timedelta(days=90),
                end=end,
                thumbprint=rng.randbytes(20),
                usage="Verify",
            )
            return service_principal(
                id=self.service_principal_id(index),
                alternativeNames=["isExplicit=True", resource],
                appId=app_id,
                displayName=name,
                keyCredentials=[certificate],
                servicePrincipalNames=[
                    app_id,
                    f"https://identity.azure.net/{rng.randbytes(18).hex()}",
                ],
                servicePrincipalType="ManagedIdentity",
                signInAudience=None,
            )
        vendor = f"{rng.choice(catalog.LAST_NAMES)} {rng.choice(catalog.APP_NOUNS)}"
        return service_principal(
            id=self.service_principal_id(index),
            appDisplayName=vendor,
            appId=app_id,
            appOwnerOrganizationId=self._context.seeded.guid("foreign-tenant", index % 37),
            displayName=vendor,
            homepage=f"https://www.{vendor.split()[0].lower()}.example",
            replyUrls=[f"https://app.{vendor.split()[0].lower()}.example/signin-oidc"],
            servicePrincipalNames=[app_id],
            signInAudience="AzureADMultipleOrgs",
            tags=["WindowsAzureActiveDirectoryIntegratedApp"],
        )
