"""Token providers against the emulator's identity platform, a real HTTPS server, with real MSAL
(monitor/graph/auth.py). Only the 5xx-during-refresh case uses a stub identity platform: the
emulator's faults do not reach its token endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import certifi
import jwt
import msal
import pytest
import requests
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.server import create_tls_files, serve_in_thread
from monitor.errors import AuthenticationError, ConfigurationError
from monitor.graph.auth import AccessToken, TokenProvider, build_token_provider
from monitor.graph.clouds import Endpoints, resolve_endpoints
from monitor.graph.credentials import (
    CertificateCredential,
    ClientSecretCredential,
    CredentialSettings,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from tests.support.emulator import RunningEmulator, start_emulator

LIFETIME = timedelta(seconds=3599)
MARGIN = timedelta(minutes=5)
Build = Callable[..., TokenProvider]


class FakeClock:
    """The provider's clock; tests move it instead of waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def emulator_endpoints(running: RunningEmulator) -> Endpoints:
    return resolve_endpoints(
        authority_host=running.info["authorityHost"],
        graph_endpoint=running.info["graphEndpoint"],
        ca_bundle=Path(running.info["caBundle"]),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def build(emulator: RunningEmulator, clock: FakeClock) -> AsyncIterator[Build]:
    """Builds providers for the emulated tenant (fake clock unless given) and closes them after."""
    built: list[TokenProvider] = []

    def factory(credential: CredentialSettings, **options: Any) -> TokenProvider:
        options.setdefault("clock", clock)
        endpoints = options.pop("endpoints", None) or emulator_endpoints(emulator)
        tenant = options.pop("tenant", emulator.info["tenantId"])
        provider = build_token_provider(tenant, credential, endpoints, **options)
        built.append(provider)
        return provider

    yield factory
    for provider in built:
        await provider.aclose()


def requests_to(running: RunningEmulator, endpoint: str = "identity.token") -> int:
    with running.control() as control:
        endpoints = control.get("/stats").json()["endpoints"]
    return int(endpoints.get(endpoint, {}).get("requests", 0))


def graph_status(running: RunningEmulator, token: AccessToken) -> int:
    with running.http() as http:
        response = http.get(
            f"{running.graph_url}/servicePrincipals?$top=1&$select=id",
            headers={"Authorization": f"Bearer {token.token}"},
        )
    return response.status_code


def claims(token: AccessToken) -> dict[str, Any]:
    return dict(jwt.decode(token.token, options={"verify_signature": False}))


def secret_credential(
    running: RunningEmulator, client: str = "secret", **changes: str
) -> ClientSecretCredential:
    registration = running.info["clients"][client]
    values = {"client_id": registration["clientId"], "client_secret": registration["clientSecret"], **changes}
    return ClientSecretCredential(**values)


# Each credential kind ------------------------------------------------------------------------


async def test_client_secret(emulator: RunningEmulator, build: Build, clock: FakeClock) -> None:
    provider = build(secret_credential(emulator))

    token = await provider.token()

    assert claims(token)["appid"] == emulator.info["clients"]["secret"]["clientId"]
    assert claims(token)["appidacr"] == "1"
    assert claims(token)["aud"] == "https://graph.microsoft.com"
    assert token.expires_at == clock.now + LIFETIME
    assert graph_status(emulator, token) == 200
    assert provider.description == f"client secret credential for client {claims(token)['appid']}"


@pytest.mark.parametrize("form", ["pem", "pfx"])
async def test_certificate(emulator: RunningEmulator, build: Build, form: str) -> None:
    registration = emulator.info["clients"]["certificate"]
    credential = CertificateCredential(
        client_id=registration["clientId"],
        certificate_path=registration["certificatePath" if form == "pem" else "pfxPath"],
        private_key_path=registration["privateKeyPath"] if form == "pem" else None,
        password=registration["pfxPassword"] if form == "pfx" else None,
    )

    token = await build(credential).token()

    assert (claims(token)["appid"], claims(token)["appidacr"]) == (registration["clientId"], "2")
    assert graph_status(emulator, token) == 200


def subject_name_credential(running: RunningEmulator, send_chain: bool) -> CertificateCredential:
    registration = running.info["clients"]["subjectName"]
    return CertificateCredential(
        client_id=registration["clientId"],
        certificate_path=registration["certificatePath"],
        private_key_path=registration["privateKeyPath"],
        send_certificate_chain=send_chain,
    )


async def test_subject_name_issuer_sends_the_chain(emulator: RunningEmulator, build: Build) -> None:
    token = await build(subject_name_credential(emulator, send_chain=True)).token()

    assert claims(token)["appid"] == emulator.info["clients"]["subjectName"]["clientId"]
    assert graph_status(emulator, token) == 200


async def test_subject_name_issuer_fails_without_the_chain(emulator: RunningEmulator, build: Build) -> None:
    provider = build(subject_name_credential(emulator, send_chain=False))

    with pytest.raises(AuthenticationError) as raised:
        await provider.token()

    assert raised.value.code == "AADSTS700027"
    assert raised.value.credential == "certificate"
    assert "Upload this certificate to the app registration" in str(raised.value)


@pytest.fixture
def app_service(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The environment App Service / Container Apps give a managed identity."""
    identity: dict[str, Any] = emulator.info["managedIdentity"]
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity["endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", identity["header"])
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return identity


@pytest.mark.parametrize(
    ("kind", "setting", "key"),
    [
        ("systemAssigned", None, None),
        ("userAssigned", "client_id", "clientId"),
        ("userAssigned", "resource_id", "resourceId"),
        ("userAssigned", "object_id", "objectId"),
    ],
)
async def test_managed_identity(
    emulator: RunningEmulator,
    build: Build,
    app_service: dict[str, Any],
    kind: str,
    setting: str | None,
    key: str | None,
) -> None:
    expected = app_service[kind]
    credential = ManagedIdentityCredential(**({setting: expected[key]} if setting and key else {}))
    before = requests_to(emulator, "identity.msi")

    token = await build(credential).token()

    assert (claims(token)["appid"], claims(token)["oid"]) == (expected["clientId"], expected["objectId"])
    assert requests_to(emulator, "identity.msi") == before + 1
    assert graph_status(emulator, token) == 200


async def test_unknown_managed_identity(emulator: RunningEmulator, build: Build, app_service: Any) -> None:
    provider = build(ManagedIdentityCredential(client_id="00000000-0000-0000-0000-0000000000aa"))

    with pytest.raises(AuthenticationError) as raised:
        await provider.token()

    assert raised.value.credential == "managed_identity"
    assert raised.value.code is None
    assert "invalid_scope: 400, Unable to load the proper Managed Identity." in str(raised.value)
    assert "that the identity is assigned to this resource" in str(raised.value)


# Workload identity federation ----------------------------------------------------------------


@pytest.fixture
def token_file(emulator: RunningEmulator, tmp_path: Path) -> Path:
    """A copy of the emulator's federated token, for this test to rotate."""
    copy = tmp_path / "azure-identity-token"
    shutil.copyfile(emulator.info["clients"]["federated"]["tokenFile"], copy)
    return copy


def mint_federated_token(running: RunningEmulator, **body: Any) -> str:
    with running.control() as control:
        response = control.post("/federatedTokens", json=body)
    response.raise_for_status()
    return str(response.json()["token"])


def rewrite(path: Path, content: str | None) -> None:
    """Replace the token file's content, or remove the file (``None``), as a rotation would."""
    if content is None:
        path.unlink()
    else:
        path.write_text(content)


def workload_credential(running: RunningEmulator, token_file: Path) -> WorkloadIdentityCredential:
    return WorkloadIdentityCredential(
        client_id=running.info["clients"]["federated"]["clientId"], token_file=token_file
    )


async def test_workload_identity_reads_the_token_file_on_every_acquisition(
    emulator: RunningEmulator, build: Build, token_file: Path
) -> None:
    provider = build(workload_credential(emulator, token_file))
    before = requests_to(emulator)

    first = await provider.token()
    assert claims(first)["appid"] == emulator.info["clients"]["federated"]["clientId"]
    assert graph_status(emulator, first) == 200

    rewrite(token_file, "not-a-jwt\n")
    await provider.invalidate(first)
    with pytest.raises(AuthenticationError) as raised:
        await provider.token()
    assert raised.value.code == "AADSTS50027"
    assert raised.value.credential == "workload_identity"
    assert "invalid_request: AADSTS50027: JWT token is invalid or malformed." in str(raised.value)

    rewrite(token_file, mint_federated_token(emulator))
    second = await provider.token()
    assert second.token != first.token
    assert graph_status(emulator, second) == 200
    assert requests_to(emulator) == before + 3


async def test_workload_identity_with_an_untrusted_subject(
    emulator: RunningEmulator, build: Build, token_file: Path
) -> None:
    rewrite(token_file, mint_federated_token(emulator, subject="system:serviceaccount:other:intruder"))

    with pytest.raises(AuthenticationError) as raised:
        await build(workload_credential(emulator, token_file)).token()

    assert raised.value.code == "AADSTS700213"
    assert "Check the subject of the app's federated identity credential." in str(raised.value)


@pytest.mark.parametrize(("content", "problem"), [("", "is empty"), (None, "(No such file or directory)")])
async def test_workload_identity_token_file_problems(
    emulator: RunningEmulator, build: Build, token_file: Path, content: str | None, problem: str
) -> None:
    provider = build(workload_credential(emulator, token_file))
    rewrite(token_file, content)

    with pytest.raises(AuthenticationError) as raised:
        await provider.token()

    tenant = emulator.info["tenantId"]
    assert str(raised.value).startswith(f"No access token for tenant {tenant}: ")
    assert f"federated token file {token_file} {problem}" in str(raised.value)


# Caching, concurrency, refresh and invalidation ----------------------------------------------


async def test_concurrent_callers_share_one_acquisition(emulator: RunningEmulator, build: Build) -> None:
    provider = build(secret_credential(emulator))
    before = requests_to(emulator)

    tokens = await asyncio.gather(*(provider.token() for _ in range(20)))

    assert len({token.token for token in tokens}) == 1
    assert requests_to(emulator) == before + 1
    assert await provider.token() is tokens[0]
    assert requests_to(emulator) == before + 1


async def test_refreshes_at_the_margin_before_expiry(
    emulator: RunningEmulator, build: Build, clock: FakeClock
) -> None:
    provider = build(secret_credential(emulator))
    before = requests_to(emulator)
    first = await provider.token()

    clock.advance(LIFETIME - MARGIN - timedelta(seconds=1))
    assert await provider.token() is first
    assert requests_to(emulator) == before + 1

    clock.advance(timedelta(seconds=1))
    second = await provider.token()
    assert second.token != first.token
    assert second.expires_at == clock.now + LIFETIME
    assert requests_to(emulator) == before + 2
    assert graph_status(emulator, second) == 200


async def test_a_wider_margin_refreshes_although_msal_would_still_serve_its_cache(
    emulator: RunningEmulator, build: Build, clock: FakeClock
) -> None:
    provider = build(secret_credential(emulator), refresh_margin=timedelta(minutes=20))
    first = await provider.token()

    clock.advance(LIFETIME - timedelta(minutes=20))
    second = await provider.token()

    assert second.token != first.token


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A dedicated emulator issuing 330-second tokens, whose clock tests may move: other tests
    rely on the session emulator's clock."""
    directory = tmp_path_factory.mktemp("short-lived-emulator")
    with start_emulator(
        directory, "--scale", "small", "--throttling", "off", "--token-lifetime", "330"
    ) as own:
        yield own


async def test_short_lived_tokens_refresh_at_half_their_life(
    short_lived: RunningEmulator, build: Build, clock: FakeClock
) -> None:
    provider = build(
        secret_credential(short_lived),
        endpoints=emulator_endpoints(short_lived),
        tenant=short_lived.info["tenantId"],
    )
    before = requests_to(short_lived)
    first = await provider.token()
    assert first.expires_at == clock.now + timedelta(seconds=330)

    clock.advance(timedelta(seconds=164))
    assert await provider.token() is first
    assert requests_to(short_lived) == before + 1

    clock.advance(timedelta(seconds=1))
    second = await provider.token()
    assert second.token != first.token
    assert requests_to(short_lived) == before + 2
    assert graph_status(short_lived, second) == 200


async def test_invalidate_after_the_tenant_clock_moved_fetches_a_token_graph_accepts(
    short_lived: RunningEmulator, build: Build
) -> None:
    provider = build(
        secret_credential(short_lived),
        endpoints=emulator_endpoints(short_lived),
        tenant=short_lived.info["tenantId"],
    )
    before = requests_to(short_lived)
    first = await provider.token()
    assert graph_status(short_lived, first) == 200

    with short_lived.control() as control:
        control.post("/clock", json={"advanceSeconds": 4000}).raise_for_status()
    assert graph_status(short_lived, first) == 401
    assert await provider.token() is first  # still valid on this host's clock

    await provider.invalidate(first)
    second = await provider.token()

    assert second.token != first.token
    assert graph_status(short_lived, second) == 200
    assert requests_to(short_lived) == before + 2


async def test_invalidating_a_replaced_token_keeps_the_newer_one(
    emulator: RunningEmulator, build: Build, clock: FakeClock
) -> None:
    provider = build(secret_credential(emulator))
    first = await provider.token()
    clock.advance(LIFETIME - MARGIN)
    second = await provider.token()
    before = requests_to(emulator)

    await provider.invalidate(first)

    assert await provider.token() is second
    assert requests_to(emulator) == before


async def test_tenants_have_independent_providers(emulator: RunningEmulator, build: Build) -> None:
    secret = build(secret_credential(emulator))
    limited = build(secret_credential(emulator, "limited"))
    secret_token, limited_token = await asyncio.gather(secret.token(), limited.token())
    before = requests_to(emulator)

    await limited.invalidate(limited_token)

    assert await secret.token() is secret_token
    assert requests_to(emulator) == before
    assert claims(limited_token)["roles"] == ["Application.Read.All"]
    assert claims(secret_token)["appid"] != claims(limited_token)["appid"]


# Failures ------------------------------------------------------------------------------------


async def test_wrong_secret_names_the_code_and_never_the_secret(
    emulator: RunningEmulator, build: Build
) -> None:
    wrong = "Wr0ng~secret.value-1234567890"
    provider = build(secret_credential(emulator, client_secret=wrong))

    with pytest.raises(AuthenticationError) as raised:
        await provider.token()

    error = raised.value
    tenant, client_id = emulator.info["tenantId"], emulator.info["clients"]["secret"]["clientId"]
    assert (error.code, error.tenant, error.credential) == ("AADSTS7000215", tenant, "client_secret")
    assert str(error).startswith(
        f"No access token for tenant {tenant} with the client secret credential for client {client_id}: "
        "invalid_client: AADSTS7000215: Invalid client secret provided."
    )
    assert str(error).endswith("Set client_secret to the secret's value (not its secret id).")
    assert "trace id " in str(error)
    assert wrong not in str(error)
    assert wrong not in repr(error)
    assert emulator.info["clients"]["secret"]["clientSecret"] not in str(error)


async def test_disabled_client(emulator: RunningEmulator, build: Build) -> None:
    with pytest.raises(AuthenticationError) as raised:
        await build(secret_credential(emulator, "disabled")).token()

    assert raised.value.code == "AADSTS7000112"
    assert "unauthorized_client: AADSTS7000112: Application '" in str(raised.value)
    assert "is disabled." in str(raised.value)
    assert "Enable the application in this tenant, or configure another client." in str(raised.value)


async def test_untrusted_certificate_is_refused_and_points_at_ca_bundle(
    emulator: RunningEmulator, build: Build
) -> None:
    endpoints = resolve_endpoints(authority_host=emulator.base_url)  # the system trust store

    with pytest.raises(AuthenticationError) as raised:
        await build(secret_credential(emulator), endpoints=endpoints).token()

    message = str(raised.value)
    assert f"cannot reach the identity platform {emulator.base_url}: ConnectError: [SSL: " in message
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert message.endswith(". Set ca_bundle to the CA that issued the server's certificate.")
    assert raised.value.code is None


async def test_unknown_tenant(emulator: RunningEmulator, build: Build) -> None:
    tenant = "00000000-0000-0000-0000-000000000001"

    with pytest.raises(AuthenticationError) as raised:
        await build(secret_credential(emulator), tenant=tenant).token()

    message = str(raised.value)
    assert message.startswith(
        f"No access token for tenant {tenant} with the client secret credential for client "
        f"{emulator.info['clients']['secret']['clientId']}: ValueError: Unable to get authority "
        f"configuration for {emulator.base_url}/{tenant}."
    )
    assert message.endswith(
        "double check your tenant name or GUID is correct. Check the tenant id, the cloud and authority_host."
    )
    assert raised.value.tenant == tenant


async def test_requests_ca_bundle_does_not_decide_whom_msal_trusts(
    emulator: RunningEmulator, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_bundle = certifi.where()  # a public-CA bundle without the emulator's CA
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, other_bundle)
    registration = emulator.info["clients"]["secret"]

    # The quirk this guards against: MSAL's default requests session lets the variable win.
    with pytest.raises(requests.exceptions.SSLError):
        msal.ConfidentialClientApplication(
            registration["clientId"],
            client_credential=registration["clientSecret"],
            authority=emulator.info["authority"],
            instance_discovery=False,
            verify=emulator.info["caBundle"],
        ).acquire_token_for_client(["https://graph.microsoft.com/.default"])

    token = await build(secret_credential(emulator)).token()

    assert graph_status(emulator, token) == 200


# A 5xx while a refresh is due: a stub identity platform ---------------------------------------


@contextlib.contextmanager
def flaky_identity_platform(directory: Path, tenant: str) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """A minimal HTTPS identity platform whose token endpoint answers 503 once ``state["fail"]``
    is set; yields its base URL, its CA bundle and the state (with the number of token POSTs)."""
    state: dict[str, Any] = {"fail": False, "posts": 0}

    async def discovery(request: Request) -> Response:
        root = f"{request.url.scheme}://{request.url.netloc}/{tenant}"
        return JSONResponse(
            {
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "issuer": f"{root}/v2.0",
            }
        )

    async def token(request: Request) -> Response:
        state["posts"] += 1
        if state["fail"]:
            # Retry-After 0 keeps MSAL's own throttling (5 s of real time by default) out of the way.
            return JSONResponse(
                {"error": "temporarily_unavailable"}, status_code=503, headers={"Retry-After": "0"}
            )
        body = {"token_type": "Bearer", "expires_in": 3599, "access_token": f"stub-token-{state['posts']}"}
        return JSONResponse(body)

    app = Starlette(
        routes=[
            Route(f"/{tenant}/v2.0/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route(f"/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        ]
    )
    tls = create_tls_files(directory)
    with serve_in_thread(app, tls) as server:
        yield server.base_url, tls.ca_bundle, state


async def test_a_5xx_during_a_due_refresh_returns_the_still_valid_token(
    build: Build, clock: FakeClock, tmp_path: Path
) -> None:
    tenant = "contoso.onmicrosoft.com"
    credential = ClientSecretCredential(
        client_id="12bb62f1-5773-4887-96ce-05ce3f5d898b", client_secret=SecretStr("s")
    )
    with flaky_identity_platform(tmp_path, tenant) as (base_url, ca_bundle, state):
        endpoints = resolve_endpoints(authority_host=base_url, ca_bundle=ca_bundle)
        provider = build(credential, endpoints=endpoints, tenant=tenant)
        first = await provider.token()
        assert first.token == "stub-token-1"

        state["fail"] = True
        clock.advance(LIFETIME - MARGIN)
        assert await provider.token() is first
        assert state["posts"] == 2

        clock.advance(timedelta(seconds=29))  # the failed refresh is retried 30 s later
        assert await provider.token() is first
        assert state["posts"] == 2
        clock.advance(timedelta(seconds=1))
        assert await provider.token() is first
        assert state["posts"] == 3

        clock.advance(MARGIN)
        with pytest.raises(AuthenticationError) as raised:
            await provider.token()
    assert str(raised.value).endswith(
        "with the client secret credential for client 12bb62f1-5773-4887-96ce-05ce3f5d898b: the identity "
        "platform failed: HTTP Error: 503. The next token request tries again."
    )
    assert raised.value.code is None


# Settings and lifecycle ----------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["", "common", "organizations", "a/b"])
def test_a_tenant_must_be_named(emulator: RunningEmulator, tenant: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^tenant_id: "):
        build_token_provider(tenant, secret_credential(emulator), emulator_endpoints(emulator))


def test_negative_refresh_margin_is_refused(emulator: RunningEmulator) -> None:
    with pytest.raises(ConfigurationError, match=r"^refresh_margin: must not be negative$"):
        build_token_provider(
            "contoso.onmicrosoft.com",
            secret_credential(emulator),
            emulator_endpoints(emulator),
            refresh_margin=timedelta(seconds=-1),
        )


def test_bad_certificate_settings_fail_when_the_provider_is_built(emulator: RunningEmulator) -> None:
    registration = emulator.info["clients"]["certificate"]
    credential = CertificateCredential(
        client_id=registration["clientId"],
        certificate_path=registration["pfxPath"],
        password=SecretStr("wrong"),
    )

    with pytest.raises(ConfigurationError, match=r"^password: "):
        build_token_provider(emulator.info["tenantId"], credential, emulator_endpoints(emulator))


async def test_tokens_stay_out_of_reprs(emulator: RunningEmulator, build: Build) -> None:
    provider = build(secret_credential(emulator))
    token = await provider.token()

    assert token.token not in repr(token)
    assert repr(provider) == (
        f"<MsalTokenProvider tenant={emulator.info['tenantId']} {provider.description}>"
    )


async def test_closed_provider_refuses_to_serve(emulator: RunningEmulator, build: Build) -> None:
    provider = build(secret_credential(emulator))
    await provider.token()

    await provider.aclose()

    with pytest.raises(RuntimeError, match="is closed"):
        await provider.token()
