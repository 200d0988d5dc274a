"""What people read about spikes, as typed values: summary, banner, dashboard, one escalation,
history.

The engine answers every read with a frozen attrs value from this module; the faces turn it
into JSON (``to_json``: the shapes the HTTP API has always returned) or HTML (the dashboard's
templates). Values hold data only, never markup: ticket text stays the hostile text it was, and
whoever renders it escapes it.

:class:`ReadViews` is the engine's part that builds them (mixed into
:class:`~ticketspike.engine.Engine`, like the episode acts). It reads the store in bulk (one
query per table for the whole dashboard, not one per card), so a page of a thousand
escalations costs a handful of reads. It never writes and never reads the clock: every
"now" is passed in.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import attrs

from ._excerpts import EXCERPT_CHARS, ticket_excerpt
from .errors import InputError
from .model import Category, Priority, Ticket, check_customer_id
from .store.base import ActionRecord, ActionStatus, EpisodeRecord, TicketRecord
from .store.dashboard_reads import ActionLine, DashboardReads
from .store.ticket_heads import ticket_heads

if TYPE_CHECKING:
    from .model import Account
    from .signals import Assessment
    from .store.base import Store
    from .store.interactions import InteractionRecord

__all__ = [
    "ActionTaken",
    "Banner",
    "Dashboard",
    "EscalationCard",
    "EscalationPage",
    "HistoryRow",
    "HourCount",
    "MetricSample",
    "Panel",
    "PanelItem",
    "PERIODS",
    "Progress",
    "ReadViews",
    "SpikeTicket",
    "SuccessMetrics",
    "Summary",
    "TimelineEntry",
    "safe_url",
    "success_metrics",
]

PERIODS = ("day", "week", "month")


def safe_url(value: object) -> str | None:
    """``value`` when it is an absolute http(s) URL, else None: ticket and account links are
    hostile, and a ``javascript:`` link must never reach an ``href`` or ``src``."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value


def _round(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


# -- summary --------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Summary:
    """``GET /api/support/summary/{customerId}``: recent tickets, baseline, rate."""

    customer_id: str
    recent_tickets: tuple[Ticket, ...]
    baseline: float
    current_rate: float
    is_spike: bool
    themes: tuple[str, ...]
    severity: str
    multiplier: float | None
    ticket_count: int
    period_hours: float
    at: datetime
    #: the whole length of each body that ``recent_tickets`` carry cut to an excerpt
    body_lengths: Mapping[tuple[str, str], int] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "customerId": self.customer_id,
            # excerpts: a summary stays small however long the bodies; one ticket is read whole
            "recentTickets": [
                ticket_excerpt(t, length=self.body_lengths.get(t.key)) for t in self.recent_tickets
            ],
            "baseline": self.baseline,
            "currentRate": self.current_rate,
            "isSpike": self.is_spike,
            "themes": list(self.themes),
            "severity": self.severity,
            "multiplier": self.multiplier,
            "ticketCount": self.ticket_count,
            "periodHours": self.period_hours,
            "at": self.at.isoformat(),
        }


# -- banner ---------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Banner:
    """The customer banner: is there an active spike, its count and trend, and where to look.

    ``link`` is where the summary lives; a face that knows its mount point replaces it
    (:func:`attrs.evolve`). ``customer_name`` is for people (not in the JSON form).
    """

    customer_id: str
    customer_name: str
    active: bool
    episode_id: str | None
    severity: str
    ticket_count: int
    previous_count: int
    trend: str  # rising, falling or steady
    period_hours: float
    link: str
    ticket_links: Mapping[str, str] = attrs.field(factory=dict)
    quick_action: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "customerId": self.customer_id,
            "active": self.active,
            "episodeId": self.episode_id,
            "severity": self.severity,
            "ticketCount": self.ticket_count,
            "previousCount": self.previous_count,
            "trend": self.trend,
            "periodHours": self.period_hours,
            "link": self.link,
            "ticketLinks": dict(self.ticket_links),
            "quickAction": self.quick_action,
        }


