"""How long the Slack notifier takes to build and deliver an alert.

Three figures:

* rendering the example alert to Block Kit JSON (slack_sdk models, limits checked);
* rendering a huge spike (thousands of tickets and themes), which must cost about
  the same, because every list is cut to a budget before rendering;
* delivering a channel post with the real ``WebClient`` to a minimal local Web API,
  with and without the duplicate check (one history read before each post), so the
  check's price is visible. Loopback only: real Slack adds network latency and rate
  limits on top.

    python bench/bench_slack.py [--renders 2000] [--posts 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ticketspike import (
    ActionResult,
    AlertMessage,
    ChannelPost,
    EscalationPlan,
    Secret,
    Severity,
    TransitionKind,
)
from ticketspike.planner.message import BreakdownRow, MessageKind
from ticketspike_slack import SlackNotifier, SlackSettings, render_blocks

TOKEN = "xoxb-bench"


def example_alert() -> AlertMessage:
    return AlertMessage(
        kind=MessageKind.ALERT,
        title="SUPPORT SPIKE ALERT: TechCorp Inc",
        customer_id="acme",
        customer_name="TechCorp Inc",
        severity=Severity.CRITICAL,
        ticket_count=15,
        multiplier=6.5,
        breakdown=(
            BreakdownRow("Technical", 10, 67),
            BreakdownRow("Billing", 2, 13),
            BreakdownRow("Training", 3, 20),
        ),
        priority_counts=(("P1", 3), ("P2", 7), ("P3", 5)),
        themes=("API errors", "login issues"),
        arr=500_000,
        health_score=52,
        previous_health_score=78,
        csm_name="Mike Johnson",
        daily_counts=(2, 3, 1, 2, 2, 4, 3, 2, 1, 2, 3, 2, 2, 15),
    )


def huge_alert() -> AlertMessage:
    base = example_alert()
    return AlertMessage(
        kind=MessageKind.ALERT,
        title=base.title,
        customer_id="acme",
        customer_name="TechCorp Inc",
        severity=Severity.CRITICAL,
        ticket_count=10_000,
        multiplier=400.0,
        breakdown=tuple(BreakdownRow(f"Category {i}", 250, 2) for i in range(40)),
        themes=tuple(f"theme {i} <!channel> & friends" for i in range(5_000)),
        ticket_links=tuple(
            (f"TKT-{i}", f"https://support.example.com/t/{i}") for i in range(10_000)
        ),
        lines=tuple(f"sentence {i}" for i in range(2_000)),
        daily_counts=tuple(range(365)),
    )


def per_call(fn: Callable[[], Any], n: int) -> float:
    fn()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


class _Api(BaseHTTPRequestHandler):
    seq = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        method = self.path.rsplit("/", 1)[-1]
        if method == "conversations.history":
            body: dict[str, Any] = {"ok": True, "messages": []}
        else:
            _Api.seq += 1
            body = {"ok": True, "channel": "C0BENCH", "ts": f"1700000000.{_Api.seq:06d}"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Ctx:
    def __init__(self, plan: EscalationPlan) -> None:
        self.plan = plan
        self.account = None
        self.now = plan.at

    key = "ep:opened:post0"  # set to each action's key before it runs

    def result_of(self, key: str) -> ActionResult | None:
        return None

    def interactions(self) -> tuple[()]:
        return ()


def deliver(posts: int, *, dedupe_scan: int, base_url: str) -> float:
    notifier = SlackNotifier(
        token=Secret(TOKEN),
        settings=SlackSettings(base_url=base_url, dedupe_scan=dedupe_scan),
    )
    message = example_alert()
    actions = [
        ChannelPost(step_id="post", key=f"ep:opened:post{i}", channel="C0BENCH", message=message)
        for i in range(posts + 1)
    ]
    plan = EscalationPlan(
        episode_id="ep",
        transition=TransitionKind.OPENED,
        customer_id="acme",
        severity=Severity.CRITICAL,
        at=datetime.now(timezone.utc),
        actions=(),
    )
    ctx = _Ctx(plan)
    notifier.execute(actions[0], ctx)  # warm up the connection path
    start = time.perf_counter()
    for action in actions[1:]:
        ctx.key = action.key
        notifier.execute(action, ctx)
    return (time.perf_counter() - start) / posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    example, huge = example_alert(), huge_alert()
    results = {
        "render_example_alert_us": per_call(
            lambda: [b.to_dict() for b in render_blocks(example)], args.renders
        )
        * 1e6,
        "render_huge_spike_us": per_call(
            lambda: [b.to_dict() for b in render_blocks(huge)], args.renders // 10
        )
        * 1e6,
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}/api/"
    try:
        results["post_ms_no_duplicate_check"] = (
            deliver(args.posts, dedupe_scan=0, base_url=base_url) * 1e3
        )
        results["post_ms_with_duplicate_check"] = (
            deliver(args.posts, dedupe_scan=50, base_url=base_url) * 1e3
        )
    finally:
        server.shutdown()
        server.server_close()
    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in results.items()}))
        return
    print(f"render example alert to Block Kit: {results['render_example_alert_us']:8.1f} µs")
    print(f"render huge spike (10k tickets)    : {results['render_huge_spike_us']:8.1f} µs")
    print(f"post, no duplicate check (loopback): {results['post_ms_no_duplicate_check']:8.2f} ms")
    print(f"post, with duplicate check         : {results['post_ms_with_duplicate_check']:8.2f} ms")


if __name__ == "__main__":
    main()
