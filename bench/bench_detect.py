"""Detection benchmark: replay a million tickets and compare with the floor and the naive re-scan.

Generates (deterministically) a JSON Lines file of about a million tickets
across ten thousand customers over sixty days, then measures in one run:

1. the floor: ``json.loads`` of every line (and orjson's, when installed);
2. ``ticketspike replay FILE --format json`` end to end, in process, with the
   standard library parser and with orjson (the ``fast`` extra);
3. detector + lifecycle alone, ticks included, parsing excluded: lines are
   parsed in small batches outside the timer and fed as ticket rows to
   ``SpikeMonitor.ingest_row`` (what replay feeds it), then as ticket events
   to ``SpikeMonitor.ingest`` (the embedding API);
4. the naive re-scan, the rule implemented directly (re-count the customer's
   stored tickets on every check), on a subset of customers because it is slow (each
   with its whole history, so a check costs what it would in the full file),
   timed per third of the period to show its cost growing with history, and
   extrapolated per ticket to the whole file; ours runs on the same subset;
5. peak memory (``ru_maxrss`` of a child process replaying 25%, 50% and 100%
   of the file), to show memory follows customers, not tickets.

CPU time (``time.process_time``) is reported next to wall time because the
machine may be shared. Goals (issue: detector): at most 1.5 us per ticket
for detector + lifecycle, replay within 4x of the json floor, at most
100 MiB, at least 25x faster than the naive re-scan.

    python bench/bench_detect.py [--tickets N] [--customers N] [--days N] [--seed N]
                                 [--file PATH] [--repeat N] [--quick]

``--quick`` measures only the json floor, replay with the standard library
parser and the detector alone, each ``--repeat`` times, and reports the best
run of each (the least disturbed on a shared machine): the figures to compare
before and after a change of the detector, in a few seconds a run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_tickets  # noqa: E402

from ticketspike import ticketfile  # noqa: E402
from ticketspike.cli import main as cli_main  # noqa: E402
from ticketspike.detect.policy import DetectionPolicy  # noqa: E402
from ticketspike.model import event_row  # noqa: E402
from ticketspike.monitor import SpikeMonitor  # noqa: E402

MiB = 1024 * 1024


class Clock:
    """Wall and CPU seconds of a block."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        w, c = time.perf_counter(), time.process_time()
        yield
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c


def line(label: str, seconds: Clock, n: int) -> None:
    print(
        f"  {label:<44} {seconds.wall:7.2f} s wall {seconds.cpu:7.2f} s cpu  "
        f"{n / seconds.cpu:>10,.0f} tickets/s  {seconds.cpu / n * 1e6:6.2f} us/ticket"
    )


def json_floor(path: str, loads: Callable[[bytes], Any]) -> Clock:
    clock = Clock()
    with open(path, "rb") as handle, clock.run():
        for raw in handle:
            loads(raw)
    return clock


def replay_end_to_end(path: str, *, stdlib: bool) -> tuple[Clock, int]:
    saved = ticketfile.json_loads
    if stdlib:
        ticketfile.json_loads = json.loads  # type: ignore[assignment]
    out = io.StringIO()
    clock = Clock()
    try:
        with contextlib.redirect_stdout(out), clock.run():
            code = cli_main(["replay", path, "--format", "json"])
    finally:
        ticketfile.json_loads = saved
    assert code == 0
    return clock, out.getvalue().count("\n")


def detector_only(
    path: str, batch: int = 20_000, *, rows: bool = True, policy: DetectionPolicy | None = None
) -> tuple[Clock, int, int]:
    """Detector + lifecycle with the parsing outside the timer.

    ``rows``: feed :data:`~ticketspike.model.TicketRow` items to
    ``SpikeMonitor.ingest_row`` (what ``replay`` feeds); otherwise
    ``TicketEvent`` objects to ``SpikeMonitor.ingest`` (the embedding API).
    """
    monitor = SpikeMonitor(policy)
    clock = Clock()
    source: Iterator[Any] = (
        ticketfile.iter_ticket_rows(path) if rows else ticketfile.iter_ticket_events(path)
    )
    # The same collector settings as the replay command (see cli/detect_cmds.py).
    gc.set_threshold(50_000, 10, 100)
    n = transitions = 0
    # The file is in time order but for a few late deliveries, which the
    # monitor accepts as late tickets (within its lateness bound).
    out: list[Any] = []
    while True:
        chunk = list(itertools.islice(source, batch))
        if not chunk:
            break
        if rows:
            ingest_row = monitor.ingest_row
            with clock.run():
                for row in chunk:
                    ingest_row(row, out)
            transitions += len(out)
            out.clear()
        else:
            ingest = monitor.ingest
            with clock.run():
                for event in chunk:
                    transitions += len(ingest(event))
        n += len(chunk)
    gc.set_threshold(700, 10, 10)
    assert monitor.detector.late_dropped == 0
    return clock, n, transitions


