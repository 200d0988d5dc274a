"""The reorder buffer: items back in time order, for a stream that is only roughly sorted.

One implementation for everything that replays a stream (``replay``/``scan`` over ticket rows,
``run`` over ticket events): an item is held until it is at least the lateness bound older than
the newest item seen, then released in the order of its key, ties by arrival. So the same items
in any arrival order within the bound come out the same, and memory follows the bound, not the
stream. An item that arrives later than the bound is released at once, in arrival order, for
its consumer to count as late.

Files are mostly in order already, so an item newer than everything before it goes to a plain
queue and only the others (stragglers and same-instant ties) to a heap; the two are merged on
the way out, the queue first on a tie, which is the order one heap would give (a queued item
arrived before any held item with an equal key). The common case then costs a deque append and
pop per item, no key and no heap.

Pure and generic (``T`` is whatever the stream carries); compiled with mypyc along with the
monitor, which replays through it (docs/detection.md, "Compiled kernel").
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["time_ordered"]

T = TypeVar("T")


def time_ordered(
    items: Iterable[T],
    *,
    when: Callable[[T], float],
    key: Callable[[T], Any],
    lateness_seconds: float,
) -> Iterator[T]:
    """``items`` in ``key`` order (ties by arrival), each released once it is at least
    ``lateness_seconds`` older than the newest seen, the rest at the end.

    ``when`` is the item's time in seconds and ``key`` its full order, a tuple whose first
    element is that time (``key`` is asked only of items that need sorting).
    """
    # The queue: its items and, alongside, their times (so releasing asks no ``when``).
    ordered: deque[T] = deque()
    times: deque[float] = deque()
    heap: list[tuple[Any, int, T]] = []
    newest = float("-inf")
    seq = 0
    for item in items:
        at = when(item)
        if at > newest:
            newest = at
            ordered.append(item)
            times.append(at)
            if not heap:
                # In order: release what the horizon passed (with a bound above zero,
                # this stops at the item just queued at the latest).
                horizon = at - lateness_seconds
                while times and times[0] <= horizon:
                    times.popleft()
                    yield ordered.popleft()
                continue
        else:
            heapq.heappush(heap, (key(item), seq, item))
            seq += 1
        # A straggler waits in the heap for up to the lateness bound; meanwhile the queue
        # drains on its own up to the heap's first time (a tie is left to the merge, which
        # compares whole keys).
        horizon = newest - lateness_seconds
        first: float = heap[0][0][0]
        while times and times[0] < first and times[0] <= horizon:
            times.popleft()
            yield ordered.popleft()
        if first <= horizon:
            yield from _merged(ordered, times, heap, horizon, key)
    yield from _merged(ordered, times, heap, float("inf"), key)


def _merged(
    ordered: deque[T],
    times: deque[float],
    heap: list[tuple[Any, int, T]],
    horizon: float,
    key: Callable[[T], Any],
) -> Iterator[T]:
    """Every buffered item no newer than ``horizon``, in order, from the queue and the heap."""
    while True:
        if heap:
            held = heap[0][0]
            if ordered and not held < key(ordered[0]):
                if times[0] > horizon:
                    return
                times.popleft()
                yield ordered.popleft()
                continue
            if held[0] > horizon:
                return
            yield heapq.heappop(heap)[2]
        elif times and times[0] <= horizon:
            times.popleft()
            yield ordered.popleft()
        else:
            return
