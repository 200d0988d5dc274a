"""How long theme analysis and classification take at realistic and large sizes.

Themes run once per alert, on one customer's window and baseline, so the
figure that matters is the time for one call at the largest sizes a big
customer produces (hundreds of tickets in a day against thousands in a
month). Tickets are built from the labelled evaluation set, with a spike
mixed into the window.

    python bench/bench_themes.py
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ticketspike.model import Ticket
from ticketspike.text.classify import DEFAULT_CLASSIFIER
from ticketspike.text.themes import find_themes

DATA = Path(__file__).parent / "data" / "labelled_tickets.jsonl"
AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
SPIKE = [
    "Webhook deliveries failing",
    "Webhooks time out",
    "webhook retries not happening",
    "Missing webhook events since this morning",
]


def tickets(n: int, *, days: float, spike: int = 0, seed: int = 1) -> list[Ticket]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        row = rng.choice(rows)
        subject, body = row["subject"], row["body"]
        if i < spike:
            subject, body = rng.choice(SPIKE), "Our endpoint logs show nothing arriving."
        out.append(
            Ticket(
                ticket_id=f"T{seed}-{i}",
                customer_id="big",
                subject=subject,
                body=body,
                created_at=AT - timedelta(days=rng.random() * days),
                category_given=False,
            )
        )
    return out


def best_of(runs: int, fn: object) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    print("find_themes, best of 3:")
    for n_window, n_base in ((20, 100), (100, 1_000), (500, 5_000), (2_000, 20_000)):
        window = tickets(n_window, days=1, spike=n_window // 2, seed=2)
        base = tickets(n_base, days=30, seed=3)
        seconds = best_of(3, lambda w=window, b=base: find_themes(w, b))
        themes = find_themes(window, base)
        top = themes[0].phrase if themes else "-"
        print(
            f"  window {n_window:>5}, baseline {n_base:>6}: {seconds * 1000:8.1f} ms"
            f"   top theme: {top}"
        )
    sample = tickets(5_000, days=30, seed=4)
    seconds = best_of(3, lambda: [DEFAULT_CLASSIFIER.classify(t) for t in sample])
    print(f"classify: {len(sample) / seconds:,.0f} tickets/s ({len(sample)} tickets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
