"""Streaming equals batch; order within the lateness bound and duplicates do not matter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.detect.assess import assess_batch
from ticketspike.detect.policy import DetectionPolicy
from ticketspike.model import Account, Category, EventKind, Priority, Ticket, TicketEvent
from ticketspike.monitor import SpikeMonitor, replay_events

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)
CUSTOMERS = ("a", "b", "c")
POLICIES = [
    DetectionPolicy(),
    DetectionPolicy(mode="spec"),
    DetectionPolicy(window_hours=6, baseline_days=10, min_history_days=3, lateness_hours=5),
    DetectionPolicy(tail="poisson", prior_days=0.0, min_history_days=4, baseline_days=12),
    # Other short windows and a looser budget: more short-window openings to compare.
    DetectionPolicy(short_windows_hours=(2, 3, 7), false_episodes_per_year=50.0, min_count=2),
    DetectionPolicy(gate="alpha"),
]


@st.composite
def ticket_sets(draw: st.DrawFn) -> list[Ticket]:
    """A few customers: a background rate, with bursts, over up to six weeks."""
    out: list[Ticket] = []
    serial = 0
    days = draw(st.integers(3, 42))
    for cid in draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3, unique=True)):
        rate = draw(st.sampled_from([0.1, 0.5, 2.0, 6.0]))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = random.Random(seed)
        for day in range(draw(st.integers(0, days - 1)), days):
            n = sum(rng.random() < rate / 8 for _ in range(8))
            if rng.random() < 0.05:
                n += rng.randrange(3, 25)  # a burst
            for _ in range(n):
                serial += 1
                created = START + timedelta(days=day, seconds=rng.randrange(86400))
                out.append(
                    Ticket(
                        ticket_id=f"t{serial}",
                        customer_id=cid,
                        created_at=created,
                        category=rng.choice(list(Category)),
                        priority=rng.choice(list(Priority)),
                        url=f"https://s.example/{serial}" if rng.random() < 0.5 else None,
                        internal=rng.random() < 0.05,
                    )
                )
    return out


def in_order(tickets: list[Ticket]) -> list[TicketEvent]:
    ordered = sorted(tickets, key=lambda t: (t.created_at, t.source, t.ticket_id))
    return [TicketEvent(ticket=t) for t in ordered]


def delivered(
    tickets: list[Ticket], *, lateness_hours: int, seed: int, duplicates: float
) -> list[TicketEvent]:
    """Each ticket delivered up to the lateness bound late, some more than once."""
    rng = random.Random(seed)
    bound = lateness_hours * 3600
    arrivals = []
    for t in tickets:
        copies = 2 if rng.random() < duplicates else 1
        for _ in range(copies):
            delay = rng.uniform(0, bound * 0.999) if bound else 0.0
            arrivals.append((t.created_at.timestamp() + delay, rng.random(), t))
    arrivals.sort(key=lambda x: (x[0], x[1]))
    return [TicketEvent(ticket=t) for _, _, t in arrivals]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tickets=ticket_sets(), policy=st.sampled_from(POLICIES), extra_hours=st.integers(0, 80))
def test_streaming_equals_batch(
    tickets: list[Ticket], policy: DetectionPolicy, extra_hours: int
) -> None:
    monitor = SpikeMonitor(policy)
    for event in in_order(tickets):
        monitor.ingest(event)
    end = max((t.created_at for t in tickets), default=START) + timedelta(hours=extra_hours)
    for cid in CUSTOMERS:
        batch = assess_batch(tickets, customer_id=cid, at=end, policy=policy)
        assert monitor.assess(cid, end) == batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tickets=ticket_sets(),
    policy=st.sampled_from(POLICIES),
    extra_hours=st.integers(0, 80),
    lead_hours=st.integers(0, 30),
)
def test_streaming_equals_batch_when_history_before_watching_is_unknown(
    tickets: list[Ticket], policy: DetectionPolicy, extra_hours: int, lead_hours: int
) -> None:
    """Watching from a given instant: unknown histories warm up the same way in both."""
    since = START - timedelta(hours=lead_hours)
    monitor = SpikeMonitor(policy, watching_since=since)
    for event in in_order(tickets):
        monitor.ingest(event)
    end = max((t.created_at for t in tickets), default=START) + timedelta(hours=extra_hours)
    for cid in CUSTOMERS:
        batch = assess_batch(tickets, customer_id=cid, at=end, policy=policy, watching_since=since)
        assert monitor.assess(cid, end) == batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tickets=ticket_sets(), policy=st.sampled_from(POLICIES), seed=st.integers(0, 10**6))
def test_late_and_duplicated_deliveries_count_as_batch(
    tickets: list[Ticket], policy: DetectionPolicy, seed: int
) -> None:
    """Straight into the monitor, no reordering: late tickets land in their own hour."""
    monitor = SpikeMonitor(policy)
    for event in delivered(
        tickets, lateness_hours=policy.lateness_hours, seed=seed, duplicates=0.2
    ):
        monitor.ingest(event)
    assert monitor.detector.late_dropped == 0
    end = max((t.created_at for t in tickets), default=START) + timedelta(hours=1)
    for cid in CUSTOMERS:
        assert monitor.assess(cid, end) == assess_batch(
            tickets, customer_id=cid, at=end, policy=policy
        )


def transcript(events: list[TicketEvent], policy: DetectionPolicy) -> list[dict[str, object]]:
    monitor = SpikeMonitor(policy)
    return [t.to_json() for t in replay_events(events, monitor)]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tickets=ticket_sets(), policy=st.sampled_from(POLICIES), seed=st.integers(0, 10**6))
def test_shuffled_and_duplicated_input_gives_the_same_episodes(
    tickets: list[Ticket], policy: DetectionPolicy, seed: int
) -> None:
    expected = transcript(in_order(tickets), policy)
    shuffled = delivered(tickets, lateness_hours=policy.lateness_hours, seed=seed, duplicates=0.3)
    assert transcript(shuffled, policy) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tickets=ticket_sets(), cut=st.floats(0.1, 0.9))
def test_export_and_import_midway_changes_nothing(tickets: list[Ticket], cut: float) -> None:
    """Persist every customer halfway, reload in a fresh monitor, carry on: same transitions."""
    policy = DetectionPolicy()
    events = in_order(tickets)
    split = int(len(events) * cut)
    whole = SpikeMonitor(policy)
    expected = [t.to_json() for e in events for t in whole.ingest(e)]
    first = SpikeMonitor(policy)
    got = [t.to_json() for e in events[:split] for t in first.ingest(e)]
    second = SpikeMonitor(policy)
    import json

    for cid in first.customers():
        second.import_customer(cid, json.loads(json.dumps(first.export_customer(cid))))
    if first.clock is not None:
        # The host restores its clock with the state: the time of the last event it handled.
        second.tick(datetime.fromtimestamp(first.clock, tz=UTC))
    got += [t.to_json() for e in events[split:] for t in second.ingest(e)]
    assert got == expected


def test_updates_change_category_and_priority_never_the_count() -> None:
    created = Ticket(
        ticket_id="1",
        customer_id="a",
        created_at=START,
        category=Category.OTHER,
        priority=Priority.P4,
    )
    updated = attrs.evolve(created, category=Category.BILLING, priority=Priority.P1)
    monitor = SpikeMonitor()
    monitor.ingest(TicketEvent(ticket=created))
    monitor.ingest(
        TicketEvent(ticket=updated, kind=EventKind.UPDATED, occurred_at=START + timedelta(hours=1))
    )
    monitor.ingest(
        TicketEvent(ticket=updated, kind=EventKind.RESOLVED, occurred_at=START + timedelta(hours=2))
    )
    a = monitor.assess("a", START + timedelta(hours=3))
    assert a.ticket_count == 1
    assert a.category_breakdown == ((Category.BILLING, 1),)
    assert a.severity_breakdown == ((Priority.P1, 1),)


def test_an_update_seen_before_its_creation_still_counts_once() -> None:
    created = Ticket(ticket_id="1", customer_id="a", created_at=START, category=Category.TECHNICAL)
    updated = attrs.evolve(created, category=Category.TRAINING)
    monitor = SpikeMonitor()
    monitor.ingest(
        TicketEvent(
            ticket=updated, kind=EventKind.UPDATED, occurred_at=START + timedelta(minutes=30)
        )
    )
    assert monitor.assess("a", START + timedelta(minutes=31)).ticket_count == 0
    monitor.ingest(TicketEvent(ticket=created))
    monitor.ingest(TicketEvent(ticket=created))
    a = monitor.assess("a", START + timedelta(hours=1))
    assert a.ticket_count == 1
    assert a.category_breakdown == ((Category.TRAINING, 1),)


def test_an_update_with_no_category_keeps_the_known_one() -> None:
    created = Ticket(ticket_id="1", customer_id="a", created_at=START, category=Category.BILLING)
    vague = attrs.evolve(
        created, category=Category.OTHER, category_given=False, priority=Priority.P2
    )
    monitor = SpikeMonitor()
    monitor.ingest(TicketEvent(ticket=created))
    monitor.ingest(
        TicketEvent(ticket=vague, kind=EventKind.UPDATED, occurred_at=START + timedelta(minutes=5))
    )
    a = monitor.assess("a", START + timedelta(minutes=10))
    assert a.category_breakdown == ((Category.BILLING, 1),)
    assert a.severity_breakdown == ((Priority.P2, 1),)


def test_tickets_later_than_the_bound_are_dropped_and_counted() -> None:
    policy = DetectionPolicy(lateness_hours=2)
    monitor = SpikeMonitor(policy)
    monitor.ingest(
        TicketEvent(
            ticket=Ticket(ticket_id="new", customer_id="a", created_at=START + timedelta(hours=5))
        )
    )
    monitor.ingest(
        TicketEvent(
            ticket=Ticket(ticket_id="late", customer_id="a", created_at=START + timedelta(hours=2))
        )
    )
    monitor.ingest(
        TicketEvent(
            ticket=Ticket(
                ticket_id="ok", customer_id="a", created_at=START + timedelta(hours=3, minutes=30)
            )
        )
    )
    assert monitor.detector.late_dropped == 1
    assert monitor.assess("a", START + timedelta(hours=6)).ticket_ids == ("ok", "new")


def test_account_first_seen_and_segment_shape_the_baseline() -> None:
    policy = DetectionPolicy(mode="spec")
    account = Account(id="a", first_seen=START - timedelta(days=40))
    tickets = [
        Ticket(ticket_id=str(i), customer_id="a", created_at=START + timedelta(hours=i))
        for i in range(3)
    ]
    monitor = SpikeMonitor(policy, accounts={"a": account})
    for event in in_order(tickets):
        monitor.ingest(event)
    a = monitor.assess("a", START + timedelta(hours=5))
    # Forty quiet days on record: an established customer with a zero baseline.
    assert a.baseline_days == 30 and a.baseline_daily_avg == 0.0
    assert a == assess_batch(
        tickets, customer_id="a", at=START + timedelta(hours=5), policy=policy, account=account
    )


def test_memory_follows_the_window_not_the_history() -> None:
    monitor = SpikeMonitor()
    for i in range(5000):
        t = Ticket(ticket_id=str(i), customer_id="a", created_at=START + timedelta(minutes=17 * i))
        monitor.ingest(TicketEvent(ticket=t))
    w = monitor.detector.customers["a"]
    # About 85 tickets a day. Rows are kept for a day and an hour, dropped a day at a
    # time; ids stay in the index for one or two generations of a day and an hour.
    det = monitor.detector
    assert len(w) - w.ring <= 2 * 90
    assert len(det.seen) + len(det.seen_old) <= 2 * 90
    assert len(w.daily) == 32 and len(w.hourly) == 24


def test_assessing_the_past_is_refused() -> None:
    monitor = SpikeMonitor()
    monitor.ingest(
        TicketEvent(
            ticket=Ticket(ticket_id="1", customer_id="a", created_at=START + timedelta(hours=5))
        )
    )
    with pytest.raises(ValueError, match="already moved past"):
        monitor.assess("a", START + timedelta(hours=4))
    # A host clock a few minutes behind the newest ticket is fine.
    assert monitor.assess("a", START + timedelta(hours=5)).ticket_count == 1
    monitor.ingest(
        TicketEvent(
            ticket=Ticket(
                ticket_id="2", customer_id="b", created_at=START + timedelta(hours=5, minutes=30)
            )
        )
    )
    assert monitor.assess("a", START + timedelta(hours=5, minutes=10)).ticket_count == 1


def test_quiet_customers_ids_are_forgotten_at_midnight() -> None:
    monitor = SpikeMonitor()
    for i in range(20):
        monitor.ingest(
            TicketEvent(
                ticket=Ticket(
                    ticket_id=f"q{i}", customer_id="quiet", created_at=START + timedelta(minutes=i)
                )
            )
        )
    quiet = monitor.detector.customers["quiet"]
    assert len(quiet) - quiet.ring == 20
    # Another customer keeps the clock moving for two days.
    for h in range(1, 50):
        monitor.ingest(
            TicketEvent(
                ticket=Ticket(
                    ticket_id=f"b{h}", customer_id="busy", created_at=START + timedelta(hours=h)
                )
            )
        )
    assert len(quiet) == quiet.ring  # its tickets are gone

    # A late duplicate of a forgotten ticket is beyond the lateness bound anyway.
    monitor.ingest(
        TicketEvent(ticket=Ticket(ticket_id="q0", customer_id="quiet", created_at=START))
    )
    assert monitor.detector.late_dropped == 1


def test_a_duplicate_of_a_new_customers_first_ticket_counts_once() -> None:
    """The first ticket of a customer opens its counters without moving them; its id must
    still survive the index's first generation change (the next hour of another customer)."""
    monitor = SpikeMonitor()
    first = Ticket(ticket_id="1", customer_id="a", created_at=START + timedelta(hours=20))
    monitor.ingest(TicketEvent(ticket=first))
    for i, hours in enumerate((21, 30)):
        monitor.ingest(
            TicketEvent(
                ticket=Ticket(
                    ticket_id=f"b{i}", customer_id="b", created_at=START + timedelta(hours=hours)
                )
            )
        )
    monitor.ingest(TicketEvent(ticket=first))  # delivered again, 10 hours late
    assert monitor.detector.duplicates == 1
    assert monitor.assess("a", START + timedelta(hours=30)).ticket_count == 1


