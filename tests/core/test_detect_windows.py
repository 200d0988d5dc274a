"""Short windows, the false-alarm budget, and warming up a customer whose history is unknown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ticketspike.detect.assess import assess_batch
from ticketspike.detect.baseline import (
    baseline_for,
    crossings_per_year,
    cutoffs_for,
    day_shape,
    gate_mean,
)
from ticketspike.detect.policy import DetectionPolicy
from ticketspike.model import Account, Ticket, TicketEvent
from ticketspike.monitor import SpikeMonitor, replay_events
from ticketspike.signals import BaselineSource, Severity, TransitionKind

UTC = timezone.utc
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
POLICY = DetectionPolicy()


def at(day: int, hour: float = 0.0) -> datetime:
    return START + timedelta(days=day, hours=hour)


def spread(customer: str, per_day: int, days: int, first_day: int = 0) -> list[Ticket]:
    """``per_day`` tickets a day spread over office hours."""
    return [
        Ticket(
            ticket_id=f"{customer}-{d}-{i}",
            customer_id=customer,
            created_at=at(d, 9.0 + 8.0 * i / per_day),
        )
        for d in range(first_day, first_day + days)
        for i in range(per_day)
    ]


def events(tickets: list[Ticket]) -> list[TicketEvent]:
    return [TicketEvent(ticket=t) for t in sorted(tickets, key=lambda t: t.created_at)]


@pytest.mark.parametrize("rate", [0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 200.0])
@pytest.mark.parametrize("hours", [1, 4, 24])
def test_each_window_line_spends_at_most_its_share_of_the_budget(rate: float, hours: int) -> None:
    days = 30
    total = round(rate * days)
    # Days varying a little more than Poisson, as real queues do.
    sumsq = round(days * (rate * rate * 1.1 + rate))
    base = baseline_for(POLICY, total=total, days=days, sumsq=sumsq, industry_rate=1.0)
    cut = cutoffs_for(POLICY, base, float(hours))
    share = POLICY.false_episodes_per_year / len(POLICY.windows)
    # A short window is judged at the busy hours' expectation, the full one at the day's.
    mu = gate_mean(POLICY, base, float(hours))
    assert mu == base.gate_expected(min(24.0, hours * 24.0 / POLICY.busy_hours))
    assert crossings_per_year(cut.open, base, float(hours), mu=mu) <= share
    if cut.open > cut.candidate:  # the budget bound, so one ticket less would overspend
        assert crossings_per_year(cut.open - 1, base, float(hours), mu=mu) > share


def test_a_burst_opens_within_the_hour_and_reports_the_day() -> None:
    # 1 a day for a month, then 6 tickets in 90 minutes.
    history = spread("c", 1, 30)
    burst = [
        Ticket(ticket_id=f"b{i}", customer_id="c", created_at=at(30, 14.0 + i * 0.25))
        for i in range(6)
    ]
    monitor = SpikeMonitor(POLICY)
    transitions = list(replay_events(events(history + burst), monitor))
    opened = [t for t in transitions if t.kind is TransitionKind.OPENED]
    assert len(opened) == 1
    assert at(30, 14.0) <= opened[0].at <= at(30, 15.0)
    a = opened[0].assessment
    # The signal is the 24-hour figure; the short window decided.
    assert a.period_hours == 24.0 and a.baseline_daily_avg == 1.0
    assert a.spike_multiplier == a.ticket_count / 1.0 >= 3.0
    assert a.severity in (Severity.HIGH, Severity.CRITICAL)
    assert a.decided_by.startswith("gate (1 h window")
    assert a.last_hour_count == a.ticket_count and a.peak_hour_count == a.ticket_count
    assert a.metadata()["tickets_per_hour_peak"] == a.ticket_count
    assert "the last 1 h hold" in a.explanation
    batch = assess_batch(history + burst, customer_id="c", at=opened[0].at, policy=POLICY)
    assert batch == a


def test_the_same_tickets_spread_over_the_day_do_not_alert() -> None:
    history = spread("c", 1, 30)
    day = [
        Ticket(ticket_id=f"b{i}", customer_id="c", created_at=at(30, 1.0 + i * 4.0))
        for i in range(5)
    ]
    monitor = SpikeMonitor(POLICY)
    assert list(replay_events(events(history + day), monitor)) == []


def test_unknown_history_warms_up_then_judges_against_its_own_days() -> None:
    monitor = SpikeMonitor(POLICY, watching_since=START)
    busy = spread("big", 12, 3)  # 12 a day from the first hour: no alert
    assert list(replay_events(events(busy), monitor)) == []
    a = monitor.assess("big", at(2, 20.0))
    assert a.baseline_source is BaselineSource.WARMING and not a.is_spike
    assert a.decided_by == "warming_up" and "warming up" in a.explanation
    # A week on, its own days are the baseline (never the industry's 1 a day).
    monitor = SpikeMonitor(POLICY, watching_since=START)
    list(replay_events(events(spread("big", 12, 9)), monitor))
    a = monitor.assess("big", at(8, 20.0))
    assert a.baseline_source is BaselineSource.BLENDED or a.baseline_source is BaselineSource.OWN
    assert a.baseline_days == 7
    assert a.baseline_daily_avg > 10.0


def test_a_customer_first_seen_after_a_baseline_period_is_new() -> None:
    monitor = SpikeMonitor(POLICY, watching_since=START)
    list(replay_events(events(spread("old", 1, 31)), monitor))
    monitor.ingest(
        TicketEvent(ticket=Ticket(ticket_id="n1", customer_id="new", created_at=at(31, 9.0)))
    )
    a = monitor.assess("new", at(31, 10.0))
    assert a.baseline_source is BaselineSource.INDUSTRY


def test_an_account_first_seen_makes_history_known() -> None:
    account = Account(id="c", first_seen=at(0))
    monitor = SpikeMonitor(POLICY, accounts={"c": account}, watching_since=START)
    monitor.ingest(
        TicketEvent(ticket=Ticket(ticket_id="t", customer_id="c", created_at=at(0, 9.0)))
    )
    assert monitor.assess("c", at(0, 10.0)).baseline_source is BaselineSource.INDUSTRY
    unknown = SpikeMonitor(POLICY, watching_since=START)
    unknown.ingest(
        TicketEvent(ticket=Ticket(ticket_id="t", customer_id="c", created_at=at(0, 9.0)))
    )
    assert unknown.assess("c", at(0, 10.0)).baseline_source is BaselineSource.WARMING


def test_a_short_window_keeps_the_day_spread_so_it_can_fire_before_the_day() -> None:
    # 6 a day with a wide day-to-day spread (CV about 0.45): the spread is between
    # days, so the 1-hour line stays far below the 24-hour one.
    days, rate = 30, 6.0
    sumsq = round(days * (rate * rate * 1.2 + rate))
    base = baseline_for(POLICY, total=round(rate * days), days=days, sumsq=sumsq, industry_rate=1.0)
    lines = {h: cutoffs_for(POLICY, base, float(h)).open for h in (1, 4, 24)}
    assert lines[1] <= 10 and lines[1] < lines[4] < lines[24]


def test_a_small_customers_noisy_spread_is_shrunk_toward_the_prior() -> None:
    # 15 tickets in 30 days whose sample variance (1.0) is twice the mean, by chance.
    total, days = 15, 30
    sumsq = round((days - 1) * 1.0 + total * total / days)
    shrunk = baseline_for(POLICY, total=total, days=days, sumsq=sumsq, industry_rate=1.0)
    raw_policy = DetectionPolicy(day_spread=0.0)
    raw = baseline_for(raw_policy, total=total, days=days, sumsq=sumsq, industry_rate=1.0)
    assert raw.shape < 1.0 < 4.0 < day_shape(POLICY, total, days, sumsq) < 1.0 / 0.35**2
    # The gate's shape also carries the rate's own uncertainty (17 tickets with the prior's).
    assert shrunk.shape == pytest.approx(1.0 / (1 / 17 + 1 / 4.8584 + 1 / (17 * 4.8584)), 1e-3)
    line = cutoffs_for(POLICY, shrunk, 24.0).open
    assert line == 7 < cutoffs_for(raw_policy, raw, 24.0).open == 11
    # A big customer's own spread wins: 20 a day at CV 0.5 stays near shape 4.
    big = baseline_for(
        POLICY, total=600, days=30, sumsq=round(30 * (400 * 1.25 + 20)), industry_rate=1.0
    )
    assert 3.5 < big.shape < 5.0
