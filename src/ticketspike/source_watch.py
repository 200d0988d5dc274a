"""Noticing a ticket source that went quiet: the engine's part (mixed into the engine).

What counts as a delivery of which source:

* a webhook the source plugin verified (any topic, even one it ignores) counts for the
  plugin's name (``zendesk``, ``intercom``, ``ticket`` for the canonical endpoint), at the
  time it was received; one whose signature fails is counted as a *failure* of that source
  (in this process only: forged requests must not be able to write to the store);
* a ticket event a host hands the engine (:meth:`~ticketspike.engine.Engine.ingest`,
  ``ticketspike run``) counts for the ticket's ``source``, at the event's time;
* backfills and re-resolves are history fetched on purpose, not deliveries.

The rhythm of each source is learned and judged by :mod:`ticketspike.source_health` and kept
in the store (:mod:`ticketspike.store.source_health`), so a restart keeps it. Each
:meth:`~ticketspike.engine.Engine.tick` judges every known source: one that went quiet gets
ONE warning, planned like any other notification (a channel post, by default to the
coordination channel) under a key naming the source and the warning's number, so the executor
posts it once; when its deliveries resume the warning clears, with a "resumed" note unless
``quiet_sources.resumed_note`` is false.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

from .planner.message import AlertMessage, MessageKind
from .planner.plan import ChannelPost, EscalationPlan
from .signals import Severity, TransitionKind
from .source_health import (
    SourcePolicy,
    SourceRhythm,
    Verdict,
    cleared,
    judge,
    observe,
    resumed,
    source_policy_from_section,
    warned,
)
from .store.source_health import RhythmHead

if TYPE_CHECKING:
    from .config import Config
    from .limits import IngestLimits
    from .model import TicketEvent
    from .store.base import Store

__all__ = ["SourceWatch", "describe_duration", "safe_source_name", "source_report"]

log = logging.getLogger("ticketspike.engine")

_CAS_TRIES = 8
_INIT_LOCK = threading.Lock()
_NAME_CHARS = 80


def safe_source_name(source: str) -> str:
    """A source name fit for a message: printable, on one line, at most 80 characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(source))
    text = " ".join(text.split()) or "?"
    return text if len(text) <= _NAME_CHARS else text[: _NAME_CHARS - 1] + "…"


def describe_duration(seconds: float | None) -> str:
    """``45 min``, ``3.5 h``, ``2.0 days`` (``unknown`` for None)."""
    if seconds is None:
        return "unknown"
    if seconds < 90 * 60:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def source_report(
    store: Store,
    policy: SourcePolicy,
    *,
    at: datetime,
    failures: Mapping[str, int] | None = None,
) -> list[Verdict]:
    """Every known source's verdict at ``at``, by name (``ticketspike sources``, health)."""
    seen = failures or {}
    return [
        judge(rhythm, at.timestamp(), policy=policy, failures=seen.get(rhythm.source, 0))
        for _head, rhythm in store.source_rhythms()
    ]


