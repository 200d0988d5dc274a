"""How fast the Zendesk source turns deliveries and export pages into ticket events.

Two figures matter in production: webhook throughput (verify the HMAC-SHA256
over the raw body, check the timestamp window, parse, map) for a realistic
event-subscription delivery, and backfill throughput with the real zenpy
client against a local fake export (pages of 1000, the maximum), which bounds
how long a month of history takes to import before Zendesk's own rate limit
(10 export requests a minute, about 167 tickets a second at best) is even
counted. Most of the backfill time is zenpy building its objects.

    python bench/bench_zendesk.py [--deliveries 20000] [--tickets 20000] [--json]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ticketspike import PluginConfig
from ticketspike.configfile import load_text
from ticketspike_zendesk import ZendeskSource, settings_from_config

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SECRET = "bench-signing-secret"
PAGE = 1000


def source(base_url: str | None = None) -> ZendeskSource:
    lines = ["plugins:", "  zendesk:", "    subdomain: acme"]
    if base_url:
        lines.append(f"    base_url: {base_url}")
    section = load_text("\n".join(lines) + "\n", name="bench.yaml")["plugins"]["zendesk"]
    env = {
        "ZENDESK_EMAIL": "bench@acme.example",
        "ZENDESK_API_TOKEN": "t",
        "ZENDESK_WEBHOOK_SECRET": SECRET,
    }
    return ZendeskSource(settings_from_config(section, PluginConfig(env=env)))


def delivery(i: int) -> bytes:
    return json.dumps(
        {
            "account_id": 22129848,
            "detail": {
                "created_at": "2026-03-01T11:58:12Z",
                "description": "Export fails. " * 60,
                "form_id": "8646151517822",
                "group_id": "8447320466430",
                "id": str(5000 + i),
                "is_public": True,
                "organization_id": str(8447346622462 + i % 500),
                "priority": "HIGH",
                "requester_id": "8447388090494",
                "status": "OPEN",
                "subject": "API export failing with 502",
                "submitter_id": "8447388090494",
                "tags": ["api_error", "enterprise", "eu"],
                "type": "PROBLEM",
                "updated_at": "2026-03-01T11:58:12Z",
                "via": {"channel": "web_service"},
            },
            "event": {},
            "id": f"evt-{i:08d}",
            "subject": f"zen:ticket:{5000 + i}",
            "time": "2026-03-01T11:58:12.672717030Z",
            "type": "zen:event-type:ticket.created",
            "zendesk_event_version": "2022-11-06",
        }
    ).encode()


def headers(body: bytes) -> dict[str, str]:
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "x-zendesk-webhook-signature": base64.b64encode(mac).decode(),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def bench_webhooks(count: int) -> dict[str, Any]:
    src = source()
    items = [(b, headers(b)) for b in (delivery(i) for i in range(count))]
    started = time.perf_counter()
    for body, head in items:
        src.parse_webhook(body, head, now=NOW)
    elapsed = time.perf_counter() - started
    return {
        "deliveries": count,
        "bytes_each": len(items[0][0]),
        "per_second": round(count / elapsed),
        "us_each": round(elapsed / count * 1e6, 1),
    }


def rest_ticket(i: int) -> dict[str, Any]:
    created = NOW - timedelta(days=20) + timedelta(seconds=60 * i)
    return {
        "id": 100_000 + i,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": "incident",
        "subject": "Cannot log in",
        "description": "Since the reset nobody can log in. " * 20,
        "priority": "urgent" if i % 7 == 0 else "normal",
        "status": "open",
        "requester_id": 20978392,
        "submitter_id": 20978392,
        "organization_id": 509974 + i % 300,
        "group_id": 98738,
        "tags": ["login", "enterprise"],
        "is_public": True,
        "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
        "custom_fields": [{"id": 27642, "value": "745"}],
        "ticket_form_id": 2,
    }


def bench_backfill(count: int) -> dict[str, Any]:
    pages = [
        [rest_ticket(i) for i in range(start, min(start + PAGE, count))]
        for start in range(0, count, PAGE)
    ]
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            data = bodies["start" if "start_time=" in self.path else self.path.rsplit("=", 1)[1]]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    for n, tickets in enumerate(pages):
        key = "start" if n == 0 else f"p{n}"
        bodies[key] = json.dumps(
            {
                "tickets": tickets,
                "after_cursor": f"p{n + 1}",
                "end_of_stream": n == len(pages) - 1,
                "after_url": f"{base}/api/v2/incremental/tickets/cursor.json?cursor=p{n + 1}",
            }
        ).encode()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        src = source(base)
        started = time.perf_counter()
        events = sum(len(p.events) for p in src.backfill(since=NOW - timedelta(days=30)))
        elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
    return {
        "tickets": count,
        "pages": len(pages),
        "events": events,
        "tickets_per_second": round(count / elapsed),
        "seconds": round(elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    results = {
        "webhooks": bench_webhooks(args.deliveries),
        "backfill": bench_backfill(args.tickets),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    w, b = results["webhooks"], results["backfill"]
    print(
        f"webhooks: {w['deliveries']} signed ticket.created deliveries of {w['bytes_each']} B: "
        f"{w['per_second']}/s ({w['us_each']} us each: verify + parse + map)"
    )
    print(
        f"backfill: {b['tickets']} tickets in {b['pages']} export pages through zenpy: "
        f"{b['tickets_per_second']} tickets/s ({b['seconds']} s, {b['events']} events)"
    )


if __name__ == "__main__":
    main()
