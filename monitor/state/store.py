"""What the state store records and the interface every implementation offers.

The store remembers, per finding fingerprint, where the finding is in its lifecycle::

    (absent) ──► new/open ──► resolved ──► reopened/open ──► resolved …

with ``first_seen`` (the first time it was ever seen), ``last_seen`` (the latest run that saw it)
and ``resolved_at`` (when a run last stopped seeing it; None while open). It also keeps waivers'
effect on each finding, per-check watermarks for incremental reads, and the history of runs.

:meth:`StateStore.reconcile` is the one place findings change: it is given the *complete* result
of one (tenant, check) run and returns the :class:`Transition` values the alerting layer announces.
Everything is keyed by (tenant, check), so a run of one check never touches another check's or
another tenant's findings. All datetimes given to and returned by a store are timezone-aware UTC;
a naive datetime is refused with ValueError.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Self

from monitor.check import Finding, Severity
from monitor.errors import ConfigurationError

FINDING_STATUSES = ("open", "resolved")
TRANSITION_KINDS = ("new", "reopened", "resolved", "severity_raised", "severity_lowered")
ALERT_KINDS = (*TRANSITION_KINDS, "reminder")
"""What an :class:`Alert` announces: a transition, or a ``reminder`` that a finding is still open."""
RUN_STATUSES = ("running", "succeeded", "failed", "timed_out", "cancelled", "unavailable")
"""``unavailable``: the tenant lacks what the check needs (a licence); a verdict, not a failure."""
FAILED_RUN_STATUSES = ("failed", "timed_out")
"""The run statuses :meth:`StateStore.consecutive_failures` counts."""
DELIVERY_STATUSES = ("pending", "delivered", "parked")
"""``pending``: to be sent (again) at ``next_attempt``; ``delivered``: the sink accepted it;
``parked``: the sink refused it for good (a 4xx other than 408/429) and it is never retried."""


@dataclass(frozen=True, kw_only=True)
class Waiver:
    """An accepted risk from the configuration: findings it matches are stored but not announced.

    A waiver names either a ``fingerprint`` or a ``rule`` and ``resource_id``; ``check`` and
    ``tenant`` narrow it further. Every field that is set must match. Resource ids and tenant names
    compare case-insensitively, as the fingerprint does. The waiver suppresses up to and including
    its ``expires`` date (UTC): one expiring 2026-12-31 still applies all day on 2026-12-31 and no
    longer on 2027-01-01.
    """

    fingerprint: str | None = None
    rule: str | None = None
    resource_id: str | None = None
    check: str | None = None
    tenant: str | None = None
    justification: str
    approver: str
    expires: date

    def __post_init__(self) -> None:
        if not self.fingerprint and not (self.rule and self.resource_id):
            raise ConfigurationError(
                f"waiver approved by {self.approver!r} names no finding: "
                "set a fingerprint, or a rule and a resource_id"
            )

    def matches(self, finding: Finding) -> bool:
        """Whether this waiver is about ``finding`` (regardless of expiry)."""
        return (
            (not self.fingerprint or self.fingerprint.lower() == finding.fingerprint)
            and (not self.rule or self.rule == finding.rule)
            and (not self.resource_id or self.resource_id.casefold() == finding.resource.id.casefold())
            and (not self.check or self.check == finding.check)
            and (not self.tenant or self.tenant.casefold() == finding.tenant.casefold())
        )

    def active(self, on: date) -> bool:
        """Whether the waiver still applies on ``on`` (a UTC date): true through the expiry date."""
        return on <= self.expires


@dataclass(frozen=True)
class Transition:
    """A lifecycle change to announce.

    ``kind`` is one of :data:`TRANSITION_KINDS`. ``finding`` is the finding as the run saw it, or,
    for ``resolved``, the last stored version. ``previous_severity`` is set for
    ``severity_raised`` and ``severity_lowered`` only.
    """

    kind: str
    fingerprint: str
    finding: Finding
    previous_severity: Severity | None = None


@dataclass(frozen=True)
class StoredFinding:
    """A finding as stored: its latest version and where it is in the lifecycle.

    ``waived`` is the active waiver that matched it at the latest reconcile that saw it (a waiver
    that has expired since keeps showing here until the check runs again).
    """

    finding: Finding
    status: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    waived: Waiver | None
    times_reopened: int = 0

    @property
    def fingerprint(self) -> str:
        return self.finding.fingerprint


@dataclass(frozen=True)
class RunRecord:
    """One run of one check for one tenant; ``ended`` is None and ``status`` ``running`` until it
    is finished. ``counts`` is what the runner chose to record (findings by severity, pages read …)."""

    run_id: str
    tenant: str
    check: str
    started: datetime
    ended: datetime | None
    status: str
    counts: dict[str, int]
    error: str | None


@dataclass(frozen=True)
class Alert:
    """A transition as written to the outbox by :meth:`StateStore.reconcile`.

    ``alert_id`` orders alerts (a later alert has a larger id); ``key`` is a random, globally
    unique id the idempotency keys derive from; ``created`` is the reconcile's ``now`` and
    ``first_seen`` the finding's first sighting. ``kind`` (one of :data:`ALERT_KINDS`) and
    ``previous_severity`` are the transition's. ``batch`` is the same for every alert one
    reconcile (or one reminder round of one tenant's check) wrote: the unit a digest summarises.
    """

    alert_id: int
    key: str
    created: datetime
    kind: str
    finding: Finding
    first_seen: datetime
    previous_severity: Severity | None = None
    batch: str = ""

    @property
    def fingerprint(self) -> str:
        return self.finding.fingerprint


@dataclass(frozen=True)
class Delivery:
    """One alert bound for one sink (by the sink's configured id).

    ``status`` is one of :data:`DELIVERY_STATUSES`; ``attempts`` counts failed and successful
    sends; ``last_error`` says why the latest attempt failed (never a URL or key); ``finished`` is
    when it was delivered or parked. ``idempotency_key`` is stable for the alert and sink, so a
    receiver recognises a repeat after a crash between sending and recording the success.
    ``digest`` is set when the alert goes to this sink inside a digest: the digest's own
    idempotency key, shared by every delivery it carries (they are sent and settled together).
    """

    alert: Alert
    sink: str
    status: str
    attempts: int
    next_attempt: datetime
    last_error: str | None
    finished: datetime | None
    idempotency_key: str
    digest: str | None = None


class StateStore(abc.ABC):
    """The monitor's memory. Every method raises :class:`monitor.errors.StateError` when the
    storage itself fails (corrupt, locked by another process, not writable), and ValueError for
    arguments that break the contract (a naive datetime, an unknown status)."""

    @abc.abstractmethod
    def reconcile(
        self,
        tenant: str,
        check: str,
        findings: Sequence[Finding],
        now: datetime,
        waivers: Sequence[Waiver],
        unevaluated: Collection[str] = (),
    ) -> list[Transition]:
        """Record the complete findings of one run of ``check`` for ``tenant``; return what changed.

        A fingerprint never stored before gives ``new``; one stored as resolved is open again and
        gives ``reopened`` (``new`` if it was never announced). A stored open finding that the run
        no longer reports becomes resolved at ``now`` and gives ``resolved`` if it had been
        announced. One still present gets ``last_seen = now`` and its latest fields, and gives
        ``severity_raised`` / ``severity_lowered`` when its severity changed.

        A finding matched by a waiver active on ``now``'s date is stored with that waiver and gives
        no transition at all. When the waiver expires or is removed, the next reconcile announces it
        (``new``, or ``reopened`` if an earlier episode was announced) unless that episode was
        already announced before the waiver applied.

        ``unevaluated`` names rules the run could not evaluate (a licence the tenant lacks): their
        stored findings are left exactly as they are, neither resolved nor seen again.

        Findings must carry ``tenant`` and ``check`` (or leave both empty: they are filled in);
        duplicates of one fingerprint collapse to the most severe. Transitions come in the order
        of ``findings``, then the resolved ones by fingerprint. Idempotent: reconciling the same
        findings again gives no transitions. All changes of one call are one transaction, and that
        transaction also writes one :class:`Alert` per transition to the outbox, so an announced
        change cannot be lost between recording it and sending it.
        """

    @abc.abstractmethod
    def findings(
        self, tenant: str | None = None, check: str | None = None, status: str | None = "open"
    ) -> list[StoredFinding]:
        """Stored findings, filtered by tenant, check and status (``None``: any), most severe first,
        then by tenant, check, first_seen and fingerprint."""

    @abc.abstractmethod
    def open_counts(self) -> dict[tuple[str, str, Severity], int]:
        """Open, unwaived findings counted by (tenant, check, severity); absent keys are zero."""

    @abc.abstractmethod
    def get_watermark(self, tenant: str, check: str, key: str) -> str | None:
        """The stored watermark, or None before one was set."""

    @abc.abstractmethod
    def set_watermarks(self, tenant: str, check: str, values: Mapping[str, str]) -> None:
        """Store all ``values`` for (tenant, check) in one transaction, replacing earlier values."""

    @abc.abstractmethod
    def start_run(self, tenant: str, check: str, started: datetime) -> str:
        """Record a run as ``running``; return its new, unique run id."""

    @abc.abstractmethod
    def finish_run(
        self, run_id: str, ended: datetime, status: str, counts: Mapping[str, int], error: str | None
    ) -> None:
        """Record how a run ended; ``status`` is one of :data:`RUN_STATUSES` other than ``running``.
        ValueError for an unknown run id."""

    @abc.abstractmethod
    def runs(self, tenant: str | None = None, check: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The latest ``limit`` runs, newest (by ``started``) first."""

    @abc.abstractmethod
    def consecutive_failures(self, tenant: str, check: str) -> int:
        """How many finished runs since the latest ``succeeded`` or ``unavailable`` one were
        ``failed`` or ``timed_out`` (``running`` and ``cancelled`` runs neither count nor break the
        streak)."""

    @abc.abstractmethod
    def abandon_running(self, ended: datetime, reason: str) -> int:
        """Mark every run still recorded as ``running`` as ``cancelled`` with ``reason`` (a worker
        starting up after a crash); the number of runs marked."""

    @abc.abstractmethod
    def alerts(self, after: int = 0, limit: int = 1000) -> list[Alert]:
        """Alerts with an id greater than ``after``, oldest first, at most ``limit``."""

    @abc.abstractmethod
    def write_reminders(self, now: datetime, min_severity: Severity, interval: timedelta) -> list[Alert]:
        """Write a ``reminder`` alert for every open, announced, unwaived finding at or above
        ``min_severity`` whose latest alert (of any kind; its first sighting if it has none) is at
        least ``interval`` before ``now``; the alerts written, one batch per (tenant, check). One
        transaction, and the alert itself is the record: calling it again before another
        ``interval`` has passed writes nothing, across restarts too."""

    @abc.abstractmethod
    def route_alerts(
        self,
        accepts: Mapping[str, Callable[[Alert], bool]],
        now: datetime,
        digest_over: Mapping[str, int] | None = None,
    ) -> int:
        """Fan every alert not yet routed out to the sinks: a pending delivery, due at ``now``,
        for each sink id in ``accepts`` whose predicate takes the alert; then mark it routed (an
        alert no sink takes is routed too). One transaction; the number of deliveries created.
        Alerts routed earlier are not offered to sinks configured later.

        ``digest_over`` maps sink ids to a threshold: when one batch gives that sink more
        deliveries than its threshold, they are bound into one digest (:attr:`Delivery.digest`)."""

    @abc.abstractmethod
    def due_deliveries(self, now: datetime, sinks: Collection[str], limit: int = 100) -> list[Delivery]:
        """Pending deliveries to ``sinks`` that may be sent at ``now``, at most ``limit`` (a digest
        is never cut: all of its pending deliveries come together, even past ``limit``), ordered
        by alert id then sink. Per sink, only the leading run of its pending deliveries (in alert
        order) whose ``next_attempt`` has come: one waiting for its back-off holds back every later
        one of the same sink, so a sink receives its alerts in order. Parked ones hold nothing."""

    @abc.abstractmethod
    def deliveries(self, status: str | None = None, sink: str | None = None) -> list[Delivery]:
        """Deliveries filtered by status (one of :data:`DELIVERY_STATUSES`, or ``None``: any) and
        sink, ordered by alert id then sink; ``deliveries("parked")`` lists the parked ones."""

    @abc.abstractmethod
    def delivery_counts(self) -> dict[str, dict[str, int]]:
        """Per sink, how many deliveries are in each of :data:`DELIVERY_STATUSES` (zeros included)."""

    @abc.abstractmethod
    def mark_delivered(self, alert_ids: Sequence[int], sink: str, now: datetime) -> None:
        """Record the sink's acceptance of these alerts (one message: an alert, or a digest):
        delivered at ``now``, one more attempt each, in one transaction. ValueError, with nothing
        changed, unless every delivery exists and is pending."""

    @abc.abstractmethod
    def mark_failed(
        self, alert_ids: Sequence[int], sink: str, error: str, retry_at: datetime
    ) -> list[Delivery]:
        """Record a failed attempt that may succeed later: one more attempt each, ``error`` kept,
        due again at ``retry_at``, in one transaction; the updated deliveries. ValueError, with
        nothing changed, unless every delivery exists and is pending."""

    @abc.abstractmethod
    def park(self, alert_ids: Sequence[int], sink: str, now: datetime, reason: str) -> None:
        """Record that the sink refused these alerts for good: parked at ``now`` with ``reason``,
        one more attempt each, never offered again; one transaction. ValueError, with nothing
        changed, unless every delivery exists and is pending."""

    @abc.abstractmethod
    def prune_alerts(self, before: datetime) -> int:
        """Delete the alerts created before ``before`` with no pending delivery (all delivered or
        parked, or never routed: no sink was configured), with their deliveries, except the latest
        alert about each finding (it decides when a reminder is due); how many alerts went. Alert
        ids are never reused."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Raise StateError unless a write transaction can be started now (for ``/readyz``)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the storage; idempotent. Any later call raises StateError."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