class SourceWatch:
    """The quiet-source part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    store: Store
    config: Config
    clock: Callable[[], datetime]
    limits: IngestLimits
    execute_inline: bool

    # -- the policy -------------------------------------------------------------------
    @property
    def source_policy(self) -> SourcePolicy:
        """The ``quiet_sources:`` section (see :mod:`ticketspike.source_health`)."""
        cached: SourcePolicy | None = getattr(self, "_source_policy", None)
        if cached is None:
            section = self.config.section("quiet_sources")
            try:
                cached = source_policy_from_section(section)
            except ValueError as exc:
                if section is None:
                    raise
                raise section.error(None, str(exc)) from None
            self._source_policy = cached
        return cached

    def _failure_counts(self) -> dict[str, int]:
        """Signature failures per source since its last good delivery (this process)."""
        found: dict[str, int] | None = getattr(self, "_signature_failures", None)
        if found is None:
            with _INIT_LOCK:
                found = getattr(self, "_signature_failures", None)
                if found is None:
                    self._failures_lock = threading.Lock()
                    found = {}
                    self._signature_failures: dict[str, int] = found
        return found

    def _failure_snapshot(self) -> dict[str, int]:
        counts = self._failure_counts()
        with self._failures_lock:
            return dict(counts)

    # -- noting deliveries ----------------------------------------------------------------
    def note_signature_failure(self, source: str) -> None:
        """A delivery for ``source`` failed its signature check (kept in memory only)."""
        counts = self._failure_counts()
        with self._failures_lock:
            if source in counts or len(counts) < self.source_policy.max_sources:
                counts[source] = counts.get(source, 0) + 1

    def note_deliveries(self, deliveries: Mapping[str, Iterable[datetime]]) -> None:
        """Learn from deliveries (source -> times); call inside the batch's transaction."""
        if not self.source_policy.enabled:
            return
        horizon = self.clock() + self.limits.skew
        for source, times in deliveries.items():
            stamps = [t.timestamp() for t in times if t <= horizon]
            if stamps:
                self._note(source, stamps)
                counts = self._failure_counts()
                with self._failures_lock:
                    counts.pop(source, None)  # a good delivery: its webhook works

    def note_events(self, events: Iterable[TicketEvent]) -> None:
        """:meth:`note_deliveries` for ticket events handed to the engine, at their times."""
        by_source: dict[str, list[datetime]] = {}
        for event in events:
            by_source.setdefault(event.ticket.source, []).append(event.at)
        self.note_deliveries(by_source)

    def _note(self, source: str, stamps: list[float]) -> None:
        policy = self.source_policy
        for _ in range(_CAS_TRIES):
            with self.store.transaction():
                rhythm = self._current_rhythm(source)
                if rhythm is None:
                    if len(self.store.source_names()) >= policy.max_sources:
                        if not getattr(self, "_told_full", False):
                            self._told_full = True  # once: hostile files name many sources
                            log.warning(
                                "not learning the rhythm of source %s (nor of other new "
                                "ones): %d sources are known already (quiet_sources."
                                "max_sources)",
                                safe_source_name(source),
                                policy.max_sources,
                            )
                        return
                    version = 0
                else:
                    version = self._rhythm_cache[source][0].version
                updated = observe(rhythm, source, stamps, policy=policy)
                # Within the same ten-minute interval only the last delivery and the count
                # move: a small write (see store.source_health).
                learned = rhythm is None or updated.open_ts != rhythm.open_ts
                if self.store.put_source_rhythm(
                    updated, version=version, at=self.clock(), learned=learned
                ):
                    if learned:  # its new revision is the store's: read it whole next time
                        self._rhythm_cache.pop(source, None)
                    else:
                        head = self._rhythm_cache[source][0]
                        self._rhythm_cache[source] = (
                            RhythmHead(version + 1, head.rev, updated.last_ts, updated.deliveries),
                            updated,
                        )
                    return
        log.warning("source %s: its rhythm kept changing under us; skipped", source)

    @property
    def _rhythm_cache(self) -> dict[str, tuple[RhythmHead, SourceRhythm]]:
        cache: dict[str, tuple[RhythmHead, SourceRhythm]] | None = getattr(
            self, "_rhythms_seen", None
        )
        if cache is None:
            cache = {}
            self._rhythms_seen = cache
        return cache

    def _current_rhythm(self, source: str) -> SourceRhythm | None:
        """The stored rhythm, read whole only when its learned part changed since we last
        saw it (another process, or a restart); else the cached one with the new counts."""
        head = self.store.source_rhythm_head(source)
        if head is None:
            self._rhythm_cache.pop(source, None)
            return None
        cached = self._rhythm_cache.get(source)
        if cached is not None and cached[0].rev == head.rev:
            rhythm = cached[1]
            if (rhythm.last_ts, rhythm.deliveries) != (head.last_ts, head.deliveries):
                rhythm = attrs.evolve(rhythm, last_ts=head.last_ts, deliveries=head.deliveries)
            self._rhythm_cache[source] = (head, rhythm)
            return rhythm
        found = self.store.source_rhythm(source)
        if found is None:
            return None
        self._rhythm_cache[source] = found
        return found[1]

    # -- judging ------------------------------------------------------------------------
    def source_statuses(self, at: datetime | None = None) -> list[Verdict]:
        """Every known source's verdict at ``at`` (default now)."""
        return source_report(
            self.store, self.source_policy, at=at or self.clock(), failures=self._failure_snapshot()
        )

    def check_sources(self, at: datetime) -> list[str]:
        """Warn once about each source gone quiet at ``at``, and clear warnings whose source
        resumed; returns the ids of the plans recorded (the executor delivers them)."""
        policy = self.source_policy
        failures = self._failure_snapshot()
        planned: list[str] = []
        now = at.timestamp()
        for head, rhythm in self.store.source_rhythms():
            version = head.version
            verdict = judge(rhythm, now, policy=policy, failures=failures.get(rhythm.source, 0))
            plan: EscalationPlan | None = None
            if rhythm.warned and (resumed(rhythm) or verdict.status == "disabled"):
                updated = cleared(rhythm)
                if resumed(rhythm) and policy.resumed_note:
                    plan = self._resumed_plan(rhythm, at)
                what = "resumed" if resumed(rhythm) else "no longer watched"
            elif not rhythm.warned and verdict.alarming:
                updated = warned(rhythm, verdict, at=now)
                plan = self._warning_plan(updated, verdict, at)
                what = verdict.status
            else:
                continue
            with self.store.transaction():
                if not self.store.put_source_rhythm(updated, version=version, at=at):
                    continue  # another process judged it first; it planned what was due
                if plan is not None and self.store.record_plan(
                    plan, plan_id=plan.episode_id, at=at
                ):
                    planned.append(plan.episode_id)
            log.warning("ticket source %s: %s", safe_source_name(rhythm.source), what)
        return planned

    # -- the messages -----------------------------------------------------------------
    def _warning_plan(self, rhythm: SourceRhythm, verdict: Verdict, at: datetime) -> EscalationPlan:
        name = safe_source_name(rhythm.source)
        since = _utc(rhythm.last_ts)
        lines = [
            f"No deliveries from ticket source {name} since {since} "
            f"({describe_duration(verdict.silence)} ago).",
        ]
        if verdict.status == "failing":
            title = "TICKET SOURCE FAILING SIGNATURES"
            lines.append(
                f"{verdict.failures} deliveries since then failed the signature check: the "
                "webhook's signing secret (or its signing) is probably wrong, so tickets are "
                "arriving but none is counted."
            )
        else:
            title = "TICKET SOURCE QUIET"
            lines.append(
                f"It usually delivers within {describe_duration(verdict.expected_gap)}; by "
                f"its learned rhythm a silence this long happens by chance less than once "
                f"in {_odds(self.source_policy.chance)}."
            )
            if verdict.failures:
                lines.append(
                    f"{verdict.failures} deliveries in that time failed the signature check."
                )
        lines.append(
            "Check the source's webhook and credentials; this warning clears by itself when "
            "deliveries resume."
        )
        return self._plan(rhythm, "quiet", title, lines, ":warning:", at)

    def _resumed_plan(self, rhythm: SourceRhythm, at: datetime) -> EscalationPlan:
        quiet = (rhythm.last_ts - (rhythm.quiet_since_ts or rhythm.last_ts)) or 0.0
        line = (
            f"Deliveries from ticket source {safe_source_name(rhythm.source)} resumed at "
            f"{_utc(rhythm.last_ts)} after {describe_duration(quiet)} of silence."
        )
        return self._plan(
            rhythm, "resumed", "TICKET SOURCE RESUMED", [line], ":white_check_mark:", at
        )

    def _plan(
        self,
        rhythm: SourceRhythm,
        what: str,
        title: str,
        lines: list[str],
        emoji: str,
        at: datetime,
    ) -> EscalationPlan:
        key = f"source:{rhythm.source}:{what}:{rhythm.warnings}"
        message = AlertMessage(
            kind=MessageKind.NOTE,
            title=title,
            customer_id="",
            customer_name="",
            severity=Severity.HIGH,
            lines=tuple(lines),
            emoji=emoji,
        )
        action = ChannelPost(
            step_id=f"source_{what}", key=key, channel=self.source_policy.channel, message=message
        )
        return EscalationPlan(
            episode_id=key,
            transition=TransitionKind.OPENED,
            customer_id="",
            severity=Severity.HIGH,
            at=at,
            actions=(action,),
            progress={"stage": f"source_{what}", "source": rhythm.source},
        )


def _odds(chance: float) -> str:
    odds = 1.0 / chance
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if odds >= size:
            return f"{odds / size:,.0f} {word}"
    return f"{odds:,.0f}"
