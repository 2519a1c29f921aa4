"""Shared fixtures: one emulated tenant, started as a real server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.tenant.model import Tenant
from tests.support.emulator import RunningEmulator, start_emulator

SEED = 7
NOW = "2026-11-27T12:00:00Z"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A ``small`` tenant (seed 7, fixed time) with throttling off; tests that change faults or
    throttling restore them (see ``restore_faults``)."""
    directory = tmp_path_factory.mktemp("emulator")
    with start_emulator(
        directory, "--seed", str(SEED), "--now", NOW, "--scale", "small", "--throttling", "off"
    ) as running:
        yield running


@pytest.fixture(scope="session")
def reference(emulator: RunningEmulator) -> Tenant:
    """The same tenant generated in-process: the brute-force reference for query tests."""
    return emulator.reference()


@pytest.fixture
def restore_faults(emulator: RunningEmulator) -> Iterator[None]:
    """Put faults and throttling back to the session's defaults after the test."""
    yield
    with emulator.control() as control:
        control.patch(
            "/faults",
            json={
                "latencyMs": 0,
                "latencyJitterMs": 0,
                "errorRate": 0,
                "dropRate": 0,
                "malformedRate": 0,
                "endpoints": None,
                "throttling": "off",
            },
        ).raise_for_status()
