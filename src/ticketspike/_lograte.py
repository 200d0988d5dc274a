"""Warnings and errors that cannot flood a log.

A server under attack or out of file descriptors can hit the same failure thousands of times a
second; logging each one fills the disk (and hides everything else) within minutes.
:class:`RateLimit` is a handler filter that lets through at most ``burst`` records of one kind
(logger and message template) per ``period`` seconds at WARNING and above, then drops the rest
and, with the first record of the next period, says how many it dropped. Records below WARNING
(access lines, progress) are never limited. ``ticketspike serve`` installs it on every handler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimit", "install"]


class RateLimit(logging.Filter):
    """At most ``burst`` WARNING+ records per (logger, template) every ``period`` seconds."""

    def __init__(
        self,
        burst: int = 10,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1000,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        self.clock = clock
        self.max_kinds = max_kinds
        self._lock = threading.Lock()
        # kind -> [period start, records let through, records dropped]
        self._kinds: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            state = self._kinds.get(kind)
            if state is None or now - state[0] >= self.period:
                dropped = int(state[2]) if state is not None else 0
                if state is None and len(self._kinds) >= self.max_kinds:
                    self._forget_old(now)
                self._kinds[kind] = [now, 1, 0]
                if dropped:
                    record.msg = f"{record.getMessage()} ({dropped} similar messages suppressed)"
                    record.args = None
                return True
            if state[1] < self.burst:
                state[1] += 1
                return True
            state[2] += 1
            return False

    def _forget_old(self, now: float) -> None:
        for kind in [k for k, s in self._kinds.items() if now - s[0] >= self.period]:
            del self._kinds[kind]
        if len(self._kinds) >= self.max_kinds:
            self._kinds.clear()


def install(limit: RateLimit, *loggers: logging.Logger) -> None:
    """Add ``limit`` to every handler of ``loggers`` (default: the root logger)."""
    for logger in loggers or (logging.getLogger(),):
        for handler in logger.handlers:
            if limit not in handler.filters:
                handler.addFilter(limit)