def pseudo_code_subset(path: str, share: int) -> dict[str, Any]:
    """The rule checked per ticket by re-scanning history; and ours, on the same customers.

    ``share``: every ``share``-th customer (its whole history, so a check costs
    what it would in the full file). The re-scan is timed per third of
    the period, as whole blocks (no timer inside the loop), to show its cost
    growing with the history it re-scans.
    """
    events = [
        e
        for e in ticketfile.iter_ticket_events(path)
        if int(e.ticket.customer_id.rsplit("-", 1)[1]) % share == 0
    ]
    events.sort(key=lambda e: e.ticket.created_at)
    first = events[0].ticket.created_at
    span = events[-1].ticket.created_at - first + timedelta(seconds=1)
    parts: list[list[Any]] = [[], [], []]
    for event in events:
        parts[min(2, int((event.ticket.created_at - first) / span * 3))].append(event)
    history: dict[str, list[Any]] = {}
    lookback_hours, baseline_days, threshold = 24, 30, 3.0
    # Both sides run under the collector settings of the replay command, with
    # what was loaded before frozen: the same conditions for each.
    gc.freeze()
    gc.set_threshold(50_000, 10, 100)
    pseudo = Clock()
    per_third = []
    scanned = []
    for part in parts:
        third = Clock()
        with third.run():
            for event in part:
                ticket = event.ticket
                now = ticket.created_at
                stored = history.setdefault(ticket.customer_id, [])
                stored.append(ticket)
                # 1. getTickets(customerId, lookbackHours): the customer's tickets since then
                since = now - timedelta(hours=lookback_hours)
                recent = [t for t in stored if since < t.created_at <= now]
                # 2. calculateBaseline(customerId, baselineDays): tickets per day over the period
                start = now - timedelta(days=baseline_days)
                baseline = len([t for t in stored if start < t.created_at <= now]) / baseline_days
                # 3. normalize for the window; 4. decide
                normalized = len(recent) / (lookback_hours / 24)
                multiplier = normalized / baseline if baseline else float("inf")
                is_spike = multiplier >= threshold
                severity = "critical" if multiplier > 5 else "high" if multiplier > 3 else "medium"
                del is_spike, severity
        pseudo.wall += third.wall
        pseudo.cpu += third.cpu
        per_third.append(third.cpu / max(1, len(part)) * 1e6)
    # What each check scanned (a second, untimed pass over the same tickets).
    sizes: dict[str, int] = {}
    for part in parts:
        seen = 0
        for event in part:
            cid = event.ticket.customer_id
            sizes[cid] = sizes.get(cid, 0) + 1
            seen += sizes[cid]
        scanned.append(seen / max(1, len(part)))
    ours = Clock()
    monitor = SpikeMonitor()
    rows = [event_row(e) for e in events]
    out: list[Any] = []
    ingest_row = monitor.ingest_row
    with ours.run():
        for row in rows:
            ingest_row(row, out)
    gc.set_threshold(700, 10, 10)
    return {
        "pseudo": pseudo,
        "ours": ours,
        "tickets": len(events),
        "customers": len(history),
        "thirds": per_third,
        "scanned": scanned,
    }


