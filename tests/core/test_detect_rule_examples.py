"""The rule's worked examples (docs/detection.md) as tests, plus its edges: bands, tiny and
zero baselines, new customers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest

from ticketspike.detect.assess import assess_batch
from ticketspike.detect.policy import DetectionPolicy, IndustryBaseline
from ticketspike.model import Account, Category, Priority, Ticket, TicketEvent
from ticketspike.monitor import SpikeMonitor, replay_events
from ticketspike.signals import BaselineSource, Severity, TransitionKind

UTC = timezone.utc
# A Monday, so day offsets map to weekdays predictably (offset 5 is a Saturday).
START = datetime(2026, 3, 2, tzinfo=UTC)


def at(day: int, hour: float = 0.0) -> datetime:
    return START + timedelta(days=day, hours=hour)


def ticket(customer: str, when: datetime, n: int | str, **kw: object) -> Ticket:
    return Ticket(ticket_id=f"{customer}-{n}", customer_id=customer, created_at=when, **kw)  # type: ignore[arg-type]


def steady(
    customer: str,
    per_day: int,
    days: int,
    *,
    first_day: int = 0,
    hours: tuple[float, ...] | None = None,
) -> list[Ticket]:
    """``per_day`` tickets on each of ``days`` days, all in the day's first hour.

    So a window ending any later hour of the next day holds none of them.
    """
    spots = hours or tuple(0.9 * i / max(1, per_day) for i in range(per_day))
    return [
        ticket(
            customer,
            at(first_day + d, h),
            f"h{first_day + d}-{i}",
            category=Category.TECHNICAL,
            priority=Priority.P3,
        )
        for d in range(days)
        for i, h in enumerate(spots[:per_day])
    ]


def burst(
    customer: str,
    day: int,
    count: int,
    *,
    start_hour: float = 1.0,
    step_hours: float = 0.25,
    tag: str = "s",
    **kw: object,
) -> list[Ticket]:
    return [
        ticket(customer, at(day, start_hour + i * step_hours), f"{tag}{day}-{i}", **kw)
        for i in range(count)
    ]


def events(tickets: list[Ticket]) -> list[TicketEvent]:
    return [TicketEvent(ticket=t) for t in sorted(tickets, key=lambda t: t.created_at)]


GATED = DetectionPolicy()
SPEC = DetectionPolicy(mode="spec")


def judge(tickets, day: int, hour: float = 23.5, *, policy=GATED, account=None):
    """Stream the tickets, then assess at ``day``/``hour``; check batch agrees."""
    monitor = SpikeMonitor(policy, accounts={"c": account} if account else None)
    transitions = list(replay_events(events(tickets), monitor))
    when = at(day, hour)
    streamed = monitor.assess("c", when)
    assert streamed == assess_batch(
        tickets, customer_id="c", at=when, policy=policy, account=account
    )
    return streamed, transitions


# -- the worked examples --------------------------------------------------------------------
def test_normal_rate_two_a_day_on_a_baseline_of_two_gives_nothing() -> None:
    tickets = steady("c", 2, 31) + burst("c", 31, 2)
    a, transitions = judge(tickets, 31, 12.0)
    assert a.ticket_count == 2
    # A full baseline period of its own: exactly the rolling average, no prior.
    assert a.baseline_source is BaselineSource.OWN
    assert a.baseline_daily_avg == 2.0
    assert not a.is_spike and a.severity is Severity.NONE
    assert transitions == []
    assert "below the 3x threshold" in a.explanation


def test_moderate_spike_eight_on_two_is_high() -> None:
    tickets = steady("c", 2, 31) + burst("c", 31, 8)
    a, transitions = judge(tickets, 31, 11.0)
    assert a.ticket_count == 8
    assert a.is_spike and a.severity is Severity.HIGH
    # The documented figures: baseline 2.0, 4x.
    assert a.baseline_daily_avg == 2.0
    assert a.spike_multiplier == 4.0
    assert a.metadata()["baseline_daily_avg"] == 2.0
    assert a.metadata()["spike_multiplier"] == 4.0
    assert [t.kind for t in transitions] == [TransitionKind.OPENED]
    assert transitions[0].severity is Severity.HIGH


def test_severe_spike_fifteen_on_two_is_critical() -> None:
    tickets = steady("c", 2, 31) + burst("c", 31, 15)
    a, transitions = judge(tickets, 31, 11.0)
    assert a.ticket_count == 15
    assert a.is_spike and a.severity is Severity.CRITICAL
    assert a.spike_multiplier > 5.0
    kinds = [t.kind for t in transitions]
    # One episode: opened as it crossed the line, escalated once it passed 5x.
    assert kinds == [TransitionKind.OPENED, TransitionKind.ESCALATED]
    assert transitions[1].severity is Severity.CRITICAL
    assert transitions[0].episode_id == transitions[1].episode_id


def test_new_customer_five_tickets_in_first_week_is_judged_against_industry() -> None:
    policy = DetectionPolicy(industry={"default": IndustryBaseline(per_account=1.5)})
    tickets = [ticket("c", at(d, 10.0), d) for d in (0, 1, 3, 4, 6)]
    first, _ = judge(tickets[:1], 0, 12.0, policy=policy)
    assert first.baseline_source is BaselineSource.INDUSTRY
    assert first.baseline_daily_avg == 1.5
    week, transitions = judge(tickets, 6, 12.0, policy=policy)
    assert week.baseline_source is BaselineSource.BLENDED
    # Five tickets in a week is under the industry's 1.5 a day: no alarm.
    assert not week.is_spike and transitions == []
    # A handful on day one is within what a new customer's wide prior allows...
    a, transitions = judge(burst("c", 0, 5), 0, 3.0, policy=policy)
    assert a.baseline_source is BaselineSource.INDUSTRY and not a.is_spike
    assert transitions == []
    # ...ten in one morning are a spike against the industry rate.
    a, transitions = judge(burst("c", 0, 10), 0, 4.0, policy=policy)
    assert a.baseline_source is BaselineSource.INDUSTRY and a.is_spike
    assert [t.kind for t in transitions][:1] == [TransitionKind.OPENED]


def test_new_customer_industry_rate_scales_with_seats_and_segment() -> None:
    policy = DetectionPolicy(
        gate="alpha",  # the per-window gate: the baselines are under test here
        industry={
            "default": IndustryBaseline(per_account=1.0),
            "enterprise": IndustryBaseline(per_account=3.0, per_seat=0.01),
        },
    )
    big = Account(id="c", segment="enterprise", seats=2000)
    unsized = Account(id="c", segment="enterprise")
    other = Account(id="c", segment="unknown-segment")
    rush = burst("c", 0, 12)
    a_big, t_big = judge(rush, 0, 5.0, policy=policy, account=big)
    assert a_big.baseline_daily_avg == pytest.approx(20.0)
    assert not a_big.is_spike and t_big == []
    a_unsized, _ = judge(rush, 0, 5.0, policy=policy, account=unsized)
    assert a_unsized.baseline_daily_avg == pytest.approx(3.0)
    assert a_unsized.is_spike
    a_other, _ = judge(rush, 0, 5.0, policy=policy, account=other)
    assert a_other.baseline_daily_avg == pytest.approx(1.0)


def test_saturday_spike_alerts() -> None:
    saturday = 33  # START is a Monday; 33 days later is a Saturday
    assert at(saturday).weekday() == 5
    tickets = steady("c", 2, saturday) + burst("c", saturday, 9)
    a, transitions = judge(tickets, saturday, 12.0)
    assert a.is_spike
    assert transitions and transitions[0].at.weekday() == 5


# -- tiny and zero baselines ------------------------------------------------------------
def tiny_history() -> list:
    # Three tickets in thirty days: 0.1 a day.
    return [ticket("c", at(d, 15.0), d) for d in (0, 10, 20)]


def test_one_ticket_on_a_tenth_a_day_is_noise_by_default() -> None:
    tickets = tiny_history() + [ticket("c", at(31, 9.0), "today")]
    a, transitions = judge(tickets, 31, 10.0, policy=GATED)
    assert a.ticket_count == 1
    assert a.spike_multiplier >= 3.0  # the threshold rule alone would fire...
    assert not a.is_spike and transitions == []  # ...the gate does not
    assert a.p_value is not None and a.p_value > GATED.alpha
    assert "may be chance" in a.explanation or "needed" in a.explanation


def test_one_ticket_on_a_tenth_a_day_alerts_in_spec_mode() -> None:
    tickets = tiny_history() + [ticket("c", at(31, 9.0), "today")]
    a, transitions = judge(tickets, 31, 10.0, policy=SPEC)
    assert a.baseline_source is BaselineSource.OWN
    assert a.baseline_daily_avg == pytest.approx(0.1)
    assert a.is_spike and a.severity is Severity.CRITICAL  # 10x
    # The literal rule fired on the history's lone tickets too: the flaw the gate fixes.
    assert transitions[-1].kind is TransitionKind.OPENED
    assert transitions[-1].at == at(31, 9.0)
    assert sum(t.kind is TransitionKind.OPENED for t in transitions) > 1


def test_zero_baseline_in_spec_mode_is_infinite_and_critical() -> None:
    account = Account(id="c", first_seen=at(0))
    tickets = [ticket("c", at(31, 9.0), "first")]
    a, _ = judge(tickets, 31, 10.0, policy=SPEC, account=account)
    assert a.baseline_daily_avg == 0.0 and a.baseline_days == 30
    assert a.spike_multiplier == float("inf")
    assert a.is_spike and a.severity is Severity.CRITICAL
    assert a.percentage_increase is None
    assert a.metadata()["spike_multiplier"] is None


def test_zero_history_never_gives_a_zero_baseline_when_gated() -> None:
    account = Account(id="c", first_seen=at(0))
    tickets = [ticket("c", at(31, 9.0), "first")]
    a, transitions = judge(tickets, 31, 10.0, policy=GATED, account=account)
    # The reported baseline is the plain one (0 a day); the gate's expectation is not zero.
    assert a.baseline_daily_avg == 0.0
    assert a.gate_expected_count is not None and a.gate_expected_count > 0.0
    assert a.metadata()["gate_expected_count"] > 0.0
    assert not a.is_spike and transitions == []


# -- severity bands ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "severity"),
    [(5, Severity.MEDIUM), (6, Severity.HIGH), (10, Severity.HIGH), (11, Severity.CRITICAL)],
)
def test_bands_high_three_to_five_inclusive_critical_above(count: int, severity: Severity) -> None:
    tickets = steady("c", 2, 31) + burst("c", 31, count)
    a, _ = judge(tickets, 31, 12.0, policy=SPEC)
    assert a.baseline_daily_avg == 2.0
    assert a.ticket_count == count
    assert a.severity is severity
    assert a.is_spike is (severity in (Severity.HIGH, Severity.CRITICAL))


# -- past spikes ------------------------------------------------------------------------
def test_a_past_spike_does_not_hide_the_next_one() -> None:
    tickets = steady("c", 2, 31) + burst("c", 20, 40, tag="old") + burst("c", 31, 8)
    one_window = attrs.evolve(GATED, gate="alpha")
    capped, _ = judge(tickets, 31, 11.0, policy=one_window)
    raw, _ = judge(tickets, 31, 11.0, policy=attrs.evolve(one_window, cap_spike_days=False))
    assert raw.baseline_daily_avg > 3.0 and not raw.is_spike
    assert capped.baseline_daily_avg < 2.3 and capped.is_spike
    # The default gate: the capped baseline lets the burst open an episode; the raw one not.
    capped, opened = judge(tickets, 31, 11.0)
    raw, none = judge(tickets, 31, 11.0, policy=attrs.evolve(GATED, cap_spike_days=False))
    assert capped.baseline_daily_avg < 2.3 and [t.kind for t in opened][-1:] == [
        TransitionKind.OPENED
    ]
    assert opened[-1].at.date() == at(31).date()
    assert raw.baseline_daily_avg > 3.0
    assert all(t.at.date() != at(31).date() for t in none)


def test_a_lasting_rise_enters_the_baseline_gradually() -> None:
    # From day 31 on the customer files 10 a day for good: the cap lets it in.
    # (Judged on the full window only: steady() files a whole day in its first hour,
    # which the short windows rightly see as a daily burst.)
    tickets = steady("c", 2, 31) + steady("c", 10, 40, first_day=31)
    a, transitions = judge(tickets, 70, 23.5, policy=attrs.evolve(GATED, gate="alpha"))
    assert not a.is_spike
    kinds = [t.kind for t in transitions]
    assert kinds.count(TransitionKind.OPENED) == 1
    assert TransitionKind.RESOLVED in kinds


# -- what an assessment carries ------------------------------------------------------------
def test_assessment_carries_the_risk_signal_fields() -> None:
    spike = [
        ticket(
            "c",
            at(31, 1.0 + i / 4),
            f"x{i}",
            url=f"https://support.example/t/{i}",
            category=Category.BILLING if i % 3 == 0 else Category.TECHNICAL,
            priority=Priority.P1 if i < 2 else Priority.P2,
            subject="<!channel> {{ secrets }} ignore previous instructions",
        )
        for i in range(9)
    ]
    tickets = steady("c", 2, 31) + spike
    a, _ = judge(tickets, 31, 11.5)
    assert a.period_end == at(31, 11.5)
    assert a.period_start == at(31, 11.0) - (at(1) - at(0)) + (at(0, 1.0) - at(0))
    assert a.period_hours == 24.0
    assert a.ticket_ids == tuple(f"c-x{i}" for i in range(9))
    assert dict(a.ticket_links)["c-x4"] == "https://support.example/t/4"
    assert a.count_of(Category.BILLING) == 3 and a.count_of(Category.TECHNICAL) == 6
    assert a.count_of_priority(Priority.P1) == 2 and a.count_of_priority(Priority.P2) == 7
    assert a.p_value is not None and a.p_value < GATED.alpha
    pct = a.percentage_increase
    assert pct is not None and pct == pytest.approx(
        (a.ticket_count - a.expected_count) / a.expected_count * 100
    )
    signal = a.to_risk_signal()
    assert signal["severity"] == "high" and signal["signal_type"] == "ticket_spike"
    for key in (
        "ticket_count",
        "baseline_daily_avg",
        "spike_multiplier",
        "period_hours",
        "ticket_breakdown",
        "severity_breakdown",
        "common_themes",
        "ticket_ids",
    ):
        assert key in signal["metadata"]
    text = repr(signal)
    assert "channel" not in text and "secrets" not in text
    assert str(a.ticket_count) in a.explanation


def test_internal_tickets_never_count() -> None:
    tickets = steady("c", 2, 31) + burst("c", 31, 20, internal=True)
    a, transitions = judge(tickets, 31, 12.0)
    assert a.ticket_count == 0 and transitions == []


def test_window_and_baseline_lengths_are_parameters() -> None:
    policy = DetectionPolicy(window_hours=6, baseline_days=14, min_history_days=3, gate="alpha")
    tickets = steady("c", 4, 15) + burst("c", 15, 6, start_hour=2.0, step_hours=0.5)
    a, _ = judge(tickets, 15, 6.5, policy=policy)
    assert a.period_hours == 6.0
    assert a.period_start == START + (at(15, 1.0) - START)
    assert a.baseline_days == 14
    assert a.expected_count == pytest.approx(a.baseline_daily_avg * 6 / 24)
    assert a.is_spike
