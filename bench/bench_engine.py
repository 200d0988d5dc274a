"""Engine benchmark: the full flow into SQLite, reruns, webhooks and the executor.

Run with ``python bench/bench_engine.py [--tickets N] [--customers N]``. It generates a seeded
ticket history (a few customers spike), then measures, in one run:

* ``run``: ingest -> store -> classify -> detect -> plan -> execute into an SQLite file;
* the same into the in-memory store (what the store costs);
* a rerun of the same tickets into the same file (all duplicates: what idempotency costs);
* signed webhook deliveries of one ticket each through ``Engine.ingest_webhook`` (latency);
* the executor alone on a backlog of pending actions.

Figures are printed with the goals they are held to; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ticketspike.builtin.jsonl_source import sign
from ticketspike.config import Config
from ticketspike.engine import Engine
from ticketspike.model import TicketEvent
from ticketspike.secrets import Secret
from ticketspike.store import MemoryStore, SQLiteStore
from ticketspike.testing import (
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    clean_plugins,
    sample_account,
    sample_plan,
    sample_transition,
    ticket_event,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SUBJECTS = [
    "How do I export reports",
    "Invoice question",
    "Login fails with SSO",
    "API returning 500 errors",
    "Add a seat",
    "Dashboard is slow",
]
CATEGORIES = ["training", "billing", "technical", "technical", "billing", "technical"]

GOALS = {
    "run_sqlite": 2_000.0,  # tickets/s, full flow into SQLite
    "rerun": 5_000.0,  # tickets/s, every ticket already stored
    "webhook_p99_ms": 20.0,
    "executor": 500.0,  # actions/s with an instant notifier
}


def generate(tickets: int, customers: int, days: int, seed: int = 87) -> list[TicketEvent]:
    rnd = random.Random(seed)
    rates = [rnd.uniform(0.2, 6.0) for _ in range(customers)]
    spikers = set(rnd.sample(range(customers), max(1, customers // 50)))
    events: list[TicketEvent] = []
    n = 0
    while n < tickets:
        c = rnd.choices(range(customers), weights=rates)[0]
        if c in spikers and rnd.random() < 0.04:
            at = START + timedelta(days=days - 1, minutes=rnd.randint(0, 1200))
        else:
            at = START + timedelta(minutes=rnd.randint(0, days * 1440 - 1))
        k = rnd.randrange(len(SUBJECTS))
        events.append(
            ticket_event(
                f"T{n}",
                f"c{c}",
                at,
                category=CATEGORIES[k],
                subject=SUBJECTS[k],
                priority=rnd.choice(["P1", "P2", "P3", "P3", "P4"]),
            )
        )
        n += 1
    events.sort(key=lambda e: e.at)
    return events


def engine(store: object, notifier: RecordingNotifier, now: datetime) -> Engine:
    return Engine(
        Config.default(env={}),
        store=store,  # type: ignore[arg-type]
        plugins=clean_plugins(StaticPlugin(notifiers=[notifier])),
        clock=FixedClock(now),
    )


def timed(fn: object) -> float:
    began = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--webhooks", type=int, default=500)
    args = parser.parse_args()

    events = generate(args.tickets, args.customers, args.days)
    now = events[-1].at + timedelta(minutes=5)
    print(
        f"{len(events):,} tickets, {args.customers:,} customers, {args.days} days "
        f"(Python {sys.version.split()[0]})"
    )
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"

        notifier = RecordingNotifier()
        with SQLiteStore(path) as store:
            e = engine(store, notifier, now)
            outcome = {}
            seconds = timed(lambda: outcome.setdefault("r", e.ingest_many(events)))
            result = outcome["r"]
            results["run_sqlite"] = len(events) / seconds
            print(
                f"run into SQLite      {results['run_sqlite']:>10,.0f} tickets/s  "
                f"({seconds:.2f} s; {len(result.transitions)} transitions, "
                f"{len(result.executed.done) if result.executed else 0} actions done)"
            )

            before = len(notifier.delivered)
            seconds = timed(lambda: e.ingest_many(events))
            results["rerun"] = len(events) / seconds
            print(
                f"rerun (duplicates)   {results['rerun']:>10,.0f} tickets/s  "
                f"({seconds:.2f} s; {len(notifier.delivered) - before} new deliveries)"
            )

        memory = engine(MemoryStore(), RecordingNotifier(), now)
        seconds = timed(lambda: memory.ingest_many(events))
        results["run_memory"] = len(events) / seconds
        print(f"run into memory      {results['run_memory']:>10,.0f} tickets/s  ({seconds:.2f} s)")

        hook_store = SQLiteStore(Path(tmp) / "hooks.sqlite3")
        secret = "bench-secret"
        hooks = Engine(
            Config.default(env={"TICKETSPIKE_WEBHOOK_SECRET": secret}),
            store=hook_store,
            plugins=clean_plugins(),
            clock=FixedClock(now),
        )
        latencies = []
        for i in range(args.webhooks):
            body = json.dumps(ticket_event(f"W{i}", "hooked", now).ticket.to_json()).encode()
            stamp = int(now.timestamp())
            headers = {
                "webhook-id": f"msg_{i}",
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(
                    Secret(secret), msg_id=f"msg_{i}", timestamp=stamp, body=body
                ),
            }
            began = time.perf_counter()
            hooks.ingest_webhook("ticket", body, headers, now=now)
            latencies.append((time.perf_counter() - began) * 1000)
        latencies.sort()
        results["webhook_p50_ms"] = statistics.median(latencies)
        results["webhook_p99_ms"] = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"webhook (store only) p50 {results['webhook_p50_ms']:.2f} ms, "
            f"p99 {results['webhook_p99_ms']:.2f} ms over {args.webhooks} deliveries"
        )
        seconds = timed(hooks.process_pending)
        print(f"  processing them later: {args.webhooks / seconds:,.0f} tickets/s")
        hook_store.close()

        with SQLiteStore(Path(tmp) / "exec.sqlite3") as store:
            plans = 0
            for i in range(200):
                transition = sample_transition(episode_id=f"ep_{i}")
                store.record_transition(
                    transition, sample_plan(transition, sample_account()), at=now
                )
                plans += 1
            actions = len(store.actions())
            e = engine(store, RecordingNotifier(), now)
            seconds = timed(e.executor.run_pending)
            results["executor"] = actions / seconds
            print(
                f"executor             {results['executor']:>10,.0f} actions/s  "
                f"({actions} actions of {plans} plans, each with its outbox entry)"
            )

    print("goals:")
    ok = True
    for name, goal in GOALS.items():
        value = results[name]
        met = value <= goal if name.endswith("_ms") else value >= goal
        ok &= met
        unit = "ms" if name.endswith("_ms") else "/s"
        print(
            f"  {name:<16} {value:>10,.1f} {unit}  goal {'<=' if unit == 'ms' else '>='} "
            f"{goal:,.0f}  {'met' if met else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
