"""The spike monitor's scheduling state: whom the clock must look at, and at which hour.

Time moves without tickets, and judging every customer every hour would cost
what the tickets cost. So the monitor keeps, per customer, only what tells it
when a look can find something: the open episodes, each with the hour its
state can next change (a heap of due hours, plus a map saying which entry is
current), and the *hot* windows, those that may be spikes under the next
day's baseline and so are judged at the day boundary. This class holds that
state and walks the boundaries; the monitor decides what a look does.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

__all__ = ["Schedule"]


class Schedule:
    """Open episodes and their due hours, hot windows, and what the clock moved.

    ``watch`` holds, per open episode, what it looked like when last judged:
    (day, quiet below, escalate at, quiet now); ``quiet`` the per-day count
    below which an episode is quiet. Both are caches the monitor fills.
    """

    __slots__ = ("open", "hot", "ticked", "watch", "quiet", "_due", "_heap")

    def __init__(self) -> None:
        self.open: set[str] = set()  # customers with an open episode
        self.hot: set[str] = set()  # windows that may be spikes under tomorrow's baseline
        self.ticked: set[str] = set()  # counters the clock moved since the last midnight
        self.watch: dict[str, tuple[int, int, int, bool]] = {}
        self.quiet: dict[str, tuple[int, int]] = {}
        # customer -> due hour, and a heap of (hour, customer) whose entries are
        # current only while they match that map.
        self._due: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []

    def set_due(self, cid: str, hour: int) -> None:
        """Look at the open episode of ``cid`` again at hour boundary ``hour``."""
        if self._due.get(cid) != hour:
            self._due[cid] = hour
            heapq.heappush(self._heap, (hour, cid))

    def opened(self, cid: str) -> None:
        self.open.add(cid)

    def closed(self, cid: str) -> None:
        """The episode of ``cid`` is over: nothing is due for it."""
        self.open.discard(cid)
        self._due.pop(cid, None)
        self.watch.pop(cid, None)

    def reset(self, cid: str) -> None:
        """Forget the caches and the due hour of ``cid`` (its state was replaced)."""
        self.quiet.pop(cid, None)
        self.watch.pop(cid, None)
        self._due.pop(cid, None)

    def boundaries(self, last: int, hour: int) -> Iterator[tuple[int, list[str] | None]]:
        """The hour boundaries after ``last`` up to ``hour`` where something can change.

        Yields (boundary, the due customers, sorted) for an hour boundary and
        (boundary, ``None``) for a day boundary, where every open episode and
        hot window is judged. Reads the state lazily, so what the caller
        schedules while judging one boundary counts for the next.
        """
        heap = self._heap
        due = self._due
        boundary = last + 1
        while boundary <= hour:
            if not self.open and not self.hot:
                return
            if boundary % 24 == 0:
                # Every open episode is judged at the day boundary anyway.
                while heap and heap[0][0] <= boundary:
                    heapq.heappop(heap)
                yield boundary, None
            else:
                ready = []
                while heap and heap[0][0] <= boundary:
                    d, cid = heapq.heappop(heap)
                    if due.get(cid) == d:
                        del due[cid]
                        ready.append(cid)
                if ready:
                    yield boundary, sorted(ready)
            # Nothing can change before the next due episode or the next day.
            nxt = (boundary // 24 + 1) * 24
            if heap and heap[0][0] < nxt:
                nxt = max(heap[0][0], boundary + 1)
            boundary = nxt

    def day_list(self) -> list[str]:
        """Whom a day boundary judges: every hot window and open episode, sorted."""
        return sorted(self.hot | self.open)

    def moved(self) -> set[str]:
        """The customers the clock moved since the last call (and the open ones)."""
        out = self.ticked | self.open
        self.ticked = set()
        return out
