"""The clock half of the spike monitor: hour and day boundaries, and judging episodes.

:class:`~ticketspike.monitor.SpikeMonitor` builds on :class:`EpisodeClock`:
the monitor counts tickets and answers queries; the clock moves time, looks
at the customers the :class:`~ticketspike._schedule.Schedule` says can change
at each boundary it crosses, and turns assessments into episode transitions.
Time moves without tickets: an open episode is re-evaluated at the hour
boundaries where it can change (its count falling below the resolve line,
its quiet period running out), and each day boundary, where the baseline
shifts, re-evaluates every open episode and every customer whose window
could be a spike under the new baseline.
"""

from __future__ import annotations

from datetime import datetime, timezone

import attrs

from ._schedule import Schedule
from .detect.baseline import smallest_count
from .detect.policy import DetectionPolicy
from .detect.stream import CustomerWindow, Detector
from .lifecycle import EpisodeState, LifecyclePolicy, Silence, advance_episode, mark_quiet
from .model import Account
from .signals import Assessment, Severity, Transition

__all__ = ["EpisodeClock"]

UTC = timezone.utc
_NEVER = 1 << 62


class EpisodeClock:
    """Clock, boundary checks and episode judging over one detector (see the module).

    Subclasses set ``policy``, ``lifecycle``, ``silences`` and ``_accounts``
    before calling ``__init__``.
    """

    policy: DetectionPolicy
    lifecycle: LifecyclePolicy
    silences: tuple[Silence, ...]
    _accounts: dict[str, Account]

    def __init__(self) -> None:
        self.detector = Detector(self.policy)
        self._states: dict[str, EpisodeState] = {}
        self._plan = Schedule()
        self._hot_min = self.policy.min_count if self.policy.mode == "gated" else 1
        self._resolve_secs = self.lifecycle.resolve_after_hours * 3600.0
        self._window = self.policy.window_hours
        self._threshold = self.policy.threshold
        self.clock: float | None = None  # newest time seen, as a POSIX timestamp
        self._clock_hour: int | None = None
        self._next_hour = 0.0  # where the clock hour ends, as a POSIX timestamp

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

    def _see(self, when: float, out: list[Transition]) -> float:
        """Move the clock to ``when`` if it is newer (judging what that crosses into
        ``out``); return the clock."""
        clock = self.clock
        if clock is None:
            self._set_clock(when, int(when // 3600))
        elif when <= clock:
            return clock
        elif when < self._next_hour:
            self.clock = when
        else:
            out.extend(self._move_clock(when))
        return when

    def _set_clock(self, ts: float, hour: int) -> None:
        self.clock = ts
        self._clock_hour = hour
        self._next_hour = (hour + 1) * 3600.0

    def _move_clock(self, ts: float) -> list[Transition]:
        out: list[Transition] = []
        hour = int(ts // 3600)
        last = self._clock_hour
        if last is not None and hour > last:
            for boundary, ready in self._plan.boundaries(last, hour):
                at = datetime.fromtimestamp(boundary * 3600, tz=UTC)
                if ready is None:
                    out.extend(self._day_boundary(boundary, at))
                else:
                    out.extend(self._hourly(ready, boundary, at))
            if hour // 24 > last // 24:
                # After the boundaries: their assessments still list every ticket id.
                self.detector.forget_stale(hour, self._plan.moved())
        self._set_clock(ts, hour)
        return out

    def _day_boundary(self, boundary: int, at: datetime) -> list[Transition]:
        """The day-boundary check: every open episode, and every window that could be a
        spike under the new day's baseline."""
        out: list[Transition] = []
        customers = self.detector.customers
        opened = self._plan.open
        for cid in self._plan.day_list():
            w = customers[cid]
            if cid in opened or self._hot_at(cid, w, boundary):
                out.extend(self._evaluate(cid, w, boundary, at, day_boundary=True))
        return out

    def _hot_at(self, cid: str, w: CustomerWindow, boundary: int) -> bool:
        """Whether the hot window of ``cid`` may be a spike at day boundary ``boundary``;
        one that can no longer become one leaves the hot list."""
        det = self.detector
        hot_min = self._hot_min
        day = boundary // 24
        # The window ending at the boundary lies within days day-1 and day, whose
        # raw counts bound it.
        if w.hour <= boundary and (
            det.two_days(w, day) < hot_min or det.count_at(w, boundary) < hot_min
        ):
            self._plan.hot.discard(cid)  # too few tickets for any baseline
            det.forget(w, boundary)  # it may have gone quiet after a burst
            return False
        if w.day == day - 1 and det.quiet_at(w, boundary, det.floor(w, day), self._threshold):
            return False  # no spike tomorrow: its days close when it is next touched
        det.advance(w, boundary)
        self._plan.ticked.add(cid)
        n = det.count(w)
        if n < hot_min:
            self._plan.hot.discard(cid)
            return False
        return n >= det.line(w)

    def _hourly(self, ready: list[str], boundary: int, at: datetime) -> list[Transition]:
        """The hour-boundary check of the open episodes that are due."""
        out: list[Transition] = []
        det = self.detector
        plan = self._plan
        for cid in ready:
            if cid not in plan.open:
                continue
            w = det.customers[cid]
            det.advance(w, boundary)
            plan.ticked.add(cid)
            # Between ticks the count only falls, so an episode that is
            # still above its resolve line has nothing to do.
            watch = plan.watch.get(cid)
            if (
                watch is not None
                and watch[0] == w.day
                and watch[1] <= det.count(w)
                and not watch[3]
            ):
                self._schedule(cid, w, boundary)
                continue
            out.extend(self._evaluate(cid, w, boundary, at))
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
        watch = self._plan.watch.get(cid)
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
        self._plan.set_due(cid, due)

    # -- judging ---------------------------------------------------------------
    def _evaluate(
        self, cid: str, w: CustomerWindow, hour: int, at: datetime, *, day_boundary: bool = False
    ) -> list[Transition]:
        det = self.detector
        det.advance(w, hour)
        self._plan.ticked.add(cid)
        count = det.count(w)
        if day_boundary and count < self._hot_min:
            self._plan.hot.discard(cid)
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
                self._plan.watch[cid] = (
                    w.day,
                    self._quiet_count(cid, w),
                    self._critical_count(w) if can_escalate else _NEVER,
                    quiet,
                )
                self._schedule(cid, w, hour)
                return []
        assessment = det.assessment(cid, w, at)
        transitions = self._advance_lifecycle(cid, state or EpisodeState(), assessment)
        if cid in self._plan.open:
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
        self._plan.watch.pop(cid, None)
        if new_state.episode is not None:
            self._plan.opened(cid)
        else:
            self._plan.closed(cid)
        return list(transitions)

    def _critical_count(self, w: CustomerWindow) -> int:
        """The full window's count above critical_above x (a short window may be the spike)."""
        cut = self.detector.cutoffs(w)
        if len(self.policy.windows) == 1:
            return cut.critical
        return smallest_count(cut.expected, self.policy.critical_above, strict=True)

    def _quiet_count(self, cid: str, w: CustomerWindow) -> int:
        """Counts below this are quiet (multiplier under ``resolve_below``); cached per day."""
        cached = self._plan.quiet.get(cid)
        if cached is not None and cached[0] == w.day and w.cut_day == w.day:
            return cached[1]
        expected = self.detector.cutoffs(w).expected
        k = smallest_count(expected, self.lifecycle.resolve_below)
        self._plan.quiet[cid] = (w.day, k)
        return k
