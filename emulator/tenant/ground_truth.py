"""``GET /_emulator/truth``: counts per collection and every problem the tenant holds."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from emulator.ids import iso
from emulator.tenant.base import GraphObject
from emulator.tenant.model import Tenant
from emulator.tenant.rules import DEFAULT_BASELINE, RULES, Baseline
from emulator.tenant.signins import WINDOW_DAYS
from emulator.tenant.truth import (
    Finding,
    app_role_names,
    credential_findings,
    grant_findings,
    parse_time,
    policy_change_findings,
    risky_user_findings,
    session_findings,
    sign_in_findings,
    token_policy_findings,
)
from emulator.tenant.truth_policies import (
    conditional_access_findings,
    required_scopes,
    review_findings,
)

VALID_DAYS = 14
"""Generated healthy objects stay clear of every threshold for this long after ``--now``: their
credentials end 45 days or more after it, 15 days beyond the 30-day warning threshold."""

LICENCE_NEEDS = {
    "risky-sign-ins": "P2",
    "access-review-due": "P2",
    "conditional-access-baseline": "P1",
}


class GroundTruth:
    def __init__(self, tenant: Tenant, baseline: Baseline = DEFAULT_BASELINE) -> None:
        self.tenant = tenant
        self.baseline = baseline

    # -- public ----------------------------------------------------------------------------

    def document(self, at: datetime | None = None) -> dict[str, Any]:
        now = at or self.tenant.context.now
        start = self.tenant.context.now
        if not start - timedelta(days=1) <= now <= start + timedelta(days=VALID_DAYS):
            raise ValueError(
                f"the ground truth is exact between {iso(start - timedelta(days=1))} and "
                f"{iso(start + timedelta(days=VALID_DAYS))}; {iso(now)} is outside"
            )
        findings = sorted(
            self.findings(now),
            key=lambda f: (
                f["check"],
                f["rule"],
                f["resource"]["id"] or "",
                str(f["detail"].get("keyId", "")),
            ),
        )
        return {
            "tenantId": self.tenant.tenant_id,
            "seed": self.tenant.config.seed,
            "generatedFor": iso(start),
            "evaluatedAt": iso(now),
            "validFrom": iso(start - timedelta(days=1)),
            "validUntil": iso(start + timedelta(days=VALID_DAYS)),
            "license": self.tenant.config.license,
            "scale": asdict(self.tenant.config.scale),
            "counts": self.counts(),
            "unavailable": self.unavailable(),
            "baseline": _jsonable(asdict(self.baseline)),
            "rules": [asdict(rule) for rule in RULES],
            "findings": findings,
        }

    def counts(self) -> dict[str, int]:
        t = self.tenant
        return {
            "users": t.users.count(),
            "applications": t.applications.count(),
            "servicePrincipals": t.service_principals.count(),
            "oauth2PermissionGrants": t.grants.count(),
            "signIns": t.sign_ins.count(),
            "riskyUsers": t.risky_users.count(),
            "riskDetections": t.risk_detections.count(),
            "tokenLifetimePolicies": t.token_lifetime_policies.count(),
            "conditionalAccessPolicies": t.conditional_access_policies.count(),
            "namedLocations": t.named_locations.count(),
            "groups": t.groups.count(),
            "accessReviewDefinitions": t.review_definitions.count(),
            "accessReviewInstances": sum(c.count() for c in t.review_instances.values()),
        }

    def unavailable(self) -> dict[str, str]:
        """Checks the tenant's licence does not allow, with the licence they need."""
        order = {"free": 0, "P1": 1, "P2": 2}
        licence = self.tenant.config.license
        return {
            check: f"needs Microsoft Entra ID {needed}"
            for check, needed in LICENCE_NEEDS.items()
            if order[licence] < order[needed]
        }

    def findings(self, now: datetime) -> list[Finding]:
        found = self._credentials(now) + self._consents(now) + self._policies(now)
        skipped = set(self.unavailable())
        if "risky-sign-ins" not in skipped:
            found += self._risk(now)
        return [f for f in found if f["check"] not in skipped]

    # -- credential-expiry -----------------------------------------------------------------

    def _last_sign_in(self, app_id: str) -> datetime | None:
        for position in self.tenant.service_principals.positions_by("appId", app_id):
            entry = self.tenant.consents.activity(position)
            if entry is not None:
                return parse_time(entry["lastSignInActivity"]["lastSignInDateTime"])
        return None

    def _credentials(self, now: datetime) -> list[Finding]:
        t = self.tenant
        apps = t.applications
        positions = set(range(apps.fixed_count)) | set(apps.changed_positions())
        positions |= {apps.generated_position(index) for index in t.plan.app_plants}
        found: list[Finding] = []
        for position in sorted(positions):
            app = apps.at(position)
            found += credential_findings(
                app, "application", self._last_sign_in(app["appId"]), now, self.baseline
            )
        sps = t.service_principals
        for position in sorted(set(range(sps.fixed_count)) | set(sps.changed_positions())):
            sp = sps.at(position)
            if not sp["keyCredentials"] and not sp["passwordCredentials"]:
                continue
            found += credential_findings(sp, "servicePrincipal", None, now, self.baseline)
        return found

    # -- consent-grants --------------------------------------------------------------------

    def _consents(self, now: datetime) -> list[Finding]:
        t = self.tenant
        sps = t.service_principals
        planted = set(t.plan.unused_service_principals) | set(t.plan.service_principal_plants)
        client_positions = set(range(sps.fixed_count)) | {sps.generated_position(i) for i in planted}
        client_positions |= set(sps.changed_positions())
        found: list[Finding] = []
        role_names = app_role_names(t.consents.graph_sp)
        for position in sorted(client_positions):
            client = sps.at(position)
            last = self._last_sign_in(client["appId"])
            for assignment in t.consents.assignments_of(position):
                permission = role_names.get(assignment["appRoleId"], str(assignment["appRoleId"]))
                found += grant_findings(
                    assignment, [permission], "appRoleAssignment", client, last, now, self.baseline
                )
        grant_positions: set[int] = set()
        for position in client_positions:
            grant_positions.update(t.grants.positions_by("clientId", sps.at(position)["id"]))
        injected = set(t.grants.injected_positions())
        for position in sorted(grant_positions | injected):
            grant = t.grants.at(position)
            holder = sps.get(grant["clientId"])
            if holder is None:
                continue
            last = self._last_sign_in(holder["appId"])
            found += grant_findings(
                grant,
                grant["scope"].split(),
                "oAuth2PermissionGrant",
                holder,
                last,
                now,
                self.baseline,
                new=position in injected,
            )
        return found

    # -- sign-ins and risk ----------------------------------------------------------------

    def _risk(self, now: datetime) -> list[Finding]:
        """Risky sign-ins within the log's retention (graph-facts §4: 30 days on P1/P2) at
        ``now``, and the users at risk. A planted sign-in near the end of the generated 30 days
        leaves the retention as the emulator's clock runs on, and with it its finding."""
        t = self.tenant
        found: list[Finding] = []
        retained_from = now - timedelta(days=WINDOW_DAYS)
        events = [t.sign_ins.sign_in(index) for index in sorted(t.plan.sign_in_plants)]
        for sign_in in events + t.sign_ins.injected():
            if parse_time(sign_in["createdDateTime"]) >= retained_from:
                found += sign_in_findings(sign_in, bool(sign_in.get("@emulator.singleFactor")))
        for _key, user in t.risky_users.scan(None, None):
            found += risky_user_findings(user)
        return found

    # -- policies and reviews --------------------------------------------------------------

    def _policies(self, now: datetime) -> list[Finding]:
        t = self.tenant
        g = t.governance
        found: list[Finding] = []
        for _key, policy in t.token_lifetime_policies.scan(None, None):
            found += token_policy_findings(policy, self.baseline)
        policies = [policy for _key, policy in t.conditional_access_policies.scan(None, None)]
        for policy in policies:
            found += session_findings(policy, self.baseline)
        found += self._policy_changes()
        scopes = required_scopes(self.baseline, g.groups, t.fixed.by_name)
        instances = {d: [i for _k, i in c.scan(None, None)] for d, c in t.review_instances.items()}
        definitions = [d for _key, d in t.review_definitions.scan(None, None)]
        found += review_findings(definitions, instances, scopes, now, self.baseline)
        protected = {t.fixed.by_name[name]["appId"] for name in self.baseline.protected_apps}
        admin_apps = {t.fixed.by_name[name]["appId"] for name in self.baseline.admin_apps}
        tenant_ref: GraphObject = {"id": t.tenant_id, "displayName": t.context.organization}
        found += conditional_access_findings(
            policies, tenant_ref, g.groups, protected, admin_apps, self.baseline
        )
        return found

    def _policy_changes(self) -> list[Finding]:
        """token-policy-changed for every policy edited at run time (see changes.py)."""
        t = self.tenant
        found: list[Finding] = []
        for resource_type, collection, generated in (
            ("tokenLifetimePolicy", t.token_lifetime_policies, t.governance.token_lifetime_policies),
            ("conditionalAccessPolicy", t.conditional_access_policies, t.governance.conditional_access),
        ):
            for position in collection.changed_positions():
                found += policy_change_findings(resource_type, generated[position], collection.at(position))
        return found


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value
