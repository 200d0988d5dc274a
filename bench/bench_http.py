"""Load benchmark of the HTTP API: signed ticket webhooks against a real ``ticketspike serve``.

Starts ``ticketspike serve`` with a fresh SQLite store on 127.0.0.1 in a subprocess, then, from
this process, posts signed canonical tickets (Standard Webhooks) on ``--concurrency`` keep-alive
connections, one request in flight on each. Every request carries a new ticket and a new
delivery id, so every 2xx must leave exactly one ticket in the store.

The default load generator writes pre-built HTTP/1.1 requests on asyncio streams, because
``httpx`` spends about 1.8 ms of CPU per request on this kind of machine: more than the server
it is measuring, on the same two cores. ``--client httpx`` uses ``httpx.AsyncClient`` with a
connection pool instead, to compare.

Prints requests per second, latency percentiles, and the check that matters most: tickets in
the store == accepted requests (zero lost). The goal on a 2-core machine: >= 1,000 accepted
webhooks/s with p99 < 50 ms.

    python bench/bench_http.py --count 20000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from ticketspike.store.sqlite import SQLiteStore

KEY = os.urandom(32)
SECRET = "whsec_" + base64.b64encode(KEY).decode()
TOKEN = base64.urlsafe_b64encode(os.urandom(18)).decode()
CATEGORIES = ("technical", "billing", "training", "feature_request")


def sign(msg_id: str, stamp: int, body: bytes) -> str:
    content = f"{msg_id}.{stamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(KEY, content, hashlib.sha256).digest()).decode()


def requests(
    count: int, customers: int, *, hot: int = 0, hot_share: float = 0.0
) -> list[tuple[bytes, dict[str, str]]]:
    """Signed requests made up front, so the timed loop measures the server, not signing.

    Tickets spread over ``customers``; every ``1 / hot_share``-th goes to one of ``hot``
    customers instead, whose spikes make the worker plan and execute escalations meanwhile.
    """
    now = datetime.now(timezone.utc)
    stamp = int(now.timestamp())
    every = round(1 / hot_share) if hot and hot_share else 0
    out = []
    for n in range(count):
        customer = (
            f"hot-{(n // every) % hot}" if every and n % every == 0 else f"cust-{n % customers}"
        )
        ticket = {
            "ticketId": f"BENCH-{n}",
            "customerId": customer,
            "category": CATEGORIES[n % len(CATEGORIES)],
            "severity": f"P{1 + n % 4}",
            "subject": f"Export job {n % 17} fails with error 502",
            "createdAt": (now - timedelta(seconds=count - n)).isoformat(),
        }
        body = json.dumps(ticket).encode()
        msg_id = f"msg_{n}"
        out.append(
            (
                body,
                {
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign(msg_id, stamp, body),
                },
            )
        )
    return out


def start_server(store: Path, extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "TICKETSPIKE_WEBHOOK_SECRET": SECRET,
        "TICKETSPIKE_API_TOKEN": TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ticketspike",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--store",
            str(store),
            "--no-access-log",
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
            if "error" in line.lower():
                sys.stderr.write(f"  server: {line}")

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if proc.poll() is not None:
                raise SystemExit("serve exited during start-up") from None
            continue
        match = re.search(r"serving on (http://[\d.]+:\d+)", line)
        if match:
            url = match.group(1)
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                        return proc, url
                except httpx.TransportError:
                    time.sleep(0.05)
    proc.kill()
    raise SystemExit("serve did not start within 30 s")


Result = tuple[list[float], dict[int, int], float]


async def load_raw(
    url: str, work: list[tuple[bytes, dict[str, str]]], *, concurrency: int, budget: float
) -> Result:
    """Keep-alive HTTP/1.1 over asyncio streams: the cheapest honest client there is."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    position = 0
    started = time.perf_counter()
    deadline = started + budget

    def build(body: bytes, headers: dict[str, str]) -> bytes:
        lines = [
            "POST /api/webhooks/support/ticket HTTP/1.1",
            f"host: {host}:{port}",
            f"content-length: {len(body)}",
        ]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def worker() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while position < len(work) and time.perf_counter() < deadline:
                request = build(*work[position])
                position += 1
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - started


async def load_httpx(
    url: str, work: list[tuple[bytes, dict[str, str]]], *, concurrency: int, budget: float
) -> Result:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    position = 0
    started = time.perf_counter()
    deadline = started + budget

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal position
            while position < len(work) and time.perf_counter() < deadline:
                body, headers = work[position]
                position += 1
                t0 = time.perf_counter()
                try:
                    answer = await client.post(
                        "/api/webhooks/support/ticket", content=body, headers=headers
                    )
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="requests to send")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--customers", type=int, default=5000, help="distinct customers")
    parser.add_argument("--hot", type=int, default=10, help="customers that spike during the run")
    parser.add_argument(
        "--hot-share",
        type=float,
        default=0.02,
        help="share of the tickets that go to the spiking customers",
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="time budget")
    parser.add_argument("--warmup", type=int, default=500, help="untimed requests first")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator (default raw asyncio streams)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the store file")
    args, extra = parser.parse_known_args()

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="ticketspike-bench-"))
    store = tmp / "bench.db"
    work = requests(
        args.warmup + args.count, args.customers, hot=args.hot, hot_share=args.hot_share
    )
    proc, url = start_server(store, extra)
    load = load_raw if args.client == "raw" else load_httpx
    try:
        if args.warmup:
            asyncio.run(
                load(url, work[: args.warmup], concurrency=args.concurrency, budget=args.seconds)
            )
        latencies, statuses, elapsed = asyncio.run(
            load(url, work[args.warmup :], concurrency=args.concurrency, budget=args.seconds)
        )
        # Let the worker drain the inbox before stopping, to report the processing backlog.
        drain_started = time.perf_counter()
        with SQLiteStore(store, create=False) as check:
            while check.pending_event_count() and time.perf_counter() - drain_started < 120:
                time.sleep(0.1)
            pending = check.pending_event_count()
        drained = time.perf_counter() - drain_started
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    with SQLiteStore(store, create=False) as check:
        stored = check.ticket_count()
        episodes = len(check.episodes())
        outbox = len(check.outbox())
    sent = len(latencies)
    accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
    accepted_total = accepted + (args.warmup if args.warmup else 0)
    print(
        f"sent            {sent} signed webhooks, {args.concurrency} in flight, "
        f"{args.customers} customers ({args.hot} spiking), {args.client} client; "
        f"load average before: {load_before}"
    )
    print(f"statuses        {dict(sorted(statuses.items()))}")
    print(f"throughput      {accepted / elapsed:,.0f} accepted webhooks/s over {elapsed:.2f} s")
    print(
        f"latency         p50 {percentile(latencies, 0.50) * 1000:.1f} ms   "
        f"p90 {percentile(latencies, 0.90) * 1000:.1f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms   "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    print(
        f"processing      inbox drained {drained:.2f} s after the last response "
        f"({pending} left); {episodes} spike episodes, {outbox} actions in the outbox"
    )
    lost = accepted_total - stored
    print(
        f"stored          {stored} tickets for {accepted_total} accepted requests "
        f"(incl. {args.warmup} warm-up): {'zero lost' if lost == 0 else f'{lost} LOST'}"
    )
    if args.keep:
        print(f"store           {store}")
    else:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
    return 0 if lost == 0 and accepted == sent else 1


if __name__ == "__main__":
    raise SystemExit(main())
