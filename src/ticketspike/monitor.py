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

The counting is the detector kernel's (:mod:`ticketspike.detect._kernel`),
the judging the detector's, and whom to look at when is kept in a
:class:`~ticketspike._schedule.Schedule`; this module wires them to the clock
and the episode lifecycle.

Pure in the sense that matters: the caller supplies every timestamp, nothing
reads the clock or does I/O, and each customer's state exports to JSON so a
host can persist it and carry on in another process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ._monitor_clock import EpisodeClock
from .detect.assess import epoch_hour, history_known
from .detect.policy import DetectionPolicy
from .detect.stream import CustomerWindow, Detector
from .lifecycle import (
    EpisodeState,
    LifecyclePolicy,
    Silence,
    close_episode,
)
from .model import (
    KIND_ORDER,
    Account,
    EventKind,
    TicketEvent,
    TicketRow,
    event_row,
    row_order,
    row_when,
)
from .reorder import time_ordered
from .signals import Assessment, Transition

__all__ = ["SpikeMonitor", "replay_events", "replay_rows"]

UTC = timezone.utc
_STATE_VERSION = 1
# Row kinds (a row's place in KIND_ORDER).
_CREATED_ROW = KIND_ORDER.index(EventKind.CREATED)
_UPDATED_ROW = KIND_ORDER.index(EventKind.UPDATED)


class SpikeMonitor(EpisodeClock):
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
        super().__init__()
        self._accounts: dict[str, Account] = dict(accounts or {})
        # The shortest window that can hold tickets at a day boundary (a 1-hour window
        # is the boundary's own hour, still empty when it is judged), as a share of the
        # full one: its expected count is floor x this.
        self._short_scale = (
            min(h for h in self.policy.windows if h >= 2 or h == self.policy.window_hours)
            / self.policy.window_hours
        )
        self._lateness = self.policy.lateness_hours * 3600.0
        self.watching_since = watching_since
        self._watch_hour = None if watching_since is None else epoch_hour(watching_since)

    def watch_from(self, at: datetime) -> None:
        """Set when watching started (see the class), if it is not set yet.

        Customers created before the call keep the history they were given.
        """
        if self.watching_since is None:
            self.watching_since = at
            self._watch_hour = epoch_hour(at)

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
        """:meth:`ingest` for a :class:`~ticketspike.model.TicketRow`, appending to ``out``.

        What ``replay`` and ``scan`` call: the same counting and judging
        without a ticket object per event (see
        :func:`~ticketspike.model.ticket_row_from_json`).
        """
        if row.internal:
            return
        when = row.when
        clock = self.clock
        if clock is None or when >= self._next_hour:
            clock = self._see(when, out)
        elif when > clock:  # else a late event, judged at the current clock
            self.clock = clock = when
        kind = row.kind
        if kind != _CREATED_ROW:
            if kind == _UPDATED_ROW:  # the count never changes; resolved changes nothing
                self._update(row, clock)
            return
        if row.created < clock - self._lateness:
            self.detector.late_dropped += 1  # too late to count: a lost ticket
            return
        cid = row.customer_id
        w = self.detector.customers.get(cid)
        if w is None:
            w = self._new_window(cid, int(row.created // 3600))
        now = self._clock_hour
        assert now is not None
        # The window lies within the customer's last two days, so their counts
        # bound it: most tickets stop here, without trimming or counting it.
        bound = self.detector.add(w, row, now)
        if bound >= self._hot_min or (bound >= 0 and cid in self._plan.open):
            self._judge_counted(cid, w, bound, now, clock, out)

    def _update(self, row: TicketRow, clock: float) -> None:
        """An update: of a counted ticket however old (while the detector holds it); of one
        not counted yet, only if its creation could still count."""
        early = row.created >= clock - self._lateness
        w = self.detector.customers.get(row.customer_id)
        if w is None:
            if not early:
                return
            w = self._new_window(row.customer_id, int(row.created // 3600))
        assert self._clock_hour is not None
        self.detector.update(w, row, self._clock_hour, early=early)

    def _judge_counted(
        self, cid: str, w: CustomerWindow, bound: int, now: int, clock: float, out: list[Transition]
    ) -> None:
        """Judge a customer whose counters just counted a ticket (``bound``: the
        tickets of its last two days)."""
        plan = self._plan
        if cid in plan.open:
            self._judge_open(cid, w, now, clock, out)
            return
        det = self.detector
        if cid not in plan.hot:
            # Listed for the day boundary only if tomorrow's baseline could make
            # it a spike (the count only falls until the next ticket re-checks).
            floor = det.tomorrow_floor(w)
            if not (floor > 0.0 and bound / (floor * self._short_scale) < self._threshold):
                plan.hot.add(cid)
        if det.could_open(w, bound, now):
            out.extend(self._evaluate(cid, w, now, datetime.fromtimestamp(clock, tz=UTC)))

    def _judge_open(
        self, cid: str, w: CustomerWindow, now: int, clock: float, out: list[Transition]
    ) -> None:
        """A counted ticket of a customer with an open episode."""
        self._plan.hot.add(cid)
        count = self.detector.count(w)
        # Most tickets of an open episode change nothing: the count is
        # between the resolve line and the escalation line.
        watch = self._plan.watch.get(cid)
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
            if self.detector.count(w) >= self._hot_min:
                # Its listing for the day boundary was judged under the old profile.
                self._plan.hot.add(cid)
            self._plan.reset(cid)
            if cid in self._plan.open and self._clock_hour is not None:
                self._schedule(cid, w, self._clock_hour)

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
        if customer_id in self._plan.open and self._clock_hour is not None:
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
        self._plan.closed(customer_id)
        return [] if transition is None else [transition]

    def episode(self, customer_id: str) -> EpisodeState:
        """The customer's lifecycle state (an empty one if it never spiked)."""
        return self._states.get(customer_id, EpisodeState())

    @property
    def open_episodes(self) -> frozenset[str]:
        return frozenset(self._plan.open)

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
                    self._plan.hot.add(customer_id)
                start = float(w.hour * 3600)
                if self.clock is None or start > self.clock:
                    self._set_clock(start, w.hour)
            else:
                self.detector.drop(customer_id)
            life = state.get("lifecycle")
            self._plan.reset(customer_id)
            if life is None:
                self._states.pop(customer_id, None)
                self._plan.closed(customer_id)
                return
            restored = EpisodeState.from_json(life)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed monitor state ({type(exc).__name__}: {exc})") from None
        self._states[customer_id] = restored
        if restored.episode is not None:
            window = self.detector.customers.get(customer_id)
            if window is None:
                raise ValueError("an open episode needs detector counters")
            self._plan.opened(customer_id)
            if self._clock_hour is not None:
                self._schedule(customer_id, window, self._clock_hour)
        else:
            self._plan.closed(customer_id)


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

    Rows are put back in order by :func:`~ticketspike.reorder.time_ordered`, on their first
    four items (time, kind, source, id), the replay order.
    """
    ingest = monitor.ingest_row
    out: list[Transition] = []
    for row in time_ordered(
        rows,
        when=row_when,
        key=row_order,
        lateness_seconds=monitor.policy.lateness_hours * 3600.0,
    ):
        ingest(row, out)
        if out:
            yield from out
            out.clear()
