"""The emulated tenant: every collection the Graph layer serves, built from one seed."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from emulator.identity.registry import IdentityRegistry
from emulator.odata.filter import Node, required_values
from emulator.tenant import catalog
from emulator.tenant.base import (
    Collection,
    GraphObject,
    IndexedCollection,
    Key,
    ListCollection,
    TenantContext,
)
from emulator.tenant.consents import AssignedTo, Consents
from emulator.tenant.directory import Applications, People
from emulator.tenant.fixed import FixedBuilder, FixedObjects
from emulator.tenant.plants import PlantPlan, plan_plants
from emulator.tenant.policies import Governance, GovernanceBuilder
from emulator.tenant.risk import RiskBuilder
from emulator.tenant.scale import Scale
from emulator.tenant.signins import SignInApp, SignInLog


@dataclass(frozen=True)
class TenantConfig:
    seed: int
    now: datetime
    scale: Scale
    license: str = "P2"


class Tenant:
    """All the tenant's objects. Generated collections cost no memory until read."""

    def __init__(self, config: TenantConfig) -> None:
        self.config = config
        self.context = TenantContext(
            seed=config.seed, now=config.now, scale=config.scale, license=config.license
        )
        self.plan: PlantPlan = plan_plants(self.context)
        self.people = People(self.context)
        self.apps = Applications(self.context, self.plan)
        self.fixed: FixedObjects = FixedBuilder(self.context).build()
        scale = config.scale
        self.users = IndexedCollection("user", [], scale.users, self.people.user, self.people.index_of)
        self.applications = IndexedCollection(
            "application",
            self.fixed.applications,
            scale.applications,
            self.apps.application,
            self.apps.index_of_app,
            alternate_keys={"appId": self._application_positions_by_app_id},
        )
        self.service_principals = IndexedCollection(
            "servicePrincipal",
            self.fixed.service_principals,
            scale.service_principals,
            self.apps.service_principal,
            self.apps.index_of_service_principal,
            alternate_keys={"appId": self._service_principal_positions_by_app_id},
        )
        self.consents = Consents(
            self.context, self.plan, self.apps, self.people, self.fixed, self.service_principals
        )
        self.grants = self.consents.grants
        self.governance: Governance = GovernanceBuilder(
            self.context, self.fixed.by_name, self._policy_targets()
        ).build()
        self.sign_ins = SignInLog(
            self.context, self.plan, self.people, self._sign_in_apps(), self._applied_policies()
        )
        risk = RiskBuilder(self.context, self.plan, self.people, self.sign_ins).build()
        self.risky_users = ListCollection("riskyUser", risk.risky_users)
        self.risk_detections = ListCollection("riskDetection", risk.detections)
        self.token_lifetime_policies = ListCollection(
            "tokenLifetimePolicy", self.governance.token_lifetime_policies
        )
        self.conditional_access_policies = ListCollection(
            "conditionalAccessPolicy", self.governance.conditional_access
        )
        self.named_locations = ListCollection("namedLocation", self.governance.named_locations)
        self.groups = ListCollection("group", self.governance.groups)
        self.review_definitions = ListCollection(
            "accessReviewScheduleDefinition", self.governance.review_definitions
        )
        self.review_instances = {
            definition_id: ListCollection("accessReviewInstance", instances)
            for definition_id, instances in self.governance.review_instances.items()
        }
        self.activity = SignInActivityReport(self)
        self.injected_log: list[tuple[str, str]] = []
        """(kind, id) of every change made at run time, in order."""

    # -- identity --------------------------------------------------------------------------

    @property
    def registry(self) -> IdentityRegistry:
        assert self.fixed.registry is not None
        return self.fixed.registry

    @property
    def tenant_id(self) -> str:
        return self.context.tenant_id

    # -- lookups ---------------------------------------------------------------------------

    def _application_positions_by_app_id(self, app_id: str) -> list[int]:
        lowered = app_id.lower()
        positions = [p for p, a in enumerate(self.fixed.applications) if a["appId"] == lowered]
        index = self.context.seeded.index_of("appId", app_id)
        if index is not None and index < self.config.scale.applications:
            positions.append(len(self.fixed.applications) + index)
        return positions

    def _service_principal_positions_by_app_id(self, app_id: str) -> list[int]:
        lowered = app_id.lower()
        positions = [p for p, sp in enumerate(self.fixed.service_principals) if sp["appId"] == lowered]
        index = self.apps.index_of_app_id(app_id)
        if (
            index is not None
            and index < self.config.scale.service_principals
            and self.apps.service_principal(index)["appId"] == lowered
        ):
            positions.append(len(self.fixed.service_principals) + index)
        return positions

    def assigned_to(self, resource_id: str) -> Collection:
        return AssignedTo(self.consents, resource_id)

    # -- inputs to other builders ----------------------------------------------------------

    def _policy_targets(self) -> list[GraphObject]:
        """Applications that token-lifetime policies apply to: generated, never planted ones."""
        planted = set(self.plan.app_plants) | set(self.plan.service_principal_plants)
        targets: list[GraphObject] = []
        index = 0
        while len(targets) < 5 and index < self.config.scale.applications:
            if index not in planted:
                targets.append(self.apps.application(index))
            index += 1
        return targets

    def _sign_in_apps(self) -> list[SignInApp]:
        graph = catalog.MICROSOFT_GRAPH
        exchange = catalog.EXCHANGE_ONLINE
        apps = [
            SignInApp(app.app_id, app.display_name, exchange.app_id, exchange.display_name)
            for app in catalog.FIRST_PARTY_APPS
            if app.interactive
        ]
        portal = self.fixed.by_name["Platform Management Portal"]
        apps.append(SignInApp(portal["appId"], portal["displayName"], graph.app_id, graph.display_name))
        for index in self.plan.interactive_apps:
            identity = self.apps.identity(index)
            apps.append(SignInApp(identity.app_id, identity.display_name, graph.app_id, graph.display_name))
        return apps

    def _applied_policies(self) -> list[GraphObject]:
        """What ``appliedConditionalAccessPolicies`` lists for an ordinary MFA sign-in: enabled
        policies with their result, disabled ones as notEnabled (report-only ones are left out:
        their result values are evolvable-enum members Graph hides by default)."""
        applied = []
        for policy in self.governance.conditional_access:
            if policy["state"] == "enabledForReportingButNotEnforced":
                continue
            result = "notEnabled" if policy["state"] == "disabled" else "notApplied"
            applied.append(
                {
                    "id": policy["id"],
                    "displayName": policy["displayName"],
                    "enforcedGrantControls": [],
                    "enforcedSessionControls": [],
                    "result": result,
                }
            )
        return applied


class SignInActivityReport(Collection):
    """beta ``reports/servicePrincipalSignInActivities``: one entry per service principal that
    has signed in at least once, in service-principal order."""

    entity_type = "servicePrincipalSignInActivity"

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant

    def count(self) -> int:
        return sum(1 for _ in self.scan(None, None))

    def scan(self, after: Key | None, filter_node: Node | None) -> Iterator[tuple[Key, GraphObject]]:
        sps = self._tenant.service_principals
        app_ids = None if filter_node is None else required_values(filter_node, "appId")
        positions: Iterable[int]
        if app_ids is not None:
            positions = sorted({p for value in app_ids for p in sps.positions_by("appId", value)})
        else:
            positions = range(sps.count())
        start = after[0] + 1 if after else 0
        for position in positions:
            if position < start:
                continue
            entry = self._tenant.consents.activity(position)
            if entry is not None:
                yield (position,), entry

    def get(self, object_id: str) -> GraphObject | None:
        try:
            app_id = base64.b64decode(object_id, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        for position in self._tenant.service_principals.positions_by("appId", app_id):
            entry = self._tenant.consents.activity(position)
            if entry is not None and entry["id"] == object_id:
                return entry
        return None
