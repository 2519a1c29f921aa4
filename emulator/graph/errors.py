"""Graph's error bodies (graph-facts §10): ``{"error": {"code", "message", "innerError"}}``.

Codes are the stable contract; messages follow the real service where it is known and say
"(emulator)" where the emulator refuses something the real service would do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class GraphError(Exception):
    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    inner_code: str | None = None

    def body(self, request_id: str, client_request_id: str | None, now: datetime) -> dict[str, Any]:
        inner: dict[str, Any] = {}
        if self.inner_code:
            inner["code"] = self.inner_code
        inner["date"] = f"{now:%Y-%m-%dT%H:%M:%S}"
        inner["request-id"] = request_id
        inner["client-request-id"] = client_request_id or request_id
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def unsupported_query(message: str) -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def not_found_segment(segment: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def resource_not_found(object_id: str, family: str) -> GraphError:
    if family == "directory":
        return GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{object_id}' does not exist or one of its queried reference-property objects "
            "are not present.",
        )
    return GraphError(404, "ResourceNotFound", f"The requested resource '{object_id}' was not found.")


def unauthenticated(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        headers={
            "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
            'common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
        },
    )


def new_request_id() -> str:
    return str(uuid.uuid4())
