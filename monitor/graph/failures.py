"""Turning a final Graph error answer into an error that says what to do.

A 403 names the least-privilege application permission the endpoint needs (from
:mod:`monitor.graph.permissions`); a missing Entra ID P1/P2 licence becomes a
:class:`~monitor.errors.GraphLicenseError`, so a check can report itself unavailable; everything else
final is a :class:`~monitor.errors.GraphRequestError` carrying Graph's own code and message.
"""

from __future__ import annotations

from typing import Any

from monitor.errors import GraphError, GraphLicenseError, GraphPermissionError, GraphRequestError
from monitor.graph.permissions import GraphEndpoint

LICENCE_CODES = frozenset({"Authentication_RequestFromNonPremiumTenantOrB2CTenant"})
LICENCE_NAMES = {"P1": "Microsoft Entra ID P1", "P2": "Microsoft Entra ID P2"}


def final_error(
    status: int,
    code: str | None,
    error: dict[str, Any],
    label: str,
    endpoint: GraphEndpoint | None,
    request_id: str | None,
    tenant: str,
) -> GraphError:
    """The error for a non-retryable answer (``error`` is Graph's ``error`` object, maybe empty)."""
    message = str(error.get("message") or "").strip()
    details: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "endpoint": label,
        "tenant": tenant,
    }
    if code in LICENCE_CODES:
        licence = endpoint.licence if endpoint and endpoint.licence else "P1"
        return GraphLicenseError(
            f"the tenant has no {LICENCE_NAMES.get(licence, licence)} licence, which {label} needs;"
            " the data is unavailable until the tenant is licensed",
            licence=licence,
            **details,
        )
    if status == 403:
        permissions = endpoint.permissions if endpoint else ()
        if permissions:
            needed = " and ".join(permissions)
            advice = (
                f"grant the Microsoft Graph application permission {needed} to the app or managed"
                " identity and give admin consent"
            )
        else:
            advice = "grant the read permission this endpoint documents and give admin consent"
        return GraphPermissionError(
            f"permission missing for {label}: {advice} (Graph said: {message or 'Forbidden'})",
            permission=" and ".join(permissions) or None,
            **details,
        )
    return GraphRequestError(
        f"Graph refused the request {label}: {message or 'no message'}"
        + (" — this is not retried, since the same request would fail again" if status == 400 else ""),
        **details,
    )