# -- dashboard cards ------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ActionTaken:
    """One planned action from the action ledger, with where it stands."""

    kind: str
    step: str
    status: str
    summary: str
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "step": self.step,
            "status": self.status,
            "summary": self.summary,
            "error": self.error,
        }


@attrs.frozen(kw_only=True)
class Progress:
    """How far the escalation is: actions done of planned, and the spike's tickets resolved
    of total (the dashboard's "resolution progress")."""

    stage: str
    actions_done: int
    actions_total: int
    failed: int
    plan: Mapping[str, Any]
    tickets_resolved: int
    tickets_total: int

    @property
    def percent_resolved(self) -> int:
        """Resolved tickets as a whole percentage (0 when the spike has none)."""
        if not self.tickets_total:
            return 0
        return int(100 * self.tickets_resolved / self.tickets_total)

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "actionsDone": self.actions_done,
            "actionsTotal": self.actions_total,
            "failed": self.failed,
            "plan": dict(self.plan),
            "ticketsResolved": self.tickets_resolved,
            "ticketsTotal": self.tickets_total,
        }


@attrs.frozen(kw_only=True)
class EscalationCard:
    """One active escalation on the dashboard."""

    customer_id: str
    customer_name: str
    logo_url: str | None
    episode_id: str
    severity: str
    status: str
    suppressed: str | None
    detected_at: datetime
    hours_since_detection: float
    actions: tuple[ActionTaken, ...]
    progress: Progress
    ticket_count: int | None
    multiplier: float | None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    snoozed_until: datetime | None = None
    csm: str | None = None

    @property
    def actions_digest(self) -> str:
        """The actions in one line, by kind in plan order: ``direct message x5 (done), create
        task (done), notify team x3 (2 done, 1 failed)``."""
        groups: dict[str, dict[str, int]] = {}
        for action in self.actions:
            counts = groups.setdefault(action.kind, {})
            counts[action.status] = counts.get(action.status, 0) + 1
        parts = []
        for kind, counts in groups.items():
            total = sum(counts.values())
            label = kind.replace("_", " ") + (f" x{total}" if total > 1 else "")
            if len(counts) == 1:
                parts.append(f"{label} ({next(iter(counts))})")
            else:
                states = ", ".join(f"{n} {status}" for status, n in counts.items())
                parts.append(f"{label} ({states})")
        return ", ".join(parts)

    @property
    def since_detection(self) -> str:
        """The age for people: ``45 min``, ``3 h 10 min``, ``2 d 4 h``."""
        return duration_text(self.hours_since_detection * 3600)

    def to_json(self) -> dict[str, Any]:
        return {
            "customerId": self.customer_id,
            "customerName": self.customer_name,
            "logoUrl": self.logo_url,
            "episodeId": self.episode_id,
            "severity": self.severity,
            "status": self.status,
            "suppressed": self.suppressed,
            "detectedAt": self.detected_at.isoformat(),
            "hoursSinceDetection": self.hours_since_detection,
            "actionsTaken": [a.to_json() for a in self.actions],
            "progress": self.progress.to_json(),
            "ticketCount": self.ticket_count,
            "multiplier": self.multiplier,
            "acknowledgedBy": self.acknowledged_by,
            "acknowledgedAt": None
            if self.acknowledged_at is None
            else self.acknowledged_at.isoformat(),
            "snoozedUntil": None if self.snoozed_until is None else self.snoozed_until.isoformat(),
        }


@attrs.frozen(kw_only=True)
class Dashboard:
    """Every active escalation at ``generated_at``, oldest first."""

    generated_at: datetime
    escalations: tuple[EscalationCard, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "generatedAt": self.generated_at.isoformat(),
            "escalations": [c.to_json() for c in self.escalations],
        }


# -- one escalation -------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class TimelineEntry:
    """One line of an escalation's history: a transition, a person's act or an action."""

    at: datetime
    type: str  # transition, act or action
    what: str
    detail: str = ""
    status: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "type": self.type,
            "what": self.what,
            "detail": self.detail,
            "status": self.status,
        }


