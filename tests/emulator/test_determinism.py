"""Same seed and time, same tenant: byte for byte, across processes and in-process.

Two emulator subprocesses started with one ``--seed`` and ``--now`` (own ports and state
directories) page every collection; their response bodies must be identical once each one's base
URL and its opaque ``$skiptoken`` values (HMAC'd with a per-process secret) are blanked. Their
ground truths must be identical too, and equal to the in-process ``Tenant``'s, whose objects must
serialise exactly as the server sends them. Another seed must give another tenant.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from emulator.graph.endpoints import ENDPOINTS, match
from emulator.graph.pages import project
from emulator.tenant.base import Collection, GraphObject
from emulator.tenant.ground_truth import GroundTruth
from emulator.tenant.model import Tenant
from emulator.tenant.signins import beta_view, v1_view
from tests.support.emulator import RunningEmulator, collect, start_emulator

NOW = "2026-11-27T12:00:00Z"
SCALE = "small"
DEFINITIONS = "identityGovernance/accessReviews/definitions"
# Top-level collections: (version, path, the Tenant attribute that holds the objects).
TOP_LEVEL: tuple[tuple[str, str, str], ...] = (
    ("v1.0", "applications", "applications"),
    ("v1.0", "servicePrincipals", "service_principals"),
    ("v1.0", "oauth2PermissionGrants", "grants"),
    ("v1.0", "users", "users"),
    ("v1.0", "groups", "groups"),
    ("v1.0", "auditLogs/signIns", "sign_ins"),
    ("beta", "auditLogs/signIns", "sign_ins"),
    ("beta", "reports/servicePrincipalSignInActivities", "activity"),
    ("v1.0", "identityProtection/riskyUsers", "risky_users"),
    ("v1.0", "identityProtection/riskDetections", "risk_detections"),
    ("v1.0", "policies/tokenLifetimePolicies", "token_lifetime_policies"),
    ("v1.0", "identity/conditionalAccess/policies", "conditional_access_policies"),
    ("v1.0", "identity/conditionalAccess/namedLocations", "named_locations"),
    ("v1.0", DEFINITIONS, "review_definitions"),
)
# Sub-collections, read for every parent: (path template, parent path, parent key).
CHILDREN: tuple[tuple[str, str, str], ...] = (
    ("servicePrincipals/{id}/appRoleAssignedTo", "servicePrincipals", "id"),
    ("servicePrincipals(appId='{appId}')/appRoleAssignedTo", "servicePrincipals", "appId"),
    ("servicePrincipals/{id}/appRoleAssignments", "servicePrincipals", "id"),
    ("servicePrincipals/{id}/oauth2PermissionGrants", "servicePrincipals", "id"),
    ("policies/tokenLifetimePolicies/{id}/appliesTo", "policies/tokenLifetimePolicies", "id"),
    (f"{DEFINITIONS}/{{id}}/instances", DEFINITIONS, "id"),
)
SKIPTOKEN = re.compile(rb"\$skiptoken=[A-Za-z0-9_\-]+")
MICROSOFT_SERVICES_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"


def _start(directory: Path, seed: int) -> AbstractContextManager[RunningEmulator]:
    return start_emulator(
        directory, "--seed", str(seed), "--now", NOW, "--scale", SCALE, "--throttling", "off"
    )


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEmulator, RunningEmulator]]:
    with (
        _start(tmp_path_factory.mktemp("twin-a"), 7) as first,
        _start(tmp_path_factory.mktemp("twin-b"), 7) as second,
    ):
        yield first, second


@pytest.fixture(scope="module")
def in_process(twins: tuple[RunningEmulator, RunningEmulator]) -> Tenant:
    """The twins' tenant generated in this process."""
    return twins[0].reference()


@pytest.fixture(scope="module")
def other_seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with _start(tmp_path_factory.mktemp("seed-8"), 8) as running:
        yield running


def collection_urls(graph: httpx.Client) -> list[str]:
    """Every collection URL of the tenant: the top-level ones, then each parent's children."""
    urls = [f"/{version}/{path}" for version, path, _attribute in TOP_LEVEL]
    for template, parent_path, key in CHILDREN:
        parents, _requests = collect(graph, f"/v1.0/{parent_path}")
        urls += ["/v1.0/" + template.replace(f"{{{key}}}", parent[key]) for parent in parents]
    return urls


def raw_pages(running: RunningEmulator, graph: httpx.Client, url: str) -> list[bytes]:
    """Each page's body as sent, with the base URL and the $skiptoken values blanked."""
    pages = []
    next_url: str | None = url
    while next_url:
        response = graph.get(next_url)
        assert response.status_code == 200, f"{next_url}: {response.text}"
        pages.append(
            SKIPTOKEN.sub(b"$skiptoken=~", response.content.replace(running.base_url.encode(), b"~"))
        )
        next_url = response.json().get("@odata.nextLink")
    return pages


