"""One progress helper for long commands (scan, replay, run, backfill, classify, themes).

On a terminal it redraws one line on stderr, at most four times a second: the count (or the
share of the file read), the rate and, when the total is known, the time left::

    backfill zendesk 12,400 tickets, 25 pages  410/s
    running tickets.jsonl [#########-----------]  46%  3.2 MB/s  ETA 0:12

Anywhere else (stderr redirected to a log or a pipe) it draws nothing: with ``periodic`` it
writes a plain line every ``interval`` seconds instead (no carriage returns in a log file),
and a last one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

__all__ = ["Progress"]

_REDRAW = 0.25  # seconds between redraws on a terminal


class Progress:
    """Progress of one piece of work, shown as fits where stderr goes.

    :param total: the amount when known (then a bar, percentage and ETA are shown).
    :param unit: what is counted; ``"bytes"`` shows sizes and byte rates.
    :param periodic: when not on a terminal, write a line every ``interval`` seconds.
    :param force: draw as on a terminal even when the stream is not one (tests).
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "",
        stream: IO[str] | None = None,
        force: bool = False,
        periodic: bool = False,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total or None
        self.unit = unit
        self.stream = stream or sys.stderr
        self.live = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.periodic = periodic and not self.live
        self.interval = interval
        self.clock = clock
        self.enabled = self.live or self.periodic
        self._started = clock()
        self._last = self._started
        self._shown = False
        self._done = 0

    def update(self, done: int, *, unit: str | None = None) -> None:
        """Record that ``done`` of the work is done (a running count, not an increment)."""
        self._done = done
        if unit is not None:
            self.unit = unit
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last < (_REDRAW if self.live else self.interval):
            return
        self._last = now
        self._write(now)

    def close(self, done: int | None = None, *, unit: str | None = None) -> None:
        """The work is over: draw the final state (a terminal line ends with a newline)."""
        if done is not None:
            self._done = done
        if unit is not None:
            self.unit = unit
        if not self.enabled:
            return
        if self.live:
            if self._shown:
                self._write(self.clock())
                self.stream.write("\n")
                self.stream.flush()
        elif self._shown or self.clock() - self._started >= self.interval:
            self._write(self.clock())

    def line(self, now: float) -> str:
        """The text of the progress line at ``now``."""
        done, total = self._done, self.total
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        parts = [self.label]
        if total:
            share = min(1.0, done / total)
            filled = int(share * 20)
            parts.append(f"[{'#' * filled}{'-' * (20 - filled)}] {share * 100:3.0f}%")
        else:
            parts.append(self._amount(done))
        parts.append(self._rate(rate))
        if total and rate > 0 and done < total:
            left = int((total - done) / rate)
            parts.append(f"ETA {left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}")
        return "  ".join(p for p in parts if p)

    def _amount(self, n: float) -> str:
        if self.unit == "bytes":
            return _size(n)
        return f"{int(n):,} {self.unit}".rstrip()

    def _rate(self, per_second: float) -> str:
        if self.unit == "bytes":
            return f"{_size(per_second)}/s"
        return f"{per_second:,.0f}/s"

    def _write(self, now: float) -> None:
        text = self.line(now)
        if self.live:
            self.stream.write(f"\r{text}\x1b[K")
        else:
            self.stream.write(f"ticketspike: {text}\n")
        self.stream.flush()
        self._shown = True


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")
