"""Access reviews (seed: quarterly review of permissions) with planted gaps.

Required scopes (``config/baseline.toml``): Global, Privileged Role, Security and Application
Administrator roles, the *Platform Admins* group and the two production platform apps.

- Global Administrator, SCIM app, calendar app: reviewed quarterly, last completed recently.
- Privileged Role Administrator: no review at all (scope-without-review).
- Security Administrator: quarterly, but the latest instance ended 38 days ago and is stuck in
  progress (review-overdue); the last completed one ended 130 days ago (last-review-too-old).
- Application Administrator: reviewed yearly (recurrence-longer-than-quarterly), last completed
  200 days ago (last-review-too-old).
- Platform Admins: an instance in progress ends in 10 days (review-due-soon).
- External Partners: a one-time review from last year; not a required scope, so no finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from emulator.ids import iso
from emulator.tenant import catalog
from emulator.tenant.base import GraphObject

if TYPE_CHECKING:
    from emulator.tenant.policies import GovernanceBuilder


@dataclass(frozen=True)
class InstancePlan:
    started_days_ago: float
    ends_in_days: float
    """Negative when the instance ended in the past."""
    status: str


@dataclass(frozen=True)
class ReviewPlan:
    name: str
    scope_query: str
    interval_months: int | None
    """None for a one-time review."""
    duration_days: int
    instances: tuple[InstancePlan, ...]


def role_scope(template_id: str) -> str:
    return (
        "/roleManagement/directory/roleAssignmentScheduleInstances?$expand=principal"
        f"&$filter=(isof(principal,'microsoft.graph.user') and roleDefinitionId eq '{template_id}')"
    )


def recurrence(start: date, interval_months: int) -> GraphObject:
    return {
        "pattern": {
            "type": "absoluteMonthly",
            "interval": interval_months,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": [],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "noEnd",
            "numberOfOccurrences": 0,
            "recurrenceTimeZone": None,
            "startDate": start.isoformat(),
            "endDate": None,
        },
    }


class ReviewBuilder:
    def __init__(self, governance: GovernanceBuilder) -> None:
        self.governance = governance
        self.context = governance.context

    def plans(self) -> list[ReviewPlan]:
        roles = catalog.ROLES_BY_NAME
        sps = self.governance.sp_by_name
        done = "Completed"
        return [
            ReviewPlan(
                "Quarterly review: Global Administrator",
                role_scope(roles["Global Administrator"].template_id),
                3,
                14,
                (InstancePlan(170, -156, done), InstancePlan(79, -65, done)),
            ),
            ReviewPlan(
                "Quarterly review: Security Administrator",
                role_scope(roles["Security Administrator"].template_id),
                3,
                14,
                (InstancePlan(144, -130, done), InstancePlan(52, -38, "InProgress")),
            ),
            ReviewPlan(
                "Annual review: Application Administrator",
                role_scope(roles["Application Administrator"].template_id),
                12,
                14,
                (InstancePlan(214, -200, done),),
            ),
            ReviewPlan(
                "Quarterly review: Platform Admins",
                f"/groups/{self.governance.group('Platform Admins')['id']}/transitiveMembers",
                3,
                14,
                (InstancePlan(94, -80, done), InstancePlan(4, 10, "InProgress")),
            ),
            ReviewPlan(
                "Quarterly review: SCIM Provisioning App",
                f"/servicePrincipals/{sps['SCIM Provisioning App']['id']}/appRoleAssignedTo",
                3,
                14,
                (InstancePlan(44, -30, done),),
            ),
            ReviewPlan(
                "Quarterly review: Calendar/Teams App",
                f"/servicePrincipals/{sps['Calendar/Teams App']['id']}/appRoleAssignedTo",
                3,
                30,
                (InstancePlan(96, -66, done), InstancePlan(5, 25, "InProgress")),
            ),
            ReviewPlan(
                "Guest access review: External Partners",
                f"/groups/{self.governance.group('External Partners')['id']}/transitiveMembers",
                None,
                21,
                (InstancePlan(321, -300, done),),
            ),
        ]

    def build(self) -> None:
        for plan in self.plans():
            definition = self._definition(plan)
            self.governance.result.review_definitions.append(definition)
            self.governance.result.review_instances[definition["id"]] = [
                self._instance(plan, definition, number, instance)
                for number, instance in enumerate(plan.instances)
            ]

    def _scope(self, query: str) -> GraphObject:
        return {
            "@odata.type": "#microsoft.graph.accessReviewQueryScope",
            "query": query,
            "queryType": "MicrosoftGraph",
            "queryRoot": None,
        }

    def _definition(self, plan: ReviewPlan) -> GraphObject:
        first = max(instance.started_days_ago for instance in plan.instances)
        created = self.context.ago(days=first + 3).replace(microsecond=0)
        start_day = self.context.ago(days=first).date()
        reviewers = [{"query": "./manager", "queryType": "MicrosoftGraph", "queryRoot": None}]
        one_time_done = plan.interval_months is None
        return {
            "id": self.governance.guid(f"review:{plan.name}"),
            "displayName": plan.name,
            "createdDateTime": iso(created),
            "lastModifiedDateTime": iso(created + timedelta(days=1)),
            "status": "Completed" if one_time_done else "InProgress",
            "descriptionForAdmins": f"{plan.name} (seed: quarterly review of permissions)",
            "descriptionForReviewers": "Confirm that each person still needs this access.",
            "createdBy": {
                "id": self.governance.guid("review-owner"),
                "displayName": "Identity Governance Admin",
                "userPrincipalName": f"governance-admin@{self.context.domain}",
            },
            "scope": self._scope(plan.scope_query),
            "instanceEnumerationScope": None,
            "reviewers": reviewers,
            "fallbackReviewers": [],
            "additionalNotificationRecipients": [],
            "stageSettings": [],
            "settings": {
                "mailNotificationsEnabled": True,
                "reminderNotificationsEnabled": True,
                "justificationRequiredOnApproval": True,
                "defaultDecisionEnabled": False,
                "defaultDecision": "None",
                "instanceDurationInDays": plan.duration_days,
                "autoApplyDecisionsEnabled": False,
                "recommendationsEnabled": True,
                "recommendationLookBackDuration": "P30D",
                "decisionHistoriesForReviewersEnabled": False,
                "recommendationInsightSettings": [],
                "applyActions": [{"@odata.type": "#microsoft.graph.removeAccessApplyAction"}],
                "recurrence": recurrence(start_day, plan.interval_months)
                if plan.interval_months is not None
                else None,
            },
        }

    def _instance(
        self, plan: ReviewPlan, definition: GraphObject, number: int, instance: InstancePlan
    ) -> GraphObject:
        start = self.context.ago(days=instance.started_days_ago).replace(microsecond=0)
        end = self.context.ahead(days=instance.ends_in_days).replace(microsecond=0)
        return {
            "id": self.governance.guid(f"review-instance:{plan.name}:{number}"),
            "startDateTime": iso(start),
            "endDateTime": iso(end),
            "status": instance.status,
            "scope": definition["scope"],
            "reviewers": definition["reviewers"],
            "fallbackReviewers": [],
        }
