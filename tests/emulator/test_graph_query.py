"""``$select``, ``$filter``, ``$count`` and single-object reads against the emulated Graph
(graph-facts §0–§8, §10).

Every ``$filter`` form the endpoint table declares is run against the emulator and compared,
ids in order, with a brute-force predicate written here over the reference tenant, so the test
does not share the emulator's filter evaluator.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emulator.graph.endpoint import Endpoint
from emulator.graph.endpoints import ENDPOINTS
from emulator.tenant.base import Collection, GraphObject
from emulator.tenant.model import Tenant
from emulator.tenant.signins import beta_view, v1_view
from tests.support.emulator import RunningEmulator, collect

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MICROSOFT_SERVICES = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
UNKNOWN_GRANT = "A" * 43
DEFINITIONS = "identityGovernance/accessReviews/definitions"
JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
# What GET /users returns without $select (graph-facts §3, the user resource doc).
USER_DEFAULT_PROPERTIES = {
    *("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation"),
    *("preferredLanguage", "surname", "userPrincipalName", "id"),
}
DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?Z$")
REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EPOCH = datetime(1, 1, 1, tzinfo=UTC)
ADVANCED = {"ConsistencyLevel": "eventual"}

Predicate = Callable[[GraphObject], bool]
Objects = Callable[[Tenant], list[GraphObject]]


# -- the reference tenant ----------------------------------------------------------------------


def scan(collection: Collection) -> list[GraphObject]:
    return [obj for _key, obj in collection.scan(None, None)]


def middle(objects: list[GraphObject]) -> GraphObject:
    return objects[len(objects) // 2]


def graph_sp_id(tenant: Tenant) -> str:
    return str(next(sp for sp in scan(tenant.service_principals) if sp["appId"] == GRAPH_APP_ID)["id"])


def busiest_client_position(tenant: Tenant) -> int:
    positions = range(tenant.service_principals.count())
    return max(positions, key=lambda position: len(tenant.consents.assignments_of(position)))


def busiest_grant_client(tenant: Tenant) -> str:
    return str(Counter(grant["clientId"] for grant in scan(tenant.grants)).most_common(1)[0][0])


def grants_of(tenant: Tenant, client_id: str) -> list[GraphObject]:
    return [grant for grant in scan(tenant.grants) if grant["clientId"] == client_id]


def recurring_definition(tenant: Tenant) -> str:
    return max(tenant.review_instances, key=lambda definition: tenant.review_instances[definition].count())


def targeted_policy(tenant: Tenant) -> str:
    return next(policy_id for policy_id, targets in tenant.governance.applies_to.items() if targets)


@dataclass(frozen=True)
class Target:
    """A collection endpoint, and its objects as the client sees them in collection order."""

    key: str
    endpoint_name: str
    version: str
    path: Callable[[Tenant], str]
    objects: Objects

    @property
    def endpoint(self) -> Endpoint:
        return next(e for e in ENDPOINTS if e.name == self.endpoint_name and self.version in e.versions)


def _target(key: str, path: str | Callable[[Tenant], str], objects: Objects, name: str = "") -> Target:
    version = "beta" if key.endswith(".beta") or key == "servicePrincipalSignInActivities" else "v1.0"
    where = path if callable(path) else (lambda _tenant: path)
    return Target(key, name or key.removesuffix(".beta"), version, where, objects)


TARGETS: tuple[Target, ...] = (
    _target("applications", "applications", lambda t: scan(t.applications)),
    _target("servicePrincipals", "servicePrincipals", lambda t: scan(t.service_principals)),
    _target("oauth2PermissionGrants", "oauth2PermissionGrants", lambda t: scan(t.grants)),
    _target("users", "users", lambda t: scan(t.users)),
    _target("groups", "groups", lambda t: scan(t.groups)),
    _target("signIns", "auditLogs/signIns", lambda t: [v1_view(s) for s in scan(t.sign_ins)]),
    _target(
        "signIns.beta", "auditLogs/signIns", lambda t: [beta_view(s, t.context) for s in scan(t.sign_ins)]
    ),
    _target(
        "servicePrincipalSignInActivities",
        "reports/servicePrincipalSignInActivities",
        lambda t: scan(t.activity),
    ),
    _target("riskyUsers", "identityProtection/riskyUsers", lambda t: scan(t.risky_users)),
    _target("riskDetections", "identityProtection/riskDetections", lambda t: scan(t.risk_detections)),
    _target(
        "tokenLifetimePolicies", "policies/tokenLifetimePolicies", lambda t: scan(t.token_lifetime_policies)
    ),
    _target(
        "tokenLifetimePolicies.appliesTo",
        lambda t: f"policies/tokenLifetimePolicies/{targeted_policy(t)}/appliesTo",
        lambda t: t.governance.applies_to[targeted_policy(t)],
    ),
    _target(
        "conditionalAccessPolicies",
        "identity/conditionalAccess/policies",
        lambda t: scan(t.conditional_access_policies),
    ),
    _target("namedLocations", "identity/conditionalAccess/namedLocations", lambda t: scan(t.named_locations)),
    _target("accessReviewDefinitions", DEFINITIONS, lambda t: scan(t.review_definitions)),
    _target(
        "accessReviewInstances",
        lambda t: f"{DEFINITIONS}/{recurring_definition(t)}/instances",
        lambda t: scan(t.review_instances[recurring_definition(t)]),
    ),
    _target(
        "servicePrincipals.appRoleAssignedTo",
        lambda t: f"servicePrincipals/{graph_sp_id(t)}/appRoleAssignedTo",
        lambda t: scan(t.assigned_to(graph_sp_id(t))),
    ),
    _target(
        "servicePrincipals.appRoleAssignments",
        lambda t: (
            f"servicePrincipals/{t.service_principals.at(busiest_client_position(t))['id']}"
            "/appRoleAssignments"
        ),
        lambda t: t.consents.assignments_of(busiest_client_position(t)),
    ),
    _target(
        "servicePrincipals.oauth2PermissionGrants",
        lambda t: f"servicePrincipals/{busiest_grant_client(t)}/oauth2PermissionGrants",
        lambda t: grants_of(t, busiest_grant_client(t)),
    ),
)
BY_KEY = {target.key: target for target in TARGETS}


class Reference:
    """Each target's reference objects and URL, computed once per module."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._objects: dict[str, list[GraphObject]] = {}

    def objects(self, key: str) -> list[GraphObject]:
        if key not in self._objects:
            self._objects[key] = BY_KEY[key].objects(self.tenant)
        return self._objects[key]

    def url(self, key: str) -> str:
        target = BY_KEY[key]
        return f"/{target.version}/{target.path(self.tenant)}"


