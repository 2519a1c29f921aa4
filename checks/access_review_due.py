"""access-review-due: required scopes are reviewed at least quarterly, and reviews finish on time.

The seed asks for a quarterly review of permissions (seed: Security Best Practices › Access
Control). This check reads the access-review definitions and their instances (graph-facts §7,
Entra ID P2 / Governance, ``AccessReview.Read.All``) and the required scopes named in
``[access_reviews]`` of the baseline: privileged directory roles, named groups and the platform
applications (their service principals). Rules:

- ``scope-without-review`` (high): no definition covering a required scope recurs (none at all,
  or only one-time reviews), or a named group or application does not exist.
- ``recurrence-longer-than-quarterly`` (medium): a definition recurs less often than every
  ``max_recurrence_months`` months (weekly and daily patterns count 365.25/12 days a month).
- ``review-due-soon`` (low): an unfinished instance ends within ``due_soon_days`` (inclusive,
  ending exactly now included).
- ``review-overdue`` (high): an unfinished instance's ``endDateTime`` is before now.
- ``last-review-too-old`` (high): a required scope has a covering definition, but no finished
  instance, or its latest finished instance ended more than ``max_review_age_days`` ago.

An instance is finished when its status is ``Completed``, ``AutoReviewed`` or ``Applied``. A
definition covers a scope when one of its scope queries (``scope``, its principal and resource
scopes, ``instanceEnumerationScope``) names the scope's id: a group or service principal object
id, or a directory role's template id (Graph has no list of role templates under the
monitor's permissions, so built-in roles are named through the table below, or by template id).
Every scope finding carries ``daysUntilNextDue``: the days until the earliest unfinished
instance of a covering definition ends (negative when overdue, None when nothing is open). The
gauge ``entra_monitor.access_reviews.days_to_due`` measures the same days, unrounded, for every
required scope found in the directory that has an unfinished instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from monitor.check import (
    Check,
    CheckContext,
    CheckSettings,
    Finding,
    Gauge,
    Interval,
    Measurement,
    Resource,
    Severity,
)
from monitor.directory_roles import known_roles, role_name, role_template_id
from monitor.graph.query import Query, graph_path, odata_string

if TYPE_CHECKING:
    from monitor.baseline import Baseline
    from monitor.graph.client import GraphClient

REFERENCES = ("seed: Security Best Practices › Access Control (quarterly review of permissions)",)
DEFINITIONS = "identityGovernance/accessReviews/definitions"
INSTANCES = "identityGovernance/accessReviews/definitions/{id}/instances"
DEFINITION_FIELDS = ("id", "displayName", "status", "scope", "instanceEnumerationScope", "settings")
INSTANCE_FIELDS = ("id", "status", "startDateTime", "endDateTime")
# graph-facts §7: the instance status list is UNCONFIRMED; docs show these as terminal.
FINISHED_STATES = frozenset({"Completed", "AutoReviewed", "Applied"})
DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_UNIT = {"absoluteMonthly": 1, "relativeMonthly": 1, "absoluteYearly": 12, "relativeYearly": 12}
DIRECTORY_ROLE = "directoryRole"
GROUP = "group"
SERVICE_PRINCIPAL = "servicePrincipal"
DAYS_TO_DUE = Gauge(
    "entra_monitor.access_reviews.days_to_due",
    "d",
    "Days from now to the end of the next unfinished review instance covering a required scope "
    "(negative when overdue); no value for a scope with no unfinished instance.",
    ("scope_type", "scope_id", "display_name"),
)


class AccessReviewDueSettings(CheckSettings):
    """``[access_reviews]`` of the baseline; defaults are the shipped baseline's."""

    max_recurrence_months: int = Field(default=3, gt=0)
    max_review_age_days: int = Field(default=92, gt=0)
    due_soon_days: int = Field(default=14, ge=0)
    required_roles: tuple[str, ...] = (
        "Global Administrator",
        "Privileged Role Administrator",
        "Security Administrator",
        "Application Administrator",
    )
    """Built-in role names (``monitor.directory_roles``) or role template ids."""
    required_groups: tuple[str, ...] = ("Platform Admins",)
    required_apps: tuple[str, ...] = ("SCIM Provisioning App", "Calendar/Teams App")
    """Service principal display names."""

    @field_validator("required_roles")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        return known_roles(roles)


@dataclass(frozen=True)
class RequiredScope:
    """A directory role, group or service principal that must be reviewed. ``id`` is None when a
    named group or application was not found in the directory."""

    type: str
    id: str | None
    display_name: str


@dataclass(frozen=True)
class ReviewInstance:
    id: str
    status: str
    end: datetime | None
    """None when Graph gave no usable ``endDateTime``."""
    end_text: str | None


