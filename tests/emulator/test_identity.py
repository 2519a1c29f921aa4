"""The emulated identity platform, driven by real MSAL over real HTTPS on a loopback port.

One server per module; each MSAL test builds a fresh application, because MSAL caches token
responses (and 400s, for 60 s) per application. Rejections are checked with plain requests so
that the status, ``error`` and ``error_codes`` are visible. Every HTTP session trusts the test CA
with ``trust_env`` off, since ``REQUESTS_CA_BUNDLE`` would override ``verify``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import msal  # type: ignore[import-untyped]
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette

from emulator.clock import EmulatorClock
from emulator.crypto import (
    certificate_pem,
    deterministic_rsa_key,
    private_key_pem,
    self_signed_certificate,
    sha1_thumbprint,
)
from emulator.identity import tokens
from emulator.identity.federation import mint_federated_token
from emulator.identity.registry import (
    GRAPH_APP_ID,
    ClientCertificate,
    ClientRegistration,
    ClientSecret,
    FederatedCredential,
    FederatedIssuer,
    IdentityRegistry,
    ManagedIdentity,
    SubjectNameTrust,
)
from emulator.identity.routes import IdentityContext, identity_routes
from emulator.identity.tokens import InvalidToken, TokenIssuer
from emulator.server import create_tls_files, serve_in_thread

TENANT_ID = "5f1c7a3e-2b4d-4e8f-9a01-23456789abcd"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
LIFETIME = 3000
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
IDENTITY_HEADER = "emulator-identity-header"
FEDERATION_ISSUER = "https://oidc.emulator.test/cluster-1/"
WORKLOAD_SUBJECT = "system:serviceaccount:monitoring:collector"
SNI_SUBJECT = "CN=sni-client.emulator.test"

SECRET_APP = "11111111-1111-4111-8111-111111111111"
EXPIRED_SECRET_APP = "22222222-2222-4222-8222-222222222222"
DISABLED_APP = "33333333-3333-4333-8333-333333333333"
CERTIFICATE_APP = "44444444-4444-4444-8444-444444444444"
SNI_APP = "55555555-5555-4555-8555-555555555555"
FEDERATED_APP = "66666666-6666-4666-8666-666666666666"
SECRET = "s3cret~value"
ROLES = ("Application.Read.All", "AuditLog.Read.All")

SYSTEM_MI = ManagedIdentity(
    client_id="77777777-7777-4777-8777-777777777777",
    object_id="88888888-8888-4888-8888-888888888888",
    display_name="monitor-app",
    roles=("Directory.Read.All",),
    hosting_resource_id="/subscriptions/0000/resourcegroups/rg/providers/Microsoft.Web/sites/monitor-app",
)
USER_MI = ManagedIdentity(
    client_id="99999999-9999-4999-8999-999999999999",
    object_id="aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    display_name="monitor-uami",
    roles=("Policy.Read.All",),
    resource_id="/subscriptions/0000/resourcegroups/rg/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/monitor-uami",
)


@dataclass
class Keys:
    certificate_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    expired_key: rsa.RSAPrivateKey
    expired_certificate: x509.Certificate
    sni_key: rsa.RSAPrivateKey
    sni_certificate: x509.Certificate
    authority_key: rsa.RSAPrivateKey
    authority: x509.Certificate
    federation: FederatedIssuer


@dataclass
class Emulator:
    base_url: str
    ca_bundle: Path
    clock: EmulatorClock
    issuer: TokenIssuer
    keys: Keys
    pfx_path: Path
    requests_seen: list[str] = field(default_factory=list)
    sessions: list[requests.Session] = field(default_factory=list)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.ca_bundle)
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.sessions.append(session)
        return session

    def close_sessions(self) -> None:
        """Close kept-alive connections, so that the server stops without waiting for them."""
        for session in self.sessions:
            session.close()

    def token_url(self, tenant: str = TENANT_ID) -> str:
        return f"{self.base_url}/{tenant}/oauth2/v2.0/token"


# --- building the tenant ------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _test_authority(now: datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("Emulator Test Issuing CA"))
        .issuer_name(_name("Emulator Test Issuing CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _issued_certificate(
    subject: str, issuer_key: rsa.RSAPrivateKey, issuer: x509.Certificate, now: datetime
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string(subject))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(issuer_key, hashes.SHA256())
    )
    return key, certificate


def _keys(now: datetime) -> Keys:
    certificate_key = deterministic_rsa_key("test-identity-certificate-client")
    expired_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    authority_key, authority = _test_authority(now)
    sni_key, sni_certificate = _issued_certificate(SNI_SUBJECT, authority_key, authority, now)
    federation_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Keys(
        certificate_key=certificate_key,
        certificate=self_signed_certificate(
            certificate_key,
            "certificate-client",
            now - timedelta(days=1),
            now + timedelta(days=365),
            7,
        ),
        expired_key=expired_key,
        expired_certificate=self_signed_certificate(
            expired_key, "old-client", now - timedelta(days=400), now - timedelta(days=35), 8
        ),
        sni_key=sni_key,
        sni_certificate=sni_certificate,
        authority_key=authority_key,
        authority=authority,
        federation=FederatedIssuer(FEDERATION_ISSUER, "cluster-key-1", federation_key),
    )


def _client(client_id: str, name: str, **options: Any) -> ClientRegistration:
    return ClientRegistration(
        client_id, name, f"{client_id[:8]}-0000-4000-8000-0000000000sp", ROLES, **options
    )


def _registry(keys: Keys, now: datetime) -> IdentityRegistry:
    valid = ClientSecret("k1", SECRET, now - timedelta(days=1), now + timedelta(days=90))
    expired = ClientSecret("k2", SECRET, now - timedelta(days=200), now - timedelta(days=10))
    certificates = (
        ClientCertificate("c1", keys.certificate, now - timedelta(days=1), now + timedelta(days=365)),
        ClientCertificate(
            "c0", keys.expired_certificate, now - timedelta(days=400), now - timedelta(days=35)
        ),
    )
    credential = FederatedCredential("aks", FEDERATION_ISSUER, WORKLOAD_SUBJECT)
    clients = [
        _client(SECRET_APP, "Secret App", secrets=(valid,)),
        _client(EXPIRED_SECRET_APP, "Expired Secret App", secrets=(expired,)),
        _client(DISABLED_APP, "Disabled App", enabled=False, secrets=(valid,)),
        _client(CERTIFICATE_APP, "Certificate App", certificates=certificates),
        _client(SNI_APP, "SNI App", subject_name_trust=SubjectNameTrust(SNI_SUBJECT, keys.authority)),
        _client(FEDERATED_APP, "Federated App", federated_credentials=(credential,)),
    ]
    return IdentityRegistry(
        tenant_id=TENANT_ID,
        tenant_domain=TENANT_DOMAIN,
        clients={client.client_id: client for client in clients},
        managed_identities=(SYSTEM_MI, USER_MI),
        federated_issuers=(keys.federation,),
        identity_header=IDENTITY_HEADER,
    )


def _write_pfx(directory: Path, keys: Keys) -> Path:
    path = directory / "client.pfx"
    encryption = serialization.BestAvailableEncryption(b"pfx-password")
    data = pkcs12.serialize_key_and_certificates(
        b"client", keys.certificate_key, keys.certificate, None, encryption
    )
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    # The clock starts at the real time: ManagedIdentityClient computes expires_in from time.time().
    now = datetime.now(UTC).replace(microsecond=0)
    clock = EmulatorClock(now)
    keys = _keys(now)
    issuer = TokenIssuer(clock, lifetime_seconds=LIFETIME)
    seen: list[str] = []
    context = IdentityContext(
        _registry(keys, now), issuer, clock, on_response=lambda name, _status: seen.append(name)
    )
    directory = tmp_path_factory.mktemp("identity")
    tls = create_tls_files(directory / "tls")
    app = Starlette(routes=identity_routes(context))
    with serve_in_thread(app, tls) as server:
        running = Emulator(
            server.base_url, tls.ca_bundle, clock, issuer, keys, _write_pfx(directory, keys), seen
        )
        yield running
        running.close_sessions()


# --- helpers ------------------------------------------------------------------------------------


def _confidential(
    emulator: Emulator, client_id: str, credential: object, **options: Any
) -> msal.ConfidentialClientApplication:
    if "oidc_authority" not in options:
        options.setdefault("authority", f"{emulator.base_url}/{TENANT_ID}")
        options.setdefault("instance_discovery", False)
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, http_client=emulator.session(), **options
    )


def _acquire(app: msal.ConfidentialClientApplication, scope: str = GRAPH_SCOPE) -> str:
    result = app.acquire_token_for_client([scope])
    assert "access_token" in result, result
    return str(result["access_token"])


def _decode(emulator: Emulator, token: str, audience: str = "https://graph.microsoft.com") -> dict[str, Any]:
    """Verify the token with the JWKS fetched over HTTPS, as a resource server would."""
    jwks = emulator.session().get(f"{emulator.base_url}/{TENANT_ID}/discovery/v2.0/keys").json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=audience,
        issuer=f"https://sts.windows.net/{TENANT_ID}/",
    )


def _assert_app_token(
    claims: dict[str, Any], app_id: str, object_id: str, roles: tuple[str, ...], acr: str
) -> None:
    assert (claims["tid"], claims["appid"], claims["oid"], claims["sub"]) == (
        TENANT_ID,
        app_id,
        object_id,
        object_id,
    )
    assert claims.get("roles", []) == list(roles)
    assert claims["appidacr"] == acr
    assert (claims["idtyp"], claims["ver"], claims["idp"]) == (
        "app",
        "1.0",
        f"https://sts.windows.net/{TENANT_ID}/",
    )
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert claims["nbf"] == claims["iat"]


def _post_token(emulator: Emulator, tenant: str = TENANT_ID, **form: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "scope": GRAPH_SCOPE} | form
    return emulator.session().post(emulator.token_url(tenant), data={k: v for k, v in body.items() if v})


def _assert_rejected(response: requests.Response, status: int, error: str, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    return body


def _thumbprint(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode()  # padding kept, as MSAL sends it


def _assertion(
    key: rsa.RSAPrivateKey, audience: object, client_id: str = CERTIFICATE_APP, **overrides: Any
) -> str:
    now = time.time()
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "exp": now + 600,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    headers = overrides.pop("headers", None)
    claims = {name: value for name, value in (claims | overrides).items() if value is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def _post_assertion(
    emulator: Emulator, assertion: str, client_id: str = CERTIFICATE_APP
) -> requests.Response:
    return _post_token(
        emulator,
        client_id=client_id,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion,
    )


def _certificate_header(certificate: x509.Certificate) -> dict[str, str]:
    return {"x5t": _thumbprint(sha1_thumbprint(certificate))}


def _sni_header(certificate: x509.Certificate) -> dict[str, object]:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return {
        "x5t#S256": _thumbprint(hashlib.sha256(der).digest()),
        "x5c": [base64.b64encode(der).decode()],
    }


def _workload_token(emulator: Emulator, **options: Any) -> str:
    issuer = options.pop("issuer", emulator.keys.federation)
    options.setdefault("subject", WORKLOAD_SUBJECT)
    return mint_federated_token(issuer, issued_at=options.pop("issued_at", time.time()), **options)


# --- discovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", [TENANT_ID, TENANT_DOMAIN])
def test_discovery_document_names_the_tenant_id_under_the_request_host(
    emulator: Emulator, tenant: str
) -> None:
    document = (
        emulator.session().get(f"{emulator.base_url}/{tenant}/v2.0/.well-known/openid-configuration").json()
    )
    root = f"{emulator.base_url}/{TENANT_ID}"
    assert document["issuer"] == f"{root}/v2.0"
    assert document["token_endpoint"] == f"{root}/oauth2/v2.0/token"
    assert document["authorization_endpoint"] == f"{root}/oauth2/v2.0/authorize"
    assert document["jwks_uri"] == f"{root}/discovery/v2.0/keys"
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]


def test_discovery_for_an_unknown_tenant_is_aadsts90002(emulator: Emulator) -> None:
    response = emulator.session().get(
        f"{emulator.base_url}/fabrikam.com/v2.0/.well-known/openid-configuration"
    )
    body = _assert_rejected(response, 400, "invalid_tenant", 90002)
    assert "Tenant 'fabrikam.com' not found." in body["error_description"]


def test_instance_discovery_points_at_the_tenant_discovery_document(emulator: Emulator) -> None:
    params = {
        "authorization_endpoint": f"https://127.0.0.1/{TENANT_ID}/oauth2/v2.0/authorize",
        "api-version": "1.0",
    }
    body = emulator.session().get(f"{emulator.base_url}/common/discovery/instance", params=params).json()
    assert (
        body["tenant_discovery_endpoint"]
        == f"{emulator.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
    )
    assert body["metadata"][0]["aliases"]


def test_keys_publish_the_signing_key_with_its_certificate(emulator: Emulator) -> None:
    (key,) = emulator.session().get(f"{emulator.base_url}/{TENANT_ID}/discovery/v2.0/keys").json()["keys"]
    assert (key["kty"], key["use"], key["kid"], key["x5t"]) == (
        "RSA",
        "sig",
        emulator.issuer.key_id,
        emulator.issuer.key_id,
    )
    assert key["issuer"] == f"{emulator.base_url}/{TENANT_ID}/v2.0"
    certificate = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    assert base64.urlsafe_b64encode(sha1_thumbprint(certificate)).rstrip(b"=").decode() == key["kid"]


def test_requests_are_reported_by_endpoint_name(emulator: Emulator) -> None:
    emulator.session().get(f"{emulator.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration")
    assert emulator.requests_seen[-1] == "discovery"


# --- client credentials through MSAL ------------------------------------------------------------


def test_secret_client_gets_a_graph_token_with_its_roles(emulator: Emulator) -> None:
    claims = _decode(emulator, _acquire(_confidential(emulator, SECRET_APP, SECRET)))
    _assert_app_token(claims, SECRET_APP, _client(SECRET_APP, "").service_principal_id, ROLES, "1")
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["app_displayname"] == "Secret App"


def test_graph_app_id_scope_gets_the_app_id_audience(emulator: Emulator) -> None:
    token = _acquire(_confidential(emulator, SECRET_APP, SECRET), f"{GRAPH_APP_ID}/.default")
    assert _decode(emulator, token, audience=GRAPH_APP_ID)["roles"] == list(ROLES)


def test_monitor_ingestion_token_has_the_monitor_audience_and_no_roles(emulator: Emulator) -> None:
    token = _acquire(_confidential(emulator, SECRET_APP, SECRET), "https://monitor.azure.com//.default")
    claims = _decode(emulator, token, audience=tokens.MONITOR_AUDIENCE)
    assert "roles" not in claims


def test_certificate_thumbprint_credential_signs_rs256_with_x5t(emulator: Emulator) -> None:
    keys = emulator.keys
    credential = {
        "private_key": private_key_pem(keys.certificate_key).decode(),
        "thumbprint": sha1_thumbprint(keys.certificate).hex(),
    }
    claims = _decode(emulator, _acquire(_confidential(emulator, CERTIFICATE_APP, credential)))
    _assert_app_token(claims, CERTIFICATE_APP, _client(CERTIFICATE_APP, "").service_principal_id, ROLES, "2")


def test_certificate_public_certificate_credential_signs_ps256_with_x5t_s256(
    emulator: Emulator,
) -> None:
    keys = emulator.keys
    credential = {
        "private_key": private_key_pem(keys.certificate_key).decode(),
        "public_certificate": certificate_pem(keys.certificate).decode(),
    }
    claims = _decode(emulator, _acquire(_confidential(emulator, CERTIFICATE_APP, credential)))
    assert (claims["appid"], claims["appidacr"]) == (CERTIFICATE_APP, "2")


def test_pfx_credential_is_accepted(emulator: Emulator) -> None:
    credential = {"private_key_pfx_path": str(emulator.pfx_path), "passphrase": "pfx-password"}
    claims = _decode(emulator, _acquire(_confidential(emulator, CERTIFICATE_APP, credential)))
    assert claims["appid"] == CERTIFICATE_APP


def test_subject_name_issuer_credential_is_accepted_without_a_registered_certificate(
    emulator: Emulator,
) -> None:
    keys = emulator.keys
    credential = {
        "private_key": private_key_pem(keys.sni_key).decode(),
        "public_certificate": certificate_pem(keys.sni_certificate).decode(),
    }
    claims = _decode(emulator, _acquire(_confidential(emulator, SNI_APP, credential)))
    assert (claims["appid"], claims["appidacr"]) == (SNI_APP, "2")


def test_federated_assertion_is_exchanged_for_a_token(emulator: Emulator) -> None:
    token = _workload_token(emulator)
    app = _confidential(emulator, FEDERATED_APP, {"client_assertion": lambda: token})
    claims = _decode(emulator, _acquire(app))
    _assert_app_token(claims, FEDERATED_APP, _client(FEDERATED_APP, "").service_principal_id, ROLES, "2")


def test_instance_discovery_served_by_the_emulator_works(emulator: Emulator) -> None:
    # MSAL's default endpoint is login.microsoftonline.com; pointing it here keeps it offline.
    # (After an error response MSAL still looks up authority aliases there: see the report.)
    endpoint = f"{emulator.base_url}/common/discovery/instance"
    app = _confidential(emulator, SECRET_APP, SECRET, instance_discovery=endpoint)
    assert _decode(emulator, _acquire(app))["appid"] == SECRET_APP
    assert "instance_discovery" in emulator.requests_seen


def test_oidc_authority_works(emulator: Emulator) -> None:
    app = _confidential(
        emulator, SECRET_APP, SECRET, oidc_authority=f"{emulator.base_url}/{TENANT_DOMAIN}/v2.0"
    )
    assert _decode(emulator, _acquire(app))["appid"] == SECRET_APP


def test_msal_reports_a_wrong_secret_as_invalid_client(emulator: Emulator) -> None:
    result = _confidential(emulator, SECRET_APP, "wrong").acquire_token_for_client([GRAPH_SCOPE])
    assert (result["error"], result["error_codes"]) == ("invalid_client", [7000215])


def test_http_basic_secret_is_accepted(emulator: Emulator) -> None:
    response = emulator.session().post(
        emulator.token_url(),
        data={"grant_type": "client_credentials", "scope": GRAPH_SCOPE},
        auth=(SECRET_APP, SECRET),
    )
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == (
        "Bearer",
        LIFETIME,
        LIFETIME,
    )
    assert _decode(emulator, body["access_token"])["appidacr"] == "1"


# --- token endpoint rejections ------------------------------------------------------------------


def test_error_body_has_the_entra_shape(emulator: Emulator) -> None:
    correlation = str(uuid.uuid4())
    response = emulator.session().post(
        emulator.token_url(),
        data={
            "grant_type": "client_credentials",
            "client_id": SECRET_APP,
            "client_secret": "x",
            "scope": GRAPH_SCOPE,
        },
        headers={"client-request-id": correlation},
    )
    body = _assert_rejected(response, 401, "invalid_client", 7000215)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["correlation_id"] == correlation
    trailer = f"Trace ID: {body['trace_id']}\r\nCorrelation ID: {correlation}\r\n"
    assert body["error_description"].endswith(f"\r\n{trailer}Timestamp: {body['timestamp']}")
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=7000215"


UNKNOWN_APP = "00000000-0000-4000-8000-000000000000"
TWO_RESOURCES = f"{GRAPH_SCOPE} https://monitor.azure.com//.default"
# Each case changes a good secret request ("" drops a field); ids name the rejection.
REJECTIONS = [
    pytest.param({"client_id": UNKNOWN_APP}, 400, "unauthorized_client", 700016, id="unknown-app"),
    pytest.param({"client_id": DISABLED_APP}, 400, "unauthorized_client", 7000112, id="disabled"),
    pytest.param({"client_secret": "wrong"}, 401, "invalid_client", 7000215, id="wrong-secret"),
    pytest.param({"client_id": EXPIRED_SECRET_APP}, 401, "invalid_client", 7000222, id="expired"),
    pytest.param({"client_secret": ""}, 401, "invalid_client", 7000218, id="no-credential"),
    pytest.param({"grant_type": "password"}, 400, "unsupported_grant_type", 70003, id="grant"),
    pytest.param({"client_id": ""}, 400, "invalid_request", 900144, id="no-client-id"),
    pytest.param({"scope": "User.Read.All"}, 400, "invalid_scope", 1002012, id="no-default"),
    pytest.param(
        {"scope": "https://vault.azure.net/.default"},
        400,
        "invalid_resource",
        500011,
        id="resource",
    ),
    pytest.param({"scope": TWO_RESOURCES}, 400, "invalid_scope", 700022, id="two-resources"),
]


@pytest.mark.parametrize(("change", "status", "error", "code"), REJECTIONS)
def test_token_request_rejection(
    emulator: Emulator, change: dict[str, str], status: int, error: str, code: int
) -> None:
    form = {"client_id": SECRET_APP, "client_secret": SECRET} | change
    _assert_rejected(_post_token(emulator, **form), status, error, code)


def test_token_request_for_an_unknown_tenant_is_aadsts90002(emulator: Emulator) -> None:
    response = _post_token(emulator, "fabrikam.com", client_id=SECRET_APP, client_secret=SECRET)
    _assert_rejected(response, 400, "invalid_request", 90002)


def _signed(emulator: Emulator, key: rsa.RSAPrivateKey | None = None, **options: Any) -> str:
    """A certificate assertion naming the registered certificate unless told otherwise."""
    certificate = options.pop("certificate", emulator.keys.certificate)
    audience = options.pop("audience", emulator.token_url())
    signer = key or emulator.keys.certificate_key
    return _assertion(signer, audience, headers=_certificate_header(certificate), **options)


def _client_rejection(response: requests.Response, code: int) -> str:
    return str(_assert_rejected(response, 401, "invalid_client", code)["error_description"])


def test_assertion_signed_by_an_unregistered_certificate_is_aadsts700027(
    emulator: Emulator,
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    certificate = self_signed_certificate(stranger, "x", now, now + timedelta(days=1), 9)
    response = _post_assertion(emulator, _signed(emulator, stranger, certificate=certificate))
    assert "The key was not found." in _client_rejection(response, 700027)


def test_assertion_with_a_bad_signature_is_aadsts700027(emulator: Emulator) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = _post_assertion(emulator, _signed(emulator, forger))
    assert "failed signature validation" in _client_rejection(response, 700027)


def test_assertion_signed_with_an_expired_certificate_is_aadsts700027(emulator: Emulator) -> None:
    keys = emulator.keys
    assertion = _signed(emulator, keys.expired_key, certificate=keys.expired_certificate)
    assert "The key used is expired." in _client_rejection(_post_assertion(emulator, assertion), 700027)


def test_assertion_for_another_audience_is_rejected(emulator: Emulator) -> None:
    audience = f"https://login.microsoftonline.com/{TENANT_ID}/oauth2/v2.0/token"
    _client_rejection(_post_assertion(emulator, _signed(emulator, audience=audience)), 50012)


def test_assertion_with_two_audiences_is_aadsts5002741(emulator: Emulator) -> None:
    audience = [emulator.token_url(), f"{emulator.base_url}/{TENANT_ID}/v2.0"]
    _client_rejection(_post_assertion(emulator, _signed(emulator, audience=audience)), 5002741)


def test_assertion_with_the_issuer_audience_is_accepted(emulator: Emulator) -> None:
    assertion = _signed(emulator, audience=f"{emulator.base_url}/{TENANT_ID}/v2.0")
    assert _post_assertion(emulator, assertion).status_code == 200


def test_expired_assertion_is_aadsts700024(emulator: Emulator) -> None:
    stale = time.time() - 3600
    response = _post_assertion(emulator, _signed(emulator, exp=stale, iat=stale - 600))
    assert "not within its valid time range" in _client_rejection(response, 700024)


def test_assertion_whose_subject_differs_from_its_issuer_is_aadsts50048(emulator: Emulator) -> None:
    _client_rejection(_post_assertion(emulator, _signed(emulator, sub=SECRET_APP)), 50048)


def test_assertion_without_jti_is_rejected(emulator: Emulator) -> None:
    response = _post_assertion(emulator, _signed(emulator, jti=None))
    _assert_rejected(response, 400, "invalid_request", 50027)


def test_subject_name_certificate_with_another_subject_is_aadsts700030(emulator: Emulator) -> None:
    keys = emulator.keys
    key, certificate = _issued_certificate(
        "CN=intruder.emulator.test", keys.authority_key, keys.authority, datetime.now(UTC)
    )
    assertion = _assertion(key, emulator.token_url(), client_id=SNI_APP, headers=_sni_header(certificate))
    _assert_rejected(_post_assertion(emulator, assertion, SNI_APP), 401, "invalid_client", 700030)


def test_subject_name_certificate_from_an_untrusted_issuer_is_rejected(emulator: Emulator) -> None:
    rogue_key, rogue_authority = _test_authority(datetime.now(UTC))
    key, certificate = _issued_certificate(SNI_SUBJECT, rogue_key, rogue_authority, datetime.now(UTC))
    assertion = _assertion(key, emulator.token_url(), client_id=SNI_APP, headers=_sni_header(certificate))
    _assert_rejected(_post_assertion(emulator, assertion, SNI_APP), 401, "invalid_client", 50012)


def test_federated_assertion_from_an_unknown_issuer_is_aadsts700211(emulator: Emulator) -> None:
    stranger = FederatedIssuer(
        "https://token.actions.githubusercontent.com", "gh", emulator.keys.federation.private_key
    )
    response = _post_assertion(emulator, _workload_token(emulator, issuer=stranger), FEDERATED_APP)
    body = _assert_rejected(response, 401, "invalid_client", 700211)
    assert "'https://token.actions.githubusercontent.com'" in body["error_description"]


def test_federated_assertion_for_another_subject_is_aadsts700213(emulator: Emulator) -> None:
    token = _workload_token(emulator, subject="system:serviceaccount:default:other")
    _assert_rejected(_post_assertion(emulator, token, FEDERATED_APP), 401, "invalid_client", 700213)


def test_federated_assertion_for_another_audience_is_aadsts700212(emulator: Emulator) -> None:
    token = _workload_token(emulator, audience="api://SomethingElse")
    _assert_rejected(_post_assertion(emulator, token, FEDERATED_APP), 401, "invalid_client", 700212)


def test_expired_federated_assertion_is_aadsts700024(emulator: Emulator) -> None:
    token = _workload_token(emulator, issued_at=time.time() - 7200)
    _assert_rejected(_post_assertion(emulator, token, FEDERATED_APP), 401, "invalid_client", 700024)


def test_federated_assertion_with_a_forged_signature_is_aadsts700027(emulator: Emulator) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = FederatedIssuer(FEDERATION_ISSUER, emulator.keys.federation.key_id, forger)
    _assert_rejected(
        _post_assertion(emulator, _workload_token(emulator, issuer=forged), FEDERATED_APP),
        401,
        "invalid_client",
        700027,
    )


# --- managed identity ---------------------------------------------------------------------------


@pytest.fixture
def app_service(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{emulator.base_url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    monkeypatch.delenv("IDENTITY_SERVER_THUMBPRINT", raising=False)
    return emulator


def _managed_identity_token(
    emulator: Emulator, identity: object, resource: str = "https://graph.microsoft.com"
) -> str:
    client = msal.ManagedIdentityClient(identity, http_client=emulator.session())
    result = client.acquire_token_for_client(resource=resource)
    assert "access_token" in result, result
    assert LIFETIME - 60 < result["expires_in"] <= LIFETIME
    return str(result["access_token"])


def test_system_assigned_identity_gets_a_graph_token(app_service: Emulator) -> None:
    claims = _decode(app_service, _managed_identity_token(app_service, msal.SystemAssignedManagedIdentity()))
    _assert_app_token(claims, SYSTEM_MI.client_id, SYSTEM_MI.object_id, SYSTEM_MI.roles, "2")
    assert claims["xms_mirid"] == SYSTEM_MI.hosting_resource_id


@pytest.mark.parametrize(
    "selector",
    [
        {"client_id": USER_MI.client_id},
        {"resource_id": USER_MI.resource_id},
        {"object_id": USER_MI.object_id},
    ],
    ids=["client_id", "resource_id", "object_id"],
)
def test_user_assigned_identity_is_selected_by_any_id(
    app_service: Emulator, selector: dict[str, str]
) -> None:
    token = _managed_identity_token(
        app_service, msal.UserAssignedManagedIdentity(**selector), "https://graph.microsoft.com/"
    )
    claims = _decode(app_service, token)
    _assert_app_token(claims, USER_MI.client_id, USER_MI.object_id, USER_MI.roles, "2")
    assert claims["xms_mirid"] == USER_MI.resource_id


def test_imds_flavour_serves_msal(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.base_url)
    identity = msal.UserAssignedManagedIdentity(client_id=USER_MI.client_id)
    assert _decode(emulator, _managed_identity_token(emulator, identity))["appid"] == USER_MI.client_id


def _msi_get(emulator: Emulator, headers: dict[str, str] | None = None, **params: str) -> requests.Response:
    query = {"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"} | params
    return emulator.session().get(f"{emulator.base_url}/msi/token", params=query, headers=headers)


def test_app_service_response_has_string_expires_on_and_client_id(emulator: Emulator) -> None:
    before = int(time.time())
    body = _msi_get(emulator, {"X-IDENTITY-HEADER": IDENTITY_HEADER}, client_id=USER_MI.client_id).json()
    after = int(time.time())
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    # expires_on is on the host's clock (MSAL subtracts the host's time from it); the token's own
    # exp is on the tenant clock. Both carry the configured lifetime.
    claims = _decode(emulator, body["access_token"])
    assert before + LIFETIME <= int(body["expires_on"]) <= after + LIFETIME
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert (body["client_id"], body["token_type"]) == (USER_MI.client_id, "Bearer")


@pytest.mark.parametrize("headers", [None, {"X-IDENTITY-HEADER": "wrong"}], ids=["missing", "wrong"])
def test_app_service_endpoint_needs_the_identity_header(
    emulator: Emulator, headers: dict[str, str] | None
) -> None:
    response = _msi_get(emulator, headers)
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401


def test_app_service_unknown_identity_is_a_400(emulator: Emulator) -> None:
    response = _msi_get(emulator, {"X-IDENTITY-HEADER": IDENTITY_HEADER}, client_id=str(uuid.uuid4()))
    assert response.status_code == 400
    assert response.json()["message"] == "Unable to load the proper Managed Identity."


def test_app_service_unknown_resource_is_aadsts500011(emulator: Emulator) -> None:
    response = _msi_get(emulator, {"X-IDENTITY-HEADER": IDENTITY_HEADER}, resource="https://vault.azure.net")
    assert response.status_code == 400
    assert response.json()["message"].startswith("AADSTS500011: ")


def _imds_get(emulator: Emulator, headers: dict[str, str] | None = None, **params: str) -> requests.Response:
    query = {"api-version": "2018-02-01", "resource": "https://graph.microsoft.com/"} | params
    return emulator.session().get(
        f"{emulator.base_url}/metadata/identity/oauth2/token", params=query, headers=headers
    )


def test_imds_response_has_string_numbers(emulator: Emulator) -> None:
    body = _imds_get(emulator, {"Metadata": "true"}).json()
    assert (body["expires_in"], body["ext_expires_in"], body["client_id"]) == (
        str(LIFETIME),
        str(LIFETIME),
        SYSTEM_MI.client_id,
    )
    assert int(body["expires_on"]) - int(body["not_before"]) == LIFETIME
    assert body["resource"] == "https://graph.microsoft.com/"


def test_imds_needs_the_metadata_header(emulator: Emulator) -> None:
    response = _imds_get(emulator)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_imds_unknown_identity_is_identity_not_found(emulator: Emulator) -> None:
    response = _imds_get(emulator, {"Metadata": "true"}, msi_res_id="/subscriptions/x/nope")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Identity not found",
    }


# --- TokenIssuer --------------------------------------------------------------------------------


@pytest.fixture
def frozen_clock() -> EmulatorClock:
    """A clock that moves only when a test advances it."""
    return EmulatorClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC), monotonic=lambda: 0.0)


@pytest.fixture
def issuer(frozen_clock: EmulatorClock) -> TokenIssuer:
    return TokenIssuer(frozen_clock, lifetime_seconds=600)


def _issue(issuer: TokenIssuer, **options: Any) -> str:
    arguments: dict[str, Any] = {
        "tenant_id": TENANT_ID,
        "app_id": SECRET_APP,
        "object_id": SYSTEM_MI.object_id,
        "roles": ROLES,
        "audience": "https://graph.microsoft.com",
        "app_id_acr": "1",
    }
    return issuer.issue(**(arguments | options)).access_token


def test_validate_returns_the_claims_of_a_good_token(issuer: TokenIssuer) -> None:
    claims = issuer.validate(_issue(issuer), tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)
    assert (claims.app_id, claims.object_id, claims.roles) == (
        SECRET_APP,
        SYSTEM_MI.object_id,
        frozenset(ROLES),
    )
    assert claims.expires_at - claims.issued_at == 600


def test_validate_rejects_another_audience(issuer: TokenIssuer) -> None:
    token = _issue(issuer, audience=tokens.MONITOR_AUDIENCE)
    with pytest.raises(InvalidToken, match=re.escape(tokens.MESSAGE_INVALID_AUDIENCE)):
        issuer.validate(token, tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)


def test_validate_rejects_a_tampered_signature(issuer: TokenIssuer) -> None:
    header, payload, signature = _issue(issuer).split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    with pytest.raises(InvalidToken) as raised:
        issuer.validate(tampered, tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)
    assert raised.value.message == tokens.MESSAGE_VALIDATION_FAILURE


def test_validate_rejects_a_token_signed_by_another_key(issuer: TokenIssuer) -> None:
    other = TokenIssuer(EmulatorClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC)))
    with pytest.raises(InvalidToken, match=re.escape(tokens.MESSAGE_VALIDATION_FAILURE)):
        issuer.validate(_issue(other), tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)


def test_validate_rejects_a_token_once_the_clock_reaches_its_expiry(
    issuer: TokenIssuer, frozen_clock: EmulatorClock
) -> None:
    token = _issue(issuer)
    frozen_clock.advance(599)
    issuer.validate(token, tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)
    frozen_clock.advance(1)
    with pytest.raises(InvalidToken, match=re.escape(tokens.MESSAGE_EXPIRED)):
        issuer.validate(token, tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)


def test_validate_rejects_another_tenant(issuer: TokenIssuer) -> None:
    token = _issue(issuer, tenant_id=str(uuid.uuid4()))
    with pytest.raises(InvalidToken, match=re.escape(tokens.MESSAGE_INVALID_ISSUER)):
        issuer.validate(token, tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)


@pytest.mark.parametrize(
    ("token", "message"), [("", tokens.MESSAGE_EMPTY), ("not-a-jwt", tokens.MESSAGE_MALFORMED)]
)
def test_validate_rejects_empty_and_malformed_tokens(issuer: TokenIssuer, token: str, message: str) -> None:
    with pytest.raises(InvalidToken) as raised:
        issuer.validate(token, tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES)
    assert raised.value.message == message


def test_issued_token_omits_roles_when_there_are_none(issuer: TokenIssuer) -> None:
    claims = jwt.decode(_issue(issuer, roles=()), options={"verify_signature": False})
    assert "roles" not in claims
    assert (
        issuer.validate(_issue(issuer, roles=()), tenant_id=TENANT_ID, audiences=tokens.GRAPH_AUDIENCES).roles
        == frozenset()
    )


def test_issued_token_header_names_the_published_key(issuer: TokenIssuer) -> None:
    header = jwt.get_unverified_header(_issue(issuer))
    assert header == {"typ": "JWT", "alg": "RS256", "x5t": issuer.key_id, "kid": issuer.key_id}


def test_federated_token_looks_like_a_projected_service_account_token() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = mint_federated_token(
        FederatedIssuer(FEDERATION_ISSUER, "k1", key),
        subject=WORKLOAD_SUBJECT,
        issued_at=1_700_000_000,
    )
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        audience="api://AzureADTokenExchange",
        options={"verify_exp": False},
    )
    assert jwt.get_unverified_header(token)["kid"] == "k1"
    assert (claims["aud"], claims["iss"], claims["sub"]) == (
        ["api://AzureADTokenExchange"],
        FEDERATION_ISSUER,
        WORKLOAD_SUBJECT,
    )
    assert (claims["exp"] - claims["iat"], claims["nbf"]) == (3600, 1_700_000_000)
    assert claims["kubernetes.io"]["namespace"] == "monitoring"