def test_the_same_ticket_id_for_two_customers_counts_for_each() -> None:
    monitor = SpikeMonitor()
    for cid in ("a", "b"):
        monitor.ingest(
            TicketEvent(
                ticket=Ticket(ticket_id="7", customer_id=cid, created_at=START + timedelta(hours=1))
            )
        )
    assert monitor.detector.duplicates == 0
    at = START + timedelta(hours=2)
    assert monitor.assess("a", at).ticket_ids == monitor.assess("b", at).ticket_ids == ("7",)


@pytest.mark.parametrize(("tickets", "hour"), [(500, 0), (3, 22)])
def test_a_burst_then_silence_leaves_nothing_behind(tickets: int, hour: int) -> None:
    """A burst that spikes, and one too small to spike but listed for midnight."""
    monitor = SpikeMonitor()
    for i in range(tickets):
        monitor.ingest(
            TicketEvent(
                ticket=Ticket(
                    ticket_id=f"x{i}",
                    customer_id="burst",
                    created_at=START + timedelta(hours=hour, seconds=7 * i),
                )
            )
        )
    burst = monitor.detector.customers["burst"]
    assert len(burst) - burst.ring == tickets
    # Others keep the clock moving for four days; the burst's customer says nothing more.
    for h in range(1, 97):
        monitor.ingest(
            TicketEvent(
                ticket=Ticket(
                    ticket_id=f"o{h}", customer_id="other", created_at=START + timedelta(hours=h)
                )
            )
        )
    assert len(burst) == burst.ring
    assert not any(key[2] == "burst" for key in monitor.detector.seen)
    assert not any(key[2] == "burst" for key in monitor.detector.seen_old)
