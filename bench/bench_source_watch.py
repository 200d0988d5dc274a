"""What learning each source's delivery rhythm costs a webhook, and what judging costs a tick.

Run with ``python bench/bench_source_watch.py [--deliveries N] [--repeat R]``. In one run it
stores ``N`` webhook deliveries (one ticket each, 20 s apart, 50 per transaction as the HTTP
writer's group commits do) into a fresh SQLite file through ``Engine.ingest_webhook``, with
``quiet_sources`` off and on, alternating; then times ``Engine.check_sources`` over 20 known
sources. Figures are CPU time (the machine may be shared), medians of the repeats; nothing
here is a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ticketspike.config import load_config
from ticketspike.engine import Engine
from ticketspike.store import SQLiteStore
from ticketspike.testing import (
    FakeSource,
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    memory_engine,
    ticket_event,
)

START = datetime(2026, 3, 2, tzinfo=timezone.utc)
GROUP = 50


def _engine(folder: Path, *, enabled: bool, clock: FixedClock) -> Engine:
    config = load_config(text=f"quiet_sources:\n  enabled: {str(enabled).lower()}\n", env={})
    plugins = StaticPlugin(notifiers=[RecordingNotifier()], sources=[FakeSource(name="fake")])
    store = SQLiteStore(folder / f"store-{enabled}.db", synchronous="normal")
    return memory_engine(plugins, clock=clock, store=store, config=config)


def per_delivery(count: int, *, enabled: bool) -> float:
    """Microseconds per stored webhook delivery."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(START)
        engine = _engine(Path(tmp), enabled=enabled, clock=clock)
        bodies = []
        for n in range(count):
            at = START + timedelta(seconds=20 * n)
            ticket = ticket_event(f"T{n}", f"c{n % 500}", at, source="fake").ticket
            bodies.append((at, json.dumps(ticket.to_json()).encode()))
        started = time.process_time()
        for first in range(0, count, GROUP):
            with engine.store.transaction():
                for n in range(first, min(count, first + GROUP)):
                    at, body = bodies[n]
                    clock.at = at
                    engine.ingest_webhook("fake", body, {"x-delivery-id": f"d{n}"}, now=at)
        spent = time.process_time() - started
        engine.store.close()
    return spent / count * 1e6


def per_check(sources: int = 20) -> float:
    """Milliseconds for one judging of ``sources`` sources with two weeks of rhythm each."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(START)
        engine = _engine(Path(tmp), enabled=True, clock=clock)
        events = [
            ticket_event(f"T{s}-{n}", "c1", START + timedelta(minutes=15 * n), source=f"s{s}")
            for s in range(sources)
            for n in range(14 * 96)
        ]
        clock.at = events[-1].at
        engine.ingest_many(sorted(events, key=lambda e: e.at), execute=False)
        started = time.process_time()
        rounds = 20
        for _ in range(rounds):
            engine.check_sources(clock.at + timedelta(minutes=5))
        spent = time.process_time() - started
        engine.store.close()
    return spent / rounds * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    off: list[float] = []
    on: list[float] = []
    for _ in range(args.repeat):
        off.append(per_delivery(args.deliveries, enabled=False))
        on.append(per_delivery(args.deliveries, enabled=True))
    base, with_rhythm = statistics.median(off), statistics.median(on)
    print(f"webhook delivery, quiet_sources off: {base:7.0f} us")
    print(f"webhook delivery, quiet_sources on:  {with_rhythm:7.0f} us")
    print(f"added per delivery: {with_rhythm - base:+.0f} us ({with_rhythm / base:.2f}x)")
    print(f"judging 20 sources at a tick: {per_check():.1f} ms")


if __name__ == "__main__":
    main()
