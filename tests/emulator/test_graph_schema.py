"""Every object the session emulator serves conforms to the published Microsoft Graph metadata.

Each collection endpoint of ``emulator/graph/endpoints.py`` is paged to its end over HTTPS (v1.0
and beta, every service principal's, policy's and review's sub-collection), and every item
endpoint is read for representative objects; each object is checked with ``GraphSchema``
against the v1.0 CSDL (types, nullability, enum members) or the beta property names. Properties
the metadata declares but the emulator leaves out must be exactly the ones Graph itself returns
only on ``$select`` (listed below with the documentation that says so).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulator.graph.endpoints import ENDPOINTS, match
from tests.support.emulator import RunningEmulator, collect
from tests.support.graph_schema import GraphSchema, metadata_directory

JsonObject = dict[str, Any]

# Top-level collections: (version, path, declared item type).
TOP_LEVEL: tuple[tuple[str, str, str], ...] = (
    ("v1.0", "applications", "application"),
    ("v1.0", "servicePrincipals", "servicePrincipal"),
    ("v1.0", "oauth2PermissionGrants", "oAuth2PermissionGrant"),
    ("v1.0", "users", "user"),
    ("v1.0", "groups", "group"),
    ("v1.0", "auditLogs/signIns", "signIn"),
    ("beta", "auditLogs/signIns", "signIn"),
    ("beta", "reports/servicePrincipalSignInActivities", "servicePrincipalSignInActivity"),
    ("v1.0", "identityProtection/riskyUsers", "riskyUser"),
    ("v1.0", "identityProtection/riskDetections", "riskDetection"),
    ("v1.0", "policies/tokenLifetimePolicies", "tokenLifetimePolicy"),
    ("v1.0", "identity/conditionalAccess/policies", "conditionalAccessPolicy"),
    ("v1.0", "identity/conditionalAccess/namedLocations", "namedLocation"),
    ("v1.0", "identityGovernance/accessReviews/definitions", "accessReviewScheduleDefinition"),
)
TOP_LEVEL_IDS = [f"{version} {path}" for version, path, _type in TOP_LEVEL]
DEFINITIONS = "identityGovernance/accessReviews/definitions"
# Sub-collections, read for every parent: (path template, item type, parent path, parent key).
CHILDREN: tuple[tuple[str, str, str, str], ...] = (
    ("servicePrincipals/{id}/appRoleAssignedTo", "appRoleAssignment", "servicePrincipals", "id"),
    (
        "servicePrincipals(appId='{appId}')/appRoleAssignedTo",
        "appRoleAssignment",
        "servicePrincipals",
        "appId",
    ),
    ("servicePrincipals/{id}/appRoleAssignments", "appRoleAssignment", "servicePrincipals", "id"),
    ("servicePrincipals/{id}/oauth2PermissionGrants", "oAuth2PermissionGrant", "servicePrincipals", "id"),
    (
        "policies/tokenLifetimePolicies/{id}/appliesTo",
        "directoryObject",
        "policies/tokenLifetimePolicies",
        "id",
    ),
    (f"{DEFINITIONS}/{{id}}/instances", "accessReviewInstance", DEFINITIONS, "id"),
)
# Item endpoints: (version, path template, item type, listing it comes from, key in the listing).
ITEMS: tuple[tuple[str, str, str, str, str], ...] = (
    ("v1.0", "applications/{id}", "application", "/v1.0/applications", "id"),
    ("v1.0", "applications(appId='{appId}')", "application", "/v1.0/applications", "appId"),
    ("v1.0", "servicePrincipals/{id}", "servicePrincipal", "/v1.0/servicePrincipals", "id"),
    ("v1.0", "servicePrincipals(appId='{appId}')", "servicePrincipal", "/v1.0/servicePrincipals", "appId"),
    ("v1.0", "oauth2PermissionGrants/{id}", "oAuth2PermissionGrant", "/v1.0/oauth2PermissionGrants", "id"),
    ("v1.0", "users/{id}", "user", "/v1.0/users", "id"),
    ("v1.0", "groups/{id}", "group", "/v1.0/groups", "id"),
    ("v1.0", "auditLogs/signIns/{id}", "signIn", "/v1.0/auditLogs/signIns", "id"),
    ("beta", "auditLogs/signIns/{id}", "signIn", "/beta/auditLogs/signIns", "id"),
    (
        "beta",
        "reports/servicePrincipalSignInActivities/{id}",
        "servicePrincipalSignInActivity",
        "/beta/reports/servicePrincipalSignInActivities",
        "id",
    ),
    ("v1.0", "identityProtection/riskyUsers/{id}", "riskyUser", "/v1.0/identityProtection/riskyUsers", "id"),
    (
        "v1.0",
        "identityProtection/riskDetections/{id}",
        "riskDetection",
        "/v1.0/identityProtection/riskDetections",
        "id",
    ),
    (
        "v1.0",
        "policies/tokenLifetimePolicies/{id}",
        "tokenLifetimePolicy",
        "/v1.0/policies/tokenLifetimePolicies",
        "id",
    ),
    (
        "v1.0",
        "identity/conditionalAccess/policies/{id}",
        "conditionalAccessPolicy",
        "/v1.0/identity/conditionalAccess/policies",
        "id",
    ),
    (
        "v1.0",
        "identity/conditionalAccess/namedLocations/{id}",
        "namedLocation",
        "/v1.0/identity/conditionalAccess/namedLocations",
        "id",
    ),
    ("v1.0", f"{DEFINITIONS}/{{id}}", "accessReviewScheduleDefinition", f"/v1.0/{DEFINITIONS}", "id"),
)

# What GET /users returns unless $select names more: "By default, only a limited set of
# properties are returned (businessPhones, displayName, givenName, id, jobTitle, mail,
# mobilePhone, officeLocation, preferredLanguage, surname, and userPrincipalName)" (user
# resource doc, microsoft-graph-docs-contrib api-reference/v1.0/resources/user.md).
USER_DEFAULT_PROPERTIES = frozenset(
    {
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    }
)
# Group properties the group resource doc marks "Returned only on $select" (or "never returned
# on a GET": hasMembersWithLicenseErrors, isArchived), and the newer ones absent from every
# documented and observed default response (group-get example 1, `az ad group list` output).
GROUP_SELECT_ONLY = frozenset(
    {
        "accessType",
        "allowExternalSenders",
        "assignedLabels",
        "assignedLicenses",
        "autoSubscribeNewMembers",
        "hasMembersWithLicenseErrors",
        "hideFromAddressLists",
        "hideFromOutlookClients",
        "infoCatalogs",
        "isArchived",
        "isFavorite",
        "isManagementRestricted",
        "isSubscribedByMail",
        "licenseProcessingState",
        "onPremisesExtensionAttributes",
        "organizationId",
        "unseenConversationsCount",
        "unseenCount",
        "unseenMessagesCount",
        "welcomeMessageEnabled",
    }
)
# application.md: authenticationBehaviors "Nullable. Returned only on $select."
# serviceprincipal.md: customSecurityAttributes "Nullable. Returned only on $select."
SELECT_ONLY: Mapping[str, frozenset[str]] = {
    "application": frozenset({"authenticationBehaviors"}),
    "servicePrincipal": frozenset({"customSecurityAttributes"}),
    "group": GROUP_SELECT_ONLY,
}
# application.logo is an Edm.Stream: its bytes are read from /applications/{id}/logo and never
# inlined, so it is not selected below (missing_properties already leaves streams out).
STREAMS: Mapping[str, frozenset[str]] = {"application": frozenset({"logo"})}
NAMED_LOCATION_TYPES = ("ipNamedLocation", "countryNamedLocation")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
LOOKS_LIKE_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T")
UTC_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z")
# Enum types of beta-only signIn properties (beta signIn resource doc). The beta metadata lists
# members but not their order, so only membership can be checked for these.
BETA_SIGN_IN_ENUMS: Mapping[str, str] = {
    "appTokenProtectionStatus": "tokenProtectionStatus",
    "authenticationProtocol": "protocolType",
    "clientCredentialType": "clientCredentialType",
    "crossTenantAccessType": "signInAccessType",
    "incomingTokenType": "incomingTokenType",
    "originalTransferMethod": "originalTransferMethods",
    "signInIdentifierType": "signInIdentifierType",
    "signInTokenProtectionStatus": "tokenProtectionStatus",
    "tokenIssuerType": "tokenIssuerType",
    "userType": "signInUserType",
}


@dataclass(frozen=True)
class Served:
    """One collection URL as served: the objects of all its pages."""

    version: str
    url: str
    pattern: str
    type_name: str
    objects: tuple[JsonObject, ...]


@pytest.fixture(scope="module")
def schema() -> GraphSchema:
    return GraphSchema.load()


@pytest.fixture(scope="module")
def graph(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with emulator.graph() as client:
        yield client


@pytest.fixture(scope="module")
def served(graph: httpx.Client) -> list[Served]:
    """Every collection URL, paged to its end: top-level ones, then every parent's children."""
    listings: list[Served] = []
    by_path: dict[str, Served] = {}
    for version, path, type_name in TOP_LEVEL:
        listing = _read(graph, version, path, type_name)
        listings.append(listing)
        by_path.setdefault(path, listing)
    for template, type_name, parent_path, key in CHILDREN:
        for parent in by_path[parent_path].objects:
            path = template.replace(f"{{{key}}}", parent[key])
            listings.append(_read(graph, "v1.0", path, type_name))
    return listings


