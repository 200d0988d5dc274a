"""Streaming counters: a few dozen integers per customer, O(1) work per ticket.

Each customer keeps a ring of daily counts covering the baseline plus the two
days the window can touch, with running sums of the baseline's tickets and
squared days, and the rows of its recent counted tickets (oldest first). The
ring rolls to a new day subtracting what leaves, so the per-ticket cost does
not grow with history; the rows are kept for ``span`` hours (the window or the
lateness bound, whichever is longer, plus one) and
dropped a day at a time. The window lies within the customer's last two
days, so those two days' counts bound it: most tickets are judged by adding
two integers, and only a customer that could be spiking counts its window.
The baseline only moves at the day boundary, so the counts that open a spike
are cached per customer-day and the per-ticket check is an integer comparison.

Volume rules (docs/detection.md, "Which tickets count"): only created, customer-initiated tickets
count; updates change a ticket's category or priority, never the count; the
same ticket key counts once. The counting itself (counters, the dedupe index,
the one path a ticket is counted by) is the kernel's, in :mod:`._kernel`; this
module judges.

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

from bisect import bisect_left
from datetime import datetime
from typing import Any

from ..model import Category, Priority, TicketRow
from ..model import row_created as _CREATED
from ..signals import Assessment
from ._kernel import (
    _CAT,
    _CAT_TS,
    _COUNTED,
    _HOUR,
    _ID,
    _PRIO,
    _TS,
    _URL,
    CustomerWindow,
    Kernel,
    Key,
    row_record,
    ticket_key,
)
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

# 2: rows of the span instead of hours of the window (version 1 states are rebuilt).
_STATE_VERSION = 2
# Bounds the shared cut caches (a few MiB); a full cache is simply emptied.
_CACHE_LIMIT = 32_768


class Detector(Kernel):
    """Per-customer streaming counters under one :class:`DetectionPolicy`.

    The low-level half of :class:`~ticketspike.monitor.SpikeMonitor`: it
    counts and judges, while the monitor adds the clock, ticks and episodes.
    """

    def __init__(self, policy: DetectionPolicy) -> None:
        super().__init__(policy.window_hours, policy.baseline_days, policy.lateness_hours)
        self.policy = policy
        self._b = policy.baseline_days
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

    # -- customers -----------------------------------------------------------
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
    def closed_day(self, w: CustomerWindow, x: int, n: int) -> int:
        """Day ``x`` becomes final with ``n`` tickets: it joins the baseline capped at the
        alert line of the baseline days before it, so a spike never raises its own bar."""
        if n >= self._judge_min and self._judge_days:
            return self._capped(w, x, n, self._b)
        return n

    def _capped(self, w: CustomerWindow, x: int, n: int, b: int) -> int:
        """:func:`~ticketspike.detect.assess.capped_day`, through the shared caches."""
        first = w.first_day
        days = 0 if first is None else max(0, min(b, x - first))
        known = w.known
        if days < self._history_min or n < self._candidate(w.total, days, w.rate, 24.0, known):
            return n
        return min(n, self._line(w.total, days, w.sumsq, w.rate, 24.0, known)[1].open - 1)

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
        w.floor = -1.0  # computed when first needed (see :meth:`may_spike_tomorrow`)
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
        total: int = w.total - w.daily[day % self._r]  # the day that leaves the baseline
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

    def tomorrow_floor(self, w: CustomerWindow) -> float:
        """:meth:`floor` for the day after the customer's, cached for its day."""
        if w.cut_day != w.day:
            self._refresh(w)
        floor = w.floor
        if floor < 0.0:
            floor = w.floor = self.floor(w, w.day + 1)
        return floor

    def could_open(self, w: CustomerWindow, bound: int, now: int) -> bool:
        """``False`` when no window of a customer whose last two days hold ``bound``
        tickets can be at its opening count at clock hour ``now``; ``True`` means
        "maybe" (:meth:`spiking` decides). Cheap: integer comparisons, and the
        window counted only when the bound allows a spike."""
        if w.cut_day != w.day:
            self._refresh(w)
        line = w.line
        if bound < line:
            return False
        n = self.count(w)
        if n < line:
            return False
        if n >= w.candidate:
            return True
        # Only a short window can open: it needs its candidate count of tickets,
        # so its candidate-th newest ticket must lie within it (rows are in order).
        rows = w.rows
        kept = len(rows)
        for h, cand in w.cands:
            if kept >= cand and int(rows[kept - cand].created // 3600) > now - h:
                return True
        return False

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
        rows = w.rows
        updates = w.updates
        out: list[WindowTicket] = []
        for row in rows[bisect_left(rows, lo, key=_CREATED) :]:
            rec = updates.get(ticket_key(row)) if updates else None
            if rec is None:
                out.append((row.ticket_id, row.created, row.category, row.priority, row.url))
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
        for row in w.rows:
            key = ticket_key(row)
            r = updates.get(key)
            if r is None:
                r = row_record(row)
            records.append((key, r))
        records.extend((key, r) for key, r in updates.items() if not r[_COUNTED])
        return {
            "version": _STATE_VERSION,
            "window_hours": self._w,
            "baseline_days": self._b,
            "hour": w.hour,
            "daily": list(w.daily),
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
        w.daily[:] = daily
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
                    TicketRow(
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
        w.rows = rows
        w.updates = updates or None
        self.drop(customer_id)
        for row in rows:
            self.seen[ticket_key(row)] = row
        self.customers[customer_id] = w
        if w.hour // self._span > self.band:
            self.rotate(w.hour // self._span)
        return w