@pytest.fixture(scope="module")
def known(reference: Tenant) -> Reference:
    return Reference(reference)


def filtered_ids(
    emulator: RunningEmulator, url: str, params: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[list[str], Any]:
    """The ids a query returns, following nextLinks, and the first page's ``@odata.count``."""
    ids: list[str] = []
    with emulator.graph() as graph:
        response = graph.get(url, params=params, headers=headers)
        count = response.json().get("@odata.count")
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            ids += [item["id"] for item in body["value"]]
            if "@odata.nextLink" not in body:
                return ids, count
            response = graph.get(body["@odata.nextLink"], headers=headers)


def assert_graph_error(response: httpx.Response, status: int, code: str, message: str) -> None:
    """A Graph error body (graph-facts §10) whose ids are the response's."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (code, message)
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert error["innerError"]["client-request-id"] == response.headers["client-request-id"]


# -- a brute-force $filter, written independently of the emulator's ---------------------------


def resolve(obj: Any, path: str) -> Any:
    for name in path.split("/"):
        obj = obj.get(name) if isinstance(obj, dict) else None
    return obj


def ticks(text: Any) -> int | None:
    """100-ns ticks of a UTC ISO-8601 time with up to seven fractional digits, else None."""
    found = DATETIME.match(text) if isinstance(text, str) else None
    if found is None:
        return None
    delta = datetime.fromisoformat(found[1]).replace(tzinfo=UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + int((found[2] or "").ljust(7, "0"))


def instant(text: str) -> int:
    found = ticks(text)
    assert found is not None, text
    return found


def comparable(value: Any, literal: Any) -> tuple[Any, Any] | None:
    """Both sides in one ordering: ticks for times, lower case for text, else as they are."""
    if ticks(literal) is not None:
        return (ticks(value), ticks(literal)) if ticks(value) is not None else None
    if isinstance(literal, str):
        return (value.lower(), literal.lower()) if isinstance(value, str) else None
    if isinstance(literal, bool) or isinstance(value, bool):
        return (value, literal) if isinstance(value, bool) and isinstance(literal, bool) else None
    return (value, literal) if isinstance(value, int | float) else None


def holds(operator: str, value: Any, literal: Any) -> bool:
    if operator == "in":
        return any(holds("eq", value, item) for item in literal)
    if operator == "ne":
        return not holds("eq", value, literal)
    if operator in ("startsWith", "endsWith", "contains"):
        if not isinstance(value, str):
            return False
        text, needle = value.lower(), str(literal).lower()
        return {"startsWith": text.startswith, "endsWith": text.endswith, "contains": text.__contains__}[
            operator
        ](needle)
    pair = comparable(value, literal)
    if pair is None:
        return False
    left, right = pair
    orderings = {"eq": left == right, "ge": left >= right, "gt": left > right, "le": left <= right}
    return bool(orderings.get(operator, left < right))


# -- every declared $filter form -----------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """``path op literal``, or ``path/any(x: x[/element] op literal)`` when ``in_lambda``."""

    key: str
    path: str
    operator: str
    in_lambda: bool = False
    element: str | None = None

    @property
    def property_path(self) -> str:
        return f"{self.path}/{self.element}" if self.element else self.path

    @property
    def id(self) -> str:
        return f"{self.key}:{self.property_path}{'/any' if self.in_lambda else ''}:{self.operator}"


# Edm.Guid properties take unquoted literals (graph-facts §1).
GUID_PROPERTIES = {"appOwnerOrganizationId", "keyCredentials/keyId"}


def declared_filters(target: Target) -> dict[str, frozenset[str]]:
    """The target's default capability table; beta sign-ins only add their beta-only properties."""
    filters = target.endpoint.filters
    table = dict(filters.properties) if filters else {}
    if target.key == "signIns.beta":
        return {path: ops for path, ops in table.items() if path not in declared_filters(BY_KEY["signIns"])}
    return table


def declared_forms() -> Iterator[Form]:
    """One form per (property, operator) of each target's capability table."""
    for target in TARGETS:
        table = declared_filters(target)
        lambdas = {path for path, operators in table.items() if "any" in operators}
        for path, operators in table.items():
            owner = next((c for c in lambdas if path.startswith(c + "/")), None)
            for operator in sorted(operators - {"any"}):
                if owner is not None:
                    yield Form(target.key, owner, operator, True, path.removeprefix(owner + "/"))
                else:
                    yield Form(target.key, path, operator, path in lambdas)


FORMS = list(declared_forms())


def candidate_values(form: Form, objects: list[GraphObject]) -> list[Any]:
    """Distinct non-empty values the form's property takes, in order of first appearance."""
    found: list[Any] = []
    for obj in objects:
        value = resolve(obj, form.path)
        items = (value if isinstance(value, list) else []) if form.in_lambda else [value]
        for item in items:
            if form.in_lambda and form.element:
                item = resolve(item, form.element)
            if item not in (None, "") and not isinstance(item, list | dict) and item not in found:
                found.append(item)
    return found


def literal_text(form: Form, value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) or ticks(value) is not None or form.property_path in GUID_PROPERTIES:
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def build(form: Form, objects: list[GraphObject]) -> tuple[str, Predicate]:
    """The filter text, its literals taken from the reference, and the predicate it stands for."""
    values = candidate_values(form, objects) or ["no such value"]
    sample = values[len(values) // 2]
    operand = (f"x/{form.element}" if form.element else "x") if form.in_lambda else form.path
    literal: Any = sample
    if form.operator == "in":
        literal = list(dict.fromkeys([values[0], sample, values[-1]]))
        clause = f"{operand} in ({', '.join(literal_text(form, v) for v in literal)})"
    elif form.operator in ("startsWith", "endsWith", "contains"):
        text, half = str(sample), max(1, len(str(sample)) // 2)
        literal = {"startsWith": text[:half].swapcase(), "endsWith": text[half:].swapcase()}.get(
            form.operator, text[1 : half + 1]
        )
        clause = f"{form.operator}({operand}, {literal_text(form, literal)})"
    else:
        clause = f"{operand} {form.operator} {literal_text(form, sample)}"
    if not form.in_lambda:
        return clause, lambda obj: holds(form.operator, resolve(obj, form.path), literal)

    def matches(obj: GraphObject) -> bool:
        items = resolve(obj, form.path) or []
        return any(
            holds(form.operator, resolve(i, form.element) if form.element else i, literal) for i in items
        )

    return f"{form.path}/any(x: {clause})", matches


def test_every_filterable_property_and_operator_has_a_form() -> None:
    declared = {
        (target.key, path, operator)
        for target in TARGETS
        for path, operators in declared_filters(target).items()
        for operator in operators - {"any"}
    }
    assert {(form.key, form.property_path, form.operator) for form in FORMS} == declared


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.id)
def test_a_declared_filter_returns_what_brute_force_finds(
    emulator: RunningEmulator, known: Reference, form: Form
) -> None:
    objects = known.objects(form.key)
    text, predicate = build(form, objects)
    ids, _count = filtered_ids(emulator, known.url(form.key), {"$filter": text})
    assert ids == [obj["id"] for obj in objects if predicate(obj)]


# -- combined and boundary filters --------------------------------------------------------------


def _one_tick_later(text: str) -> str:
    found = DATETIME.match(text)
    assert found is not None
    assert len(found[2] or "") == 7
    return f"{found[1]}.{int(found[2]) + 1:07d}Z"


def _sign_in_window(sign_ins: list[GraphObject]) -> tuple[str, Predicate]:
    newer, older = sign_ins[700]["createdDateTime"], sign_ins[740]["createdDateTime"]
    text = f"createdDateTime gt {older} and createdDateTime lt {newer}"
    return text, lambda s: instant(older) < instant(s["createdDateTime"]) < instant(newer)


def _one_tick_after_an_event(sign_ins: list[GraphObject]) -> tuple[str, Predicate]:
    moment = _one_tick_later(sign_ins[300]["createdDateTime"])
    return f"createdDateTime ge {moment}", lambda s: instant(s["createdDateTime"]) >= instant(moment)


def _up_to_an_event(sign_ins: list[GraphObject]) -> tuple[str, Predicate]:
    moment = sign_ins[300]["createdDateTime"]
    return f"createdDateTime le {moment}", lambda s: instant(s["createdDateTime"]) <= instant(moment)


def _app_and_outcome(sign_ins: list[GraphObject]) -> tuple[str, Predicate]:
    app_id = middle(sign_ins)["appId"]
    text = f"appId eq '{app_id}' and status/errorCode eq 0"
    return text, lambda s: s["appId"] == app_id and s["status"]["errorCode"] == 0


def _high_risk_or_at_risk_in_a_browser(_sign_ins: list[GraphObject]) -> tuple[str, Predicate]:
    text = "riskLevelDuringSignIn eq 'high' or (riskState eq 'atRisk' and clientAppUsed eq 'Browser')"
    return (
        text,
        lambda s: (
            s["riskLevelDuringSignIn"] == "high"
            or (s["riskState"] == "atRisk" and s["clientAppUsed"] == "Browser")
        ),
    )


def _app_and_event_type(sign_ins: list[GraphObject]) -> tuple[str, Predicate]:
    app_id = middle(sign_ins)["appId"]
    text = f"appId eq '{app_id}' and signInEventTypes/any(t: t eq 'interactiveUser')"
    return text, lambda s: s["appId"] == app_id and "interactiveUser" in s["signInEventTypes"]


def _typed_risk_level(level: str) -> Callable[[list[GraphObject]], tuple[str, Predicate]]:
    return lambda _objects: (
        f"riskLevel eq microsoft.graph.riskLevel'{level}'",
        lambda risk: risk["riskLevel"] == level,
    )


def _detection_doc_example(_detections: list[GraphObject]) -> tuple[str, Predicate]:
    text = "riskEventType eq 'unfamiliarFeatures' or riskLevel eq 'medium'"
    return text, lambda d: d["riskEventType"] == "unfamiliarFeatures" or d["riskLevel"] == "medium"


def _scope_contains(needle: str) -> Callable[[list[GraphObject]], tuple[str, Predicate]]:
    return lambda _reviews: (
        f"contains(scope/microsoft.graph.accessReviewQueryScope/query, '{needle}')",
        lambda review: needle.lower() in review["scope"]["query"].lower(),
    )


def _in_progress_group_reviews(_reviews: list[GraphObject]) -> tuple[str, Predicate]:
    text = "status eq 'InProgress' and contains(scope/query, '/groups/')"
    return text, lambda r: r["status"] == "InProgress" and "/groups/" in r["scope"]["query"]


def _first_party(_sps: list[GraphObject]) -> tuple[str, Predicate]:
    text = f"appOwnerOrganizationId eq {MICROSOFT_SERVICES}"
    return text, lambda sp: sp.get("appOwnerOrganizationId") == MICROSOFT_SERVICES


def _certificates_ending_within_a_month(_apps: list[GraphObject]) -> tuple[str, Predicate]:
    horizon = "2026-12-27T12:00:00Z"
    text = f"keyCredentials/any(k: k/endDateTime le {horizon})"
    return text, lambda app: any(instant(k["endDateTime"]) <= instant(horizon) for k in app["keyCredentials"])


def _prefix_or_app_ids_and_age(apps: list[GraphObject]) -> tuple[str, Predicate]:
    chosen = (apps[3]["appId"], apps[-2]["appId"])
    since = middle(apps)["createdDateTime"]
    text = (
        f"(startsWith(displayName, 'archive') or appId in ('{chosen[0]}', '{chosen[1]}'))"
        f" and createdDateTime ge {since}"
    )
    return (
        text,
        lambda app: (
            (app["displayName"].lower().startswith("archive") or app["appId"] in chosen)
            and instant(app["createdDateTime"]) >= instant(since)
        ),
    )


def _admin_grants_of_a_client(grants: list[GraphObject]) -> tuple[str, Predicate]:
    client = Counter(g["clientId"] for g in grants).most_common(1)[0][0]
    text = f"clientId eq '{client}' and consentType eq 'AllPrincipals'"
    return text, lambda g: g["clientId"] == client and g["consentType"] == "AllPrincipals"


def _department_or_initial(users: list[GraphObject]) -> tuple[str, Predicate]:
    department = middle(users)["department"]
    text = f"department eq '{department}' or startsWith(displayName, 'l')"
    return text, lambda u: u["department"] == department or u["displayName"].lower().startswith("l")


SPECIAL_FILTERS: list[tuple[str, Callable[[list[GraphObject]], tuple[str, Predicate]]]] = [
    ("signIns", _sign_in_window),
    ("signIns", _one_tick_after_an_event),
    ("signIns", _up_to_an_event),
    ("signIns", _app_and_outcome),
    ("signIns", _high_risk_or_at_risk_in_a_browser),
    ("signIns.beta", _one_tick_after_an_event),
    ("signIns.beta", _app_and_event_type),
    ("riskyUsers", _typed_risk_level("high")),
    ("riskDetections", _typed_risk_level("medium")),
    ("riskDetections", _detection_doc_example),
    ("accessReviewDefinitions", _scope_contains("/transitiveMembers")),
    ("accessReviewDefinitions", _scope_contains("/appRoleAssignedTo")),
    ("accessReviewDefinitions", _in_progress_group_reviews),
    ("servicePrincipals", _first_party),
    ("servicePrincipals", _certificates_ending_within_a_month),
    ("applications", _certificates_ending_within_a_month),
    ("applications", _prefix_or_app_ids_and_age),
    ("oauth2PermissionGrants", _admin_grants_of_a_client),
    ("users", _department_or_initial),
]


@pytest.mark.parametrize(
    ("key", "build_filter"),
    [pytest.param(key, b, id=f"{key}:{getattr(b, '__name__', '')}") for key, b in SPECIAL_FILTERS],
)
def test_a_combined_or_boundary_filter_returns_what_brute_force_finds(
    emulator: RunningEmulator,
    known: Reference,
    key: str,
    build_filter: Callable[[list[GraphObject]], tuple[str, Predicate]],
) -> None:
    objects = known.objects(key)
    text, predicate = build_filter(objects)
    expected = [obj["id"] for obj in objects if predicate(obj)]
    assert 0 < len(expected) < len(objects), "the filter must tell objects apart to prove anything"
    ids, _count = filtered_ids(emulator, known.url(key), {"$filter": text})
    assert ids == expected


# -- filters Graph refuses ------------------------------------------------------------------------

# (target, filter, operator and property named in the 400, brute force with advanced parameters)
ADVANCED_FILTERS: list[tuple[str, str, str, str, Predicate]] = [
    ("applications", "displayName ne 'Payroll Sync'", "ne", "displayName",
     lambda app: app["displayName"].lower() != "payroll sync"),
    ("applications", "not(startsWith(displayName, 'a'))", "not", "displayName",
     lambda app: not app["displayName"].lower().startswith("a")),
    ("servicePrincipals", "endsWith(displayName, 'portal')", "endsWith", "displayName",
     lambda sp: sp["displayName"].lower().endswith("portal")),
    ("servicePrincipals", f"appOwnerOrganizationId ne {MICROSOFT_SERVICES}", "ne", "appOwnerOrganizationId",
     lambda sp: sp.get("appOwnerOrganizationId") != MICROSOFT_SERVICES),
    ("users", "not(accountEnabled eq false)", "not", "accountEnabled", lambda user: user["accountEnabled"]),
    ("users", "department eq null", "eqNull", "department", lambda user: user["department"] is None),
]  # fmt: skip


def _needs_advanced(operator: str, path: str) -> str:
    operator = "eq null" if operator == "eqNull" else operator
    return (
        f"Operator '{operator}' is not supported on '{path}' because the required parameters might be "
        "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header."
    )


@pytest.mark.parametrize(
    ("key", "text", "operator", "path", "predicate"),
    [pytest.param(*case, id=f"{case[0]}:{case[1]}") for case in ADVANCED_FILTERS],
)
def test_an_advanced_directory_filter_needs_consistency_level_and_count(
    emulator: RunningEmulator,
    known: Reference,
    key: str,
    text: str,
    operator: str,
    path: str,
    predicate: Predicate,
) -> None:
    url = known.url(key)
    with emulator.graph() as graph:
        refused = [
            graph.get(url, params={"$filter": text}),
            graph.get(url, params={"$filter": text}, headers=ADVANCED),
            graph.get(url, params={"$filter": text, "$count": "true"}),
        ]
    for response in refused:
        assert_graph_error(response, 400, "Request_UnsupportedQuery", _needs_advanced(operator, path))
    expected = [obj["id"] for obj in known.objects(key) if predicate(obj)]
    params = {"$filter": text, "$count": "true", "$top": "50"}
    assert filtered_ids(emulator, url, params, headers=ADVANCED) == (expected, len(expected))


UNSUPPORTED_DIRECTORY_FILTERS = [
    ("applications", "notes eq 'x'", "notes", "Application"),
    ("applications", "signInAudience ge 'AzureADMyOrg'", "signInAudience", "Application"),
    ("servicePrincipals", "displayName gt 'M'", "displayName", "ServicePrincipal"),
    ("users", "aboutMe eq 'x'", "aboutMe", "User"),
    ("oauth2PermissionGrants", "scope eq 'User.Read'", "scope", "OAuth2PermissionGrant"),
    ("oauth2PermissionGrants", "startsWith(clientId, 'a')", "clientId", "OAuth2PermissionGrant"),
]


@pytest.mark.parametrize(("key", "text", "path", "resource"), UNSUPPORTED_DIRECTORY_FILTERS)
@pytest.mark.parametrize("advanced", [False, True], ids=["plain", "advanced"])
def test_an_unsupported_directory_filter_is_an_unsupported_query(
    emulator: RunningEmulator, known: Reference, key: str, text: str, path: str, resource: str, advanced: bool
) -> None:
    """Advanced query parameters do not help (and grants take none: graph-facts §2)."""
    counted = advanced and BY_KEY[key].endpoint.count_supported
    params = {"$filter": text, **({"$count": "true"} if counted else {})}
    with emulator.graph() as graph:
        response = graph.get(known.url(key), params=params, headers=ADVANCED if advanced else {})
    message = f"Unsupported or invalid query filter clause specified for property '{path}' of resource"
    assert_graph_error(response, 400, "Request_UnsupportedQuery", f"{message} '{resource}'.")


UNSUPPORTED_FILTERS = [
    ("signIns", "startsWith(appId, '0')", "appId", "startsWith"),
    ("signIns", "appDisplayName ne 'Azure Portal'", "appDisplayName", "ne"),
    ("signIns", "userAgent eq 'x'", "userAgent", "eq"),
    ("signIns", "authenticationRequirement eq 'x'", "authenticationRequirement", "eq"),
    ("riskyUsers", "riskLevel ne 'high'", "riskLevel", "ne"),
    ("riskDetections", "endsWith(userPrincipalName, '.com')", "userPrincipalName", "endsWith"),
    ("conditionalAccessPolicies", "state ne 'enabled'", "state", "ne"),
    ("namedLocations", "isTrusted eq true", "isTrusted", "eq"),
    ("accessReviewDefinitions", "displayName eq 'x'", "displayName", "eq"),
    ("servicePrincipalSignInActivities", "id eq 'x'", "id", "eq"),
]


@pytest.mark.parametrize(("key", "text", "path", "operator"), UNSUPPORTED_FILTERS)
def test_an_unsupported_filter_elsewhere_is_a_bad_request(
    emulator: RunningEmulator, known: Reference, key: str, text: str, path: str, operator: str
) -> None:
    with emulator.graph() as graph:
        response = graph.get(known.url(key), params={"$filter": text})
    where = f"'{path}' does not support the '{operator}' operator on '{BY_KEY[key].endpoint_name}'."
    assert_graph_error(response, 400, "BadRequest", f"Invalid filter clause: the property {where}")


def test_a_malformed_filter_is_a_bad_request(emulator: RunningEmulator) -> None:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/applications", params={"$filter": "displayName eq"})
    message = "Invalid filter clause: Syntax error at position 14 in 'displayName eq'."
    assert_graph_error(response, 400, "BadRequest", message)


# -- $count ---------------------------------------------------------------------------------------


def test_count_true_without_consistency_level_is_silently_ignored(emulator: RunningEmulator) -> None:
    with emulator.graph() as graph:
        plain = graph.get("/v1.0/applications", params={"$top": "5"}).json()
        counted = graph.get("/v1.0/applications", params={"$top": "5", "$count": "true"}).json()
    assert "@odata.count" not in counted
    assert counted["value"] == plain["value"]


@pytest.mark.parametrize("key", ["applications", "servicePrincipals", "users", "groups"])
def test_count_true_with_consistency_level_counts_the_whole_collection(
    emulator: RunningEmulator, known: Reference, key: str
) -> None:
    with emulator.graph() as graph:
        body = graph.get(known.url(key), params={"$top": "2", "$count": "true"}, headers=ADVANCED).json()
    assert body["@odata.count"] == len(known.objects(key))
    assert [item["id"] for item in body["value"]] == [obj["id"] for obj in known.objects(key)[:2]]


@pytest.mark.parametrize("key", ["conditionalAccessPolicies", "namedLocations"])
def test_conditional_access_counts_without_consistency_level(
    emulator: RunningEmulator, known: Reference, key: str
) -> None:
    with emulator.graph() as graph:
        body = graph.get(known.url(key), params={"$count": "true"}).json()
    assert body["@odata.count"] == len(known.objects(key))


def test_count_on_a_collection_without_count_support_is_a_bad_request(emulator: RunningEmulator) -> None:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/auditLogs/signIns", params={"$count": "true"})
    assert_graph_error(response, 400, "BadRequest", "Query option '$count' is not supported on 'signIns'.")


@pytest.mark.parametrize("path", ["applications", "servicePrincipals"])
def test_the_count_segment_needs_consistency_level(emulator: RunningEmulator, path: str) -> None:
    with emulator.graph() as graph:
        response = graph.get(f"/v1.0/{path}/$count")
    assert_graph_error(response, 400, "Request_BadRequest", "$count is not currently supported.")


COUNT_SEGMENTS: list[tuple[str, str | None, Predicate]] = [
    ("applications", None, lambda _app: True),
    ("servicePrincipals", None, lambda _sp: True),
    ("servicePrincipals", "servicePrincipalType eq 'Application'",
     lambda sp: sp["servicePrincipalType"] == "Application"),
    ("applications", "startsWith(displayName, 'archive')",
     lambda app: app["displayName"].lower().startswith("archive")),
    # The segment is itself a count: with ConsistencyLevel, advanced operators need no $count=true.
    ("servicePrincipals", "servicePrincipalType ne 'Application'",
     lambda sp: sp["servicePrincipalType"] != "Application"),
    ("applications", "endsWith(displayName, '7')", lambda app: app["displayName"].endswith("7")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "text", "predicate"), [pytest.param(*case, id=f"{case[0]}:{case[1]}") for case in COUNT_SEGMENTS]
)
def test_the_count_segment_answers_a_plain_number(
    emulator: RunningEmulator, known: Reference, key: str, text: str | None, predicate: Predicate
) -> None:
    with emulator.graph() as graph:
        params = {"$filter": text} if text else {}
        response = graph.get(f"{known.url(key)}/$count", params=params, headers=ADVANCED)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/plain"
    assert response.text == str(sum(1 for obj in known.objects(key) if predicate(obj)))


# -- $select --------------------------------------------------------------------------------------

SELECTS: dict[str, tuple[str, ...]] = {
    "applications": ("appId", "displayName"),
    "servicePrincipals": ("appId", "servicePrincipalType"),
    "oauth2PermissionGrants": ("clientId", "scope"),
    "users": ("id", "signInActivity"),
    "groups": ("displayName", "securityEnabled"),
    "signIns": ("createdDateTime", "status"),
    "signIns.beta": ("authenticationRequirement", "signInEventTypes"),
    "servicePrincipalSignInActivities": ("appId", "lastSignInActivity"),
    "riskyUsers": ("riskLevel", "riskState"),
    "riskDetections": ("riskEventType", "detectedDateTime"),
    "tokenLifetimePolicies": ("definition", "isOrganizationDefault"),
    "tokenLifetimePolicies.appliesTo": ("id", "appId"),
    "conditionalAccessPolicies": ("state", "conditions"),
    "namedLocations": ("displayName", "modifiedDateTime"),
    "accessReviewDefinitions": ("displayName", "status"),
    "accessReviewInstances": ("status", "startDateTime"),
    "servicePrincipals.appRoleAssignedTo": ("principalId", "appRoleId"),
    "servicePrincipals.appRoleAssignments": ("resourceId", "appRoleId"),
    "servicePrincipals.oauth2PermissionGrants": ("resourceId", "scope"),
}
ABSTRACT = {"namedLocations", "tokenLifetimePolicies.appliesTo"}
"""Listings of an abstract type: every item names its concrete type."""


def test_every_listing_has_a_select_case() -> None:
    assert set(SELECTS) == set(BY_KEY)


@pytest.mark.parametrize("key", sorted(SELECTS))
def test_select_returns_exactly_the_chosen_properties(
    emulator: RunningEmulator, known: Reference, key: str
) -> None:
    chosen = SELECTS[key]
    with emulator.graph() as graph:
        body = graph.get(known.url(key), params={"$select": ",".join(chosen), "$top": "50"}).json()
    typed = key in ABSTRACT
    expected = [
        {**({"@odata.type": obj["@odata.type"]} if typed else {}), **{name: obj.get(name) for name in chosen}}
        for obj in known.objects(key)[:50]
    ]
    assert body["value"] == expected
    assert body["@odata.context"].endswith(f"({','.join(chosen)})")


@pytest.mark.parametrize("key", sorted(BY_KEY))
def test_selecting_an_unknown_property_is_a_bad_request(
    emulator: RunningEmulator, known: Reference, key: str
) -> None:
    endpoint = BY_KEY[key].endpoint
    with emulator.graph() as graph:
        response = graph.get(known.url(key), params={"$select": "id,favouriteColour"})
    code = "Request_BadRequest" if endpoint.family == "directory" else "BadRequest"
    message = (
        f"Could not find a property named 'favouriteColour' on type 'microsoft.graph.{endpoint.entity_type}'."
    )
    assert_graph_error(response, 400, code, message)


def test_a_beta_only_property_cannot_be_selected_on_v1(emulator: RunningEmulator) -> None:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/auditLogs/signIns", params={"$select": "id,authenticationRequirement"})
    message = "Could not find a property named 'authenticationRequirement' on type 'microsoft.graph.signIn'."
    assert_graph_error(response, 400, "BadRequest", message)


def test_beta_serves_the_authentication_requirement(emulator: RunningEmulator, known: Reference) -> None:
    sign_ins = known.objects("signIns.beta")[:1000]
    with emulator.graph() as graph:
        body = graph.get("/beta/auditLogs/signIns", params={"$select": "id,authenticationRequirement"}).json()
    assert body["value"] == [
        {"id": s["id"], "authenticationRequirement": s["authenticationRequirement"]} for s in sign_ins
    ]
    assert Counter(s["authenticationRequirement"] for s in body["value"]).keys() == {
        "singleFactorAuthentication",
        "multiFactorAuthentication",
    }


def test_users_without_select_carry_only_the_default_properties(
    emulator: RunningEmulator, known: Reference
) -> None:
    users = known.objects("users")
    with emulator.graph() as graph:
        body = graph.get("/v1.0/users", params={"$top": "20"}).json()
        one = graph.get(f"/v1.0/users/{users[7]['id']}").json()
    assert body["value"] == [
        {name: user[name] for name in user if name in USER_DEFAULT_PROPERTIES} for user in users[:20]
    ]
    assert [set(user) for user in body["value"]] == [USER_DEFAULT_PROPERTIES] * 20
    assert set(one) == {"@odata.context", *USER_DEFAULT_PROPERTIES}


def test_user_sign_in_activity_comes_only_when_selected(emulator: RunningEmulator, known: Reference) -> None:
    users = known.objects("users")[:20]
    with emulator.graph() as graph:
        plain = graph.get("/v1.0/users", params={"$top": "20"}).json()
        chosen = graph.get("/v1.0/users", params={"$top": "20", "$select": "id,signInActivity"}).json()
    assert ["signInActivity" in user for user in plain["value"]] == [False] * 20
    assert chosen["value"] == [
        {"id": user["id"], "signInActivity": user.get("signInActivity")} for user in users
    ]


# -- single objects -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A single-object URL, the object's id, a listing URL holding it, and the expected context."""

    name: str
    version: str
    path: Callable[[Tenant], str]
    object_id: Callable[[Tenant], str]
    listing: Callable[[Tenant], str]
    context: Callable[[Tenant], str]


def _item(name: str, collection: str, attribute: str, version: str = "v1.0", listing: str = "") -> Item:
    """``collection/{id}`` for the middle object; the listing filters by id unless given."""

    def object_id(tenant: Tenant) -> str:
        return str(middle(scan(getattr(tenant, attribute)))["id"])

    return Item(
        name,
        version,
        lambda t: f"{collection}/{object_id(t)}",
        object_id,
        lambda t: f"{collection}{listing}" if listing else f"{collection}?$filter=id eq '{object_id(t)}'",
        lambda _t: f"{collection}/$entity",
    )


def _middle_app(tenant: Tenant) -> GraphObject:
    return middle(scan(tenant.applications))


def _last_instance(tenant: Tenant) -> str:
    return str(scan(tenant.review_instances[recurring_definition(tenant)])[-1]["id"])


ITEMS: list[Item] = [
    _item("application", "applications", "applications"),
    Item(
        "application-by-app-id",
        "v1.0",
        lambda t: f"applications(appId='{_middle_app(t)['appId']}')",
        lambda t: str(_middle_app(t)["id"]),
        lambda t: f"applications?$filter=appId eq '{_middle_app(t)['appId']}'",
        lambda _t: "applications/$entity",
    ),
    _item("service-principal", "servicePrincipals", "service_principals"),
    Item(
        "microsoft-graph-by-app-id",
        "v1.0",
        lambda _t: f"servicePrincipals(appId='{GRAPH_APP_ID}')",
        graph_sp_id,
        lambda _t: f"servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'",
        lambda _t: "servicePrincipals/$entity",
    ),
    _item("grant", "oauth2PermissionGrants", "grants"),
    _item("user", "users", "users"),
    _item("group", "groups", "groups"),
    _item("sign-in", "auditLogs/signIns", "sign_ins"),
    _item("sign-in-beta", "auditLogs/signIns", "sign_ins", version="beta"),
    _item("sign-in-activity", "reports/servicePrincipalSignInActivities", "activity", "beta", "?$top=999"),
    _item("risky-user", "identityProtection/riskyUsers", "risky_users"),
    _item("risk-detection", "identityProtection/riskDetections", "risk_detections"),
    _item("token-lifetime-policy", "policies/tokenLifetimePolicies", "token_lifetime_policies"),
    _item("conditional-access-policy", "identity/conditionalAccess/policies", "conditional_access_policies"),
    _item("named-location", "identity/conditionalAccess/namedLocations", "named_locations"),
    _item("review-definition", DEFINITIONS, "review_definitions", listing="?$top=100"),
    Item(
        "review-instance",
        "v1.0",
        lambda t: f"{DEFINITIONS}/{recurring_definition(t)}/instances/{_last_instance(t)}",
        _last_instance,
        lambda t: f"{DEFINITIONS}/{recurring_definition(t)}/instances",
        lambda t: f"{DEFINITIONS}('{recurring_definition(t)}')/instances/$entity",
    ),
]


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.name)
def test_an_item_is_the_same_object_as_in_its_collection(
    emulator: RunningEmulator, reference: Tenant, item: Item
) -> None:
    with emulator.graph() as graph:
        response = graph.get(f"/{item.version}/{item.path(reference)}")
        listing, _requests = collect(graph, f"/{item.version}/{item.listing(reference)}")
    assert response.status_code == 200, response.text
    body = response.json()
    context = f"{emulator.base_url}/{item.version}/$metadata#{item.context(reference)}"
    assert body.pop("@odata.context") == context
    assert body["id"] == item.object_id(reference)
    assert [entry for entry in listing if entry["id"] == body["id"]] == [body]


DIRECTORY_MISSING = (
    "Resource '{}' does not exist or one of its queried reference-property objects are not present."
)
OTHER_MISSING = "The requested resource '{}' was not found."
MISSING: list[tuple[str, str]] = [
    # (path, the unknown id in it)
    (f"applications/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"applications(appId='{UNKNOWN_ID}')", UNKNOWN_ID),
    (f"servicePrincipals/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"servicePrincipals(appId='{UNKNOWN_ID}')", UNKNOWN_ID),
    (f"servicePrincipals/{UNKNOWN_ID}/appRoleAssignedTo", UNKNOWN_ID),
    (f"servicePrincipals/{UNKNOWN_ID}/appRoleAssignments", UNKNOWN_ID),
    (f"oauth2PermissionGrants/{UNKNOWN_GRANT}", UNKNOWN_GRANT),
    (f"users/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"groups/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"policies/tokenLifetimePolicies/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"auditLogs/signIns/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"identityProtection/riskyUsers/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"identityProtection/riskDetections/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"identity/conditionalAccess/policies/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"identity/conditionalAccess/namedLocations/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"{DEFINITIONS}/{UNKNOWN_ID}", UNKNOWN_ID),
    (f"{DEFINITIONS}/{UNKNOWN_ID}/instances", UNKNOWN_ID),
]
DIRECTORY_PATHS = (
    "applications",
    "servicePrincipals",
    "oauth2PermissionGrants",
    "users",
    "groups",
    "policies",
)


@pytest.mark.parametrize(("path", "missing"), MISSING, ids=[path for path, _id in MISSING])
def test_an_unknown_id_is_not_found(emulator: RunningEmulator, path: str, missing: str) -> None:
    with emulator.graph() as graph:
        response = graph.get(f"/v1.0/{path}")
    if path.startswith(DIRECTORY_PATHS):
        assert_graph_error(response, 404, "Request_ResourceNotFound", DIRECTORY_MISSING.format(missing))
    else:
        assert_graph_error(response, 404, "ResourceNotFound", OTHER_MISSING.format(missing))


def test_an_unknown_review_instance_is_not_found(emulator: RunningEmulator, reference: Tenant) -> None:
    with emulator.graph() as graph:
        response = graph.get(f"/v1.0/{DEFINITIONS}/{recurring_definition(reference)}/instances/{UNKNOWN_ID}")
    assert_graph_error(response, 404, "ResourceNotFound", OTHER_MISSING.format(UNKNOWN_ID))


@pytest.mark.parametrize(
    ("url", "segment"),
    [
        ("/v1.0/applicationz", "applicationz"),
        ("/beta/nothingHere", "nothingHere"),
        (f"/v1.0/applications/{UNKNOWN_ID}/owners", "owners"),
        ("/v1.0/identity/conditionalAccess/authenticationStrengths", "authenticationStrengths"),
        (f"/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')/memberOf", "memberOf"),
        ("/v1.0/reports/servicePrincipalSignInActivities", "servicePrincipalSignInActivities"),
        ("/v1.0/reports/servicePrincipalSignInActivities/abc", "servicePrincipalSignInActivities"),
    ],
)
def test_an_unknown_or_beta_only_segment_is_a_bad_request(
    emulator: RunningEmulator, url: str, segment: str
) -> None:
    with emulator.graph() as graph:
        response = graph.get(url)
    assert_graph_error(response, 400, "BadRequest", f"Resource not found for the segment '{segment}'.")


# -- response headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/v1.0/applications?$top=1", 200),
        ("/v1.0/identityProtection/riskyUsers", 200),
        (f"/v1.0/applications/{UNKNOWN_ID}", 404),
        ("/v1.0/applications?$top=0", 400),
    ],
)
@pytest.mark.parametrize("client_request_id", [None, "7d1f3b1e-0c8e-4c44-9d0a-6f4f0b1f2a99"])
def test_responses_carry_the_odata_and_request_id_headers(
    emulator: RunningEmulator, url: str, status: int, client_request_id: str | None
) -> None:
    with emulator.graph() as graph:
        response = graph.get(
            url, headers={"client-request-id": client_request_id} if client_request_id else {}
        )
    assert response.status_code == status
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    assert response.headers["odata-version"] == "4.0"
    assert REQUEST_ID.match(response.headers["request-id"])
    assert response.headers["client-request-id"] == (client_request_id or response.headers["request-id"])