_CHILD = r"""
import contextlib, io, itertools, resource, sys
from ticketspike.cli import main


def high_water():
    # VmHWM is this process's own peak; ru_maxrss on Linux also remembers the
    # parent's pages from before exec, which would measure the benchmark itself.
    try:
        with open("/proc/self/status") as status:
            for row in status:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


path, part, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, "rb") as src, open(part, "wb") as dst:
    dst.writelines(itertools.islice(src, limit))
base = high_water()
with contextlib.redirect_stdout(io.StringIO()):
    main(["replay", part, "--format", "json"])
print(base, high_water())
"""


def peak_memory(path: str, lines: int) -> list[tuple[int, float, float]]:
    out = []
    for share in (0.25, 0.5, 1.0):
        limit = int(lines * share)
        part = path + ".part"
        try:
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, path, part, str(limit)],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            with contextlib.suppress(OSError):
                os.remove(part)
        base, peak = (int(x) for x in done.stdout.split())
        out.append((limit, base / 1024, peak / 1024))  # KiB
    return out


def quick(path: str, n: int, repeat: int) -> None:
    """The three figures a detector change moves, each the best of ``repeat`` runs."""
    print(f"\nbest of {repeat} (CPU time; the machine may be shared)")
    floor = min((json_floor(path, json.loads) for _ in range(repeat)), key=lambda c: c.cpu)
    line("json.loads floor", floor, n)
    replays = [replay_end_to_end(path, stdlib=True)[0] for _ in range(repeat)]
    replay = min(replays, key=lambda c: c.cpu)
    line("replay end to end (json)", replay, n)
    runs = [detector_only(path) for _ in range(repeat)]
    det, det_n, transitions = min(runs, key=lambda r: r[0].cpu)
    line("detector + lifecycle, ticks in, parse out", det, det_n)
    print(f"  {transitions:,} transitions; replay = {replay.cpu / floor.cpu:.2f}x the json floor")


