"""The interactive sign-in log: a million events over 30 days, each generated from its index.

Event ``i`` happened at ``now - (i + u_i) * window / count`` (``u_i`` in [0, 1) from the seed), so
the log is newest first, strictly ordered, and the events of any time window are an index range
found by binary search. Like the real log (30 days' retention with P1/P2), events older than 30
days are gone — listing, counting and reading by id — once the emulator's clock has been moved
past them (``POST /_emulator/clock``; real time elapsing during a session does not age the log,
so that its counts stay stable while tests run).

Paging resumes after a key ``(-ticks, stream, index)``: stream 0 holds events injected at run time
(newer than every generated one), stream 1 the generated events.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emulator.ids import TICKS_PER_SECOND, format_ticks, to_ticks
from emulator.odata.filter import Node, parse_datetime_ticks, required_values, time_bounds
from emulator.tenant import catalog
from emulator.tenant.base import Collection, GraphObject, Key, TenantContext
from emulator.tenant.directory import People
from emulator.tenant.objects import random_guid
from emulator.tenant.plants import PlantPlan, SignInPlant

SIGN_IN = "signIn"
WINDOW_DAYS = 30
INJECTED, GENERATED = 0, 1
RISK_PROPERTIES = ("riskLevelDuringSignIn", "riskLevelAggregated", "riskState")

# (errorCode, failureReason) of ordinary failed sign-ins.
FAILURES = (
    (50126, "Error validating credentials due to invalid username or password."),
    (50074, "Strong Authentication is required."),
    (53003, "Access has been blocked by Conditional Access policies."),
    (50053, "Account is locked because user tried to sign in too many times."),
)


@dataclass(frozen=True)
class SignInApp:
    app_id: str
    display_name: str
    resource_id: str
    resource_name: str


@dataclass(frozen=True)
class RiskProfile:
    level: str
    state: str
    detail: str
    event_types: tuple[str, ...]
    error: tuple[int, str] | None
    single_factor: bool


PLANT_PROFILES = {
    "high-risk-success": RiskProfile("high", "atRisk", "none", ("unfamiliarFeatures",), None, False),
    "medium-risk-success": RiskProfile("medium", "atRisk", "none", ("anonymizedIPAddress",), None, False),
    "low-risk-single-factor": RiskProfile("low", "atRisk", "none", ("unlikelyTravel",), None, True),
    "high-risk-single-factor": RiskProfile(
        "high", "atRisk", "none", ("maliciousIPAddress", "unfamiliarFeatures"), None, True
    ),
    "high-risk-failure": RiskProfile("high", "atRisk", "none", ("passwordSpray",), FAILURES[0], True),
}


class SignInLog(Collection):
    entity_type = "signIn"

    def __init__(
        self,
        context: TenantContext,
        plan: PlantPlan,
        people: People,
        apps: list[SignInApp],
        applied_policies: list[GraphObject],
    ) -> None:
        self._context = context
        self._plan = plan
        self._people = people
        self._apps = apps
        self._applied_policies = applied_policies
        self._count = context.scale.sign_ins
        self._start_ticks = to_ticks(context.now)
        self._window_ticks = WINDOW_DAYS * 86_400 * TICKS_PER_SECOND
        self._risky = sorted(plan.sign_in_plants)
        self._injected: list[tuple[Key, GraphObject]] = []
        self._clock: Callable[[], datetime] | None = None
        self.beta = False

    @property
    def apps(self) -> list[SignInApp]:
        """The applications users sign in to."""
        return list(self._apps)

    # -- time ------------------------------------------------------------------------------

    def follow_clock(self, now: Callable[[], datetime]) -> None:
        """Drop events that leave the retention window as ``now`` (the running clock) moves on."""
        self._clock = now

    def _retained_from(self) -> int | None:
        """Ticks of the oldest instant still retained; None when no clock is followed."""
        if self._clock is None:
            return None
        return to_ticks(self._clock() - timedelta(days=WINDOW_DAYS))

    def _retained_count(self) -> int:
        """Generated events still retained: indices below this (the log is newest first)."""
        floor = self._retained_from()
        return self._count if floor is None else self._first_at_or_before(floor, inclusive=False)

    def _retained_injected(self) -> list[tuple[Key, GraphObject]]:
        floor = self._retained_from()
        return [item for item in self._injected if floor is None or -item[0][0] >= floor]

    def ticks(self, index: int) -> int:
        offset = index + self._context.seeded.unit("signin-time", index)
        return self._start_ticks - int(offset * self._window_ticks / self._count)

    def _first_at_or_before(self, ticks: int, inclusive: bool) -> int:
        """Smallest index whose time is ≤ ticks (< ticks when not inclusive)."""
        low, high = 0, self._count
        while low < high:
            middle = (low + high) // 2
            value = self.ticks(middle)
            if value < ticks or (inclusive and value == ticks):
                high = middle
            else:
                low = middle + 1
        return low

    # -- collection ------------------------------------------------------------------------

    def count(self) -> int:
        return self._retained_count() + len(self._retained_injected())

    def inject(self, sign_in: GraphObject) -> None:
        """Add an event that happened now (run time); it sorts before every generated event."""
        key = (-parse_datetime_ticks(sign_in["createdDateTime"]), INJECTED, -len(self._injected))
        self._injected.append((key, sign_in))
        self._injected.sort(key=lambda item: item[0])

    def injected(self) -> list[GraphObject]:
        return [sign_in for _key, sign_in in self._retained_injected()]

    def get(self, object_id: str) -> GraphObject | None:
        for _key, sign_in in self._retained_injected():
            if sign_in["id"] == object_id.lower():
                return sign_in
        index = self._context.seeded.index_of(SIGN_IN, object_id)
        return None if index is None or index >= self._retained_count() else self.sign_in(index)

    def scan(self, after: Key | None, filter_node: Node | None) -> Iterator[tuple[Key, GraphObject]]:
        injected = (item for item in self._retained_injected() if after is None or item[0] > after)
        return heapq.merge(injected, self._scan_generated(after, filter_node), key=lambda item: item[0])

    def _scan_generated(
        self, after: Key | None, filter_node: Node | None
    ) -> Iterator[tuple[Key, GraphObject]]:
        start, stop = 0, self._retained_count()
        if after is not None:
            if after[1] == GENERATED:
                start = after[2] + 1
            else:
                start = self._first_at_or_before(-after[0], inclusive=True)
        if filter_node is not None:
            bounds = time_bounds(filter_node, "createdDateTime")
            if bounds.upper is not None:
                start = max(start, self._first_at_or_before(bounds.upper, bounds.upper_inclusive))
            if bounds.lower is not None:
                stop = min(stop, self._first_at_or_before(bounds.lower, not bounds.lower_inclusive))
            ids = required_values(filter_node, "id")
            if ids is not None:
                wanted = (self._context.seeded.index_of(SIGN_IN, value) for value in ids)
                indices = sorted(i for i in wanted if i is not None and start <= i < stop)
                yield from ((self._key(i), self.sign_in(i)) for i in indices)
                return
            if self._needs_risk(filter_node):
                low = bisect.bisect_left(self._risky, start)
                high = bisect.bisect_left(self._risky, stop)
                yield from ((self._key(i), self.sign_in(i)) for i in self._risky[low:high])
                return
        for index in range(start, stop):
            yield self._key(index), self.sign_in(index)

    def _key(self, index: int) -> Key:
        return (-self.ticks(index), GENERATED, index)

    @staticmethod
    def _needs_risk(filter_node: Node) -> bool:
        """True when the filter only matches events with some risk (generated ones have none)."""
        for name in RISK_PROPERTIES:
            values = required_values(filter_node, name)
            if values is not None and not values & {"none", "hidden"}:
                return True
        return False

    # -- events ----------------------------------------------------------------------------

    def sign_in(self, index: int) -> GraphObject:
        rng = self._context.seeded.rng(SIGN_IN, index)
        plant = self._plan.sign_in_plants.get(index)
        user_index = plant.victim if plant else rng.randrange(self._context.scale.users)
        fields = _EventFields(
            id=self._context.seeded.guid(SIGN_IN, index),
            created=format_ticks(self.ticks(index)),
            user=user_index,
            app=self._apps[rng.randrange(len(self._apps))],
            correlation_id=random_guid(rng),
        )
        location = catalog.OFFICE_LOCATIONS[self._people.person(user_index).office]
        failure = FAILURES[rng.randrange(len(FAILURES))] if rng.random() < 0.06 else None
        single_factor = rng.random() < 0.3
        profile = PLANT_PROFILES[plant.kind] if plant else None
        if profile is not None:
            location = catalog.FOREIGN_LOCATIONS[rng.randrange(len(catalog.FOREIGN_LOCATIONS))]
            failure, single_factor = profile.error, profile.single_factor
        return self.build(
            fields, rng.randrange(2, 254), location, failure, single_factor, profile, rng.random()
        )

    def build(
        self,
        fields: _EventFields,
        host: int,
        location: tuple[Any, ...],
        failure: tuple[int, str] | None,
        single_factor: bool,
        risk: RiskProfile | None,
        draw: float,
    ) -> GraphObject:
        """One event as v1.0 returns it (the beta-only properties are added by :meth:`beta_view`)."""
        person = self._people.person(fields.user)
        city, state, country, latitude, longitude, prefix = location
        hidden = self._context.license != "P2"
        level = "hidden" if hidden else (risk.level if risk else "none")
        blocked = failure is not None and failure[0] == 53003
        return {
            "id": fields.id,
            "createdDateTime": fields.created,
            "userDisplayName": person.display_name,
            "userPrincipalName": person.user_principal_name,
            "userId": person.id,
            "appId": fields.app.app_id,
            "appDisplayName": fields.app.display_name,
            "ipAddress": f"{prefix}.{host}",
            "clientAppUsed": "Browser" if draw < 0.7 else "Mobile Apps and Desktop clients",
            "correlationId": fields.correlation_id,
            "conditionalAccessStatus": "failure"
            if blocked
            else "success"
            if not single_factor
            else "notApplied",
            "isInteractive": True,
            "riskDetail": "hidden" if hidden else (risk.detail if risk else "none"),
            "riskLevelAggregated": level,
            "riskLevelDuringSignIn": level,
            "riskState": "none" if hidden or risk is None else risk.state,
            "riskEventTypes": [] if hidden or risk is None else list(_V1_EVENT_TYPES(risk)),
            "riskEventTypes_v2": [] if hidden or risk is None else list(risk.event_types),
            "resourceDisplayName": fields.app.resource_name,
            "resourceId": fields.app.resource_id,
            "resourceTenantId": self._context.tenant_id,
            "homeTenantId": self._context.tenant_id,
            "servicePrincipalId": "",
            "servicePrincipalName": "",
            "userAgent": _USER_AGENTS[int(draw * len(_USER_AGENTS))],
            "authenticationAppDeviceDetails": None,
            "status": {
                "errorCode": failure[0] if failure else 0,
                "failureReason": failure[1] if failure else "Other.",
                "additionalDetails": None
                if failure
                else "MFA requirement satisfied by claim in the token"
                if not single_factor
                else None,
            },
            "deviceDetail": {
                "deviceId": "",
                "displayName": "",
                "operatingSystem": catalog.OPERATING_SYSTEMS[int(draw * 5)],
                "browser": catalog.BROWSERS[int(draw * 4)],
                "isCompliant": False,
                "isManaged": False,
                "trustType": "",
            },
            "location": {
                "city": city,
                "state": state,
                "countryOrRegion": country,
                "geoCoordinates": {"altitude": None, "latitude": latitude, "longitude": longitude},
            },
            "appliedConditionalAccessPolicies": self._applied_policies if not single_factor else [],
            # Kept for beta_view; removed from the v1.0 response by the Graph layer.
            "@emulator.singleFactor": single_factor,
        }


@dataclass(frozen=True)
class _EventFields:
    id: str
    created: str
    user: int
    app: SignInApp
    correlation_id: str


_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
)


def _V1_EVENT_TYPES(risk: RiskProfile) -> tuple[str, ...]:  # noqa: N802 - reads like a table
    """The deprecated v1.0 ``riskEventTypes`` enum only knows some detection names."""
    known = {"unlikelyTravel", "anonymizedIPAddress", "maliciousIPAddress", "unfamiliarFeatures"}
    return tuple(name for name in risk.event_types if name in known)


def beta_view(sign_in: GraphObject, context: TenantContext) -> GraphObject:
    """The same event as the beta endpoint returns it (more properties, no ``riskEventTypes``)."""
    view = {
        key: value
        for key, value in sign_in.items()
        if key not in ("riskEventTypes", "@emulator.singleFactor")
    }
    single_factor = bool(sign_in.get("@emulator.singleFactor"))
    succeeded = sign_in["status"]["errorCode"] == 0
    requirement = "singleFactorAuthentication" if single_factor else "multiFactorAuthentication"
    steps = [_auth_step(sign_in["createdDateTime"], "Password", "Primary authentication", succeeded)]
    if not single_factor and succeeded:
        steps.append(
            _auth_step(
                sign_in["createdDateTime"],
                "Mobile app notification",
                "Secondary authentication",
                True,
            )
        )
    view.update(
        {
            "agent": None,
            "appOwnerTenantId": catalog.MICROSOFT_SERVICES_TENANT,
            "appTokenProtectionStatus": "none",
            "appliedEventListeners": [],
            "authenticationAppPolicyEvaluationDetails": [],
            "authenticationContextClassReferences": [],
            "authenticationDetails": steps,
            "authenticationMethodsUsed": [],
            "authenticationProcessingDetails": [],
            "authenticationProtocol": "none",
            "authenticationRequirement": requirement,
            "authenticationRequirementPolicies": [],
            "autonomousSystemNumber": 8075,
            "azureResourceId": "",
            "clientCredentialType": "none",
            "clientSessionId": "",
            "conditionalAccessAudiences": [],
            "crossTenantAccessType": "none",
            "federatedCredentialId": "",
            "flaggedForReview": False,
            "globalSecureAccessIpAddress": "",
            "homeTenantName": context.organization,
            "incomingTokenType": "none",
            "ipAddressFromResourceProvider": "",
            "isTenantRestricted": False,
            "isThroughGlobalSecureAccess": False,
            "managedServiceIdentity": None,
            "mfaDetail": None,
            "networkLocationDetails": [],
            "originalRequestId": "",
            "originalTransferMethod": "none",
            "privateLinkDetails": None,
            "processingTimeInMilliseconds": 96,
            "resourceOwnerTenantId": catalog.MICROSOFT_SERVICES_TENANT,
            "resourceServicePrincipalId": "",
            "servicePrincipalCredentialKeyId": "",
            "servicePrincipalCredentialThumbprint": "",
            "sessionId": sign_in["correlationId"],
            "sessionLifetimePolicies": [],
            "signInEventTypes": ["interactiveUser"],
            "signInIdentifier": sign_in["userPrincipalName"],
            "signInIdentifierType": "userPrincipalName",
            "signInTokenProtectionStatus": "none",
            "tokenIssuerName": "",
            "tokenIssuerType": "AzureAD",
            "tokenProtectionStatusDetails": None,
            "uniqueTokenIdentifier": sign_in["id"].replace("-", "")[:22],
            "userType": "member",
        }
    )
    return view


def _auth_step(when: str, method: str, requirement: str, succeeded: bool) -> GraphObject:
    return {
        "authenticationMethod": method,
        "authenticationMethodDetail": None,
        "authenticationStepDateTime": when,
        "authenticationStepRequirement": requirement,
        "authenticationStepResultDetail": "Correct password" if succeeded else "Invalid username or password",
        "succeeded": succeeded,
    }


def v1_view(sign_in: GraphObject) -> GraphObject:
    return {key: value for key, value in sign_in.items() if not key.startswith("@emulator.")}


__all__ = ["SignInApp", "SignInLog", "SignInPlant", "beta_view", "v1_view"]