@dataclass(frozen=True)
class Recurrence:
    pattern_type: str
    interval: int


@dataclass(frozen=True)
class ReviewDefinition:
    id: str
    display_name: str
    status: str
    scope_queries: tuple[str, ...]
    recurrence: Recurrence | None
    """None for a one-time review."""
    instances: tuple[ReviewInstance, ...]


@dataclass(frozen=True)
class AccessReviewInventory:
    definitions: tuple[ReviewDefinition, ...]
    scopes: tuple[RequiredScope, ...]


def parse_graph_time(value: object) -> datetime | None:
    """A Graph DateTimeOffset as aware UTC; None for null, empty, unparseable and ``0001-01-01``.
    Naive values are taken as UTC (Graph's times are UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.year <= 1:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def recurrence_months(recurrence: Recurrence) -> float:
    """Months between instances; an unknown pattern type counts as never (so it is reported)."""
    interval = max(recurrence.interval, 1)
    if recurrence.pattern_type == "weekly":
        return interval * 7 / DAYS_PER_MONTH
    if recurrence.pattern_type == "daily":
        return interval / DAYS_PER_MONTH
    unit = MONTHS_PER_UNIT.get(recurrence.pattern_type)
    return float("inf") if unit is None else float(interval * unit)


def _recurrence(settings: object) -> Recurrence | None:
    recurrence = settings.get("recurrence") if isinstance(settings, dict) else None
    pattern = recurrence.get("pattern") if isinstance(recurrence, dict) else None
    if not isinstance(pattern, dict):
        return None
    interval = pattern.get("interval")
    return Recurrence(str(pattern.get("type") or ""), interval if isinstance(interval, int) else 1)


def _scope_queries(definition: Mapping[str, Any]) -> tuple[str, ...]:
    """Every ``query`` in the definition's scopes (query scopes and principal/resource scopes)."""
    queries: list[str] = []
    for scope in (definition.get("scope"), definition.get("instanceEnumerationScope")):
        if not isinstance(scope, dict):
            continue
        nested = [*(scope.get("principalScopes") or []), *(scope.get("resourceScopes") or [])]
        for part in (scope, *nested):
            if isinstance(part, dict) and isinstance(part.get("query"), str):
                queries.append(part["query"])
    return tuple(queries)


def parse_definition(raw: Mapping[str, Any], instances: Iterable[Mapping[str, Any]]) -> ReviewDefinition:
    """A definition as the rules see it, from Graph's JSON (missing fields tolerated)."""
    return ReviewDefinition(
        str(raw["id"]),
        str(raw.get("displayName") or raw["id"]),
        str(raw.get("status") or ""),
        _scope_queries(raw),
        _recurrence(raw.get("settings")),
        tuple(
            ReviewInstance(
                str(item["id"]),
                str(item.get("status") or ""),
                parse_graph_time(item.get("endDateTime")),
                item.get("endDateTime") if isinstance(item.get("endDateTime"), str) else None,
            )
            for item in instances
        ),
    )


class AccessReviewDue(Check[AccessReviewDueSettings, AccessReviewInventory]):
    id = "access-review-due"
    title = "Required scopes reviewed quarterly and reviews finished on time"
    description = (
        "Reads access-review definitions and instances and reports required roles, groups and apps "
        "without a recurring review, reviews recurring less often than quarterly, reviews due soon "
        "or overdue, and scopes whose last completed review is too old."
    )
    permissions = ("AccessReview.Read.All", "Application.Read.All", "GroupMember.Read.All")
    schedule = Interval(hours=12)
    settings_model = AccessReviewDueSettings
    gauges = (DAYS_TO_DUE,)

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        section = baseline.access_reviews
        return {
            "max_recurrence_months": section.max_recurrence_months,
            "max_review_age_days": section.max_review_age_days,
            "due_soon_days": section.due_soon_days,
            "required_roles": tuple(section.required_roles),
            "required_groups": tuple(section.required_groups),
            "required_apps": tuple(section.required_apps),
        }

    async def collect(self, context: CheckContext) -> AccessReviewInventory:
        """Every definition with its instances, and the required scopes resolved to ids. Raises
        GraphLicenseError without Entra ID P2 (or Governance) and GraphPermissionError without
        ``AccessReview.Read.All``; paging ($skip, 100 a page) is the client's."""
        settings = context.settings
        if not isinstance(settings, AccessReviewDueSettings):
            raise TypeError(f"{self.id} needs AccessReviewDueSettings, got {type(settings).__name__}")
        graph = context.graph
        definitions = []
        async for raw in graph.iterate(DEFINITIONS, query=Query(select=DEFINITION_FIELDS)):
            path = graph_path(INSTANCES, id=str(raw["id"]))
            instances = [item async for item in graph.iterate(path, query=Query(select=INSTANCE_FIELDS))]
            definitions.append(parse_definition(raw, instances))
        scopes = [RequiredScope(DIRECTORY_ROLE, *_role(role)) for role in settings.required_roles]
        scopes += await _named(graph, "groups", GROUP, settings.required_groups)
        scopes += await _named(graph, "servicePrincipals", SERVICE_PRINCIPAL, settings.required_apps)
        return AccessReviewInventory(tuple(definitions), tuple(scopes))

    def evaluate(
        self, data: AccessReviewInventory, settings: AccessReviewDueSettings, now: datetime
    ) -> list[Finding]:
        findings: list[Finding] = []
        for definition in data.definitions:
            findings += _definition_findings(definition, settings, now)
        for scope in data.scopes:
            findings += _scope_findings(scope, data.definitions, settings, now)
        return findings

    def measure(
        self, data: AccessReviewInventory, settings: AccessReviewDueSettings, now: datetime
    ) -> list[Measurement]:
        """days_to_due per required scope (in the order resolved) with an unfinished instance of a
        known end; a scope not found in the directory has none."""
        measurements: list[Measurement] = []
        for scope in data.scopes:
            next_due = None if scope.id is None else _next_due(scope.id, data.definitions)
            if scope.id is None or next_due is None:
                continue
            attributes = {"scope_type": scope.type, "scope_id": scope.id, "display_name": scope.display_name}
            measurements.append(
                Measurement(DAYS_TO_DUE.name, (next_due - now) / timedelta(days=1), attributes)
            )
        return measurements


