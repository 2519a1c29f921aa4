"""What an alert says, in the three shapes the sinks post: plain JSON, an Adaptive Card for Teams
and Slack blocks.

Every shape is built from one :func:`alert_document`, so all sinks carry the same facts: the
event, tenant, check, rule, severity, resource, fingerprint, message, remediation, a summary of the
evidence and when the finding was first seen. The worker's own ``check-failing`` finding (check
``worker``) is announced as the event ``check_failing`` and, when it resolves, ``check_recovered``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.check import Severity
from monitor.state.store import Alert, Delivery

WORKER_CHECK = "worker"
""":data:`monitor.runner.WORKER_CHECK`, repeated so the alerts do not import the runner."""
CHECK_FAILING_RULE = "check-failing"
EVIDENCE_ITEMS = 8
EVIDENCE_CHARACTERS = 120
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_SLACK_TEXT_LIMIT = 2900  # Slack refuses a section text over 3000 characters
ALERT_EVENT = "EntraMonitorAlert"
"""The name of the Application Insights custom event every alert becomes (``customEvents.name``)."""
DIGEST_TITLES = 5


def event_name(alert: Alert) -> str:
    """The alert's event: the transition kind (``reminder`` included), or ``check_failing`` /
    ``check_recovered`` for the worker's finding about a failing check."""
    finding = alert.finding
    if finding.check == WORKER_CHECK and finding.rule == CHECK_FAILING_RULE and alert.kind != "reminder":
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
        "reminder": f"Still open, {severity}: {finding.rule}",
    }
    if alert.kind == "reminder" and finding.check == WORKER_CHECK and finding.rule == CHECK_FAILING_RULE:
        return f"Check still failing: {finding.resource.id}"
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


def event_properties(alert: Alert) -> dict[str, str]:
    """The properties (``customDimensions``) of the alert's Application Insights event
    :data:`ALERT_EVENT`: all text, evidence and references as compact JSON."""
    document = alert_document(alert)
    resource = document["resource"]
    return {
        "alertId": document["alertId"],
        "event": document["event"],
        "transition": document["transition"],
        "tenant": document["tenant"],
        "check": document["check"],
        "rule": document["rule"],
        "severity": document["severity"],
        "previousSeverity": document["previousSeverity"] or "",
        "resourceType": resource["type"],
        "resourceId": resource["id"],
        "resourceName": resource["name"],
        "fingerprint": document["fingerprint"],
        "title": document["title"],
        "message": document["message"],
        "remediation": document["remediation"],
        "evidence": _compact(document["evidence"]),
        "references": _compact(document["references"]),
        "firstSeen": document["firstSeen"],
        "occurred": document["occurred"],
    }


def digest_document(
    deliveries: Sequence[Delivery], digest_key: str, titles: int = DIGEST_TITLES
) -> dict[str, Any]:
    """One message standing for ``deliveries`` (one batch: one run of one check, for one sink), as
    the generic webhook receives it: counts by severity and transition, the ``titles`` most severe
    titles, a summary without links, and every alert's id and its own idempotency key."""
    alerts = [delivery.alert for delivery in deliveries]
    first = alerts[0].finding
    by_severity = {severity.label: 0 for severity in reversed(Severity)}
    by_transition: dict[str, int] = {}
    for alert in alerts:
        by_severity[alert.finding.severity.label] += 1
        by_transition[event_name(alert)] = by_transition.get(event_name(alert), 0) + 1
    ranked = sorted(alerts, key=lambda alert: (-alert.finding.severity, alert.alert_id))
    counted = ", ".join(f"{count} {label}" for label, count in by_severity.items() if count)
    shown = min(titles, len(alerts))
    return {
        "digest": True,
        "digestId": digest_key,
        "title": f"{len(alerts)} alerts from {first.check} for {first.tenant}",
        "tenant": first.tenant,
        "check": first.check,
        "count": len(alerts),
        "bySeverity": by_severity,
        "byTransition": dict(sorted(by_transition.items())),
        "topTitles": [title(alert) for alert in ranked[:shown]],
        "summary": f"{len(alerts)} alerts from one run of {first.check} for tenant {first.tenant} "
        f"({counted}); the {shown} most severe are listed. Every alert is in the monitor's state: "
        "entra-monitor findings list shows them.",
        "alerts": [
            {
                "alertId": delivery.alert.key,
                "idempotencyKey": delivery.idempotency_key,
                "event": event_name(delivery.alert),
                "severity": delivery.alert.finding.severity.label,
                "rule": delivery.alert.finding.rule,
                "resourceId": delivery.alert.finding.resource.id,
                "fingerprint": delivery.alert.fingerprint,
            }
            for delivery in deliveries
        ],
        "occurred": iso(alerts[0].created),
    }


def teams_digest(document: Mapping[str, Any]) -> dict[str, Any]:
    """A digest (:func:`digest_document`) as a Teams Workflows message with one Adaptive Card."""
    counts = [
        {"title": label, "value": str(count)} for label, count in document["bySeverity"].items() if count
    ]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": document["title"], "weight": "Bolder", "size": "Medium",
         "color": _digest_colour(document), "wrap": True},
        {"type": "TextBlock", "text": document["summary"], "wrap": True},
        {"type": "FactSet", "facts": counts},
        {"type": "TextBlock", "text": "Most severe", "weight": "Bolder", "wrap": True},
        *({"type": "TextBlock", "text": f"- {text}", "wrap": True, "spacing": "None"}
          for text in document["topTitles"]),
    ]  # fmt: skip
    return _teams_card(body)


def slack_digest(document: Mapping[str, Any]) -> dict[str, Any]:
    """A digest (:func:`digest_document`) as a Slack incoming-webhook message."""
    counts = [f"*{label}*: {count}" for label, count in document["bySeverity"].items() if count]
    titles = "\n".join(f"• {text}" for text in document["topTitles"])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": document["title"][:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_text(document["summary"])}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in counts]},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_text("*Most severe*\n" + titles)}},
    ]
    return {"text": f"{document['title']}: {document['summary']}", "blocks": blocks}


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
    return _teams_card(body)


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


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _digest_colour(document: Mapping[str, Any]) -> str:
    severities = document["bySeverity"]
    if severities.get("critical") or severities.get("high"):
        return "Attention"
    return "Warning" if severities.get("medium") else "Default"


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


def _teams_card(body: list[dict[str, Any]]) -> dict[str, Any]:
    """A Teams Workflows webhook message carrying one Adaptive Card (1.4) with ``body``."""
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