@attrs.frozen(kw_only=True)
class SpikeTicket:
    """A ticket of the spike with its status; ``url`` only when it is a safe http(s) link."""

    ticket_id: str
    subject: str
    category: str
    priority: str
    created_at: datetime
    status: str
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ticketId": self.ticket_id,
            "subject": self.subject,
            "category": self.category,
            "severity": self.priority,
            "createdAt": self.created_at.isoformat(),
            "status": self.status,
            "url": self.url,
        }


@attrs.frozen(kw_only=True)
class HourCount:
    """Tickets created in the clock hour starting at ``hour``."""

    hour: datetime
    count: int


@attrs.frozen(kw_only=True)
class PanelItem:
    """One line of a panel: a label, a value, an optional safe link, and optionally a button
    (``action``: a dashboard act on the escalation, posted with ``target`` and the CSRF token)."""

    label: str
    value: str = ""
    url: str | None = None
    action: str | None = None
    target: str = ""
    action_label: str = ""


@attrs.frozen(kw_only=True)
class Panel:
    """A section of the escalation page that some part of the system contributes.

    The page renders every panel the same way (a heading, its items, or ``empty`` when it
    has none), so a new kind of record (tasks, say) joins the page by adding a panel
    provider (:meth:`ReadViews.add_panel_provider`), with no template change.
    """

    key: str
    title: str
    items: tuple[PanelItem, ...] = ()
    empty: str = "Nothing yet."

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "items": [{"label": i.label, "value": i.value, "url": i.url} for i in self.items],
        }


PanelProvider = Callable[[EpisodeRecord], "Panel | None"]


@attrs.frozen(kw_only=True)
class EscalationPage:
    """Everything about one escalation: its card, timeline, tickets, themes, breakdowns, the
    hourly counts against the baseline, and the panels other parts contribute."""

    card: EscalationCard
    resolved_at: datetime | None
    timeline: tuple[TimelineEntry, ...]
    tickets: tuple[SpikeTicket, ...]
    themes: tuple[str, ...]
    category_breakdown: tuple[tuple[str, int], ...]
    severity_breakdown: tuple[tuple[str, int], ...]
    hourly: tuple[HourCount, ...]
    baseline_per_hour: float
    explanation: str = ""
    panels: tuple[Panel, ...] = ()

    @property
    def peak(self) -> int:
        return max([h.count for h in self.hourly] or [0])

    def to_json(self) -> dict[str, Any]:
        return {
            **self.card.to_json(),
            "resolvedAt": None if self.resolved_at is None else self.resolved_at.isoformat(),
            "timeline": [e.to_json() for e in self.timeline],
            "tickets": [t.to_json() for t in self.tickets],
            "themes": list(self.themes),
            "ticketBreakdown": dict(self.category_breakdown),
            "severityBreakdown": dict(self.severity_breakdown),
            "hourly": [{"hour": h.hour.isoformat(), "count": h.count} for h in self.hourly],
            "baselinePerHour": round(self.baseline_per_hour, 4),
            "panels": [p.to_json() for p in self.panels],
        }


# -- history and success metrics ------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class MetricSample:
    """One episode's measured times in seconds (None: not happened yet, or not measurable).

    ``detection_lag``: from the instant the spike became detectable (the ticket or tick that
    opened it) to when ticketspike recorded it, so ingestion and detection delay both count.
    ``to_acknowledge``: from that record to the first acknowledgement.
    ``to_resolution``: from detection to resolution.
    """

    episode_id: str
    customer_id: str
    csm: str
    opened_at: datetime
    detection_lag: float | None
    to_acknowledge: float | None
    to_resolution: float | None


@attrs.frozen(kw_only=True)
class HistoryRow:
    """Medians over a group of episodes (a period or a CSM)."""

    label: str
    episodes: int
    acknowledged: int
    resolved: int
    detection_lag: float | None
    to_acknowledge: float | None
    to_resolution: float | None

    def to_json(self) -> dict[str, Any]:
        def minutes(value: float | None) -> float | None:
            return None if value is None else round(value / 60, 1)

        return {
            "label": self.label,
            "episodes": self.episodes,
            "acknowledged": self.acknowledged,
            "resolved": self.resolved,
            "detectionLagMinutes": minutes(self.detection_lag),
            "timeToAcknowledgeMinutes": minutes(self.to_acknowledge),
            "timeToResolutionMinutes": minutes(self.to_resolution),
        }


