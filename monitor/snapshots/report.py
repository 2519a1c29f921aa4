"""The auditor's page, ``report.html``: one self-contained HTML document rendered from a snapshot
document (``snapshot.json`` as a dict, see ``docs/snapshots.md``) and, when there is one, the
previous snapshot's document, for a reader who has never seen the monitor.

The page needs nothing but itself: the stylesheet is inline, there is no script, font, image or
external link, and a Content-Security-Policy forbids loading anything should a value ever slip
through. Every value from the document is HTML-escaped by Jinja2's autoescaping (display names come
from the directory and waiver texts from people, so either may hold markup), and names are wrapped
in ``<bdi>`` so a right-to-left override in one cannot reorder the text around it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, UndefinedError

SEVERITIES = ("critical", "high", "medium", "low", "info")
"""Most urgent first, the order of every severity table on the page."""

SEVERITY_MEANINGS = {
    "critical": "A risk that can be exploited or cause an outage now: act immediately.",
    "high": "A required control is missing or broken: fix soon.",
    "medium": "A control is weaker than the baseline asks: plan a fix.",
    "low": "A small deviation from the baseline: fix in routine maintenance.",
    "info": "Recorded for the audit trail; no action is required.",
}

STATUS_WORDS = {
    "succeeded": "Completed",
    "failed": "Failed",
    "timed_out": "Timed out",
    "not_run": "Did not run",
    "unavailable": "Unavailable",
}
"""Run statuses in plain words; ``unavailable`` is a check the tenant's licence does not allow."""

CHANGE_WORDS = {
    "new": "New",
    "open": "Still open",
    "reopened": "Reopened",
    "severity_changed": "Severity changed",
}

CHECKS_EXPLAINED = {
    "access-review-due": (
        "Access reviews",
        "Whether privileged roles, groups and applications have their access reviewed every quarter, "
        "and whether reviews finish on time.",
    ),
    "conditional-access-baseline": (
        "Conditional Access policies",
        "Whether sign-in policies require multi-factor authentication for administrators and block "
        "sign-ins from untrusted locations.",
    ),
    "consent-grants": (
        "Permissions granted to applications",
        "Permissions granted to applications: unused, high-privilege, or beyond what an application is "
        "allowed to hold.",
    ),
    "credential-expiry": (
        "Application credentials",
        "The passwords (client secrets) and certificates applications sign in with: expired, expiring "
        "soon, valid for too long, or a password on a production application.",
    ),
    "graph-access": (
        "The monitor's own access",
        "Whether the monitor itself could read everything it needs (its permissions and the tenant's "
        "licences).",
    ),
    "risky-sign-ins": (
        "Risky sign-ins",
        "Sign-ins Microsoft rated as risky that nevertheless succeeded, and users flagged as at risk.",
    ),
    "token-lifetime-drift": (
        "Token and session lifetimes",
        "How long sign-in tokens and sessions stay valid, compared with the baseline.",
    ),
    "worker": (
        "The monitor's own health",
        "Findings the monitor records about itself, such as a check that failed several runs in a row.",
    ),
}
"""Name and subject of each built-in check in an auditor's words; a plug-in's check shows its id."""

INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control and bidirectional formatting characters: ``invoice``, U+202E (right-to-left override),
``gpj.exe`` displays as "invoiceexe.jpg", so the page shows them as ``⟨U+202E⟩`` instead of obeying them."""

COLLECTION_WORDS = {
    "applications": ("application", "applications"),
    "groups": ("group", "groups"),
    "users": ("user", "users"),
    "servicePrincipals": (
        "service principal (an application's identity in the tenant)",
        "service principals (applications' identities in the tenant)",
    ),
    "servicePrincipals/{id}/appRoleAssignedTo": (
        "app role assignment granted on a service principal",
        "app role assignments granted on service principals",
    ),
    "servicePrincipals/{id}/appRoleAssignments": (
        "application permission held by a service principal",
        "application permissions held by service principals",
    ),
    "servicePrincipals/{id}/oauth2PermissionGrants": (
        "delegated permission grant of a service principal",
        "delegated permission grants of service principals",
    ),
    "oauth2PermissionGrants": ("delegated permission grant", "delegated permission grants"),
    "auditLogs/signIns": ("sign-in log entry", "sign-in log entries"),
    "reports/servicePrincipalSignInActivities": (
        "application sign-in activity record",
        "application sign-in activity records",
    ),
    "identityProtection/riskyUsers": ("user flagged as at risk", "users flagged as at risk"),
    "identityProtection/riskDetections": ("risk detection", "risk detections"),
    "policies/tokenLifetimePolicies": ("token lifetime policy", "token lifetime policies"),
    "policies/tokenLifetimePolicies/{id}/appliesTo": (
        "assignment of a token lifetime policy",
        "assignments of token lifetime policies",
    ),
    "identity/conditionalAccess/policies": ("Conditional Access policy", "Conditional Access policies"),
    "identity/conditionalAccess/namedLocations": ("named location", "named locations"),
    "identityGovernance/accessReviews/definitions": ("access review definition", "access review definitions"),
    "identityGovernance/accessReviews/definitions/{id}/instances": (
        "access review instance",
        "access review instances",
    ),
}
"""Graph collections (as coverage names them: the route's path) in plain words, singular and plural;
others are spelt out from their last segment."""

REFERENCE_SOURCES = {"seed": "Entra integration guide"}
"""Prefixes of ``references`` (``"seed: A › B"``) and the document they stand for."""


@dataclass(frozen=True)
class SeverityRow:
    severity: str
    meaning: str
    now: int
    previous: int | None

    @property
    def change(self) -> str:
        return _change(self.now, self.previous)


@dataclass(frozen=True)
class ReferenceRow:
    source: str
    section: str
    now: int
    previous: int | None

    @property
    def change(self) -> str:
        return _change(self.now, self.previous)


@dataclass(frozen=True)
class EvidenceItem:
    name: str
    text: str
    block: bool
    """A nested value, shown as indented JSON rather than inline."""


@dataclass(frozen=True)
class FindingView:
    entry: Mapping[str, Any]
    change: str
    waiver_number: int | None
    evidence: list[EvidenceItem]
    references: list[ReferenceRow]


@dataclass(frozen=True)
class CheckView:
    entry: Mapping[str, Any]
    name: str
    subject: str
    status: str
    findings: list[FindingView]
    coverage: list[tuple[str, int]]
    previous_open: int | None

    @property
    def completed(self) -> bool:
        return str(self.entry["status"]) == "succeeded"

    @property
    def partial(self) -> bool:
        return self.completed and bool(self.entry["rules_not_evaluated"])

    @property
    def open_count(self) -> int:
        return sum(1 for finding in self.findings if finding.waiver_number is None)

    @property
    def waived_count(self) -> int:
        return len(self.findings) - self.open_count


@dataclass(frozen=True)
class WaiverView:
    number: int
    entry: Mapping[str, Any]
    scope: list[tuple[str, str]]
    days_left: int | None
    matched: list[FindingView | str]


@dataclass(frozen=True)
class ResolvedView:
    entry: Mapping[str, Any]
    message_then: str | None


@dataclass(frozen=True)
class Page:
    document: Mapping[str, Any]
    previous: Mapping[str, Any] | None
    """``summary.previous`` of the document: id, time and severity counts of the previous snapshot."""
    severities: list[SeverityRow]
    references: list[ReferenceRow]
    unreferenced: int
    checks: list[CheckView]
    waivers: list[WaiverView]
    resolved: list[ResolvedView]
    waived_count: int
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def total_change(self) -> str:
        """All open findings now against the previous snapshot's (``—`` without one)."""
        now = sum(row.now for row in self.severities)
        if self.previous is None:
            return _change(now, None)
        return _change(now, sum(row.previous or 0 for row in self.severities))


def render_report(document: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """The page for ``document``. ``previous`` is the previous snapshot's document (the one
    ``summary.previous`` names) or None; with it the page also compares references and checks and
    shows what resolved findings said. Raises ValueError naming the field when ``document`` is not
    a schema_version 1 snapshot, or when ``previous`` is not the snapshot it names as previous."""
    if document.get("schema_version") != 1:
        raise ValueError(
            f"snapshot document has schema_version {document.get('schema_version')!r}; the report renders "
            "schema_version 1 (docs/snapshot.schema.json)"
        )
    try:
        page = _page(document, previous)
        return _environment().get_template("report.html.j2").render(page=page)
    except (KeyError, TypeError, IndexError, UndefinedError) as error:
        raise ValueError(
            f"snapshot document {document.get('id')!r} does not follow schema_version 1 "
            f"(docs/snapshot.schema.json): {type(error).__name__} {error}"
        ) from error


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("monitor.snapshots", "report_assets"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        when=_when,
        day=_day,
        duration=_duration,
        examined=_examined,
        kind=_kind,
        plural=_plural,
        shown=_shown,
    )
    environment.globals.update(
        STATUS_WORDS=STATUS_WORDS, SEVERITY_MEANINGS=SEVERITY_MEANINGS, SEVERITIES=SEVERITIES
    )
    return environment


def _page(document: Mapping[str, Any], previous_document: Mapping[str, Any] | None) -> Page:
    summary = document["summary"]
    previous = summary["previous"]
    if previous_document is not None and (previous is None or previous_document["id"] != previous["id"]):
        named = None if previous is None else previous["id"]
        raise ValueError(
            f"previous snapshot {previous_document['id']!r} is not the one snapshot {document['id']!r} "
            f"names as its previous ({named!r}); pass that snapshot's document or None"
        )
    waiver_of = {
        fingerprint: number
        for number, waiver in enumerate(document["waivers"], start=1)
        for fingerprint in waiver["matched"]
    }
    checks = [_check(entry, waiver_of, previous_document) for entry in document["checks"]]
    findings = {view.entry["fingerprint"]: view for check in checks for view in check.findings}
    open_findings = [view for view in findings.values() if view.waiver_number is None]
    page = Page(
        document=document,
        previous=previous,
        severities=[
            SeverityRow(
                severity,
                SEVERITY_MEANINGS[severity],
                int(summary["open_by_severity"][severity]),
                None if previous is None else int(previous["open_by_severity"][severity]),
            )
            for severity in SEVERITIES
        ],
        references=_references(summary["open_by_reference"], previous_document),
        unreferenced=sum(1 for view in open_findings if not view.entry["references"]),
        checks=checks,
        waivers=[
            _waiver(number, entry, findings, document["created_at"])
            for number, entry in enumerate(document["waivers"], start=1)
        ],
        resolved=[_resolved(entry, previous_document) for entry in document["resolved_since_previous"]],
        waived_count=len(findings) - len(open_findings),
    )
    since = summary["since_previous"]
    page.figures.update(
        open=sum(row.now for row in page.severities),
        urgent=page.severities[0].now + page.severities[1].now,
        new=int(since["new"]),
        resolved=int(since["resolved"]),
        waived=page.waived_count,
        completed=sum(1 for check in checks if check.completed),
        checks=len(checks),
    )
    return page


def _check(
    entry: Mapping[str, Any], waiver_of: Mapping[str, int], previous_document: Mapping[str, Any] | None
) -> CheckView:
    previous_open: int | None = None
    if previous_document is not None:
        earlier = [check for check in previous_document["checks"] if check["id"] == entry["id"]]
        previous_open = sum(
            1 for check in earlier for finding in check["findings"] if finding["waiver"] is None
        )
    return CheckView(
        entry=entry,
        name=CHECKS_EXPLAINED.get(str(entry["id"]), (str(entry["id"]), ""))[0],
        subject=CHECKS_EXPLAINED.get(str(entry["id"]), ("", ""))[1],
        status=STATUS_WORDS.get(str(entry["status"]), str(entry["status"])),
        findings=[_finding(finding, waiver_of) for finding in entry["findings"]],
        coverage=[(str(name), int(count)) for name, count in sorted(entry["coverage"].items())],
        previous_open=previous_open,
    )


def _finding(entry: Mapping[str, Any], waiver_of: Mapping[str, int]) -> FindingView:
    waiver = entry["waiver"]
    return FindingView(
        entry=entry,
        change=CHANGE_WORDS.get(str(entry["change"]), str(entry["change"])),
        waiver_number=None if waiver is None else int(waiver) + 1,
        evidence=[_evidence(str(name), value) for name, value in sorted(entry["evidence"].items())],
        references=[_reference_row(str(reference), 0, None) for reference in entry["references"]],
    )


def _evidence(name: str, value: Any) -> EvidenceItem:
    if isinstance(value, dict | list):
        return EvidenceItem(name, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True), True)
    if value is None:
        return EvidenceItem(name, "(none)", False)
    if isinstance(value, bool):
        return EvidenceItem(name, "yes" if value else "no", False)
    return EvidenceItem(name, str(value), False)


def _references(counts: Mapping[str, int], previous_document: Mapping[str, Any] | None) -> list[ReferenceRow]:
    earlier: Mapping[str, int] = {}
    if previous_document is not None:
        earlier = previous_document["summary"]["open_by_reference"]
    names = sorted(set(counts) | set(earlier))
    return [
        _reference_row(
            name, int(counts.get(name, 0)), None if previous_document is None else int(earlier.get(name, 0))
        )
        for name in names
    ]


def _reference_row(reference: str, now: int, previous: int | None) -> ReferenceRow:
    prefix, separator, section = reference.partition(": ")
    if not separator:
        return ReferenceRow("", reference, now, previous)
    return ReferenceRow(REFERENCE_SOURCES.get(prefix, prefix), section, now, previous)


def _waiver(
    number: int, entry: Mapping[str, Any], findings: Mapping[str, FindingView], created_at: str
) -> WaiverView:
    labels = (
        ("fingerprint", "Finding"),
        ("check", "Check"),
        ("rule", "Rule"),
        ("resource_id", "Resource id"),
    )
    scope = [(label, str(entry[key])) for key, label in labels if entry.get(key) is not None]
    days_left: int | None = None
    if entry.get("expires"):
        days_left = (date.fromisoformat(str(entry["expires"])[:10]) - _parse(created_at).date()).days
    matched: list[FindingView | str] = [findings.get(str(fp), str(fp)) for fp in entry["matched"]]
    return WaiverView(number, entry, scope, days_left, matched)


def _resolved(entry: Mapping[str, Any], previous_document: Mapping[str, Any] | None) -> ResolvedView:
    message: str | None = None
    if previous_document is not None:
        for check in previous_document["checks"]:
            for finding in check["findings"]:
                if finding["fingerprint"] == entry["fingerprint"]:
                    message = str(finding["message"])
    return ResolvedView(entry, message)


def _change(now: int, previous: int | None) -> str:
    if previous is None:
        return "—"
    if now == previous:
        return "no change"
    return f"+{now - previous}" if now > previous else f"−{previous - now}"


# -- filters ---------------------------------------------------------------------------------


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _when(text: str | None) -> str:
    """``2026-11-27T23:00:00Z`` → ``27 November 2026, 23:00:00 UTC``."""
    if not text:
        return "—"
    moment = _parse(text)
    return f"{moment.day} {moment:%B %Y, %H:%M:%S} UTC"


def _day(text: str | None) -> str:
    """``2026-12-31`` → ``31 December 2026``."""
    if not text:
        return "—"
    day = date.fromisoformat(str(text)[:10])
    return f"{day.day} {day:%B %Y}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _examined(count: int, name: str) -> str:
    """``132 applications``, ``1 group``: a count of a Graph collection's objects in plain words;
    an unknown ``groups/{id}/members`` → ``members (read per group)``."""
    if name in COLLECTION_WORDS:
        singular, plural = COLLECTION_WORDS[name]
        return f"{count} {singular if count == 1 else plural}"
    segments = [segment for segment in name.split("/") if segment and not segment.startswith("{")]
    if not segments:
        return f"{count} {name}"
    words = _kind(segments[-1])
    if "{" in name and len(segments) > 1:
        words = f"{words} (read per {segments[0].removesuffix('s')})"
    return f"{count} {words}"


def _kind(resource_type: str) -> str:
    """Graph's type name in words: ``servicePrincipal`` → ``service principal``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", resource_type).lower()


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    word = singular if count == 1 else (plural or f"{singular}s")
    return f"{count} {word}"


def _shown(text: Any) -> str:
    """Text from the directory or a person with its control and bidirectional formatting characters
    made visible (``⟨U+202E⟩``); escaping is autoescape's job."""
    return INVISIBLE.sub(lambda match: f"⟨U+{ord(match.group()):04X}⟩", str(text))
