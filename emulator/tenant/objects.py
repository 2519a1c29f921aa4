"""Graph-shaped building blocks: credentials, applications and service principals as Graph returns them.

Property sets and order follow the v1.0 CSDL (``application`` and ``servicePrincipal`` derive
from ``directoryObject``). Nested defaults are shared between objects and must never be mutated.
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from emulator.ids import iso

GraphObject = dict[str, Any]


def random_guid(rng: random.Random) -> str:
    value = rng.getrandbits(128)
    value = (value & ~(0xF << 76)) | (0x4 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def random_base64(rng: random.Random, size: int) -> str:
    return base64.b64encode(rng.randbytes(size)).decode()


def key_credential(
    *,
    key_id: str,
    display_name: str,
    start: datetime,
    end: datetime,
    thumbprint: bytes,
    usage: str = "Verify",
) -> GraphObject:
    """A certificate credential; ``customKeyIdentifier`` defaults to the SHA-1 thumbprint (§1)."""
    return {
        "customKeyIdentifier": base64.b64encode(thumbprint).decode(),
        "displayName": display_name,
        "endDateTime": iso(end),
        "key": None,
        "keyId": key_id,
        "startDateTime": iso(start),
        "type": "AsymmetricX509Cert",
        "usage": usage,
    }


def password_credential(
    *,
    key_id: str,
    display_name: str,
    start: datetime,
    end: datetime,
    hint: str | None,
    custom_key_identifier: str | None = None,
) -> GraphObject:
    return {
        "customKeyIdentifier": custom_key_identifier,
        "displayName": display_name,
        "endDateTime": iso(end),
        "hint": hint,
        "keyId": key_id,
        "secretText": None,
        "startDateTime": iso(start),
    }


def healthy_window(
    rng: random.Random, now: datetime, lifetimes: tuple[int, ...]
) -> tuple[datetime, datetime]:
    """Start and end of a credential that is nowhere near any alert threshold.

    It ends between 45 days and its lifetime from now, and its lifetime is one of ``lifetimes``
    (all at most 365 days), so no expiry or lifetime rule can fire on it.
    """
    lifetime = rng.choice(lifetimes)
    remaining = rng.uniform(45.0, lifetime - 1.0)
    end = (now + timedelta(days=remaining)).replace(microsecond=0)
    return end - timedelta(days=lifetime), end


_API_DEFAULT: GraphObject = {
    "acceptMappedClaims": None,
    "knownClientApplications": [],
    "oauth2PermissionScopes": [],
    "preAuthorizedApplications": [],
    "requestedAccessTokenVersion": None,
}
_INFO_DEFAULT: GraphObject = {
    "logoUrl": None,
    "marketingUrl": None,
    "privacyStatementUrl": None,
    "supportUrl": None,
    "termsOfServiceUrl": None,
}
_PARENTAL_DEFAULT: GraphObject = {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"}
_PUBLIC_CLIENT_DEFAULT: GraphObject = {"redirectUris": []}
_SPA_DEFAULT: GraphObject = {"redirectUris": []}
_WEB_DEFAULT: GraphObject = {
    "homePageUrl": None,
    "logoutUrl": None,
    "redirectUris": [],
    "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
    "redirectUriSettings": [],
}
_VERIFIED_PUBLISHER_NONE: GraphObject = {
    "addedDateTime": None,
    "displayName": None,
    "verifiedPublisherId": None,
}

APPLICATION_TEMPLATE: GraphObject = {
    "id": "",
    "deletedDateTime": None,
    "appId": "",
    "applicationTemplateId": None,
    "disabledByMicrosoftStatus": None,
    "createdByAppId": None,
    "createdDateTime": None,
    "displayName": "",
    "description": None,
    "groupMembershipClaims": None,
    "identifierUris": [],
    "isDeviceOnlyAuthSupported": None,
    "isDisabled": None,
    "isFallbackPublicClient": None,
    "nativeAuthenticationApisEnabled": None,
    "notes": None,
    "publisherDomain": None,
    "serviceManagementReference": None,
    "signInAudience": "AzureADMyOrg",
    "tags": [],
    "tokenEncryptionKeyId": None,
    "uniqueName": None,
    "samlMetadataUrl": None,
    "defaultRedirectUri": None,
    "certification": None,
    "optionalClaims": None,
    "requestSignatureVerification": None,
    "servicePrincipalLockConfiguration": None,
    "addIns": [],
    "api": _API_DEFAULT,
    "appRoles": [],
    "info": _INFO_DEFAULT,
    "keyCredentials": [],
    "managerApplications": [],
    "oauth2RequirePostResponse": False,
    "parentalControlSettings": _PARENTAL_DEFAULT,
    "passwordCredentials": [],
    "publicClient": _PUBLIC_CLIENT_DEFAULT,
    "requiredResourceAccess": [],
    "spa": _SPA_DEFAULT,
    "verifiedPublisher": _VERIFIED_PUBLISHER_NONE,
    "web": _WEB_DEFAULT,
}

SERVICE_PRINCIPAL_TEMPLATE: GraphObject = {
    "id": "",
    "deletedDateTime": None,
    "accountEnabled": True,
    "alternativeNames": [],
    "appDisplayName": None,
    "appDescription": None,
    "appId": "",
    "applicationTemplateId": None,
    "appOwnerOrganizationId": None,
    "appRoleAssignmentRequired": False,
    "createdByAppId": None,
    "description": None,
    "disabledByMicrosoftStatus": None,
    "displayName": "",
    "homepage": None,
    "isDisabled": None,
    "loginUrl": None,
    "logoutUrl": None,
    "notes": None,
    "notificationEmailAddresses": [],
    "preferredSingleSignOnMode": None,
    "preferredTokenSigningKeyThumbprint": None,
    "replyUrls": [],
    "servicePrincipalNames": [],
    "servicePrincipalType": "Application",
    "signInAudience": "AzureADMyOrg",
    "tags": [],
    "tokenEncryptionKeyId": None,
    "samlSingleSignOnSettings": None,
    "addIns": [],
    "appRoles": [],
    "info": _INFO_DEFAULT,
    "keyCredentials": [],
    "oauth2PermissionScopes": [],
    "passwordCredentials": [],
    "resourceSpecificApplicationPermissions": [],
    "verifiedPublisher": _VERIFIED_PUBLISHER_NONE,
}


def application(**values: Any) -> GraphObject:
    obj = dict(APPLICATION_TEMPLATE)
    unknown = set(values) - set(obj)
    if unknown:
        raise KeyError(f"not application properties: {sorted(unknown)}")
    obj.update(values)
    return obj


def service_principal(**values: Any) -> GraphObject:
    obj = dict(SERVICE_PRINCIPAL_TEMPLATE)
    unknown = set(values) - set(obj)
    if unknown:
        raise KeyError(f"not servicePrincipal properties: {sorted(unknown)}")
    obj.update(values)
    return obj


def app_role(permission_id: str, value: str, display_name: str, description: str) -> GraphObject:
    return {
        "allowedMemberTypes": ["Application"],
        "description": description,
        "displayName": display_name,
        "id": permission_id,
        "isEnabled": True,
        "origin": "Application",
        "value": value,
    }


def permission_scope(permission_id: str, value: str, display_name: str, admin_only: bool) -> GraphObject:
    return {
        "adminConsentDescription": f"Allows the app to {display_name[0].lower()}{display_name[1:]}.",
        "adminConsentDisplayName": display_name,
        "id": permission_id,
        "isEnabled": True,
        "origin": "Application",
        "type": "Admin" if admin_only else "User",
        "userConsentDescription": None if admin_only else f"Allows the app to {display_name.lower()}.",
        "userConsentDisplayName": None if admin_only else display_name,
        "value": value,
    }
