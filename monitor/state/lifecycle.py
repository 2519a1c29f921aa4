"""The finding lifecycle as pure functions: given what is stored about a fingerprint and what a run
saw, the next stored state and the transition to announce (if any).

A tracked finding remembers, besides what :class:`StoredFinding` shows, whether its current open
episode was announced (``alerted``) and whether any episode ever was (``ever_alerted``). Those two
flags are what make restarts and waivers safe: a finding is announced once per episode, a waived
one not at all, and a resolution only when its opening was announced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from monitor.check import Finding
from monitor.state.store import StoredFinding, Transition, Waiver


@dataclass(frozen=True)
class Tracked:
    """Everything stored about one fingerprint."""

    finding: Finding
    status: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    times_reopened: int
    waiver: Waiver | None
    alerted: bool
    ever_alerted: bool

    def stored(self) -> StoredFinding:
        return StoredFinding(
            self.finding,
            self.status,
            self.first_seen,
            self.last_seen,
            self.resolved_at,
            self.waiver,
            self.times_reopened,
        )


def matching_waiver(finding: Finding, waivers: Iterable[Waiver], today: date) -> Waiver | None:
    """The active waiver for ``finding`` that lasts longest, or None."""
    active = [waiver for waiver in waivers if waiver.active(today) and waiver.matches(finding)]
    return max(active, key=lambda waiver: waiver.expires, default=None)


def seen(
    tracked: Tracked | None, finding: Finding, waiver: Waiver | None, now: datetime
) -> tuple[Tracked, Transition | None]:
    """A run reported ``finding``: the next state and what to announce."""
    fingerprint = finding.fingerprint
    if tracked is None:
        first = Tracked(finding, "open", now, now, None, 0, waiver, waiver is None, waiver is None)
        return first, None if waiver else Transition("new", fingerprint, finding)
    reopening = tracked.status == "resolved"
    announce = waiver is None and (reopening or not tracked.alerted)
    following = dataclasses.replace(
        tracked,
        finding=finding,
        status="open",
        last_seen=now,
        resolved_at=None,
        times_reopened=tracked.times_reopened + (1 if reopening else 0),
        waiver=waiver,
        alerted=announce or (tracked.alerted and not reopening),
        ever_alerted=tracked.ever_alerted or announce,
    )
    if announce:
        kind = "reopened" if tracked.ever_alerted else "new"
        return following, Transition(kind, fingerprint, finding)
    if waiver is not None or reopening:
        return following, None
    return following, _severity_change(tracked.finding, finding)


def gone(tracked: Tracked, now: datetime) -> tuple[Tracked, Transition | None]:
    """A run no longer reported an open finding: it is resolved at ``now``."""
    resolved = dataclasses.replace(tracked, status="resolved", resolved_at=now, alerted=False)
    if not tracked.alerted:
        return resolved, None
    return resolved, Transition("resolved", tracked.finding.fingerprint, tracked.finding)


def _severity_change(before: Finding, after: Finding) -> Transition | None:
    if after.severity > before.severity:
        return Transition("severity_raised", after.fingerprint, after, before.severity)
    if after.severity < before.severity:
        return Transition("severity_lowered", after.fingerprint, after, before.severity)
    return None


def collapse(findings: Sequence[Finding]) -> dict[str, Finding]:
    """One finding per fingerprint, in first-seen order; of duplicates, the most severe (the first
    of equals)."""
    unique: dict[str, Finding] = {}
    for finding in findings:
        kept = unique.get(finding.fingerprint)
        if kept is None or finding.severity > kept.severity:
            unique[finding.fingerprint] = finding
    return unique
