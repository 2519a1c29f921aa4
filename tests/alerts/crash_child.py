"""A process that records findings (their alerts go to the outbox) and then, in ``deliver`` mode,
starts delivering them; the test SIGKILLs it. Usage: ``python -m tests.alerts.crash_child DB URL MODE``."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import httpx

from monitor.alerts import Backoff, build_sink, deliver_due
from monitor.state import open_store
from tests.alerts.factories import CHECK, T0, TENANT, findings, webhook
from tests.alerts.threaded import ThreadedOutbox


async def main(database: Path, url: str, mode: str) -> None:
    store = open_store(database)
    store.reconcile(TENANT, CHECK, findings(3), T0, [])
    print("persisted", flush=True)
    if mode == "deliver":
        async with httpx.AsyncClient() as client:
            await deliver_due(
                ThreadedOutbox(store), [build_sink(webhook(url))], client, T0, backoff=Backoff()
            )
    threading.Event().wait(60)  # killed before this ends


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
