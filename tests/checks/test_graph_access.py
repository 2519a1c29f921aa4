"""graph-access's rules on hand-made probe results (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from checks.graph_access import Access, GraphAccess, GraphAccessSettings
from monitor.check import Severity, declaration_problems
from monitor.graph.probe import FAILED, MISSING_LICENCE, MISSING_PERMISSION, OK

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def access(
    path: str, status: str, *, permissions: tuple[str, ...] = ("X.Read.All",), licence: str | None = None
) -> Access:
    return Access(path, "v1.0", status, permissions, licence, "detail")


def test_the_check_declares_itself_correctly() -> None:
    assert declaration_problems(GraphAccess) == []
    assert all("Write" not in permission for permission in GraphAccess.permissions)


def test_each_refusal_is_one_finding_with_what_to_do() -> None:
    data = [
        access("applications", OK),
        access("auditLogs/signIns", MISSING_PERMISSION, permissions=("AuditLog.Read.All",)),
        access("identityProtection/riskyUsers", MISSING_LICENCE, licence="P2"),
        access("groups", FAILED),
    ]
    findings = GraphAccess().evaluate(data, GraphAccessSettings(), NOW)
    assert [(f.rule, f.severity, f.resource.id) for f in findings] == [
        ("permission-missing", Severity.HIGH, "/v1.0/auditLogs/signIns"),
        ("licence-missing", Severity.INFO, "/v1.0/identityProtection/riskyUsers"),
        ("collection-unreadable", Severity.MEDIUM, "/v1.0/groups"),
    ]
    permission = findings[0]
    assert permission.evidence == {
        "path": "/v1.0/auditLogs/signIns",
        "answer": MISSING_PERMISSION,
        "permissions": ["AuditLog.Read.All"],
    }
    assert "Grant the Microsoft Graph application permission AuditLog.Read.All" in permission.remediation
    assert findings[1].evidence["licence"] == "P2"


def test_severities_are_configurable_by_name() -> None:
    settings = GraphAccessSettings.model_validate(
        {"permission_severity": "critical", "licence_severity": "low"}
    )
    data = [access("users", MISSING_PERMISSION), access("identityProtection/riskDetections", MISSING_LICENCE)]
    assert [f.severity for f in GraphAccess().evaluate(data, settings, NOW)] == [
        Severity.CRITICAL,
        Severity.LOW,
    ]


def test_a_tenant_that_answers_everything_has_no_findings() -> None:
    assert GraphAccess().evaluate([access("users", OK)], GraphAccessSettings(), NOW) == []


def test_fingerprints_are_stable_and_distinct() -> None:
    data = [access("users", MISSING_PERMISSION), access("groups", MISSING_PERMISSION)]
    first = [
        f.for_run("t", "graph-access").fingerprint
        for f in GraphAccess().evaluate(data, GraphAccessSettings(), NOW)
    ]
    again = [
        f.for_run("t", "graph-access").fingerprint
        for f in GraphAccess().evaluate(list(reversed(data)), GraphAccessSettings(), NOW)
    ]
    assert len(set(first)) == 2
    assert sorted(first) == sorted(again)
