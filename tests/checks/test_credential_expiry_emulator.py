"""credential-expiry end to end: the findings on the session's emulated tenant are exactly the
emulator's ground truth for the check, and on a tenant of its own, credentials added at run time to
healthy objects are reported at the next run exactly as the truth at that time says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from checks.credential_expiry import CERTIFICATE, CLIENT_SECRET, CredentialExpiry
from monitor.baseline import load_baseline
from tests.support.checks import (
    NOW,
    emulator_now,
    identities,
    identity,
    private_emulator,
    run_check,
    run_once,
    truth_identities,
    truth_identity,
    truth_of,
)
from tests.support.emulator import RunningEmulator, collect


async def test_the_findings_are_exactly_the_ground_truth(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, CredentialExpiry.id)
    findings = await run_check(emulator, CredentialExpiry)
    assert identities(findings) == truth_identities(truth)
    assert {f["rule"] for f in truth} >= {"credential-expired", "unused-application"}


async def test_every_finding_explains_itself(emulator: RunningEmulator) -> None:
    truth = truth_of(emulator, CredentialExpiry.id)
    findings = await run_check(emulator, CredentialExpiry)
    assert len(findings) == len({(f.rule, f.resource.id) for f in findings})
    for finding in findings:
        assert finding.evidence
        assert finding.remediation
        assert finding.references
        assert finding.message.endswith(".")
    # The truth's credential of each expiry finding is among the finding's evidence.
    for expected in truth:
        if "keyId" not in expected["detail"]:
            continue
        (match,) = [
            f for f in findings if (f.rule, f.resource.id) == (expected["rule"], expected["resource"]["id"])
        ]
        key_ids = {c["keyId"]: c["credentialType"] for c in match.evidence["credentials"]}
        assert key_ids[expected["detail"]["keyId"]] == expected["detail"]["credentialType"]


async def test_a_saml_certificate_is_reported_once(emulator: RunningEmulator) -> None:
    findings = await run_check(emulator, CredentialExpiry)
    saml = [
        credential
        for finding in findings
        for credential in finding.evidence.get("credentials", [])
        if credential["credentialType"] == "samlSigningCertificate"
    ]
    assert saml
    assert len({c["keyId"] for c in saml}) == len(saml)


# -- credentials added at run time (a tenant of its own) ------------------------------------


@pytest.fixture(scope="module")
def own_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with private_emulator(tmp_path_factory, "credential-expiry") as running:
        yield running


def healthy(running: RunningEmulator, path: str, flagged: set[str]) -> list[dict[str, Any]]:
    """The objects of ``path`` (by id) that the check has nothing to say about and that no other
    rule would start judging once they hold a credential: no truth finding, not a production app
    (a secret there is a finding of its own), no managed identity (skipped) and no SAML app (whose
    certificates count differently)."""
    production = set(load_baseline().credentials.production_apps)
    fields = "id,displayName,servicePrincipalType,preferredSingleSignOnMode"
    if path == "applications":
        fields = "id,displayName"
    with running.graph() as graph:
        objects, _requests = collect(graph, f"/v1.0/{path}?$select={fields}")
    return sorted(
        (
            obj
            for obj in objects
            if obj["id"].lower() not in flagged
            and obj["displayName"] not in production
            and obj.get("servicePrincipalType") != "ManagedIdentity"
            and obj.get("preferredSingleSignOnMode") != "saml"
        ),
        key=lambda obj: str(obj["id"]),
    )


def add_credential(
    running: RunningEmulator, object_type: str, object_id: str, kind: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """``POST /_emulator/credentials``: the credential as Graph now lists it."""
    spec = {
        "objectType": object_type,
        "id": object_id,
        "type": kind,
        "startDateTime": start.isoformat().replace("+00:00", "Z"),
        "endDateTime": end.isoformat().replace("+00:00", "Z"),
    }
    with running.control() as control:
        response = control.post("/credentials", json=spec)
        assert response.status_code == 201, response.text
        return dict(response.json())


async def test_credentials_added_at_run_time_are_reported_as_the_truth_says(
    own_emulator: RunningEmulator,
) -> None:
    truth = truth_of(own_emulator, CredentialExpiry.id, at=NOW)
    first = await run_check(own_emulator, CredentialExpiry, now=NOW)
    assert identities(first) == truth_identities(truth)

    flagged = {str(f["resource"]["id"]).lower() for f in truth}
    expiring_app, long_lived_app, *_ = healthy(own_emulator, "applications", flagged)
    service_principal, *_ = healthy(own_emulator, "servicePrincipals", flagged)
    added = emulator_now(own_emulator).replace(microsecond=0)
    expiring = add_credential(
        own_emulator, "application", expiring_app["id"], "password", added, added + timedelta(days=3)
    )
    ending = add_credential(
        own_emulator,
        "servicePrincipal",
        service_principal["id"],
        "certificate",
        added,
        added + timedelta(days=20),
    )
    long_lived = add_credential(
        own_emulator, "application", long_lived_app["id"], "password", added, added + timedelta(days=730)
    )
    # What each injected credential must add: its finding's identity -> (keyId, credential type).
    injected = {
        ("credential-expiring-critical", "critical", "application", expiring_app["id"].lower()): (
            expiring["keyId"],
            CLIENT_SECRET,
        ),
        ("credential-expiring-warning", "medium", "servicePrincipal", service_principal["id"].lower()): (
            ending["keyId"],
            CERTIFICATE,
        ),
        ("credential-lifetime-too-long", "medium", "application", long_lived_app["id"].lower()): (
            long_lived["keyId"],
            CLIENT_SECRET,
        ),
    }

    now = emulator_now(own_emulator)
    second = await run_check(own_emulator, CredentialExpiry, now=now)
    truth_now = truth_of(own_emulator, CredentialExpiry.id, at=now)
    assert identities(second) == truth_identities(truth_now)
    new = [f for f in second if identity(f) not in identities(first)]
    assert len(new) == len(identities(new))
    assert identities(new) == set(injected)
    assert truth_identities(truth_now) - truth_identities(truth) == set(injected)
    # Each new finding names the credential injected and no other, as the truth does.
    assert {
        identity(f): [(c["keyId"], c["credentialType"]) for c in f.evidence["credentials"]] for f in new
    } == {key: [credential] for key, credential in injected.items()}
    assert {
        truth_identity(f): (f["detail"]["keyId"], f["detail"]["credentialType"])
        for f in truth_now
        if truth_identity(f) in injected
    } == injected


# -- gauges on the session tenant -------------------------------------------------------------


def expected_credential_ends(running: RunningEmulator) -> dict[tuple[str, str, str], list[datetime | None]]:
    """Each application's and service principal's credential end dates, read from Graph and
    counted here as graph-facts §1 says (not with the check's helpers): managed identities left
    out; on a SAML service principal the Sign keys and the passwords sharing a key's
    customKeyIdentifier are parts of the one certificate its Verify key stands for."""
    ends: dict[tuple[str, str, str], list[datetime | None]] = {}
    fields = "id,displayName,keyCredentials,passwordCredentials"
    with running.graph() as graph:
        for object_type, path in (("application", "applications"), ("servicePrincipal", "servicePrincipals")):
            select = (
                fields
                if path == "applications"
                else f"{fields},servicePrincipalType,preferredSingleSignOnMode"
            )
            objects, _requests = collect(graph, f"/v1.0/{path}?$select={select}")
            for obj in objects:
                if obj.get("servicePrincipalType") == "ManagedIdentity":
                    continue
                keys = obj.get("keyCredentials") or []
                passwords = obj.get("passwordCredentials") or []
                if obj.get("preferredSingleSignOnMode") == "saml":
                    thumbprints = {key["customKeyIdentifier"] for key in keys}
                    keys = [key for key in keys if key["usage"] != "Sign"]
                    passwords = [p for p in passwords if p.get("customKeyIdentifier") not in thumbprints]
                dates = [entry.get("endDateTime") for entry in [*keys, *passwords]]
                if dates:
                    ends[(object_type, obj["id"], obj["displayName"])] = [
                        None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))
                        for text in dates
                    ]
    return ends


async def test_the_gauges_equal_an_independent_count_of_the_tenants_credentials(
    emulator: RunningEmulator,
) -> None:
    run = await run_once(emulator, CredentialExpiry)
    measured = CredentialExpiry().measure(run.data, run.settings, NOW)
    ends = expected_credential_ends(emulator)
    every_end = [end for dates in ends.values() for end in dates]
    buckets = {"expired": 0, "critical": 0, "warning": 0, "ok": 0, "no_end_date": 0}
    for end in every_end:
        if end is None:
            buckets["no_end_date"] += 1
        elif end < NOW:
            buckets["expired"] += 1
        elif end <= NOW + timedelta(days=7):
            buckets["critical"] += 1
        elif end <= NOW + timedelta(days=30):
            buckets["warning"] += 1
        else:
            buckets["ok"] += 1
    assert {
        m.attributes["bucket"]: m.value for m in measured if m.gauge == "entra_monitor.credentials.count"
    } == buckets
    assert min(buckets["expired"], buckets["critical"], buckets["warning"], buckets["ok"]) > 0

    nearest: dict[tuple[str, str, str], float] = {}
    for owner, dates in ends.items():
        dated = [end for end in dates if end is not None]
        upcoming = [end for end in dated if end >= NOW]
        if dated:
            value = ((min(upcoming) if upcoming else max(dated)) - NOW) / timedelta(days=1)
            if value <= 90:
                nearest[owner] = value
    days = {
        (m.attributes["object_type"], m.attributes["object_id"], m.attributes["display_name"]): m.value
        for m in measured
        if m.gauge == "entra_monitor.credentials.days_to_expiry"
    }
    assert days == nearest
    assert len(days) == len([m for m in measured if m.gauge == "entra_monitor.credentials.days_to_expiry"])
    # Every object the truth says is expiring within 30 days is measured (its nearest expiry is
    # then at most 30 days away); one whose only expiries are past is measured below zero.
    expiring = {"credential-expiring-critical", "credential-expiring-warning"}
    truth = truth_of(emulator, CredentialExpiry.id, at=NOW)
    measured_ids = {object_id for _type, object_id, _name in days}
    assert {str(f["resource"]["id"]) for f in truth if f["rule"] in expiring} <= measured_ids
    assert any(value < 0 for value in days.values())