def test_the_collection_urls_cover_every_collection_endpoint(
    twins: tuple[RunningEmulator, RunningEmulator],
) -> None:
    with twins[0].graph() as graph:
        urls = collection_urls(graph)
    patterns = set()
    for url in urls:
        version, _, path = url.strip("/").partition("/")
        found = match(version, path)
        assert found is not None
        patterns.add((version, found[0].pattern))
    table = {(v, e.pattern) for e in ENDPOINTS if e.is_collection for v in e.versions}
    assert patterns == table


def test_same_seed_serves_byte_identical_pages(twins: tuple[RunningEmulator, RunningEmulator]) -> None:
    first, second = twins
    with first.graph() as graph_a, second.graph() as graph_b:
        urls = collection_urls(graph_a)
        assert collection_urls(graph_b) == urls
        pages_a = {url: raw_pages(first, graph_a, url) for url in urls}
        pages_b = {url: raw_pages(second, graph_b, url) for url in urls}
    assert first.base_url != second.base_url
    assert len(pages_a["/v1.0/auditLogs/signIns"]) == 5  # 5,000 sign-ins, 1,000 a page
    assert [url for url in urls if pages_a[url] != pages_b[url]] == []


def test_same_seed_has_identical_ground_truth(
    twins: tuple[RunningEmulator, RunningEmulator], in_process: Tenant
) -> None:
    first, second = twins
    with first.control() as control_a, second.control() as control_b:
        truth_a = control_a.get("/truth", params={"at": NOW})
        truth_b = control_b.get("/truth", params={"at": NOW})
    assert truth_a.status_code == truth_b.status_code == 200
    assert truth_a.content == truth_b.content
    at = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    document = GroundTruth(in_process).document(at)
    assert json.loads(truth_a.content) == json.loads(json.dumps(document))


def test_in_process_tenant_serialises_as_the_server_sends_it(
    twins: tuple[RunningEmulator, RunningEmulator], in_process: Tenant
) -> None:
    first = twins[0]
    differing = []
    with first.graph() as graph:
        for url in collection_urls(graph):
            version, _, path = url.strip("/").partition("/")
            served, _requests = collect(graph, url)
            expected = _shaped(in_process, version, path)
            if json.dumps(served) != json.dumps(expected):
                differing.append(url)
    assert differing == []


def _shaped(tenant: Tenant, version: str, path: str) -> list[GraphObject]:
    """The collection's objects as the in-process tenant shapes them for ``/{version}/{path}``:
    the version's sign-in view, then the endpoint's default property set."""
    found = match(version, path)
    assert found is not None
    endpoint, params = found
    collection = endpoint.resolve(tenant, params)
    assert isinstance(collection, Collection)
    objects = [obj for _key, obj in collection.scan(None, None)]
    if endpoint.entity_type == "signIn":
        objects = [beta_view(obj, tenant.context) if version == "beta" else v1_view(obj) for obj in objects]
    return [project(obj, endpoint.default_select) for obj in objects]


def test_another_seed_gives_another_tenant(
    twins: tuple[RunningEmulator, RunningEmulator], other_seed: RunningEmulator
) -> None:
    """Same scale, same counts, but no object id in common, except in the sign-in activity
    report: its ids are the base64 of an appId, and Microsoft's first-party apps have the same
    appId in every tenant."""
    first = twins[0]
    assert first.info["tenantId"] != other_seed.info["tenantId"]
    ids: dict[str, tuple[set[str], set[str]]] = {}
    with first.graph() as graph_a, other_seed.graph() as graph_b:
        for version, path, _attribute in TOP_LEVEL:
            objects_a = collect(graph_a, f"/{version}/{path}")[0]
            objects_b = collect(graph_b, f"/{version}/{path}")[0]
            ids[f"{version} {path}"] = ({obj["id"] for obj in objects_a}, {obj["id"] for obj in objects_b})
        first_party = {
            sp["appId"]
            for sp in collect(graph_a, "/v1.0/servicePrincipals")[0]
            if sp["appOwnerOrganizationId"] == MICROSOFT_SERVICES_TENANT
        }
    with first.control() as control:
        counts = control.get("/truth", params={"at": NOW}).json()["counts"]
    sizes = {name: (len(ids_a), len(ids_b)) for name, (ids_a, ids_b) in ids.items()}
    assert sizes["v1.0 applications"] == (counts["applications"],) * 2
    assert sizes["v1.0 auditLogs/signIns"] == (counts["signIns"],) * 2
    assert all(size_a == size_b for size_a, size_b in sizes.values()), sizes
    activity_a, activity_b = ids.pop("beta reports/servicePrincipalSignInActivities")
    assert {name: ids_a & ids_b for name, (ids_a, ids_b) in ids.items()} == {name: set() for name in ids}
    # Only first-party apps share a report id, and every one active in both tenants does.
    shared_apps = _app_ids(activity_a & activity_b)
    assert shared_apps == first_party & _app_ids(activity_a) & _app_ids(activity_b)


def _app_ids(activity_ids: set[str]) -> set[str]:
    """The appIds behind servicePrincipalSignInActivity ids (base64 of the appId, graph-facts §3)."""
    return {base64.b64decode(value).decode() for value in activity_ids}
