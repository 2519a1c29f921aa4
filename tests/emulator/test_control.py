"""The ``/_emulator`` control endpoints (``emulator/control.py``, ``emulator/tenant/changes.py``).

Injections are permanent, so this module runs an emulator of its own; the tenant generated in
this process from the same options is the reference. Every Graph call uses a token issued just
before it, since some tests move the emulator clock by hours.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from emulator.tenant.model import Tenant
from emulator.tenant.rules import DEFAULT_BASELINE
from tests.support.emulator import RunningEmulator, collect, start_emulator

START = datetime(2026, 11, 27, 12, tzinfo=UTC)
UNKNOWN_ID = "0badc0de-0000-4000-8000-000000000000"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
WORKLOAD_AUDIENCE = "api://AzureADTokenExchange"


@pytest.fixture(scope="module")
def controlled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    directory = tmp_path_factory.mktemp("controlled")
    with start_emulator(
        directory, "--seed", "7", "--now", iso(START), "--scale", "small", "--throttling", "off"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def tenant(controlled: RunningEmulator) -> Tenant:
    """The emulated tenant as generated, before any injection."""
    return controlled.reference()


# -- helpers ------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def graph_client(running: RunningEmulator, client: str = "secret") -> httpx.Client:
    """A Graph client with a token issued now (on the emulator clock)."""
    token = running.request_token(client).json()["access_token"]
    return running.http(base_url=running.base_url, headers={"Authorization": f"Bearer {token}"})


def control_call(running: RunningEmulator, method: str, path: str, **options: Any) -> httpx.Response:
    with running.control() as control:
        return control.request(method, path, **options)


def clock_now(running: RunningEmulator) -> datetime:
    return parse(control_call(running, "GET", "/clock").json()["now"])


def truth(running: RunningEmulator, at: str | None = None) -> dict[str, Any]:
    response = control_call(running, "GET", "/truth", params={"at": at} if at else None)
    assert response.status_code == 200, response.text
    return dict(response.json())


def findings_for(document: dict[str, Any], resource_id: str) -> list[dict[str, Any]]:
    return [f for f in document["findings"] if f["resource"]["id"] == resource_id]


def assert_refused(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response.json() == {"error": {"code": "EmulatorControl", "message": message}}


# -- clock --------------------------------------------------------------------------------------


def test_clock_reports_the_start_and_a_running_now(controlled: RunningEmulator) -> None:
    body = control_call(controlled, "GET", "/clock").json()
    assert set(body) == {"now", "start"}
    assert parse(body["start"]) == START
    assert parse(body["now"]) >= START


def test_clock_moves_forward_by_seconds_or_to_an_instant(controlled: RunningEmulator) -> None:
    started = time.monotonic()
    before = clock_now(controlled)
    moved = control_call(controlled, "POST", "/clock", json={"advanceSeconds": 3600})
    elapsed = time.monotonic() - started
    assert moved.status_code == 200
    advanced = (parse(moved.json()["now"]) - before).total_seconds()
    assert 3600 <= advanced <= 3600 + elapsed

    target = (parse(moved.json()["now"]) + timedelta(minutes=10)).replace(microsecond=0)
    started = time.monotonic()
    moved = control_call(controlled, "POST", "/clock", json={"now": iso(target)})
    elapsed = time.monotonic() - started
    assert moved.status_code == 200
    assert 0 <= (parse(moved.json()["now"]) - target).total_seconds() <= elapsed
    assert parse(moved.json()["start"]) == START


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'send {"advanceSeconds": N} or {"now": ISO-8601}'),
        ({"advanceSeconds": -60}, "the emulator clock only moves forward"),
        ({"advanceSeconds": "soon"}, "'advanceSeconds' must be a number of seconds, got 'soon'"),
        ({"now": "2026-11-27T12:00:00"}, "a timezone-aware instant is required"),
        ({"now": "tomorrow"}, "Invalid isoformat string: 'tomorrow'"),
    ],
)
def test_clock_refuses_bad_moves(controlled: RunningEmulator, body: dict[str, Any], message: str) -> None:
    assert_refused(control_call(controlled, "POST", "/clock", json=body), 400, message)


def test_clock_refuses_to_go_back_to_an_earlier_instant(controlled: RunningEmulator) -> None:
    response = control_call(controlled, "POST", "/clock", json={"now": iso(START)})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith(f"the emulator clock only moves forward; {iso(START)} is before 2026-11-27T")
    assert clock_now(controlled) > START + timedelta(hours=1)


def test_a_token_expires_when_the_clock_moves_past_its_lifetime(controlled: RunningEmulator) -> None:
    with graph_client(controlled) as graph:
        assert graph.get("/v1.0/applications?$top=1").status_code == 200
        control_call(controlled, "POST", "/clock", json={"advanceSeconds": 2 * 3600}).raise_for_status()
        expired = graph.get("/v1.0/applications?$top=1")
    assert expired.status_code == 401
    assert "WWW-Authenticate" in expired.headers
    error = expired.json()["error"]
    assert (error["code"], error["message"]) == (
        "InvalidAuthenticationToken",
        "Lifetime validation failed, the token is expired.",
    )
    with graph_client(controlled) as graph:
        assert graph.get("/v1.0/applications?$top=1").status_code == 200


# -- stats --------------------------------------------------------------------------------------


def test_stats_count_token_requests_with_the_status_answered(controlled: RunningEmulator) -> None:
    control_call(controlled, "DELETE", "/stats")
    registration = controlled.info["clients"]["secret"]
    with controlled.http() as http:
        statuses = [
            http.post(
                f"{controlled.info['authority']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": registration["clientId"],
                    "client_secret": secret,
                    "scope": "https://graph.microsoft.com/.default",
                },
            ).status_code
            for secret in (registration["clientSecret"], "wrong")
        ]
    assert statuses == [200, 401]
    token = control_call(controlled, "GET", "/stats").json()["endpoints"]["identity.token"]
    assert (token["requests"], token["statuses"]) == (2, {"200": 1, "401": 1})


def test_stats_count_requests_until_deleted(controlled: RunningEmulator) -> None:
    with graph_client(controlled) as graph:
        deleted = control_call(controlled, "DELETE", "/stats")
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert control_call(controlled, "GET", "/stats").json() == {
            "total": 0,
            "throttled": 0,
            "endpoints": {},
        }
        statuses = [
            graph.get("/v1.0/applications?$top=5").status_code,
            graph.get("/v1.0/applications?$top=5").status_code,
            graph.get(f"/v1.0/servicePrincipals/{UNKNOWN_ID}").status_code,
        ]
    assert statuses == [200, 200, 404]
    assert control_call(controlled, "GET", "/stats").json() == {
        "total": 3,
        "throttled": 0,
        "endpoints": {
            "applications": {
                "requests": 2,
                "throttled": 0,
                "items": 10,
                "statuses": {"200": 2},
                "faults": {},
            },
            "servicePrincipals.item": {
                "requests": 1,
                "throttled": 0,
                "items": 0,
                "statuses": {"404": 1},
                "faults": {},
            },
        },
    }


# -- truth --------------------------------------------------------------------------------------


def test_truth_is_evaluated_at_a_given_instant_inside_its_window(controlled: RunningEmulator) -> None:
    window = truth(controlled)
    assert (window["validFrom"], window["generatedFor"]) == (iso(START - timedelta(days=1)), iso(START))
    at = iso(START + timedelta(days=2))
    assert truth(controlled, at)["evaluatedAt"] == at


@pytest.mark.parametrize("offset", [timedelta(days=-1, seconds=-1), timedelta(days=60)])
def test_truth_outside_its_window_is_refused_naming_the_window(
    controlled: RunningEmulator, offset: timedelta
) -> None:
    window = truth(controlled)
    at = iso(START + offset)
    assert_refused(
        control_call(controlled, "GET", "/truth", params={"at": at}),
        400,
        f"the ground truth is exact between {window['validFrom']} and {window['validUntil']}; "
        f"{at} is outside",
    )


def test_truth_needs_a_time_zone(controlled: RunningEmulator) -> None:
    response = control_call(controlled, "GET", "/truth", params={"at": "2026-11-28T00:00:00"})
    assert_refused(response, 400, "'at' needs a time zone (use Z for UTC)")


# -- injected sign-in ---------------------------------------------------------------------------


def test_injected_sign_in_is_the_newest_and_a_planted_problem(
    controlled: RunningEmulator, tenant: Tenant
) -> None:
    retained = truth(controlled)["counts"]["signIns"]  # fewer than generated once the clock moved
    before = clock_now(controlled).replace(microsecond=0)
    response = control_call(
        controlled, "POST", "/signIns", json={"riskLevel": "high", "errorCode": 0, "singleFactor": True}
    )
    assert response.status_code == 201
    created = response.json()
    assert (created["riskLevelDuringSignIn"], created["status"]["errorCode"]) == ("high", 0)
    assert parse(created["createdDateTime"]) >= before
    assert not [key for key in created if key.startswith("@")]

    with graph_client(controlled) as graph:
        newest = graph.get("/v1.0/auditLogs/signIns?$top=1").json()["value"]
        since = graph.get(f"/v1.0/auditLogs/signIns?$filter=createdDateTime ge {iso(before)}").json()
        beta = graph.get(f"/beta/auditLogs/signIns/{created['id']}").json()
        beta_newest = graph.get("/beta/auditLogs/signIns?$top=1").json()["value"]
    assert newest == [created]
    assert since["value"] == [created]
    assert "@odata.nextLink" not in since
    assert beta["authenticationRequirement"] == "singleFactorAuthentication"
    assert [item["id"] for item in beta_newest] == [created["id"]]

    document = truth(controlled)
    assert document["counts"]["signIns"] == retained + 1
    detail = {"userId": created["userId"], "createdDateTime": created["createdDateTime"], "riskLevel": "high"}
    resource = {"type": "signIn", "id": created["id"], "displayName": created["userPrincipalName"]}
    assert findings_for(document, created["id"]) == [
        {
            "check": "risky-sign-ins",
            "rule": "high-risk-sign-in-succeeded",
            "severity": "critical",
            "resource": resource,
            "detail": detail,
        },
        {
            "check": "risky-sign-ins",
            "rule": "risky-sign-in-single-factor",
            "severity": "high",
            "resource": resource,
            "detail": detail,
        },
    ]


# -- injected consent grant ---------------------------------------------------------------------


def recently_used_client(tenant: Tenant) -> dict[str, Any]:
    """A service principal that signed in within ``unused_days``, has no allow-list and no
    tenant-wide grant to Microsoft Graph yet: a new grant to it is only new and risky."""
    graph_id = tenant.consents.graph_sp["id"]
    last_seen = {
        entry["appId"]: entry["lastSignInActivity"]["lastSignInDateTime"]
        for _key, entry in tenant.activity.scan(None, None)
        if (entry.get("lastSignInActivity") or {}).get("lastSignInDateTime")
    }
    granted = {
        grant["clientId"]
        for _key, grant in tenant.grants.scan(None, None)
        if grant["resourceId"] == graph_id and grant["consentType"] == "AllPrincipals"
    }
    allow_listed = {name for name, _permissions in DEFAULT_BASELINE.allowed_permissions}
    recent = START - timedelta(days=DEFAULT_BASELINE.unused_days - 1)
    for _key, sp in tenant.service_principals.scan(None, None):
        seen = last_seen.get(sp["appId"])
        if (
            sp["id"] != graph_id
            and sp["id"] not in granted
            and sp["displayName"] not in allow_listed
            and seen is not None
            and parse(seen) >= recent
        ):
            return dict(sp)
    raise AssertionError("the tenant has no recently used client without a Graph grant")


def test_injected_grant_is_listed_last_and_is_a_planted_problem(
    controlled: RunningEmulator, tenant: Tenant
) -> None:
    client = recently_used_client(tenant)
    graph_id = tenant.consents.graph_sp["id"]
    scope = "Directory.ReadWrite.All User.Read"
    response = control_call(controlled, "POST", "/grants", json={"clientId": client["id"], "scope": scope})
    assert response.status_code == 201
    grant = response.json()
    assert {key: value for key, value in grant.items() if key != "id"} == {
        "clientId": client["id"],
        "consentType": "AllPrincipals",
        "principalId": None,
        "resourceId": graph_id,
        "scope": scope,
    }

    earlier = [g for _key, g in tenant.grants.scan(None, None) if g["clientId"] == client["id"]]
    with graph_client(controlled) as graph:
        every, _requests = collect(graph, "/v1.0/oauth2PermissionGrants?$top=999")
        by_client = graph.get(f"/v1.0/oauth2PermissionGrants?$filter=clientId eq '{client['id']}'").json()
    assert len(every) == tenant.grants.count() + 1
    assert every[-1] == grant
    assert by_client["value"] == [*earlier, grant]

    client_ref = {"id": client["id"], "displayName": client["displayName"]}
    resource = {"type": "oAuth2PermissionGrant", "id": grant["id"], "displayName": None}
    assert findings_for(truth(controlled), grant["id"]) == [
        {
            "check": "consent-grants",
            "rule": "high-privilege-grant",
            "severity": "high",
            "resource": resource,
            "detail": {"client": client_ref, "permissions": ["Directory.ReadWrite.All"]},
        },
        {
            "check": "consent-grants",
            "rule": "new-grant",
            "severity": "info",
            "resource": resource,
            "detail": {"client": client_ref, "permissions": ["Directory.ReadWrite.All", "User.Read"]},
        },
    ]

    again = control_call(controlled, "POST", "/grants", json={"clientId": client["id"], "scope": "User.Read"})
    assert_refused(
        again, 409, f"a grant {grant['id']} already exists for that client, resource and principal"
    )


# -- added credential ---------------------------------------------------------------------------


def healthy(tenant: Tenant, object_type: str, document: dict[str, Any]) -> dict[str, Any]:
    """A generated application or (non-SAML, non-managed) service principal with no finding."""
    collection = tenant.applications if object_type == "application" else tenant.service_principals
    flagged = {finding["resource"]["id"] for finding in document["findings"]}
    for _key, obj in collection.scan(None, None):
        if (
            obj["id"] not in flagged
            and obj.get("servicePrincipalType", "Application") == "Application"
            and obj.get("preferredSingleSignOnMode") != "saml"
        ):
            return dict(obj)
    raise AssertionError(f"no healthy {object_type}")


@pytest.mark.parametrize(
    ("object_type", "credential_type", "collection", "listed_as", "credential_kind"),
    [
        ("application", "password", "applications", "passwordCredentials", "password"),
        ("servicePrincipal", "certificate", "servicePrincipals", "keyCredentials", "certificate"),
    ],
)
def test_credential_expiring_in_three_days_is_listed_and_critical(
    controlled: RunningEmulator,
    tenant: Tenant,
    object_type: str,
    credential_type: str,
    collection: str,
    listed_as: str,
    credential_kind: str,
) -> None:
    now = clock_now(controlled)
    at = iso(now + timedelta(minutes=1))
    before = truth(controlled, at)
    target = healthy(tenant, object_type, before)
    end = iso(now + timedelta(days=3))
    response = control_call(
        controlled,
        "POST",
        "/credentials",
        json={
            "objectType": object_type,
            "id": target["id"],
            "type": credential_type,
            "displayName": "rotation drill",
            "endDateTime": end,
        },
    )
    assert response.status_code == 201
    credential = response.json()
    assert credential["endDateTime"] == end

    with graph_client(controlled) as graph:
        listed = graph.get(f"/v1.0/{collection}/{target['id']}").json()[listed_as]
    assert listed == [*target[listed_as], credential]

    after = truth(controlled, at)
    assert [f for f in before["findings"] if f not in after["findings"]] == []
    assert [f for f in after["findings"] if f not in before["findings"]] == [
        {
            "check": "credential-expiry",
            "rule": "credential-expiring-critical",
            "severity": "critical",
            "resource": {"type": object_type, "id": target["id"], "displayName": target["displayName"]},
            "detail": {"keyId": credential["keyId"], "credentialType": credential_kind, "endDateTime": end},
        }
    ]


# -- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/signIns", {"riskLevel": "severe"}, 400, "'riskLevel' must be one of none, low, medium, high"),
        ("/signIns", {"errorCode": "0"}, 400, "'errorCode' must be an integer (0 for success)"),
        ("/signIns", {"userId": UNKNOWN_ID}, 404, f"no generated user has id '{UNKNOWN_ID}'"),
        ("/signIns", {"appId": UNKNOWN_ID}, 404, f"appId '{UNKNOWN_ID}' is not an app users sign in to"),
        ("/signIns", "{not json", 400, "the request body is not JSON"),
        ("/grants", "[1, 2]", 400, "the request body must be a JSON object"),
        ("/grants", {"scope": "User.Read"}, 400, "'clientId' must be a non-empty string"),
        (
            "/grants",
            {"clientId": UNKNOWN_ID, "scope": "User.Read"},
            404,
            f"no service principal has id '{UNKNOWN_ID}'",
        ),
        (
            "/grants",
            {"clientId": "{client}", "scope": "User.Read", "consentType": "Principal"},
            400,
            "consentType Principal needs principalId; AllPrincipals must not have one",
        ),
        (
            "/grants",
            {"clientId": "{client}", "scope": "User.Read", "resourceId": UNKNOWN_ID},
            404,
            f"no resource service principal has id '{UNKNOWN_ID}'",
        ),
        ("/credentials", {"id": UNKNOWN_ID}, 404, f"no application has id '{UNKNOWN_ID}'"),
        (
            "/credentials",
            {"objectType": "servicePrincipal", "id": UNKNOWN_ID},
            404,
            f"no servicePrincipal has id '{UNKNOWN_ID}'",
        ),
        (
            "/credentials",
            {"objectType": "user", "id": "{application}"},
            400,
            "'objectType' must be application or servicePrincipal",
        ),
        (
            "/credentials",
            {"id": "{application}", "type": "token"},
            400,
            "'type' must be password or certificate",
        ),
        (
            "/credentials",
            {"id": "{application}", "endDateTime": "next week"},
            400,
            "'endDateTime' must be an ISO-8601 date-time, got 'next week'",
        ),
        (
            "/credentials",
            {"id": "{application}", "endDateTime": "2027-01-01T00:00:00"},
            400,
            "'endDateTime' needs a time zone (use Z for UTC)",
        ),
        (
            "/credentials",
            {"id": "{application}", "endDateTime": "2020-01-01T00:00:00Z"},
            400,
            "'endDateTime' must be after 'startDateTime'",
        ),
    ],
)
def test_bad_injections_are_refused_with_a_reason_and_change_nothing(
    controlled: RunningEmulator,
    tenant: Tenant,
    path: str,
    body: dict[str, Any] | str,
    status: int,
    message: str,
) -> None:
    _key, application = next(iter(tenant.applications.scan(None, None)))
    client = recently_used_client(tenant)
    at = iso(clock_now(controlled))
    before = truth(controlled, at)
    if isinstance(body, str):
        response = control_call(controlled, "POST", path, content=body.encode())
    else:
        ids = {"{application}": application["id"], "{client}": client["id"]}
        response = control_call(
            controlled, "POST", path, json={key: ids.get(value, value) for key, value in body.items()}
        )
    assert_refused(response, status, message)
    after = truth(controlled, at)
    assert (after["counts"], after["findings"]) == (before["counts"], before["findings"])


# -- federated tokens ---------------------------------------------------------------------------


def exchange(running: RunningEmulator, client_id: str, assertion: str) -> httpx.Response:
    with running.http() as http:
        return http.post(
            f"{running.info['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_assertion_type": JWT_BEARER,
                "client_assertion": assertion,
                "scope": GRAPH_SCOPE,
            },
        )


def test_minted_federated_token_is_accepted_as_the_federated_clients_assertion(
    controlled: RunningEmulator,
) -> None:
    federated = controlled.info["clients"]["federated"]
    minted = control_call(controlled, "POST", "/federatedTokens", json={})
    assert minted.status_code == 201
    assert minted.json()["issuer"] == federated["issuer"]
    claims = jwt.decode(minted.json()["token"], options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["aud"]) == (
        federated["issuer"],
        federated["subject"],
        [WORKLOAD_AUDIENCE],
    )
    assert claims["exp"] - claims["iat"] == 3600

    response = exchange(controlled, federated["clientId"], minted.json()["token"])
    assert response.status_code == 200, response.text
    access_token = response.json()["access_token"]
    access = jwt.decode(access_token, options={"verify_signature": False})
    assert (access["appid"], access["appidacr"]) == (federated["clientId"], "2")
    with controlled.http(base_url=controlled.base_url) as http:
        listing = http.get(
            "/v1.0/servicePrincipals?$top=3", headers={"Authorization": f"Bearer {access_token}"}
        )
    assert listing.status_code == 200
    assert len(listing.json()["value"]) == 3


def test_minted_token_for_another_subject_is_not_trusted(controlled: RunningEmulator) -> None:
    federated = controlled.info["clients"]["federated"]
    subject = "system:serviceaccount:other:intruder"
    minted = control_call(
        controlled, "POST", "/federatedTokens", json={"subject": subject, "lifetimeSeconds": 600}
    ).json()
    claims = jwt.decode(minted["token"], options={"verify_signature": False})
    assert (claims["sub"], claims["exp"] - claims["iat"]) == (subject, 600)
    assert claims["kubernetes.io"]["namespace"] == "other"

    response = exchange(controlled, federated["clientId"], minted["token"])
    assert response.status_code == 401
    assert (response.json()["error"], response.json()["error_codes"]) == ("invalid_client", [700213])
