"""What an alert says, in the three shapes the sinks post: plain JSON, an Adaptive Card for Teams
and Slack blocks.

Every shape is built from one :func:`alert_document`, so all sinks carry the same facts: the
event, tenant, check, rule, severity, resource, fingerprint, message, remediation, a summary of the
evidence and when the finding was first seen. The worker's own ``check-failing`` finding (check
``worker``) is announced as the event ``check_failing`` and, when it resolves, ``check_recovered``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.state.store import Alert

WORKER_CHECK = "worker"
""":data:`monitor.runner.WORKER_CHECK`, repeated so the alerts do not import the runner."""
CHECK_FAILING_RULE = "check-failing"
EVIDENCE_ITEMS = 8
EVIDENCE_CHARACTERS = 120
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_SLACK_TEXT_LIMIT = 2900  # Slack refuses a section text over 3000 characters


def event_name(alert: Alert) -> str:
    """The alert's event: the transition kind, or ``check_failing`` / ``check_recovered`` for the
    worker's finding about a failing check."""
    finding = alert.finding
    if finding.check == WORKER_CHECK and finding.rule == CHECK_FAILING_RULE:
        return "check_recovered" if alert.kind == "resolved" else "check_failing"
    return alert.kind


def title(alert: Alert) -> str:
    """One line saying what happened, e.g. ``New high finding: credential-expired``."""
    finding = alert.finding
    severity = finding.severity.label
    previous = alert.previous_severity.label if alert.previous_severity is not None else "?"
    titles = {
        "new": f"New {severity} finding: {finding.rule}",
        "reopened": f"Reopened {severity} finding: {finding.rule}",
        "resolved": f"Resolved: {finding.rule}",
        "severity_raised": f"Severity raised to {severity} (was {previous}): {finding.rule}",
        "severity_lowered": f"Severity lowered to {severity} (was {previous}): {finding.rule}",
        "check_failing": f"Check failing: {finding.resource.id}",
        "check_recovered": f"Check recovered: {finding.resource.id}",
    }
    return titles.get(event_name(alert), f"{alert.kind}: {finding.rule}")


def evidence_summary(evidence: Mapping[str, Any]) -> dict[str, str]:
    """The first :data:`EVIDENCE_ITEMS` evidence fields as short text (JSON for non-strings, cut at
    :data:`EVIDENCE_CHARACTERS`), and ``"(more)"`` counting the fields left out."""
    summary: dict[str, str] = {}
    for name, value in list(evidence.items())[:EVIDENCE_ITEMS]:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        summary[str(name)] = (
            text if len(text) <= EVIDENCE_CHARACTERS else text[: EVIDENCE_CHARACTERS - 1] + "…"
        )
    if len(evidence) > EVIDENCE_ITEMS:
        summary["(more)"] = f"{len(evidence) - EVIDENCE_ITEMS} more fields"
    return summary


def alert_document(alert: Alert) -> dict[str, Any]:
    """The alert as the generic webhook receives it (keys in camelCase, times ISO 8601 UTC)."""
    finding = alert.finding
    previous = alert.previous_severity
    return {
        "alertId": alert.key,
        "event": event_name(alert),
        "transition": alert.kind,
        "tenant": finding.tenant,
        "check": finding.check,
        "rule": finding.rule,
        "severity": finding.severity.label,
        "previousSeverity": None if previous is None else previous.label,
        "resource": {
            "type": finding.resource.type,
            "id": finding.resource.id,
            "name": finding.resource.display_name,
        },
        "fingerprint": finding.fingerprint,
        "title": title(alert),
        "message": finding.message,
        "remediation": finding.remediation,
        "evidence": evidence_summary(finding.evidence),
        "references": list(finding.references),
        "firstSeen": iso(alert.first_seen),
        "occurred": iso(alert.created),
    }


def teams_message(alert: Alert) -> dict[str, Any]:
    """A Teams Workflows webhook message: one Adaptive Card (1.4) attachment."""
    document = alert_document(alert)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": document["title"],
            "weight": "Bolder",
            "size": "Medium",
            "color": _card_colour(document),
            "wrap": True,
        },
        {"type": "TextBlock", "text": document["message"], "wrap": True},
        {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in _facts(document)]},
        {"type": "TextBlock", "text": "Remediation", "weight": "Bolder", "wrap": True},
        {"type": "TextBlock", "text": document["remediation"], "wrap": True},
    ]
    if document["evidence"]:
        body.append({"type": "TextBlock", "text": "Evidence", "weight": "Bolder", "wrap": True})
        facts = [{"title": name, "value": value} for name, value in document["evidence"].items()]
        body.append({"type": "FactSet", "facts": facts})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: blocks, and ``text`` as the notification fallback."""
    document = alert_document(alert)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": document["title"][:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_text(document["message"])}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_slack_text(value)}"}
                for name, value in _facts(document)
            ][:10],  # Slack takes at most ten fields
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Remediation*\n" + _slack_text(document["remediation"])},
        },
    ]
    if document["evidence"]:
        evidence = "; ".join(f"{name}: {value}" for name, value in document["evidence"].items())
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _slack_text("Evidence: " + evidence)}],
            }
        )
    return {"text": f"{document['title']}: {document['message']}", "blocks": blocks}


def iso(moment: datetime) -> str:
    """``2026-11-27T12:00:00Z``: UTC, seconds, a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _facts(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    resource = document["resource"]
    severity = document["severity"]
    if document["previousSeverity"]:
        severity = f"{severity} (was {document['previousSeverity']})"
    return [
        ("Tenant", document["tenant"]),
        ("Check", document["check"]),
        ("Rule", document["rule"]),
        ("Severity", severity),
        ("Resource", f"{resource['name'] or resource['id']} ({resource['type']} {resource['id']})"),
        ("First seen", document["firstSeen"]),
        ("Fingerprint", document["fingerprint"]),
    ]


def _card_colour(document: Mapping[str, Any]) -> str:
    if document["event"] in ("resolved", "check_recovered", "severity_lowered"):
        return "Good"
    if document["severity"] in ("critical", "high"):
        return "Attention"
    return "Warning" if document["severity"] == "medium" else "Default"


def _slack_text(text: str) -> str:
    """``text`` escaped for Slack's mrkdwn (``&``, ``<``, ``>``) and cut to fit a section."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped if len(escaped) <= _SLACK_TEXT_LIMIT else escaped[: _SLACK_TEXT_LIMIT - 1] + "…"
