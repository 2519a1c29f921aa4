"""The ground truth is exactly the set of problems in the tenant.

The truth evaluates its rules only on fixed, planted and changed objects; here the same rules
run over *every* object of whole tenants, so a generated object that accidentally breaks a rule
(a background credential too close to expiry, an idle client) makes the two differ.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.tenant.base import GraphObject
from emulator.tenant.ground_truth import VALID_DAYS, GroundTruth
from emulator.tenant.model import Tenant, TenantConfig
from emulator.tenant.plants import APP_PLANTS, SERVICE_PRINCIPAL_PLANTS, SIGN_IN_PLANTS, per_kind
from emulator.tenant.rules import DEFAULT_BASELINE, RULES
from emulator.tenant.scale import PRESETS
from emulator.tenant.signins import WINDOW_DAYS
from emulator.tenant.truth import (
    app_role_names,
    credential_findings,
    grant_findings,
    parse_time,
    risky_user_findings,
    sign_in_findings,
)
from tests.support.emulator import RunningEmulator

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BASELINE_FILE = Path(__file__).resolve().parents[2] / "config" / "baseline.toml"
# Rules the generated tenant does not plant: they fire only on changes made at run time
# (new grants, edited policies) or on a tenant that lacks a baseline policy altogether.
NOT_PLANTED = {
    "new-grant",
    "token-policy-changed",
    "admin-mfa-missing",
    "admin-mfa-incomplete",
    "admin-mfa-broad-exclusion",
    "untrusted-location-block-missing",
    "untrusted-location-block-not-enforced",
}


def identity(finding: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        finding["rule"],
        finding["resource"]["type"],
        str(finding["resource"]["id"]),
        str(finding["detail"].get("keyId")),
    )


def everything(tenant: Tenant, now: datetime) -> list[dict[str, Any]]:
    """The credential, consent and sign-in rules over every object (policies are all evaluated
    by the truth anyway, so they come from it)."""
    truth = GroundTruth(tenant)
    found: list[dict[str, Any]] = []
    last_sign_in: dict[str, datetime | None] = {}
    sps = [sp for _key, sp in tenant.service_principals.scan(None, None)]
    for position, sp in enumerate(sps):
        entry = tenant.consents.activity(position)
        last_sign_in[sp["appId"]] = (
            parse_time(entry["lastSignInActivity"]["lastSignInDateTime"]) if entry else None
        )
    for _key, app in tenant.applications.scan(None, None):
        found += credential_findings(
            app, "application", last_sign_in.get(app["appId"]), now, DEFAULT_BASELINE
        )
    for sp in sps:
        if sp["keyCredentials"] or sp["passwordCredentials"]:
            found += credential_findings(sp, "servicePrincipal", None, now, DEFAULT_BASELINE)
    roles = app_role_names(tenant.consents.graph_sp)
    by_id: dict[str, GraphObject] = {sp["id"]: sp for sp in sps}
    for position, sp in enumerate(sps):
        for assignment in tenant.consents.assignments_of(position):
            found += grant_findings(
                assignment,
                [roles[assignment["appRoleId"]]],
                "appRoleAssignment",
                sp,
                last_sign_in[sp["appId"]],
                now,
                DEFAULT_BASELINE,
            )
    for _key, grant in tenant.grants.scan(None, None):
        client = by_id[grant["clientId"]]
        found += grant_findings(
            grant,
            grant["scope"].split(),
            "oAuth2PermissionGrant",
            client,
            last_sign_in[client["appId"]],
            now,
            DEFAULT_BASELINE,
        )
    retained_from = now - timedelta(days=WINDOW_DAYS)  # the log's retention
    for _key, sign_in in tenant.sign_ins.scan(None, None):
        if parse_time(sign_in["createdDateTime"]) >= retained_from:
            found += sign_in_findings(sign_in, bool(sign_in.get("@emulator.singleFactor")))
    for _key, user in tenant.risky_users.scan(None, None):
        found += risky_user_findings(user)
    policy_checks = {"token-lifetime-drift", "access-review-due", "conditional-access-baseline"}
    found += [f for f in truth.findings(now) if f["check"] in policy_checks]
    return found


@pytest.mark.parametrize(("seed", "scale"), [(7, "small"), (11, "small"), (3, "tiny")])
@pytest.mark.parametrize("days_later", [0, 7, VALID_DAYS])
def test_truth_equals_the_rules_over_every_object(seed: int, scale: str, days_later: int) -> None:
    tenant = Tenant(TenantConfig(seed, NOW, PRESETS[scale]))
    at = NOW + timedelta(days=days_later)
    expected = sorted(identity(f) for f in everything(tenant, at))
    truth = GroundTruth(tenant).document(at)
    assert sorted(identity(f) for f in truth["findings"]) == expected


def test_every_rule_but_the_run_time_ones_is_planted() -> None:
    truth = GroundTruth(Tenant(TenantConfig(7, NOW, PRESETS["small"]))).document()
    planted = {f["rule"] for f in truth["findings"]}
    assert planted == {rule.rule for rule in RULES} - NOT_PLANTED


def test_plant_counts_follow_the_scale() -> None:
    scale = PRESETS["small"]
    tenant = Tenant(TenantConfig(7, NOW, scale))
    app_kinds = list(tenant.plan.app_plants.values())
    sp_kinds = list(tenant.plan.service_principal_plants.values())
    sign_in_kinds = [plant.kind for plant in tenant.plan.sign_in_plants.values()]
    assert {kind: app_kinds.count(kind) for kind in APP_PLANTS} == dict.fromkeys(
        APP_PLANTS, per_kind(scale.applications, 200)
    )
    assert {kind: sp_kinds.count(kind) for kind in SERVICE_PRINCIPAL_PLANTS} == dict.fromkeys(
        SERVICE_PRINCIPAL_PLANTS, per_kind(scale.service_principals, 200)
    )
    assert {kind: sign_in_kinds.count(kind) for kind in SIGN_IN_PLANTS} == dict.fromkeys(
        SIGN_IN_PLANTS, per_kind(scale.sign_ins, 2000)
    )


def test_the_truth_is_only_given_inside_its_validity_window() -> None:
    truth = GroundTruth(Tenant(TenantConfig(7, NOW, PRESETS["tiny"])))
    with pytest.raises(ValueError, match="exact between"):
        truth.document(NOW + timedelta(days=VALID_DAYS, seconds=1))
    with pytest.raises(ValueError, match="exact between"):
        truth.document(NOW - timedelta(days=1, seconds=1))


def test_truth_over_http_equals_the_in_process_truth(emulator: RunningEmulator, reference: Tenant) -> None:
    at = "2026-11-30T08:00:00Z"
    with emulator.control() as control:
        served = control.get("/truth", params={"at": at}).json()
    expected = GroundTruth(reference).document(datetime(2026, 11, 30, 8, tzinfo=UTC))
    assert served["findings"] == expected["findings"]
    assert served["counts"] == expected["counts"]
    assert served["evaluatedAt"] == at


def test_baseline_file_states_the_baseline_the_truth_assumes() -> None:
    document = tomllib.loads(BASELINE_FILE.read_text())
    credentials, consent, tokens = document["credentials"], document["consent"], document["tokens"]
    reviews, access = document["access_reviews"], document["conditional_access"]
    stated = {
        "critical_days": credentials["critical_days"],
        "warning_days": credentials["warning_days"],
        "max_lifetime_days": credentials["max_lifetime_days"],
        "unused_days": credentials["unused_days"],
        "production_apps": tuple(credentials["production_apps"]),
        "high_privilege_permissions": tuple(consent["high_privilege_permissions"]),
        "allowed_permissions": tuple(
            (app, tuple(perms)) for app, perms in consent["allowed_permissions"].items()
        ),
        "access_token_lifetime_minutes": tokens["access_token_lifetime_minutes"],
        "access_token_tolerance_minutes": tokens["access_token_tolerance_minutes"],
        "refresh_token_days": tokens["refresh_token_days"],
        "session_hours": tokens["session_hours"],
        "due_soon_days": reviews["due_soon_days"],
        "max_review_age_days": reviews["max_review_age_days"],
        "max_recurrence_months": reviews["max_recurrence_months"],
        "required_review_roles": tuple(reviews["required_roles"]),
        "required_review_groups": tuple(reviews["required_groups"]),
        "required_review_apps": tuple(reviews["required_apps"]),
        "admin_roles": tuple(access["admin_roles"]),
        "mfa_exclusions_allowed": tuple(access["mfa_exclusions_allowed"]),
        "admin_apps": tuple(access["admin_apps"]),
        "protected_apps": tuple(access["protected_apps"]),
    }
    assumed = {name: getattr(DEFAULT_BASELINE, name) for name in stated}
    assert stated == assumed


def test_risky_sign_ins_leave_the_truth_with_the_logs_retention() -> None:
    tenant = Tenant(TenantConfig(7, NOW, PRESETS["small"]))
    truth = GroundTruth(tenant)

    def sign_ins_at(at: datetime) -> set[str]:
        return {f["resource"]["id"] for f in truth.findings(at) if f["resource"]["type"] == "signIn"}

    later = NOW + timedelta(days=7)
    kept = {
        s["id"]
        for s in (tenant.sign_ins.sign_in(i) for i in tenant.plan.sign_in_plants)
        if parse_time(s["createdDateTime"]) >= later - timedelta(days=WINDOW_DAYS)
    }
    assert sign_ins_at(later) == sign_ins_at(NOW) & kept
    assert sign_ins_at(later) < sign_ins_at(NOW)  # some planted sign-ins are more than 23 days old


def test_the_log_forgets_sign_ins_older_than_30_days_as_the_clock_moves() -> None:
    tenant = Tenant(TenantConfig(7, NOW, PRESETS["small"]))
    log = tenant.sign_ins
    everything = [log.sign_in(index) for index in range(log.count())]
    clock = [NOW]
    log.follow_clock(lambda: clock[0])
    assert log.count() == len(everything)  # generated within the 30 days before NOW

    clock[0] = NOW + timedelta(days=7)
    floor = clock[0] - timedelta(days=WINDOW_DAYS)
    retained = [s for s in everything if parse_time(s["createdDateTime"]) >= floor]
    listed = [sign_in for _key, sign_in in log.scan(None, None)]
    gone = everything[len(retained)]

    assert 0 < len(retained) < len(everything)
    assert listed == retained
    assert log.count() == len(retained)
    assert log.get(gone["id"]) is None
    assert log.get(retained[-1]["id"]) == retained[-1]
