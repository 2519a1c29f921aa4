"""Graph authentication, permissions and licences through the full emulator (graph-facts §10, §11).

Tokens come from the emulator's own identity platform: with plain HTTP for the secret clients,
and with real MSAL for the certificate client and the managed identity. Licence behaviour is
checked on two more emulators, started with ``--license P1`` and ``--license free``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import msal
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.tenant.catalog import MONITOR_ROLES
from tests.support.emulator import RunningEmulator, start_emulator

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_RESOURCE = "https://graph.microsoft.com"
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
MALFORMED = (
    "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or "
    "JWE Compact Serialization Format. (JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. "
    "(JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector."
    "EncodedCiphertext.EncodedAuthenticationTag'."
)
DENIED = ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
AUDIT_LOG_MISSING = (
    "Authentication_MSGraphPermissionMissing",
    "Calling principal does not have required MSGraph permissions AuditLog.Read.All",
)
SCOPES_MISSING = (
    "AccessDenied",
    "You cannot perform the requested operation, required scopes are missing in the token.",
)
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
NEEDS_P1 = (NON_PREMIUM, "This feature requires a Microsoft Entra ID P1 license.")
NEEDS_P2 = (NON_PREMIUM, "This feature requires a Microsoft Entra ID P2 license.")
REPORTS_NEED_PREMIUM = (NON_PREMIUM, "Neither tenant is B2C or tenant doesn't have premium license")

RISKY_USERS = "/v1.0/identityProtection/riskyUsers"
RISK_DETECTIONS = "/v1.0/identityProtection/riskDetections"
REVIEWS = "/v1.0/identityGovernance/accessReviews/definitions"
POLICIES = "/v1.0/identity/conditionalAccess/policies"
LOCATIONS = "/v1.0/identity/conditionalAccess/namedLocations"
SIGN_INS = "/v1.0/auditLogs/signIns"
BETA_SIGN_INS = "/beta/auditLogs/signIns"
ACTIVITY = "/beta/reports/servicePrincipalSignInActivities"


def _licensed(directory: Path, licence: str) -> Iterator[RunningEmulator]:
    with start_emulator(
        directory,
        "--seed",
        "7",
        "--now",
        "2026-11-27T12:00:00Z",
        "--scale",
        "tiny",
        "--throttling",
        "off",
        "--license",
        licence,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def premium_p1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    yield from _licensed(tmp_path_factory.mktemp("p1"), "P1")


@pytest.fixture(scope="module")
def unlicensed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    yield from _licensed(tmp_path_factory.mktemp("free"), "free")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_graph_error(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (code, message)
    assert error["innerError"]["request-id"] == response.headers["request-id"]


def assert_unauthenticated(response: httpx.Response, message: str) -> None:
    assert_graph_error(response, 401, "InvalidAuthenticationToken", message)
    assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE


def truth(running: RunningEmulator) -> dict[str, Any]:
    with running.control() as control:
        return dict(control.get("/truth").json())


def requests_session(running: RunningEmulator) -> requests.Session:
    """A session trusting the emulator's CA; ``trust_env`` off so REQUESTS_CA_BUNDLE cannot
    override ``verify``."""
    session = requests.Session()
    session.verify = running.info["caBundle"]
    session.trust_env = False
    return session


# -- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic c2VjcmV0OnZhbHVl"}],
    ids=["no header", "bearer without token", "basic"],
)
def test_request_without_a_bearer_token_is_401_access_token_is_empty(
    emulator: RunningEmulator, headers: dict[str, str]
) -> None:
    with emulator.http(base_url=emulator.base_url) as http:
        response = http.get("/v1.0/applications", headers=headers)
    assert_unauthenticated(response, "Access token is empty.")


def test_garbage_token_is_401_not_well_formed(emulator: RunningEmulator) -> None:
    with emulator.http(base_url=emulator.base_url) as http:
        response = http.get("/v1.0/servicePrincipals", headers=bearer("not-a-token"))
    assert_unauthenticated(response, MALFORMED)


def test_token_signed_by_another_key_is_401_validation_failure(emulator: RunningEmulator) -> None:
    genuine = jwt.decode(emulator.token(), options={"verify_signature": False})
    header = jwt.get_unverified_header(emulator.token())
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(genuine, forger, algorithm="RS256", headers={"kid": header["kid"]})
    with emulator.http(base_url=emulator.base_url) as http:
        response = http.get("/v1.0/applications", headers=bearer(forged))
    assert_unauthenticated(response, "Access token validation failure.")


def test_token_for_another_audience_is_401_invalid_audience(emulator: RunningEmulator) -> None:
    issued = emulator.request_token("secret", "https://monitor.azure.com//.default")
    assert issued.status_code == 200
    token = issued.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "https://monitor.azure.com/"
    with emulator.http(base_url=emulator.base_url) as http:
        response = http.get("/v1.0/applications", headers=bearer(token))
    assert_unauthenticated(response, "Access token validation failure. Invalid audience.")


def test_disabled_client_gets_no_token(emulator: RunningEmulator) -> None:
    registration = emulator.info["clients"]["disabled"]
    response = emulator.request_token("disabled")
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["error_codes"]) == ("unauthorized_client", [7000112])
    assert body["error_description"].startswith(
        f"AADSTS7000112: Application '{registration['clientId']}'(Retired Reporting Integration) is disabled."
    )
    assert "access_token" not in body


# -- authorisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("/v1.0/oauth2PermissionGrants", DENIED),
        ("/v1.0/users", DENIED),
        ("/v1.0/groups", DENIED),
        ("/v1.0/policies/tokenLifetimePolicies", DENIED),
        (SIGN_INS, AUDIT_LOG_MISSING),
        (BETA_SIGN_INS, AUDIT_LOG_MISSING),
        (ACTIVITY, AUDIT_LOG_MISSING),
        (POLICIES, SCOPES_MISSING),
        (LOCATIONS, SCOPES_MISSING),
        (RISKY_USERS, SCOPES_MISSING),
        (RISK_DETECTIONS, SCOPES_MISSING),
        (REVIEWS, SCOPES_MISSING),
    ],
)
def test_limited_client_is_refused_what_application_read_all_does_not_cover(
    emulator: RunningEmulator, path: str, refusal: tuple[str, str]
) -> None:
    with emulator.graph("limited") as graph:
        response = graph.get(path)
    assert_graph_error(response, 403, *refusal)


@pytest.mark.parametrize("path", ["/v1.0/applications?$top=3", "/v1.0/servicePrincipals?$top=3"])
def test_limited_client_reads_applications_and_service_principals(
    emulator: RunningEmulator, path: str
) -> None:
    with emulator.graph("limited") as graph:
        response = graph.get(path)
    assert response.status_code == 200
    assert len(response.json()["value"]) == 3


def test_token_lifetime_applies_to_needs_policy_and_application_permissions(
    emulator: RunningEmulator,
) -> None:
    with emulator.graph() as graph:
        policy_id = graph.get("/v1.0/policies/tokenLifetimePolicies").json()["value"][0]["id"]
        allowed = graph.get(f"/v1.0/policies/tokenLifetimePolicies/{policy_id}/appliesTo")
    with emulator.graph("limited") as limited:
        refused = limited.get(f"/v1.0/policies/tokenLifetimePolicies/{policy_id}/appliesTo")
    assert allowed.status_code == 200
    # Application.Read.All alone is not enough: Policy.Read.All is needed too.
    assert_graph_error(refused, 403, *DENIED)


# -- licences -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RISKY_USERS, RISK_DETECTIONS, REVIEWS])
def test_p1_tenant_refuses_p2_features(premium_p1: RunningEmulator, path: str) -> None:
    with premium_p1.graph() as graph:
        response = graph.get(path)
    assert_graph_error(response, 403, *NEEDS_P2)


@pytest.mark.parametrize("path", [POLICIES, LOCATIONS, f"{ACTIVITY}?$top=2"])
def test_p1_tenant_serves_p1_features(premium_p1: RunningEmulator, path: str) -> None:
    with premium_p1.graph() as graph:
        response = graph.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", [f"{SIGN_INS}?$top=1000", f"{BETA_SIGN_INS}?$top=1000"])
def test_p1_tenant_serves_sign_ins_with_risk_hidden(premium_p1: RunningEmulator, path: str) -> None:
    with premium_p1.graph() as graph:
        response = graph.get(path)
    assert response.status_code == 200
    sign_ins = response.json()["value"]
    assert len(sign_ins) == 600  # the tiny preset's whole log
    risk = {
        (s["riskLevelDuringSignIn"], s["riskLevelAggregated"], s["riskDetail"], s["riskState"])
        for s in sign_ins
    }
    assert risk == {("hidden", "hidden", "hidden", "none")}
    assert [s for s in sign_ins if s["riskEventTypes_v2"]] == []


def test_p1_truth_marks_p2_checks_unavailable(premium_p1: RunningEmulator) -> None:
    document = truth(premium_p1)
    assert (document["license"], document["unavailable"]) == (
        "P1",
        {"risky-sign-ins": "needs Microsoft Entra ID P2", "access-review-due": "needs Microsoft Entra ID P2"},
    )
    checks = {finding["check"] for finding in document["findings"]}
    assert checks.isdisjoint({"risky-sign-ins", "access-review-due"})
    assert "conditional-access-baseline" in checks


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        (SIGN_INS, REPORTS_NEED_PREMIUM),
        (BETA_SIGN_INS, REPORTS_NEED_PREMIUM),
        (ACTIVITY, REPORTS_NEED_PREMIUM),
        (POLICIES, NEEDS_P1),
        (LOCATIONS, NEEDS_P1),
        (RISKY_USERS, NEEDS_P2),
        (REVIEWS, NEEDS_P2),
    ],
)
def test_free_tenant_refuses_premium_features(
    unlicensed: RunningEmulator, path: str, refusal: tuple[str, str]
) -> None:
    with unlicensed.graph() as graph:
        response = graph.get(path)
    assert_graph_error(response, 403, *refusal)


def test_free_tenant_checks_permissions_before_the_licence(unlicensed: RunningEmulator) -> None:
    with unlicensed.graph("limited") as graph:
        assert_graph_error(graph.get(SIGN_INS), 403, *AUDIT_LOG_MISSING)
        assert graph.get("/v1.0/applications?$top=1").status_code == 200


def test_free_truth_marks_every_premium_check_unavailable(unlicensed: RunningEmulator) -> None:
    document = truth(unlicensed)
    assert document["unavailable"] == {
        "risky-sign-ins": "needs Microsoft Entra ID P2",
        "access-review-due": "needs Microsoft Entra ID P2",
        "conditional-access-baseline": "needs Microsoft Entra ID P1",
    }
    checks = {finding["check"] for finding in document["findings"]}
    assert checks.isdisjoint(document["unavailable"])


# -- MSAL ---------------------------------------------------------------------------------------


def assert_reads_service_principals(running: RunningEmulator, token: str) -> None:
    with running.http(base_url=running.base_url) as http:
        response = http.get("/v1.0/servicePrincipals?$top=5&$select=id,appId", headers=bearer(token))
    assert response.status_code == 200
    assert len(response.json()["value"]) == 5


def verified_claims(running: RunningEmulator, token: str) -> dict[str, Any]:
    """The token's claims, its signature, audience and issuer checked against the published keys
    (not its lifetime: that runs on the tenant clock, not this host's)."""
    with running.http() as http:
        keys = http.get(f"{running.info['authority']}/discovery/v2.0/keys").json()
    key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
    return dict(
        jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=GRAPH_RESOURCE,
            issuer=f"https://sts.windows.net/{running.info['tenantId']}/",
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    )


def test_msal_certificate_client_reads_service_principals(emulator: RunningEmulator) -> None:
    registration = emulator.info["clients"]["certificate"]
    private_key = Path(registration["privateKeyPath"]).read_text()
    with requests_session(emulator) as session:
        app = msal.ConfidentialClientApplication(
            registration["clientId"],
            client_credential={"private_key": private_key, "thumbprint": registration["thumbprint"]},
            authority=emulator.info["authority"],
            instance_discovery=False,
            http_client=session,
        )
        result = app.acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    claims = verified_claims(emulator, result["access_token"])
    assert (claims["appid"], claims["appidacr"]) == (registration["clientId"], "2")
    assert sorted(claims["roles"]) == sorted(MONITOR_ROLES)
    assert_reads_service_principals(emulator, result["access_token"])


@pytest.fixture
def app_service(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    """The environment App Service / Container Apps give a managed identity."""
    identity = emulator.info["managedIdentity"]
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity["endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", identity["header"])
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return emulator


@pytest.mark.parametrize("kind", ["systemAssigned", "userAssigned"])
def test_msal_managed_identity_reads_service_principals(app_service: RunningEmulator, kind: str) -> None:
    expected = app_service.info["managedIdentity"][kind]
    identity = (
        msal.SystemAssignedManagedIdentity()
        if kind == "systemAssigned"
        else msal.UserAssignedManagedIdentity(client_id=expected["clientId"])
    )
    with requests_session(app_service) as session:
        result = msal.ManagedIdentityClient(identity, http_client=session).acquire_token_for_client(
            resource=GRAPH_RESOURCE
        )
    assert "access_token" in result, result
    claims = verified_claims(app_service, result["access_token"])
    assert (claims["appid"], claims["oid"]) == (expected["clientId"], expected["objectId"])
    assert sorted(claims["roles"]) == sorted(MONITOR_ROLES)
    assert_reads_service_principals(app_service, result["access_token"])
