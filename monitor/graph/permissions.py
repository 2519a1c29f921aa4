"""Every Microsoft Graph endpoint the monitor reads, with the least-privilege application
permissions, licence, throttling family and page sizes that govern it (graph-facts §1–§9).

The table is the monitor's own: the Graph client looks a request up here (``find_endpoint``) to
name the permission or licence a 403 is about and to pick the throttling family and page size;
``entra-monitor permissions`` and ``docs/permissions.md`` print it for whoever grants consent.

Contract:

- ``permissions`` are *application* permissions and *all* of them are needed (only
  ``tokenLifetimePolicies/{id}/appliesTo`` needs two). Each is the least-privileged one Microsoft
  documents, except where noted in ``docs/permissions.md`` (DelegatedPermissionGrant.Read.All is
  UNCONFIRMED; Policy.Read.All is chosen for Conditional Access because the documented table
  names no lower one and token lifetime policies need it anyway).
- ``accepted[i]`` lists every permission that also satisfies ``permissions[i]`` (for docs and
  error messages; the monitor never asks for the broader ones).
- Every permission is read-only: the monitor never writes to the directory.
- ``page_max`` is the largest ``$top`` a collection accepts; ``None`` for single objects and
  ``$count``. ``paging`` says how the endpoint's family pages (``skiptoken`` or ``skip``); clients
  follow ``@odata.nextLink`` either way.
- ``path`` is relative to the version root with ``{name}`` placeholders; a placeholder stands for
  one path segment (or the quoted value of an alternate key) and never starts with ``$``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

V1 = frozenset({"v1.0"})
BETA = frozenset({"beta"})
BOTH = frozenset({"v1.0", "beta"})

APPLICATION = "Application.Read.All"
GRANTS = "DelegatedPermissionGrant.Read.All"
USERS = "User.Read.All"
GROUP_MEMBERS = "GroupMember.Read.All"
AUDIT_LOGS = "AuditLog.Read.All"
RISKY_USERS = "IdentityRiskyUser.Read.All"
RISK_EVENTS = "IdentityRiskEvent.Read.All"
POLICIES = "Policy.Read.All"
ACCESS_REVIEWS = "AccessReview.Read.All"

# Each least-privilege permission and the broader ones Graph also accepts for the same reads
# (graph-facts §1 applications, §2 grants, §3/§4 audit logs, §5 identity protection, §6 token
# lifetime policies, §7 access reviews, §8 Conditional Access).
ACCEPTED: Mapping[str, frozenset[str]] = {
    APPLICATION: frozenset(
        {
            APPLICATION,
            "Application.ReadWrite.OwnedBy",
            "Application.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    ),
    GRANTS: frozenset(
        {GRANTS, "DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
    ),
    USERS: frozenset({USERS, "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}),
    GROUP_MEMBERS: frozenset(
        {
            GROUP_MEMBERS,
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    ),
    AUDIT_LOGS: frozenset({AUDIT_LOGS, "Directory.Read.All"}),
    RISKY_USERS: frozenset({RISKY_USERS, "IdentityRiskyUser.ReadWrite.All"}),
    RISK_EVENTS: frozenset({RISK_EVENTS, "IdentityRiskEvent.ReadWrite.All"}),
    ACCESS_REVIEWS: frozenset(
        {ACCESS_REVIEWS, "AccessReview.ReadWrite.All", "AccessReview.ReadWrite.Membership"}
    ),
}
# Policy.Read.All is accepted for both policy families, but what else is differs.
TOKEN_POLICY_ACCEPTED = frozenset(
    {POLICIES, "Policy.Read.ApplicationConfiguration", "Policy.ReadWrite.ApplicationConfiguration"}
)
CONDITIONAL_ACCESS_ACCEPTED = frozenset(
    {POLICIES, "Policy.Read.ConditionalAccess", "Policy.ReadWrite.ConditionalAccess"}
)


@dataclass(frozen=True)
class GraphEndpoint:
    """One Graph endpoint the monitor reads (always with GET)."""

    name: str
    path: str
    versions: frozenset[str]
    permissions: tuple[str, ...]
    accepted: tuple[frozenset[str], ...]
    licence: str | None
    family: str
    is_collection: bool
    page_max: int | None
    paging: str
    description: str


def _endpoint(
    name: str,
    path: str,
    description: str,
    *,
    permissions: tuple[str, ...],
    family: str,
    page_max: int,
    versions: frozenset[str] = V1,
    licence: str | None = None,
    paging: str = "skiptoken",
    accepted: tuple[frozenset[str], ...] | None = None,
) -> GraphEndpoint:
    # A path ending in a placeholder, an alternate key or $count names one object.
    is_collection = not path.endswith(("}", "')", "/$count"))
    return GraphEndpoint(
        name=name,
        path=path,
        versions=versions,
        permissions=permissions,
        accepted=accepted or tuple(ACCEPTED[permission] for permission in permissions),
        licence=licence,
        family=family,
        is_collection=is_collection,
        page_max=page_max if is_collection else None,
        paging=paging,
        description=description,
    )


# Page sizes: directory objects max 999 (§1); sign-ins 1,000 (§4); risky users and risk
# detections 500 (§5); access reviews default 100, paged with $skip (§7). The others are not
# documented (UNCONFIRMED in graph-facts) and follow the directory's 999.
_directory = functools.partial(_endpoint, family="directory", page_max=999)
_apps = functools.partial(_directory, permissions=(APPLICATION,))
_grants = functools.partial(_directory, permissions=(GRANTS,))
_token_policies = functools.partial(_directory, permissions=(POLICIES,), accepted=(TOKEN_POLICY_ACCEPTED,))
_reports = functools.partial(_endpoint, permissions=(AUDIT_LOGS,), family="reports", licence="P1")
_protection = functools.partial(_endpoint, family="identityProtection", licence="P2", page_max=500)
_access = functools.partial(
    _endpoint,
    permissions=(POLICIES,),
    accepted=(CONDITIONAL_ACCESS_ACCEPTED,),
    family="conditionalAccess",
    licence="P1",
    page_max=999,
)
_reviews = functools.partial(
    _endpoint, permissions=(ACCESS_REVIEWS,), family="governance", licence="P2", page_max=100, paging="skip"
)
_DEFINITIONS = "identityGovernance/accessReviews/definitions"


def _application_endpoints() -> tuple[GraphEndpoint, ...]:
    """App registrations, service principals and their app role assignments (graph-facts §1, §2)."""
    return (
        _apps("applications", "applications", "app registrations and their credentials"),
        _apps("applications.count", "applications/$count", "the number of app registrations"),
        _apps("applications.byAppId", "applications(appId='{appId}')", "one app registration by appId"),
        _apps("applications.item", "applications/{id}", "one app registration"),
        _apps("servicePrincipals", "servicePrincipals", "service principals and their credentials"),
        _apps("servicePrincipals.count", "servicePrincipals/$count", "the number of service principals"),
        _apps(
            "servicePrincipals.byAppId",
            "servicePrincipals(appId='{appId}')",
            "one service principal by appId (e.g. Microsoft Graph's app roles)",
        ),
        _apps("servicePrincipals.item", "servicePrincipals/{id}", "one service principal"),
        _apps(
            "servicePrincipals.byAppId.appRoleAssignedTo",
            "servicePrincipals(appId='{appId}')/appRoleAssignedTo",
            "application permissions granted on an API, found by its appId",
        ),
        _apps(
            "servicePrincipals.appRoleAssignedTo",
            "servicePrincipals/{id}/appRoleAssignedTo",
            "application permissions granted on an API",
        ),
        _apps(
            "servicePrincipals.appRoleAssignments",
            "servicePrincipals/{id}/appRoleAssignments",
            "application permissions a client holds",
        ),
    )


def _directory_endpoints() -> tuple[GraphEndpoint, ...]:
    """Delegated grants (§2), users and groups, token lifetime policies (§6)."""
    return (
        _grants(
            "servicePrincipals.oauth2PermissionGrants",
            "servicePrincipals/{id}/oauth2PermissionGrants",
            "delegated permission grants of one client",
        ),
        _grants("oauth2PermissionGrants", "oauth2PermissionGrants", "delegated permission grants"),
        _grants(
            "oauth2PermissionGrants.item", "oauth2PermissionGrants/{id}", "one delegated permission grant"
        ),
        _directory("users", "users", "users (reviewers, policy exclusions)", permissions=(USERS,)),
        _directory("users.item", "users/{id}", "one user", permissions=(USERS,)),
        _directory("groups", "groups", "groups (policy and review scopes)", permissions=(GROUP_MEMBERS,)),
        _directory("groups.item", "groups/{id}", "one group", permissions=(GROUP_MEMBERS,)),
        _token_policies("tokenLifetimePolicies", "policies/tokenLifetimePolicies", "token lifetime policies"),
        _token_policies(
            "tokenLifetimePolicies.item", "policies/tokenLifetimePolicies/{id}", "one token lifetime policy"
        ),
        _directory(
            "tokenLifetimePolicies.appliesTo",
            "policies/tokenLifetimePolicies/{id}/appliesTo",
            "the applications a token lifetime policy applies to",
            permissions=(POLICIES, APPLICATION),
            accepted=(TOKEN_POLICY_ACCEPTED, ACCEPTED[APPLICATION]),
        ),
    )


def _report_endpoints() -> tuple[GraphEndpoint, ...]:
    """Sign-in logs (§4), service principal sign-in activity (§3) and Identity Protection (§5)."""
    activity = "reports/servicePrincipalSignInActivities"
    return (
        _reports("signIns", "auditLogs/signIns", "sign-in logs", versions=BOTH, page_max=1000),
        _reports("signIns.item", "auditLogs/signIns/{id}", "one sign-in", versions=BOTH, page_max=1000),
        _reports(
            "servicePrincipalSignInActivities",
            activity,
            "when each service principal last signed in",
            versions=BETA,
            page_max=999,
        ),
        _reports(
            "servicePrincipalSignInActivities.item",
            f"{activity}/{{id}}",
            "when one service principal last signed in",
            versions=BETA,
            page_max=999,
        ),
        _protection(
            "riskyUsers", "identityProtection/riskyUsers", "users at risk", permissions=(RISKY_USERS,)
        ),
        _protection(
            "riskyUsers.item",
            "identityProtection/riskyUsers/{id}",
            "one risky user",
            permissions=(RISKY_USERS,),
        ),
        _protection(
            "riskDetections",
            "identityProtection/riskDetections",
            "risk detections",
            permissions=(RISK_EVENTS,),
        ),
        _protection(
            "riskDetections.item",
            "identityProtection/riskDetections/{id}",
            "one risk detection",
            permissions=(RISK_EVENTS,),
        ),
    )


def _policy_and_review_endpoints() -> tuple[GraphEndpoint, ...]:
    """Conditional Access (§8) and access reviews (§7)."""
    return (
        _access(
            "conditionalAccessPolicies", "identity/conditionalAccess/policies", "Conditional Access policies"
        ),
        _access(
            "conditionalAccessPolicies.item",
            "identity/conditionalAccess/policies/{id}",
            "one Conditional Access policy",
        ),
        _access("namedLocations", "identity/conditionalAccess/namedLocations", "named locations"),
        _access(
            "namedLocations.item", "identity/conditionalAccess/namedLocations/{id}", "one named location"
        ),
        _reviews("accessReviewDefinitions", _DEFINITIONS, "access review definitions"),
        _reviews("accessReviewDefinitions.item", f"{_DEFINITIONS}/{{id}}", "one access review definition"),
        _reviews(
            "accessReviewInstances", f"{_DEFINITIONS}/{{id}}/instances", "the instances of an access review"
        ),
        _reviews(
            "accessReviewInstances.item",
            f"{_DEFINITIONS}/{{id}}/instances/{{instance}}",
            "one access review instance",
        ),
    )


ENDPOINTS: tuple[GraphEndpoint, ...] = (
    *_application_endpoints(),
    *_directory_endpoints(),
    *_report_endpoints(),
    *_policy_and_review_endpoints(),
)


def least_privilege_permissions() -> tuple[str, ...]:
    """Every application permission the monitor needs, distinct and sorted: grant these (and
    nothing else) to the monitor's identity."""
    return tuple(sorted({permission for endpoint in ENDPOINTS for permission in endpoint.permissions}))


