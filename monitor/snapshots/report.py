"""The auditor's page, ``report.html``: one self-contained HTML document rendered from a snapshot
document (``snapshot.json`` as a dict, see ``docs/snapshots.md``) and, when there is one, the
previous snapshot's document, for a reader who has never seen the monitor.

The page needs nothing but itself: the stylesheet is inline, there is no script, font, image or
external link, and a Content-Security-Policy forbids loading anything should a value ever slip
through. Every value from the document is HTML-escaped by Jinja2's autoescaping (display names come
from the directory and waiver texts from people, so either may hold markup); control and
bidirectional formatting characters in them are shown (``⟨U+202E⟩``) rather than obeyed, and names
sit in ``<bdi>``. The words for the monitor's identifiers (severities, statuses, checks, Graph
collections) are in ``report_assets/vocabulary.toml``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, UndefinedError

INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control and bidirectional formatting characters: ``invoice``, U+202E (right-to-left override),
``gpj.exe`` displays as "invoiceexe.jpg", so the page shows them as ``⟨U+202E⟩`` instead of obeying them."""

URGENT = frozenset({"critical", "high"})
"""The severities the summary adds up as "critical or high"."""

VOCABULARY = "report_assets/vocabulary.toml"
"""The page's words for the monitor's identifiers (severities, statuses, checks, collections)."""


@dataclass(frozen=True)
class Vocabulary:
    """What ``vocabulary.toml`` says: plain words for identifiers, each falling back to the id."""

    severities: dict[str, str]
    """Severity → what it means, most urgent first."""
    statuses: dict[str, str]
    changes: dict[str, str]
    sources: dict[str, str]
    checks: dict[str, dict[str, str]]
    collections: dict[str, list[str]]

    @classmethod
    def load(cls) -> Vocabulary:
        text = resources.files("monitor.snapshots").joinpath(VOCABULARY).read_text(encoding="utf-8")
        values = tomllib.loads(text)
        return cls(
            severities={entry["id"]: entry["meaning"] for entry in values["severities"]},
            statuses=values["statuses"],
            changes=values["changes"],
            sources=values["sources"],
            checks=values["checks"],
            collections=values["collections"],
        )

    def examined(self, count: int, name: str) -> str:
        """``132 applications``, ``1 group``: a count of a Graph collection's objects in plain words;
        an unknown ``groups/{id}/members`` → ``members (read per group)``."""
        if name in self.collections:
            singular, plural = self.collections[name]
            return f"{count} {singular if count == 1 else plural}"
        segments = [segment for segment in name.split("/") if segment and not segment.startswith("{")]
        if not segments:
            return f"{count} {name}"
        words = _kind(segments[-1])
        if "{" in name and len(segments) > 1:
            words = f"{words} (read per {segments[0].removesuffix('s')})"
        return f"{count} {words}"


@dataclass(frozen=True)
class _Compared:
    """A count in this snapshot and in the previous one (None: there was none to compare with)."""

    now: int
    previous: int | None

    @property
    def change(self) -> str:
        return _change(self.now, self.previous)


@dataclass(frozen=True)
class SeverityRow(_Compared):
    severity: str
    meaning: str


@dataclass(frozen=True)
class ReferenceRow(_Compared):
    source: str
    section: str


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
    return "".join(stream_report(document, previous))


def stream_report(document: dict[str, Any], previous: dict[str, Any] | None) -> Iterator[str]:
    """:func:`render_report` in pieces, as the template produces them, so that a writer can hash
    and write a large tenant's page without holding all of it (tens of MB) in memory."""
    if document.get("schema_version") != 1:
        raise ValueError(
            f"snapshot document has schema_version {document.get('schema_version')!r}; the report renders "
            "schema_version 1 (docs/snapshot.schema.json)"
        )
    try:
        words = Vocabulary.load()
        page = _page(document, previous, words)
        yield from _environment(words).get_template("report.html.j2").generate(page=page)
    except (KeyError, TypeError, IndexError, UndefinedError) as error:
        raise ValueError(
            f"snapshot document {document.get('id')!r} does not follow schema_version 1 "
            f"(docs/snapshot.schema.json): {type(error).__name__} {error}"
        ) from error


def _environment(words: Vocabulary) -> Environment:
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
        examined=words.examined,
        kind=_kind,
        plural=_plural,
        shown=_shown,
    )
    environment.globals.update(SEVERITY_MEANINGS=words.severities)
    return environment


