"""Idle and slowloris connections must not stop ``serve`` from answering health and webhooks.

Starts ``ticketspike serve`` with a 1,024 file limit (set in the child, as a small container or
a default ``ulimit -n`` would), then measures ``--probes`` health checks and signed webhooks,
each on a fresh connection:

1. baseline: nothing else connected;
2. held: while ``--connections`` connections are open, half of them idle and half sending a
   request head that never ends (a byte now and then).

Prints p50/p99/max latency of both phases, their ratio, and how many probes failed (the goal:
every probe answered within 1 s). Also the server's log size (no flood of tracebacks).

    python bench/bench_slow_clients.py --connections 1500
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import SECRET, TOKEN, percentile, sign  # noqa: E402

SLOW_HEAD = b"POST /api/webhooks/support/ticket HTTP/1.1\r\nHost: x\r\nX-Slow: "


def start(store: Path, file_limit: int) -> tuple[subprocess.Popen[str], str, list[str]]:
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({file_limit}, {file_limit}))\n"
        "from ticketspike.cli import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    env = {
        **os.environ,
        "TICKETSPIKE_WEBHOOK_SECRET": SECRET,
        "TICKETSPIKE_API_TOKEN": TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "serve",
            "--port",
            "0",
            "--store",
            str(store),
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
            log.append(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", lines.get(timeout=1))
        except queue.Empty:
            if proc.poll() is not None:
                raise SystemExit("serve exited during start-up") from None
            continue
        if match:
            url = match.group(1)
            break
    else:
        raise SystemExit("serve did not start")
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{url}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
    return proc, url, log


def probe(url: str, number: int) -> tuple[list[float], int]:
    """One health check and one signed webhook, each on a fresh connection."""
    timings: list[float] = []
    failures = 0
    stamp = int(time.time())
    body = json.dumps(
        {
            "ticketId": f"P-{number}",
            "customerId": f"probe{number % 7}",
            "category": "technical",
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp - 60)),
        }
    ).encode()
    msg_id = f"probe-{number}-{stamp}"
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(msg_id, stamp, body),
        "connection": "close",
    }
    for method, path, content, wanted in (
        ("GET", "/api/health", None, 200),
        ("POST", "/api/webhooks/support/ticket", body, 202),
    ):
        began = time.perf_counter()
        try:
            with httpx.Client(timeout=5) as client:
                answer = client.request(method, url + path, content=content, headers=headers)
            ok = answer.status_code == wanted
        except httpx.TransportError:
            ok = False
        elapsed = time.perf_counter() - began
        timings.append(elapsed)
        failures += (not ok) or elapsed > 1.0
    return timings, failures


def phase(url: str, probes: int, offset: int) -> tuple[list[float], int]:
    timings: list[float] = []
    failures = 0
    for n in range(probes):
        got, failed = probe(url, offset + n)
        timings += got
        failures += failed
        time.sleep(0.05)
    return timings, failures


def show(name: str, timings: list[float], failures: int) -> float:
    p99 = percentile(timings, 0.99) * 1000
    print(
        f"{name:>9}: p50 {percentile(timings, 0.5) * 1000:7.1f} ms  p99 {p99:7.1f} ms  "
        f"max {max(timings) * 1000:7.1f} ms  failed or over 1 s: {failures}/{len(timings)}"
    )
    return p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1500, help="connections to hold")
    parser.add_argument("--probes", type=int, default=20, help="health+webhook pairs a phase")
    parser.add_argument("--file-limit", type=int, default=1024, help="serve's RLIMIT_NOFILE")
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        proc, url, log = start(Path(tmp) / "store.db", args.file_limit)
        port = int(url.rsplit(":", 1)[1])
        held: list[socket.socket] = []
        try:
            base, base_failed = phase(url, args.probes, 0)
            began = time.perf_counter()
            for n in range(args.connections):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                held.append(sock)
                if n % 2:
                    sock.sendall(SLOW_HEAD)
            opened = time.perf_counter() - began
            for sock in held[1::2]:
                try:
                    sock.sendall(b"a")
                except OSError:
                    pass  # already closed by the server to make room
            loaded, loaded_failed = phase(url, args.probes, args.probes)
            alive = proc.poll() is None
        finally:
            for sock in held:
                sock.close()
            proc.terminate()
            proc.wait(30)
    print(
        f"serve with a file limit of {args.file_limit}; {args.connections} connections "
        f"opened in {opened:.1f} s (half idle, half slowloris)"
    )
    p_base = show("baseline", base, base_failed)
    p_held = show("held", loaded, loaded_failed)
    print(
        f"p99 ratio held/baseline: {p_held / p_base:.2f}; serve alive: {alive}; "
        f"log: {sum(len(line) for line in log)} bytes, "
        f"{sum('Traceback' in line for line in log)} tracebacks"
    )
    return 0 if alive and loaded_failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