def _role(role: str) -> tuple[str, str]:
    """(template id, display name) of a configured role (validated by the settings)."""
    template_id = role_template_id(role)
    return template_id, role_name(template_id)


async def _named(graph: GraphClient, path: str, scope_type: str, names: Sequence[str]) -> list[RequiredScope]:
    """Each directory object whose displayName is one of ``names`` (every one when the name is
    shared); a name nothing matches becomes a scope without id."""
    scopes: list[RequiredScope] = []
    for name in names:
        query = Query(select=("id", "displayName"), filter=f"displayName eq {odata_string(name)}")
        found = [item async for item in graph.iterate(path, query=query)]
        scopes += [RequiredScope(scope_type, str(item["id"]), name) for item in found]
        if not found:
            scopes.append(RequiredScope(scope_type, None, name))
    return scopes


def _days_until(end: datetime, now: datetime) -> float:
    return round((end - now) / timedelta(days=1), 2)


def _definition_findings(
    definition: ReviewDefinition, settings: AccessReviewDueSettings, now: datetime
) -> list[Finding]:
    findings: list[Finding] = []
    recurrence = definition.recurrence
    if recurrence is not None and recurrence_months(recurrence) > settings.max_recurrence_months:
        months = recurrence_months(recurrence)
        every = "an unknown period" if months == float("inf") else f"{months:.1f} months"
        findings.append(
            Finding(
                "recurrence-longer-than-quarterly",
                Severity.MEDIUM,
                Resource("accessReviewScheduleDefinition", definition.id, definition.display_name),
                f"The access review '{definition.display_name}' recurs every {every}, less often "
                f"than every {settings.max_recurrence_months} months.",
                "Edit the review's recurrence in Entra ID Governance › Access reviews to every "
                f"{settings.max_recurrence_months} months or more often (absoluteMonthly, interval "
                f"{settings.max_recurrence_months}).",
                {
                    "definitionId": definition.id,
                    "recurrencePatternType": recurrence.pattern_type,
                    "recurrenceInterval": recurrence.interval,
                    "recurrenceMonths": None if months == float("inf") else round(months, 2),
                },
                REFERENCES,
            )
        )
    for instance in definition.instances:
        finding = _instance_finding(definition, instance, settings, now)
        if finding is not None:
            findings.append(finding)
    return findings


def _instance_finding(
    definition: ReviewDefinition, instance: ReviewInstance, settings: AccessReviewDueSettings, now: datetime
) -> Finding | None:
    """review-overdue or review-due-soon for an unfinished instance with a known end, else None."""
    if instance.status in FINISHED_STATES or instance.end is None:
        return None
    overdue = instance.end < now
    if not overdue and instance.end - now > timedelta(days=settings.due_soon_days):
        return None
    days = _days_until(instance.end, now)
    evidence = {
        "definitionId": definition.id,
        "instanceId": instance.id,
        "status": instance.status,
        "endDateTime": instance.end_text,
        "daysUntilDue": days,
    }
    resource = Resource("accessReviewInstance", instance.id, definition.display_name)
    if overdue:
        return Finding(
            "review-overdue",
            Severity.HIGH,
            resource,
            f"The access review '{definition.display_name}' ended {abs(days):g} days ago "
            f"({instance.end_text}) but is still {instance.status or 'unfinished'}.",
            "Ask the reviewers to complete the review and apply its decisions, or stop it and "
            "apply the decisions made; turn on auto-apply and default decisions so that a missed "
            "review does not leave access unreviewed.",
            evidence,
            REFERENCES,
        )
    return Finding(
        "review-due-soon",
        Severity.LOW,
        resource,
        f"The access review '{definition.display_name}' ends in {days:g} days ({instance.end_text}) "
        f"and is still {instance.status or 'unfinished'}.",
        "Remind the reviewers to record their decisions before the review ends.",
        evidence,
        REFERENCES,
    )


