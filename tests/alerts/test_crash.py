"""A process killed with SIGKILL after recording findings and before (or while) delivering their
alerts loses none: the next process delivers every one, each exactly once by idempotency key."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from monitor.alerts import Backoff, build_sink, deliver_due
from monitor.state import open_store
from monitor.state.sqlite import idempotency_key
from tests.alerts.factories import CHECK, TENANT, at, webhook
from tests.alerts.receiver import Receiver
from tests.alerts.threaded import ThreadedOutbox

ROOT = Path(__file__).resolve().parents[2]


def kill_after_persisting(database: Path, receiver: Receiver, mode: str) -> None:
    """Run the child until it has recorded its findings (and, in ``deliver`` mode, until the sink
    holds its first send), then SIGKILL it."""
    receiver.released.clear()  # the sink holds what the first process sends, unanswered
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.alerts.crash_child", str(database), receiver.url(), mode],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "persisted"
        if mode == "deliver":
            assert receiver.arrived.wait(10), "the first process never sent anything"
    finally:
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        child.stdout.close()
    receiver.released.set()


@pytest.mark.parametrize("mode", ["persist", "deliver"])
async def test_alerts_recorded_before_a_sigkill_are_delivered_once_by_the_next_process(
    mode: str, database: Path, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    kill_after_persisting(database, receiver, mode)

    with open_store(database) as store:
        assert store.findings(TENANT, CHECK) != []
        await deliver_due(ThreadedOutbox(store), [build_sink(webhook(receiver.url()))], client, at(1),
                          backoff=Backoff())  # fmt: skip
        alerts = store.alerts()
        assert [delivery.status for delivery in store.deliveries()] == ["delivered"] * 3

    expected = [idempotency_key(alert.key, "hook") for alert in alerts]
    keys = receiver.accepted_keys()
    unique_in_order = list(dict.fromkeys(keys))
    assert unique_in_order == expected
    # Killed in flight, the first alert reached the sink twice, with the same key both times.
    assert len(keys) == (4 if mode == "deliver" else 3)
