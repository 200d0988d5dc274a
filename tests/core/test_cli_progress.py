"""The one progress helper: counts, rate and ETA on a terminal; nothing, or plain periodic
lines without carriage returns, anywhere else."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketspike import data
from ticketspike.cli import main
from ticketspike.cli.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_it_shows_share_rate_and_time_left() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(
        "running t.jsonl", total=1000, unit="tickets", stream=out, force=True, clock=clock
    )
    clock.now += 10
    progress.update(250)
    assert out.getvalue() == (
        "\rrunning t.jsonl  [#####---------------]  25%  25/s  ETA 0:00:30\x1b[K"
    )
    clock.now += 30
    progress.close(1000)
    assert out.getvalue().endswith("[####################] 100%  25/s\x1b[K\n")


def test_counts_without_a_total_and_byte_rates() -> None:
    clock = Clock()
    progress = Progress("backfill zendesk", unit="tickets, 3 pages", clock=clock)
    progress.update(12_400)
    clock.now += 31
    assert progress.line(clock.now) == "backfill zendesk  12,400 tickets, 3 pages  400/s"
    reading = Progress("scan", total=8_000_000, unit="bytes", clock=clock)
    reading.update(2_000_000)
    assert reading.line(clock.now + 1) == "scan  [#####---------------]  25%  2.0 MB/s  ETA 0:00:03"


def test_off_a_terminal_it_is_silent_or_writes_plain_periodic_lines() -> None:
    quiet, clock = io.StringIO(), Clock()
    progress = Progress("classifying", total=10, stream=quiet, clock=clock)
    for n in range(10):
        clock.now += 60
        progress.update(n)
    progress.close(10)
    assert quiet.getvalue() == ""

    log = io.StringIO()
    progress = Progress("backfill x", unit="tickets", stream=log, periodic=True, clock=clock)
    for n in range(1, 5):
        clock.now += 20
        progress.update(n * 100)
    progress.close(400)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines == [
        "ticketspike: backfill x  200 tickets  5/s",
        "ticketspike: backfill x  400 tickets  5/s",
        "ticketspike: backfill x  400 tickets  5/s",
    ]


@given(st.integers(0, 10**9), st.integers(1, 10**9), st.floats(0.001, 10**5))
def test_the_line_never_overflows_its_bar(done: int, total: int, seconds: float) -> None:
    clock = Clock()
    progress = Progress("x", total=total, clock=clock)
    progress.update(done)
    line = progress.line(clock.now + seconds)
    bar = line.split("[", 1)[1].split("]", 1)[0]
    assert len(bar) == 20 and set(bar) <= {"#", "-"}


def test_classify_with_stderr_redirected_writes_no_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets = data.copy_to(tmp_path)[data.DEMO_TICKETS]
    assert main(["classify", str(tickets), "--all"]) == 0
    assert "\r" not in capsys.readouterr().err
