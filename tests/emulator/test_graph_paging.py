"""Paging every Graph collection the emulator serves (graph-facts §0, §1, §4, §5, §7).

Each listing is read through ``@odata.nextLink`` and compared, id by id and in order, with a scan
of the same collection in the reference tenant; page sizes, request counts, ``$top`` limits and
``$skiptoken`` validation are checked against the documented behaviour.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from emulator.graph.endpoints import ENDPOINTS
from emulator.tenant.base import Collection, GraphObject
from emulator.tenant.model import Tenant
from tests.conftest import NOW, SEED
from tests.support.emulator import RunningEmulator, start_emulator

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
DEFINITIONS = "identityGovernance/accessReviews/definitions"
REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ERROR_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


# -- the reference tenant ----------------------------------------------------------------------


def scan(collection: Collection) -> list[GraphObject]:
    return [obj for _key, obj in collection.scan(None, None)]


def graph_service_principal(tenant: Tenant) -> GraphObject:
    return next(sp for sp in scan(tenant.service_principals) if sp["appId"] == GRAPH_APP_ID)


def busiest_client_position(tenant: Tenant) -> int:
    """The service principal holding the most application permissions."""
    positions = range(tenant.service_principals.count())
    return max(positions, key=lambda position: len(tenant.consents.assignments_of(position)))


def busiest_client(tenant: Tenant) -> str:
    return str(tenant.service_principals.at(busiest_client_position(tenant))["id"])


def busiest_grant_client(tenant: Tenant) -> str:
    """The object id of the client with the most delegated grants."""
    clients = Counter(grant["clientId"] for grant in scan(tenant.grants))
    return str(clients.most_common(1)[0][0])


def grants_of(tenant: Tenant, client_id: str) -> list[GraphObject]:
    return [grant for grant in scan(tenant.grants) if grant["clientId"] == client_id]


def targeted_policy(tenant: Tenant) -> str:
    """A token-lifetime policy that applies to at least one application."""
    return next(policy_id for policy_id, targets in tenant.governance.applies_to.items() if targets)


def recurring_definition(tenant: Tenant) -> str:
    """The access review with the most instances."""
    return max(tenant.review_instances, key=lambda definition: tenant.review_instances[definition].count())


# -- the listings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """One collection endpoint: where it is, what the reference says it holds, how it pages."""

    name: str
    version: str
    path: Callable[[Tenant], str]
    """After ``/{version}/``."""
    objects: Callable[[Tenant], list[GraphObject]]
    context: Callable[[Tenant], str]
    """``@odata.context`` after ``$metadata#``."""
    page_default: int
    page_max: int
    paging: str = "skiptoken"


def _fixed(text: str) -> Callable[[Tenant], str]:
    return lambda _tenant: text


def _listing(
    name: str,
    path: str,
    objects: Callable[[Tenant], list[GraphObject]],
    *,
    version: str = "v1.0",
    context: str | None = None,
    page: tuple[int, int] = (100, 999),
) -> Listing:
    """A listing at a path without ids; the context is the path unless given."""
    return Listing(name, version, _fixed(path), objects, _fixed(context or path), *page)


SIGN_IN_PAGES = (1000, 1000)  # graph-facts §4: default and maximum 1,000
PROTECTION_PAGES = (20, 500)  # graph-facts §5: riskDetections default 20, both max 500
REVIEW_PAGES = (100, 100)  # graph-facts §7: default 100 ($skip/$top paging)

