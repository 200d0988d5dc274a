"""Huge tickets for one customer must not slow anybody else down, and reads stay bounded.

Starts ``ticketspike serve`` (fresh SQLite store, 127.0.0.1), then:

1. baseline: ``--probes`` small signed webhooks for other customers, one at a time;
2. under load: the same probes again while, at the same time, ``--big`` tickets of
   ``--size`` bytes of body are posted for one customer and ``--readers`` clients keep
   reading that customer's banner and summary (each read is theme analysis of the window).

Prints the other customers' webhook latency (p50/p99) in both phases and their ratio, and the
slowest read against the configured analysis budget plus 1 s (the goal: p99 under 100 ms and
no read over budget + 1 s).

    python bench/bench_big_tickets.py --big 100 --size 65536
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import TOKEN, percentile, sign, start_server  # noqa: E402

WORDS = "export fails with a timeout when the report has many rows and the api returns 502 "


def ticket(ticket_id: str, customer: str, body: str = "") -> bytes:
    created = datetime.now(timezone.utc) - timedelta(minutes=5)
    obj = {
        "ticketId": ticket_id,
        "customerId": customer,
        "category": "technical",
        "severity": "P2",
        "subject": f"Export broken ({ticket_id})",
        "createdAt": created.isoformat().replace("+00:00", "Z"),
    }
    if body:
        obj["body"] = body
    return json.dumps(obj).encode()


def post(client: httpx.Client, url: str, body: bytes, msg_id: str) -> tuple[int, float]:
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(msg_id, stamp, body),
    }
    began = time.perf_counter()
    answer = client.post(f"{url}/api/webhooks/support/ticket", content=body, headers=headers)
    return answer.status_code, time.perf_counter() - began


def probes(url: str, count: int, tag: str, stop: threading.Event | None = None) -> list[float]:
    out: list[float] = []
    with httpx.Client(timeout=30) as client:
        for n in range(count):
            if stop is not None and stop.is_set():
                break
            status, took = post(client, url, ticket(f"{tag}-{n}", f"other-{n % 20}"), f"{tag}{n}")
            assert status in (200, 202), status
            out.append(took)
            time.sleep(0.01)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big", type=int, default=100, help="huge tickets for one customer")
    parser.add_argument("--size", type=int, default=65_536, help="body bytes of each")
    parser.add_argument("--readers", type=int, default=3, help="concurrent banner/summary readers")
    parser.add_argument("--probes", type=int, default=300, help="small webhooks per phase")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between a reader's reads")
    parser.add_argument(
        "--paths", default="banner,summary", help="reads each reader makes (comma-separated)"
    )
    parser.add_argument("--budget", type=float, default=5.0, help="analysis_budget_seconds")
    args = parser.parse_args()

    with TemporaryDirectory() as tmp:
        config = Path(tmp) / "ticketspike.yaml"
        config.write_text(f"tickets:\n  analysis_budget_seconds: {args.budget}\n")
        proc, url = start_server(Path(tmp) / "store.db", ["--config", str(config)])
        try:
            probes(url, 30, "warm")
            base = probes(url, args.probes, "base")

            body = (WORDS * (args.size // len(WORDS) + 1))[: args.size]
            reads: list[float] = []
            read_errors: list[int] = []
            by_path: dict[str, list[float]] = {}
            stop = threading.Event()

            def big() -> None:
                with httpx.Client(timeout=60) as client:
                    for n in range(args.big):
                        status, _took = post(client, url, ticket(f"BIG-{n}", "hot", body), f"b{n}")
                        assert status in (200, 202), status

            def reader() -> None:
                auth = {"Authorization": f"Bearer {TOKEN}"}
                with httpx.Client(timeout=120) as client:
                    while not stop.is_set():
                        for path in args.paths.split(","):
                            began = time.perf_counter()
                            answer = client.get(f"{url}/api/support/{path}/hot", headers=auth)
                            reads.append(time.perf_counter() - began)
                            by_path.setdefault(path, []).append(reads[-1])
                            if answer.status_code != 200:
                                read_errors.append(answer.status_code)
                            stop.wait(args.pause)

            threads = [threading.Thread(target=big)] + [
                threading.Thread(target=reader) for _ in range(args.readers)
            ]
            began = time.perf_counter()
            for t in threads:
                t.start()
            loaded = probes(url, args.probes, "load")
            threads[0].join()
            # Let the readers go on until the worker has analysed the whole spike.
            time.sleep(2.0)
            stop.set()
            for t in threads[1:]:
                t.join()
            wall = time.perf_counter() - began
        finally:
            proc.terminate()
            proc.wait(30)

    def ms(values: list[float], q: float) -> str:
        if not values:
            return "n/a"
        return f"{percentile(values, q / 100) * 1000:.1f} ms"

    p99_base, p99_load = percentile(base, 0.99), percentile(loaded, 0.99)
    slowest = max(reads) if reads else 0.0
    print(
        f"{args.big} tickets x {args.size:,} B for one customer, {args.readers} readers, "
        f"{wall:.1f} s"
    )
    print(f"other customers' webhooks, baseline:   p50 {ms(base, 50)}  p99 {ms(base, 99)}")
    print(
        f"other customers' webhooks, under load: p50 {ms(loaded, 50)}  p99 {ms(loaded, 99)}  "
        f"(p99 ratio {p99_load / p99_base:.2f}x; goal < 100 ms)"
    )
    print(
        f"reads of the hot customer: {len(reads)}, p50 {ms(reads, 50)}, slowest "
        f"{slowest:.2f} s (goal <= budget {args.budget:g} s + 1 s), errors {len(read_errors)}"
    )
    for path, values in sorted(by_path.items()):
        print(f"  {path}: {len(values)} reads, p50 {ms(values, 50)}, max {max(values):.2f} s")
    ok = p99_load < 0.1 and slowest <= args.budget + 1.0 and not read_errors
    print("goal met" if ok else "goal NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
