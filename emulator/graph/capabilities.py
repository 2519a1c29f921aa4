"""What each Graph endpoint accepts (graph-facts §1–§8): the application permissions that allow
it, the ``$filter`` operators each property supports, and the properties returned without
``$select``. The endpoint table in ``endpoints.py`` is built from these."""

from __future__ import annotations

APPLICATION_READERS = frozenset(
    {
        "Application.Read.All",
        "Application.ReadWrite.OwnedBy",
        "Application.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
GRANT_READERS = frozenset(
    {
        "Directory.Read.All",
        "DelegatedPermissionGrant.Read.All",
        "DelegatedPermissionGrant.ReadWrite.All",
        "Directory.ReadWrite.All",
    }
)
USER_READERS = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
GROUP_READERS = frozenset(
    {
        "GroupMember.Read.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
AUDIT_READERS = frozenset({"AuditLog.Read.All", "Directory.Read.All"})
RISKY_USER_READERS = frozenset({"IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All"})
RISK_EVENT_READERS = frozenset({"IdentityRiskEvent.Read.All", "IdentityRiskEvent.ReadWrite.All"})
POLICY_READERS = frozenset(
    {
        "Policy.Read.All",
        "Policy.Read.ApplicationConfiguration",
        "Policy.ReadWrite.ApplicationConfiguration",
    }
)
CONDITIONAL_ACCESS_READERS = frozenset(
    {"Policy.Read.All", "Policy.Read.ConditionalAccess", "Policy.ReadWrite.ConditionalAccess"}
)
REVIEW_READERS = frozenset(
    {"AccessReview.Read.All", "AccessReview.ReadWrite.All", "AccessReview.ReadWrite.Membership"}
)

APP_FILTERS = {
    "id": "eq in",
    "appId": "eq in startsWith",
    "displayName": "eq in startsWith ge le",
    "publisherDomain": "eq in startsWith ge le",
    "signInAudience": "eq in",
    "createdDateTime": "eq in ge le",
    "identifierUris": "any eq startsWith",
    "tags": "any eq startsWith",
    "keyCredentials": "any",
    "keyCredentials/keyId": "eq",
    "keyCredentials/endDateTime": "eq ge le",
    "passwordCredentials": "any",
    "passwordCredentials/endDateTime": "eq ge le",
}
SP_FILTERS = {
    **{
        key: value
        for key, value in APP_FILTERS.items()
        if key not in ("publisherDomain", "createdDateTime", "identifierUris")
    },
    "accountEnabled": "eq in",
    "appOwnerOrganizationId": "eq ge le",
    "appRoleAssignmentRequired": "eq",
    "servicePrincipalType": "eq in",
    "servicePrincipalNames": "any eq startsWith ge le",
    "preferredSingleSignOnMode": "eq in",
}
SIGN_IN_FILTERS = {
    "appDisplayName": "eq startsWith",
    "appId": "eq",
    "clientAppUsed": "eq",
    "conditionalAccessStatus": "eq",
    "correlationId": "eq",
    "createdDateTime": "eq le ge lt gt",
    "deviceDetail/browser": "eq startsWith",
    "deviceDetail/operatingSystem": "eq startsWith",
    "id": "eq",
    "ipAddress": "eq startsWith",
    "location/city": "eq startsWith",
    "location/state": "eq startsWith",
    "location/countryOrRegion": "eq startsWith",
    "resourceDisplayName": "eq",
    "resourceId": "eq",
    "riskDetail": "eq",
    "riskEventTypes_v2": "any eq startsWith",
    "riskLevelAggregated": "eq",
    "riskLevelDuringSignIn": "eq",
    "riskState": "eq",
    "status/errorCode": "eq",
    "userDisplayName": "eq startsWith",
    "userId": "eq",
    "userPrincipalName": "eq startsWith",
}
BETA_SIGN_IN_FILTERS = {
    **SIGN_IN_FILTERS,
    "signInEventTypes": "any eq ne",
    "authenticationRequirement": "eq startsWith",
    "servicePrincipalId": "eq startsWith",
    "servicePrincipalName": "eq startsWith",
    "originalRequestId": "eq",
    "conditionalAccessAudiences": "any eq",
}


USER_FILTERS = {
    "id": "eq in",
    "displayName": "eq in startsWith",
    "userPrincipalName": "eq in startsWith",
    "mail": "eq in startsWith",
    "accountEnabled": "eq",
    "userType": "eq in",
    "department": "eq in startsWith",
    "createdDateTime": "ge le",
}
GROUP_FILTERS = {
    "id": "eq in",
    "displayName": "eq in startsWith",
    "mail": "eq in startsWith",
    "mailNickname": "eq in startsWith",
    "securityEnabled": "eq",
    "mailEnabled": "eq",
    "isAssignableToRole": "eq",
}
RISKY_USER_FILTERS = {
    "id": "eq",
    "riskLevel": "eq",
    "riskState": "eq",
    "riskDetail": "eq",
    "userPrincipalName": "eq startsWith",
    "userDisplayName": "eq startsWith",
    "riskLastUpdatedDateTime": "eq ge le gt lt",
    "isDeleted": "eq",
    "isProcessing": "eq",
}
DETECTION_FILTERS = {
    "id": "eq",
    "riskEventType": "eq",
    "riskLevel": "eq",
    "riskState": "eq",
    "riskDetail": "eq",
    "userId": "eq",
    "userPrincipalName": "eq startsWith",
    "requestId": "eq",
    "correlationId": "eq",
    "ipAddress": "eq startsWith",
    "source": "eq",
    "activity": "eq",
    "detectionTimingType": "eq",
    "detectedDateTime": "eq ge le gt lt",
    "activityDateTime": "eq ge le gt lt",
}
POLICY_FILTERS = {
    "id": "eq",
    "displayName": "eq startsWith",
    "state": "eq",
    "createdDateTime": "ge le",
    "modifiedDateTime": "ge le",
}
LOCATION_FILTERS = {
    "id": "eq",
    "displayName": "eq startsWith",
    "createdDateTime": "ge le",
    "modifiedDateTime": "ge le",
}
# What ``GET /users`` returns without ``$select`` (everything else must be selected).
USER_DEFAULT_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


# What ``GET /groups`` returns without ``$select`` (the group-get doc example; allowExternalSenders,
# assignedLicenses, unseenCount and the rest are "returned only on $select").
GROUP_DEFAULT_PROPERTIES = (
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesDomainName",
    "onPremisesLastSyncDateTime",
    "onPremisesNetBiosName",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "preferredDataLocation",
    "preferredLanguage",
    "proxyAddresses",
    "renewedDateTime",
    "resourceBehaviorOptions",
    "resourceProvisioningOptions",
    "securityEnabled",
    "securityIdentifier",
    "theme",
    "uniqueName",
    "visibility",
    "onPremisesProvisioningErrors",
    "serviceProvisioningErrors",
)
