"""Writing a tenant's snapshot from a running monitor: the store is read on the event loop, the
files are written in a thread (fsync and rename must not block the loop)."""

from __future__ import annotations

import asyncio
from functools import partial

from monitor.app import MonitorApp
from monitor.errors import ConfigurationError
from monitor.runner import Tenant
from monitor.snapshots.document import CheckInfo, build_document, gather_inputs
from monitor.snapshots.writer import WrittenSnapshot


async def write_snapshot(app: MonitorApp, tenant: Tenant) -> WrittenSnapshot:
    """Write the next snapshot of ``tenant`` from the state store (SnapshotError when the files
    cannot be written)."""
    if app.snapshots is None:
        raise ConfigurationError("snapshots: the monitor was built without a snapshot writer")
    checks = [CheckInfo(prepared.id, prepared.check.permissions) for prepared in app.checks]
    inputs = await gather_inputs(app.store, app.settings, tenant.name, tenant.tenant_id, checks)
    return await asyncio.to_thread(app.snapshots.write, tenant.name, partial(build_document, inputs))
