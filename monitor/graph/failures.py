"""Turning a final Graph error answer into an error that says what to do.

A 403 names the least-privilege application permission the endpoint needs (from
:mod:`monitor.graph.permissions`); a missing Entra ID P1/P2 licence becomes a
:class:`~monitor.errors.GraphLicenseError`, so a check can report itself unavailable; everything else
final is a :class:`~monitor.errors.GraphRequestError` carrying Graph's own code and message.
Transient failures that outlast the retries become :func:`exhausted_error`; bodies are read with
:func:`json_body` and :func:`error_object`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from monitor.errors import (
    GraphError,
    GraphLicenseError,
    GraphPermissionError,
    GraphRequestError,
    GraphResponseError,
    GraphUnavailableError,
)
from monitor.graph.permissions import GraphEndpoint
from monitor.graph.retry import TransientError

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


def exhausted_error(failure: TransientError, label: str, tenant: str, attempts: int) -> GraphError:
    """The error a request ends with when its last try failed transiently."""
    if failure.reason == "bad_response":
        return GraphResponseError(
            f"Graph's answer could not be read in {attempts} tries: {failure.detail}",
            status=failure.status,
            request_id=failure.request_id,
            endpoint=label,
            tenant=tenant,
        )
    return GraphUnavailableError(
        f"Graph did not answer successfully in {attempts} tries ({failure.reason}: {failure.detail});"
        " the read stops here rather than return part of the data as if it were all of it",
        status=failure.status,
        code=failure.code,
        request_id=failure.request_id,
        endpoint=label,
        tenant=tenant,
    )


def json_body(response: httpx.Response, request_id: str | None) -> Any:
    """A successful answer's JSON (text for non-JSON bodies, None when empty); a body that does not
    parse is a TransientError (``bad_response``): a proxy or a broken connection can cut it."""
    if not response.content:
        return None
    if "json" not in response.headers.get("content-type", "json"):
        return response.text
    try:
        return json.loads(response.content)
    except json.JSONDecodeError as error:
        raise TransientError(
            "bad_response",
            f"the body is not valid JSON ({error.msg} at byte {error.pos} of {len(response.content)})",
            status=response.status_code,
            request_id=request_id,
        ) from None


def error_object(body: bytes | Any) -> dict[str, Any]:
    """Graph's ``{"error": {...}}`` object from raw bytes or a parsed body; empty when there is none."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def transport_detail(error: httpx.TransportError) -> str:
    return f"{type(error).__name__}: {error or 'no detail'}"
