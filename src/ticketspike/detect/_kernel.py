"""The detector's counting kernel: per-customer counters, the ticket index, one counting path.

Everything a ticket does to the counters happens here, in one place each:
:func:`ticket_key` is the identity that counts once, :meth:`Kernel.add` the
only path by which a created ticket is counted, :meth:`Kernel.update` the only
path by which an update changes a counted ticket. Judging (baselines, lines,
spikes) lives in :class:`~ticketspike.detect.stream.Detector`, which builds on
this; the monitor only calls the methods and reads the counters' clock
(``hour``, ``day``).

The same source runs as plain Python or compiled with mypyc (see
docs/detection.md, "Compiled kernel"); nothing here may depend on which.

Dedupe index: one index for all customers (source, ticket id and customer ->
row) kept in two generations of ``span`` hours: when the newest ticket enters
a new generation the older one is dropped whole, so forgetting costs nothing
per ticket, and every key a ticket still accepted could repeat is kept. One
index instead of a dict per customer matters: with thousands of customers each
object a ticket touches is likely a cache miss, and those misses cost more
than the arithmetic. Updates are kept per customer, only for the tickets they
touch.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Any

from ..model import Category, TicketFields, TicketRow, merge_update, ticket_key
from ..model import row_created as _CREATED
from .baseline import Baseline, Cutoffs

__all__ = ["CustomerWindow", "Kernel", "Key", "ticket_key"]

# Positions in a ticket record (the effective fields of a ticket an update touched).
_HOUR, _TS, _ID, _CAT, _PRIO, _URL, _COUNTED, _CAT_TS = range(8)
# A ticket's identity in the index: (source, ticket id, customer id).
Key = tuple[str, str, str]
_NO_BAND = -(1 << 62)  # the index's generation before any ticket
_INF = float("inf")


def row_record(row: TicketRow) -> tuple[Any, ...]:
    """The record of a counted row that no update has touched yet."""
    created = row.created
    return (
        int(created // 3600),
        created,
        row.ticket_id,
        row.category,
        row.priority,
        row.url,
        True,
        created,
    )


class CustomerWindow:
    """One customer's counters. Mutable and internal; export with ``Detector.export``.

    ``daily`` is the day ring (one count per day, indexed by day modulo the
    ring); ``rows`` the :class:`~ticketspike.model.TicketRow` of its counted
    tickets of the last ``span`` hours, in creation order. The other slots
    are the judge's per-day caches (see ``Detector``).
    """

    __slots__ = (
        "daily",
        "rows",
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
        self.daily: list[int] = [0] * ring
        self.rows: list[TicketRow] = []
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
        # False: the history before the monitor started watching is unknown, so
        # first_day is the day watching started and the customer warms up.
        self.known = known
        # The short windows' (hours, cutoffs), valid with cut (None until computed).
        self.shorts: tuple[tuple[int, Cutoffs], ...] | None = None
        # The short windows' (hours, candidate count), valid with cut_day.
        self.cands: tuple[tuple[int, int], ...] = ()

    def __len__(self) -> int:
        """What the counters hold: the ring's days plus the kept rows."""
        return self.ring + len(self.rows)

    def __repr__(self) -> str:
        return f"<CustomerWindow hour={self.hour} kept={len(self.rows)}>"

    @property
    def hourly(self) -> list[int]:
        """The window as a ring of hourly counts (index: hour modulo the window length)."""
        counts = [0] * self.size
        lo = self.hour - self.size
        for row in self.rows:
            h = int(row.created // 3600)
            if h > lo:
                counts[h % self.size] += 1
        return counts


class Kernel:
    """Counters of every customer and the index of the tickets they counted.

    ``late_dropped`` and ``duplicates`` count the tickets refused as too late
    or already counted. A closing day joins the baseline through :meth:`closed_day`,
    which a judge that caps spike days overrides.
    """

    def __init__(self, window_hours: int, baseline_days: int, lateness_hours: int) -> None:
        self.customers: dict[str, CustomerWindow] = {}
        self.late_dropped = 0
        self.duplicates = 0
        self._w = window_hours
        self._r = baseline_days + 2
        # Ids are kept one hour longer than any ticket may be late or in the window.
        self._span = max(window_hours, lateness_hours) + 1
        self.span = self._span
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
            seen, old = self.seen, self.seen_old
            for row in w.rows:
                key = ticket_key(row)
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

    # -- time ----------------------------------------------------------------
    def advance(self, w: CustomerWindow, hour: int) -> None:
        """Roll the customer's counters forward to ``hour`` (never backward).

        At a new day the day ring rolls and rows older than ``span`` hours
        go; a new generation of the index starts when ``hour`` enters one.
        """
        if hour > w.hour:
            w.hour = hour
            if hour // 24 > w.day or hour // self._span > self.band:
                self._cross(w, hour)

    def _cross(self, w: CustomerWindow, hour: int) -> None:
        """The counters just reached ``hour``, in a new day or index generation."""
        if hour // 24 > w.day:
            self.roll_days(w, hour // 24)
            self.forget(w, hour)
        if hour // self._span > self.band:
            self.rotate(hour // self._span)

    def roll_days(self, w: CustomerWindow, day: int) -> None:
        """Close the customer's days up to ``day`` (a later day than its current one)."""
        if day == self._day:
            day = self._day  # customers on the same day share one int for it
        else:
            self._day = day
        ring = self._r
        start = w.day
        if day - start >= ring:
            w.daily[:] = [0] * ring
            w.total = w.sumsq = 0
        else:
            daily = w.daily
            for t in range(start + 1, day + 1):
                # Day t-2 becomes final and joins the baseline (through closed_day); day
                # t-b-2 leaves (its slot becomes day t).
                xi = (t - 2) % ring
                n = daily[xi]
                if n:
                    n = self.closed_day(w, t - 2, n)
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

    def closed_day(self, w: CustomerWindow, x: int, n: int) -> int:
        """The count day ``x`` keeps in the baseline when it becomes final (``n`` tickets,
        at least one); a judge that caps spike days overrides this."""
        return n

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
        rows = w.rows
        limit = (hour - self._span + 1) * 3600.0
        if rows and rows[0].created < limit:
            del rows[: bisect_left(rows, limit, key=_CREATED)]
        updates = w.updates
        if updates:
            oldest = hour - self._span + 1
            for key in [k for k, r in updates.items() if r[_HOUR] < oldest]:
                del updates[key]

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
            if w is not None and w.rows:
                self.forget(w, hour)

    # -- counting ------------------------------------------------------------
    def count(self, w: CustomerWindow) -> int:
        """Tickets in the window ending at the customer's hour."""
        rows = w.rows
        lo = (w.hour - self._w + 1) * 3600.0
        if not rows or rows[0].created >= lo:
            return len(rows)
        return len(rows) - bisect_left(rows, lo, key=_CREATED)

    def count_at(self, w: CustomerWindow, hour: int) -> int:
        """Tickets in the window ending at ``hour`` (not before the customer's hour)."""
        return self.count_in(w, self._w, hour)

    def count_in(self, w: CustomerWindow, hours: int, hour: int | None = None) -> int:
        """Tickets in the ``hours`` clock hours ending at ``hour`` (default: the customer's)."""
        end = w.hour if hour is None else hour
        lo = (end - hours + 1) * 3600.0
        rows = w.rows
        return len(rows) - bisect_left(rows, lo, key=_CREATED)

    def newest_hours(self, w: CustomerWindow, n: int) -> int:
        """The hour of the customer's ``n``-th newest kept ticket (``n`` >= 1, kept >= n)."""
        rows = w.rows
        return int(rows[len(rows) - n].created // 3600)

    def two_days(self, w: CustomerWindow, day: int) -> int:
        """Tickets of days ``day - 1`` and ``day`` as far as the counters reached them: at
        the customer's own day, a bound on its window (the window lies within them)."""
        reached = w.day
        if reached < day - 1:
            return 0
        daily = w.daily
        n = daily[(day - 1) % self._r]
        return n + daily[day % self._r] if reached >= day else n

    def add(self, w: CustomerWindow, row: TicketRow, now: int) -> int:
        """Count one created ticket, then move the counters to ``now`` (the clock hour).

        Returns the tickets of the customer's day and the day before (what the
        caller judges first: a bound on its window), or -1 if the ticket was a
        duplicate or too late (nothing changes then but the refusal counters).
        The one counting path: late tickets, duplicates and updates seen before
        their creation included.
        """
        created = row.created
        hour = int(created // 3600)
        if hour > w.hour:
            # Advance, without the call: most tickets move their customer's hour.
            w.hour = hour = now if hour == now else hour  # one shared int per hour
            if hour // 24 > w.day or hour // self._span > self.band:
                self._cross(w, hour)
        elif hour < w.hour - self._span + 1 or hour // 24 < w.day - 1:
            self.late_dropped += 1
            return -1
        key = ticket_key(row)
        updates = w.updates
        rec = updates.get(key) if updates else None
        if rec is not None:
            if rec[_COUNTED]:
                self.duplicates += 1
                return -1
            # An update arrived before its creation: count it now, keep the newer fields.
            assert updates is not None
            updates[key] = (
                hour,
                created,
                row.ticket_id,
                rec[_CAT],
                rec[_PRIO],
                rec[_URL] if rec[_URL] is not None else row.url,
                True,
                rec[_CAT_TS],
            )
            self.seen[key] = row
        elif key in self.seen_old or self.seen.setdefault(key, row) is not row:
            self.duplicates += 1
            return -1
        rows = w.rows
        if not rows or created >= rows[-1].created:
            rows.append(row)
        else:
            insort(rows, row, key=_CREATED)  # a late ticket: keep creation order
        day = hour // 24
        daily = w.daily
        ring = self._r
        daily[day % ring] += 1
        if w.first_day is None or day < w.first_day:
            w.first_day = day
            w.cut_day = -1
        if w.hour < now:
            self.advance(w, now)
        day = w.day
        return daily[day % ring] + daily[(day - 1) % ring]

    def update(self, w: CustomerWindow, row: TicketRow, now: int, *, early: bool = True) -> None:
        """Apply an update row seen at clock hour ``now``: category and priority change,
        the count never, by the one update rule (:func:`~ticketspike.model.merge_update`,
        which the store applies too).

        Judged against the clock, not against how far this customer's counters
        happened to have moved: an update seen before its creation is kept
        whenever the creation would still be accepted (``early``: the caller's
        lateness rule says it would be).
        """
        if w.hour < now:
            self.advance(w, now)
        key = ticket_key(row)
        updates = w.updates
        rec = updates.get(key) if updates else None
        if rec is None:
            counted = self.indexed(key)
            if counted is not None:
                rec = row_record(counted)
        if rec is None:
            # Seen before its creation: the update's fields on a ticket known for nothing else.
            created = row.created
            hour = int(created // 3600)
            if not early or not w.hour - self._span < hour <= w.hour:
                return
            rec = (hour, created, row.ticket_id, Category.OTHER, row.priority, None, False, -_INF)
        merged = merge_update(TicketFields(rec[_CAT], rec[_PRIO], rec[_URL], rec[_CAT_TS]), row)
        if merged is None:
            return
        if updates is None:
            updates = w.updates = {}
        updates[key] = (
            rec[_HOUR],
            rec[_TS],
            rec[_ID],
            merged.category,
            merged.priority,
            merged.url,
            rec[_COUNTED],
            merged.as_of,
        )
