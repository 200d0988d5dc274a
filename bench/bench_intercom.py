"""How fast the Intercom source turns deliveries and search pages into ticket events.

Two figures matter in production: webhook throughput (verify HMAC-SHA1 over
the raw body, parse, check freshness, map, with a realistic ~3 KB
notification whose body is HTML) and backfill throughput with the real
python-intercom client against a local fake API (pages of 150, the maximum),
which bounds how long a year of history takes to import before the network
is even counted.

    python bench/bench_intercom.py [--deliveries 20000] [--conversations 6000] [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ticketspike import Secret
from ticketspike_intercom import IntercomSettings, IntercomSource, sign

T0 = 1_719_400_000


def conversation(i: int) -> dict[str, Any]:
    paragraph = "<p>Exports fail with error 500 &amp; the dashboard shows nothing.</p>"
    return {
        "type": "conversation",
        "id": str(215_468_000_000 + i),
        "created_at": T0 - 60 * i,
        "updated_at": T0 - 60 * i + 30,
        "state": "open",
        "open": True,
        "priority": ("urgent", "high", "priority", "not_priority", "low")[i % 5],
        "company": {"type": "company", "id": f"ic{i % 50}", "company_id": f"cust-{i % 50}"},
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": "1", "name": "api_error"}]},
        "source": {
            "type": "conversation",
            "delivered_as": "customer_initiated",
            "subject": "",
            "body": paragraph * 30,
            "author": {"type": "user", "id": f"u{i}", "email": f"user{i}@example.com"},
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": f"u{i}"}]},
        "custom_attributes": {},
    }


def bench_webhooks(n: int) -> dict[str, float]:
    secret = "bench-client-secret"
    source = IntercomSource(client_secrets=(Secret(secret),))
    bodies = []
    for i in range(200):
        body = json.dumps(
            {
                "type": "notification_event",
                "id": f"notif_{i}",
                "app_id": "abc12345",
                "topic": "conversation.user.created",
                "created_at": T0,
                "first_sent_at": T0,
                "data": {"type": "notification_event_data", "item": conversation(i)},
            }
        ).encode()
        bodies.append((body, {"x-hub-signature": sign(body, secret)}))
    now = datetime.fromtimestamp(T0 + 5, tz=timezone.utc)
    started = time.perf_counter()
    for k in range(n):
        body, headers = bodies[k % len(bodies)]
        source.parse_webhook(body, headers, now=now)
    elapsed = time.perf_counter() - started
    return {
        "deliveries": n,
        "body_bytes": float(len(bodies[0][0])),
        "per_second": n / elapsed,
        "microseconds_each": elapsed / n * 1e6,
    }


def bench_backfill(n: int) -> dict[str, float]:
    conversations = [conversation(i) for i in range(n)]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            paging = request.get("pagination") or {}
            per_page = int(paging.get("per_page") or 20)
            after = paging.get("starting_after")
            start = int(base64.b64decode(after)) if after else 0
            page: dict[str, Any] = {
                "type": "conversation.list",
                "conversations": conversations[start : start + per_page],
                "total_count": n,
                "pages": {"type": "pages"},
            }
            if start + per_page < n:
                token = base64.b64encode(str(start + per_page).encode()).decode()
                page["pages"]["next"] = {"starting_after": token}
            data = json.dumps(page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    source = IntercomSource(
        settings=IntercomSettings(base_url=f"http://127.0.0.1:{server.server_port}"),
        access_token=Secret("bench-token"),
    )
    started = time.perf_counter()
    events = pages = 0
    for page in source.backfill(since=datetime(2020, 1, 1, tzinfo=timezone.utc)):
        events += len(page.events)
        pages += 1
    elapsed = time.perf_counter() - started
    server.shutdown()
    return {
        "conversations": n,
        "events": events,
        "pages": pages,
        "per_second": n / elapsed,
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--conversations", type=int, default=6_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    figures = {
        "webhook": bench_webhooks(args.deliveries),
        "backfill": bench_backfill(args.conversations),
    }
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return 0
    web, back = figures["webhook"], figures["backfill"]
    print(
        f"webhook:  {web['per_second']:,.0f} deliveries/s "
        f"({web['microseconds_each']:.0f} us each, {web['body_bytes']:.0f}-byte body, "
        f"verify + parse + map)"
    )
    print(
        f"backfill: {back['per_second']:,.0f} conversations/s over {back['pages']:.0f} pages "
        f"of 150 ({back['seconds']:.2f} s for {back['conversations']:.0f}, local fake API)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
