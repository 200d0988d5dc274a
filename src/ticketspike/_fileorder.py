"""Putting a ticket file in time order before the detector sees it.

The detector accepts tickets up to ``lateness_hours`` out of order; a file
exported in another order (by customer, by ticket id, shuffled) would
otherwise lose nearly every ticket as "late". :func:`guarded_rows` passes a
file through as long as it is in order within that bound and raises
:class:`OutOfOrder` at the first row that is not, so an ordered file costs
nothing extra; the caller then reads it again with :func:`sorted_rows`
(in memory, up to a size) and starts over.

A ticket dated far beyond everything after it (a ``9999`` among ``2026``
tickets) would move the stream's clock to that date and make every later
ticket late. Rows that jump more than ``gap`` ahead of the stream are held
back; if the stream catches up with them they go through in order, and
if it never does they are *quarantined*: left out and reported
(:class:`OrderReport`), never silently counted.

Pure iteration over rows: no clock, no I/O of its own.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

import attrs

from .model import TicketRow, row_order

__all__ = ["OrderReport", "OutOfOrder", "guarded_rows", "row_order", "sorted_rows"]

# Held-back rows beyond this many are taken as a real jump of the stream, not outliers.
_MAX_HELD = 64


class OutOfOrder(Exception):  # noqa: N818 - a signal to the caller, not an error to show
    """A row came more than the lateness bound before the newest one seen."""


@attrs.define
class OrderReport:
    """What ordering did to a file: sorted or not, and the rows it quarantined."""

    rows: int = 0
    sorted_in_memory: bool = False
    quarantined: list[TicketRow] = attrs.field(factory=list)


def guarded_rows(
    rows: Iterable[TicketRow],
    report: OrderReport,
    *,
    lateness: float,
    gap: float,
    check_order: bool = True,
) -> Iterator[TicketRow]:
    """``rows`` as they come, with far-future outliers held back or quarantined.

    Raises :class:`OutOfOrder` (when ``check_order``) at the first row more
    than ``lateness`` seconds before the newest row passed on. ``gap`` is
    how far ahead of the stream a row may jump before it is held back.
    """
    newest = float("-inf")
    held: list[tuple[float, int, TicketRow]] = []  # (time, arrival, row), a heap
    seq = 0
    for row in rows:
        report.rows += 1
        when = row.when
        if when > newest + gap and newest != float("-inf"):
            heapq.heappush(held, (when, seq, row))
            seq += 1
            if len(held) <= _MAX_HELD:
                continue
            # Too many to be outliers: the stream really jumped ahead.
            while held:
                newest = held[0][0]
                yield heapq.heappop(held)[2]
            continue
        # Held rows the stream has now passed were early, not wrong.
        while held and held[0][0] <= when:
            newest = held[0][0]
            yield heapq.heappop(held)[2]
        if check_order and when < newest - lateness:
            raise OutOfOrder
        if when > newest:
            newest = when
        yield row
    # At the end, rows within reach of the stream go through; the rest are outliers.
    while held and held[0][0] <= newest + gap:
        newest = held[0][0]
        yield heapq.heappop(held)[2]
    report.quarantined.extend(r for _, _, r in sorted(held))


def sorted_rows(rows: Iterable[TicketRow], report: OrderReport) -> list[TicketRow]:
    """Every row, in replay order (the caller bounds the size before calling)."""
    out = sorted(rows, key=row_order)
    report.sorted_in_memory = True
    return out
