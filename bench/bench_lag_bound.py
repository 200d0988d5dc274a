"""How many of the cold-start stream's spikes could any sound test see soon after they start?

An oracle that knows each customer's true rate, weekday factor and hour-of-day
profile (Poisson given them), and even the spike's start, tests the single
window from the start to ``L`` hours later, once. It alarms at the smallest
count whose chance crossings at that expectation stay within one a year (the
budget with a single window: ``8766 / L x k x P(N = k)``). Printed: the
expected number of the 50 injected spikes (``bench_cold_start.py``'s stream,
same seed) it sees within 2, 4 and 6 hours. A real detector knows less, so
this bounds its lag from below (docs/detection.md).

    python bench/bench_lag_bound.py [--seeds 1,2,3,4]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cold_start as cold  # noqa: E402


def poisson_sf(k: int, mu: float) -> float:
    total, term = 0.0, math.exp(-mu)
    for j in range(k):
        total += term
        term *= mu / (j + 1)
    return max(0.0, 1.0 - total)


def oracle_line(mu: float, hours: float, budget: float = 1.0) -> int:
    k = 1
    while 8766.0 / hours * k * math.exp(k * math.log(mu) - mu - math.lgamma(k + 1)) > budget:
        k += 1
    return k


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4")
    args = parser.parse_args()
    for seed in (int(s) for s in args.seeds.split(",")):
        rng = random.Random(seed)  # the generator's first draws are the customers' rates
        rates = {
            f"cust-{i:04d}": min(60.0, math.exp(rng.gauss(math.log(2.0), 1.1))) for i in range(300)
        }
        _tickets, injected = cold.generate(seed, 300, 60, 50, 6)
        seen = []
        for hours in (2.0, 4.0, 6.0):
            expected_seen = 0.0
            for cid, start_ts, end_ts in injected:
                rate = rates[cid]
                duration = (end_ts - start_ts) / 3600.0
                start = datetime.fromtimestamp(start_ts, tz=timezone.utc)
                base = 0.0
                for quarter in range(int(hours * 4)):
                    t = start + timedelta(hours=quarter / 4)
                    base += rate * cold._WEEKDAY[t.weekday()] * cold._HOUR_WEIGHTS[t.hour] / 4
                # The generator's extra tickets, in expectation, spread evenly over the spike.
                extra = max(6.0, 4.5 * rate * max(1.0, duration / 24.0))
                k = oracle_line(max(base, 1e-9), hours)
                expected_seen += poisson_sf(k, base + extra * min(1.0, hours / duration))
            seen.append(f"{expected_seen:4.1f} within {hours:g} h")
        print(f"seed {seed}: of {len(injected)} spikes the oracle sees " + ", ".join(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
