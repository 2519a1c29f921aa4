"""The ground truth: every problem the tenant holds, as the rules in ``rules.py`` define them.

The rules are evaluated here on Graph-shaped objects. For a large tenant only the objects that
can hold a problem are evaluated (fixed objects, planted ones, and those changed at run time);
generated objects are healthy by construction, which a test checks by evaluating every object of
a small tenant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from emulator.tenant import catalog
from emulator.tenant.base import GraphObject
from emulator.tenant.rules import RULES_BY_ID, Baseline

Finding = dict[str, Any]
RETIRED_TOKEN_PROPERTIES = (
    "MaxInactiveTime",
    "MaxAgeSingleFactor",
    "MaxAgeMultiFactor",
    "MaxAgeSessionSingleFactor",
    "MaxAgeSessionMultiFactor",
    "SingleFactorRefreshTokenMaxAge",
    "MultiFactorRefreshTokenMaxAge",
    "SingleFactorSessionTokenMaxAge",
    "MultiFactorSessionTokenMaxAge",
)
FINISHED_REVIEW_STATES = ("Completed", "AutoReviewed", "Applied")


def finding(rule: str, resource_type: str, resource: GraphObject | None, **detail: Any) -> Finding:
    entry = RULES_BY_ID[rule]
    resource = resource or {}
    return {
        "check": entry.check,
        "rule": rule,
        "severity": entry.severity,
        "resource": {
            "type": resource_type,
            "id": resource.get("id"),
            "displayName": resource.get("displayName") or resource.get("userPrincipalName"),
        },
        "detail": detail,
    }


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- credential-expiry --------------------------------------------------------------------


def credentials_of(obj: GraphObject) -> Iterator[tuple[str, GraphObject]]:
    """(kind, credential) pairs; a SAML signing certificate (Sign + Verify keys and a password
    sharing one customKeyIdentifier) counts once, as its Verify key."""
    saml = obj.get("preferredSingleSignOnMode") == "saml"
    saml_ids = {key["customKeyIdentifier"] for key in obj.get("keyCredentials", []) if saml}
    for key in obj.get("keyCredentials", []):
        if saml and key["usage"] == "Sign":
            continue
        yield ("samlSigningCertificate" if saml else "certificate"), key
    for password in obj.get("passwordCredentials", []):
        if saml and password.get("customKeyIdentifier") in saml_ids:
            continue
        yield "password", password


def is_unused(last_sign_in: datetime | None, now: datetime, baseline: Baseline) -> bool:
    return last_sign_in is None or now - last_sign_in > timedelta(days=baseline.unused_days)


def credential_findings(
    obj: GraphObject,
    resource_type: str,
    last_sign_in: datetime | None,
    now: datetime,
    baseline: Baseline,
) -> list[Finding]:
    if obj.get("servicePrincipalType") == "ManagedIdentity":
        return []  # Azure rotates managed identities' certificates itself.
    credentials = list(credentials_of(obj))
    ends = [parse_time(credential["endDateTime"]) for _kind, credential in credentials]
    if (
        resource_type == "application"
        and credentials
        and all(end < now for end in ends)
        and is_unused(last_sign_in, now, baseline)
    ):
        return [finding("unused-application", resource_type, obj, credentials=len(credentials))]
    production = obj.get("displayName") in baseline.production_apps
    found = []
    for (kind, credential), end in zip(credentials, ends, strict=True):
        detail = {
            "keyId": credential["keyId"],
            "credentialType": kind,
            "endDateTime": credential["endDateTime"],
        }
        start = parse_time(credential["startDateTime"])
        if end < now:
            found.append(finding("credential-expired", resource_type, obj, **detail))
        elif end - now <= timedelta(days=baseline.critical_days):
            found.append(finding("credential-expiring-critical", resource_type, obj, **detail))
        elif end - now <= timedelta(days=baseline.warning_days):
            found.append(finding("credential-expiring-warning", resource_type, obj, **detail))
        if end >= now and end - start > timedelta(days=baseline.max_lifetime_days):
            found.append(finding("credential-lifetime-too-long", resource_type, obj, **detail))
        if kind == "password" and production and resource_type == "application":
            found.append(finding("secret-on-production-app", resource_type, obj, **detail))
    return found


# -- consent-grants -----------------------------------------------------------------------


def grant_findings(
    grant: GraphObject,
    permissions: list[str],
    resource_type: str,
    client: GraphObject,
    last_sign_in: datetime | None,
    now: datetime,
    baseline: Baseline,
    new: bool = False,
) -> list[Finding]:
    client_ref = {"id": client["id"], "displayName": client["displayName"]}
    found = []
    if is_unused(last_sign_in, now, baseline):
        found.append(
            finding("unused-grant", resource_type, grant, client=client_ref, permissions=permissions)
        )
    risky = sorted(set(permissions) & set(baseline.high_privilege_permissions))
    if risky:
        found.append(
            finding("high-privilege-grant", resource_type, grant, client=client_ref, permissions=risky)
        )
    allowed = baseline.allowed_for(client["displayName"])
    if allowed is not None:
        extra = sorted(set(permissions) - set(allowed))
        if extra:
            found.append(
                finding(
                    "permission-not-allowed",
                    resource_type,
                    grant,
                    client=client_ref,
                    permissions=extra,
                )
            )
    if new:
        found.append(finding("new-grant", resource_type, grant, client=client_ref, permissions=permissions))
    return found


def app_role_names(graph_sp: GraphObject) -> dict[str, str]:
    return {role["id"]: role["value"] for role in graph_sp["appRoles"]}


# -- risky-sign-ins -----------------------------------------------------------------------


def sign_in_findings(sign_in: GraphObject, single_factor: bool) -> list[Finding]:
    if sign_in["status"]["errorCode"] != 0:
        return []
    level = sign_in["riskLevelDuringSignIn"]
    resource = {"id": sign_in["id"], "displayName": sign_in["userPrincipalName"]}
    detail = {
        "userId": sign_in["userId"],
        "createdDateTime": sign_in["createdDateTime"],
        "riskLevel": level,
    }
    found = []
    if level == "high":
        found.append(finding("high-risk-sign-in-succeeded", "signIn", resource, **detail))
    elif level == "medium":
        found.append(finding("medium-risk-sign-in-succeeded", "signIn", resource, **detail))
    if level in ("low", "medium", "high") and single_factor:
        found.append(finding("risky-sign-in-single-factor", "signIn", resource, **detail))
    return found


def risky_user_findings(user: GraphObject) -> list[Finding]:
    if user["riskState"] not in ("atRisk", "confirmedCompromised"):
        return []
    return [finding("user-at-risk", "user", user, riskLevel=user["riskLevel"], riskState=user["riskState"])]


# -- token-lifetime-drift -----------------------------------------------------------------

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


def parse_timespan(text: str) -> timedelta | None:
    """.NET TimeSpan ``[d.]hh:mm:ss``; None for ``until-revoked`` or anything unreadable."""
    match = _TIMESPAN.match(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def token_policy_definition(policy: GraphObject) -> dict[str, Any]:
    """The ``TokenLifetimePolicy`` object inside ``definition`` (tolerating trailing commas)."""
    for text in policy.get("definition", []):
        cleaned = re.sub(r",\s*([}\]])", r"\1", text)
        document = json.loads(cleaned)
        if "TokenLifetimePolicy" in document:
            return dict(document["TokenLifetimePolicy"])
    return {}


def token_policy_findings(policy: GraphObject, baseline: Baseline) -> list[Finding]:
    definition = token_policy_definition(policy)
    found = []
    lifetime_text = definition.get("AccessTokenLifetime")
    lifetime = parse_timespan(lifetime_text) if isinstance(lifetime_text, str) else None
    if lifetime is not None:
        drift = abs(lifetime - timedelta(minutes=baseline.access_token_lifetime_minutes))
        if drift > timedelta(minutes=baseline.access_token_tolerance_minutes):
            found.append(
                finding(
                    "access-token-lifetime-drift",
                    "tokenLifetimePolicy",
                    policy,
                    accessTokenLifetime=lifetime_text,
                )
            )
    retired = [name for name in RETIRED_TOKEN_PROPERTIES if name in definition]
    if retired:
        found.append(finding("retired-token-property", "tokenLifetimePolicy", policy, properties=retired))
    return found


def session_findings(policy: GraphObject, baseline: Baseline) -> list[Finding]:
    if policy["state"] != "enabled" or not policy.get("sessionControls"):
        return []
    session = policy["sessionControls"]
    found = []
    frequency = session.get("signInFrequency")
    if (
        frequency
        and frequency.get("isEnabled")
        and frequency.get("frequencyInterval", "timeBased") == "timeBased"
    ):
        unit = timedelta(days=1) if frequency.get("type") == "days" else timedelta(hours=1)
        if frequency["value"] * unit > timedelta(hours=baseline.session_hours):
            found.append(
                finding(
                    "sign-in-frequency-exceeds-baseline",
                    "conditionalAccessPolicy",
                    policy,
                    value=frequency["value"],
                    type=frequency["type"],
                )
            )
    browser = session.get("persistentBrowser")
    if browser and browser.get("isEnabled") and browser.get("mode") == "always":
        found.append(finding("persistent-browser-session", "conditionalAccessPolicy", policy, mode="always"))
    return found


def _token_policy_state(policy: GraphObject) -> dict[str, Any]:
    return {
        "definition": token_policy_definition(policy),
        "displayName": policy.get("displayName"),
        "isOrganizationDefault": policy.get("isOrganizationDefault"),
    }


def _session_policy_state(policy: GraphObject) -> dict[str, Any]:
    return {"sessionControls": policy.get("sessionControls"), "state": policy.get("state")}


def policy_change_findings(resource_type: str, before: GraphObject, after: GraphObject) -> list[Finding]:
    """token-policy-changed for a policy edited at run time: what the monitor tracks (a token
    policy's parsed definition, name and default flag; a conditional-access policy's session
    controls and state) differs from the policy as generated. An edit that restores every tracked
    value, or changes nothing tracked, is no change."""
    state = _token_policy_state if resource_type == "tokenLifetimePolicy" else _session_policy_state
    old, new = state(before), state(after)
    changed = sorted(name for name in old if old[name] != new[name])
    return [finding("token-policy-changed", resource_type, after, changed=changed)] if changed else []


def pairs(items: Iterable[tuple[str, GraphObject]]) -> list[tuple[str, GraphObject]]:
    return list(items)


__all__ = [
    "FINISHED_REVIEW_STATES",
    "Finding",
    "app_role_names",
    "catalog",
    "credential_findings",
    "finding",
    "grant_findings",
    "is_unused",
    "parse_time",
    "policy_change_findings",
    "risky_user_findings",
    "session_findings",
    "sign_in_findings",
    "token_policy_findings",
]