def compare_windows(path: str, repeat: int) -> None:
    """The detector with the default 1 h, 4 h and 24 h windows against the 24 h window
    alone (``short_windows_hours: []``, the single-window baseline), runs alternated so
    a change in the machine's load hits both; the median of ``repeat`` each."""
    single = DetectionPolicy(short_windows_hours=())
    default = DetectionPolicy()
    runs: dict[str, list[float]] = {"single": [], "default": []}
    n = 0
    for _ in range(repeat):
        for name, policy in (("single", single), ("default", default)):
            clock, n, _t = detector_only(path, policy=policy)
            runs[name].append(clock.cpu)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print("\ndetector + lifecycle, ticks in, parse out (CPU, median of", repeat, "each)")
    for name, label in (("single", "24 h window alone (baseline)"), ("default", "default windows")):
        print(f"  {label:<32} {med[name] / n * 1e6:6.2f} us/ticket")
    ratio = med["default"] / med["single"]
    print(f"  default / baseline: {ratio:.2f}x  (goal at most 1.10x: {verdict(ratio <= 1.10)})")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pseudo-share",
        type=int,
        default=10,
        help="run the naive re-scan on every N-th customer (default 10)",
    )
    parser.add_argument("--file", help="reuse (or keep) the generated file at this path")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure the detector alone this many times; report the median",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the json floor, replay (json) and the detector, best of --repeat each",
    )
    parser.add_argument(
        "--windows",
        action="store_true",
        help="only compare the detector with the default windows against the 24 h window alone",
    )
    args = parser.parse_args()

    tmp = None
    if args.file and Path(args.file).exists():
        path = args.file
        n = sum(1 for _ in open(path, "rb"))
        print(f"reusing {path}: {n:,} tickets")
    else:
        if args.file:
            path = args.file
        else:
            tmp = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)
            tmp.close()
            path = tmp.name
        t = time.perf_counter()
        n = gen_tickets.write(
            path, tickets=args.tickets, customers=args.customers, days=args.days, seed=args.seed
        )
        print(
            f"generated {n:,} tickets, {args.customers:,} customers, {args.days} days "
            f"(seed {args.seed}) in {time.perf_counter() - t:.1f} s: "
            f"{os.path.getsize(path) / MiB:.0f} MiB"
        )
    gc.freeze()  # what start-up allocated is never garbage; do not rescan it
    if args.quick or args.windows:
        try:
            if args.quick:
                quick(path, n, max(1, args.repeat))
            else:
                compare_windows(path, max(1, args.repeat))
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.remove(tmp.name)
        return
    try:
        print("\nthroughput (CPU time; wall time shown too, the machine may be shared)")
        floor = json_floor(path, json.loads)
        line("json.loads floor", floor, n)
        fast_floor = None
        try:
            import orjson

            fast_floor = json_floor(path, orjson.loads)
            line("orjson.loads floor", fast_floor, n)
        except ImportError:
            print("  orjson not installed: the fast extra is not measured")
        replay_std, printed = replay_end_to_end(path, stdlib=True)
        line("replay end to end (json)", replay_std, n)
        replay_fast = None
        if fast_floor is not None:
            replay_fast, _ = replay_end_to_end(path, stdlib=False)
            line("replay end to end (orjson, fast extra)", replay_fast, n)
        runs = [detector_only(path) for _ in range(max(1, args.repeat))]
        runs.sort(key=lambda r: r[0].cpu)
        det, det_n, transitions = runs[len(runs) // 2]
        label = "detector + lifecycle, ticks in, parse out"
        if len(runs) > 1:
            label += f" (median of {len(runs)})"
        line(label, det, det_n)
        api, api_n, _ = detector_only(path, rows=False)
        line("  the same through ingest(TicketEvent)", api, api_n)
        print(f"  {printed:,} transitions printed by replay; {transitions:,} from the monitor")

        sub = pseudo_code_subset(path, args.pseudo_share)
        pseudo, ours, sub_n = sub["pseudo"], sub["ours"], sub["tickets"]
        print(
            f"\nNaive re-scan, the rule implemented directly (each check re-scans the customer's "
            f"tickets),\nrun on a subset: every {args.pseudo_share}th customer "
            f"({sub['customers']:,} customers, {sub_n:,} tickets, each with its whole history)"
        )
        line("naive re-scan (subset)", pseudo, sub_n)
        line("ours, same subset (one monitor, cold)", ours, sub_n)
        early, mid, late = sub["thirds"]
        print(
            f"  naive re-scan per check by third of the period: {early:.1f}, {mid:.1f}, "
            f"{late:.1f} us (a check scans {sub['scanned'][0]:,.0f}, {sub['scanned'][1]:,.0f}, "
            f"{sub['scanned'][2]:,.0f} stored tickets on average)"
        )
        pseudo_per = pseudo.cpu / sub_n
        print(
            f"  extrapolated to all {n:,} tickets at the subset's rate: {pseudo_per * n:,.0f} s "
            f"(estimate, not measured)"
        )

        print("\npeak memory of `replay` in a child process (ru_maxrss)")
        memory = peak_memory(path, n)
        for limit, base, peak in memory:
            print(
                f"  {limit:>10,} tickets: {peak:6.1f} MiB peak, {peak - base:6.1f} MiB "
                "above the interpreter with ticketspike loaded"
            )

        det_us = det.cpu / det_n * 1e6
        best_replay = replay_fast or replay_std
        ratio_std = replay_std.cpu / floor.cpu
        ratio_best = best_replay.cpu / floor.cpu
        speedup = pseudo.cpu / ours.cpu
        peak = max(p for _, _, p in memory)
        growth = memory[-1][2] - memory[0][2]
        print("\ngoals")
        print(
            f"  detector + lifecycle <= 1.5 us/ticket:   {det_us:.2f} us  {verdict(det_us <= 1.5)}"
        )
        print(
            f"  replay within 4x of the json floor:      {ratio_std:.1f}x with json, "
            f"{ratio_best:.1f}x with the fast extra  {verdict(ratio_best <= 4.0)}"
        )
        print(
            f"  peak memory <= 100 MiB, flat:            {peak:.1f} MiB, "
            f"+{growth:.1f} MiB from 25% to 100% of the file  {verdict(peak <= 100)}"
        )
        print(
            f"  >= 25x faster than the naive re-scan:    {speedup:.1f}x on the same tickets, "
            f"{pseudo_per / (det.cpu / det_n):.1f}x against the full-file rate, "
            f"{late / (ours.cpu / sub_n * 1e6):.1f}x in the last third  "
            f"{verdict(speedup >= 25)}"
        )
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp.name)


if __name__ == "__main__":
    main()
