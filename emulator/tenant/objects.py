"""Graph-shaped building blocks: credentials, applications, service principals, users and groups
as Graph returns them.

Property sets and order follow the v1.0 CSDL (the four object types derive from
``directoryObject``); users and groups carry every property, and the Graph layer projects the
default set Graph returns without ``$select``. Nested defaults are shared between objects and
must never be mutated.
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from emulator.ids import guid_bytes_le, iso, opaque_id

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


def security_identifier(object_id: str) -> str:
    """The Windows SID Entra gives a cloud object: ``S-1-12-1-`` and the object id's 16 bytes
    (little-endian GUID layout) as four unsigned 32-bit integers, as the group doc example shows
    (id 21d05557-b7b6-… has SID S-1-12-1-567301463-1099937718-…)."""
    data = uuid.UUID(object_id).bytes_le
    parts = (int.from_bytes(data[offset : offset + 4], "little") for offset in range(0, 16, 4))
    return "S-1-12-1-" + "-".join(str(part) for part in parts)


_NOT_SET_DATE = "0001-01-01T00:00:00Z"
"""``user.birthday`` and ``hireDate`` when unset: the CSDL makes them non-nullable, so the minimum
DateTimeOffset (the exact value Graph sends is UNCONFIRMED)."""
_EXTENSION_ATTRIBUTES_NONE: GraphObject = {f"extensionAttribute{n}": None for n in range(1, 16)}

# Every v1.0 user property (CSDL ``user``), defaults first in Graph's documented default order;
# ``GET /users`` projects the default set, the rest come only on ``$select``.
USER_TEMPLATE: GraphObject = {
    "id": "",
    "businessPhones": [],
    "displayName": None,
    "givenName": None,
    "jobTitle": None,
    "mail": None,
    "mobilePhone": None,
    "officeLocation": None,
    "preferredLanguage": None,
    "surname": None,
    "userPrincipalName": None,
    "deletedDateTime": None,
    "aboutMe": None,
    "accountEnabled": True,
    "ageGroup": None,
    "assignedLicenses": [],
    "assignedPlans": [],
    "authorizationInfo": {"certificateUserIds": []},
    "birthday": _NOT_SET_DATE,
    "city": None,
    "companyName": None,
    "consentProvidedForMinor": None,
    "country": None,
    "createdDateTime": None,
    "creationType": None,
    "customSecurityAttributes": None,
    "department": None,
    "deviceEnrollmentLimit": 1000,  # user resource doc: allowed values are 5 or 1000
    "employeeHireDate": None,
    "employeeId": None,
    "employeeLeaveDateTime": None,
    "employeeOrgData": None,
    "employeeType": None,
    "externalUserState": None,
    "externalUserStateChangeDateTime": None,
    "faxNumber": None,
    "hireDate": _NOT_SET_DATE,
    "identities": [],
    "identityParentId": None,
    "imAddresses": [],
    "interests": [],
    "isManagementRestricted": None,
    "isResourceAccount": None,
    "lastPasswordChangeDateTime": None,
    "legalAgeGroupClassification": None,
    "licenseAssignmentStates": [],
    "mailboxSettings": None,
    "mailNickname": None,
    "mySite": None,
    "onPremisesDistinguishedName": None,
    "onPremisesDomainName": None,
    "onPremisesExtensionAttributes": _EXTENSION_ATTRIBUTES_NONE,
    "onPremisesImmutableId": None,
    "onPremisesLastSyncDateTime": None,
    "onPremisesProvisioningErrors": [],
    "onPremisesSamAccountName": None,
    "onPremisesSecurityIdentifier": None,
    "onPremisesSyncEnabled": None,
    "onPremisesUserPrincipalName": None,
    "otherMails": [],
    "passwordPolicies": None,
    "passwordProfile": None,
    "pastProjects": [],
    "postalCode": None,
    "preferredDataLocation": None,
    "preferredName": None,
    "print": None,
    "provisionedPlans": [],
    "proxyAddresses": [],
    "responsibilities": [],
    "schools": [],
    "securityIdentifier": None,
    "serviceProvisioningErrors": [],
    "showInAddressList": None,
    "signInActivity": None,
    "signInSessionsValidFromDateTime": None,
    "skills": [],
    "state": None,
    "streetAddress": None,
    "usageLocation": None,
    "userType": "Member",
}

# Every v1.0 group property (CSDL ``group``): the default set first, as ``GET /groups`` returns
# it (docs' group-get example), then the ones Graph returns only on ``$select``.
GROUP_TEMPLATE: GraphObject = {
    "id": "",
    "deletedDateTime": None,
    "classification": None,
    "createdDateTime": None,
    "description": None,
    "displayName": None,
    "expirationDateTime": None,
    "groupTypes": [],
    "isAssignableToRole": None,
    "mail": None,
    "mailEnabled": False,
    "mailNickname": None,
    "membershipRule": None,
    "membershipRuleProcessingState": None,
    "onPremisesDomainName": None,
    "onPremisesLastSyncDateTime": None,
    "onPremisesNetBiosName": None,
    "onPremisesSamAccountName": None,
    "onPremisesSecurityIdentifier": None,
    "onPremisesSyncEnabled": None,
    "preferredDataLocation": None,
    "preferredLanguage": None,
    "proxyAddresses": [],
    "renewedDateTime": None,
    "resourceBehaviorOptions": [],
    "resourceProvisioningOptions": [],
    "securityEnabled": True,
    "securityIdentifier": None,
    "theme": None,
    "uniqueName": None,
    "visibility": None,
    "onPremisesProvisioningErrors": [],
    "serviceProvisioningErrors": [],
    "accessType": None,
    "allowExternalSenders": None,
    "assignedLabels": [],
    "assignedLicenses": [],
    "autoSubscribeNewMembers": None,
    "hasMembersWithLicenseErrors": None,
    "hideFromAddressLists": None,
    "hideFromOutlookClients": None,
    "infoCatalogs": [],
    "isArchived": None,
    "isFavorite": None,
    "isManagementRestricted": None,
    "isSubscribedByMail": None,
    "licenseProcessingState": None,
    "onPremisesExtensionAttributes": None,
    "organizationId": None,
    "unseenConversationsCount": None,
    "unseenCount": None,
    "unseenMessagesCount": None,
    "welcomeMessageEnabled": None,
}


def user(**values: Any) -> GraphObject:
    return _from_template(USER_TEMPLATE, "user", values)


def group(**values: Any) -> GraphObject:
    return _from_template(GROUP_TEMPLATE, "group", values)


def _from_template(template: GraphObject, type_name: str, values: dict[str, Any]) -> GraphObject:
    unknown = set(values) - set(template)
    if unknown:
        raise KeyError(f"not {type_name} properties: {sorted(unknown)}")
    return {**template, **values}


def delegated_grant(
    client_id: str, resource_id: str, scope: str, principal_id: str | None = None
) -> GraphObject:
    """An ``oAuth2PermissionGrant``; its id is what Entra uses: the client's, resource's and
    (for a per-user grant) the principal's GUID bytes, base64url without padding."""
    parts = [guid_bytes_le(client_id), guid_bytes_le(resource_id)]
    if principal_id is not None:
        parts.append(guid_bytes_le(principal_id))
    return {
        "clientId": client_id,
        "consentType": "AllPrincipals" if principal_id is None else "Principal",
        "id": opaque_id(*parts),
        "principalId": principal_id,
        "resourceId": resource_id,
        "scope": scope,
    }


def app_role_assignment(
    principal: GraphObject, resource: GraphObject, app_role_id: str, created: datetime, unique: bytes
) -> GraphObject:
    """An application permission held by a service principal; the id starts with the
    principal's GUID bytes (so the principal can be found from it) followed by 16 ``unique`` bytes."""
    if len(unique) != 16:
        raise ValueError("an assignment id needs 16 unique bytes")
    return {
        "id": opaque_id(guid_bytes_le(principal["id"]), unique),
        "deletedDateTime": None,
        "appRoleId": app_role_id,
        "createdDateTime": iso(created.replace(microsecond=0)),
        "principalDisplayName": principal["displayName"],
        "principalId": principal["id"],
        "principalType": "ServicePrincipal",
        "resourceDisplayName": resource["displayName"],
        "resourceId": resource["id"],
    }
