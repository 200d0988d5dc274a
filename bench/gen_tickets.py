"""Deterministic synthetic ticket files for the detection benchmark.

Customers get a daily rate drawn from a log-normal (most customers file a
ticket every few days, a few file dozens a day), a weekly pattern (quieter
weekends), a little day-to-day overdispersion, and a handful get injected
spikes of 4x to 12x lasting a few hours. Lines come out in time order
except for a small share delivered up to an hour late, as webhooks are.

    python bench/gen_tickets.py OUT.jsonl [--tickets N] [--customers N] [--days N] [--seed N]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

CATEGORIES = ("technical", "billing", "training", "feature_request")
CATEGORY_WEIGHTS = (0.55, 0.2, 0.15, 0.1)
SEVERITIES = ("P1", "P2", "P3", "P4")
SEVERITY_WEIGHTS = (0.05, 0.2, 0.5, 0.25)
SUBJECTS = (
    "Cannot log in after password reset",
    "API returns 500 on export",
    "Invoice amount looks wrong",
    "How do I set up SSO",
    "Dashboard loads slowly",
    "Feature request: bulk edit",
    "Webhook deliveries failing",
    "Charged twice this month",
)
START = datetime(2026, 1, 5, tzinfo=timezone.utc)


def _season(day: int) -> float:
    """Weekends are quieter: support volume follows the working week."""
    return 0.45 if (START + timedelta(days=day)).weekday() >= 5 else 1.0


def _rates(customers: int, tickets: int, days: int, rng: random.Random) -> list[float]:
    raw = [math.exp(rng.gauss(0.0, 1.1)) for _ in range(customers)]
    scale = tickets / (sum(raw) * sum(_season(d) for d in range(days)))
    return [r * scale for r in raw]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def generate(
    *,
    tickets: int = 1_000_000,
    customers: int = 10_000,
    days: int = 60,
    seed: int = 7,
    spike_share: float = 0.02,
) -> Iterator[dict[str, object]]:
    """Yield ticket JSON objects in (nearly) time order."""
    rng = random.Random(seed)
    rates = _rates(customers, tickets, days, rng)
    spikes: dict[tuple[int, int], tuple[int, float]] = {}
    for c in rng.sample(range(customers), max(1, int(customers * spike_share))):
        day = rng.randrange(10, days)
        spikes[(c, day)] = (rng.randrange(0, 20), rng.uniform(4.0, 12.0))
    serial = 0
    pending: list[tuple[float, int, dict[str, object]]] = []
    for day in range(days):
        season = _season(day)
        todays: list[tuple[float, int, dict[str, object]]] = []
        for c, rate in enumerate(rates):
            lam = rate * season * rng.gammavariate(8.0, 1.0 / 8.0)
            n = _poisson(rng, lam)
            spike = spikes.get((c, day))
            extra = _poisson(rng, max(3.0, rate * spike[1])) if spike else 0
            for i in range(n + extra):
                if i < n:
                    offset = rng.random() * 86400.0
                else:
                    assert spike is not None
                    offset = spike[0] * 3600.0 + rng.random() * 4 * 3600.0
                serial += 1
                created = START + timedelta(days=day, seconds=offset)
                obj: dict[str, object] = {
                    "ticketId": f"T{serial}",
                    "customerId": f"cust-{c:05d}",
                    "category": rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0],
                    "severity": rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
                    "subject": rng.choice(SUBJECTS),
                    "createdAt": created.isoformat().replace("+00:00", "Z"),
                }
                # A few deliveries come up to an hour late.
                delivered = created.timestamp() + (
                    rng.random() * 3600 if rng.random() < 0.01 else 0.0
                )
                todays.append((delivered, serial, obj))
        todays.sort(key=lambda x: (x[0], x[1]))
        for item in todays:
            heapq.heappush(pending, item)
        horizon = (START + timedelta(days=day + 1)).timestamp()
        while pending and pending[0][0] < horizon:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]


def write(path: str, **kwargs: int | float) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for obj in generate(**kwargs):  # type: ignore[arg-type]
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = write(
        args.out, tickets=args.tickets, customers=args.customers, days=args.days, seed=args.seed
    )
    print(f"wrote {n} tickets to {args.out}")


if __name__ == "__main__":
    main()
