"""The streaming spike monitor: detector and episode lifecycle, driven by tickets and ticks.

:class:`SpikeMonitor` is what production and ``replay`` feed: every ticket
event goes to :meth:`SpikeMonitor.ingest`, and the clock moves with
:meth:`SpikeMonitor.tick`. Time moves without tickets: each hour boundary
re-evaluates customers with an open episode (so spikes resolve on time), and
each day boundary, where the baseline shifts, re-evaluates every customer
whose window holds enough tickets to be a spike (so a spike that starts when
the baseline drops at midnight is caught). Crossing boundaries happens on its
own when a ticket moves the clock, so a caller that only ingests still gets
the ticks in between.

Pure in the sense that matters: the caller supplies every timestamp, nothing
reads the clock or does I/O, and each customer's state exports to JSON so a
host can persist it and carry on in another process.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from .detect.assess import epoch_hour
from .detect.baseline import smallest_count
from .detect.policy import DetectionPolicy
from .detect.stream import CustomerWindow, Detector
from .lifecycle import (
    EpisodeState,
    LifecyclePolicy,
    Silence,
    advance_episode,
    mark_quiet,
)
from .model import Account, EventKind, TicketEvent
from .signals import Assessment, Severity, Transition

__all__ = ["SpikeMonitor", "replay_events"]

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
    """

    def __init__(
        self,
        policy: DetectionPolicy | None = None,
        lifecycle: LifecyclePolicy | None = None,
        silences: Sequence[Silence] = (),
        accounts: Mapping[str, Account] | None = None,
    ) -> None:
        self.policy = policy or DetectionPolicy()
        self.lifecycle = lifecycle or LifecyclePolicy()
        self.silences = tuple(silences)
        self.detector = Detector(self.policy)
        self._accounts: dict[str, Account] = dict(accounts or {})
        self._states: dict[str, EpisodeState] = {}
        self._open: set[str] = set()  # customers with an open episode: evaluated hourly
        self._hot: set[str] = set()  # windows that may be spikes under tomorrow's baseline
        self._hot_min = self.policy.min_count if self.policy.mode == "gated" else 1
        self._quiet: dict[str, tuple[int, int]] = {}  # customer -> (day, count below = quiet)
        # Open episodes: (day, quiet below, escalate at, quiet now) as last evaluated.
        self._watch: dict[str, tuple[int, int, int, bool]] = {}
        self._lateness = self.policy.lateness_hours * 3600.0
        self.clock: float | None = None  # newest time seen, as a POSIX timestamp
        self._clock_hour: int | None = None

    # -- the clock -----------------------------------------------------------
    @property
    def now(self) -> datetime | None:
        """The newest time the monitor has seen (``None`` before anything)."""
        return None if self.clock is None else datetime.fromtimestamp(self.clock, tz=UTC)

    def tick(self, at: datetime) -> list[Transition]:
        """Move the clock to ``at``, evaluating every hour and day boundary crossed.

        Cheap: an hour boundary looks only at customers with an open episode,
        a day boundary also at those whose window could be a spike.
        """
        ts = at.timestamp()
        if self.clock is not None and ts <= self.clock:
            return []
        return self._move_clock(ts, at)

    def _move_clock(self, ts: float, at: datetime) -> list[Transition]:
        out: list[Transition] = []
        hour = int(ts // 3600)
        if self._clock_hour is not None and hour > self._clock_hour:
            if hour // 24 > self._clock_hour // 24:
                self.detector.forget_stale(hour)
            for boundary in range(self._clock_hour + 1, hour + 1):
                if not self._open and not self._hot:
                    break
                b_at = datetime.fromtimestamp(boundary * 3600, tz=UTC)
                if boundary % 24 == 0:
                    customers = self.detector.customers
                    for cid in sorted(self._hot | self._open):
                        w = customers[cid]
                        if w.count < self._hot_min and cid not in self._open:
                            self._hot.discard(cid)  # too few tickets for any baseline
                            continue
                        out.extend(self._evaluate(cid, w, boundary, b_at, day_boundary=True))
                else:
                    customers = self.detector.customers
                    advance = self.detector.advance
                    for cid in sorted(self._open):
                        w = customers[cid]
                        advance(w, boundary)
                        # Between ticks the count only falls, so an episode that is
                        # still above its resolve line has nothing to do.
                        watch = self._watch.get(cid)
                        if (watch is not None and watch[0] == w.day and watch[1] <= w.count
                                and not watch[3]):
                            continue
                        out.extend(self._evaluate(cid, w, boundary, b_at))
        self.clock = ts
        self._clock_hour = hour
        return out

    # -- tickets -------------------------------------------------------------
    def ingest(self, event: TicketEvent, *, account: Account | None = None) -> list[Transition]:
        """Count one ticket event and return the transitions it (or the time it moved) caused.

        The event's time moves the clock; a late event (older than the clock)
        is counted in the hour it was created if within the lateness bound,
        and judged at the current clock. Internal tickets never count.
        """
        ticket = event.ticket
        cid = ticket.customer_id
        if account is not None:
            self._set_account(cid, account)
        if ticket.internal:
            return []
        created_dt = ticket.created_at
        created = created_dt.timestamp()
        occurred = event.occurred_at
        if occurred is None:
            when_dt, when = created_dt, created
        else:
            when_dt, when = occurred, occurred.timestamp()
        out: list[Transition] = []
        clock = self.clock
        at_dt: datetime | None = when_dt
        if clock is None:
            self.clock = clock = when
            self._clock_hour = int(when // 3600)
        elif when > clock:
            if int(when // 3600) == self._clock_hour:
                self.clock = when
            else:
                out = self._move_clock(when, when_dt)
            clock = when
        elif when < clock:
            at_dt = None  # a late event is judged at the current clock
        kind = event.kind
        if kind is _RESOLVED:
            return out
        if created < clock - self._lateness:
            self.detector.late_dropped += 1
            return out
        det = self.detector
        w = det.customers.get(cid)
        if w is None:
            w = self._new_window(cid, int(created // 3600))
        if kind is _UPDATED:
            det.update_ticket(
                w, ticket.key, when, created, ticket.ticket_id,
                ticket.category if ticket.category_given else None, ticket.priority, ticket.url,
            )
            return out
        if not det.count_ticket(w, (ticket.source, ticket.ticket_id), created, ticket.ticket_id,
                                ticket.category, ticket.priority, ticket.url):
            return out
        hour: int = self._clock_hour  # type: ignore[assignment]
        if w.hour < hour:
            det.advance(w, hour)
        # Fewer tickets than the minimum can never be a spike: most tickets stop here.
        if w.count < self._hot_min and cid not in self._open:
            return out
        self._hot.add(cid)
        if cid in self._open:
            # Most tickets of an open episode change nothing: the count is
            # between the resolve line and the escalation line.
            watch = self._watch.get(cid)
            if (watch is not None and watch[0] == w.day and watch[1] <= w.count < watch[2]
                    and not watch[3]):
                return out
        if cid in self._open or w.count >= det.candidate(w):
            at = at_dt if at_dt is not None else datetime.fromtimestamp(clock, tz=UTC)
            out.extend(self._evaluate(cid, w, hour, at))
        return out

    def _new_window(self, cid: str, hour: int) -> CustomerWindow:
        account = self._accounts.get(cid)
        return self.detector.create(cid, hour=hour, rate=self.policy.industry_rate(account),
                                    first_day=_first_day(account))

    def _set_account(self, cid: str, account: Account) -> None:
        if self._accounts.get(cid) is account:
            return
        self._accounts[cid] = account
        w = self.detector.customers.get(cid)
        if w is not None:
            self.detector.set_profile(w, rate=self.policy.industry_rate(account),
                                      first_day=_first_day(account))
            self._quiet.pop(cid, None)
            self._watch.pop(cid, None)

    # -- judging ---------------------------------------------------------------
    def _evaluate(self, cid: str, w: CustomerWindow, hour: int, at: datetime, *,
                  day_boundary: bool = False) -> list[Transition]:
        det = self.detector
        det.advance(w, hour)
        count = w.count
        if day_boundary and count < self._hot_min:
            self._hot.discard(cid)
        state = self._states.get(cid)
        episode = state.episode if state is not None else None
        if episode is None:
            if count < det.candidate(w) or count < det.cutoffs(w).open:
                return []
        else:
            assert state is not None
            life = self.lifecycle
            escalating = (life.escalate and not episode.escalated
                          and episode.severity is not Severity.CRITICAL
                          and count >= det.cutoffs(w).critical)
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
                can_escalate = (life.escalate and not episode.escalated
                                and episode.severity is not Severity.CRITICAL)
                self._watch[cid] = (w.day, self._quiet_count(cid, w),
                                    det.cutoffs(w).critical if can_escalate else _NEVER, quiet)
                return []
        assessment = det.assessment(cid, w, at)
        return self._advance_lifecycle(cid, state or EpisodeState(), assessment)

    def _advance_lifecycle(self, cid: str, state: EpisodeState,
                           assessment: Assessment) -> list[Transition]:
        account = self._accounts.get(cid)
        new_state, transitions = advance_episode(
            state, assessment, policy=self.lifecycle, silences=self.silences,
            segment=account.segment if account is not None else None,
        )
        self._states[cid] = new_state
        self._watch.pop(cid, None)
        if new_state.episode is not None:
            self._open.add(cid)
        else:
            self._open.discard(cid)
        return list(transitions)

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
    def assess(self, customer_id: str, at: datetime, *,
               account: Account | None = None) -> Assessment:
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
            acct = self._accounts.get(customer_id)
            w = scratch.create(customer_id, hour=hour, rate=self.policy.industry_rate(acct),
                               first_day=_first_day(acct))
            return scratch.assessment(customer_id, w, at)
        if hour < w.hour:
            raise ValueError(f"cannot assess {at.isoformat()}: the customer's counters have "
                             "already moved past that hour")
        return self.detector.assessment(customer_id, w, at)

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
                    self.detector.set_profile(w, rate=self.policy.industry_rate(account),
                                              first_day=_first_day(account))
                if w.count >= self._hot_min:
                    self._hot.add(customer_id)
                start = float(w.hour * 3600)
                if self.clock is None or start > self.clock:
                    self.clock = start
                    self._clock_hour = w.hour
            else:
                self.detector.customers.pop(customer_id, None)
            life = state.get("lifecycle")
            self._quiet.pop(customer_id, None)
            self._watch.pop(customer_id, None)
            if life is None:
                self._states.pop(customer_id, None)
                self._open.discard(customer_id)
                return
            restored = EpisodeState.from_json(life)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed monitor state ({type(exc).__name__}: {exc})") from None
        self._states[customer_id] = restored
        if restored.episode is not None:
            if customer_id not in self.detector.customers:
                raise ValueError("an open episode needs detector counters")
            self._open.add(customer_id)
        else:
            self._open.discard(customer_id)


def _first_day(account: Account | None) -> int | None:
    if account is None or account.first_seen is None:
        return None
    return epoch_hour(account.first_seen) // 24


_KIND_ORDER = {EventKind.CREATED: 0, EventKind.UPDATED: 1, EventKind.RESOLVED: 2}


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
    lateness = monitor.policy.lateness_hours * 3600.0
    heap: list[tuple[float, int, str, str, int, TicketEvent]] = []
    newest: float | None = None
    seq = 0
    for event in events:
        ts = event.at.timestamp()
        t = event.ticket
        heapq.heappush(heap, (ts, _KIND_ORDER[event.kind], t.source, t.ticket_id, seq, event))
        seq += 1
        if newest is None or ts > newest:
            newest = ts
        horizon = newest - lateness
        while heap and heap[0][0] <= horizon:
            ev = heapq.heappop(heap)[-1]
            yield from monitor.ingest(ev)
    while heap:
        ev = heapq.heappop(heap)[-1]
        yield from monitor.ingest(ev)

