"""Looking only where something can change gives the same episodes as looking everywhere.

The monitor does not visit every customer every hour: an open episode is
looked at only at the hours its state can change (its count falling below the
resolve line, its quiet period running out, the day boundary), and a quiet
customer is not looked at until its next ticket. Here a brute-force reference
judges, from scratch with :func:`assess_batch`, every open episode at every
hour boundary, every customer at every day boundary and the customer of every
ticket, and feeds the lifecycle; the transitions must be the same, times and
assessments included.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.detect.assess import assess_batch
from ticketspike.detect.policy import DetectionPolicy, IndustryBaseline
from ticketspike.lifecycle import EpisodeState, LifecyclePolicy, advance_episode
from ticketspike.model import Account, Category, Priority, Ticket, TicketEvent
from ticketspike.monitor import SpikeMonitor
from ticketspike.signals import Transition

UTC = timezone.utc
START = datetime(2026, 2, 2, tzinfo=UTC)
POLICIES = [
    DetectionPolicy(),
    DetectionPolicy(mode="spec"),
    DetectionPolicy(window_hours=6, baseline_days=5, min_history_days=2, lateness_hours=5),
    # Other short windows and a looser budget: more short-window openings to compare.
    DetectionPolicy(short_windows_hours=(2, 3, 7), false_episodes_per_year=50.0, min_count=2),
    DetectionPolicy(gate="alpha"),
]
LIFECYCLES = [
    LifecyclePolicy(),
    LifecyclePolicy(resolve_after_hours=0, cooldown_hours=0),
    LifecyclePolicy(resolve_after_hours=9, resolve_below=4.0),
    LifecyclePolicy(escalate=False, resolve_after_hours=2),
]


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[datetime, Ticket | None]]:
    """Tickets in time order (a background rate with bursts) and bare clock ticks."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    days = draw(st.integers(2, 16))
    out: list[tuple[datetime, Ticket | None]] = []
    serial = 0
    for cid in draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True)):
        rate = rng.choice([0.3, 1.0, 3.0])
        for day in range(rng.randrange(days), days):
            n = sum(rng.random() < rate / 6 for _ in range(6))
            if rng.random() < 0.15:
                n += rng.randrange(3, 30)  # a burst, within a few hours
                burst_at = rng.randrange(86400 - 4 * 3600)
            else:
                burst_at = None
            for i in range(n):
                serial += 1
                offset = (
                    rng.randrange(86400)
                    if burst_at is None or i % 3 == 0
                    else burst_at + rng.randrange(4 * 3600)
                )
                created = START + timedelta(days=day, seconds=offset)
                out.append(
                    (
                        created,
                        Ticket(
                            ticket_id=f"t{serial}",
                            customer_id=cid,
                            created_at=created,
                            category=rng.choice(list(Category)),
                            priority=rng.choice(list(Priority)),
                            internal=rng.random() < 0.03,
                        ),
                    )
                )
    for _ in range(draw(st.integers(0, 6))):
        out.append((START + timedelta(seconds=rng.randrange((days + 3) * 86400)), None))
    out.sort(key=lambda x: (x[0], x[1] is None, x[1].ticket_id if x[1] else ""))
    return out


def reference(
    stream: list[tuple[datetime, Ticket | None]],
    policy: DetectionPolicy,
    life: LifecyclePolicy,
    end: datetime,
) -> list[Transition]:
    seen: list[Ticket] = []
    states: dict[str, EpisodeState] = {}
    out: list[Transition] = []
    clock_hour: int | None = None

    def judge(cid: str, at: datetime) -> None:
        assessment = assess_batch(seen, customer_id=cid, at=at, policy=policy)
        states[cid], transitions = advance_episode(
            states.get(cid, EpisodeState()), assessment, policy=life
        )
        out.extend(transitions)

    def move_to(at: datetime) -> None:
        nonlocal clock_hour
        hour = int(at.timestamp() // 3600)
        if clock_hour is not None:
            for boundary in range(clock_hour + 1, hour + 1):
                b_at = datetime.fromtimestamp(boundary * 3600, tz=UTC)
                for cid in sorted({t.customer_id for t in seen if not t.internal}):
                    if boundary % 24 == 0 or states.get(cid, EpisodeState()).episode:
                        judge(cid, b_at)
        if clock_hour is None or hour > clock_hour:
            clock_hour = hour

    for at, ticket in stream:
        move_to(at)
        if ticket is not None:
            seen.append(ticket)
            if not ticket.internal:
                judge(ticket.customer_id, at)
    move_to(end)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(), policy=st.sampled_from(POLICIES), life=st.sampled_from(LIFECYCLES))
def test_monitor_matches_judging_everyone_every_hour(
    stream: list[tuple[datetime, Ticket | None]], policy: DetectionPolicy, life: LifecyclePolicy
) -> None:
    end = (stream[-1][0] if stream else START) + timedelta(days=2, minutes=30)
    monitor = SpikeMonitor(policy, life)
    got: list[Transition] = []
    for at, ticket in stream:
        if ticket is None:
            got += monitor.tick(at)
        else:
            got += monitor.ingest(TicketEvent(ticket=ticket))
    got += monitor.tick(end)
    expected = reference(stream, policy, life, end)
    assert [t.to_json() for t in got] == [t.to_json() for t in expected]


def test_an_account_change_is_judged_at_the_next_midnight() -> None:
    """A window too small to matter under one industry rate may be a spike under the next."""
    policy = DetectionPolicy(
        industry={
            "default": IndustryBaseline(per_account=10.0),
            "small": IndustryBaseline(per_account=0.5),
        }
    )
    monitor = SpikeMonitor(policy)
    got: list[Transition] = []
    for i in range(8):
        ticket = Ticket(
            ticket_id=f"n{i}",
            customer_id="c",
            created_at=START + timedelta(hours=20, minutes=10 * i),
        )
        got += monitor.ingest(TicketEvent(ticket=ticket))
    assert got == []  # 8 tickets against 10 expected a day
    monitor.assess("c", START + timedelta(hours=22), account=Account(id="c", segment="small"))
    got = monitor.tick(START + timedelta(days=1, minutes=1))
    assert [(t.kind.value, t.at) for t in got] == [("opened", START + timedelta(days=1))]
    assert got[0].assessment.ticket_count == 8 and got[0].assessment.expected_count == 0.5
