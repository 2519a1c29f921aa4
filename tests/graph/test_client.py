"""The Graph client against the emulated tenant: complete reads, minimal requests, clear errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from monitor.errors import GraphPermissionError, GraphRequestError
from monitor.graph.client import GraphClient
from monitor.graph.connection import connect
from monitor.graph.instruments import REQUESTS
from monitor.graph.permissions import find_endpoint
from monitor.graph.query import Query, graph_path, odata_string
from tests.graph.conftest import connection_to
from tests.support.emulator import RunningEmulator, collect
from tests.support.metrics import RecordedMetrics

KEYS = ("id", "appId", "displayName", "keyCredentials", "passwordCredentials")
COLLECTIONS: list[tuple[str, str, Query | None]] = [
    ("v1.0", "applications", Query(select=KEYS)),
    ("v1.0", "servicePrincipals", Query(select=(*KEYS, "appOwnerOrganizationId"))),
    ("v1.0", "oauth2PermissionGrants", None),
    ("v1.0", "users", Query(select=("id", "userPrincipalName", "accountEnabled"))),
    ("v1.0", "groups", None),
    ("v1.0", "auditLogs/signIns", None),
    ("beta", "auditLogs/signIns", Query(select=("id", "createdDateTime", "appId"))),
    ("beta", "reports/servicePrincipalSignInActivities", None),
    ("v1.0", "identityProtection/riskyUsers", None),
    ("v1.0", "identityProtection/riskDetections", None),
    ("v1.0", "policies/tokenLifetimePolicies", None),
    ("v1.0", "identity/conditionalAccess/policies", None),
    ("v1.0", "identity/conditionalAccess/namedLocations", None),
    ("v1.0", "identityGovernance/accessReviews/definitions", None),
]


def plain_read(emulator: RunningEmulator, url: str) -> list[dict[str, Any]]:
    """The same URL read by a bare httpx loop: what the collection holds."""
    with emulator.graph() as client:
        objects, _ = collect(client, url)
    return objects


def ids(objects: list[dict[str, Any]]) -> list[str]:
    return [str(item["id"]) for item in objects]


@pytest.mark.parametrize(
    ("version", "path", "query"), COLLECTIONS, ids=[f"{v}/{p}" for v, p, _ in COLLECTIONS]
)
async def test_a_collection_is_read_whole_in_the_fewest_requests(
    emulator: RunningEmulator,
    graph: GraphClient,
    metrics: RecordedMetrics,
    version: str,
    path: str,
    query: Query | None,
) -> None:
    url = graph.url(path, version=version, query=query)
    expected = plain_read(emulator, url)
    read = [item async for item in graph.iterate(path, version=version, query=query)]
    assert read == expected
    assert len(set(ids(read))) == len(read)
    endpoint = find_endpoint(version, path)
    assert endpoint is not None
    assert endpoint.page_max is not None
    assert f"$top={endpoint.page_max}" in url
    minimum = max(1, math.ceil(len(read) / endpoint.page_max))
    assert metrics.total(REQUESTS, endpoint=endpoint.name) == minimum


async def test_objects_arrive_page_by_page(graph: GraphClient, emulator: RunningEmulator) -> None:
    pages = [page async for page in graph.pages("users", query=Query(select=("id",), top=50))]
    total = len(plain_read(emulator, graph.url("users", query=Query(select=("id",)))))
    assert [len(page.objects) for page in pages] == [50] * (total // 50) + (
        [total % 50] if total % 50 else []
    )
    assert all(page.request_id for page in pages)
    assert pages[-1].next_link is None


async def test_a_filter_is_sent_as_written(graph: GraphClient, emulator: RunningEmulator) -> None:
    query = Query(filter="riskLevelDuringSignIn eq 'high' and status/errorCode eq 0")
    expected = plain_read(emulator, graph.url("auditLogs/signIns", query=query))
    assert expected, "the tenant plants successful high-risk sign-ins"
    assert [item async for item in graph.iterate("auditLogs/signIns", query=query)] == expected


async def test_get_reads_one_object_by_a_path_built_from_values(graph: GraphClient) -> None:
    first = await graph.get("applications", query=Query(select=("id", "appId"), top=1))
    app = first["value"][0]
    by_id = await graph.get(graph_path("applications/{id}", id=app["id"]), query=Query(select=("appId",)))
    by_app_id = await graph.get(graph_path("applications(appId='{app_id}')", app_id=app["appId"]))
    assert by_id["appId"] == by_app_id["appId"] == app["appId"]


async def test_a_missing_permission_names_it_and_is_not_retried(
    emulator: RunningEmulator, metrics: RecordedMetrics
) -> None:
    async with connect(connection_to(emulator, "limited"), metrics.instruments) as limited:
        with pytest.raises(GraphPermissionError) as caught:
            await anext(limited.iterate("auditLogs/signIns"))
    error = caught.value
    assert (error.status, error.permission) == (403, "AuditLog.Read.All")
    assert "grant the Microsoft Graph application permission AuditLog.Read.All" in str(error)
    assert error.request_id
    assert error.request_id in str(error)
    assert metrics.total(REQUESTS, endpoint="signIns") == 1


async def test_an_unsupported_filter_is_a_request_error_sent_once(
    graph: GraphClient, metrics: RecordedMetrics
) -> None:
    query = Query(filter=f"displayName eq {odata_string('x')} and notes eq 'y'")
    with pytest.raises(GraphRequestError) as caught:
        await anext(graph.iterate("applications", query=query))
    assert caught.value.status == 400
    assert caught.value.code
    assert metrics.total(REQUESTS, endpoint="applications") == 1


async def test_an_unknown_object_is_a_404_request_error(graph: GraphClient) -> None:
    with pytest.raises(GraphRequestError) as caught:
        await graph.get(graph_path("servicePrincipals/{id}", id="00000000-0000-4000-8000-000000000000"))
    assert (caught.value.status, caught.value.code) == (404, "Request_ResourceNotFound")


async def test_no_error_message_carries_the_token(emulator: RunningEmulator) -> None:
    async with connect(connection_to(emulator, "limited")) as limited:
        token = (await limited._credential.token()).token
        with pytest.raises(GraphPermissionError) as caught:
            await limited.get("identity/conditionalAccess/policies")
    assert token not in str(caught.value)
    assert token not in repr(caught.value.args)
