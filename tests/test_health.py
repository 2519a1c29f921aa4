"""The health endpoint as a real server on a loopback port, queried over HTTP."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from monitor.errors import ConfigurationError
from monitor.health import HealthServer, LoopLagMonitor

STATUS = {
    "checks": [{"tenant": "contoso", "check": "credential-expiry", "last_run": "succeeded"}],
    "open_findings": {"critical": 1, "high": 0},
}


class Probes:
    """The worker's side: what status() and ready() answer, changed by the tests."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.status: dict[str, Any] = dict(STATUS)
        self.failure: Exception | None = None

    def ready(self) -> list[str]:
        if self.failure is not None:
            raise self.failure
        return list(self.problems)

    def current_status(self) -> dict[str, Any]:
        return self.status


async def poll(
    client: httpx.AsyncClient, path: str, until: Callable[[httpx.Response], bool], within_seconds: float = 5.0
) -> httpx.Response:
    """GET ``path`` until ``until`` holds for the answer; fails after ``within_seconds``."""
    deadline = time.monotonic() + within_seconds
    while True:
        response = await client.get(path)
        if until(response):
            return response
        if time.monotonic() > deadline:
            pytest.fail(
                f"{path} never satisfied the condition; last answer {response.status_code} {response.text}"
            )
        await asyncio.sleep(0.02)


def block_event_loop(seconds: float) -> None:
    """Synchronous work that holds the event loop, on purpose."""
    time.sleep(seconds)


@pytest.fixture
def probes() -> Probes:
    return Probes()


@pytest.fixture
async def server(probes: Probes) -> AsyncIterator[HealthServer]:
    health = HealthServer(
        "127.0.0.1",
        0,
        probes.current_status,
        probes.ready,
        lag_threshold_seconds=0.2,
        lag_interval_seconds=0.05,
        lag_window_seconds=1.0,
    )
    await health.start()
    try:
        yield health
    finally:
        await health.stop()


@pytest.fixture
async def client(server: HealthServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as http:
        yield http


async def test_port_zero_binds_a_real_port(server: HealthServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


async def test_healthz_answers_ok_with_the_loop_lag(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert 0 <= body["loop_lag_seconds"] < 0.2


async def test_healthz_reports_a_blocked_loop_then_recovers(client: httpx.AsyncClient) -> None:
    block_event_loop(0.5)
    response = await poll(client, "/healthz", lambda answer: answer.status_code == 503)
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["threshold_seconds"] == 0.2
    assert 0.3 <= body["loop_lag_seconds"] < 5
    assert "event loop blocked" in body["problem"]
    # The lag is remembered for the one-second window, then forgotten.
    await poll(client, "/healthz", lambda answer: answer.status_code == 200)


async def test_readyz_follows_the_worker(client: httpx.AsyncClient, probes: Probes) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True}
    probes.problems = ["scheduler not running", "state store not writable: state/monitor.db"]
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "problems": probes.problems}


async def test_readyz_reports_a_failing_probe_without_its_message(
    client: httpx.AsyncClient, probes: Probes
) -> None:
    probes.failure = RuntimeError("password=hunter2")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "problems": ["the readiness probe failed (RuntimeError)"]}


async def test_status_returns_the_workers_json(client: httpx.AsyncClient, probes: Probes) -> None:
    response = await client.get("/status")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == STATUS


async def test_status_writes_datetimes_as_iso_8601(client: httpx.AsyncClient, probes: Probes) -> None:
    probes.status = {"next_run": datetime(2026, 11, 27, 12, 0, tzinfo=UTC)}
    response = await client.get("/status")
    assert response.json() == {"next_run": "2026-11-27T12:00:00+00:00"}


async def test_awaitable_probes_are_awaited(probes: Probes) -> None:
    async def status() -> dict[str, Any]:
        return {"from": "coroutine"}

    async def ready() -> list[str]:
        return ["not yet"]

    health = HealthServer("127.0.0.1", 0, status, ready)
    await health.start()
    try:
        async with httpx.AsyncClient(base_url=health.url) as http:
            assert (await http.get("/status")).json() == {"from": "coroutine"}
            assert (await http.get("/readyz")).json() == {"ready": False, "problems": ["not yet"]}
    finally:
        await health.stop()


@pytest.mark.parametrize("path", ["/", "/metrics", "/healthz/extra"])
async def test_unknown_paths_are_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["paths"] == ["/healthz", "/readyz", "/status"]


async def test_stop_returns_promptly_and_closes_the_port(probes: Probes) -> None:
    health = HealthServer("127.0.0.1", 0, probes.current_status, probes.ready)
    await health.start()
    async with httpx.AsyncClient(base_url=health.url) as http:
        assert (await http.get("/healthz")).status_code == 200  # leaves a keep-alive connection open
        started = time.monotonic()
        await health.stop()
        assert time.monotonic() - started < 3
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", health.port), timeout=1).close()
    await health.stop()  # a second stop is harmless


async def test_a_port_in_use_is_a_configuration_error(server: HealthServer, probes: Probes) -> None:
    other = HealthServer("127.0.0.1", server.port, probes.current_status, probes.ready)
    with pytest.raises(ConfigurationError, match=rf"127\.0\.0\.1:{server.port}.*health\.port"):
        await other.start()


async def test_uvicorn_installs_no_signal_handlers(probes: Probes) -> None:
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    health = HealthServer("127.0.0.1", 0, probes.current_status, probes.ready)
    await health.start()
    try:
        assert {number: signal.getsignal(number) for number in before} == before
    finally:
        await health.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_lag_window_forgets_old_measurements() -> None:
    clock = FakeClock()
    monitor = LoopLagMonitor(interval=1.0, window=10.0, clock=clock)
    monitor._record(100.0, 3.0)
    assert monitor.lag() == 3.0
    clock.now = 109.0
    assert monitor.lag() == 3.0
    clock.now = 111.0
    assert monitor.lag() == 0.0


def test_lag_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="interval"):
        LoopLagMonitor(interval=0)
