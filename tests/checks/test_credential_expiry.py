"""credential-expiry's rules on hand-made Graph objects (no I/O), at every boundary."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from pydantic import ValidationError

from checks.credential_expiry import (
    CredentialExpiry,
    CredentialExpirySettings,
    CredentialInventory,
    owner_from_graph,
    parse_graph_time,
)
from monitor.baseline import load_baseline
from monitor.check import CheckContext, Finding, Gauge, Measurement, Severity, declaration_problems
from monitor.errors import GraphLicenseError
from monitor.graph.client import GraphClient
from tests.support.fake_graph import FakeGraph

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
SETTINGS = CredentialExpirySettings()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def secret(
    end: datetime | str | None, start: datetime | str | None = None, key_id: str = "s1"
) -> dict[str, Any]:
    start = NOW - 30 * DAY if start is None else start
    return {
        "customKeyIdentifier": None,
        "displayName": "ci-secret",
        "endDateTime": iso(end) if isinstance(end, datetime) else end,
        "hint": "Abc",
        "keyId": key_id,
        "secretText": None,
        "startDateTime": iso(start) if isinstance(start, datetime) else start,
    }


def certificate(
    end: datetime, start: datetime | None = None, key_id: str = "c1", usage: str = "Verify", thumb: str = "T="
) -> dict[str, Any]:
    return {
        "customKeyIdentifier": thumb,
        "displayName": "CN=cert",
        "endDateTime": iso(end),
        "key": None,
        "keyId": key_id,
        "startDateTime": iso(NOW - 30 * DAY if start is None else start),
        "type": "AsymmetricX509Cert",
        "usage": usage,
    }


def app(*credentials: dict[str, Any], name: str = "Billing API", object_id: str = "app-1") -> dict[str, Any]:
    return {
        "id": object_id,
        "appId": f"{object_id}-appid",
        "displayName": name,
        "keyCredentials": [c for c in credentials if "usage" in c],
        "passwordCredentials": [c for c in credentials if "usage" not in c],
    }


def evaluate(
    applications: list[dict[str, Any]] | None = None,
    service_principals: list[dict[str, Any]] | None = None,
    last_sign_ins: Mapping[str, datetime | None] | None = None,
    settings: CredentialExpirySettings = SETTINGS,
    now: datetime = NOW,
) -> list[Finding]:
    owners = [owner_from_graph(a, "application") for a in applications or []]
    owners += [owner_from_graph(sp, "servicePrincipal") for sp in service_principals or []]
    data = CredentialInventory(tuple(owners), dict(last_sign_ins or {}))
    return CredentialExpiry().evaluate(data, settings, now)


def rules(findings: list[Finding]) -> list[tuple[str, Severity, str, str]]:
    return [(f.rule, f.severity, f.resource.type, f.resource.id) for f in findings]


# -- declaration and settings ----------------------------------------------------------------


def test_the_check_declares_itself_correctly() -> None:
    assert declaration_problems(CredentialExpiry) == []
    assert CredentialExpiry.id == "credential-expiry"


def test_the_settings_defaults_are_the_baselines() -> None:
    from_baseline = CredentialExpirySettings.model_validate(
        CredentialExpiry.baseline_defaults(load_baseline())
    )
    assert from_baseline == CredentialExpirySettings()
    assert from_baseline.production_apps == ("SCIM Provisioning App", "Calendar/Teams App")


# -- Graph's time values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T12:00:00Z", NOW),
        ("2026-11-27T12:00:00", NOW),  # naive: Graph's times are UTC
        ("2026-11-27T14:00:00+02:00", NOW),
        ("2026-11-27T04:00:00-8:00", NOW),  # the malformed offset in Graph's doc examples
        ("2026-11-27T12:00:00.0000000Z", NOW),  # seven fractional digits
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
        ("next tuesday", None),
        (20261127, None),
    ],
)
def test_graph_times_are_read_leniently(text: object, expected: datetime | None) -> None:
    assert parse_graph_time(text) == expected


def test_an_offset_timestamp_is_compared_as_the_same_instant() -> None:
    # 19:00+07:00 is 12:00Z: ending exactly now is not yet expired.
    offset = timezone(timedelta(hours=7))
    end = (NOW + 7 * DAY).astimezone(offset).isoformat()
    assert rules(evaluate([app(secret(end))])) == [
        ("credential-expiring-critical", Severity.CRITICAL, "application", "app-1")
    ]


# -- expiry buckets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "rule"),
    [
        (NOW - SECOND, "credential-expired"),
        (NOW, "credential-expiring-critical"),
        (NOW + SECOND, "credential-expiring-critical"),
        (NOW + 7 * DAY, "credential-expiring-critical"),
        (NOW + 7 * DAY + SECOND, "credential-expiring-warning"),
        (NOW + 30 * DAY, "credential-expiring-warning"),
        (NOW + 30 * DAY + SECOND, None),
    ],
)
def test_each_expiry_falls_in_one_bucket(end: datetime, rule: str | None) -> None:
    found = evaluate([app(secret(end, start=NOW - 300 * DAY))], last_sign_ins={"app-1-appid": NOW})
    assert [f.rule for f in found] == ([rule] if rule else [])


def test_severities_are_the_rules_defaults() -> None:
    found = evaluate(
        [
            app(secret(NOW - DAY), object_id="a"),
            app(secret(NOW + DAY), object_id="b"),
            app(secret(NOW + 20 * DAY), object_id="c"),
            app(secret(NOW + 20 * DAY, start=NOW - 400 * DAY), object_id="d"),
            app(secret(NOW + 200 * DAY), name="Calendar/Teams App", object_id="e"),
        ],
        last_sign_ins={"a-appid": NOW},
    )
    assert rules(found) == [
        ("credential-expired", Severity.HIGH, "application", "a"),
        ("credential-expiring-critical", Severity.CRITICAL, "application", "b"),
        ("credential-expiring-warning", Severity.MEDIUM, "application", "c"),
        ("credential-expiring-warning", Severity.MEDIUM, "application", "d"),
        ("credential-lifetime-too-long", Severity.MEDIUM, "application", "d"),
        ("secret-on-production-app", Severity.MEDIUM, "application", "e"),
    ]


def test_thresholds_come_from_the_settings() -> None:
    settings = CredentialExpirySettings(critical_days=1, warning_days=3)
    found = evaluate([app(secret(NOW + 2 * DAY))], settings=settings)
    assert [f.rule for f in found] == ["credential-expiring-warning"]
    assert "within 3 days" in found[0].message


def test_several_credentials_breaking_one_rule_make_one_finding() -> None:
    found = evaluate(
        [
            app(
                secret(NOW + DAY, key_id="s1"),
                certificate(NOW + 2 * DAY, key_id="c1"),
                secret(NOW + 90 * DAY, key_id="s2"),
            )
        ]
    )
    (finding,) = found
    assert finding.rule == "credential-expiring-critical"
    assert [c["keyId"] for c in finding.evidence["credentials"]] == ["c1", "s1"]
    assert finding.evidence["daysToNearestExpiry"] == 1.0
    assert finding.evidence["credentials"][0]["daysToExpiry"] == 2.0
    assert "keyId s1" in finding.message
    assert "keyId c1" in finding.message


# -- lifetime ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "too_long"),
    [(365 * DAY - SECOND, False), (365 * DAY, False), (365 * DAY + SECOND, True)],
)
def test_a_lifetime_of_exactly_max_lifetime_days_is_allowed(lifetime: timedelta, too_long: bool) -> None:
    end = NOW + 100 * DAY
    found = evaluate([app(certificate(end, start=end - lifetime))])
    assert [f.rule for f in found] == (["credential-lifetime-too-long"] if too_long else [])


def test_an_expired_credential_is_not_also_too_long_lived() -> None:
    found = evaluate([app(secret(NOW - DAY, start=NOW - 800 * DAY))], last_sign_ins={"app-1-appid": NOW})
    assert [f.rule for f in found] == ["credential-expired"]


def test_a_credential_without_an_end_date_never_expires_but_lives_too_long() -> None:
    for end in (None, "0001-01-01T00:00:00Z"):
        (finding,) = evaluate([app(secret(end))])
        assert finding.rule == "credential-lifetime-too-long"
        assert finding.evidence["credentials"][0]["endDateTime"] is None
        assert "no end date" in finding.message


def test_a_credential_without_a_start_date_has_no_known_lifetime() -> None:
    for start in ("0001-01-01T00:00:00Z", ""):
        assert evaluate([app(secret(NOW + 900 * DAY, start=start))]) == []


# -- production secrets ------------------------------------------------------------------------


def test_a_secret_on_a_production_application_is_reported_but_a_certificate_is_not() -> None:
    production = "SCIM Provisioning App"
    found = evaluate(
        [
            app(secret(NOW + 200 * DAY), name=production, object_id="p1"),
            app(certificate(NOW + 200 * DAY), name=production, object_id="p2"),
            app(secret(NOW + 200 * DAY), name="scim provisioning app", object_id="p3"),
        ],
        service_principals=[app(secret(NOW + 200 * DAY), name=production, object_id="sp")],
    )
    assert rules(found) == [("secret-on-production-app", Severity.MEDIUM, "application", "p1")]
    assert found[0].evidence["credentials"][0]["credentialType"] == "password"


def test_the_production_list_is_configurable() -> None:
    settings = CredentialExpirySettings(production_apps=())
    assert evaluate([app(secret(NOW + 200 * DAY), name="SCIM Provisioning App")], settings=settings) == []


# -- SAML signing certificates -----------------------------------------------------------------


def saml_sp(
    end: datetime, thumb: str = "T=", sign: str = "sign-1", verify: str = "verify-1"
) -> dict[str, Any]:
    sp = app(
        certificate(end, key_id=sign, usage="Sign", thumb=thumb),
        certificate(end, key_id=verify, usage="Verify", thumb=thumb),
        {**secret(end, key_id=sign), "customKeyIdentifier": thumb},
        name="Salesforce",
        object_id="sp-saml",
    )
    return {**sp, "preferredSingleSignOnMode": "saml", "servicePrincipalType": "Application"}


def test_a_saml_certificate_counts_once_as_its_verify_key() -> None:
    (finding,) = evaluate(service_principals=[saml_sp(NOW + 3 * DAY)])
    assert (finding.rule, finding.resource.type, finding.resource.id) == (
        "credential-expiring-critical",
        "servicePrincipal",
        "sp-saml",
    )
    assert [(c["keyId"], c["credentialType"]) for c in finding.evidence["credentials"]] == [
        ("verify-1", "samlSigningCertificate")
    ]
    assert "SAML token-signing certificate" in finding.message


def test_a_saml_app_with_an_old_and_a_new_certificate_reports_only_the_old_one() -> None:
    old, new = saml_sp(NOW - 10 * DAY, thumb="OLD=", sign="s-old", verify="v-old"), saml_sp(NOW + 200 * DAY)
    merged = {**new, "keyCredentials": old["keyCredentials"] + new["keyCredentials"]}
    merged["passwordCredentials"] = old["passwordCredentials"] + new["passwordCredentials"]
    (finding,) = evaluate(service_principals=[merged])
    assert finding.rule == "credential-expired"
    assert [c["keyId"] for c in finding.evidence["credentials"]] == ["v-old"]


def test_without_saml_mode_every_key_is_a_certificate_of_its_own() -> None:
    sp = {**saml_sp(NOW + 3 * DAY), "preferredSingleSignOnMode": None}
    (finding,) = evaluate(service_principals=[sp])
    assert [(c["keyId"], c["credentialType"]) for c in finding.evidence["credentials"]] == [
        ("sign-1", "certificate"),
        ("verify-1", "certificate"),
        ("sign-1", "password"),
    ]


def test_a_secret_unrelated_to_the_saml_certificate_still_counts() -> None:
    sp = saml_sp(NOW + 200 * DAY)
    sp["passwordCredentials"].append(secret(NOW + DAY, key_id="other"))
    (finding,) = evaluate(service_principals=[sp])
    assert [c["keyId"] for c in finding.evidence["credentials"]] == ["other"]


# -- unused applications -----------------------------------------------------------------------


def test_an_app_with_only_expired_credentials_and_no_sign_in_is_unused_not_expired() -> None:
    found = evaluate(
        [app(secret(NOW - DAY), certificate(NOW - 5 * DAY))], last_sign_ins={"app-1-appid": None}
    )
    assert rules(found) == [("unused-application", Severity.LOW, "application", "app-1")]
    assert found[0].evidence["lastSignInDateTime"] is None
    assert len(found[0].evidence["credentials"]) == 2
    assert "never signed in" in found[0].message


@pytest.mark.parametrize(
    ("ago", "unused"),
    [(90 * DAY - SECOND, False), (90 * DAY, False), (90 * DAY + SECOND, True)],
)
def test_unused_means_no_sign_in_for_more_than_unused_days(ago: timedelta, unused: bool) -> None:
    found = evaluate([app(secret(NOW - DAY))], last_sign_ins={"app-1-appid": NOW - ago})
    assert [f.rule for f in found] == (["unused-application"] if unused else ["credential-expired"])


def test_an_app_with_one_live_credential_is_not_unused() -> None:
    found = evaluate([app(secret(NOW - DAY), secret(NOW + 100 * DAY, key_id="s2"))], last_sign_ins={})
    assert [f.rule for f in found] == ["credential-expired"]


def test_unknown_sign_in_activity_reports_the_expiries() -> None:
    owners = (owner_from_graph(app(secret(NOW - DAY)), "application"),)
    data = CredentialInventory(owners, {}, "needs Microsoft Entra ID P1")
    (finding,) = CredentialExpiry().evaluate(data, SETTINGS, NOW)
    assert finding.rule == "credential-expired"
    assert finding.evidence["signInActivityUnavailable"] == "needs Microsoft Entra ID P1"


def test_service_principals_are_never_reported_unused() -> None:
    found = evaluate(
        service_principals=[app(secret(NOW - DAY), object_id="sp")], last_sign_ins={"sp-appid": None}
    )
    assert rules(found) == [("credential-expired", Severity.HIGH, "servicePrincipal", "sp")]


# -- missing, null and empty -------------------------------------------------------------------


def test_empty_inventories_and_credential_less_objects_have_no_findings() -> None:
    assert evaluate() == []
    bare = {"id": "x", "appId": "y", "displayName": "Bare", "keyCredentials": None}
    assert evaluate([bare, {"id": "z"}], last_sign_ins={"y": None}) == []


def test_managed_identities_are_skipped() -> None:
    identity = {**app(certificate(NOW - DAY)), "servicePrincipalType": "ManagedIdentity"}
    assert evaluate(service_principals=[identity]) == []


def test_evidence_never_holds_secret_material() -> None:
    leaky = {**secret(NOW - DAY), "secretText": "s3cr3t", "hint": "s3c"}
    keyed = {**certificate(NOW - DAY, key_id="c9"), "key": "TUlJQ..."}
    (finding,) = evaluate([app(leaky, keyed)], last_sign_ins={"app-1-appid": NOW})
    text = repr(finding.evidence) + finding.message
    assert "s3c" not in text
    assert "TUlJQ" not in text
    assert finding.remediation
    assert finding.references


# -- collect -----------------------------------------------------------------------------------


async def test_collect_asks_activity_only_for_fully_expired_apps_and_survives_a_missing_licence() -> None:
    refused = GraphLicenseError("needs Microsoft Entra ID P1", status=403, licence="P1")
    graph = FakeGraph(
        {"applications": [app(secret(NOW - DAY), object_id="old"), app(secret(NOW + DAY), object_id="live")]},
        {"reports/servicePrincipalSignInActivities": refused},
    )
    context = CheckContext("tenant", cast(GraphClient, graph), SETTINGS, NOW, cast(Any, None))
    data = await CredentialExpiry().collect(context)
    assert [o.id for o in data.owners] == ["old", "live"]
    version, path, query = graph.reads[-1]
    assert (version, path, query.filter if query else None) == (
        "beta",
        "reports/servicePrincipalSignInActivities",
        "appId eq 'old-appid'",
    )
    assert data.sign_in_activity_unavailable is not None
    assert "P1" in data.sign_in_activity_unavailable
    assert [f.rule for f in CredentialExpiry().evaluate(data, SETTINGS, NOW)] == [
        "credential-expired",
        "credential-expiring-critical",
    ]


# -- gauges ----------------------------------------------------------------------------------


def measure(
    applications: list[dict[str, Any]] | None = None,
    service_principals: list[dict[str, Any]] | None = None,
    settings: CredentialExpirySettings = SETTINGS,
    now: datetime = NOW,
) -> list[Measurement]:
    owners = [owner_from_graph(a, "application") for a in applications or []]
    owners += [owner_from_graph(sp, "servicePrincipal") for sp in service_principals or []]
    measured = CredentialExpiry().measure(CredentialInventory(tuple(owners)), settings, now)
    declared = {gauge.name: set(gauge.attributes) for gauge in CredentialExpiry.gauges}
    assert all(set(m.attributes) == declared[m.gauge] for m in measured)
    return measured


def counts(
    expired: int = 0, critical: int = 0, warning: int = 0, ok: int = 0, no_end_date: int = 0
) -> list[Measurement]:
    """The five bucket measurements, in the order the check records them."""
    values = {
        "expired": expired,
        "critical": critical,
        "warning": warning,
        "ok": ok,
        "no_end_date": no_end_date,
    }
    return [
        Measurement("entra_monitor.credentials.count", float(n), {"bucket": bucket})
        for bucket, n in values.items()
    ]


def days(
    value: float, object_id: str = "app-1", name: str = "Billing API", kind: str = "application"
) -> Measurement:
    attributes = {"object_type": kind, "object_id": object_id, "display_name": name}
    return Measurement("entra_monitor.credentials.days_to_expiry", value, attributes)


def test_the_gauges_are_declared_as_documented() -> None:
    assert CredentialExpiry.gauges == (
        Gauge(
            "entra_monitor.credentials.days_to_expiry",
            "d",
            CredentialExpiry.gauges[0].description,
            ("object_type", "object_id", "display_name"),
        ),
        Gauge(
            "entra_monitor.credentials.count",
            "{credential}",
            CredentialExpiry.gauges[1].description,
            ("bucket",),
        ),
    )
    assert SETTINGS.gauge_horizon_days == 90
    with pytest.raises(ValidationError):
        CredentialExpirySettings(gauge_horizon_days=-1)


def test_an_empty_inventory_measures_all_five_buckets_at_zero() -> None:
    assert measure() == counts()
    bare = {"id": "x", "appId": "y", "displayName": "Bare", "keyCredentials": None}
    assert measure([bare, {"id": "z"}]) == counts()


@pytest.mark.parametrize(
    ("end", "bucket"),
    [
        (NOW - SECOND, "expired"),
        (NOW, "critical"),
        (NOW + SECOND, "critical"),
        (NOW + 7 * DAY - SECOND, "critical"),
        (NOW + 7 * DAY, "critical"),
        (NOW + 7 * DAY + SECOND, "warning"),
        (NOW + 30 * DAY - SECOND, "warning"),
        (NOW + 30 * DAY, "warning"),
        (NOW + 30 * DAY + SECOND, "ok"),
        (None, "no_end_date"),
    ],
)
def test_each_credential_is_counted_in_the_bucket_of_its_rule(end: datetime | None, bucket: str) -> None:
    measured = measure([app(secret(end))])
    assert measured[-5:] == counts(**{bucket: 1})


def test_the_buckets_follow_the_settings() -> None:
    settings = CredentialExpirySettings(critical_days=1, warning_days=2)
    ends = (NOW + DAY, NOW + DAY + SECOND, NOW + 2 * DAY, NOW + 2 * DAY + SECOND)
    credentials = [secret(end, key_id=f"s{n}") for n, end in enumerate(ends)]
    assert measure([app(*credentials)], settings=settings)[-5:] == counts(critical=1, warning=2, ok=1)


@pytest.mark.parametrize(
    ("end", "measured"),
    [
        (NOW + 90 * DAY - SECOND, 90 - 1 / 86400),
        (NOW + 90 * DAY, 90.0),
        (NOW + 90 * DAY + SECOND, None),
        (NOW, 0.0),
        (NOW - SECOND, -1 / 86400),
        (NOW - 400 * DAY, -400.0),
    ],
)
def test_days_to_expiry_is_measured_up_to_the_horizon_inclusive(
    end: datetime, measured: float | None
) -> None:
    expected = [] if measured is None else [days(measured)]
    assert measure([app(secret(end))])[:-5] == expected


def test_the_horizon_is_a_setting_and_zero_keeps_only_the_expired_and_those_ending_now() -> None:
    settings = CredentialExpirySettings(gauge_horizon_days=0)
    apps = [
        app(secret(NOW), object_id="now", name="Now"),
        app(secret(NOW + SECOND), object_id="later", name="Later"),
        app(secret(NOW - DAY), object_id="past", name="Past"),
    ]
    assert measure(apps, settings=settings)[:-5] == [days(0.0, "now", "Now"), days(-1.0, "past", "Past")]
    wide = CredentialExpirySettings(gauge_horizon_days=1000)
    assert measure([app(secret(NOW + 999 * DAY))], settings=wide)[:-5] == [days(999.0)]


def test_the_nearest_expiry_is_the_earliest_unexpired_end_or_else_the_latest_end() -> None:
    mixed = app(
        secret(NOW - 3 * DAY, key_id="gone"),
        secret(NOW + 40 * DAY, key_id="later"),
        certificate(NOW + 20 * DAY, key_id="sooner"),
        secret(None, key_id="forever"),
        object_id="mixed",
        name="Mixed",
    )
    expired = app(
        secret(NOW - 10 * DAY, key_id="old"),
        secret(NOW - 3 * DAY, key_id="newer"),
        object_id="gone",
        name="Gone",
    )
    undated = app(secret(None), object_id="undated", name="Undated")
    assert measure([mixed, expired, undated]) == [
        days(20.0, "mixed", "Mixed"),
        days(-3.0, "gone", "Gone"),
        *counts(expired=3, warning=1, ok=1, no_end_date=2),
    ]


def test_naive_and_offset_end_dates_measure_the_same_instant() -> None:
    offset = (NOW + 7 * DAY).astimezone(timezone(timedelta(hours=-8))).isoformat()
    naive = (NOW + 7 * DAY).replace(tzinfo=None).isoformat()
    assert measure([app(secret(offset, key_id="a")), app(secret(naive, key_id="b"), object_id="app-2")]) == [
        days(7.0),
        days(7.0, "app-2"),
        *counts(critical=2),
    ]


def test_unusable_end_dates_count_as_no_end_date() -> None:
    assert measure([app(secret("0001-01-01T00:00:00Z"), secret("soon", key_id="s2"))]) == counts(
        no_end_date=2
    )


def test_managed_identities_are_not_measured_and_a_saml_certificate_counts_once() -> None:
    identity = {
        **app(certificate(NOW - DAY), object_id="mi", name="Identity"),
        "servicePrincipalType": "ManagedIdentity",
    }
    assert measure(service_principals=[identity, saml_sp(NOW + 3 * DAY)]) == [
        days(3.0, "sp-saml", "Salesforce", "servicePrincipal"),
        *counts(critical=1),
    ]


def test_an_unused_application_is_still_measured() -> None:
    unused = app(secret(NOW - 100 * DAY))
    data = CredentialInventory((owner_from_graph(unused, "application"),), {"app-1-appid": None})
    assert [f.rule for f in CredentialExpiry().evaluate(data, SETTINGS, NOW)] == ["unused-application"]
    assert CredentialExpiry().measure(data, SETTINGS, NOW) == [days(-100.0), *counts(expired=1)]
