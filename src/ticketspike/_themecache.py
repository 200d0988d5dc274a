"""Themes computed once per window, in the background, within a time budget.

Theme analysis reads every ticket of a customer's window and baseline, so it is the one
piece of text work whose cost grows with the spike. Summary, banner and check-spike reads
ask for the same window again and again, and an alert asks for it once more; this cache
keys the answer by the window (which customer, which hour it starts, which tickets) so it is
computed once per change: a new ticket in the window, or the next hour. A computation runs
in a daemon thread: a caller waits at most the budget, and if the analysis overruns, the
caller goes without themes while the analysis finishes and fills the cache for the next.
Concurrent callers of one window share one computation, and one customer has at most one
computation running: while it runs, a caller asking about a newer window of that customer
gets the customer's latest finished themes at once (a spike changes its window with every
ticket; analysing each version would only queue work).

Nothing here touches the store; the engine calls it outside any transaction.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import attrs

from .model import printable
from .signals import Assessment

__all__ = ["ThemeCache", "window_key"]

log = logging.getLogger("ticketspike.analysis")


def window_key(assessment: Assessment) -> str:
    """What theme analysis of an assessment's window depends on: the customer, the hour the
    window starts (which also fixes the baseline before it) and the window's tickets.

    Known without reading a ticket, so a cache hit costs no store read.
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(assessment.customer_id.encode("utf-8", "surrogatepass"))
    digest.update(assessment.period_start.isoformat().encode())
    for ticket_id in sorted(assessment.ticket_ids):
        digest.update(b"\x00" + ticket_id.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@attrs.define
class _Entry:
    done: threading.Event = attrs.field(factory=threading.Event)
    value: tuple[str, ...] = ()


class ThemeCache:
    """At most ``size`` windows' themes; see the module docstring.

    ``hits``, ``misses``, ``stale`` and ``computed`` count lookups answered from the cache,
    lookups that started a computation, lookups answered with the customer's latest themes
    while a computation ran, and computations finished (for monitoring and tests).
    """

    def __init__(self, *, budget_seconds: float, size: int = 256) -> None:
        self.budget_seconds = budget_seconds
        self.size = size
        self.hits = 0
        self.misses = 0
        self.computed = 0
        self.stale = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._running: dict[str, _Entry] = {}  # per customer
        self._latest: OrderedDict[str, tuple[str, ...]] = OrderedDict()  # per customer

    def peek(self, key: str) -> tuple[str, ...] | None:
        """The cached themes of ``key`` if they are ready, without computing anything."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry.done.is_set():
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def get(
        self, key: str, compute: Callable[[], Sequence[str]], *, what: str = ""
    ) -> tuple[str, ...] | None:
        """The themes of ``key`` (``what`` names the customer): cached, or computed
        (waiting at most the budget), or the customer's latest while another runs.

        Returns ``None`` when nothing is ready within the budget; a computation started
        goes on in the background and its answer is cached.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if entry.done.is_set():
                    self.hits += 1
                    return entry.value
            else:
                running = self._running.get(what)
                if running is not None and not running.done.is_set():
                    if what in self._latest:
                        self.stale += 1
                        return self._latest[what]
                    entry = running  # nothing finished yet: wait for the one running
                else:
                    self.misses += 1
                    entry = _Entry()
                    self._entries[key] = entry
                    self._running[what] = entry
                    self._evict()
                    worker = threading.Thread(
                        target=self._compute,
                        args=(entry, compute, what),
                        name="ticketspike-themes",
                        daemon=True,
                    )
                    worker.start()
        if not entry.done.wait(max(0.0, self.budget_seconds)):
            log.warning(
                "theme analysis%s did not finish within %gs; answering without themes "
                "(the result is cached when it finishes)",
                f" of {printable(what)}" if what else "",
                self.budget_seconds,
            )
            return None
        return entry.value

    def _compute(self, entry: _Entry, compute: Callable[[], Sequence[str]], what: str) -> None:
        try:
            entry.value = tuple(compute())
        except Exception as exc:  # noqa: BLE001 - analysis failing must not stop an alert
            log.warning(
                "theme analysis%s failed (%s); answering without themes",
                f" of {printable(what)}" if what else "",
                type(exc).__name__,
            )
        finally:
            with self._lock:
                self.computed += 1
                self._latest[what] = entry.value
                self._latest.move_to_end(what)
                while len(self._latest) > self.size:
                    self._latest.popitem(last=False)
                if self._running.get(what) is entry:
                    del self._running[what]
            entry.done.set()

    def _evict(self) -> None:
        while len(self._entries) > self.size:
            oldest = next(iter(self._entries))
            if not self._entries[oldest].done.is_set():
                # Still computing: keep it (its callers wait on it) and stop evicting.
                break
            del self._entries[oldest]
