"""graph-access: the monitor can still read everything it needs.

A compliance monitor that silently loses a permission stops reporting and looks clean. This check
asks every collection the monitor reads for one object (``monitor.graph.probe``) and raises a
finding for each one that refuses: a missing application permission (someone removed the grant
or its admin consent), or a missing licence, which makes the checks built on that data
unavailable until the tenant is licensed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.check import (
    Check,
    CheckContext,
    CheckSettings,
    Finding,
    Interval,
    Resource,
    Severity,
    SeverityLevel,
)
from monitor.graph.permissions import least_privilege_permissions
from monitor.graph.probe import FAILED, MISSING_LICENCE, MISSING_PERMISSION, probe

REFERENCES = ("seed: least-privilege Graph permissions for the monitor's managed identity",)


class GraphAccessSettings(CheckSettings):
    permission_severity: SeverityLevel = Severity.HIGH
    licence_severity: SeverityLevel = Severity.INFO


@dataclass(frozen=True)
class Access:
    """What one collection answered."""

    path: str
    version: str
    status: str
    permissions: tuple[str, ...]
    licence: str | None
    detail: str


class GraphAccess(Check[GraphAccessSettings, list[Access]]):
    id = "graph-access"
    title = "The monitor can read every collection it needs"
    description = (
        "Reads one object from each Graph collection the monitor uses and reports each one that "
        "answers 403 for want of a permission or a licence."
    )
    permissions = least_privilege_permissions()
    schedule = Interval(hours=1)
    settings_model = GraphAccessSettings

    async def collect(self, context: CheckContext) -> list[Access]:
        results = await probe(context.graph)
        return [
            Access(
                result.endpoint.path,
                result.version,
                result.status,
                result.endpoint.permissions,
                result.endpoint.licence,
                result.detail,
            )
            for result in results
        ]

    def evaluate(self, data: list[Access], settings: GraphAccessSettings, now: datetime) -> list[Finding]:
        findings: list[Finding] = []
        for access in data:
            resource = Resource("graphCollection", f"/{access.version}/{access.path}", f"/{access.path}")
            evidence = {"path": f"/{access.version}/{access.path}", "answer": access.status}
            if access.status == MISSING_PERMISSION:
                needed = " and ".join(access.permissions)
                findings.append(
                    Finding(
                        "permission-missing",
                        settings.permission_severity,
                        resource,
                        f"The monitor cannot read /{access.path}: Graph refused it for want of {needed}.",
                        f"Grant the Microsoft Graph application permission {needed} to the monitor's "
                        "identity and give admin consent; the checks reading this collection report "
                        "nothing until then.",
                        {**evidence, "permissions": list(access.permissions)},
                        REFERENCES,
                    )
                )
            elif access.status == MISSING_LICENCE:
                findings.append(
                    Finding(
                        "licence-missing",
                        settings.licence_severity,
                        resource,
                        f"/{access.path} needs Microsoft Entra ID {access.licence}, which the tenant lacks.",
                        f"License the tenant for Microsoft Entra ID {access.licence} to monitor this data,"
                        " or disable the checks that need it.",
                        {**evidence, "licence": access.licence},
                        REFERENCES,
                    )
                )
            elif access.status == FAILED:
                findings.append(
                    Finding(
                        "collection-unreadable",
                        Severity.MEDIUM,
                        resource,
                        f"/{access.path} could not be read: {access.detail}",
                        "See the monitor's logs for the Graph request-id and the error.",
                        {**evidence, "detail": access.detail},
                        REFERENCES,
                    )
                )
        return findings