@attrs.frozen(kw_only=True)
class SuccessMetrics:
    """The success metrics over every episode: per period and per CSM, medians."""

    generated_at: datetime
    period: str
    overall: HistoryRow
    by_period: tuple[HistoryRow, ...]
    by_csm: tuple[HistoryRow, ...]
    samples: tuple[MetricSample, ...]
    detection_goal_seconds: float = 2 * 3600.0

    @property
    def within_detection_goal(self) -> int:
        """Episodes whose detection lag met the goal of two hours (docs/dashboard.md)."""
        return sum(
            1
            for s in self.samples
            if s.detection_lag is not None and s.detection_lag <= self.detection_goal_seconds
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "generatedAt": self.generated_at.isoformat(),
            "period": self.period,
            "overall": self.overall.to_json(),
            "withinDetectionGoal": self.within_detection_goal,
            "byPeriod": [r.to_json() for r in self.by_period],
            "byCsm": [r.to_json() for r in self.by_csm],
        }


def period_label(at: datetime, period: str) -> str:
    """The period ``at`` falls in: ``2026-03-02``, ``2026-W10`` or ``2026-03`` (UTC)."""
    at = at.astimezone(timezone.utc)
    if period == "day":
        return at.date().isoformat()
    if period == "week":
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{at.year}-{at.month:02d}"
    raise InputError(f"period: expected one of {', '.join(PERIODS)}", field="period")


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def _row(label: str, samples: Sequence[MetricSample]) -> HistoryRow:
    return HistoryRow(
        label=label,
        episodes=len(samples),
        acknowledged=sum(1 for s in samples if s.to_acknowledge is not None),
        resolved=sum(1 for s in samples if s.to_resolution is not None),
        detection_lag=_median(s.detection_lag for s in samples),
        to_acknowledge=_median(s.to_acknowledge for s in samples),
        to_resolution=_median(s.to_resolution for s in samples),
    )


def success_metrics(
    samples: Sequence[MetricSample], *, period: str, at: datetime
) -> SuccessMetrics:
    """Group measured episodes per period (of detection) and per CSM; medians of each time.

    Pure: the rows depend on the samples only, and every sample lands in exactly one period
    row and one CSM row.
    """
    if period not in PERIODS:
        raise InputError(f"period: expected one of {', '.join(PERIODS)}", field="period")
    by_period: dict[str, list[MetricSample]] = defaultdict(list)
    by_csm: dict[str, list[MetricSample]] = defaultdict(list)
    for sample in samples:
        by_period[period_label(sample.opened_at, period)].append(sample)
        by_csm[sample.csm].append(sample)
    return SuccessMetrics(
        generated_at=at,
        period=period,
        overall=_row("all", samples),
        by_period=tuple(_row(k, by_period[k]) for k in sorted(by_period, reverse=True)),
        by_csm=tuple(_row(k, by_csm[k]) for k in sorted(by_csm)),
        samples=tuple(samples),
    )


def duration_text(seconds: float | None) -> str:
    """A duration for people: ``under a minute``, ``45 min``, ``3 h 10 min``, ``2 d 4 h``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# -- building them --------------------------------------------------------------------------------
_NO_CSM = "(no CSM)"


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@attrs.define
class _Ledger:
    """The store's tables read once and grouped by episode, for building many cards."""

    actions: dict[str, list[ActionRecord | ActionLine]]
    plans: dict[str, Mapping[str, Any]]
    acks: dict[str, InteractionRecord]
    snoozed: dict[str, datetime]


