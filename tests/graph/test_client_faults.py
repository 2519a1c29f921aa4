"""A sweep through 5xx answers, dropped connections, broken pages and tight throttling.

A dedicated ``tiny`` emulator: the session one stays fault-free for the other tests. What each
collection holds is read first with every fault off; then the faults go on and the client must
return exactly the same objects, each once, having waited at least every Retry-After it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import GraphError, GraphResponseError, GraphUnavailableError
from monitor.graph.connection import connect
from monitor.graph.instruments import REQUESTS, RETRIES, RETRY_AFTER, THROTTLED, WAIT
from monitor.graph.query import Query
from tests.graph.conftest import connection_to
from tests.graph.test_client import COLLECTIONS, plain_read
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.metrics import RecordedMetrics

FAULTS = {"errorRate": 0.2, "dropRate": 0.1, "malformedRate": 0.1, "throttling": "tight"}
CALM = {"errorRate": 0, "dropRate": 0, "malformedRate": 0, "throttling": "off", "endpoints": None}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    directory: Path = tmp_path_factory.mktemp("faulty")
    with start_emulator(
        directory, "--seed", "11", "--now", "2026-11-27T12:00:00Z", "--scale", "tiny"
    ) as running:
        yield running


def set_faults(emulator: RunningEmulator, faults: dict[str, Any]) -> None:
    with emulator.control() as control:
        control.patch("/faults", json=faults).raise_for_status()
        control.delete("/stats").raise_for_status()


async def test_a_faulty_throttled_sweep_returns_every_object_once(faulty: RunningEmulator) -> None:
    set_faults(faulty, CALM)
    metrics = RecordedMetrics()
    async with connect(connection_to(faulty, backoff_initial_seconds=0.05), metrics.instruments) as graph:
        urls = {
            (version, path): graph.url(path, version=version, query=query)
            for version, path, query in COLLECTIONS
        }
        expected = {key: plain_read(faulty, url) for key, url in urls.items()}
        set_faults(faulty, FAULTS)

        async def sweep(version: str, path: str, query: Query | None) -> list[dict[str, Any]]:
            return [item async for item in graph.iterate(path, version=version, query=query)]

        results = await asyncio.gather(*(sweep(*collection) for collection in COLLECTIONS))
    faults = emulator_faults(faulty)
    set_faults(faulty, CALM)

    for (version, path, _), objects in zip(COLLECTIONS, results, strict=True):
        assert objects == expected[(version, path)], f"{version}/{path}"
    # Every fault the emulator injected was survived by exactly one retry of the matching reason.
    assert sum(faults.values()) > 0
    assert metrics.total(RETRIES, reason="server_error") == faults["5xx"]
    assert metrics.total(RETRIES, reason="connection") == faults["drop"]
    assert metrics.total(RETRIES, reason="bad_response") == faults["malformed"]
    assert metrics.total(RETRIES, reason="throttled") == metrics.total(THROTTLED) == faults["429"]
    # Each Retry-After was honoured in full before the request went again.
    given = metrics.total(RETRY_AFTER)
    assert metrics.total(WAIT, cause="retry_after") >= given


def emulator_faults(emulator: RunningEmulator) -> dict[str, int]:
    """Faults and 429s the emulator answered Graph requests with since the stats were reset."""
    with emulator.control() as control:
        stats = control.get("/stats").json()
    totals = {"5xx": 0, "drop": 0, "malformed": 0, "429": 0}
    for name, endpoint in stats["endpoints"].items():
        if name.startswith("identity."):
            continue
        for kind, count in endpoint["faults"].items():
            totals["5xx" if kind.isdigit() else kind] += count
        totals["429"] += endpoint["statuses"].get("429", 0)
    return totals


@pytest.mark.parametrize(
    ("fault", "path", "error_type", "message", "status"),
    [
        ("malformedRate", "groups", GraphResponseError, "not valid JSON", 200),
        ("dropRate", "users", GraphUnavailableError, "the answer broke off mid-body", "error"),
    ],
)
async def test_a_page_that_never_arrives_whole_raises_with_its_request_id(
    faulty: RunningEmulator,
    fault: str,
    path: str,
    error_type: type[GraphError],
    message: str,
    status: int | str,
) -> None:
    set_faults(faulty, {**CALM, fault: 1.0, "endpoints": f"^{path}$"})
    metrics = RecordedMetrics()
    try:
        async with connect(
            connection_to(faulty, max_attempts=3, backoff_initial_seconds=0.01), metrics.instruments
        ) as graph:
            with pytest.raises(error_type) as caught:
                await anext(graph.iterate(path))
    finally:
        set_faults(faulty, CALM)
    error = caught.value
    assert error.status == 200
    assert error.request_id
    assert f"request-id {error.request_id}" in str(error)
    assert message in str(error)
    assert metrics.total(REQUESTS, endpoint=path, status=status) == 3
