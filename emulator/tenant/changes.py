"""Changes made to a running tenant through the control endpoints (detection-latency tests):
a new sign-in, a new consent grant, a credential added to an application or service principal,
a token-lifetime or conditional-access policy edited.
Each raises :class:`ChangeError` with a sentence saying what is wrong with the request."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from emulator.ids import format_ticks, iso, to_ticks
from emulator.tenant import catalog
from emulator.tenant.base import GraphObject
from emulator.tenant.model import Tenant
from emulator.tenant.objects import delegated_grant, key_credential, password_credential
from emulator.tenant.signins import FAILURES, RiskProfile, _EventFields


class ChangeError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _text(spec: dict[str, Any], name: str, default: str | None = None) -> str:
    value = spec.get(name, default)
    if not isinstance(value, str) or not value:
        raise ChangeError(f"'{name}' must be a non-empty string")
    return value


def _moment(spec: dict[str, Any], name: str, default: datetime) -> datetime:
    value = spec.get(name)
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ChangeError(f"'{name}' must be an ISO-8601 date-time, got {value!r}") from None
    if moment.tzinfo is None:
        raise ChangeError(f"'{name}' needs a time zone (use Z for UTC)")
    return moment


def _new_id(tenant: Tenant, kind: str) -> str:
    number = tenant.context.seeded.key(f"injected:{kind}", len(tenant.injected_log))
    return str(uuid.UUID(int=number << 64 | tenant.context.seeded.key(kind, number), version=4))


def inject_sign_in(tenant: Tenant, spec: dict[str, Any], now: datetime) -> GraphObject:
    """``{"userId"?, "appId"?, "riskLevel": "none|low|medium|high", "errorCode": 0,
    "singleFactor": false, "riskEventTypes": [...]}`` -> the new event, dated now."""
    level = spec.get("riskLevel", "none")
    if level not in ("none", "low", "medium", "high"):
        raise ChangeError("'riskLevel' must be one of none, low, medium, high")
    error_code = spec.get("errorCode", 0)
    if not isinstance(error_code, int):
        raise ChangeError("'errorCode' must be an integer (0 for success)")
    user_index = 0
    if "userId" in spec:
        found = tenant.people.index_of(_text(spec, "userId"))
        if found is None:
            raise ChangeError(f"no generated user has id {spec['userId']!r}", 404)
        user_index = found
    apps = tenant.sign_ins.apps
    app = apps[0]
    if "appId" in spec:
        wanted = str(spec["appId"]).lower()
        matching = [candidate for candidate in apps if candidate.app_id == wanted]
        if not matching:
            raise ChangeError(f"appId {spec['appId']!r} is not an app users sign in to", 404)
        app = matching[0]
    event_types = tuple(spec.get("riskEventTypes") or (("unfamiliarFeatures",) if level != "none" else ()))
    risk = None if level == "none" else RiskProfile(level, "atRisk", "none", event_types, None, False)
    failure = None
    if error_code:
        failure = next((f for f in FAILURES if f[0] == error_code), (error_code, "Other."))
    fields = _EventFields(
        id=_new_id(tenant, "signIn"),
        created=format_ticks(to_ticks(now)),
        user=user_index,
        app=app,
        correlation_id=_new_id(tenant, "correlation"),
    )
    location = catalog.FOREIGN_LOCATIONS[0] if risk else catalog.OFFICE_LOCATIONS[0]
    sign_in = tenant.sign_ins.build(fields, 77, location, failure, bool(spec.get("singleFactor")), risk, 0.1)
    tenant.sign_ins.inject(sign_in)
    tenant.injected_log.append(("signIn", sign_in["id"]))
    return sign_in


def inject_grant(tenant: Tenant, spec: dict[str, Any]) -> GraphObject:
    """``{"clientId", "scope", "consentType"?: "AllPrincipals|Principal", "principalId"?,
    "resourceId"?}`` -> the new delegated grant (the resource defaults to Microsoft Graph)."""
    client = tenant.service_principals.get(_text(spec, "clientId"))
    if client is None:
        raise ChangeError(f"no service principal has id {spec['clientId']!r}", 404)
    resource_id = str(spec.get("resourceId") or tenant.consents.graph_sp["id"]).lower()
    if tenant.service_principals.get(resource_id) is None:
        raise ChangeError(f"no resource service principal has id {resource_id!r}", 404)
    consent = spec.get("consentType", "AllPrincipals")
    principal = spec.get("principalId")
    if consent not in ("AllPrincipals", "Principal") or (consent == "Principal") != bool(principal):
        raise ChangeError("consentType Principal needs principalId; AllPrincipals must not have one")
    grant = delegated_grant(
        client["id"], resource_id, _text(spec, "scope"), str(principal).lower() if principal else None
    )
    if tenant.grants.get(grant["id"]) is not None:
        raise ChangeError(
            f"a grant {grant['id']} already exists for that client, resource and principal", 409
        )
    tenant.grants.inject(grant)
    tenant.injected_log.append(("grant", grant["id"]))
    return grant


def add_credential(tenant: Tenant, spec: dict[str, Any], now: datetime) -> GraphObject:
    """``{"objectType": "application|servicePrincipal", "id", "type": "password|certificate",
    "displayName"?, "startDateTime"?, "endDateTime"}`` -> the credential as Graph lists it."""
    kind = spec.get("objectType", "application")
    collection = {
        "application": tenant.applications,
        "servicePrincipal": tenant.service_principals,
    }.get(kind)
    if collection is None:
        raise ChangeError("'objectType' must be application or servicePrincipal")
    position = collection.position_of(_text(spec, "id"))
    if position is None:
        raise ChangeError(f"no {kind} has id {spec['id']!r}", 404)
    start = _moment(spec, "startDateTime", now).replace(microsecond=0)
    end = _moment(spec, "endDateTime", start + timedelta(days=180)).replace(microsecond=0)
    if end <= start:
        raise ChangeError("'endDateTime' must be after 'startDateTime'")
    key_id = _new_id(tenant, "keyId")
    name = str(spec.get("displayName") or "added at run time")
    obj = copy.deepcopy(collection.at(position))
    credential_type = spec.get("type", "password")
    if credential_type == "password":
        credential = password_credential(key_id=key_id, display_name=name, start=start, end=end, hint="Run")
        obj["passwordCredentials"] = [*obj["passwordCredentials"], credential]
    elif credential_type == "certificate":
        thumbprint = hashlib.sha1(key_id.encode()).digest()  # noqa: S324 - a made-up thumbprint
        credential = key_credential(
            key_id=key_id, display_name=f"CN={name}", start=start, end=end, thumbprint=thumbprint
        )
        obj["keyCredentials"] = [*obj["keyCredentials"], credential]
    else:
        raise ChangeError("'type' must be password or certificate")
    collection.replace(position, obj)
    tenant.injected_log.append(("credential", key_id))
    return credential


# -- policies edited at run time (token-policy-changed) -------------------------------------

SESSION_CONTROLS = (
    "applicationEnforcedRestrictions",
    "cloudAppSecurity",
    "disableResilienceDefaults",
    "persistentBrowser",
    "secureSignInSession",
    "signInFrequency",
)
POLICY_STATES = ("enabled", "disabled", "enabledForReportingButNotEnforced")


def _only(spec: dict[str, Any], accepted: tuple[str, ...]) -> None:
    unknown = sorted(set(spec) - set(accepted))
    if unknown or not spec:
        names = ", ".join(f"'{name}'" for name in accepted)
        found = f"unknown property '{unknown[0]}'" if unknown else "nothing to change"
        raise ChangeError(f"{found}; send one or more of {names}")


def _definition(value: Any) -> list[str]:
    """A token-lifetime ``definition``: a non-empty list of JSON strings (trailing commas
    tolerated, as Graph's own examples carry them), one holding a TokenLifetimePolicy object."""
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ChangeError("'definition' must be a non-empty list of JSON strings")
    for text in value:
        try:
            document = json.loads(re.sub(r",\s*([}\]])", r"\1", text))
        except ValueError:
            raise ChangeError(f"'definition' holds a string that is not JSON: {text!r}") from None
        if isinstance(document, dict) and isinstance(document.get("TokenLifetimePolicy"), dict):
            return list(value)
    raise ChangeError("'definition' needs a JSON string holding a 'TokenLifetimePolicy' object")


def update_token_lifetime_policy(tenant: Tenant, policy_id: str, spec: dict[str, Any]) -> GraphObject:
    """``{"definition"?: ["{...}"], "displayName"?}`` -> the policy as Graph now returns it."""
    _only(spec, ("definition", "displayName"))
    collection = tenant.token_lifetime_policies
    position = collection.position_of(policy_id)
    if position is None:
        raise ChangeError(f"no token-lifetime policy has id {policy_id!r}", 404)
    policy = copy.deepcopy(collection.at(position))
    if "definition" in spec:
        policy["definition"] = _definition(spec["definition"])
    if "displayName" in spec:
        policy["displayName"] = _text(spec, "displayName")
    collection.replace(position, policy)
    tenant.injected_log.append(("tokenLifetimePolicy", policy["id"]))
    return policy


def _flag(control: dict[str, Any], where: str) -> None:
    if not isinstance(control.get("isEnabled"), bool):
        raise ChangeError(f"'{where}.isEnabled' must be true or false")


def _sign_in_frequency(control: dict[str, Any]) -> None:
    _flag(control, "signInFrequency")
    interval = control.setdefault("frequencyInterval", "timeBased")
    if interval not in ("timeBased", "everyTime"):
        raise ChangeError("'signInFrequency.frequencyInterval' must be timeBased or everyTime")
    value = control.get("value")
    if interval == "timeBased" and (
        control.get("type") not in ("hours", "days")
        or isinstance(value, bool)
        or not isinstance(value, int)
        or value <= 0
    ):
        raise ChangeError("a timeBased 'signInFrequency' needs 'type' hours or days and a positive 'value'")
    control.setdefault("authenticationType", "primaryAndSecondaryAuthentication")


def _session_controls(value: Any) -> GraphObject | None:
    """Graph's shape: every member present, null unless set; all-null reads as no controls."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ChangeError("'sessionControls' must be an object or null")
    if value:
        _only(value, SESSION_CONTROLS)
    controls: GraphObject = {name: copy.deepcopy(value.get(name)) for name in SESSION_CONTROLS}
    frequency, browser = controls["signInFrequency"], controls["persistentBrowser"]
    if frequency is not None:
        if not isinstance(frequency, dict):
            raise ChangeError("'sessionControls.signInFrequency' must be an object or null")
        _sign_in_frequency(frequency)
    if browser is not None:
        if not isinstance(browser, dict):
            raise ChangeError("'sessionControls.persistentBrowser' must be an object or null")
        _flag(browser, "persistentBrowser")
        if browser.get("mode") not in ("always", "never"):
            raise ChangeError("'persistentBrowser.mode' must be always or never")
    return controls if any(item is not None for item in controls.values()) else None


def update_conditional_access_policy(
    tenant: Tenant, policy_id: str, spec: dict[str, Any], now: datetime
) -> GraphObject:
    """``{"sessionControls"?: {...} | null, "state"?}`` -> the policy as Graph now returns it;
    ``sessionControls`` replaces the whole object, as a Graph PATCH of a complex property does."""
    _only(spec, ("sessionControls", "state"))
    collection = tenant.conditional_access_policies
    position = collection.position_of(policy_id)
    if position is None:
        raise ChangeError(f"no conditional-access policy has id {policy_id!r}", 404)
    policy = copy.deepcopy(collection.at(position))
    if "state" in spec:
        if spec["state"] not in POLICY_STATES:
            raise ChangeError(f"'state' must be one of {', '.join(POLICY_STATES)}")
        policy["state"] = spec["state"]
    if "sessionControls" in spec:
        policy["sessionControls"] = _session_controls(spec["sessionControls"])
    policy["modifiedDateTime"] = iso(now)
    collection.replace(position, policy)
    tenant.injected_log.append(("conditionalAccessPolicy", policy["id"]))
    return policy
