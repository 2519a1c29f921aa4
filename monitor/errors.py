"""The monitor's one exception tree. Errors from httpx, MSAL and sqlite are translated into these
at the boundary, and every message says what failed, where, and what to do next.

::

    MonitorError
    ├── ConfigurationError          a setting is missing or invalid (names the field and source)
    ├── AuthenticationError         no token could be acquired for a tenant (names the credential)
    ├── StateError                  the state database cannot be opened, read or written (names the
    │                               file: corrupt, locked by another process, newer schema, not writable)
    ├── SnapshotError               a snapshot could not be written (monitor/snapshots/writer.py;
    │                               the chain is left as it was)
    ├── SnapshotUploadError         written locally, not copied to Blob Storage (monitor/snapshots/upload.py)
    ├── BlobStoreError              a Blob Storage operation failed (monitor/snapshots/blob.py; names
    │                               account, container and blob, never a key)
    └── GraphError                  a Graph request failed for good (status, code, request id, endpoint)
        ├── GraphPermissionError    403: names the least-privilege permission the endpoint needs
        ├── GraphLicenseError       the tenant lacks the licence (Entra ID P1/P2) the endpoint needs
        ├── GraphRequestError       400/404/405…: the request itself is wrong; never retried
        ├── GraphUnavailableError   5xx, 429 or connection failures that outlasted the retries
        └── GraphResponseError      a 2xx answer that is not what Graph promises (bad JSON, cut-off
                                    page, missing ``value``); a partial collection is never returned

A secret or token never appears in a message: callers pass names and ids, not credentials.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error the monitor raises on purpose."""


class ConfigurationError(MonitorError):
    """A setting is missing or invalid; the message names the field, its source and what is accepted."""


class AuthenticationError(MonitorError):
    """No access token could be acquired; the message names the tenant, the credential kind and
    the identity platform's reason (an AADSTS code when there is one)."""

    def __init__(self, message: str, *, tenant: str, credential: str, code: str | None = None) -> None:
        super().__init__(message)
        self.tenant = tenant
        self.credential = credential
        self.code = code


class StateError(MonitorError):
    """The state database cannot be used; the message names the file, the cause (corrupt, locked by
    another process, written by a newer version, directory not writable) and what to do."""


class GraphError(MonitorError):
    """A Graph request that failed for good.

    ``status`` is the HTTP status (0 when no answer arrived), ``code`` Graph's error code,
    ``request_id`` the ``request-id`` Graph answered with (quote it to Microsoft support), and
    ``endpoint`` the method and path without the query string. ``permission`` and ``licence`` are
    set on the subclasses that are about them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str | None = None,
        request_id: str | None = None,
        endpoint: str | None = None,
        tenant: str | None = None,
        permission: str | None = None,
        licence: str | None = None,
    ) -> None:
        details = [
            part
            for part in (
                f"tenant {tenant}" if tenant else "",
                endpoint or "",
                f"HTTP {status}" if status else "",
                code or "",
                f"request-id {request_id}" if request_id else "",
            )
            if part
        ]
        super().__init__(f"{message} ({', '.join(details)})" if details else message)
        self.reason = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.endpoint = endpoint
        self.tenant = tenant
        self.permission = permission
        self.licence = licence


class GraphPermissionError(GraphError):
    """403 for want of a permission. ``permission`` is the least-privilege application permission
    the endpoint needs (None when the endpoint is not in the permission table)."""


class GraphLicenseError(GraphError):
    """The tenant lacks the licence an endpoint needs; ``licence`` is ``"P1"`` or ``"P2"``, so a check
    can report itself unavailable ("needs Microsoft Entra ID P2") instead of failing."""


class GraphRequestError(GraphError):
    """Graph refused the request as written (400, 404, 405, …); retrying cannot help."""


class GraphUnavailableError(GraphError):
    """Throttling, 5xx answers or connection failures outlasted the retry budget."""


class GraphResponseError(GraphError):
    """A successful status with a body that breaks Graph's contract (bad JSON, a page cut off, no
    ``value``). Raised rather than returning part of a collection as if it were all of it."""
