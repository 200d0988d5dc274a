"""The false-alarm budget, simulated: chance episodes a year for customers at a steady rate.

Each simulated customer files tickets at a constant average rate, with a
weekday rhythm (quieter weekends, busier mornings) and day-to-day spread
beyond Poisson (gamma, CV about 0.25), for ``--days`` days after a 30-day
history the monitor is told about (``first_seen``). Nothing is injected, so
every opened episode is a false alarm. The monitor is evaluated as in
production (hourly and day-boundary ticks); printed: opened episodes per
customer per year, per rate, under the default gate and the alternatives.

    python bench/bench_budget.py [--customers N] [--days N] [--seed N]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from datetime import datetime, timedelta, timezone

import attrs

from ticketspike.detect.policy import DetectionPolicy
from ticketspike.model import Account, Ticket, TicketEvent
from ticketspike.monitor import SpikeMonitor, replay_events
from ticketspike.signals import TransitionKind

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
_HOURS = [0.2] * 7 + [0.6, 1.4, 2.0, 2.0, 1.8, 1.4, 1.6, 1.7, 1.5, 1.2, 0.8] + [0.3] * 6
_WEIGHTS = [h / sum(_HOURS) for h in _HOURS]
_WEEKDAY = (1.1, 1.15, 1.1, 1.05, 1.0, 0.4, 0.3)
RATES = (0.2, 1.0, 2.0, 5.0, 20.0)
HISTORY = 30


def _poisson(rng: random.Random, mu: float) -> int:
    limit, k, p = math.exp(-mu), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def tickets_for(cid: str, rate: float, days: int, rng: random.Random) -> list[Ticket]:
    out = []
    for day in range(days):
        date = START + timedelta(days=day)
        level = rate * _WEEKDAY[date.weekday()] * rng.gammavariate(16.0, 1.0 / 16.0)
        for i in range(_poisson(rng, level)):
            hour = rng.choices(range(24), _WEIGHTS)[0]
            when = date + timedelta(hours=hour, seconds=rng.randrange(3600))
            out.append(Ticket(ticket_id=f"{cid}-{day}-{i}", customer_id=cid, created_at=when))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20, help="customers per rate")
    parser.add_argument("--days", type=int, default=365, help="days judged after the history")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    population = {
        rate: [
            tickets_for(f"r{rate}-{c}", rate, HISTORY + args.days, rng)
            for c in range(args.customers)
        ]
        for rate in RATES
    }
    policies = {
        "default (budget 1/yr)": DetectionPolicy(),
        "budget, 24 h only": DetectionPolicy(short_windows_hours=()),
        "gate: alpha 0.002": DetectionPolicy(gate="alpha"),
        "mode: spec": DetectionPolicy(mode="spec"),
    }
    judged_after = START + timedelta(days=HISTORY)
    years = args.customers * args.days / 365.25
    print(
        f"{args.customers} customers per rate, {args.days} days judged after {HISTORY} days of "
        f"history, weekday rhythm, day-to-day CV 0.25 (seed {args.seed})"
    )
    print(f"{'chance episodes / customer / year':<34}" + "".join(f"{r:>9g}/d" for r in RATES))
    began = time.process_time()
    for name, policy in policies.items():
        cells = []
        for rate in RATES:
            tickets = [t for group in population[rate] for t in group]
            tickets.sort(key=lambda t: t.created_at)
            accounts = {t.customer_id: Account(id=t.customer_id, first_seen=START) for t in tickets}
            monitor = SpikeMonitor(attrs.evolve(policy), accounts=accounts)
            events = (TicketEvent(ticket=t) for t in tickets)
            opened = sum(
                1
                for tr in replay_events(events, monitor)
                if tr.kind is TransitionKind.OPENED and tr.at >= judged_after
            )
            cells.append(opened / years)
        print(f"{name:<34}" + "".join(f"{c:>11.2f}" for c in cells))
    print(f"({time.process_time() - began:.0f} s cpu)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
