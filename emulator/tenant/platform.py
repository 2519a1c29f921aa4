"""The seed's platform applications and two SAML gallery applications, with the planted problems
they carry (a secret on a production app, permissions outside an allow-list, a SAML signing
certificate about to expire and an expired one still attached)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from emulator.ids import iso
from emulator.tenant.base import GraphObject
from emulator.tenant.fixed import PRODUCTION_APPS, FixedBuilder
from emulator.tenant.objects import (
    application,
    delegated_grant,
    key_credential,
    password_credential,
    random_guid,
    service_principal,
)


class PlatformBuilder:
    """The seed's platform applications and two SAML gallery applications."""

    def __init__(self, builder: FixedBuilder) -> None:
        self.builder = builder
        self.context = builder.context

    def build(self) -> None:
        self._scim_app()
        self._calendar_app()
        self._portal_and_api()
        self._saml_app("Salesforce", expires_in_days=5.0, old_certificate_expired_days=None)
        self._saml_app("ServiceNow", expires_in_days=200.0, old_certificate_expired_days=170.0)

    def _certificate(self, name: str, start: datetime, end: datetime) -> GraphObject:
        rng = self.builder.rng
        return key_credential(
            key_id=random_guid(rng),
            display_name=f"CN={name}",
            start=start,
            end=end,
            thumbprint=rng.randbytes(20),
        )

    def _scim_app(self) -> None:
        name = PRODUCTION_APPS[0]
        start, end = self.builder.window(100, 365)
        _app, sp = self.builder.registration(
            name, keys=[self._certificate(name, start, end)], tags=["production"]
        )
        # Directory.ReadWrite.All is both high privilege and outside the app's allow-list.
        self.builder.grant_app_roles(sp, ("User.Read.All", "Group.Read.All", "Directory.ReadWrite.All"))

    def _calendar_app(self) -> None:
        name = PRODUCTION_APPS[1]
        start, end = self.builder.window(60, 365)
        secret = self.builder.secret_credential("calendar secret", start, end, "Cal8Q~")
        _app, sp = self.builder.registration(name, passwords=[secret], tags=["production"])
        self.builder.grant_app_roles(
            sp, ("Calendars.ReadWrite", "OnlineMeetings.ReadWrite.All", "User.Read.All")
        )
        self.builder.fixed.grants.append(
            delegated_grant(
                sp["id"],
                self.builder.graph_sp["id"],
                "openid profile offline_access User.Read Calendars.ReadWrite Mail.ReadWrite",
            )
        )

    def _portal_and_api(self) -> None:
        for name in ("Platform Management Portal", "Platform APIs"):
            start, end = self.builder.window(90, 365)
            _app, sp = self.builder.registration(name, keys=[self._certificate(name, start, end)])
            if name == "Platform Management Portal":
                self.builder.fixed.interactive_app_ids.append(sp["appId"])
                self.builder.fixed.grants.append(
                    delegated_grant(sp["id"], self.builder.graph_sp["id"], "openid profile User.Read")
                )

    def _saml_app(
        self, name: str, expires_in_days: float, old_certificate_expired_days: float | None
    ) -> None:
        """A SAML app: each signing certificate is a Sign key, a Verify key and a password
        credential sharing one customKeyIdentifier (graph-facts §1)."""
        keys: list[GraphObject] = []
        passwords: list[GraphObject] = []
        preferred = ""
        windows = [self.context.ahead(days=expires_in_days)]
        if old_certificate_expired_days is not None:
            windows.append(self.context.ago(days=old_certificate_expired_days))
        for number, end in enumerate(windows):
            end = end.replace(microsecond=0)
            start = end - timedelta(days=365)
            rng = self.builder.rng
            thumbprint = rng.randbytes(20)
            custom = base64.b64encode(thumbprint).decode()
            sign_id, verify_id = random_guid(rng), random_guid(rng)
            subject = f"Microsoft Azure Federated SSO Certificate ({name})"
            for usage, key_id in (("Sign", sign_id), ("Verify", verify_id)):
                keys.append(
                    key_credential(
                        key_id=key_id,
                        display_name=f"CN={subject}",
                        start=start,
                        end=end,
                        thumbprint=thumbprint,
                        usage=usage,
                    )
                )
            passwords.append(
                password_credential(
                    key_id=sign_id,
                    display_name=f"CN={subject}",
                    start=start,
                    end=end,
                    hint=None,
                    custom_key_identifier=custom,
                )
            )
            if number == 0:
                preferred = thumbprint.hex().upper()
        app_id = self.builder.guid(f"{name}/appId")
        sp = service_principal(
            id=self.builder.guid(f"{name}/servicePrincipal"),
            appDisplayName=name,
            appId=app_id,
            appOwnerOrganizationId=self.context.tenant_id,
            displayName=name,
            keyCredentials=keys,
            passwordCredentials=passwords,
            notificationEmailAddresses=[f"identity-admins@{self.context.domain}"],
            preferredSingleSignOnMode="saml",
            preferredTokenSigningKeyThumbprint=preferred,
            replyUrls=[f"https://{name.lower()}.example.com/saml/acs"],
            servicePrincipalNames=[app_id, f"https://{name.lower()}.example.com"],
            samlSingleSignOnSettings={"relayState": None},
            tags=[
                "WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
                "WindowsAzureActiveDirectoryIntegratedApp",
            ],
        )
        self.builder.fixed.applications.append(
            application(
                id=self.builder.guid(f"{name}/application"),
                appId=app_id,
                createdDateTime=iso(self.context.ago(days=700).replace(microsecond=0)),
                displayName=name,
                identifierUris=[f"https://{name.lower()}.example.com"],
                publisherDomain=self.context.domain,
                tags=["WindowsAzureActiveDirectoryCustomSingleSignOnApplication"],
            )
        )
        self.builder.add_service_principal(sp)
