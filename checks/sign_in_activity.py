"""When service principals last signed in, from the beta ``servicePrincipalSignInActivities``
report (graph-facts §3), for the checks that judge whether an application is still used.

The report is in the reports budget of 5 requests per 10 s, so the reader spends it carefully:
asked about a few applications it reads one ``appId eq`` entry each; asked about more applications
than the whole report has pages, it reads the whole report once (at its largest page) and keeps the
entries asked about. On a tenant of 100,000 service principals the report is 100 pages, 200 s of
budget; 500 applications asked about one by one would take 1,000 s.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from checks.graph_values import parse_graph_time
from monitor.graph.permissions import find_endpoint
from monitor.graph.query import Query, odata_string

if TYPE_CHECKING:
    from monitor.graph.client import GraphClient

SIGN_IN_ACTIVITY = "reports/servicePrincipalSignInActivities"
ACTIVITY_FIELDS = ("appId", "lastSignInActivity")


def report_pages(service_principals: int) -> int:
    """How many requests reading the whole report takes when the tenant has ``service_principals``
    (the report holds at most one entry per service principal)."""
    endpoint = find_endpoint("beta", SIGN_IN_ACTIVITY)
    page = endpoint.page_max if endpoint is not None and endpoint.page_max else 1
    return max(1, math.ceil(service_principals / page))


async def read_last_sign_ins(
    graph: GraphClient, app_ids: Collection[str] | None = None, *, service_principals: int = 0
) -> dict[str, datetime | None]:
    """Lower-case appId → the latest ``lastSignInActivity`` of its entries (None: no entry, so it
    never signed in, or an entry without a usable date).

    With ``app_ids`` None, every entry of the report; otherwise exactly the applications asked
    about, read one by one or from the whole report, whichever takes fewer requests for a tenant
    of ``service_principals``. Raises GraphLicenseError / GraphPermissionError like any read.
    """
    wanted = None if app_ids is None else {app_id.lower() for app_id in app_ids}
    found: dict[str, datetime | None] = dict.fromkeys(wanted or ())
    if wanted is not None and len(wanted) <= report_pages(service_principals):
        for app_id in sorted(wanted):
            query = Query(select=ACTIVITY_FIELDS, filter=f"appId eq {odata_string(app_id)}")
            async for entry in graph.iterate(SIGN_IN_ACTIVITY, version="beta", query=query):
                _keep_latest(found, entry)
        return found
    async for entry in graph.iterate(SIGN_IN_ACTIVITY, version="beta", query=Query(select=ACTIVITY_FIELDS)):
        if wanted is None or str(entry.get("appId") or "").lower() in wanted:
            _keep_latest(found, entry)
    return found


def _keep_latest(found: dict[str, datetime | None], entry: Mapping[str, object]) -> None:
    app_id = str(entry.get("appId") or "").lower()
    activity = entry.get("lastSignInActivity")
    moment = parse_graph_time(activity.get("lastSignInDateTime") if isinstance(activity, Mapping) else None)
    previous = found.get(app_id)
    if app_id not in found or (moment is not None and (previous is None or moment > previous)):
        found[app_id] = moment
