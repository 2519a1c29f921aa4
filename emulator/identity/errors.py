"""Error responses of the emulated identity platform, shaped like the real ones.

Token-endpoint and discovery errors use the OAuth 2.0 body Entra sends::

    {"error": "invalid_client",
     "error_description": "AADSTS7000215: Invalid client secret provided. ...\\r\\n
                           Trace ID: <guid>\\r\\nCorrelation ID: <guid>\\r\\n
                           Timestamp: 2025-01-01 10:00:00Z",
     "error_codes": [7000215], "timestamp": "2025-01-01 10:00:00Z", "trace_id": "<guid>",
     "correlation_id": "<guid>", "error_uri": "https://login.microsoftonline.com/error?code=7000215"}

with HTTP 400 for ``invalid_request``, ``invalid_scope``, ``invalid_resource``,
``unauthorized_client``, ``unsupported_grant_type``, ``invalid_tenant`` and ``invalid_instance``,
and 401 for ``invalid_client``. The correlation id echoes the client's ``client-request-id``
header when it is a GUID, as Entra does.

The managed-identity endpoints answer in their own shapes: App Service / Container Apps
``{"statusCode": 400, "message": "...", "correlationId": "<guid>"}`` and IMDS
``{"error": "invalid_request", "error_description": "Identity not found"}``.

Sources: the AADSTS table in MicrosoftDocs/entra-docs (identity-platform/reference-error-codes.md)
and error bodies quoted in public GitHub issues (azure-cli, azure-workload-identity, Azure/login,
MSAL repositories). Confirmed wording: 90002, 700016, 7000112, 7000215, 7000222, 7000218, 900144,
1002012, 500011, 700024, 700027 (key not found), 700211, 700213, 5002741, 70003, 50048 (doc),
50049 (doc), 700030 (doc), IMDS "Identity not found", App Service "Unable to load the proper
Managed Identity.".

UNCONFIRMED (plausible choices where the sources are silent):

- 700212 (federated audience mismatch) wording, by analogy with 700211/700213.
- 700027 "Client assertion failed signature validation. [Reason - Key was found, but use of the key
  to verify the signature failed. ...]": the reason text is quoted from AADSTS50013, the code from
  the docs; the same code is used for a bad federated-token signature and an unsupported ``alg``.
- 700027 "[Reason - The key used is expired. ...]" for a registered certificate outside its dates.
- 700021 (assertion ``iss``/``sub`` not the ``client_id``) wording.
- 50012 "Client assertion audience claim does not match Realm issuer." (a 2017 body; today's code
  may differ) and 50012 for a subject-name certificate not issued by the trusted issuer.
- 50027 "JWT token is invalid or malformed." for undecodable assertions or a missing ``jti``.
- 700022 (more than one resource in ``scope``) exact wording; 90100 for a bad
  ``client_assertion_type``.
- ``invalid_request`` (not ``invalid_tenant``) for AADSTS90002 on the token endpoint.
- HTTP status of 50048, 700021, 5002741 (401, as other ``invalid_client`` errors).
- App Service 401 body for a missing/wrong ``X-IDENTITY-HEADER`` and the 400 messages for a
  missing ``resource``/``api-version``; IMDS "Required metadata header not specified" and
  "Required audience parameter not specified".
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from starlette.responses import JSONResponse

_STATUS_BY_ERROR = {"invalid_client": 401}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_WORKLOAD_FEDERATION_DOC = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
_CERTIFICATE_DOC = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"


class IdentityPlatformError(Exception):
    """A rejection the identity platform reports as ``AADSTS{code}: {message}``."""

    def __init__(self, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message

    @property
    def status_code(self) -> int:
        return _STATUS_BY_ERROR.get(self.error, 400)


def _trace_id() -> str:
    # Entra trace ids are GUIDs whose last byte is 00.
    return str(uuid.uuid4())[:-2] + "00"


def _correlation_id(client_request_id: str | None) -> str:
    if client_request_id and _GUID.match(client_request_id):
        return client_request_id.lower()
    return str(uuid.uuid4())


def error_response(
    failure: IdentityPlatformError, *, now: datetime, client_request_id: str | None = None
) -> JSONResponse:
    """The JSON body and status Entra sends for ``failure`` at the tenant's time ``now``."""
    stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id = _trace_id()
    correlation_id = _correlation_id(client_request_id)
    description = (
        f"AADSTS{failure.code}: {failure.message}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
    )
    body = {
        "error": failure.error,
        "error_description": description,
        "error_codes": [failure.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={failure.code}",
    }
    headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
    if client_request_id:
        headers["client-request-id"] = client_request_id
    return JSONResponse(body, status_code=failure.status_code, headers=headers)


def app_service_error(status_code: int, message: str) -> JSONResponse:
    """The App Service / Container Apps managed-identity error body."""
    body = {"statusCode": status_code, "message": message, "correlationId": str(uuid.uuid4())}
    return JSONResponse(body, status_code=status_code)


def imds_error(error: str, description: str, status_code: int = 400) -> JSONResponse:
    """The Azure Instance Metadata Service error body."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status_code)


# --- tenant, request and scope -------------------------------------------------------------------


def tenant_not_found(tenant: str, *, error: str = "invalid_request") -> IdentityPlatformError:
    return IdentityPlatformError(
        error,
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    )


def unknown_instance() -> IdentityPlatformError:
    return IdentityPlatformError("invalid_instance", 50049, "Unknown or invalid instance.")


def missing_parameter(name: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def unsupported_grant_type(grant_type: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant_type}'.",
    )


def scope_without_default(scope: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_scope",
        1002012,
        f"The provided value for scope {scope} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).",
    )


def multiple_resources(scope: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_scope",
        700022,
        "The provided value for the input parameter scope is not valid because it contains more "
        f"than one resource. Scope {scope} is not valid.",
    )


def resource_not_found(resource: str, tenant: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_resource",
        500011,
        f"The resource principal named {resource} was not found in the tenant named {tenant}. "
        "This can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant. You might have sent your "
        "authentication request to the wrong tenant.",
    )


# --- the client ---------------------------------------------------------------------------------


def unknown_client(client_id: str, tenant: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
        "This can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant. You may have sent your authentication "
        "request to the wrong tenant.",
    )


def application_disabled(client_id: str, display_name: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "unauthorized_client", 7000112, f"Application '{client_id}'({display_name}) is disabled."
    )


def missing_client_credential() -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def invalid_client_secret(client_id: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    )


def expired_client_secret(client_id: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        7000222,
        f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
        "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
        "using certificate credentials for added security: https://aka.ms/certCreds.",
    )


# --- client assertions --------------------------------------------------------------------------


def _keys_hint(client_id: str) -> str:
    return (
        "Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured "
        f"keys for app Id '{client_id}'. Review the documentation at "
        "https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding "
        "service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?"
        "view=graph-rest-1.0&tabs=http to build a query request URL, such as "
        f"'https://graph.microsoft.com/beta/applications/{client_id}'"
    )


def invalid_assertion_type() -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_request", 90100, "client_assertion_type parameter is empty or not valid."
    )


def malformed_assertion() -> IdentityPlatformError:
    return IdentityPlatformError("invalid_request", 50027, "JWT token is invalid or malformed.")


def missing_thumbprint() -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        50027,
        "Invalid JWT token. No certificate thumbprint specified in token header.",
    )


def certificate_not_registered(client_id: str, thumbprint_hex: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        700027,
        "The certificate with identifier used to sign the client assertion is not registered on "
        f"application. [Reason - The key was not found., Thumbprint of key used by client: "
        f"'{thumbprint_hex}', {_keys_hint(client_id)}].",
    )


def certificate_expired(client_id: str, thumbprint_hex: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        700027,
        "Client assertion contains an invalid signature. [Reason - The key used is expired., "
        f"Thumbprint of key used by client: '{thumbprint_hex}', {_keys_hint(client_id)}].",
    )


def assertion_signature_invalid(
    client_id: str, thumbprint_hex: str | None = None, reason: str | None = None
) -> IdentityPlatformError:
    detail = reason or "Key was found, but use of the key to verify the signature failed."
    thumbprint = f", Thumbprint of key used by client: '{thumbprint_hex}'" if thumbprint_hex else ""
    return IdentityPlatformError(
        "invalid_client",
        700027,
        f"Client assertion failed signature validation. [Reason - {detail}{thumbprint}, "
        f"{_keys_hint(client_id)}].",
    )


def assertion_subject_mismatches_issuer() -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client", 50048, "Subject mismatches Issuer claim in the client assertion."
    )


def assertion_wrong_client() -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        700021,
        "Client assertion application identifier doesn't match 'client_id' parameter. Review the "
        f"documentation at {_CERTIFICATE_DOC} .",
    )


def assertion_audience_invalid() -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client", 50012, "Client assertion audience claim does not match Realm issuer."
    )


def assertion_too_many_audiences(count: int) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        5002741,
        "Number of audience values in the provided client credential exceed maximum allowed. "
        f"{count} audience values provided, maximum allowed is 1.",
    )


def _assertion_time(instant: float) -> str:
    moment = datetime.fromtimestamp(instant, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 10:07d}Z"


def assertion_outside_lifetime(now: float, not_before: float, expires: float) -> IdentityPlatformError:
    """AADSTS700024; the times are POSIX seconds of the real clock (``not_before`` 0 if absent)."""
    return IdentityPlatformError(
        "invalid_client",
        700024,
        f"Client assertion is not within its valid time range. Current time: "
        f"{_assertion_time(now)}, assertion valid from {_assertion_time(not_before)}, expiry time "
        f"of assertion {_assertion_time(expires)}. Review the documentation at "
        f"{_CERTIFICATE_DOC} .",
    )


def subject_name_not_authorized(subjects: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        700030,
        "Invalid certificate - subject name in certificate is not authorized. "
        f"SubjectNames/SubjectAlternativeNames (up to 10) in token certificate are: {subjects}.",
    )


def certificate_chain_untrusted() -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        50012,
        "A matching trusted authority policy was not found for the authorized subject name. "
        "The certificate chain is not valid.",
    )


def federated_issuer_mismatch(issuer: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        700211,
        f"No matching federated identity record found for presented assertion issuer '{issuer}'. "
        "Please check your federated identity credential Subject, Audience and Issuer against "
        f"the presented assertion. {_WORKLOAD_FEDERATION_DOC}",
    )


def federated_audience_mismatch(audience: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        700212,
        "No matching federated identity record found for presented assertion audience "
        f"'{audience}'. Please check your federated identity credential Subject, Audience and "
        f"Issuer against the presented assertion. {_WORKLOAD_FEDERATION_DOC}",
    )


def federated_subject_mismatch(subject: str) -> IdentityPlatformError:
    return IdentityPlatformError(
        "invalid_client",
        700213,
        f"No matching federated identity record found for presented assertion subject '{subject}'. "
        "Check your federated identity credential Subject, Audience and Issuer against the "
        f"presented assertion. {_WORKLOAD_FEDERATION_DOC}",
    )