class ReadViews:
    """The reads part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    store: Store
    account: Callable[[str], Account | None]
    check: Callable[..., Assessment]
    _window_tickets: Callable[[Assessment], tuple[list[Ticket], list[Ticket]]]

    # -- extension: panels on the escalation page ------------------------------------------
    def add_panel_provider(self, provider: PanelProvider) -> None:
        """Add a section to every escalation page: ``provider(episode)`` returns a
        :class:`Panel` (or None to show nothing for that episode)."""
        providers: list[PanelProvider] = self._panel_providers()
        providers.append(provider)

    def _panel_providers(self) -> list[PanelProvider]:
        providers: list[PanelProvider] | None = getattr(self, "_panels", None)
        if providers is None:
            providers = [self._war_room_panel, self._drafts_panel]
            self._panels = providers
        return providers

    # -- summary and banner ----------------------------------------------------------------
    def summary(self, customer_id: str, *, at: datetime, limit: int = 100) -> Summary:
        """``GET /api/support/summary/{customerId}``: recent tickets, baseline, rate."""
        customer_id = check_customer_id(customer_id, where="summary")
        assessment = self.check(customer_id, at=at)
        # Excerpts only: a summary never reads or decodes whole bodies.
        heads = ticket_heads(
            self.store,
            customer_id,
            since=assessment.period_start,
            until=assessment.period_end,
            body_chars=EXCERPT_CHARS,
        )
        heads.sort(key=lambda h: h.ticket.created_at, reverse=True)
        recent = heads[:limit]
        days = assessment.period_hours / 24.0 if assessment.period_hours else 1.0
        return Summary(
            customer_id=customer_id,
            recent_tickets=tuple(h.ticket for h in recent),
            body_lengths={h.ticket.key: h.body_length for h in recent if h.body_truncated},
            baseline=round(assessment.baseline_daily_avg, 4),
            current_rate=round(assessment.ticket_count / days, 4),
            is_spike=assessment.is_spike,
            themes=tuple(assessment.themes),
            severity=assessment.severity.value,
            multiplier=None
            if assessment.spike_multiplier == float("inf")
            else round(assessment.spike_multiplier, 2),
            ticket_count=assessment.ticket_count,
            period_hours=assessment.period_hours,
            at=at,
        )

    def banner(self, customer_id: str, *, at: datetime) -> Banner:
        """The customer banner: is there an active spike, its count and trend, and where to look."""
        customer_id = check_customer_id(customer_id, where="banner")
        episode = self.store.active_episode(customer_id)
        assessment = self.check(customer_id, at=at)
        previous = len(
            ticket_heads(
                self.store,
                customer_id,
                since=assessment.period_start - timedelta(hours=assessment.period_hours or 24),
                until=assessment.period_start,
                body_chars=0,
            )
        )
        count = assessment.ticket_count
        trend = "rising" if count > previous else "falling" if count < previous else "steady"
        account = self.account(customer_id)
        return Banner(
            customer_id=customer_id,
            customer_name=account.display_name if account else customer_id,
            active=episode is not None,
            episode_id=episode.episode_id if episode else None,
            severity=episode.severity if episode else assessment.severity.value,
            ticket_count=count,
            previous_count=previous,
            trend=trend,
            period_hours=assessment.period_hours,
            link=f"/api/support/summary/{quote(customer_id, safe='')}",
            ticket_links=dict(assessment.ticket_links),
            quick_action="Address Spike" if episode is not None else None,
        )

    # -- the dashboard -----------------------------------------------------------------------
    def _ledger(
        self,
        at: datetime,
        lines: Iterable[ActionRecord | ActionLine] = (),
        plans: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> _Ledger:
        actions: dict[str, list[ActionRecord | ActionLine]] = defaultdict(list)
        for action in lines:
            actions[action.episode_id].append(action)
        if plans is None:
            plans = {
                episode_id: self._plan_progress(max(records, key=lambda a: a.seq).plan_id)
                for episode_id, records in actions.items()
            }
        acks: dict[str, InteractionRecord] = {}
        for act in self.store.interactions():
            if act.kind == "acknowledge" and act.outcome == "done" and act.episode_id:
                acks.setdefault(act.episode_id, act)
        snoozed: dict[str, datetime] = {}
        for silence in self.store.recorded_silences(active_at=at):
            snoozed[silence.customer_id] = max(
                silence.end, snoozed.get(silence.customer_id, silence.end)
            )
        return _Ledger(actions=actions, plans=dict(plans), acks=acks, snoozed=snoozed)

    def _progress_memo(self) -> dict[str, Mapping[str, Any]]:
        cache: dict[str, Mapping[str, Any]] | None = getattr(self, "_progress_cache", None)
        if cache is None or len(cache) > 100_000:
            cache = {}
            self._progress_cache: dict[str, Mapping[str, Any]] = cache
        return cache

    def _plan_progress(self, plan_id: str) -> Mapping[str, Any]:
        """A plan's ``progress``, remembered: a recorded plan never changes, and decoding
        a thousand plans per page would cost seconds."""
        cache = self._progress_memo()
        found = cache.get(plan_id)
        if found is None:
            record = self.store.plan(plan_id)
            found = dict(record.plan.progress) if record is not None else {}
            cache[plan_id] = found
        return found

    def _spike_tickets(self, episode: EpisodeRecord, at: datetime) -> list[TicketRecord]:
        """The spike's customer-initiated tickets: created from the start of the window that
        opened it until it resolved (or ``at``)."""
        start, end = _spike_span(episode, at)
        return self.store.tickets(
            customer_id=episode.customer_id, since=start, until=end, include_internal=False
        )

    def _spike_counts(self, episode: EpisodeRecord, at: datetime) -> tuple[int, int]:
        """``(resolved, total)`` of the spike's tickets, from the store's columns when it can."""
        if isinstance(self.store, DashboardReads):
            start, end = _spike_span(episode, at)
            return self.store.ticket_status_counts(episode.customer_id, since=start, until=end)
        tickets = self._spike_tickets(episode, at)
        return sum(1 for t in tickets if t.status == "resolved"), len(tickets)

    def _card(
        self, episode: EpisodeRecord, at: datetime, ledger: _Ledger, counts: tuple[int, int]
    ) -> EscalationCard:
        account = self.account(episode.customer_id)
        actions = ledger.actions.get(episode.episode_id, [])
        ack = ledger.acks.get(episode.episode_id)
        csm = account.csm.name if account and account.csm and account.csm.name else None
        return EscalationCard(
            customer_id=episode.customer_id,
            customer_name=account.display_name if account else episode.customer_id,
            logo_url=safe_url(getattr(account, "logo_url", None)),
            episode_id=episode.episode_id,
            severity=episode.severity,
            status=episode.status,
            suppressed=episode.suppressed,
            detected_at=episode.opened_at,
            hours_since_detection=round((at - episode.opened_at).total_seconds() / 3600, 1),
            actions=tuple(
                ActionTaken(
                    kind=a.kind,
                    step=a.step_id,
                    status=a.status.value,
                    summary=a.summary,
                    error=a.error,
                )
                for a in actions
            ),
            progress=Progress(
                stage=episode.last_transition,
                actions_done=sum(1 for a in actions if a.status is ActionStatus.DONE),
                actions_total=len(actions),
                failed=sum(1 for a in actions if a.status is ActionStatus.FAILED),
                plan=dict(ledger.plans.get(episode.episode_id, {})),
                tickets_resolved=counts[0],
                tickets_total=counts[1],
            ),
            ticket_count=_int(episode.metadata.get("ticket_count")),
            multiplier=_float(episode.metadata.get("spike_multiplier")),
            acknowledged_by=ack.by if ack else None,
            acknowledged_at=ack.at if ack else None,
            snoozed_until=ledger.snoozed.get(episode.customer_id),
            csm=csm,
        )

    def dashboard(self, *, at: datetime) -> Dashboard:
        """The dashboard: one card per active episode (severity, age, actions, progress), oldest
        first."""
        store = self.store
        if isinstance(store, DashboardReads):
            latest = store.active_plan_ids()
            cache = self._progress_memo()
            missing = [p for p in set(latest.values()) if p not in cache]
            if missing:
                cache.update(store.plan_progress(missing))
            progress = {e: cache.get(p, {}) for e, p in latest.items()}
            ledger = self._ledger(at, store.active_action_lines(), progress)
            episodes = store.episodes(active_only=True)
            cards = []
            for episode in episodes:
                since, until = _spike_span(episode, at)
                counts = store.ticket_status_counts(episode.customer_id, since=since, until=until)
                cards.append(self._card(episode, at, ledger, counts))
        else:
            ledger = self._ledger(at, store.actions())
            cards = [
                self._card(episode, at, ledger, self._spike_counts(episode, at))
                for episode in store.episodes(active_only=True)
            ]
        return Dashboard(generated_at=at, escalations=tuple(cards))

    # -- one escalation ----------------------------------------------------------------------
    def escalation(self, episode_id: str, *, at: datetime) -> EscalationPage | None:
        """Everything about one episode (active or resolved), or None when there is none."""
        episode = self.store.episode(str(episode_id))
        if episode is None:
            return None
        ledger = self._ledger(at, self.store.actions(episode_id=episode.episode_id))
        records = self._spike_tickets(episode, at)
        resolved = sum(1 for r in records if r.status == "resolved")
        card = self._card(episode, at, ledger, (resolved, len(records)))
        meta = episode.metadata
        start = _when(meta.get("period_start")) or episode.opened_at
        end = episode.resolved_at or at
        baseline_daily = _float(meta.get("baseline_daily_avg")) or 0.0
        categories: dict[str, int] = defaultdict(int)
        priorities: dict[str, int] = defaultdict(int)
        for r in records:
            categories[r.ticket.category.value] += 1
            priorities[r.ticket.priority.value] += 1
        themes = meta.get("common_themes")
        panels = tuple(
            panel
            for panel in (provider(episode) for provider in self._panel_providers())
            if panel is not None
        )
        return EscalationPage(
            card=card,
            resolved_at=episode.resolved_at,
            timeline=tuple(self._timeline(episode)),
            tickets=tuple(
                SpikeTicket(
                    ticket_id=r.ticket.ticket_id,
                    subject=r.ticket.subject,
                    category=r.ticket.category.value,
                    priority=r.ticket.priority.value,
                    created_at=r.ticket.created_at,
                    status=r.status,
                    url=safe_url(r.ticket.url),
                )
                for r in sorted(records, key=lambda r: r.ticket.created_at, reverse=True)
            ),
            themes=tuple(str(t) for t in themes) if isinstance(themes, list) else (),
            category_breakdown=tuple(
                (c.value, categories[c.value]) for c in Category if categories.get(c.value)
            ),
            severity_breakdown=tuple(
                (p.value, priorities[p.value]) for p in Priority if priorities.get(p.value)
            ),
            hourly=tuple(hourly_counts((r.ticket.created_at for r in records), start, end)),
            baseline_per_hour=baseline_daily / 24.0,
            explanation=str(meta.get("explanation") or ""),
            panels=panels,
        )

    def _timeline(self, episode: EpisodeRecord) -> list[TimelineEntry]:
        out: list[tuple[datetime, int, TimelineEntry]] = []
        for t in self.store.transitions(episode_id=episode.episode_id):
            detail = t.severity + (f" (suppressed: {t.suppressed})" if t.suppressed else "")
            out.append(
                (t.at, 0, TimelineEntry(at=t.at, type="transition", what=t.kind, detail=detail))
            )
        for r in self.store.interactions(episode_id=episode.episode_id):
            detail = f"by {r.by}"
            if r.kind == "snooze" and r.data.get("until"):
                detail += f" until {r.data['until']}"
            out.append(
                (
                    r.at,
                    1,
                    TimelineEntry(
                        at=r.at, type="act", what=r.kind, detail=detail, status=r.outcome
                    ),
                )
            )
        for a in self.store.actions(episode_id=episode.episode_id):
            if a.status in (ActionStatus.DONE, ActionStatus.FAILED):
                entry = TimelineEntry(
                    at=a.updated_at,
                    type="action",
                    what=a.kind,
                    detail=a.summary if a.status is ActionStatus.DONE else (a.error or ""),
                    status=a.status.value,
                )
                out.append((a.updated_at, 2, entry))
        out.sort(key=lambda x: (x[0], x[1]))
        return [entry for _at, _rank, entry in out]

    def _war_room_panel(self, episode: EpisodeRecord) -> Panel | None:
        rooms = [
            r
            for r in self.store.interactions(episode_id=episode.episode_id)
            if r.kind == "war_room" and r.outcome == "done"
        ]
        items = tuple(
            PanelItem(
                label=str(r.data.get("name") or r.data.get("channel") or "war room"),
                value=f"opened by {r.by}",
                url=safe_url(r.data.get("url")),
            )
            for r in rooms[:1]
        )
        return Panel(key="war_room", title="War room", items=items, empty="No war room.")

    def _drafts_panel(self, episode: EpisodeRecord) -> Panel | None:
        drafts = self.store.drafts(episode_id=episode.episode_id)
        items = tuple(
            PanelItem(label=d.subject, value=f"{d.status.value}, to {d.to}") for d in drafts
        )
        return Panel(key="drafts", title="Acknowledgement e-mails", items=items, empty="No draft.")

    # -- history ------------------------------------------------------------------------------
    def success_metrics(self, *, at: datetime, period: str = "week") -> SuccessMetrics:
        """The success metrics: detection lag, time to acknowledge and time to resolution, per
        period and per CSM, over every episode the store keeps (suppressed ones paged nobody and
        are left out)."""
        if period not in PERIODS:
            raise InputError(f"period: expected one of {', '.join(PERIODS)}", field="period")
        recorded: dict[str, datetime] = {}
        detectable: dict[str, datetime] = {}
        for t in self.store.transitions():
            if t.kind == "opened":
                recorded[t.episode_id] = t.recorded_at
                detectable[t.episode_id] = t.at
        acks = self._ledger(at).acks
        samples: list[MetricSample] = []
        for episode in self.store.episodes():
            if episode.suppressed is not None:
                continue
            account = self.account(episode.customer_id)
            alerted = recorded.get(episode.episode_id)
            became = detectable.get(episode.episode_id, episode.opened_at)
            ack = acks.get(episode.episode_id)
            samples.append(
                MetricSample(
                    episode_id=episode.episode_id,
                    customer_id=episode.customer_id,
                    csm=account.csm.name
                    if account and account.csm and account.csm.name
                    else _NO_CSM,
                    opened_at=episode.opened_at,
                    detection_lag=None
                    if alerted is None
                    else max(0.0, (alerted - became).total_seconds()),
                    to_acknowledge=None
                    if ack is None
                    else max(0.0, (ack.at - (alerted or episode.opened_at)).total_seconds()),
                    to_resolution=None
                    if episode.resolved_at is None
                    else max(0.0, (episode.resolved_at - episode.opened_at).total_seconds()),
                )
            )
        return success_metrics(samples, period=period, at=at)


def _spike_span(episode: EpisodeRecord, at: datetime) -> tuple[datetime, datetime]:
    start = _when(episode.metadata.get("period_start")) or episode.opened_at
    return start, episode.resolved_at or at


def hourly_counts(
    created: Iterable[datetime], start: datetime, end: datetime, *, most: int = 168
) -> list[HourCount]:
    """Tickets per clock hour from ``start``'s hour to ``end``'s, at most ``most`` hours
    (the latest ones)."""
    first = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    last = end.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    hours = max(1, int((last - first).total_seconds() // 3600) + 1)
    if hours > most:
        first = last - timedelta(hours=most - 1)
        hours = most
    counts = [0] * hours
    for when in created:
        index = int((when.astimezone(timezone.utc) - first).total_seconds() // 3600)
        if 0 <= index < hours:
            counts[index] += 1
    return [HourCount(hour=first + timedelta(hours=i), count=n) for i, n in enumerate(counts)]
