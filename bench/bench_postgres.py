"""Several ``ticketspike serve`` replicas on one PostgreSQL database, signed webhooks round robin.

For 1, 2 and 4 replicas (each run in a fresh schema of the database at ``--url``, default
``$TICKETSPIKE_TEST_POSTGRES_URL`` or the local test server), a client posts ``--count`` signed
canonical tickets (Standard Webhooks) over keep-alive connections, request ``n`` to replica
``n % replicas``: 100 customers, 10 of them spiking (the quiet ones get two tickets each, the
spiking ones the rest). Prints per run:

* accepted webhooks/s and p50/p90/p99 latency (the goal at 4 replicas: >= 1,000/s, p99 < 50 ms);
* stored tickets against accepted requests (must be zero lost), episodes (must be one per
  spiking customer) and outbox entries against actions (each once);
* the detection-to-alert lag: from the answer to the webhook whose ticket opened an episode
  to the first action of that episode (or of an incident it joined) in the outbox (median
  and worst over the episodes);
* CPU per accepted webhook while the load ran: all replicas together (their HTTP, writer and
  detection threads; read from /proc on Linux) and this client (it shares the cores).

The first run is the baseline the others are compared with: one replica, or with
``--sqlite`` one ``serve`` process on a SQLite file, the single-host setup. Figures depend on
the machine: client, replicas and PostgreSQL share its cores.

    python bench/bench_postgres.py --count 20000 --concurrency 32 --sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from bench_http import percentile, sign, start_server
from psycopg import sql

from ticketspike.store import ActionStatus, open_store

CUSTOMERS = 100
HOT = 10


def work(count: int) -> list[tuple[str, str, bytes]]:
    """``(delivery id, createdAt, body)`` for each ticket, made before the clock starts."""
    now = datetime.now(timezone.utc)
    quiet = CUSTOMERS - HOT
    out = []
    for n in range(count):
        customer = f"quiet-{n % quiet}" if n < 2 * quiet else f"hot-{n % HOT}"
        created = (now - timedelta(milliseconds=10 * (count - n))).isoformat()
        ticket = {
            "ticketId": f"PG-{n}",
            "customerId": customer,
            "category": "technical",
            "severity": "P2",
            "subject": f"Export job {n % 17} fails with error 502",
            "createdAt": created,
        }
        out.append((f"msg_{n}", created, json.dumps(ticket).encode()))
    return out


def raw_request(port: int, msg_id: str, body: bytes) -> bytes:
    stamp = int(time.time())
    head = [
        "POST /api/webhooks/support/ticket HTTP/1.1",
        f"host: 127.0.0.1:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        f"webhook-id: {msg_id}",
        f"webhook-timestamp: {stamp}",
        f"webhook-signature: {sign(msg_id, stamp, body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def load(
    ports: list[int], items: list[tuple[str, str, bytes]], concurrency: int
) -> tuple[list[float], dict[int, int], dict[str, float], float]:
    """Latencies, statuses, answer time per delivery id, elapsed seconds."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answered: dict[str, float] = {}
    reconnects = [0]
    position = 0
    # Signed requests made before the clock starts (well within the signature tolerance):
    # the client shares the machine's cores with the replicas and the database.
    wire = [raw_request(ports[n % len(ports)], m, b) for n, (m, _c, b) in enumerate(items)]
    started = time.perf_counter()

    async def lane() -> None:
        nonlocal position
        streams = {p: await asyncio.open_connection("127.0.0.1", p) for p in ports}
        try:
            while position < len(items):
                n = position
                position += 1
                msg_id = items[n][0]
                port = ports[n % len(ports)]
                t0 = time.perf_counter()
                while True:
                    reader, writer = streams[port]
                    try:
                        writer.write(wire[n])
                        head = await reader.readuntil(b"\r\n\r\n")
                        break
                    except (OSError, asyncio.IncompleteReadError):
                        # The server closed a kept-alive connection: send it again on a new
                        # one (same delivery id, so it is stored once either way).
                        writer.close()
                        reconnects[0] += 1
                        streams[port] = await asyncio.open_connection("127.0.0.1", port)
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                done = time.perf_counter()
                latencies.append(done - t0)
                answered[msg_id] = time.time()
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            for _reader, writer in streams.values():
                writer.close()

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    if reconnects[0]:
        print(f"  ({reconnects[0]} requests sent again after a closed connection)")
    return latencies, statuses, answered, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system, all its threads), from /proc (Linux);
    0 where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(
    url: str, replicas: int, count: int, concurrency: int, config: Path, *, sqlite: bool = False
) -> dict[str, float]:
    """One run on a fresh schema of ``url`` (or, with ``sqlite``, a fresh SQLite file)."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    store_url = f"{url}{'&' if '?' in url else '?'}schema={schema}"
    if sqlite:
        store_url = str(config.parent / schema / "bench.db")
        Path(store_url).parent.mkdir()
    with closing(open_store(store_url)) as store:
        since = datetime.now(timezone.utc) - timedelta(days=60)
        store.set_cursor("detection:watching_since", since.isoformat(), at=since)
    items = work(count)
    procs: list[subprocess.Popen[str]] = []
    try:
        ports = []
        for _ in range(replicas):
            proc, base = start_server(store_url, ["--config", str(config)])
            procs.append(proc)
            ports.append(int(base.rsplit(":", 1)[1]))
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        client_before = time.process_time()
        latencies, statuses, answered, elapsed = asyncio.run(load(ports, items, concurrency))
        replica_cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
        client_cpu = time.process_time() - client_before
        with closing(open_store(store_url)) as check:
            deadline = time.monotonic() + 120
            # Until detection has caught up and no action waits or is being executed (one
            # being executed is not in the outbox yet).
            while time.monotonic() < deadline and (
                check.pending_event_count()
                or check.actions(status=ActionStatus.PENDING)
                or check.actions(status=ActionStatus.RUNNING)
            ):
                time.sleep(0.2)
            stored = check.ticket_count()
            episodes = check.episodes()
            opened = {t.episode_id: t for t in check.transitions() if t.kind == "opened"}
            outbox = check.outbox()
            actions = check.actions()
    finally:
        for n, proc in enumerate(procs):
            if proc.poll() is not None:
                print(f"  replica {n} had stopped (exit {proc.returncode})")
            else:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if sqlite:
            shutil.rmtree(Path(store_url).parent)
        else:
            with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    by_created = {created: msg_id for msg_id, created, _b in items}
    lags = []
    for episode_id, transition in opened.items():
        msg_id = by_created.get(transition.at.isoformat())
        # The episode's own actions, or those of an incident it joined (same customer).
        alerts = [
            e.executed_at.timestamp()
            for e in outbox
            if e.episode_id == episode_id or e.customer_id == transition.customer_id
        ]
        if msg_id in answered and alerts:
            lags.append(min(alerts) - answered[msg_id])
    accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return {
        "sqlite": sqlite,
        "replicas": replicas,
        "accepted": accepted,
        "rate": accepted / elapsed,
        "p50": percentile(latencies, 0.50) * 1000,
        "p90": percentile(latencies, 0.90) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "lost": accepted - stored,
        "episodes": len(episodes),
        "outbox": len(outbox),
        "actions": len(actions),
        # CPU per accepted webhook while the load ran: where a 2-core machine's time goes.
        "replica_cpu": replica_cpu / max(1, accepted) * 1000,
        "client_cpu": client_cpu / max(1, accepted) * 1000,
        "lag_median": statistics.median(lags) * 1000 if lags else float("nan"),
        "lag_max": max(lags) * 1000 if lags else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "TICKETSPIKE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="the database (each run gets its own schema, dropped afterwards)",
    )
    parser.add_argument("--count", type=int, default=20_000, help="webhooks per run")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--replicas", default="1,2,4", help="replica counts to run, comma separated"
    )
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="first run one serve process on a SQLite file, as the baseline",
    )
    args = parser.parse_args()

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="ticketspike-bench-pg-"))
    config = tmp / "ticketspike.yaml"
    config.write_text("server:\n  interval_seconds: 1\n")
    print(
        f"{args.count} signed webhooks per run, {args.concurrency} in flight, {CUSTOMERS} "
        f"customers ({HOT} spiking); load average before: {load_before}"
    )
    results = []
    try:
        runs = [(1, True)] if args.sqlite else []
        runs += [(int(r), False) for r in args.replicas.split(",")]
        for replicas, on_sqlite in runs:
            result = run(args.url, replicas, args.count, args.concurrency, config, sqlite=on_sqlite)
            results.append(result)
            base = results[0]["rate"]
            label = (
                "SQLite    " if on_sqlite else f"{replicas} replica{'s' if replicas != 1 else ' '}"
            )
            print(
                f"{label}  "
                f"{result['rate']:7,.0f} accepted/s ({result['rate'] / base:4.2f}x)  "
                f"p50 {result['p50']:5.1f} ms  p90 {result['p90']:5.1f} ms  "
                f"p99 {result['p99']:6.1f} ms  | lost {result['lost']:.0f}  "
                f"episodes {result['episodes']:.0f}  outbox {result['outbox']:.0f}/"
                f"{result['actions']:.0f} actions  | detection-to-alert lag "
                f"median {result['lag_median']:.0f} ms, max {result['lag_max']:.0f} ms  "
                f"| CPU per webhook: replicas {result['replica_cpu']:.2f} ms, client "
                f"{result['client_cpu']:.2f} ms  | load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp)
    ok = all(
        r["lost"] == 0 and r["episodes"] == HOT and r["outbox"] == r["actions"] for r in results
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
