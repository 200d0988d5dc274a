"""Cold-start detection quality: precision, recall, false episodes and lag on a generated stream.

Generates (deterministically, from ``--seed``) a JSON Lines export that starts
cold: established customers whose history before the file is unknown,
a weekday rhythm (quieter weekends, busier mid-mornings) and day-to-day
overdispersion, a few genuinely new customers that appear after the first
``baseline_days``, and injected spikes of 6 to 24 hours. It then runs
``ticketspike replay --format json`` on it, in process, once per mode
(``gated``, the default, and ``spec``, the threshold rule alone), and prints:

* precision: opened episodes that fall on an injected spike (opened from
  the spike's start to 24 h after its end), over all opened episodes;
* recall: injected spikes with such an episode, over all spikes;
* false episodes per customer per 30 days;
* median lag from a spike's start to its first episode.

Goals (in the default mode): precision >= 0.8, recall >= 0.8, <= 0.05 false
episodes per customer per 30 days, median lag <= 2 h.

    python bench/bench_cold_start.py [--seed N] [--customers N] [--days N] [--spikes N]
                                     [--new N] [--keep PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ticketspike.cli import main as cli_main

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
# Share of a weekday's tickets in each hour (office hours, a mid-morning peak).
_HOURS = [0.2] * 7 + [0.6, 1.4, 2.0, 2.0, 1.8, 1.4, 1.6, 1.7, 1.5, 1.2, 0.8] + [0.3] * 6
_HOUR_WEIGHTS = [h / sum(_HOURS) for h in _HOURS]
_WEEKDAY = (1.1, 1.15, 1.1, 1.05, 1.0, 0.4, 0.3)  # Monday .. Sunday


def _poisson(rng: random.Random, mu: float) -> int:
    if mu <= 0:
        return 0
    if mu > 50:
        return max(0, round(rng.gauss(mu, math.sqrt(mu))))
    limit, k, p = math.exp(-mu), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def generate(
    seed: int, customers: int, days: int, spikes: int, new: int
) -> tuple[list[dict[str, object]], list[tuple[str, float, float]]]:
    """Ticket objects (unsorted) and the injected spikes as (customer, start, end) timestamps."""
    rng = random.Random(seed)
    rates: dict[str, float] = {}
    first_day: dict[str, int] = {}
    for i in range(customers):
        cid = f"cust-{i:04d}"
        # Most customers file a ticket every day or two, a few file dozens a day.
        rates[cid] = min(60.0, math.exp(rng.gauss(math.log(2.0), 1.1)))
        first_day[cid] = 0
    for i in range(new):
        cid = f"new-{i:03d}"
        rates[cid] = math.exp(rng.gauss(math.log(1.0), 0.5))
        first_day[cid] = rng.randrange(35, max(36, days - 5))
    tickets: list[dict[str, object]] = []
    serial = 0

    def add(cid: str, when: datetime) -> None:
        nonlocal serial
        serial += 1
        tickets.append(
            {
                "ticketId": f"T{serial}",
                "customerId": cid,
                "category": rng.choice(("technical", "billing", "training", "feature_request")),
                "severity": rng.choice(("P1", "P2", "P3", "P3", "P4")),
                "subject": "Question",
                "createdAt": when.isoformat().replace("+00:00", "Z"),
            }
        )

    for cid, rate in rates.items():
        for day in range(first_day[cid], days):
            date = START + timedelta(days=day)
            # Day-to-day spread beyond Poisson (CV about 0.25), around the weekday rhythm.
            level = rate * _WEEKDAY[date.weekday()] * rng.gammavariate(16.0, 1.0 / 16.0)
            for _ in range(_poisson(rng, level)):
                hour = rng.choices(range(24), _HOUR_WEIGHTS)[0]
                add(cid, date + timedelta(hours=hour, seconds=rng.randrange(3600)))
    injected: list[tuple[str, float, float]] = []
    established = sorted(c for c in rates if first_day[c] == 0)
    for cid in rng.sample(established, spikes):
        duration = rng.uniform(6.0, 24.0)
        start = START + timedelta(days=rng.uniform(14.0, days - 2.0))
        # Enough extra tickets to triple the customer's day, at least six.
        extra = max(6, round(rng.uniform(3.0, 6.0) * rates[cid] * max(1.0, duration / 24.0)))
        for _ in range(extra):
            add(cid, start + timedelta(hours=rng.uniform(0.0, duration)))
        injected.append((cid, start.timestamp(), start.timestamp() + duration * 3600.0))
    return tickets, injected


def evaluate(
    opened: list[tuple[str, float]],
    injected: list[tuple[str, float, float]],
    customers: int,
    days: int,
) -> dict[str, float]:
    by_customer: dict[str, list[tuple[float, float]]] = {}
    for cid, start, end in injected:
        by_customer.setdefault(cid, []).append((start, end))
    true_pos = 0
    found: dict[tuple[str, float], float] = {}
    for cid, at in opened:
        hit = None
        for start, end in by_customer.get(cid, ()):
            if start <= at <= end + 24 * 3600.0:
                hit = (cid, start)
                break
        if hit is not None:
            true_pos += 1
            lag = (at - hit[1]) / 3600.0
            found[hit] = min(found.get(hit, lag), lag)
    false_pos = len(opened) - true_pos
    return {
        "episodes": len(opened),
        "precision": true_pos / len(opened) if opened else 1.0,
        "recall": len(found) / len(injected) if injected else 1.0,
        "false_per_customer_30d": false_pos / customers / (days / 30.0),
        "median_lag_h": statistics.median(found.values()) if found else float("nan"),
    }


def replay(path: str, mode: str) -> tuple[list[tuple[str, float]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "ticketspike.yaml"
        config.write_text(f"detection:\n  mode: {mode}\n", encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        began = time.process_time()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(["replay", path, "--format", "json", "--config", str(config)])
        spent = time.process_time() - began
    if code != 0:
        raise SystemExit(f"replay failed ({code}): {err.getvalue()}")
    opened = []
    for line in out.getvalue().splitlines():
        t = json.loads(line)
        if t["transition"] == "opened":
            at = datetime.fromisoformat(t["at"]).timestamp()
            opened.append((t["customer_id"], at))
    return opened, spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--spikes", type=int, default=50)
    parser.add_argument("--new", type=int, default=6, help="genuinely new customers")
    parser.add_argument("--keep", help="write the generated file here and keep it")
    args = parser.parse_args()
    tickets, injected = generate(args.seed, args.customers, args.days, args.spikes, args.new)
    tickets.sort(key=lambda t: str(t["createdAt"]))
    total = args.customers + args.new
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or str(Path(tmp) / "cold.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(t) + "\n" for t in tickets)
        print(
            f"seed {args.seed}: {len(tickets):,} tickets, {args.customers} established + "
            f"{args.new} new customers, {args.days} days, {len(injected)} injected spikes "
            "(6 to 24 h); the file starts cold"
        )
        header = f"{'mode':<8} {'episodes':>8} {'precision':>9} {'recall':>7} "
        header += f"{'false/cust/30d':>14} {'median lag h':>12} {'cpu s':>6}"
        print(header)
        results = {}
        for mode in ("gated", "spec"):
            opened, spent = replay(path, mode)
            r = evaluate(opened, injected, total, args.days)
            results[mode] = r
            print(
                f"{mode:<8} {r['episodes']:>8} {r['precision']:>9.2f} {r['recall']:>7.2f} "
                f"{r['false_per_customer_30d']:>14.3f} {r['median_lag_h']:>12.1f} {spent:>6.1f}"
            )
    g = results["gated"]
    goals = [
        ("precision >= 0.8", g["precision"] >= 0.8),
        ("recall >= 0.8", g["recall"] >= 0.8),
        ("<= 0.05 false episodes per customer per 30 days", g["false_per_customer_30d"] <= 0.05),
        ("median lag <= 2 h", g["median_lag_h"] <= 2.0),
    ]
    print(
        "goals (default mode): " + "; ".join(f"{n} {'met' if ok else 'NOT met'}" for n, ok in goals)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
