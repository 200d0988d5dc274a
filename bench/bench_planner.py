"""How fast the planner turns transitions into plans, and how long a workflow takes to load.

Planning runs once per spike transition, so it is never the bottleneck of a
busy host; the figure shows it stays far below a millisecond even with the
default workflow (every template rendered, routing explained) plus two custom
routing rules. Loading a workflow compiles and checks every template, which a
host pays once at start-up (and ``check-config`` pays on every run).

    python bench/bench_planner.py [--plans 5000] [--loads 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta, timezone

from ticketspike.configfile import load_text
from ticketspike.model import Account, Category, Person, Priority
from ticketspike.planner import Planner, routing_from_config, workflow_from_config
from ticketspike.planner.workflow import DEFAULT_WORKFLOW_YAML
from ticketspike.signals import Assessment, BaselineSource, Severity, Transition, TransitionKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ROUTING = """
routing:
  match: all
  rules:
    - name: big
      when: {min_arr: 100000, severity: critical}
      send_to: {teams: [exec], people: [U0EXEC]}
      defaults: keep
    - name: acme
      when: {organization: acme, categories: {technical: 0.5}}
      send_to: {channels: ["#acme"]}
"""


def transitions(n: int) -> list[Transition]:
    out = []
    for i in range(n):
        cats = (
            (Category.TECHNICAL, 5 + i % 7),
            (Category.BILLING, i % 4),
            (Category.TRAINING, i % 3),
        )
        count = sum(c for _, c in cats)
        severity = Severity.CRITICAL if i % 2 else Severity.HIGH
        at = T0 + timedelta(minutes=i)
        assessment = Assessment(
            customer_id=f"c{i}",
            at=at,
            is_spike=True,
            severity=severity,
            ticket_count=count,
            baseline_daily_avg=2.0,
            expected_count=2.0,
            spike_multiplier=count / 2.0,
            period_start=at - timedelta(hours=24),
            period_end=at,
            period_hours=24.0,
            baseline_source=BaselineSource.OWN,
            baseline_days=30.0,
            p_value=1e-5,
            category_breakdown=cats,
            severity_breakdown=((Priority.P1, i % 4), (Priority.P2, count - i % 4)),
            themes=("API errors", "login issues"),
        )
        kind = (TransitionKind.OPENED, TransitionKind.ESCALATED, TransitionKind.RESOLVED)[i % 3]
        out.append(
            Transition(
                kind=kind,
                at=at,
                customer_id=f"c{i}",
                episode_id=f"e{i}",
                severity=severity,
                assessment=assessment,
                opened_at=T0,
            )
        )
    return out


ACCOUNT = Account(
    id="c",
    name="TechCorp Inc",
    arr=500_000,
    health_score=52,
    previous_health_score=78,
    organization="acme",
    csm=Person(name="Mike", slack_id="U0MIKE", manager=Person(name="Sara", slack_id="U0SARA")),
    champion=Person(name="Dana", email="dana@example.com"),
    war_room="WR-1",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=5000)
    parser.add_argument("--loads", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    text = "workflow:\n" + "".join(f"  {line}\n" for line in DEFAULT_WORKFLOW_YAML.splitlines())
    started = time.perf_counter()
    for _ in range(args.loads):
        workflow = workflow_from_config(load_text(text, name="bench").get_section("workflow"))
    load_ms = (time.perf_counter() - started) / args.loads * 1000

    planner = Planner(
        workflow=workflow,
        routing=routing_from_config(load_text(ROUTING, name="bench").get_section("routing")),
    )
    items = transitions(args.plans)
    started = time.perf_counter()
    actions = 0
    for transition in items:
        actions += len(planner.plan(transition, ACCOUNT).actions)
    elapsed = time.perf_counter() - started
    figures = {
        "workflow_load_ms": round(load_ms, 2),
        "plans_per_second": round(args.plans / elapsed),
        "mean_plan_us": round(elapsed / args.plans * 1e6, 1),
        "actions_planned": actions,
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"workflow load (parse + compile + check every template): {load_ms:.2f} ms")
    print(
        f"planning: {figures['plans_per_second']:,} plans/s "
        f"({figures['mean_plan_us']} us per plan, {actions:,} actions for "
        f"{args.plans:,} transitions, opened/escalated/resolved mixed)"
    )


if __name__ == "__main__":
    main()
