"""Themes computed once per window, in the background, within a time budget.

Theme analysis reads every ticket of a customer's window and baseline, so it is the one
piece of text work whose cost grows with the spike. Summary, banner and check-spike reads
ask for the same window again and again, and an alert asks for it once more; this cache
keys the answer by the window's contents (which tickets, which text) so it is computed once
per change. A computation runs in a daemon thread: a caller waits at most the budget, and
if the analysis overruns, the caller goes without themes while the analysis finishes and
fills the cache for the next caller. Concurrent callers of one window share one computation.

Nothing here touches the store; the engine calls it outside any transaction.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import attrs

from .model import Ticket, printable

__all__ = ["ThemeCache", "window_key"]

log = logging.getLogger("ticketspike.analysis")


def window_key(customer_id: str, window: Sequence[Ticket], baseline: Sequence[Ticket]) -> str:
    """A digest of what theme analysis reads: the window's tickets with their (already
    prefix-capped) text, and the baseline's tickets by identity and text length."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(customer_id.encode("utf-8", "surrogatepass"))
    for t in sorted(window, key=lambda t: t.key):
        for part in (t.source, t.ticket_id, t.category.value, t.subject, t.body):
            digest.update(b"\x00")
            digest.update(part.encode("utf-8", "surrogatepass"))
    digest.update(b"\x01")
    for t in sorted(baseline, key=lambda t: t.key):
        digest.update(
            f"\x00{t.source}\x00{t.ticket_id}\x00{len(t.subject)}\x00{len(t.body)}".encode(
                "utf-8", "surrogatepass"
            )
        )
    return digest.hexdigest()


@attrs.define
class _Entry:
    done: threading.Event = attrs.field(factory=threading.Event)
    value: tuple[str, ...] = ()


class ThemeCache:
    """At most ``size`` windows' themes; see the module docstring.

    ``hits``, ``misses`` and ``computed`` count lookups answered from the cache, lookups
    that started a computation, and computations finished (for monitoring and tests).
    """

    def __init__(self, *, budget_seconds: float, size: int = 256) -> None:
        self.budget_seconds = budget_seconds
        self.size = size
        self.hits = 0
        self.misses = 0
        self.computed = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

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
        """The themes of ``key``: cached, or computed (waiting at most the budget).

        Returns ``None`` when the computation is still running after the budget; it goes
        on in the background and its answer is cached.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if entry.done.is_set():
                    self.hits += 1
                    return entry.value
            else:
                self.misses += 1
                entry = _Entry()
                self._entries[key] = entry
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
            entry.done.set()

    def _evict(self) -> None:
        while len(self._entries) > self.size:
            oldest = next(iter(self._entries))
            if not self._entries[oldest].done.is_set():
                # Still computing: keep it (its callers wait on it) and stop evicting.
                break
            del self._entries[oldest]
