"""Every Graph endpoint the emulator serves (graph-facts §1–§8), and finding one by path."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from emulator.graph.capabilities import (
    APP_FILTERS,
    APPLICATION_READERS,
    AUDIT_READERS,
    BETA_SIGN_IN_FILTERS,
    CONDITIONAL_ACCESS_READERS,
    DETECTION_FILTERS,
    GRANT_READERS,
    GROUP_DEFAULT_PROPERTIES,
    GROUP_FILTERS,
    GROUP_READERS,
    LOCATION_FILTERS,
    POLICY_FILTERS,
    POLICY_READERS,
    REVIEW_READERS,
    RISK_EVENT_READERS,
    RISKY_USER_FILTERS,
    RISKY_USER_READERS,
    SIGN_IN_FILTERS,
    SP_FILTERS,
    USER_DEFAULT_PROPERTIES,
    USER_FILTERS,
    USER_READERS,
)
from emulator.graph.endpoint import (
    Endpoint,
    Resolved,
    Resolver,
    capabilities,
    directory_capabilities,
)
from emulator.tenant.base import Collection, GraphObject, ListCollection
from emulator.tenant.model import Tenant


def _collection(attribute: str) -> Resolver:
    return lambda tenant, params: getattr(tenant, attribute)


def _item(attribute: str) -> Resolver:
    def resolve(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
        collection: Collection = getattr(tenant, attribute)
        return collection.get(params["id"])

    return resolve


def _by_app_id(attribute: str) -> Resolver:
    def resolve(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
        collection = getattr(tenant, attribute)
        for position in collection.positions_by("appId", params["appId"]):
            obj: GraphObject = collection.at(position)
            if obj["appId"] == params["appId"].lower():
                return obj
        return None

    return resolve


def _service_principal_id(tenant: Tenant, params: Mapping[str, str]) -> str | None:
    if "appId" in params:
        found = _by_app_id("service_principals")(tenant, params)
        return found["id"] if isinstance(found, dict) else None
    sp = tenant.service_principals.get(params["id"])
    return None if sp is None else str(sp["id"])


def _assigned_to(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
    sp_id = _service_principal_id(tenant, params)
    return None if sp_id is None else tenant.assigned_to(sp_id)


def _assignments(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
    sp_id = _service_principal_id(tenant, params)
    if sp_id is None:
        return None
    position = tenant.service_principals.position_of(sp_id)
    assert position is not None

    return ListCollection("appRoleAssignment", tenant.consents.assignments_of(position))


def _client_grants(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
    sp_id = _service_principal_id(tenant, params)
    if sp_id is None:
        return None

    grants = [tenant.grants.at(p) for p in tenant.grants.positions_by("clientId", sp_id)]
    return ListCollection("oAuth2PermissionGrant", [g for g in grants if g["clientId"] == sp_id])


def _applies_to(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
    policy = tenant.token_lifetime_policies.get(params["id"])
    if policy is None:
        return None

    return ListCollection("directoryObject", tenant.governance.applies_to.get(policy["id"], []))


def _review_instances(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
    definition = tenant.review_definitions.get(params["id"])
    return None if definition is None else tenant.review_instances[definition["id"]]


def _review_instance(tenant: Tenant, params: Mapping[str, str]) -> Resolved:
    instances = _review_instances(tenant, params)
    return None if not isinstance(instances, Collection) else instances.get(params["instance"])


def _endpoints() -> list[Endpoint]:
    app = functools.partial(
        Endpoint,
        entity_type="application",
        family="directory",
        permissions=(APPLICATION_READERS,),
        resource_units=2,
        resource_label="Application",
    )
    sp = functools.partial(
        Endpoint,
        entity_type="servicePrincipal",
        family="directory",
        permissions=(APPLICATION_READERS,),
        resource_units=1,
        resource_label="ServicePrincipal",
    )
    assignment = functools.partial(
        Endpoint,
        entity_type="appRoleAssignment",
        family="directory",
        permissions=(APPLICATION_READERS,),
        resource_units=2,
        resource_label="AppRoleAssignment",
        filters=capabilities(
            {
                "id": "eq",
                "principalId": "eq",
                "resourceId": "eq",
                "principalDisplayName": "eq startsWith",
            }
        ),
    )
    grant = functools.partial(
        Endpoint,
        entity_type="oAuth2PermissionGrant",
        family="directory",
        permissions=(GRANT_READERS,),
        resource_units=2,
        resource_label="OAuth2PermissionGrant",
        filters=capabilities(
            {
                "id": "eq",
                "clientId": "eq",
                "consentType": "eq",
                "principalId": "eq",
                "resourceId": "eq",
            }
        ),
    )
    user = functools.partial(
        Endpoint,
        entity_type="user",
        family="directory",
        permissions=(USER_READERS,),
        resource_units=2,
        resource_label="User",
        default_select=USER_DEFAULT_PROPERTIES,
    )
    group = functools.partial(
        Endpoint,
        entity_type="group",
        family="directory",
        permissions=(GROUP_READERS,),
        resource_label="Group",
        default_select=GROUP_DEFAULT_PROPERTIES,
    )
    sign_ins = functools.partial(
        Endpoint,
        entity_type="signIn",
        family="reports",
        permissions=(AUDIT_READERS,),
        licence="P1",
        page_default=1000,
        page_max=1000,
    )
    activity = functools.partial(
        Endpoint,
        entity_type="servicePrincipalSignInActivity",
        family="reports",
        permissions=(AUDIT_READERS,),
        licence="P1",
        versions=frozenset({"beta"}),
    )
    protection = functools.partial(
        Endpoint, family="identityProtection", licence="P2", page_default=20, page_max=500
    )
    token_policy = functools.partial(
        Endpoint,
        entity_type="tokenLifetimePolicy",
        family="directory",
        permissions=(POLICY_READERS,),
        resource_label="TokenLifetimePolicy",
    )
    access = functools.partial(
        Endpoint,
        family="conditionalAccess",
        licence="P1",
        permissions=(CONDITIONAL_ACCESS_READERS,),
    )
    reviews = functools.partial(
        Endpoint,
        family="governance",
        licence="P2",
        permissions=(REVIEW_READERS,),
        paging="skip",
        page_max=100,
    )
    review_filters = capabilities({"status": "eq", "scope/query": "contains"})
    locations = ("ipNamedLocation", "countryNamedLocation")
    definitions = "identityGovernance/accessReviews/definitions"
    return [
        app(
            "applications",
            "applications",
            _collection("applications"),
            context="applications",
            filters=directory_capabilities(APP_FILTERS),
            count_supported=True,
        ),
        app(
            "applications.count",
            "applications/$count",
            _collection("applications"),
            context="",
            is_collection=False,
            count_supported=True,
            filters=directory_capabilities(APP_FILTERS),
        ),
        app(
            "applications.byAppId",
            "applications(appId='{appId}')",
            _by_app_id("applications"),
            context="applications/$entity",
            is_collection=False,
        ),
        app(
            "applications.item",
            "applications/{id}",
            _item("applications"),
            context="applications/$entity",
            is_collection=False,
        ),
        sp(
            "servicePrincipals",
            "servicePrincipals",
            _collection("service_principals"),
            context="servicePrincipals",
            filters=directory_capabilities(SP_FILTERS),
            count_supported=True,
        ),
        sp(
            "servicePrincipals.count",
            "servicePrincipals/$count",
            _collection("service_principals"),
            context="",
            is_collection=False,
            count_supported=True,
            filters=directory_capabilities(SP_FILTERS),
        ),
        assignment(
            "servicePrincipals.appRoleAssignedTo",
            "servicePrincipals(appId='{appId}')/appRoleAssignedTo",
            _assigned_to,
            context="servicePrincipals('{id}')/appRoleAssignedTo",
        ),
        sp(
            "servicePrincipals.byAppId",
            "servicePrincipals(appId='{appId}')",
            _by_app_id("service_principals"),
            context="servicePrincipals/$entity",
            is_collection=False,
        ),
        assignment(
            "servicePrincipals.appRoleAssignedTo",
            "servicePrincipals/{id}/appRoleAssignedTo",
            _assigned_to,
            context="servicePrincipals('{id}')/appRoleAssignedTo",
        ),
        assignment(
            "servicePrincipals.appRoleAssignments",
            "servicePrincipals/{id}/appRoleAssignments",
            _assignments,
            context="servicePrincipals('{id}')/appRoleAssignments",
        ),
        grant(
            "servicePrincipals.oauth2PermissionGrants",
            "servicePrincipals/{id}/oauth2PermissionGrants",
            _client_grants,
            context="oauth2PermissionGrants",
        ),
        sp(
            "servicePrincipals.item",
            "servicePrincipals/{id}",
            _item("service_principals"),
            context="servicePrincipals/$entity",
            is_collection=False,
        ),
        grant(
            "oauth2PermissionGrants",
            "oauth2PermissionGrants",
            _collection("grants"),
            context="oauth2PermissionGrants",
        ),
        grant(
            "oauth2PermissionGrants.item",
            "oauth2PermissionGrants/{id}",
            _item("grants"),
            context="oauth2PermissionGrants/$entity",
            is_collection=False,
            filters=None,
        ),
        user(
            "users",
            "users",
            _collection("users"),
            context="users",
            count_supported=True,
            filters=directory_capabilities(USER_FILTERS),
        ),
        user("users.item", "users/{id}", _item("users"), context="users/$entity", is_collection=False),
        group(
            "groups",
            "groups",
            _collection("groups"),
            context="groups",
            count_supported=True,
            filters=directory_capabilities(GROUP_FILTERS),
        ),
        group(
            "groups.item",
            "groups/{id}",
            _item("groups"),
            context="groups/$entity",
            is_collection=False,
        ),
        sign_ins(
            "signIns",
            "auditLogs/signIns",
            _collection("sign_ins"),
            context="auditLogs/signIns",
            filters=capabilities(SIGN_IN_FILTERS),
        ),
        sign_ins(
            "signIns",
            "auditLogs/signIns",
            _collection("sign_ins"),
            context="auditLogs/signIns",
            filters=capabilities(BETA_SIGN_IN_FILTERS),
            versions=frozenset({"beta"}),
        ),
        sign_ins(
            "signIns.item",
            "auditLogs/signIns/{id}",
            _item("sign_ins"),
            context="auditLogs/signIns/$entity",
            is_collection=False,
            versions=frozenset({"v1.0", "beta"}),
        ),
        activity(
            "servicePrincipalSignInActivities",
            "reports/servicePrincipalSignInActivities",
            _collection("activity"),
            context="reports/servicePrincipalSignInActivities",
            filters=capabilities({"appId": "eq", "lastSignInActivity/lastSignInDateTime": "ge le"}),
        ),
        activity(
            "servicePrincipalSignInActivities.item",
            "reports/servicePrincipalSignInActivities/{id}",
            _item("activity"),
            context="reports/servicePrincipalSignInActivities/$entity",
            is_collection=False,
        ),
        protection(
            "riskyUsers",
            "identityProtection/riskyUsers",
            _collection("risky_users"),
            entity_type="riskyUser",
            permissions=(RISKY_USER_READERS,),
            context="identityProtection/riskyUsers",
            filters=capabilities(RISKY_USER_FILTERS),
        ),
        protection(
            "riskyUsers.item",
            "identityProtection/riskyUsers/{id}",
            _item("risky_users"),
            entity_type="riskyUser",
            permissions=(RISKY_USER_READERS,),
            context="identityProtection/riskyUsers/$entity",
            is_collection=False,
        ),
        protection(
            "riskDetections",
            "identityProtection/riskDetections",
            _collection("risk_detections"),
            entity_type="riskDetection",
            permissions=(RISK_EVENT_READERS,),
            context="identityProtection/riskDetections",
            filters=capabilities(DETECTION_FILTERS),
        ),
        protection(
            "riskDetections.item",
            "identityProtection/riskDetections/{id}",
            _item("risk_detections"),
            entity_type="riskDetection",
            permissions=(RISK_EVENT_READERS,),
            context="identityProtection/riskDetections/$entity",
            is_collection=False,
        ),
        token_policy(
            "tokenLifetimePolicies",
            "policies/tokenLifetimePolicies",
            _collection("token_lifetime_policies"),
            context="policies/tokenLifetimePolicies",
            filters=capabilities({"id": "eq", "displayName": "eq startsWith", "isOrganizationDefault": "eq"}),
        ),
        token_policy(
            "tokenLifetimePolicies.appliesTo",
            "policies/tokenLifetimePolicies/{id}/appliesTo",
            _applies_to,
            entity_type="directoryObject",
            context="directoryObjects",
            permissions=(POLICY_READERS, APPLICATION_READERS),
            select_types=("application", "servicePrincipal"),
        ),
        token_policy(
            "tokenLifetimePolicies.item",
            "policies/tokenLifetimePolicies/{id}",
            _item("token_lifetime_policies"),
            context="policies/tokenLifetimePolicies/$entity",
            is_collection=False,
        ),
        access(
            "conditionalAccessPolicies",
            "identity/conditionalAccess/policies",
            _collection("conditional_access_policies"),
            entity_type="conditionalAccessPolicy",
            context="identity/conditionalAccess/policies",
            filters=capabilities(POLICY_FILTERS),
            count_supported=True,
        ),
        access(
            "conditionalAccessPolicies.item",
            "identity/conditionalAccess/policies/{id}",
            _item("conditional_access_policies"),
            entity_type="conditionalAccessPolicy",
            context="identity/conditionalAccess/policies/$entity",
            is_collection=False,
        ),
        access(
            "namedLocations",
            "identity/conditionalAccess/namedLocations",
            _collection("named_locations"),
            entity_type="namedLocation",
            context="identity/conditionalAccess/namedLocations",
            filters=capabilities(LOCATION_FILTERS),
            count_supported=True,
            select_types=locations,
        ),
        access(
            "namedLocations.item",
            "identity/conditionalAccess/namedLocations/{id}",
            _item("named_locations"),
            entity_type="namedLocation",
            context="identity/conditionalAccess/namedLocations/$entity",
            is_collection=False,
            select_types=locations,
        ),
        reviews(
            "accessReviewDefinitions",
            definitions,
            _collection("review_definitions"),
            entity_type="accessReviewScheduleDefinition",
            context=definitions,
            filters=review_filters,
        ),
        reviews(
            "accessReviewInstances",
            f"{definitions}/{{id}}/instances",
            _review_instances,
            entity_type="accessReviewInstance",
            context=f"{definitions}('{{id}}')/instances",
            filters=review_filters,
        ),
        reviews(
            "accessReviewInstances.item",
            f"{definitions}/{{id}}/instances/{{instance}}",
            _review_instance,
            entity_type="accessReviewInstance",
            context=f"{definitions}('{{id}}')/instances/$entity",
            is_collection=False,
        ),
        reviews(
            "accessReviewDefinitions.item",
            f"{definitions}/{{id}}",
            _item("review_definitions"),
            entity_type="accessReviewScheduleDefinition",
            context=f"{definitions}/$entity",
            is_collection=False,
        ),
    ]


ENDPOINTS: tuple[Endpoint, ...] = tuple(_endpoints())


def match(version: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """The endpoint serving ``path`` (after ``/v1.0/``), or the first endpoint whose pattern
    matches in another version (the caller reports it), or None."""
    other: tuple[Endpoint, dict[str, str]] | None = None
    for endpoint in ENDPOINTS:
        found = endpoint.compiled.match(path)
        if found is None:
            continue
        if version in endpoint.versions:
            return endpoint, found.groupdict()
        other = other or (endpoint, found.groupdict())
    return other