def find_endpoint(version: str, path: str) -> GraphEndpoint | None:
    """The endpoint serving ``path`` in ``version`` (``"v1.0"`` or ``"beta"``), or None.

    ``path`` is relative to the version root, e.g. ``"servicePrincipals/6f0c…/appRoleAssignedTo"``
    or ``"applications(appId='…')"``; a leading or trailing ``/`` and a query string are ignored,
    and percent-escapes are decoded. Literal segments match case-insensitively, as Graph does.
    One dictionary look-up and one precompiled regex per call.
    """
    path = path.partition("?")[0].strip("/")
    if "%" in path:
        path = unquote(path)
    routes = _routes().get((version.lower(), _head(path)))
    if routes is None:
        return None
    pattern, endpoints = routes
    found = pattern.fullmatch(path)
    return None if found is None or found.lastgroup is None else endpoints[found.lastgroup]


def _head(path: str) -> str:
    """The first segment up to ``(``, lower-cased: what the route table is keyed on."""
    return re.split(r"[/(]", path, maxsplit=1)[0].lower()


def _pattern(path: str) -> str:
    """``servicePrincipals/{id}/appRoleAssignedTo`` → a regex; a placeholder is one segment (or a
    quoted key value) that does not start with ``$``, so ``applications/$count`` is no id."""
    parts = re.split(r"\{\w+\}", path)
    return r"(?!\$)[^/']+".join(re.escape(part) for part in parts)


