"""What changes under a sweep: a token the tenant stops accepting, and a licence the tenant lacks.

A dedicated ``tiny`` emulator licensed for Entra ID P1 only, whose clock these tests move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.errors import GraphLicenseError
from monitor.graph.connection import connect
from monitor.graph.instruments import OBJECTS, REQUESTS, RETRIES
from monitor.graph.query import Query
from tests.graph.conftest import connection_to
from tests.graph.test_client import plain_read
from tests.support.checks import private_emulator
from tests.support.emulator import RunningEmulator
from tests.support.metrics import RecordedMetrics


@pytest.fixture(scope="module")
def p1_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    # Another seed than the session's, so the two tenants' ids differ; real throttling is the default.
    with private_emulator(
        tmp_path_factory, "p1", "--license", "P1", seed=5, scale="tiny", throttling="real"
    ) as running:
        yield running


def token_requests(emulator: RunningEmulator) -> int:
    with emulator.control() as control:
        endpoints: dict[str, Any] = control.get("/stats").json()["endpoints"]
    return int(endpoints.get("identity.token", {}).get("requests", 0))


async def test_a_token_expired_mid_sweep_is_renewed_without_losing_or_repeating_a_page(
    p1_tenant: RunningEmulator,
) -> None:
    metrics = RecordedMetrics()
    query = Query(select=("id", "appId", "displayName"), top=10)
    async with connect(connection_to(p1_tenant), metrics.instruments) as graph:
        expected = plain_read(p1_tenant, graph.url("applications", query=query))
        assert len(expected) > 20, "the sweep must span several pages"
        before = token_requests(p1_tenant)
        read: list[dict[str, Any]] = []
        async for page in graph.pages("applications", query=query):
            read.extend(page.objects)
            if len(read) == 10:
                # The tenant's clock jumps past the token's lifetime; the host's does not.
                with p1_tenant.control() as control:
                    control.post("/clock", json={"advanceSeconds": 3600}).raise_for_status()
                p1_tenant.forget_tokens()
    assert read == expected
    assert token_requests(p1_tenant) - before == 2
    assert metrics.total(RETRIES, reason="token_expired") == 1
    assert metrics.total(REQUESTS, endpoint="applications", status=401) == 1


async def test_a_missing_licence_is_its_own_error_and_is_not_retried(p1_tenant: RunningEmulator) -> None:
    metrics = RecordedMetrics()
    async with connect(connection_to(p1_tenant), metrics.instruments) as graph:
        with pytest.raises(GraphLicenseError) as caught:
            await anext(graph.iterate("identityProtection/riskyUsers"))
        # The P1 features still answer.
        assert [item async for item in graph.iterate("identity/conditionalAccess/namedLocations")]
    error = caught.value
    assert (error.status, error.licence) == (403, "P2")
    assert "no Microsoft Entra ID P2 licence" in str(error)
    assert metrics.total(REQUESTS, endpoint="riskyUsers") == 1


async def test_two_tenants_are_read_side_by_side_in_one_process(
    emulator: RunningEmulator, p1_tenant: RunningEmulator
) -> None:
    metrics = RecordedMetrics()
    query = Query(select=("id", "appId"))
    tenants = (emulator, p1_tenant)
    async with (
        connect(connection_to(emulator), metrics.instruments) as first,
        connect(connection_to(p1_tenant), metrics.instruments) as second,
    ):
        expected = [
            plain_read(tenant, client.url("servicePrincipals", query=query))
            for tenant, client in zip(tenants, (first, second), strict=True)
        ]

        async def read(client: Any) -> list[dict[str, Any]]:
            return [item async for item in client.iterate("servicePrincipals", query=query)]

        results = await asyncio.gather(read(first), read(second))
    assert results == expected
    assert emulator.info["tenantId"] != p1_tenant.info["tenantId"]
    for tenant, objects in zip(tenants, results, strict=True):
        assert metrics.total(OBJECTS, tenant=tenant.info["tenantId"]) == len(objects)
