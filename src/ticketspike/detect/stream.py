"""Streaming counters: a few dozen integers per customer, O(1) work per ticket.

Each customer keeps a ring of daily counts covering the baseline plus the two
days the window can touch, with running sums of the baseline's tickets and
squared days, followed by the rows of its recent counted tickets (oldest
first). The ring rolls to a new day subtracting what leaves, so the
per-ticket cost does not grow with history; the rows are kept for ``span``
hours (the window or the lateness bound, whichever is longer, plus one) and
dropped a day at a time. The window lies within the customer's last two
days, so those two days' counts bound it: most tickets are judged by adding
two integers, and only a customer that could be spiking counts its window.
The baseline only moves at the day boundary, so the counts that open a spike
are cached per customer-day and the per-ticket check is an integer comparison.

Volume rules (PRD open question 2): only created, customer-initiated tickets
count; updates change a ticket's category or priority, never the count; the
same ticket key counts once. Deduplication goes through one index for all
customers (source, ticket id and customer -> row) kept in two generations of
``span`` hours: when the newest ticket enters a new generation the older one
is dropped whole, so forgetting costs nothing per ticket, and every key a
ticket still accepted could repeat is kept. One index instead of a dict per
customer matters: with thousands of customers each object a ticket touches
is likely a cache miss, and those misses cost more than the arithmetic.
Updates are kept per customer, only for the tickets they touch.

Past spikes do not poison the baseline: when a day closes it joins the
baseline capped at the largest count that would not have been a spike
against the days before it (once the customer has ``min_history_days`` of
its own). Capping rather than dropping lets a genuine lasting rise enter the
baseline gradually instead of alerting forever.

Late tickets within the lateness bound land in the hour and day they were
created. Nothing older than the day before the current one is accepted:
closed baseline days never change, which is what keeps streaming equal to
:func:`~ticketspike.detect.assess.assess_batch`.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from typing import Any

from ..model import ROW_CREATED, Category, Priority, TicketRow
from ..signals import Assessment
from .assess import WindowTicket, build_assessment, epoch_hour
from .baseline import (
    Baseline,
    Cutoffs,
    baseline_for,
    blended_rate,
    candidate_for,
    cutoffs_for,
    day_shape,
    dispersion,
)
from .policy import DetectionPolicy

__all__ = ["CustomerWindow", "Detector"]

# Positions in a ticket record (the effective fields of a ticket an update touched).
_HOUR, _TS, _ID, _CAT, _PRIO, _URL, _COUNTED, _CAT_TS = range(8)
# A ticket's identity in the index: (source, ticket id, customer id).
Key = tuple[str, str, str]
_CREATED = itemgetter(ROW_CREATED)
_NO_BAND = -(1 << 62)  # the index's generation before any ticket

# 2: rows of the span instead of hours of the window (version 1 states are rebuilt).
_STATE_VERSION = 2
# Bounds the shared cut caches (a few MiB); a full cache is simply emptied.
_CACHE_LIMIT = 32_768


class CustomerWindow(list[Any]):
    """One customer's counters. Mutable and internal; export with :meth:`Detector.export`.

    The list itself holds the day ring (its first ``ring`` items: one count
    per day, indexed by day modulo the ring) followed by the rows
    (:data:`~ticketspike.model.TicketRow`) of its counted tickets of the last
    ``span`` hours, in creation order. One object instead of a ring, a queue
    and their headers matters: with thousands of customers, each object a
    ticket touches is likely a cache miss, and those misses cost more than
    the arithmetic.
    """

    __slots__ = (
        "hour",
        "size",
        "ring",
        "day",
        "total",
        "sumsq",
        "first_day",
        "updates",
        "rate",
        "cut_day",
        "days",
        "base",
        "candidate",
        "cut",
        "line",
        "floor",
        "hot",
        "known",
        "shorts",
        "cands",
    )

    def __init__(
        self,
        *,
        hour: int,
        window: int,
        ring: int,
        rate: float,
        first_day: int | None,
        known: bool = True,
    ) -> None:
        # Days still open hold raw counts; closed baseline days hold their
        # count capped at the alert line, so a past spike cannot inflate it.
        super().__init__([0] * ring)
        self.hour = hour  # the clock hour the counters are at
        self.size = window
        self.ring = ring
        self.day = hour // 24
        self.total = 0  # baseline tickets (capped)
        self.sumsq = 0  # sum of squared baseline days, for the dispersion
        self.first_day = first_day
        # Records of the tickets updates touched (None until one does): an update
        # seen before its creation, or the newer category and priority of a row.
        self.updates: dict[Key, tuple[Any, ...]] | None = None
        self.rate = rate  # the segment's industry rate for this customer
        self.cut_day = -1  # the day days/base/candidate/cut were computed for
        self.days = 0  # baseline days observed, as of cut_day
        self.base: Baseline | None = None
        self.candidate = 0
        self.cut: Cutoffs | None = None
        # Counts below this are no spike today: the candidate, then the exact
        # opening count once computed (valid while cut_day is the current day).
        self.line = 0
        # At most the expected count of tomorrow's window (valid with cut_day; negative
        # until computed).
        self.floor = -1.0
        self.hot = False  # listed among the windows judged at the day boundary
        # False: the history before the monitor started watching is unknown, so
        # first_day is the day watching started and the customer warms up.
        self.known = known
        # The short windows' (hours, cutoffs), valid with cut (None until computed).
        self.shorts: tuple[tuple[int, Cutoffs], ...] | None = None
        # The short windows' (hours, candidate count), valid with cut_day.
        self.cands: tuple[tuple[int, int], ...] = ()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __repr__(self) -> str:
        return f"<CustomerWindow hour={self.hour} kept={len(self) - self.ring}>"

    @property
    def daily(self) -> list[int]:
        """The day ring (a copy)."""
        return self[: self.ring]

    @property
    def hourly(self) -> list[int]:
        """The window as a ring of hourly counts (index: hour modulo the window length)."""
        counts = [0] * self.size
        lo = self.hour - self.size
        for row in self[self.ring :]:
            h = int(row[ROW_CREATED] // 3600)
            if h > lo:
                counts[h % self.size] += 1
        return counts


class Detector:
    """Per-customer streaming counters under one :class:`DetectionPolicy`.

    The low-level half of :class:`~ticketspike.monitor.SpikeMonitor`: it
    counts and judges, while the monitor adds the clock, ticks and episodes.
    """

    def __init__(self, policy: DetectionPolicy) -> None:
        self.policy = policy
        self.customers: dict[str, CustomerWindow] = {}
        self.late_dropped = 0
        self.duplicates = 0
        self._w = policy.window_hours
        self._b = policy.baseline_days
        self._r = policy.baseline_days + 2
        # Ids are kept one hour longer than any ticket may be late or in the window.
        self._span = max(policy.window_hours, policy.lateness_hours) + 1
        self.span = self._span
        self._judge_days = policy.cap_spike_days
        self._judge_min = policy.min_count
        # Many customers share a baseline (same tickets, days and rate), so the
        # counts that cross each line are computed once and shared.
        self._candidates: dict[tuple[int, int, float, float, bool], int] = {}
        self._cuts: dict[
            tuple[int, int, float, float, float, float, bool], tuple[Baseline, Cutoffs]
        ] = {}
        self._short_candidates: dict[
            tuple[int, int, float, bool], tuple[tuple[tuple[int, int], ...], int]
        ] = {}
        self._short_cuts: dict[
            tuple[int, int, float, float, float, bool],
            tuple[tuple[tuple[int, Cutoffs], ...], tuple[tuple[int, int], ...], int],
        ] = {}
        self._hours = float(policy.window_hours)
        self._shorts = policy.windows[:-1]  # short window lengths (gated budget mode only)
        self._history_min = max(1, policy.min_history_days)
        # Customers on the same day share one int object for it: reading a
        # customer's day back then touches memory that is already cached.
        self._day = -1
        # The deduplication index, key -> row, in two generations (see the module).
        self.seen: dict[Key, TicketRow] = {}
        self.seen_old: dict[Key, TicketRow] = {}
        self.band = _NO_BAND  # the index generation: the newest hour seen // span

    # -- customers -----------------------------------------------------------
    def create(
        self,
        customer_id: str,
        *,
        hour: int,
        rate: float,
        first_day: int | None,
        known: bool = True,
    ) -> CustomerWindow:
        w = CustomerWindow(
            hour=hour, window=self._w, ring=self._r, rate=rate, first_day=first_day, known=known
        )
        self.customers[customer_id] = w
        if hour // self._span > self.band:
            self.rotate(hour // self._span)
        return w

    def drop(self, customer_id: str) -> None:
        """Forget a customer: counters, kept rows and their keys in the index."""
        w = self.customers.pop(customer_id, None)
        if w is not None:
            self._unindex(w)

    def set_profile(self, w: CustomerWindow, *, rate: float, first_day: int | None) -> None:
        """A new industry rate or first-seen day (from the account); drops cached cuts.

        A first-seen day makes the customer's history known.
        """
        if first_day is not None and not w.known:
            w.known = True
            w.cut_day = -1
        if first_day is not None and (w.first_day is None or first_day < w.first_day):
            w.first_day = first_day
            w.cut_day = -1
        if rate != w.rate:
            w.rate = rate
            w.cut_day = -1

    # -- time ----------------------------------------------------------------
    def advance(self, w: CustomerWindow, hour: int) -> None:
        """Roll the customer's counters forward to ``hour`` (never backward).

        At a new day the day ring rolls and rows older than ``span`` hours
        go; a new generation of the index starts when ``hour`` enters one.
        """
        if hour <= w.hour:
            return
        w.hour = hour
        if hour // 24 > w.day:
            self.roll_days(w, hour // 24)
            self.forget(w, hour)
        if hour // self._span > self.band:
            self.rotate(hour // self._span)

    def rotate(self, band: int) -> None:
        """Start generation ``band`` of the index; keys two generations old are dropped."""
        if self.band != _NO_BAND:
            self.seen_old = self.seen if band == self.band + 1 else {}
            self.seen = {}
        self.band = band

    def forget(self, w: CustomerWindow, hour: int) -> None:
        """Drop the customer's rows (and updates) older than ``span`` hours before ``hour``.

        No ticket accepted from then on can repeat them and no window assessed
        from then on holds them; their keys leave the index with its generation.
        """
        ring = self._r
        limit = (hour - self._span + 1) * 3600.0
        if len(w) > ring and w[ring][ROW_CREATED] < limit:
            del w[ring : bisect_left(w, limit, ring, key=_CREATED)]
        updates = w.updates
        if updates:
            oldest = hour - self._span + 1
            for key in [k for k, r in updates.items() if r[_HOUR] < oldest]:
                del updates[key]

    def count(self, w: CustomerWindow) -> int:
        """Tickets in the window ending at the customer's hour."""
        ring = self._r
        lo = (w.hour - self._w + 1) * 3600.0
        if len(w) == ring or w[ring][ROW_CREATED] >= lo:
            return len(w) - ring
        return len(w) - bisect_left(w, lo, ring, key=_CREATED)

    def count_at(self, w: CustomerWindow, hour: int) -> int:
        """Tickets in the window ending at ``hour`` (not before the customer's hour)."""
        lo = (hour - self._w + 1) * 3600.0
        return len(w) - bisect_left(w, lo, self._r, key=_CREATED)

    def newest_hours(self, w: CustomerWindow, n: int) -> int:
        """The hour of the customer's ``n``-th newest kept ticket (``n`` >= 1, kept >= n)."""
        return int(w[len(w) - n][ROW_CREATED] // 3600)

    def roll_days(self, w: CustomerWindow, day: int) -> None:
        """Close the customer's days up to ``day`` (a later day than its current one)."""
        if day == self._day:
            day = self._day  # customers on the same day share one int for it
        else:
            self._day = day
        ring = self._r
        start = w.day
        if day - start >= ring:
            w[:ring] = [0] * ring
            w.total = w.sumsq = 0
        else:
            daily = w
            b = self._b
            for t in range(start + 1, day + 1):
                # Day t-2 becomes final and joins the baseline, capped at the
                # alert line of the b days before it; day t-b-2 leaves (its
                # slot becomes day t).
                xi = (t - 2) % ring
                n = daily[xi]
                if n >= self._judge_min and self._judge_days:
                    n = self._capped(w, t - 2, n, b)
                    daily[xi] = n
                w.total += n
                w.sumsq += n * n
                li = t % ring
                gone = daily[li]
                if gone:
                    w.total -= gone
                    w.sumsq -= gone * gone
                    daily[li] = 0
        w.day = day
        w.cut_day = -1

    def _capped(self, w: CustomerWindow, x: int, n: int, b: int) -> int:
        """:func:`~ticketspike.detect.assess.capped_day`, through the shared caches."""
        first = w.first_day
        days = 0 if first is None else max(0, min(b, x - first))
        known = w.known
        if days < self._history_min or n < self._candidate(w.total, days, w.rate, 24.0, known):
            return n
        return min(n, self._line(w.total, days, w.sumsq, w.rate, 24.0, known)[1].open - 1)

    def forget_stale(self, hour: int, moved: Iterable[str] = ()) -> None:
        """Drop the rows of the ``moved`` customers older than ``span`` hours before ``hour``.

        Run once a day by the monitor with its clock hour, for the customers
        whose counters the clock may have moved without a ticket (open
        episodes, windows judged at the day boundary): memory stops holding
        the tickets of a customer who spiked and went quiet. Every other
        customer drops old rows at its next new day (see :meth:`forget`) and
        holds at most ``span`` hours of tickets meanwhile.
        """
        customers = self.customers
        for cid in moved:
            w = customers.get(cid)
            if w is not None and len(w) > w.ring:
                self.forget(w, hour)

    def _unindex(self, w: CustomerWindow) -> None:
        seen, old = self.seen, self.seen_old
        for row in w[self._r :]:
            key = (row[2], row[3], row[5])
            if seen.get(key) is row:
                del seen[key]
            if old.get(key) is row:
                del old[key]

    def indexed(self, key: Key) -> TicketRow | None:
        """The counted row of a ticket key, if the index still holds it."""
        row = self.seen.get(key)
        if row is None:
            row = self.seen_old.get(key)
        return row

    # -- tickets ---------------------------------------------------------------
    def count_ticket(self, w: CustomerWindow, key: Key, row: TicketRow) -> bool:
        """Count one created ticket; ``False`` if it was a duplicate or too late.

        The general path (late tickets, duplicates, updates seen first); the
        monitor inlines the common case.
        """
        created = row[ROW_CREATED]
        hour = int(created // 3600)
        if hour > w.hour:
            self.advance(w, hour)
        elif hour < w.hour - self._span + 1 or hour // 24 < w.day - 1:
            self.late_dropped += 1
            return False
        updates = w.updates
        rec = updates.get(key) if updates else None
        if rec is not None:
            if rec[_COUNTED]:
                self.duplicates += 1
                return False
            # An update arrived before its creation: count it now, keep the newer fields.
            assert updates is not None
            updates[key] = (
                hour,
                created,
                row[3],
                rec[_CAT],
                rec[_PRIO],
                rec[_URL] if rec[_URL] is not None else row[8],
                True,
                rec[_CAT_TS],
            )
        elif self.indexed(key) is not None:
            self.duplicates += 1
            return False
        self.seen[key] = row
        if len(w) == self._r or created >= w[-1][ROW_CREATED]:
            w.append(row)
        else:
            insort(w, row, self._r, key=_CREATED)  # a late ticket: keep creation order
        day = hour // 24
        w[day % self._r] += 1
        if w.first_day is None or day < w.first_day:
            w.first_day = day
            w.cut_day = -1
        return True

    def update_ticket(
        self,
        w: CustomerWindow,
        key: Key,
        at: float,
        created: float,
        ticket_id: str,
        category: Category | None,
        priority: Priority,
        url: str | None,
    ) -> None:
        """Apply an update made at ``at``: category and priority change, the count never."""
        updates = w.updates
        rec = updates.get(key) if updates else None
        if rec is None:
            row = self.indexed(key)
            if row is not None:
                rec = (
                    int(row[ROW_CREATED] // 3600),
                    row[ROW_CREATED],
                    row[3],
                    row[6],
                    row[7],
                    row[8],
                    True,
                    row[ROW_CREATED],
                )
        if updates is None:
            updates = w.updates = {}
        if rec is None:
            hour = int(created // 3600)
            if w.hour - self._span < hour <= w.hour:
                updates[key] = (
                    hour,
                    created,
                    ticket_id,
                    category or Category.OTHER,
                    priority,
                    url,
                    False,
                    at,
                )
            return
        if at >= rec[_CAT_TS]:
            updates[key] = (
                rec[_HOUR],
                rec[_TS],
                rec[_ID],
                rec[_CAT] if category is None else category,
                priority,
                url or rec[_URL],
                rec[_COUNTED],
                at,
            )

    # -- judging -------------------------------------------------------------
    def baseline(self, w: CustomerWindow) -> Baseline:
        if w.cut_day != w.day or w.base is None:
            self._cutoffs(w)
        assert w.base is not None
        return w.base

    def candidate(self, w: CustomerWindow) -> int:
        """A count below this is not a spike (cheap, cached per day)."""
        if w.cut_day != w.day:
            self._refresh(w)
        return w.candidate

    def line(self, w: CustomerWindow) -> int:
        """A count below this is not a spike: :meth:`candidate`, or the exact opening count
        once :meth:`cutoffs` has computed it today."""
        if w.cut_day != w.day:
            self._refresh(w)
        return w.line

    def cutoffs(self, w: CustomerWindow) -> Cutoffs:
        """Exact counts that open a spike and make it critical (cached per day)."""
        if w.cut_day != w.day or w.cut is None:
            return self._cutoffs(w)
        return w.cut

    def _refresh(self, w: CustomerWindow) -> None:
        d = w.day
        first = w.first_day
        days = 0 if first is None else max(0, min(self._b, d - 1 - first))
        w.candidate = w.line = self._candidate(w.total, days, w.rate, self._hours, w.known)
        if self._shorts:
            # One lookup for all the short windows (customers alike share it).
            key = (w.total, days, w.rate, w.known)
            found = self._short_candidates.get(key)
            if found is None:
                cands = tuple(
                    (h, self._candidate(w.total, days, w.rate, float(h), w.known))
                    for h in self._shorts
                )
                found = (cands, min(c for _h, c in cands))
                if len(self._short_candidates) > _CACHE_LIMIT:
                    self._short_candidates.clear()
                self._short_candidates[key] = found
            w.cands = found[0]
            if found[1] < w.line:
                w.line = found[1]
        w.shorts = None
        w.floor = -1.0  # computed when first needed (see SpikeMonitor.ingest_row)
        w.days = days
        w.base = None
        w.cut = None
        w.cut_day = d

    def floor(self, w: CustomerWindow, day: int) -> float:
        """At most the expected window count on ``day``, the day after the customer's.

        Closing the day in between adds the closed day (capped, so at least
        nothing) and drops the one that leaves the baseline; the baseline
        cannot fall below the one computed without the closed day. Rounding
        is monotone, so computing it the way :func:`baseline_for` does keeps
        it a bound: a count under ``threshold`` times it is no spike then.
        """
        p = self.policy
        first = w.first_day
        days = 0 if first is None else max(0, min(self._b, day - 1 - first))
        total: int = w.total - w[day % self._r]  # the day that leaves the baseline
        rate: float
        if not w.known:
            if days < self._history_min:
                return float("inf")  # still warming up tomorrow: no spike at all
            rate = total / days
        elif p.mode == "spec" or p.prior_days <= 0.0 or days >= self._b:
            rate = w.rate if days == 0 or days < p.min_history_days else total / days
        else:
            rate = blended_rate(p, total, days, w.rate)
        return rate * self._hours / 24.0

    def _cutoffs(self, w: CustomerWindow) -> Cutoffs:
        if w.cut_day != w.day:
            self._refresh(w)
        w.base, cut = self._line(w.total, w.days, w.sumsq, w.rate, self._hours, w.known)
        w.cut = cut
        line = cut.open
        if self._shorts:
            shorts, cands, low = self._short_lines(w.total, w.days, w.sumsq, w.rate, w.known)
            w.shorts = shorts
            # The exact opening counts are tighter lower bounds than the candidates.
            w.cands = cands
            if low < line:
                line = low
        w.line = line
        return cut

    def short_cuts(self, w: CustomerWindow) -> tuple[tuple[int, Cutoffs], ...]:
        """The short windows' (hours, cutoffs) for the customer's day (cached)."""
        if w.cut_day != w.day or w.cut is None or (self._shorts and w.shorts is None):
            self._cutoffs(w)
        return w.shorts or ()

    def count_in(self, w: CustomerWindow, hours: int, hour: int | None = None) -> int:
        """Tickets in the ``hours`` clock hours ending at ``hour`` (default: the customer's)."""
        end = w.hour if hour is None else hour
        lo = (end - hours + 1) * 3600.0
        return len(w) - bisect_left(w, lo, self._r, key=_CREATED)

    def spiking(self, w: CustomerWindow) -> bool:
        """Whether any window (the full one or a short one) is at its opening count now."""
        if w.cut_day != w.day:
            self._refresh(w)
        n = self.count(w)
        if n >= w.candidate and n >= self.cutoffs(w).open:
            return True
        for i, (h, cand) in enumerate(w.cands):
            k = self.count_in(w, h)
            if k >= cand and k >= self.short_cuts(w)[i][1].open:
                return True
        return False

    def quiet_at(self, w: CustomerWindow, hour: int, floor: float, threshold: float) -> bool:
        """True when no window ending at ``hour`` reaches ``threshold`` x its share of ``floor``.

        ``floor`` bounds the full window's expected count from below, so such a
        customer cannot be a spike then whatever its exact baseline.
        """
        if floor <= 0.0:
            return False
        if self.count_in(w, self._w, hour) >= threshold * floor:
            return False
        scale = floor / self._hours
        return all(self.count_in(w, h, hour) < threshold * scale * h for h in self._shorts)

    def _candidate(self, total: int, days: int, rate: float, hours: float, known: bool) -> int:
        key = (total, days, rate, hours, known)
        found = self._candidates.get(key)
        if found is None:
            # The candidate depends on the rate only, not on the spread of days.
            base = baseline_for(
                self.policy, total=total, days=days, sumsq=0, industry_rate=rate, known=known
            )
            found = candidate_for(self.policy, base, hours)
            if len(self._candidates) > _CACHE_LIMIT:
                self._candidates.clear()
            self._candidates[key] = found
        return found

    def _short_lines(
        self, total: int, days: int, sumsq: int, rate: float, known: bool
    ) -> tuple[tuple[tuple[int, Cutoffs], ...], tuple[tuple[int, int], ...], int]:
        """The short windows' (hours, cutoffs), (hours, opening count) and lowest opening
        count for one baseline, computed once and shared like :meth:`_line`."""
        spread = dispersion(total, days, sumsq)
        key = (total, days, spread, day_shape(self.policy, total, days, sumsq), rate, known)
        found = self._short_cuts.get(key)
        if found is None:
            base = baseline_for(
                self.policy, total=total, days=days, sumsq=sumsq, industry_rate=rate, known=known
            )
            shorts = tuple((h, cutoffs_for(self.policy, base, float(h))) for h in self._shorts)
            cands = tuple((h, c.open) for h, c in shorts)
            found = (shorts, cands, min(c for _h, c in cands))
            if len(self._short_cuts) > _CACHE_LIMIT:
                self._short_cuts.clear()
            self._short_cuts[key] = found
        return found

    def _line(
        self, total: int, days: int, sumsq: int, rate: float, hours: float, known: bool
    ) -> tuple[Baseline, Cutoffs]:
        # The line depends on sumsq only through the raw spread (whether the days are
        # steady) and the gate's shrunk shape, so customers alike share it.
        spread = dispersion(total, days, sumsq)
        key = (total, days, spread, day_shape(self.policy, total, days, sumsq), rate, hours, known)
        found = self._cuts.get(key)
        if found is None:
            base = baseline_for(
                self.policy, total=total, days=days, sumsq=sumsq, industry_rate=rate, known=known
            )
            found = (base, cutoffs_for(self.policy, base, hours))
            if len(self._cuts) > _CACHE_LIMIT:
                self._cuts.clear()
            self._cuts[key] = found
        return found

    def window_tickets(self, w: CustomerWindow) -> list[WindowTicket]:
        lo = (w.hour - self._w + 1) * 3600.0
        rows = w[bisect_left(w, lo, self._r, key=_CREATED) :]
        updates = w.updates
        out: list[WindowTicket] = []
        for row in rows:
            rec = updates.get((row[2], row[3], row[5])) if updates else None
            if rec is None:
                out.append((row[3], row[ROW_CREATED], row[6], row[7], row[8]))
            else:
                out.append((rec[_ID], rec[_TS], rec[_CAT], rec[_PRIO], rec[_URL]))
        return out

    def assessment(self, customer_id: str, w: CustomerWindow, at: datetime) -> Assessment:
        """The full assessment at ``at`` (rolls the rings to ``at`` first)."""
        self.advance(w, epoch_hour(at))
        cut = self.cutoffs(w)
        return build_assessment(
            self.policy,
            customer_id=customer_id,
            at=at,
            count=self.count(w),
            baseline=self.baseline(w),
            tickets=self.window_tickets(w),
            cutoffs=cut,
            shorts=tuple((h, self.count_in(w, h), c) for h, c in self.short_cuts(w)),
        )

    # -- persistence -------------------------------------------------------------
    def export(self, w: CustomerWindow) -> dict[str, Any]:
        """JSON-able counters (caches are left out; they are recomputed)."""
        updates = w.updates or {}
        records = []
        for row in w[self._r :]:
            key = (row[2], row[3], row[5])
            r = updates.get(key)
            if r is None:
                r = (
                    int(row[ROW_CREATED] // 3600),
                    row[ROW_CREATED],
                    row[3],
                    row[6],
                    row[7],
                    row[8],
                    True,
                    row[ROW_CREATED],
                )
            records.append((key, r))
        records.extend((key, r) for key, r in updates.items() if not r[_COUNTED])
        return {
            "version": _STATE_VERSION,
            "window_hours": self._w,
            "baseline_days": self._b,
            "hour": w.hour,
            "daily": w.daily,
            "total": w.total,
            "sumsq": w.sumsq,
            "first_day": w.first_day,
            "known": w.known,
            "rate": w.rate,
            "records": [
                [
                    key[0],
                    key[1],
                    r[_HOUR],
                    r[_TS],
                    r[_ID],
                    r[_CAT].value,
                    r[_PRIO].value,
                    r[_URL],
                    r[_COUNTED],
                    r[_CAT_TS],
                ]
                for key, r in records
            ],
        }

    def restore(self, customer_id: str, data: Any) -> CustomerWindow:
        """Inverse of :meth:`export`; raises ``ValueError`` on a state it cannot use."""
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise ValueError("unknown detector state version")
        if data.get("window_hours") != self._w or data.get("baseline_days") != self._b:
            raise ValueError("detector state was saved under a different window or baseline length")
        daily = [int(x) for x in data["daily"]]
        if len(daily) != self._r:
            raise ValueError("detector state rings have the wrong size")
        first = data.get("first_day")
        w = CustomerWindow(
            hour=int(data["hour"]),
            window=self._w,
            ring=self._r,
            rate=float(data["rate"]),
            first_day=None if first is None else int(first),
            known=bool(data.get("known", True)),
        )
        w[: self._r] = daily
        w.total = int(data["total"])
        w.sumsq = int(data["sumsq"])
        rows: list[TicketRow] = []
        updates: dict[Key, tuple[Any, ...]] = {}
        for src, tid_key, hour, ts, tid, cat, prio, url, counted, cat_ts in data["records"]:
            key = (str(src), str(tid_key), customer_id)
            created, category, priority = float(ts), Category(cat), Priority(prio)
            link = None if url is None else str(url)
            rec = (
                int(hour),
                created,
                str(tid),
                category,
                priority,
                link,
                bool(counted),
                float(cat_ts),
            )
            if rec[_COUNTED]:
                rows.append(
                    (
                        created,
                        0,
                        key[0],
                        key[1],
                        created,
                        customer_id,
                        category,
                        priority,
                        link,
                        False,
                        True,
                    )
                )
                if rec[_CAT_TS] != created or rec[_ID] != key[1]:
                    updates[key] = rec
            else:
                updates[key] = rec
        rows.sort(key=_CREATED)
        w.extend(rows)
        w.updates = updates or None
        self.drop(customer_id)
        for row in rows:
            self.seen[(row[2], row[3], customer_id)] = row
        self.customers[customer_id] = w
        if w.hour // self._span > self.band:
            self.rotate(w.hour // self._span)
        return w