@functools.cache
def _routes() -> dict[tuple[str, str], tuple[re.Pattern[str], dict[str, GraphEndpoint]]]:
    """Per (version, first segment): one alternation of the endpoints' patterns, each in a named
    group so ``lastgroup`` says which endpoint matched."""
    grouped: dict[tuple[str, str], list[GraphEndpoint]] = {}
    for endpoint in ENDPOINTS:
        for version in endpoint.versions:
            grouped.setdefault((version, _head(endpoint.path)), []).append(endpoint)
    routes: dict[tuple[str, str], tuple[re.Pattern[str], dict[str, GraphEndpoint]]] = {}
    for key, endpoints in grouped.items():
        names = {f"endpoint{number}": endpoint for number, endpoint in enumerate(endpoints)}
        alternatives = "|".join(f"(?P<{name}>{_pattern(e.path)})" for name, e in names.items())
        routes[key] = (re.compile(alternatives, re.IGNORECASE), names)
    return routes


def permissions_document() -> dict[str, object]:
    """The table as JSON-ready data (``entra-monitor permissions --format json``; shape in
    ``docs/permissions.md``): endpoints in table order, lists sorted, then the permissions to grant."""
    return {
        "formatVersion": 1,
        "endpoints": [
            {
                "name": endpoint.name,
                "method": "GET",
                "versions": sorted(endpoint.versions),
                "path": endpoint.path,
                "permissions": list(endpoint.permissions),
                "accepted": [sorted(choices) for choices in endpoint.accepted],
                "licence": endpoint.licence,
                "family": endpoint.family,
                "isCollection": endpoint.is_collection,
                "pageMax": endpoint.page_max,
                "paging": endpoint.paging,
                "description": endpoint.description,
            }
            for endpoint in ENDPOINTS
        ],
        "permissions": list(least_privilege_permissions()),
    }
