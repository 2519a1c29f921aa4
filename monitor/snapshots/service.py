"""Writing a tenant's snapshot from a running monitor: the store is read on the event loop, the
files are written in a thread (fsync and rename must not block the loop)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from functools import partial

from monitor.app import MonitorApp
from monitor.errors import ConfigurationError
from monitor.runner import Tenant
from monitor.snapshots.document import CheckInfo, build_document, gather_inputs
from monitor.snapshots.upload import SnapshotUploadError, upload_snapshot
from monitor.snapshots.writer import WrittenSnapshot

logger = logging.getLogger(__name__)


async def write_snapshot(app: MonitorApp, tenant: Tenant) -> WrittenSnapshot:
    """Write the next snapshot of ``tenant`` from the state store (SnapshotError when the files
    cannot be written), then copy it to Blob Storage when ``[snapshots.blob]`` is enabled (a
    failed copy is logged and returned in ``upload_error``, not raised)."""
    if app.snapshots is None:
        raise ConfigurationError("snapshots: the monitor was built without a snapshot writer")
    checks = [CheckInfo(prepared.id, prepared.check.permissions) for prepared in app.checks]
    inputs = await gather_inputs(app.store, app.settings, tenant.name, tenant.tenant_id, checks)
    written = await asyncio.to_thread(app.snapshots.write, tenant.name, partial(build_document, inputs))
    if not app.settings.snapshots.blob.enabled:
        return written
    try:
        where = await asyncio.to_thread(upload_snapshot, app.settings, written, tenant.name)
    except SnapshotUploadError as error:
        logger.error("%s", error, extra={"tenant": tenant.name, "snapshot": written.id})
        return replace(written, upload_error=str(error))
    logger.info("snapshot copied to %s", where, extra={"tenant": tenant.name, "snapshot": written.id})
    return replace(written, uploaded_to=where)