LISTINGS: tuple[Listing, ...] = (
    _listing("applications", "applications", lambda t: scan(t.applications)),
    _listing("servicePrincipals", "servicePrincipals", lambda t: scan(t.service_principals)),
    _listing("oauth2PermissionGrants", "oauth2PermissionGrants", lambda t: scan(t.grants)),
    _listing("users", "users", lambda t: scan(t.users)),
    _listing("groups", "groups", lambda t: scan(t.groups)),
    _listing("signIns", "auditLogs/signIns", lambda t: scan(t.sign_ins), page=SIGN_IN_PAGES),
    _listing(
        "signIns.beta", "auditLogs/signIns", lambda t: scan(t.sign_ins), version="beta", page=SIGN_IN_PAGES
    ),
    _listing(
        "servicePrincipalSignInActivities",
        "reports/servicePrincipalSignInActivities",
        lambda t: scan(t.activity),
        version="beta",
    ),
    _listing(
        "riskyUsers", "identityProtection/riskyUsers", lambda t: scan(t.risky_users), page=PROTECTION_PAGES
    ),
    _listing(
        "riskDetections",
        "identityProtection/riskDetections",
        lambda t: scan(t.risk_detections),
        page=PROTECTION_PAGES,
    ),
    _listing(
        "tokenLifetimePolicies", "policies/tokenLifetimePolicies", lambda t: scan(t.token_lifetime_policies)
    ),
    Listing(
        "tokenLifetimePolicies.appliesTo",
        "v1.0",
        lambda t: f"policies/tokenLifetimePolicies/{targeted_policy(t)}/appliesTo",
        lambda t: t.governance.applies_to[targeted_policy(t)],
        _fixed("directoryObjects"),
        100,
        999,
    ),
    _listing(
        "conditionalAccessPolicies",
        "identity/conditionalAccess/policies",
        lambda t: scan(t.conditional_access_policies),
    ),
    _listing(
        "namedLocations", "identity/conditionalAccess/namedLocations", lambda t: scan(t.named_locations)
    ),
    Listing(
        "accessReviewDefinitions",
        "v1.0",
        _fixed(DEFINITIONS),
        lambda t: scan(t.review_definitions),
        _fixed(DEFINITIONS),
        *REVIEW_PAGES,
        paging="skip",
    ),
    Listing(
        "accessReviewInstances",
        "v1.0",
        lambda t: f"{DEFINITIONS}/{recurring_definition(t)}/instances",
        lambda t: scan(t.review_instances[recurring_definition(t)]),
        lambda t: f"{DEFINITIONS}('{recurring_definition(t)}')/instances",
        *REVIEW_PAGES,
        paging="skip",
    ),
    Listing(
        "servicePrincipals.appRoleAssignedTo",
        "v1.0",
        lambda t: f"servicePrincipals/{graph_service_principal(t)['id']}/appRoleAssignedTo",
        lambda t: scan(t.assigned_to(graph_service_principal(t)["id"])),
        lambda t: f"servicePrincipals('{graph_service_principal(t)['id']}')/appRoleAssignedTo",
        100,
        999,
    ),
    Listing(
        "servicePrincipals.appRoleAssignments",
        "v1.0",
        lambda t: f"servicePrincipals/{busiest_client(t)}/appRoleAssignments",
        lambda t: t.consents.assignments_of(busiest_client_position(t)),
        lambda t: f"servicePrincipals('{busiest_client(t)}')/appRoleAssignments",
        100,
        999,
    ),
    Listing(
        "servicePrincipals.oauth2PermissionGrants",
        "v1.0",
        lambda t: f"servicePrincipals/{busiest_grant_client(t)}/oauth2PermissionGrants",
        lambda t: grants_of(t, busiest_grant_client(t)),
        _fixed("oauth2PermissionGrants"),
        100,
        999,
    ),
)
BY_NAME = {listing.name: listing for listing in LISTINGS}
LARGE = frozenset({"signIns", "signIns.beta"})
"""Too long to read one object per request; see the time-window test instead."""


def _ids(objects: list[GraphObject]) -> list[str]:
    return [str(obj["id"]) for obj in objects]


