"""Policies and governance: token lifetimes, conditional access, named locations, groups, access
reviews. All small and fixed, built around the seed's recommendations with known deviations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from emulator.ids import iso
from emulator.tenant import catalog
from emulator.tenant.base import GraphObject, TenantContext
from emulator.tenant.objects import group
from emulator.tenant.reviews import ReviewBuilder

PRIVILEGED_ROLE_IDS = [role.template_id for role in catalog.DIRECTORY_ROLES if role.privileged]


@dataclass
class Governance:
    token_lifetime_policies: list[GraphObject] = field(default_factory=list)
    applies_to: dict[str, list[GraphObject]] = field(default_factory=dict)
    """Policy id -> the applications it is assigned to (``@odata.type`` application)."""
    conditional_access: list[GraphObject] = field(default_factory=list)
    named_locations: list[GraphObject] = field(default_factory=list)
    groups: list[GraphObject] = field(default_factory=list)
    review_definitions: list[GraphObject] = field(default_factory=list)
    review_instances: dict[str, list[GraphObject]] = field(default_factory=dict)


class GovernanceBuilder:
    def __init__(
        self, context: TenantContext, sp_by_name: dict[str, GraphObject], apps: list[GraphObject]
    ) -> None:
        self.context = context
        self.sp_by_name = sp_by_name
        self.apps = apps
        self.result = Governance()

    def guid(self, name: str) -> str:
        return self.context.seeded.named_guid(f"policy:{name}")

    def stamp(self, days_ago: float) -> str:
        return iso(self.context.ago(days=days_ago).replace(microsecond=0))

    def build(self) -> Governance:
        self._groups()
        self._token_lifetime_policies()
        self._named_locations()
        self._conditional_access()
        ReviewBuilder(self).build()
        return self.result

    # -- groups ----------------------------------------------------------------------------

    def group(self, name: str) -> GraphObject:
        return next(g for g in self.result.groups if g["displayName"] == name)

    def _groups(self) -> None:
        for name, role_assignable, description in (
            ("Platform Admins", True, "Administrators of the platform (seed: privileged access)"),
            ("Admin Role Group", True, "Holders of admin roles targeted by conditional access"),
            (
                "Break-glass Accounts",
                True,
                "Emergency access accounts excluded from conditional access",
            ),
            ("External Partners", False, "Guest users from partner organisations"),
            ("All Employees", False, "Every member user"),
        ):
            nickname = name.lower().replace(" ", "-")
            self.result.groups.append(
                group(
                    id=self.guid(f"group:{name}"),
                    createdDateTime=self.stamp(600),
                    description=description,
                    displayName=name,
                    isAssignableToRole=role_assignable,
                    mailEnabled=False,
                    mailNickname=nickname,
                    renewedDateTime=self.stamp(600),
                    securityEnabled=True,
                    securityIdentifier="S-1-12-1-"
                    + str(self.context.seeded.key("sid", len(self.result.groups))),
                )
            )

    # -- token lifetime --------------------------------------------------------------------

    def _token_lifetime_policies(self) -> None:
        """Baseline (seed): access tokens 1 hour. Planted: 8 hours and 30 minutes (drift beyond
        the 15-minute tolerance), 70 minutes (within tolerance: no finding), and a legacy policy
        still carrying retired refresh/session properties."""
        policies = (
            (
                "Organization default: 1 hour access tokens",
                {"AccessTokenLifetime": "01:00:00"},
                True,
            ),
            ("Reporting API long-lived tokens", {"AccessTokenLifetime": "08:00:00"}, False),
            ("Payroll short tokens", {"AccessTokenLifetime": "00:30:00"}, False),
            ("Finance portal tokens", {"AccessTokenLifetime": "01:10:00"}, False),
            (
                "Legacy session policy",
                {
                    "AccessTokenLifetime": "01:00:00",
                    "MaxInactiveTime": "90.00:00:00",
                    "MaxAgeSessionSingleFactor": "until-revoked",
                },
                False,
            ),
        )
        for number, (name, values, default) in enumerate(policies):
            definition = {"TokenLifetimePolicy": {"Version": 1, **values}}
            policy_id = self.guid(f"tlp:{name}")
            self.result.token_lifetime_policies.append(
                {
                    "id": policy_id,
                    "deletedDateTime": None,
                    "definition": [json.dumps(definition, separators=(",", ":"))],
                    "description": None,
                    "displayName": name,
                    "isOrganizationDefault": default,
                }
            )
            targets = [] if default else [self.apps[number % len(self.apps)]]
            # appliesTo lists directoryObjects: each the whole application, typed.
            self.result.applies_to[policy_id] = [
                {"@odata.type": "#microsoft.graph.application", **app} for app in targets
            ]

    # -- named locations and conditional access ------------------------------------------

    def location(self, name: str) -> GraphObject:
        return next(item for item in self.result.named_locations if item["displayName"] == name)

    def _named_locations(self) -> None:
        def ip(name: str, ranges: list[str], trusted: bool) -> GraphObject:
            return {
                "@odata.type": "#microsoft.graph.ipNamedLocation",
                "id": self.guid(f"location:{name}"),
                "deletedDateTime": None,  # policyDeletableItem, the v1.0 base type
                "displayName": name,
                "modifiedDateTime": self.stamp(100),
                "createdDateTime": self.stamp(500),
                "isTrusted": trusted,
                "ipRanges": [
                    {
                        "@odata.type": "#microsoft.graph.iPv4CidrRange"
                        if ":" not in r
                        else "#microsoft.graph.iPv6CidrRange",
                        "cidrAddress": r,
                    }
                    for r in ranges
                ],
            }

        self.result.named_locations.extend(
            [
                ip("Corporate headquarters", ["131.107.160.0/24", "40.112.72.0/24"], True),
                ip("Branch offices", ["51.140.12.0/24", "20.113.45.0/24", "20.50.2.0/24"], True),
                ip("Untrusted VPN exits", ["185.220.101.0/24", "2001:db8:1234::/48"], False),
                {
                    "@odata.type": "#microsoft.graph.countryNamedLocation",
                    "id": self.guid("location:Sanctioned countries"),
                    "deletedDateTime": None,
                    "displayName": "Sanctioned countries",
                    "modifiedDateTime": self.stamp(90),
                    "createdDateTime": self.stamp(400),
                    "countriesAndRegions": ["KP", "IR", "SY", "CU"],
                    "includeUnknownCountriesAndRegions": False,
                    "countryLookupMethod": "clientIpAddress",
                },
            ]
        )

    def _conditional_access(self) -> None:
        portal = self.sp_by_name["Platform Management Portal"]["appId"]
        apis = self.sp_by_name["Platform APIs"]["appId"]
        break_glass = self.group("Break-glass Accounts")["id"]
        sanctioned = self.location("Sanctioned countries")["id"]
        policies = [
            # Seed: require MFA for admins — planted in report-only, so it is not enforced.
            _ca(
                "Require MFA for admins",
                "enabledForReportingButNotEnforced",
                roles=PRIVILEGED_ROLE_IDS,
                apps=["All"],
                exclude_groups=[break_glass],
                grant=["mfa"],
            ),
            # Seed: block untrusted locations for the platform APIs — compliant.
            _ca(
                "Block untrusted locations for Platform APIs",
                "enabled",
                users=["All"],
                apps=[apis],
                exclude_groups=[break_glass],
                locations=(["All"], ["AllTrusted"]),
                grant=["block"],
            ),
            _ca(
                "Block legacy authentication",
                "enabled",
                users=["All"],
                apps=["All"],
                exclude_groups=[break_glass],
                client_app_types=["exchangeActiveSync", "other"],
                grant=["block"],
            ),
            _ca(
                "Block sanctioned countries",
                "enabled",
                users=["All"],
                apps=["All"],
                exclude_groups=[break_glass],
                locations=([sanctioned], []),
                grant=["block"],
            ),
            _ca(
                "Require compliant device for Platform Management Portal",
                "enabled",
                users=["All"],
                apps=[portal],
                exclude_groups=[break_glass],
                grant=["compliantDevice", "mfa"],
                operator="OR",
            ),
            # Session controls: 4 hours is within the 8-hour session baseline; 24 hours is not.
            _ca(
                "Admins sign in again every 4 hours",
                "enabled",
                roles=PRIVILEGED_ROLE_IDS,
                apps=["All"],
                exclude_groups=[break_glass],
                frequency=("hours", 4),
            ),
            _ca(
                "Office sign-in frequency 24 hours",
                "enabled",
                users=["All"],
                apps=["Office365"],
                exclude_groups=[break_glass],
                frequency=("hours", 24),
            ),
            _ca(
                "Persistent browser sessions for all apps",
                "enabled",
                users=["All"],
                apps=["All"],
                exclude_groups=[break_glass],
                persistent="always",
            ),
            # Disabled and report-only policies (their session controls are not in force).
            _ca(
                "Legacy pilot: 30-day sign-in frequency",
                "disabled",
                users=["All"],
                apps=["All"],
                exclude_groups=[break_glass],
                frequency=("days", 30),
            ),
            _ca(
                "Pilot: block high sign-in risk",
                "enabledForReportingButNotEnforced",
                users=["All"],
                apps=["All"],
                exclude_groups=[break_glass],
                sign_in_risk=["high"],
                grant=["block"],
            ),
        ]
        for number, policy in enumerate(policies):
            policy["id"] = self.guid(f"ca:{policy['displayName']}")
            policy["createdDateTime"] = self.stamp(400 - number)
            policy["modifiedDateTime"] = self.stamp(30 + number)
            self.result.conditional_access.append(_ordered_policy(policy))


def _ca(
    name: str,
    state: str,
    *,
    users: list[str] | None = None,
    roles: list[str] | None = None,
    apps: list[str],
    exclude_groups: list[str] | None = None,
    locations: tuple[list[str], list[str]] | None = None,
    client_app_types: list[str] | None = None,
    sign_in_risk: list[str] | None = None,
    grant: list[str] | None = None,
    operator: str = "OR",
    frequency: tuple[str, int] | None = None,
    persistent: str | None = None,
) -> GraphObject:
    session = None
    if frequency or persistent:
        session = {
            "disableResilienceDefaults": None,
            "applicationEnforcedRestrictions": None,
            "cloudAppSecurity": None,
            "persistentBrowser": {"isEnabled": True, "mode": persistent} if persistent else None,
            "secureSignInSession": None,
            "signInFrequency": {
                "value": frequency[1],
                "type": frequency[0],
                "authenticationType": "primaryAndSecondaryAuthentication",
                "frequencyInterval": "timeBased",
                "isEnabled": True,
            }
            if frequency
            else None,
        }
    return {
        "displayName": name,
        "state": state,
        "sessionControls": session,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": sign_in_risk or [],
            "clientAppTypes": client_app_types or ["all"],
            "servicePrincipalRiskLevels": [],
            "insiderRiskLevels": None,
            "platforms": None,
            "locations": {"includeLocations": locations[0], "excludeLocations": locations[1]}
            if locations
            else None,
            "devices": None,
            "clientApplications": None,
            "authenticationFlows": None,
            "applications": {
                "includeApplications": apps,
                "excludeApplications": [],
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [],
                "applicationFilter": None,
            },
            "users": {
                "includeUsers": users or [],
                "excludeUsers": [],
                "includeGroups": [],
                "excludeGroups": exclude_groups or [],
                "includeRoles": roles or [],
                "excludeRoles": [],
                "includeGuestsOrExternalUsers": None,
                "excludeGuestsOrExternalUsers": None,
            },
        },
        "grantControls": {
            "operator": operator,
            "builtInControls": grant,
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": None,
        }
        if grant
        else None,
    }


def _ordered_policy(policy: GraphObject) -> GraphObject:
    order = (
        "id",
        "deletedDateTime",
        "templateId",
        "displayName",
        "description",
        "createdDateTime",
        "modifiedDateTime",
        "state",
        "sessionControls",
        "conditions",
        "grantControls",
    )
    # deletedDateTime (from the v1.0 base type policyDeletableItem) and description are
    # declared on conditionalAccessPolicy and null unless set.
    for name in ("templateId", "deletedDateTime", "description"):
        policy.setdefault(name, None)
    return {key: policy[key] for key in order}
