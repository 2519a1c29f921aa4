"""Does this tenant's credential reach everything the monitor reads? One request per collection.

``entra-monitor probe`` runs this before a deployment goes live: it acquires a token, then asks each
top-level collection of the permission table for one object, and reports for each whether it
answered, which application permission is missing, or which licence the tenant lacks. Nothing is
read beyond one page of one object per collection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from monitor.errors import GraphError, GraphLicenseError, GraphPermissionError, MonitorError
from monitor.graph.client import GraphClient
from monitor.graph.permissions import ENDPOINTS, GraphEndpoint
from monitor.graph.query import Query

OK = "ok"
MISSING_PERMISSION = "missing permission"
MISSING_LICENCE = "missing licence"
FAILED = "failed"


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of reading one collection: ``status`` is one of the constants above."""

    endpoint: GraphEndpoint
    version: str
    status: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == OK


def probed_endpoints() -> list[tuple[GraphEndpoint, str]]:
    """Every top-level collection (no id in its path) with the version to read it at (v1.0 first)."""
    chosen = [
        (endpoint, "v1.0" if "v1.0" in endpoint.versions else "beta")
        for endpoint in ENDPOINTS
        if endpoint.is_collection and "{" not in endpoint.path and "$" not in endpoint.path
    ]
    return sorted(chosen, key=lambda item: item[0].path)


async def probe(graph: GraphClient) -> list[ProbeResult]:
    """One result per collection of :func:`probed_endpoints`, in that order. Authentication
    failures raise (AuthenticationError): without a token nothing can be probed."""
    targets = probed_endpoints()
    return list(
        await asyncio.gather(*(_probe_one(graph, endpoint, version) for endpoint, version in targets))
    )


async def _probe_one(graph: GraphClient, endpoint: GraphEndpoint, version: str) -> ProbeResult:
    try:
        await graph.get(endpoint.path, version=version, query=Query(top=1))
    except GraphPermissionError as error:
        return ProbeResult(endpoint, version, MISSING_PERMISSION, f"grant {error.permission}")
    except GraphLicenseError as error:
        return ProbeResult(endpoint, version, MISSING_LICENCE, f"needs Microsoft Entra ID {error.licence}")
    except GraphError as error:
        return ProbeResult(endpoint, version, FAILED, error.reason)
    except MonitorError:
        raise
    return ProbeResult(endpoint, version, OK, ", ".join(endpoint.permissions))
