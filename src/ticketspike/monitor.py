"""The streaming spike monitor: detector and episode lifecycle, driven by tickets and ticks.

:class:`SpikeMonitor` is what production and ``replay`` feed: every ticket
event goes to :meth:`SpikeMonitor.ingest`, and the clock moves with
:meth:`SpikeMonitor.tick`. Time moves without tickets: an open episode is
re-evaluated at the hour boundaries where it can change (its count falling
below the resolve line, its quiet period running out), so spikes resolve on
time, and each day boundary, where the baseline shifts, re-evaluates every
open episode and every customer whose window could be a spike under the new
baseline (so a spike that starts when the baseline drops at midnight is
caught). The result is what judging every open episode every hour would give
(property-tested against exactly that), without visiting customers in whom
nothing can change. Crossing boundaries happens on its own when a ticket
moves the clock, so a caller that only ingests still gets the ticks in
between.

Pure in the sense that matters: the caller supplies every timestamp, nothing
reads the clock or does I/O, and each customer's state exports to JSON so a
host can persist it and carry on in another process.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from .detect.assess import epoch_hour, history_known
from .detect.baseline import smallest_count
from .detect.policy import DetectionPolicy
from .detect.stream import CustomerWindow, Detector
from .lifecycle import (
    EpisodeState,
    LifecyclePolicy,
    Silence,
    advance_episode,
    close_episode,
    mark_quiet,
)
from .model import Account, EventKind, TicketEvent, TicketRow, event_row
from .signals import Assessment, Severity, Transition

__all__ = ["SpikeMonitor", "replay_events", "replay_rows"]

UTC = timezone.utc
_STATE_VERSION = 1
_NEVER = 1 << 62
_RESOLVED = EventKind.RESOLVED
_UPDATED = EventKind.UPDATED


class SpikeMonitor:
    """Streaming spike detection with one episode per spike.

    ``accounts`` (customer id -> :class:`~ticketspike.model.Account`) gives
    segments and sizes for industry baselines and segment silences; an
    account passed to :meth:`ingest` or :meth:`assess` replaces the stored one.

    ``watching_since`` is when the monitor started watching the source (a
    backfill counts as watching). With it, a customer first seen less than
    ``baseline_days`` after that instant, and whose account gives no
    ``first_seen``, has an *unknown* history: it warms up (no alert until
    ``min_history_days`` have passed since watching started, then judged
    against its own days only), never against the industry rate. A
    customer first seen later is genuinely new. Without it (the default),
    every ticket the monitor sees is taken as the customer's whole history.
    """

    def __init__(
        self,
        policy: DetectionPolicy | None = None,
        lifecycle: LifecyclePolicy | None = None,
        silences: Sequence[Silence] = (),
        accounts: Mapping[str, Account] | None = None,
        *,
        watching_since: datetime | None = None,
    ) -> None:
        self.policy = policy or DetectionPolicy()
        self.lifecycle = lifecycle or LifecyclePolicy()
        self.silences = tuple(silences)
        self.detector = Detector(self.policy)
        self._accounts: dict[str, Account] = dict(accounts or {})
        self._states: dict[str, EpisodeState] = {}
        self._open: set[str] = set()  # customers with an open episode
        self._hot: set[str] = set()  # windows that may be spikes under tomorrow's baseline
        self._ticked: set[str] = set()  # counters the clock moved since the last midnight
        self._hot_min = self.policy.min_count if self.policy.mode == "gated" else 1
        self._quiet: dict[str, tuple[int, int]] = {}  # customer -> (day, count below = quiet)
        # Open episodes: (day, quiet below, escalate at, quiet now) as last evaluated.
        self._watch: dict[str, tuple[int, int, int, bool]] = {}
        # Open episodes are looked at only at the hours their state can change
        # (see _schedule): customer -> due hour, and a heap of (hour, customer)
        # whose entries are current only while they match that map.
        self._due: dict[str, int] = {}
        self._due_heap: list[tuple[int, str]] = []
        self._resolve_secs = self.lifecycle.resolve_after_hours * 3600.0
        self._window = self.policy.window_hours
        self._threshold = self.policy.threshold
        # The shortest window that can hold tickets at a day boundary (a 1-hour window
        # is the boundary's own hour, still empty when it is judged), as a share of the
        # full one: its expected count is floor x this.
        self._short_scale = (
            min(h for h in self.policy.windows if h >= 2 or h == self.policy.window_hours)
            / self.policy.window_hours
        )
        self._span = self.detector.span
        self._ring = self.policy.baseline_days + 2
        self._hot_len = self._ring + self._hot_min  # list length of a window that may be hot
        self._lateness = self.policy.lateness_hours * 3600.0
        self.clock: float | None = None  # newest time seen, as a POSIX timestamp
        self._clock_hour: int | None = None
        self._next_hour = 0.0  # where the clock hour ends, as a POSIX timestamp
        self.watching_since = watching_since
        self._watch_hour = None if watching_since is None else epoch_hour(watching_since)

    def watch_from(self, at: datetime) -> None:
        """Set when watching started (see the class), if it is not set yet.

        Customers created before the call keep the history they were given.
        """
        if self.watching_since is None:
            self.watching_since = at
            self._watch_hour = epoch_hour(at)

    # -- the clock -----------------------------------------------------------
    @property
    def now(self) -> datetime | None:
        """The newest time the monitor has seen (``None`` before anything)."""
        return None if self.clock is None else datetime.fromtimestamp(self.clock, tz=UTC)

    def tick(self, at: datetime) -> list[Transition]:
        """Move the clock to ``at``, evaluating every hour and day boundary crossed.

        Cheap: an hour boundary looks only at open episodes whose state can
        change then, a day boundary also at customers whose window could be
        a spike.
        """
        ts = at.timestamp()
        if self.clock is not None and ts <= self.clock:
            return []
        return self._move_clock(ts)

    def _move_clock(self, ts: float) -> list[Transition]:
        out: list[Transition] = []
        hour = int(ts // 3600)
        last = self._clock_hour
        if last is not None and hour > last:
            det = self.detector
            heap = self._due_heap
            due = self._due
            boundary = last + 1
            while boundary <= hour:
                if not self._open and not self._hot:
                    break
                b_at = datetime.fromtimestamp(boundary * 3600, tz=UTC)
                if boundary % 24 == 0:
                    # Every open episode is judged at the day boundary anyway.
                    while heap and heap[0][0] <= boundary:
                        heapq.heappop(heap)
                    out.extend(self._day_boundary(boundary, b_at))
                else:
                    ready = []
                    while heap and heap[0][0] <= boundary:
                        d, cid = heapq.heappop(heap)
                        if due.get(cid) == d:
                            del due[cid]
                            ready.append(cid)
                    if ready:
                        out.extend(self._hourly(sorted(ready), boundary, b_at))
                # Nothing can change before the next due episode or the next day.
                nxt = (boundary // 24 + 1) * 24
                if heap and heap[0][0] < nxt:
                    nxt = max(heap[0][0], boundary + 1)
                boundary = nxt
            if hour // 24 > last // 24:
                # After the boundaries: their assessments still list every ticket id.
                det.forget_stale(hour, self._ticked | self._open)
                self._ticked = set()
        self.clock = ts
        self._clock_hour = hour
        self._next_hour = (hour + 1) * 3600.0
        return out

    def _day_boundary(self, boundary: int, b_at: datetime) -> list[Transition]:
        """The day-boundary check: every open episode, and every window that could be a
        spike under the new day's baseline."""
        out: list[Transition] = []
        det = self.detector
        customers = det.customers
        count = det.count
        hot = self._hot
        hot_min = self._hot_min
        opened = self._open
        count_at = det.count_at
        threshold = self.policy.threshold
        day = boundary // 24
        ring = self._ring
        for cid in sorted(hot | opened):
            w = customers[cid]
            if cid not in opened:
                if w.hour <= boundary:
                    # The window ending at the boundary lies within days day-1 and day,
                    # whose raw counts bound it (none if the customer never reached them).
                    wd = w.day
                    bound = (
                        0
                        if wd < day - 1
                        else (w[(day - 1) % ring] + (w[day % ring] if wd >= day else 0))
                    )
                    if bound < hot_min or count_at(w, boundary) < hot_min:
                        hot.discard(cid)  # too few tickets for any baseline
                        w.hot = False
                        det.forget(w, boundary)  # it may have gone quiet after a burst
                        continue
                if w.day == day - 1:
                    if det.quiet_at(w, boundary, det.floor(w, day), threshold):
                        continue  # no spike tomorrow: its days close when it is next touched
                det.advance(w, boundary)
                self._ticked.add(cid)
                n = count(w)
                if n < hot_min:
                    hot.discard(cid)
                    w.hot = False
                    continue
                if n < det.line(w):
                    continue
            out.extend(self._evaluate(cid, w, boundary, b_at, day_boundary=True))
        return out

    def _hourly(self, ready: list[str], boundary: int, b_at: datetime) -> list[Transition]:
        """The hour-boundary check of the open episodes that are due."""
        out: list[Transition] = []
        det = self.detector
        customers = det.customers
        for cid in ready:
            if cid not in self._open:
                continue
            w = customers[cid]
            det.advance(w, boundary)
            self._ticked.add(cid)
            # Between ticks the count only falls, so an episode that is
            # still above its resolve line has nothing to do.
            watch = self._watch.get(cid)
            if (
                watch is not None
                and watch[0] == w.day
                and watch[1] <= det.count(w)
                and not watch[3]
            ):
                self._schedule(cid, w, boundary)
                continue
            out.extend(self._evaluate(cid, w, boundary, b_at))
        return out

    def _schedule(self, cid: str, w: CustomerWindow, hour: int) -> None:
        """Set the next hour boundary at which the open episode of ``cid`` can change.

        Without tickets an episode changes only when its count falls below
        the resolve line (the quiet clock starts), when it has been quiet long
        enough to resolve, or at the day boundary, where the baseline and so
        every line moves. Earlier is always safe (the check then finds
        nothing to do), later never is, so anything unusual means "next hour".
        """
        nxt = hour + 1
        due = (hour // 24 + 1) * 24
        watch = self._watch.get(cid)
        if watch is None or watch[0] != w.day or w.hour > hour:
            due = nxt
        elif watch[3]:
            state = self._states.get(cid)
            episode = state.episode if state is not None else None
            since = episode.quiet_since if episode is not None else None
            if since is None:
                due = nxt
            else:
                # Floor: at worst an hour early, and then it is checked again.
                due = min(due, max(nxt, int((since.timestamp() + self._resolve_secs) // 3600)))
        else:
            quiet = watch[1]
            if quiet > 0:
                n = self.detector.count(w)
                if n < quiet:
                    due = nxt
                else:
                    # The count falls below ``quiet`` once the quiet-th newest ticket leaves.
                    due = min(due, max(nxt, self.detector.newest_hours(w, quiet) + self._window))
        if self._due.get(cid) != due:
            self._due[cid] = due
            heapq.heappush(self._due_heap, (due, cid))

    # -- tickets -------------------------------------------------------------
    def ingest(self, event: TicketEvent, *, account: Account | None = None) -> list[Transition]:
        """Count one ticket event and return the transitions it (or the time it moved) caused.

        The event's time moves the clock; a late event (older than the clock)
        is counted in the hour it was created if within the lateness bound,
        and judged at the current clock. Internal tickets never count.
        """
        if account is not None:
            self._set_account(event.ticket.customer_id, account)
        out: list[Transition] = []
        self.ingest_row(event_row(event), out)
        return out

    def ingest_row(self, row: TicketRow, out: list[Transition]) -> None:
        """:meth:`ingest` for a :data:`~ticketspike.model.TicketRow`, appending to ``out``.

        What ``replay`` and ``scan`` call: the same counting and judging
        without a ticket object per event (see
        :func:`~ticketspike.model.ticket_row_from_json`).
        """
        if row[9]:  # internal
            return
        when = row[0]
        clock = self.clock
        late = False
        if clock is None:
            self.clock = clock = when
            self._clock_hour = int(when // 3600)
            self._next_hour = (self._clock_hour + 1) * 3600.0
        elif when > clock:
            if when < self._next_hour:
                self.clock = when
            else:
                out.extend(self._move_clock(when))
            clock = when
        else:
            late = when < clock  # a late event is judged at the current clock
        kind = row[1]
        if kind == 2:  # resolved: the count never changes
            return
        created = row[4]
        if created < clock - self._lateness:
            if kind == 0:  # an update of an old ticket changes nothing: not a loss
                self.detector.late_dropped += 1
            return
        det = self.detector
        cid = row[5]
        w = det.customers.get(cid)
        now: int = self._clock_hour  # type: ignore[assignment]
        if w is None:
            w = self._new_window(cid, int(created // 3600))
        if kind == 1:
            # Judged against the clock, not against how far this customer's
            # counters happened to have moved: an update seen before its
            # creation is kept whenever the creation would still be accepted.
            if w.hour < now:
                det.advance(w, now)
            det.update_ticket(
                w,
                (row[2], row[3], cid),
                when,
                created,
                row[3],
                row[6] if row[10] else None,
                row[7],
                row[8],
            )
            return
        hour = int(created // 3600)
        # The common case, inline: a new ticket in the customer's current hour or
        # later (Detector.count_ticket is the general path and the reference).
        if hour >= w.hour:
            if hour > w.hour:
                if hour == now:
                    hour = now  # one shared int per hour: cheaper to read back later
                # Detector.advance, inline.
                w.hour = hour
                if hour // 24 > w.day:
                    det.roll_days(w, hour // 24)
                    det.forget(w, hour)
                if hour // self._span > det.band:
                    det.rotate(hour // self._span)
            key = (row[2], row[3], cid)
            seen = det.seen
            if (
                seen.setdefault(key, row) is not row
                or key in det.seen_old
                or (w.updates is not None and key in w.updates)
            ):
                if seen.get(key) is row:
                    del seen[key]
                if not det.count_ticket(w, key, row):
                    return
            else:
                w.append(row)
                day = w.day
                w[day % self._ring] += 1
                first = w.first_day
                if first is None or day < first:
                    w.first_day = day
                    w.cut_day = -1
        elif not det.count_ticket(w, (row[2], row[3], cid), row):
            return
        if w.hour < now:
            det.advance(w, now)
        if cid in self._open:
            self._judge_open(cid, w, now, clock, late, out)
            return
        # The window lies within the customer's last two days, so their counts bound
        # it: most tickets stop here, without trimming or counting the window.
        ring = self._ring
        day = w.day
        bound = w[day % ring] + w[(day - 1) % ring]
        if bound < self._hot_min:
            return
        if w.cut_day != day:
            det.line(w)
        if not w.hot:
            # Listed for the day boundary only if tomorrow's baseline could make
            # it a spike (the count only falls until the next ticket re-checks).
            floor = w.floor
            if floor < 0.0:
                floor = w.floor = det.floor(w, day + 1)
            if not (floor > 0.0 and bound / (floor * self._short_scale) < self._threshold):
                w.hot = True
                self._hot.add(cid)
        if bound < w.line:
            return
        n = det.count(w)
        if n < w.line:
            return
        if n < w.candidate:
            # Only a short window can open: it needs its candidate count of tickets,
            # so its candidate-th newest ticket must lie within it (rows are in order).
            kept = len(w) - ring
            for h, cand in w.cands:
                if kept >= cand and int(w[len(w) - cand][4] // 3600) > now - h:
                    break
            else:
                return
        at = datetime.fromtimestamp(clock if late else when, tz=UTC)
        out.extend(self._evaluate(cid, w, now, at))

    def _judge_open(
        self, cid: str, w: CustomerWindow, now: int, clock: float, late: bool, out: list[Transition]
    ) -> None:
        """A counted ticket of a customer with an open episode."""
        if not w.hot:
            w.hot = True
            self._hot.add(cid)
        count = self.detector.count(w)
        # Most tickets of an open episode change nothing: the count is
        # between the resolve line and the escalation line.
        watch = self._watch.get(cid)
        if (
            watch is not None
            and watch[0] == w.day
            and watch[1] <= count < watch[2]
            and not watch[3]
        ):
            return
        out.extend(self._evaluate(cid, w, now, datetime.fromtimestamp(clock, tz=UTC)))

    def _new_window(self, cid: str, hour: int, detector: Detector | None = None) -> CustomerWindow:
        """Counters for a customer first seen at ``hour`` (its history known or not)."""
        account = self._accounts.get(cid)
        first_day = _first_day(account)
        known = True
        if first_day is None and self._watch_hour is not None:
            known, first_day = history_known(self.policy, self._watch_hour, hour)
        return (detector or self.detector).create(
            cid,
            hour=hour,
            rate=self.policy.industry_rate(account),
            first_day=first_day,
            known=known,
        )

    def _set_account(self, cid: str, account: Account) -> None:
        if self._accounts.get(cid) is account:
            return
        self._accounts[cid] = account
        w = self.detector.customers.get(cid)
        if w is not None:
            if self._clock_hour is not None:
                # Days that ended under the old profile close under it.
                self.detector.advance(w, self._clock_hour)
            self.detector.set_profile(
                w, rate=self.policy.industry_rate(account), first_day=_first_day(account)
            )
            if not w.hot and self.detector.count(w) >= self._hot_min:
                # Its listing for the day boundary was judged under the old profile.
                w.hot = True
                self._hot.add(cid)
            self._quiet.pop(cid, None)
            self._watch.pop(cid, None)
            if cid in self._open and self._clock_hour is not None:
                self._schedule(cid, w, self._clock_hour)

    # -- judging ---------------------------------------------------------------
    def _evaluate(
        self, cid: str, w: CustomerWindow, hour: int, at: datetime, *, day_boundary: bool = False
    ) -> list[Transition]:
        det = self.detector
        det.advance(w, hour)
        self._ticked.add(cid)
        count = det.count(w)
        if day_boundary and count < self._hot_min:
            self._hot.discard(cid)
            w.hot = False
        state = self._states.get(cid)
        episode = state.episode if state is not None else None
        if episode is None:
            if count < det.line(w) or not det.spiking(w):
                return []
        else:
            assert state is not None
            life = self.lifecycle
            escalating = (
                life.escalate
                and not episode.escalated
                and episode.severity is not Severity.CRITICAL
                and count >= self._critical_count(w)
                # Critical is a spike (any window) at more than critical_above x.
                and (count >= det.cutoffs(w).critical or det.spiking(w))
            )
            quiet = count < self._quiet_count(cid, w)
            since = episode.quiet_since
            resolving = quiet and (
                at.timestamp() - (since.timestamp() if since is not None else at.timestamp())
                >= life.resolve_after_hours * 3600.0
            )
            if not escalating and not resolving:
                # Only the quiet clock moves: no transition, no assessment needed.
                if quiet != (since is not None):
                    self._states[cid] = attrs.evolve(state, episode=mark_quiet(episode, at, quiet))
                can_escalate = (
                    life.escalate
                    and not episode.escalated
                    and episode.severity is not Severity.CRITICAL
                )
                self._watch[cid] = (
                    w.day,
                    self._quiet_count(cid, w),
                    self._critical_count(w) if can_escalate else _NEVER,
                    quiet,
                )
                self._schedule(cid, w, hour)
                return []
        assessment = det.assessment(cid, w, at)
        transitions = self._advance_lifecycle(cid, state or EpisodeState(), assessment)
        if cid in self._open:
            self._schedule(cid, w, hour)
        return transitions

    def _advance_lifecycle(
        self, cid: str, state: EpisodeState, assessment: Assessment
    ) -> list[Transition]:
        account = self._accounts.get(cid)
        new_state, transitions = advance_episode(
            state,
            assessment,
            policy=self.lifecycle,
            silences=self.silences,
            segment=account.segment if account is not None else None,
        )
        self._states[cid] = new_state
        self._watch.pop(cid, None)
        if new_state.episode is not None:
            self._open.add(cid)
        else:
            self._open.discard(cid)
            self._due.pop(cid, None)
        return list(transitions)

    def _critical_count(self, w: CustomerWindow) -> int:
        """The full window's count above critical_above x (a short window may be the spike)."""
        cut = self.detector.cutoffs(w)
        if len(self.policy.windows) == 1:
            return cut.critical
        return smallest_count(cut.expected, self.policy.critical_above, strict=True)

    def _quiet_count(self, cid: str, w: CustomerWindow) -> int:
        """Counts below this are quiet (multiplier under ``resolve_below``); cached per day."""
        cached = self._quiet.get(cid)
        if cached is not None and cached[0] == w.day and w.cut_day == w.day:
            return cached[1]
        expected = self.detector.cutoffs(w).expected
        k = smallest_count(expected, self.lifecycle.resolve_below)
        self._quiet[cid] = (w.day, k)
        return k

    # -- queries -------------------------------------------------------------
    def assess(
        self, customer_id: str, at: datetime, *, account: Account | None = None
    ) -> Assessment:
        """Assess one customer at ``at`` (not before the hour its counters are at).

        Meant for "now": a host's clock may trail the newest ticket a little,
        which is fine, but ticket ids of customers quiet for more than a day
        are forgotten, so an instant far behind :attr:`now` may list fewer ids
        than it counts.
        """
        if account is not None:
            self._set_account(customer_id, account)
        w = self.detector.customers.get(customer_id)
        hour = epoch_hour(at)
        if w is None:
            # Unknown customer: judge an empty window without keeping any state.
            scratch = Detector(self.policy)
            w = self._new_window(customer_id, hour, scratch)
            return scratch.assessment(customer_id, w, at)
        if hour < w.hour:
            raise ValueError(
                f"cannot assess {at.isoformat()}: the customer's counters have "
                "already moved past that hour"
            )
        assessment = self.detector.assessment(customer_id, w, at)
        if customer_id in self._open and self._clock_hour is not None:
            # Counters moved past the clock are judged as of their own hour; check hourly.
            self._schedule(customer_id, w, self._clock_hour)
        return assessment

    def close_now(
        self, customer_id: str, at: datetime, *, account: Account | None = None
    ) -> list[Transition]:
        """Resolve the customer's open episode at ``at`` (a person resolved it).

        ``at`` before the customer's counters is judged at the counters' own hour.
        """
        state = self._states.get(customer_id)
        if state is None or state.episode is None:
            return []
        try:
            assessment = self.assess(customer_id, at, account=account)
        except ValueError:
            assessment = self.assess(customer_id, self.now or at, account=account)
        new_state, transition = close_episode(state, assessment)
        self._states[customer_id] = new_state
        self._watch.pop(customer_id, None)
        self._open.discard(customer_id)
        self._due.pop(customer_id, None)
        return [] if transition is None else [transition]

    def episode(self, customer_id: str) -> EpisodeState:
        """The customer's lifecycle state (an empty one if it never spiked)."""
        return self._states.get(customer_id, EpisodeState())

    @property
    def open_episodes(self) -> frozenset[str]:
        return frozenset(self._open)

    def customers(self) -> list[str]:
        return sorted(self.detector.customers)

    # -- persistence -------------------------------------------------------------
    def export_customer(self, customer_id: str) -> dict[str, Any]:
        """JSON-able state of one customer: detector counters and lifecycle episode."""
        w = self.detector.customers.get(customer_id)
        state = self._states.get(customer_id)
        return {
            "version": _STATE_VERSION,
            "detector": None if w is None else self.detector.export(w),
            "lifecycle": None if state is None else state.to_json(),
        }

    def import_customer(self, customer_id: str, state: Mapping[str, Any]) -> None:
        """Load what :meth:`export_customer` produced (possibly in another process).

        Raises ``ValueError`` if the state is not one this version understands
        or was saved under a different window or baseline length.
        """
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise ValueError("unknown monitor state version")
        try:
            det = state.get("detector")
            if det is not None:
                w = self.detector.restore(customer_id, det)
                account = self._accounts.get(customer_id)
                if account is not None:
                    self.detector.set_profile(
                        w, rate=self.policy.industry_rate(account), first_day=_first_day(account)
                    )
                if self.detector.count(w) >= self._hot_min:
                    self._hot.add(customer_id)
                    w.hot = True
                start = float(w.hour * 3600)
                if self.clock is None or start > self.clock:
                    self.clock = start
                    self._clock_hour = w.hour
                    self._next_hour = (w.hour + 1) * 3600.0
            else:
                self.detector.drop(customer_id)
            life = state.get("lifecycle")
            self._quiet.pop(customer_id, None)
            self._watch.pop(customer_id, None)
            self._due.pop(customer_id, None)
            if life is None:
                self._states.pop(customer_id, None)
                self._open.discard(customer_id)
                return
            restored = EpisodeState.from_json(life)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed monitor state ({type(exc).__name__}: {exc})") from None
        self._states[customer_id] = restored
        if restored.episode is not None:
            window = self.detector.customers.get(customer_id)
            if window is None:
                raise ValueError("an open episode needs detector counters")
            self._open.add(customer_id)
            if self._clock_hour is not None:
                self._schedule(customer_id, window, self._clock_hour)
        else:
            self._open.discard(customer_id)


def _first_day(account: Account | None) -> int | None:
    if account is None or account.first_seen is None:
        return None
    return epoch_hour(account.first_seen) // 24


def replay_events(
    events: Iterable[TicketEvent],
    monitor: SpikeMonitor,
) -> Iterator[Transition]:
    """Stream events through ``monitor`` in time order, yielding every transition.

    Events may arrive out of order by up to the policy's lateness bound: a
    buffer of that many hours puts them back in order (ties broken by ticket
    key, so the same tickets in any order give the same transitions). Older
    stragglers are counted as late. Memory follows the bound, not the file.
    """
    return replay_rows(map(event_row, events), monitor)


def replay_rows(
    rows: Iterable[TicketRow],
    monitor: SpikeMonitor,
) -> Iterator[Transition]:
    """:func:`replay_events` for :data:`~ticketspike.model.TicketRow` items (the fast path).

    Files are mostly in order already, so a row newer than everything before
    it goes to a plain queue and only the others (stragglers and same-instant
    ties) to a heap ordered by (time, kind, source, id, arrival); the two are
    merged on the way out, the queue first on a tie, which is the order one
    heap would give.
    """
    lateness = monitor.policy.lateness_hours * 3600.0
    ordered: deque[TicketRow] = deque()
    heap: list[tuple[float, int, str, str, int, TicketRow]] = []
    newest = float("-inf")
    ingest = monitor.ingest_row
    append = ordered.append
    popleft = ordered.popleft
    out: list[Transition] = []
    seq = 0
    for row in rows:
        when = row[0]
        if when > newest:
            newest = when
            append(row)
            if not heap:
                # The common case: in order. The row just queued is newer than
                # the horizon, so this stops at it at the latest.
                horizon = when - lateness
                while ordered[0][0] <= horizon:
                    ingest(popleft(), out)
                if out:
                    yield from out
                    out.clear()
                continue
        else:
            heapq.heappush(heap, (when, row[1], row[2], row[3], seq, row))
            seq += 1
        # A straggler waits in the heap for up to the lateness bound; meanwhile
        # the queue drains on its own up to the heap's first time (a tie goes
        # through _drain, which compares whole keys).
        horizon = newest - lateness
        first = heap[0][0]
        while ordered and ordered[0][0] < first and ordered[0][0] <= horizon:
            ingest(popleft(), out)
        if first <= horizon:
            _drain(ordered, heap, horizon, ingest, out)
        if out:
            yield from out
            out.clear()
    _drain(ordered, heap, float("inf"), ingest, out)
    yield from out


def _drain(
    ordered: deque[TicketRow],
    heap: list[tuple[float, int, str, str, int, TicketRow]],
    horizon: float,
    ingest: Any,
    out: list[Transition],
) -> None:
    """Ingest, in order, every buffered row no newer than ``horizon``."""
    while True:
        if heap:
            h = heap[0]
            if ordered:
                o = ordered[0]
                if (h[0], h[1], h[2], h[3]) < (o[0], o[1], o[2], o[3]):
                    if h[0] > horizon:
                        return
                    ingest(heapq.heappop(heap)[5], out)
                    continue
                if o[0] > horizon:
                    return
                ingest(ordered.popleft(), out)
                continue
            if h[0] > horizon:
                return
            ingest(heapq.heappop(heap)[5], out)
        elif ordered and ordered[0][0] <= horizon:
            ingest(ordered.popleft(), out)
        else:
            return
