"""What incident correlation costs: ``replay --format json`` and ``Engine.ingest_many``, with
and without it.

Generates a synthetic file (``gen_tickets.py``), replays it in-process with the default
configuration (incidents on) and with ``incidents: {enabled: false}``, then ingests its first
``--engine-tickets`` tickets into an engine on a memory store (plans only, nothing executed)
both ways; prints the best of ``--repeat`` runs for each and their ratio. Also counts the
incident transitions the replay saw, so a generator whose independent spikes happen to
correlate shows up.

    python bench/bench_incidents.py [--tickets 50000] [--customers 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import gen_tickets  # noqa: E402

from ticketspike.cli import main as cli  # noqa: E402
from ticketspike.config import load_config  # noqa: E402
from ticketspike.engine import Engine  # noqa: E402
from ticketspike.testing import FixedClock, clean_plugins  # noqa: E402
from ticketspike.ticketfile import read_ticket_events  # noqa: E402


def _run(path: str, config: str | None) -> tuple[float, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["replay", path, "--format", "json"] + (["--config", config] if config else [])
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(argv)
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"replay failed: {err.getvalue().strip()}")
    return elapsed, out.getvalue()


def _ingest(events: list[object], enabled: bool) -> float:
    config = load_config(text=f"incidents: {{enabled: {str(enabled).lower()}}}", env={})
    clock = FixedClock(max(e.at for e in events) + timedelta(minutes=1))  # type: ignore[attr-defined]
    start = time.perf_counter()
    with Engine(config, plugins=clean_plugins(), clock=clock, execute=False) as engine:
        engine.ingest_many(events)  # type: ignore[arg-type]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine-tickets", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "tickets.jsonl")
        gen_tickets.write(path, tickets=args.tickets, customers=args.customers, days=args.days)
        off = Path(tmp) / "off.yaml"
        off.write_text("incidents: {enabled: false}\n", encoding="utf-8")
        best_on = best_off = float("inf")
        output = ""
        for _ in range(args.repeat):
            elapsed, output = _run(path, None)
            best_on = min(best_on, elapsed)
            best_off = min(best_off, _run(path, str(off))[0])
        events = sorted(read_ticket_events(path), key=lambda e: e.at)[: args.engine_tickets]
        engine_on = min(_ingest(events, True) for _ in range(args.repeat))
        engine_off = min(_ingest(events, False) for _ in range(args.repeat))
    incidents = sum(1 for line in output.splitlines() if '"incident_' in line)
    print(f"tickets {args.tickets}, customers {args.customers}, best of {args.repeat}")
    print(f"replay, incidents off: {best_off:.2f} s")
    print(f"replay, incidents on:  {best_on:.2f} s  ({best_on / best_off:.2f}x)")
    print(f"incident transitions: {incidents}")
    print(f"engine ingest of {len(events)} tickets, incidents off: {engine_off:.2f} s")
    print(f"engine ingest, incidents on:  {engine_on:.2f} s  ({engine_on / engine_off:.2f}x)")


if __name__ == "__main__":
    main()