def _read(graph: httpx.Client, version: str, path: str, type_name: str) -> Served:
    found = match(version, path)
    assert found is not None, f"no endpoint serves /{version}/{path}"
    objects, _requests = collect(graph, f"/{version}/{path}")
    return Served(version, f"/{version}/{path}", found[0].pattern, type_name, tuple(objects))


def _listing(served: list[Served], url: str) -> Served:
    return next(listing for listing in served if listing.url == url)


def _runtime_type(obj: Mapping[str, Any], declared: str) -> str:
    annotation = obj.get("@odata.type")
    return annotation.rpartition(".")[2] if isinstance(annotation, str) else declared


def _not_returned_by_default(schema: GraphSchema, type_name: str, version: str) -> list[str]:
    if type_name == "user":
        return sorted(schema.property_names("user", version) - USER_DEFAULT_PROPERTIES)
    return sorted(SELECT_ONLY.get(type_name, frozenset()))


def _selectable(schema: GraphSchema, type_name: str, version: str) -> list[str]:
    types = NAMED_LOCATION_TYPES if type_name == "namedLocation" else (type_name,)
    names: set[str] = set()
    for name in types:
        names |= schema.property_names(name, version) - STREAMS.get(name, frozenset())
    return sorted(names)


def _values(value: object) -> Iterator[tuple[str, object]]:
    """Every scalar in a JSON document, with its JSON pointer."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            for pointer, scalar in _values(item):
                yield f"/{key}{pointer}", scalar
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for pointer, scalar in _values(item):
                yield f"/{index}{pointer}", scalar
    else:
        yield "", value


# -- coverage ------------------------------------------------------------------------------


def test_every_collection_endpoint_is_read(served: list[Served]) -> None:
    table = {
        (version, endpoint.pattern)
        for endpoint in ENDPOINTS
        if endpoint.is_collection
        for version in endpoint.versions
    }
    read = {(listing.version, listing.pattern) for listing in served}
    assert read == table


def test_every_item_endpoint_is_read() -> None:
    table = {
        (version, endpoint.pattern)
        for endpoint in ENDPOINTS
        if not endpoint.is_collection and not endpoint.name.endswith(".count")
        for version in endpoint.versions
    }
    read = {(version, template) for version, template, *_ in ITEMS}
    read.add(("v1.0", f"{DEFINITIONS}/{{id}}/instances/{{instance}}"))  # read in the item test
    assert read == table


def test_collections_are_not_empty_where_the_tenant_has_objects(served: list[Served]) -> None:
    """The checks below would pass vacuously on empty listings: every top-level collection of
    the small tenant has objects, and so does at least one child listing of each kind."""
    counts: dict[str, int] = {}
    for listing in served:
        name = f"{listing.version} {listing.pattern}"
        counts[name] = counts.get(name, 0) + len(listing.objects)
    assert sorted(name for name, count in counts.items() if count == 0) == []


# -- the metadata --------------------------------------------------------------------------


def test_every_served_object_conforms_to_the_metadata(schema: GraphSchema, served: list[Served]) -> None:
    problems = [
        f"{listing.url} {obj.get('id')}: {problem}"
        for listing in served
        for obj in listing.objects
        for problem in schema.validate(obj, listing.type_name, listing.version)
    ]
    assert problems == []


def test_only_select_only_properties_are_left_out(schema: GraphSchema, served: list[Served]) -> None:
    """An object lacks exactly the properties Graph returns only on $select: no declared
    default property is missing, and no $select-only one is sent by default."""
    wrong = []
    for listing in served:
        for obj in listing.objects:
            runtime = _runtime_type(obj, listing.type_name)
            missing = schema.missing_properties(obj, listing.type_name, listing.version)
            expected = _not_returned_by_default(schema, runtime, listing.version)
            if missing != expected:
                wrong.append((listing.url, obj.get("id"), sorted(set(missing) ^ set(expected))))
    assert wrong == []


def test_item_gets_conform_and_match_the_listing(
    schema: GraphSchema, served: list[Served], graph: httpx.Client
) -> None:
    """GET of one object returns the object its listing holds (first and last of each)."""
    problems: list[str] = []
    for version, template, type_name, listing_url, key in ITEMS:
        objects = _listing(served, listing_url).objects
        for obj in {obj["id"]: obj for obj in (objects[0], objects[-1])}.values():
            url = f"/{version}/" + template.replace(f"{{{key}}}", obj[key])
            problems += _item_problems(schema, graph, url, type_name, version, obj)
    for definition in _listing(served, f"/v1.0/{DEFINITIONS}").objects:
        instances = _listing(served, f"/v1.0/{DEFINITIONS}/{definition['id']}/instances").objects
        for instance in instances[:1]:
            url = f"/v1.0/{DEFINITIONS}/{definition['id']}/instances/{instance['id']}"
            problems += _item_problems(schema, graph, url, "accessReviewInstance", "v1.0", instance)
    assert problems == []


def _item_problems(
    schema: GraphSchema, graph: httpx.Client, url: str, type_name: str, version: str, listed: JsonObject
) -> list[str]:
    response = graph.get(url)
    if response.status_code != 200:
        return [f"{url}: HTTP {response.status_code}"]
    body = response.json()
    context = body.pop("@odata.context")
    problems = [f"{url}: {problem}" for problem in schema.validate(body, type_name, version)]
    if not context.endswith("/$entity"):
        problems.append(f"{url}: @odata.context {context!r} does not end in /$entity")
    if body != listed:
        problems.append(f"{url}: differs from its listing")
    return problems


@pytest.mark.parametrize(("version", "path", "type_name"), TOP_LEVEL, ids=TOP_LEVEL_IDS)
def test_selecting_every_property_returns_each_with_its_type(
    schema: GraphSchema, served: list[Served], graph: httpx.Client, version: str, path: str, type_name: str
) -> None:
    names = _selectable(schema, type_name, version)
    response = graph.get(f"/{version}/{path}", params={"$select": ",".join(names), "$top": "10"})
    assert response.status_code == 200, response.text
    objects = response.json()["value"]
    listed = _listing(served, f"/{version}/{path}").objects[:10]
    assert [obj["id"] for obj in objects] == [obj["id"] for obj in listed]
    problems = [problem for obj in objects for problem in schema.validate(obj, type_name, version)]
    assert problems == []
    for obj in objects:
        declared = schema.property_names(_runtime_type(obj, type_name), version)
        assert sorted(key for key in obj if not key.startswith("@")) == sorted(declared & set(names))


@pytest.mark.parametrize(("version", "path", "type_name"), TOP_LEVEL, ids=TOP_LEVEL_IDS)
def test_selecting_one_property_returns_only_it(
    schema: GraphSchema, graph: httpx.Client, version: str, path: str, type_name: str
) -> None:
    wrong: list[tuple[object, ...]] = []
    for name in _selectable(schema, type_name, version):
        response = graph.get(f"/{version}/{path}", params={"$select": name, "$top": "4"})
        body = response.json()
        if response.status_code != 200 or not body["@odata.context"].endswith(f"#{path}({name})"):
            wrong.append((name, response.status_code, body.get("@odata.context")))
            continue
        for obj in body["value"]:
            declared = schema.property_names(_runtime_type(obj, type_name), version)
            keys = sorted(key for key in obj if not key.startswith("@"))
            problems = schema.validate(obj, type_name, version)
            if keys != sorted({name} & declared) or problems:
                wrong.append((name, keys, problems))
    assert wrong == []


# -- versions ------------------------------------------------------------------------------


def test_beta_only_sign_in_properties_never_appear_on_v1(
    schema: GraphSchema, served: list[Served], graph: httpx.Client
) -> None:
    beta_only = schema.property_names("signIn", "beta") - schema.property_names("signIn", "v1.0")
    assert {"authenticationRequirement", "signInEventTypes", "authenticationDetails"} <= beta_only
    v1_sign_ins = _listing(served, "/v1.0/auditLogs/signIns").objects
    assert [obj["id"] for obj in v1_sign_ins if beta_only & obj.keys()] == []
    rejected = {
        name: graph.get("/v1.0/auditLogs/signIns", params={"$select": name, "$top": "1"}).status_code
        for name in sorted(beta_only)
    }
    assert rejected == dict.fromkeys(sorted(beta_only), 400)


def test_deprecated_risk_event_types_never_appear_on_beta(
    schema: GraphSchema, served: list[Served], graph: httpx.Client
) -> None:
    assert "riskEventTypes" in schema.property_names("signIn", "v1.0")
    assert "riskEventTypes" not in schema.property_names("signIn", "beta")
    beta_sign_ins = _listing(served, "/beta/auditLogs/signIns").objects
    assert [obj["id"] for obj in beta_sign_ins if "riskEventTypes" in obj] == []
    response = graph.get("/beta/auditLogs/signIns", params={"$select": "id,riskEventTypes", "$top": "1"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_one_sign_in_differs_between_versions_only_in_their_own_properties(
    schema: GraphSchema, served: list[Served], graph: httpx.Client
) -> None:
    sign_in_id = _listing(served, "/v1.0/auditLogs/signIns").objects[0]["id"]
    v1 = graph.get(f"/v1.0/auditLogs/signIns/{sign_in_id}").json()
    beta = graph.get(f"/beta/auditLogs/signIns/{sign_in_id}").json()
    v1_names = schema.property_names("signIn", "v1.0")
    beta_names = schema.property_names("signIn", "beta")
    assert sorted(set(v1) - {"@odata.context"}) == sorted(v1_names)
    assert sorted(set(beta) - {"@odata.context"}) == sorted(beta_names)
    shared = v1_names & beta_names
    assert {name: v1[name] for name in shared} == {name: beta[name] for name in shared}


# -- values --------------------------------------------------------------------------------


def test_timestamps_are_utc_with_z(served: list[Served]) -> None:
    wrong = [
        (listing.url, obj.get("id"), pointer, value)
        for listing in served
        for obj in listing.objects
        for pointer, value in _values(obj)
        if isinstance(value, str) and LOOKS_LIKE_TIMESTAMP.match(value) and not UTC_TIMESTAMP.fullmatch(value)
    ]
    assert wrong == []


def test_guids_are_lowercase(served: list[Served]) -> None:
    wrong = [
        (listing.url, pointer, value)
        for listing in served
        for obj in listing.objects
        for pointer, value in _values(obj)
        if isinstance(value, str) and GUID.fullmatch(value) and value != value.lower()
    ]
    assert wrong == []


def test_no_evolvable_enum_member_without_prefer_header(schema: GraphSchema, served: list[Served]) -> None:
    """Members declared after unknownFutureValue are sent only to clients asking for them
    (``Prefer: include-unknown-enum-members``); the emulator's requests never ask. Beta sign-ins
    are checked through the properties v1.0 declares too, whose member order v1.0 gives."""
    gated = [
        (listing.url, obj.get("id"), problem)
        for listing in served
        if listing.version == "v1.0"
        for obj in listing.objects
        for problem in schema.validate(obj, listing.type_name, "v1.0")
        if "unknownFutureValue" in problem
    ]
    shared = schema.property_names("signIn", "v1.0") & schema.property_names("signIn", "beta")
    beta_as_v1 = [
        (obj["id"], problem)
        for obj in _listing(served, "/beta/auditLogs/signIns").objects
        for problem in schema.validate({name: obj[name] for name in shared}, "signIn", "v1.0")
    ]
    assert (gated, beta_as_v1) == ([], [])


def test_beta_only_sign_in_enums_hold_members_of_their_beta_enum(served: list[Served]) -> None:
    members = _beta_enum_members()
    wrong = [
        (obj["id"], name, obj[name])
        for obj in _listing(served, "/beta/auditLogs/signIns").objects
        for name, enum in BETA_SIGN_IN_ENUMS.items()
        # crossTenantAccessType and incomingTokenType are flags: members joined by commas.
        if not {part.strip() for part in str(obj[name]).split(",")} <= members[enum]
        or "unknownFutureValue" in str(obj[name])
    ]
    assert wrong == []


def _beta_enum_members() -> dict[str, set[str]]:
    with (metadata_directory() / "beta-enum-types.json").open(encoding="utf-8") as file:
        enums: dict[str, dict[str, list[str]]] = json.load(file)
    return {name: set(values) for name, values in enums["microsoft.graph"].items()}