def _page(
    document: Mapping[str, Any], previous_document: Mapping[str, Any] | None, words: Vocabulary
) -> Page:
    summary = document["summary"]
    previous = summary["previous"]
    if previous_document is not None and (previous is None or previous_document["id"] != previous["id"]):
        named = None if previous is None else previous["id"]
        raise ValueError(
            f"previous snapshot {previous_document['id']!r} is not the one snapshot {document['id']!r} "
            f"names as its previous ({named!r}); pass that snapshot's document or None"
        )
    checks = [_check(entry, previous_document, words) for entry in document["checks"]]
    findings = {view.entry["fingerprint"]: view for check in checks for view in check.findings}
    open_findings = [view for view in findings.values() if view.waiver_number is None]
    page = Page(
        document=document,
        previous=previous,
        severities=[
            SeverityRow(
                now=int(summary["open_by_severity"][severity]),
                previous=None if previous is None else int(previous["open_by_severity"][severity]),
                severity=severity,
                meaning=meaning,
            )
            for severity, meaning in words.severities.items()
        ],
        references=_references(summary["open_by_reference"], previous_document, words),
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
        urgent=sum(row.now for row in page.severities if row.severity in URGENT),
        new=int(since["new"]),
        resolved=int(since["resolved"]),
        waived=page.waived_count,
        completed=sum(1 for check in checks if check.completed),
        checks=len(checks),
    )
    return page


def _check(
    entry: Mapping[str, Any], previous_document: Mapping[str, Any] | None, words: Vocabulary
) -> CheckView:
    previous_open: int | None = None
    if previous_document is not None:
        earlier = [check for check in previous_document["checks"] if check["id"] == entry["id"]]
        previous_open = sum(
            1 for check in earlier for finding in check["findings"] if finding["waiver"] is None
        )
    explained = words.checks.get(str(entry["id"]), {})
    return CheckView(
        entry=entry,
        name=explained.get("name", str(entry["id"])),
        subject=explained.get("subject", ""),
        status=words.statuses.get(str(entry["status"]), str(entry["status"])),
        findings=[_finding(finding, words) for finding in entry["findings"]],
        coverage=[(str(name), int(count)) for name, count in sorted(entry["coverage"].items())],
        previous_open=previous_open,
    )


def _finding(entry: Mapping[str, Any], words: Vocabulary) -> FindingView:
    waiver = entry["waiver"]
    return FindingView(
        entry=entry,
        change=words.changes.get(str(entry["change"]), str(entry["change"])),
        waiver_number=None if waiver is None else int(waiver) + 1,
        evidence=[_evidence(str(name), value) for name, value in sorted(entry["evidence"].items())],
        references=[_reference_row(str(reference), 0, None, words) for reference in entry["references"]],
    )


def _evidence(name: str, value: Any) -> EvidenceItem:
    if isinstance(value, dict | list):
        return EvidenceItem(name, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True), True)
    if value is None:
        return EvidenceItem(name, "(none)", False)
    if isinstance(value, bool):
        return EvidenceItem(name, "yes" if value else "no", False)
    return EvidenceItem(name, str(value), False)


def _references(
    counts: Mapping[str, int], previous_document: Mapping[str, Any] | None, words: Vocabulary
) -> list[ReferenceRow]:
    earlier: Mapping[str, int] = {}
    if previous_document is not None:
        earlier = previous_document["summary"]["open_by_reference"]
    names = sorted(set(counts) | set(earlier))
    return [
        _reference_row(
            name,
            int(counts.get(name, 0)),
            None if previous_document is None else int(earlier.get(name, 0)),
            words,
        )
        for name in names
    ]


def _reference_row(reference: str, now: int, previous: int | None, words: Vocabulary) -> ReferenceRow:
    prefix, separator, section = reference.partition(": ")
    if not separator:
        return ReferenceRow(now=now, previous=previous, source="", section=reference)
    return ReferenceRow(now=now, previous=previous, source=words.sources.get(prefix, prefix), section=section)


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


KIND_WORDS = {"oAuth2PermissionGrant": "delegated permission grant"}
"""Graph type names that splitting at capitals would garble (``o auth2 permission grant``)."""


def _kind(resource_type: str) -> str:
    """Graph's type name in words: ``servicePrincipal`` → ``service principal``."""
    if resource_type in KIND_WORDS:
        return KIND_WORDS[resource_type]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", resource_type).lower()


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    word = singular if count == 1 else (plural or f"{singular}s")
    return f"{count} {word}"


def _shown(text: Any) -> str:
    """Text from the directory or a person with its control and bidirectional formatting characters
    made visible (``⟨U+202E⟩``); escaping is autoescape's job."""
    return INVISIBLE.sub(lambda match: f"⟨U+{ord(match.group()):04X}⟩", str(text))
