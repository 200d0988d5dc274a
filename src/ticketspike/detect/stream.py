"""Streaming counters: a few dozen integers per customer, O(1) work per ticket.

Each customer keeps the hours of the tickets in its window (oldest first)
and a ring of daily counts covering the baseline plus the two days the
window can touch, with running sums of the baseline's tickets and squared
days. Tickets leave the window from the front of that queue, so a ticket
costs one append and, later, one removal, however long the customer was
quiet; the ring rolls to a new day subtracting what leaves, so the
per-ticket cost does not grow with history. The window is trimmed lazily:
a customer with fewer queued tickets than could ever be a spike is never
trimmed, which is what most tickets of small customers need. The baseline
only moves at the day boundary, so the counts that open a spike are cached
per customer-day and the per-ticket check is an integer comparison.

Volume rules (PRD open question 2): only created, customer-initiated tickets
count; updates change a ticket's category or priority, never the count; the
same ticket key counts once. To deduplicate with bounded memory the ids of a
customer's tickets are kept in two generations of ``span`` hours (the window
or the lateness bound, whichever is longer, plus one): when the customer's
clock enters a new generation the older one is dropped whole, so forgetting
costs nothing per ticket and every id a duplicate could still carry is kept.

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

from bisect import bisect_right, insort
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..model import Category, Priority
from ..signals import Assessment
from .assess import WindowTicket, build_assessment, epoch_hour
from .baseline import Baseline, Cutoffs, baseline_for, candidate_for, cutoffs_for, dispersion
from .policy import DetectionPolicy

__all__ = ["CustomerWindow", "Detector"]

# Positions in a ticket record (a tuple: cheap to build, replaced on update).
_HOUR, _TS, _ID, _CAT, _PRIO, _URL, _COUNTED, _CAT_TS = range(8)

_STATE_VERSION = 1
# Bounds the shared cut caches (a few MiB); a full cache is simply emptied.
_CACHE_LIMIT = 8_192


class CustomerWindow(list[int]):
    """One customer's counters. Mutable and internal; export with :meth:`Detector.export`.

    The list itself holds the day ring (its first ``ring`` items: one count
    per day, indexed by day modulo the ring) followed by the hours of the
    window's counted tickets, oldest first. One object instead of a ring, a
    queue and their headers matters: with thousands of customers, each
    object a ticket touches is likely a cache miss, and those misses cost
    more than the arithmetic.
    """

    __slots__ = (
        "hour", "size", "ring", "day", "total", "sumsq", "first_day", "records", "older", "band",
        "rate", "cut_day", "days", "base", "candidate", "cut", "line", "floor", "hot",
    )

    def __init__(self, *, hour: int, window: int, ring: int, rate: float,
                 first_day: int | None, span: int) -> None:
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
        # Ticket records by key: this generation of ``span`` hours and the one before.
        self.records: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.older: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.band = hour // span
        self.rate = rate  # the segment's industry rate for this customer
        self.cut_day = -1  # the day days/base/candidate/cut were computed for
        self.days = 0  # baseline days observed, as of cut_day
        self.base: Baseline | None = None
        self.candidate = 0
        self.cut: Cutoffs | None = None
        # Counts below this are no spike today: the candidate, then the exact
        # opening count once computed (valid while cut_day is the current day).
        self.line = 0
        # At most the expected count of tomorrow's window (valid with cut_day).
        self.floor = 0.0
        self.hot = False  # listed among the windows judged at the day boundary

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __repr__(self) -> str:
        return f"<CustomerWindow hour={self.hour} window={len(self) - self.ring}>"

    @property
    def daily(self) -> list[int]:
        """The day ring (a copy)."""
        return self[:self.ring]

    @property
    def in_window(self) -> int:
        """Tickets in the window ending at :attr:`hour` (trims what has left it)."""
        ring = self.ring
        k = bisect_right(self, self.hour - self.size, ring)
        if k > ring:
            del self[ring:k]
        return len(self) - ring

    @property
    def hourly(self) -> list[int]:
        """The window as a ring of hourly counts (index: hour modulo the window length)."""
        counts = [0] * self.size
        lo = self.hour - self.size
        for h in self[self.ring:]:
            if h > lo:
                counts[h % self.size] += 1
        return counts

    def newest(self) -> int | None:
        """The hour of the newest counted ticket still queued, if any."""
        return self[-1] if len(self) > self.ring else None


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
        self._candidates: dict[tuple[int, int, float, float], int] = {}
        self._cuts: dict[tuple[int, int, float, float, float], tuple[Baseline, Cutoffs]] = {}
        self._hours = float(policy.window_hours)
        self._history_min = max(1, policy.min_history_days)
        # Customers on the same day share one int object for it: reading a
        # customer's day back then touches memory that is already cached.
        self._day = -1

    # -- customers -----------------------------------------------------------
    def create(self, customer_id: str, *, hour: int, rate: float,
               first_day: int | None) -> CustomerWindow:
        w = CustomerWindow(hour=hour, window=self._w, ring=self._r, rate=rate,
                           first_day=first_day, span=self._span)
        self.customers[customer_id] = w
        return w

    def set_profile(self, w: CustomerWindow, *, rate: float, first_day: int | None) -> None:
        """A new industry rate or first-seen day (from the account); drops cached cuts."""
        if first_day is not None and (w.first_day is None or first_day < w.first_day):
            w.first_day = first_day
            w.cut_day = -1
        if rate != w.rate:
            w.rate = rate
            w.cut_day = -1

    # -- time ----------------------------------------------------------------
    def advance(self, w: CustomerWindow, hour: int) -> None:
        """Roll the customer's counters forward to ``hour`` (never backward).

        The window itself is trimmed lazily (see :meth:`count`) and at each
        new day; the day ring and the generations of ticket ids move here.
        """
        if hour <= w.hour:
            return
        w.hour = hour
        if hour // 24 > w.day:
            self.roll_days(w, hour // 24)
            self.trim(w)
        band = hour // self._span
        if band != w.band:
            self.rotate(w, band)

    def rotate(self, w: CustomerWindow, band: int) -> None:
        """Start generation ``band`` of ticket ids; ids two generations old are dropped."""
        w.older = w.records if band == w.band + 1 else {}
        w.records = {}
        w.band = band

    def trim(self, w: CustomerWindow) -> None:
        """Drop the queued hours that have left the window ending at the customer's hour."""
        ring = self._r
        if len(w) > ring and w[ring] <= w.hour - self._w:
            del w[ring:bisect_right(w, w.hour - self._w, ring)]

    def count(self, w: CustomerWindow) -> int:
        """Tickets in the window ending at the customer's hour (trims what has left)."""
        ring = self._r
        k = bisect_right(w, w.hour - self._w, ring)
        if k > ring:
            del w[ring:k]
        return len(w) - ring

    def count_at(self, w: CustomerWindow, hour: int) -> int:
        """Tickets in the window ending at ``hour`` (not before the customer's hour), untrimmed."""
        return len(w) - bisect_right(w, hour - self._w, self._r)

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
        if days < self._history_min or n < self._candidate(w.total, days, w.rate, 24.0):
            return n
        return min(n, self._line(w.total, days, w.sumsq, w.rate, 24.0)[1].open - 1)

    def forget_stale(self, hour: int, moved: Iterable[str] = ()) -> None:
        """Drop the ticket ids of customers quiet for longer than ids are kept.

        Run once a day by the monitor with its clock hour: no ticket accepted
        from now on can be a duplicate of these, and none is in any window
        assessed from now on, so memory stops holding tickets of customers who
        went quiet. ``moved`` names the customers whose counters the clock
        may have moved without a ticket (open episodes, windows judged at the
        day boundary): they are checked ticket by ticket. Customers still
        active drop stale ids a generation at a time (see :meth:`rotate`);
        ids kept a little longer are never read again (the monitor refuses
        tickets that late), so when exactly they go changes nothing.
        """
        stale = hour - self._span
        for w in self.customers.values():
            if w.hour <= stale and (w.records or w.older):
                w.records = {}
                w.older = {}
        customers = self.customers
        for cid in moved:
            w = customers[cid]
            if (w.records or w.older) and (len(w) == w.ring or w[-1] <= stale):
                # Its counters moved but no ticket is recent.
                for records in (w.older, w.records):
                    for key in [k for k, r in records.items() if r[_HOUR] <= stale]:
                        del records[key]

    def record(self, w: CustomerWindow, key: tuple[str, str]) -> tuple[Any, ...] | None:
        """The kept record of a ticket key, from either generation."""
        rec = w.records.get(key)
        if rec is None and w.older:
            rec = w.older.get(key)
        return rec

    def _put(self, w: CustomerWindow, key: tuple[str, str], rec: tuple[Any, ...]) -> None:
        if key in w.older:
            w.older[key] = rec
        else:
            w.records[key] = rec

    # -- tickets ---------------------------------------------------------------
    def count_ticket(
        self, w: CustomerWindow, key: tuple[str, str], created: float, ticket_id: str,
        category: Category, priority: Priority, url: str | None,
    ) -> bool:
        """Count one created ticket; ``False`` if it was a duplicate or too late."""
        hour = int(created // 3600)
        if hour > w.hour:
            self.advance(w, hour)
        elif hour < w.hour - self._span + 1 or hour // 24 < w.day - 1:
            self.late_dropped += 1
            return False
        rec = self.record(w, key)
        if rec is None:
            w.records[key] = (hour, created, ticket_id, category, priority, url, True, created)
        elif rec[_COUNTED]:
            self.duplicates += 1
            return False
        else:
            # An update arrived before its creation: count it now, keep the newer fields.
            self._put(w, key, (hour, created, ticket_id, rec[_CAT], rec[_PRIO],
                               rec[_URL] if rec[_URL] is not None else url, True,
                               rec[_CAT_TS]))
        if len(w) == self._r or hour >= w[-1]:
            w.append(hour)
        elif hour > w.hour - self._w:
            insort(w, hour, self._r)  # a late ticket: keep the hours in order
        day = hour // 24
        w[day % self._r] += 1
        if w.first_day is None or day < w.first_day:
            w.first_day = day
            w.cut_day = -1
        return True

    def update_ticket(
        self, w: CustomerWindow, key: tuple[str, str], at: float, created: float,
        ticket_id: str, category: Category | None, priority: Priority, url: str | None,
    ) -> None:
        """Apply an update made at ``at``: category and priority change, the count never."""
        rec = self.record(w, key)
        if rec is None:
            hour = int(created // 3600)
            if w.hour - self._span < hour <= w.hour:
                w.records[key] = (hour, created, ticket_id, category or Category.OTHER,
                                  priority, url, False, at)
            return
        if at >= rec[_CAT_TS]:
            self._put(w, key, (
                rec[_HOUR], rec[_TS], rec[_ID], rec[_CAT] if category is None else category,
                priority, url or rec[_URL], rec[_COUNTED], at,
            ))

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
        w.candidate = w.line = self._candidate(w.total, days, w.rate, self._hours)
        w.floor = self.floor(w, d + 1)
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
        total = w.total - w[day % self._r]  # the day that leaves the baseline
        if p.mode == "spec" or p.prior_days <= 0.0:
            rate = w.rate if days == 0 or days < p.min_history_days else total / days
        elif days == 0:
            rate = w.rate
        else:
            rate = (w.rate * p.prior_days + total) / (p.prior_days + days)
        return rate * self._hours / 24.0

    def _cutoffs(self, w: CustomerWindow) -> Cutoffs:
        if w.cut_day != w.day:
            self._refresh(w)
        w.base, cut = self._line(w.total, w.days, w.sumsq, w.rate, self._hours)
        w.cut = cut
        w.line = cut.open
        return cut

    def _candidate(self, total: int, days: int, rate: float, hours: float) -> int:
        key = (total, days, rate, hours)
        found = self._candidates.get(key)
        if found is None:
            # The candidate depends on the rate only, not on the spread of days.
            base = baseline_for(self.policy, total=total, days=days, sumsq=0,
                                industry_rate=rate)
            found = candidate_for(self.policy, base, hours)
            if len(self._candidates) > _CACHE_LIMIT:
                self._candidates.clear()
            self._candidates[key] = found
        return found

    def _line(self, total: int, days: int, sumsq: int, rate: float,
              hours: float) -> tuple[Baseline, Cutoffs]:
        key = (total, days, dispersion(total, days, sumsq), rate, hours)
        found = self._cuts.get(key)
        if found is None:
            base = baseline_for(self.policy, total=total, days=days, sumsq=sumsq,
                                industry_rate=rate)
            found = (base, cutoffs_for(self.policy, base, hours))
            if len(self._cuts) > _CACHE_LIMIT:
                self._cuts.clear()
            self._cuts[key] = found
        return found

    def window_tickets(self, w: CustomerWindow) -> list[WindowTicket]:
        lo = w.hour - self._w
        return [
            (r[_ID], r[_TS], r[_CAT], r[_PRIO], r[_URL])
            for records in (w.older, w.records)
            for r in records.values()
            if r[_COUNTED] and lo < r[_HOUR] <= w.hour
        ]

    def assessment(self, customer_id: str, w: CustomerWindow, at: datetime) -> Assessment:
        """The full assessment at ``at`` (rolls the rings to ``at`` first)."""
        self.advance(w, epoch_hour(at))
        cut = self.cutoffs(w)
        return build_assessment(self.policy, customer_id=customer_id, at=at,
                                count=self.count(w), baseline=self.baseline(w),
                                tickets=self.window_tickets(w), cutoffs=cut)

    # -- persistence -------------------------------------------------------------
    def export(self, w: CustomerWindow) -> dict[str, Any]:
        """JSON-able counters (caches are left out; they are recomputed)."""
        return {
            "version": _STATE_VERSION,
            "window_hours": self._w,
            "baseline_days": self._b,
            "hour": w.hour,
            "hourly": list(w.hourly),
            "daily": w.daily,
            "total": w.total,
            "sumsq": w.sumsq,
            "first_day": w.first_day,
            "rate": w.rate,
            "records": [
                [key[0], key[1], r[_HOUR], r[_TS], r[_ID], r[_CAT].value, r[_PRIO].value,
                 r[_URL], r[_COUNTED], r[_CAT_TS]]
                for records in (w.older, w.records)
                for key, r in records.items()
            ],
        }

    def restore(self, customer_id: str, data: Any) -> CustomerWindow:
        """Inverse of :meth:`export`; raises ``ValueError`` on a state it cannot use."""
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise ValueError("unknown detector state version")
        if data.get("window_hours") != self._w or data.get("baseline_days") != self._b:
            raise ValueError("detector state was saved under a different window or baseline "
                             "length")
        hourly = [int(x) for x in data["hourly"]]
        daily = [int(x) for x in data["daily"]]
        if len(hourly) != self._w or len(daily) != self._r:
            raise ValueError("detector state rings have the wrong size")
        first = data.get("first_day")
        w = CustomerWindow(hour=int(data["hour"]), window=self._w, ring=self._r,
                           rate=float(data["rate"]),
                           first_day=None if first is None else int(first), span=self._span)
        w[:self._r] = daily
        for h in range(w.hour - self._w + 1, w.hour + 1):
            n = hourly[h % self._w]
            if n > 0:
                w.extend([h] * n)
        w.total = int(data["total"])
        w.sumsq = int(data["sumsq"])
        for src, tid_key, hour, ts, tid, cat, prio, url, counted, cat_ts in data["records"]:
            w.records[(str(src), str(tid_key))] = (
                int(hour), float(ts), str(tid), Category(cat), Priority(prio),
                None if url is None else str(url), bool(counted), float(cat_ts),
            )
        self.customers[customer_id] = w
        return w