def _covers(definition: ReviewDefinition, scope_id: str) -> bool:
    return any(scope_id.lower() in query.lower() for query in definition.scope_queries)


def _next_due(scope_id: str, definitions: Sequence[ReviewDefinition]) -> datetime | None:
    """The earliest end of an unfinished instance of a definition covering the scope (None: none)."""
    return min(
        (
            instance.end
            for definition in definitions
            if _covers(definition, scope_id)
            for instance in definition.instances
            if instance.status not in FINISHED_STATES and instance.end is not None
        ),
        default=None,
    )


def _scope_findings(
    scope: RequiredScope,
    definitions: Sequence[ReviewDefinition],
    settings: AccessReviewDueSettings,
    now: datetime,
) -> list[Finding]:
    """scope-without-review and last-review-too-old for one required scope."""
    if scope.id is None:
        return [_missing_scope(scope)]
    covering = [definition for definition in definitions if _covers(definition, scope.id)]
    ends = [
        (instance.status in FINISHED_STATES, instance.end)
        for definition in covering
        for instance in definition.instances
        if instance.end is not None
    ]
    last = max((end for finished, end in ends if finished), default=None)
    next_due = min((end for finished, end in ends if not finished), default=None)
    evidence = {
        "scopeType": scope.type,
        "scopeId": scope.id,
        "coveringDefinitions": [definition.id for definition in covering],
        "lastCompletedEndDateTime": last.isoformat() if last else None,
        "daysUntilNextDue": _days_until(next_due, now) if next_due else None,
    }
    resource = Resource(scope.type, scope.id, scope.display_name)
    findings: list[Finding] = []
    if not any(definition.recurrence is not None for definition in covering):
        findings.append(_without_review(scope, resource, evidence, settings))
    if covering and (last is None or now - last > timedelta(days=settings.max_review_age_days)):
        findings.append(_too_old(scope, resource, last, evidence, settings))
    return findings


def _too_old(
    scope: RequiredScope,
    resource: Resource,
    last: datetime | None,
    evidence: Mapping[str, Any],
    settings: AccessReviewDueSettings,
) -> Finding:
    when = "has never completed" if last is None else f"last completed on {last.date().isoformat()}"
    return Finding(
        "last-review-too-old",
        Severity.HIGH,
        resource,
        f"The access review of {_describe(scope)} {when}, more than {settings.max_review_age_days} days ago.",
        "Run a review of this scope now (start the next instance or a one-time review) "
        "and make sure its recurring review completes every quarter.",
        dict(evidence),
        REFERENCES,
    )


def _describe(scope: RequiredScope, *, sentence_start: bool = False) -> str:
    kind = {DIRECTORY_ROLE: "directory role", GROUP: "group", SERVICE_PRINCIPAL: "application"}[scope.type]
    return f"{'The' if sentence_start else 'the'} {kind} '{scope.display_name}'"


def _without_review(
    scope: RequiredScope, resource: Resource, evidence: Mapping[str, Any], settings: AccessReviewDueSettings
) -> Finding:
    one_time = (
        " only one-time reviews cover it" if evidence["coveringDefinitions"] else " no review covers it"
    )
    return Finding(
        "scope-without-review",
        Severity.HIGH,
        resource,
        f"{_describe(scope, sentence_start=True)} must be reviewed regularly, but{one_time}.",
        f"Create a recurring access review of {_describe(scope)} in Entra ID Governance › Access "
        f"reviews, recurring every {settings.max_recurrence_months} months.",
        dict(evidence),
        REFERENCES,
    )


def _missing_scope(scope: RequiredScope) -> Finding:
    return Finding(
        "scope-without-review",
        Severity.HIGH,
        Resource(scope.type, scope.display_name, scope.display_name),
        f"{_describe(scope, sentence_start=True)} is required to be reviewed but does not exist in the "
        "directory, so nothing reviews it.",
        "Correct the name in [access_reviews] of the baseline (it must match the displayName "
        "exactly), or create the object and a recurring review of it.",
        {"scopeType": scope.type, "displayName": scope.display_name, "found": False},
        REFERENCES,
    )
