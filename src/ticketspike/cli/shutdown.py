"""SIGTERM and SIGINT during ``ticketspike run``: stop after the action in hand.

A container runtime sends SIGTERM and kills the process a grace period later; Ctrl-C sends
SIGINT. Without a handler the first kills ``run`` at once (an action left ``running`` until the
next start notices its dead owner) and the second raises wherever the interpreter happens to be.
Inside :class:`GracefulStop`:

* the first signal makes the executor start no new action (:attr:`Executor.stopping`); the
  action in hand may finish within the grace period, and the run returns, leaving the rest
  pending. With no action in hand (still reading the file, or between actions) the run is
  stopped at once: stored tickets are kept, the batch being stored is rolled back.
* when the grace period ends first, or a second signal comes, :class:`Interrupted` is raised
  in the main thread: the executor records the attempt ``interrupted`` and hands the action
  back to pending (the next run does it again under the same key, so handlers keep it once).
* on the way out every action still held by this process is handed back, and the caller
  closes the store and exits with :class:`~ticketspike.errors.Stopped` (``128 + signal``).

The handlers are installed for the whole command (a signal while the file is being checked
stops at once, too); :meth:`GracefulStop.watching` names the executor.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from ..executor import Executor

__all__ = ["GracefulStop", "Interrupted"]


class Interrupted(BaseException):
    """Raised in the main thread to cut a run short (a BaseException, like
    KeyboardInterrupt, so no handler's ``except Exception`` swallows it)."""


class GracefulStop:
    """The signal handlers for one command; see the module docstring.

    Installed for the whole command; :meth:`watching` names the executor whose action in
    hand may finish. ``signum`` is the first signal received (None if none came),
    ``waited`` whether an action was in hand when it came, ``cut_short`` whether that action
    had to be interrupted rather than finish.
    An :class:`Interrupted` that reaches :meth:`__exit__` is swallowed: the caller reports
    the stop from ``signum``.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, *, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.signum: int | None = None
        self.cut_short = False
        self.waited = False
        self.handed_back: list[str] = []
        self.executor: Executor | None = None
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():  # signals reach it only
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_grace_over)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if self._previous:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous = {}
        return isinstance(exc, Interrupted)

    @contextmanager
    def watching(self, executor: Executor) -> Iterator[None]:
        """While inside, a signal lets ``executor``'s action in hand finish; on the way out
        (the store still open) every action this process holds is handed back to pending.
        An :class:`Interrupted` stops here, so the caller can still read the store."""
        before = executor.stopping
        executor.stopping = lambda: self._event.is_set() or before()
        self.executor = executor
        try:
            yield
        except Interrupted:
            pass
        finally:
            if self._previous:
                signal.setitimer(signal.ITIMER_REAL, 0)  # the action finished in time
            self.executor = None
            executor.stopping = before
            if self.signum is not None:
                self.handed_back = executor.hand_back_all(f"stopped by {self.signal_name}")

    def _in_hand(self) -> bool:
        return self.executor is not None and self.executor.running is not None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self._cut()  # a second signal: do not wait any longer
        self.signum = signum
        self._event.set()
        if not self._in_hand():
            self._cut()  # nothing to finish: stop now
        self.waited = True
        signal.setitimer(signal.ITIMER_REAL, max(self.grace_seconds, 0.001))

    def _on_grace_over(self, signum: int, frame: FrameType | None) -> None:
        self._cut()

    def _cut(self) -> None:
        self.cut_short = self.cut_short or self._in_hand()
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise Interrupted