def non_divisor(count: int) -> int:
    """A page size that leaves a partial last page (about a dozen pages)."""
    size = max(3, count // 12)
    while count % size == 0:
        size += 1
    return size


def page_size(kind: str, listing: Listing, count: int) -> int | None:
    """The ``$top`` of a run: one, a non-divisor of the count, the default (None) or the maximum."""
    sizes = {"one": 1, "non-divisor": non_divisor(count), "default": None, "maximum": listing.page_max}
    return sizes[kind]


def read_pages(
    graph: httpx.Client, url: str, limit: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every page of a listing, following ``@odata.nextLink``; fails after ``limit`` pages."""
    pages: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        assert len(pages) < limit, f"more than {limit} pages from {url}"
        response = graph.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        next_url = pages[-1].get("@odata.nextLink")
    return pages


def assert_graph_error(response: httpx.Response, status: int, code: str, message: str) -> None:
    """The exact Graph error body of graph-facts §10, its ids matching the response headers."""
    assert response.status_code == status, response.text
    body = response.json()
    inner = body["error"]["innerError"]
    assert ERROR_DATE.match(inner["date"]), inner
    assert REQUEST_ID.match(response.headers["request-id"])
    assert body == {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": inner["date"],
                "request-id": response.headers["request-id"],
                "client-request-id": response.headers["client-request-id"],
            },
        }
    }


def bad_request_code(listing: Listing) -> str:
    """Directory endpoints answer ``Request_BadRequest``, the others ``BadRequest``."""
    endpoint = next(e for e in ENDPOINTS if e.name == listing.name.removesuffix(".beta"))
    return "Request_BadRequest" if endpoint.family == "directory" else "BadRequest"


def page_runs() -> Iterator[Any]:
    for listing in LISTINGS:
        for kind in ("one", "non-divisor", "default", "maximum"):
            if kind == "one" and listing.name in LARGE:
                continue
            if kind == "maximum" and listing.page_max == listing.page_default:
                continue  # the default run reads the same pages
            yield pytest.param(listing, kind, id=f"{listing.name}-{kind}")


# -- tests -------------------------------------------------------------------------------------


def test_the_listings_cover_every_collection_endpoint() -> None:
    served = {(e.name, version) for e in ENDPOINTS if e.is_collection for version in e.versions}
    listed = {(listing.name.removesuffix(".beta"), listing.version) for listing in LISTINGS}
    assert listed == served


@pytest.mark.parametrize(("listing", "kind"), list(page_runs()))
def test_next_links_return_every_object_once_in_collection_order(
    emulator: RunningEmulator, reference: Tenant, listing: Listing, kind: str
) -> None:
    expected = _ids(listing.objects(reference))
    top = page_size(kind, listing, len(expected))
    size = top or listing.page_default
    pages_needed = max(1, math.ceil(len(expected) / size))
    url = f"/{listing.version}/{listing.path(reference)}" + ("" if top is None else f"?$top={top}")
    with emulator.graph() as graph:
        pages = read_pages(graph, url, limit=pages_needed + 1)
    assert [item["id"] for page in pages for item in page["value"]] == expected
    assert len(pages) == pages_needed
    assert [len(page["value"]) for page in pages[:-1]] == [size] * (pages_needed - 1)
    context = f"{emulator.base_url}/{listing.version}/$metadata#{listing.context(reference)}"
    assert [page["@odata.context"] for page in pages] == [context] * pages_needed


def test_graph_assignments_page_the_same_through_the_app_id_key(
    emulator: RunningEmulator, reference: Tenant
) -> None:
    expected = _ids(BY_NAME["servicePrincipals.appRoleAssignedTo"].objects(reference))
    url = f"/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')/appRoleAssignedTo?$top=50"
    with emulator.graph() as graph:
        pages = read_pages(graph, url, limit=math.ceil(len(expected) / 50))
    assert [item["id"] for page in pages for item in page["value"]] == expected


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_sign_in_pages_of_one_follow_the_log_through_a_time_window(
    emulator: RunningEmulator, reference: Tenant, version: str
) -> None:
    sign_ins = scan(reference.sign_ins)  # newest first, every time with seven fractional digits
    newest, oldest = sign_ins[1000]["createdDateTime"], sign_ins[1039]["createdDateTime"]
    expected = [s["id"] for s in sign_ins if oldest <= s["createdDateTime"] <= newest]
    assert len(expected) == 40
    window = f"createdDateTime ge {oldest} and createdDateTime le {newest}"
    url = f"/{version}/auditLogs/signIns?{urlencode({'$top': 1, '$filter': window})}"
    with emulator.graph() as graph:
        pages = read_pages(graph, url, limit=41)
    assert [[item["id"] for item in page["value"]] for page in pages] == [[id_] for id_ in expected]


# Listings holding more than one default page (the risk ones only in the larger tenant).
BEYOND_ONE_DEFAULT_PAGE = [
    "applications",
    "servicePrincipals",
    "oauth2PermissionGrants",
    "users",
    "signIns",
    "signIns.beta",
    "servicePrincipalSignInActivities",
    "servicePrincipals.appRoleAssignedTo",
    "riskyUsers",
    "riskDetections",
]


@pytest.mark.parametrize("name", BEYOND_ONE_DEFAULT_PAGE)
def test_a_listing_without_top_pages_by_the_documented_default(
    emulator: RunningEmulator,
    reference: Tenant,
    larger: RunningEmulator,
    larger_reference: Tenant,
    name: str,
) -> None:
    listing = BY_NAME[name]
    protection = name in ("riskyUsers", "riskDetections")
    running, tenant = (larger, larger_reference) if protection else (emulator, reference)
    assert len(listing.objects(tenant)) > listing.page_default
    with running.graph() as graph:
        body = graph.get(f"/{listing.version}/{listing.path(tenant)}").json()
    assert len(body["value"]) == listing.page_default
    assert dict(parse_qsl(urlsplit(body["@odata.nextLink"]).query)).keys() == {"$skiptoken"}


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda item: item.name)
def test_top_outside_one_to_the_maximum_is_a_bad_request(
    emulator: RunningEmulator, reference: Tenant, listing: Listing
) -> None:
    code = bad_request_code(listing)
    with emulator.graph() as graph:
        for value in (str(listing.page_max + 1), "0", "-1", "abc"):
            response = graph.get(f"/{listing.version}/{listing.path(reference)}", params={"$top": value})
            limits = f"Must be between 1 and {listing.page_max} inclusive."
            assert_graph_error(response, 400, code, f"Invalid page size specified: '{value}'. {limits}")


@pytest.mark.parametrize(
    "listing",
    [listing for listing in LISTINGS if listing.name != "tokenLifetimePolicies.appliesTo"],
    ids=lambda item: item.name,
)
def test_next_link_repeats_the_query_options_and_adds_where_to_resume(
    emulator: RunningEmulator, reference: Tenant, listing: Listing
) -> None:
    path = f"{listing.version}/{listing.path(reference)}"
    options = [("$select", "id"), ("$top", "1")]
    with emulator.graph() as graph:
        link = graph.get(f"/{path}", params=dict(options)).json()["@odata.nextLink"]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{emulator.base_url}/{path}"
    resumed = parse_qsl(parts.query, keep_blank_values=True)
    if listing.paging == "skip":
        assert resumed == [*options, ("$skip", "1")]
    else:
        assert resumed[:-1] == options
        assert resumed[-1][0] == "$skiptoken"


def test_next_link_keeps_filter_select_and_count_of_an_advanced_query(
    emulator: RunningEmulator, reference: Tenant
) -> None:
    users = scan(reference.users)
    expected = [user["id"] for user in users if not user["displayName"].lower().startswith("a")]
    options = [
        ("$count", "true"),
        ("$filter", "not(startsWith(displayName, 'A'))"),
        ("$select", "id,displayName"),
        ("$top", "7"),
    ]
    headers = {"ConsistencyLevel": "eventual"}
    with emulator.graph() as graph:
        pages = read_pages(graph, f"/v1.0/users?{urlencode(options)}", limit=len(users), headers=headers)
    links = [parse_qsl(urlsplit(page["@odata.nextLink"]).query) for page in pages[:-1]]
    assert [link[:-1] for link in links] == [options] * (len(pages) - 1)
    assert [item["id"] for page in pages for item in page["value"]] == expected
    assert pages[0]["@odata.count"] == len(expected)
    assert len(pages) == math.ceil(len(expected) / 7)


def test_review_next_link_carries_top_and_skip_when_the_request_had_no_top(
    emulator: RunningEmulator, reference: Tenant
) -> None:
    definitions = _ids(scan(reference.review_definitions))
    with emulator.graph() as graph:
        first = graph.get(f"/v1.0/{DEFINITIONS}", params={"$skip": "2", "$select": "id"}).json()
        second = graph.get(f"/v1.0/{DEFINITIONS}", params={"$top": "3", "$skip": "2"}).json()
    assert _ids(first["value"]) == definitions[2:]
    assert "@odata.nextLink" not in first
    assert _ids(second["value"]) == definitions[2:5]
    link = urlsplit(second["@odata.nextLink"])
    assert parse_qsl(link.query) == [("$top", "3"), ("$skip", "5")]


@pytest.mark.parametrize("value", ["abc", "-1"])
def test_an_invalid_skip_is_a_bad_request(emulator: RunningEmulator, value: str) -> None:
    with emulator.graph() as graph:
        response = graph.get(f"/v1.0/{DEFINITIONS}", params={"$skip": value})
    assert_graph_error(response, 400, "BadRequest", f"Invalid value '{value}' for query option '$skip'.")


def test_skip_is_refused_where_graph_pages_with_skiptokens(emulator: RunningEmulator) -> None:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/applications", params={"$skip": "5"})
    message = "Query option '$skip' is not supported on 'applications'."
    assert_graph_error(response, 400, "BadRequest", message)


INVALID_SKIPTOKEN = "The $skiptoken value is not valid for this request."
SKIPTOKEN_LISTINGS = ["applications", "signIns", "riskyUsers", "conditionalAccessPolicies"]


def _tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


@pytest.mark.parametrize("name", SKIPTOKEN_LISTINGS)
@pytest.mark.parametrize(
    "tamper",
    [_tampered, lambda _token: "not-a-token", lambda token: token[:-4]],
    ids=["one-character-changed", "not-a-token", "truncated"],
)
def test_a_tampered_skiptoken_is_a_bad_request(
    emulator: RunningEmulator, reference: Tenant, name: str, tamper: Callable[[str], str]
) -> None:
    listing = BY_NAME[name]
    path = f"/{listing.version}/{listing.path(reference)}"
    with emulator.graph() as graph:
        link = graph.get(path, params={"$top": "2"}).json()["@odata.nextLink"]
        token = dict(parse_qsl(urlsplit(link).query))["$skiptoken"]
        response = graph.get(path, params={"$top": "2", "$skiptoken": tamper(token)})
    assert_graph_error(response, 400, "Request_BadRequest", INVALID_SKIPTOKEN)


def test_a_skiptoken_reused_with_another_filter_is_a_bad_request(
    emulator: RunningEmulator,
) -> None:
    with emulator.graph() as graph:
        first = graph.get("/v1.0/users", params={"$filter": "accountEnabled eq true", "$top": "3"}).json()
        token = dict(parse_qsl(urlsplit(first["@odata.nextLink"]).query))["$skiptoken"]
        same = graph.get(
            "/v1.0/users", params={"$filter": "accountEnabled eq true", "$top": "3", "$skiptoken": token}
        )
        other = graph.get(
            "/v1.0/users", params={"$filter": "accountEnabled eq false", "$top": "3", "$skiptoken": token}
        )
    assert same.status_code == 200
    assert_graph_error(other, 400, "Request_BadRequest", INVALID_SKIPTOKEN)


def test_a_skiptoken_belongs_to_its_collection(emulator: RunningEmulator) -> None:
    with emulator.graph() as graph:
        first = graph.get("/v1.0/applications", params={"$top": "3"}).json()
        token = dict(parse_qsl(urlsplit(first["@odata.nextLink"]).query))["$skiptoken"]
        elsewhere = graph.get("/v1.0/servicePrincipals", params={"$top": "3", "$skiptoken": token})
        beta = graph.get("/beta/auditLogs/signIns", params={"$top": "3", "$skiptoken": token})
    assert_graph_error(elsewhere, 400, "Request_BadRequest", INVALID_SKIPTOKEN)
    assert_graph_error(beta, 400, "Request_BadRequest", INVALID_SKIPTOKEN)


# -- a tenant with enough risk to page ---------------------------------------------------------


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """Four times the session's sign-ins, and so five times its risky users and detections."""
    directory: Path = tmp_path_factory.mktemp("larger-emulator")
    scale = "small,signIns=20000"
    with start_emulator(
        directory, "--seed", str(SEED), "--now", NOW, "--scale", scale, "--throttling", "off"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def larger_reference(larger: RunningEmulator) -> Tenant:
    return larger.reference()


@pytest.mark.parametrize("name", ["riskyUsers", "riskDetections"])
@pytest.mark.parametrize("kind", ["one", "non-divisor", "maximum"])
def test_risk_listings_of_a_larger_tenant_page_completely(
    larger: RunningEmulator, larger_reference: Tenant, name: str, kind: str
) -> None:
    tenant = larger_reference
    listing = BY_NAME[name]
    expected = _ids(listing.objects(tenant))
    top = page_size(kind, listing, len(expected))
    assert top is not None
    with larger.graph() as graph:
        pages = read_pages(graph, f"/v1.0/{listing.path(tenant)}?$top={top}", limit=len(expected) + 1)
    assert [item["id"] for page in pages for item in page["value"]] == expected
    assert len(pages) == math.ceil(len(expected) / top)
