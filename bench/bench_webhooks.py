"""How fast outbound webhooks go out, against plain POSTs of the same bodies.

Each delivery is signed, sent to a receiver on 127.0.0.1, and its attempt and outcome
written to the store in one transaction (a SQLite file with ``synchronous=FULL``, as the
embedded default). The baseline, in the same run, POSTs the same bodies with the same httpx
client and no store, so the ratio is what the delivery log and the exactly-once bookkeeping
cost. A figure, not a test: it only prints.

    python bench/bench_webhooks.py [--events 500] [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from ticketspike.events import emit
from ticketspike.outbound import EndpointSettings, WebhookDispatcher, WebhookSettings, encode_body
from ticketspike.secrets import Secret
from ticketspike.store.sqlite import SQLiteStore

SECRET = "whsec_" + base64.b64encode(b"bench-key-for-webhooks-32-bytes!").decode()


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    now = datetime.now(timezone.utc)
    try:
        with tempfile.TemporaryDirectory() as tmp, httpx.Client() as client:
            store = SQLiteStore(Path(tmp) / "bench.db")
            endpoint = EndpointSettings("bench", url, Secret(SECRET))
            hooks = WebhookDispatcher(
                store,
                WebhookSettings(endpoints=(endpoint,)),
                clock=lambda: datetime.now(timezone.utc),
                client=client,
            )
            hooks.register()
            for n in range(args.events):
                emit(store, "task.created", {"id": f"task_{n}", "n": n}, key=f"t{n}", at=now)
            bodies = [encode_body(e) for e in store.outbound_events(limit=args.events)]
            start = time.perf_counter()
            for body in bodies:
                client.post(url, content=body.encode(), headers={"webhook-id": "x"})
            plain = time.perf_counter() - start
            start = time.perf_counter()
            result = hooks.run_once()
            delivered = time.perf_counter() - start
            store.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert result["delivered"] == args.events, result
    figures = {
        "events": args.events,
        "plain_post_per_s": round(args.events / plain),
        "delivered_per_s": round(args.events / delivered),
        "ratio_to_plain": round(delivered / plain, 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{args.events} events: plain POSTs {figures['plain_post_per_s']}/s, signed and "
            f"logged deliveries {figures['delivered_per_s']}/s "
            f"({figures['ratio_to_plain']}x the time of plain POSTs)"
        )


if __name__ == "__main__":
    main()
