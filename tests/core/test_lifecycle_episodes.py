"""Spike episodes: one per spike, escalated once, resolved on time, silences recorded."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ticketspike.config import load_config
from ticketspike.detect.policy import DetectionPolicy
from ticketspike.errors import ConfigError
from ticketspike.lifecycle import (
    EpisodeState,
    LifecyclePolicy,
    Silence,
    advance_episode,
    episode_id_for,
)
from ticketspike.model import Account, Ticket, TicketEvent
from ticketspike.monitor import SpikeMonitor, replay_events
from ticketspike.signals import Assessment, BaselineSource, Severity, TransitionKind

UTC = timezone.utc
START = datetime(2026, 3, 2, tzinfo=UTC)
OPEN, ESC, RES = TransitionKind.OPENED, TransitionKind.ESCALATED, TransitionKind.RESOLVED


def at(day: float, hour: float = 0.0) -> datetime:
    return START + timedelta(days=day, hours=hour)


def spread(
    cid: str, day: int, count: int, *, first_hour: float = 0.0, span: float = 24.0, tag: str = ""
) -> list[Ticket]:
    return [
        Ticket(
            ticket_id=f"{tag}{day}-{i}",
            customer_id=cid,
            created_at=at(day, first_hour + span * i / count),
        )
        for i in range(count)
    ]


def history(cid: str, days: int, per_day: int = 2, first: int = 0) -> list[Ticket]:
    return [t for d in range(first, first + days) for t in spread(cid, d, per_day)]


def replay(tickets: list[Ticket], monitor: SpikeMonitor | None = None) -> list:
    monitor = monitor or SpikeMonitor()
    ordered = sorted(tickets, key=lambda t: t.created_at)
    return list(replay_events([TicketEvent(ticket=t) for t in ordered], monitor))


def kinds(transitions: list) -> list[TransitionKind]:
    return [t.kind for t in transitions]


# -- through the monitor ------------------------------------------------------------------
def test_a_sustained_spike_is_one_episode() -> None:
    tickets = (
        history("c", 30)
        + [t for d in (30, 31, 32) for t in spread("c", d, 24)]
        + history("c", 6, first=33)
    )
    transitions = replay(tickets)
    assert kinds(transitions).count(OPEN) == 1
    assert kinds(transitions).count(ESC) <= 1
    assert kinds(transitions).count(RES) == 1
    assert kinds(transitions)[0] is OPEN and kinds(transitions)[-1] is RES
    assert len({t.episode_id for t in transitions}) == 1
    opened, resolved = transitions[0], transitions[-1]
    assert opened.at.date() == at(30).date()
    assert resolved.opened_at == opened.at


def test_separate_spikes_are_separate_episodes() -> None:
    tickets = (
        history("c", 30)
        + spread("c", 30, 12, span=3.0, tag="a")
        + history("c", 10, first=31)
        + spread("c", 41, 12, span=3.0, tag="b")
        + history("c", 3, first=42)
    )
    transitions = replay(tickets)
    assert kinds(transitions).count(OPEN) == 2 and kinds(transitions).count(RES) == 2
    ids = [t.episode_id for t in transitions if t.kind is OPEN]
    assert ids[0] != ids[1]


def test_episodes_resolve_on_ticks_without_tickets() -> None:
    monitor = SpikeMonitor(lifecycle=LifecyclePolicy(resolve_after_hours=6))
    tickets = history("c", 30) + spread("c", 30, 8, first_hour=1.0, span=2.0)
    transitions = replay(tickets, monitor)
    assert kinds(transitions) == [OPEN]
    # No more tickets: the clock alone moves on, hour by hour.
    later = []
    for hour in range(1, 60):
        later += monitor.tick(at(30, 3.0 + hour))
    assert kinds(later) == [RES]
    resolved = later[0]
    assert resolved.at.minute == 0 and resolved.at.second == 0
    # The burst leaves the 24 h window at 01:00-03:00 the next day; then 6 quiet hours.
    assert at(31, 1.0) <= resolved.at <= at(31, 10.0)
    assert resolved.assessment.spike_multiplier < monitor.lifecycle.resolve_below


def test_replay_ticks_between_tickets_so_resolution_is_not_late() -> None:
    # After the burst the next ticket comes four days later; the episode must
    # resolve long before that ticket, at an hour tick.
    tickets = history("c", 30) + spread("c", 30, 8, first_hour=1.0, span=2.0)
    tickets += [Ticket(ticket_id="later", customer_id="c", created_at=at(34, 12.0))]
    transitions = replay(tickets)
    assert kinds(transitions) == [OPEN, RES]
    assert transitions[1].at < at(31, 12.0)


def test_a_spike_that_starts_when_the_baseline_drops_at_midnight() -> None:
    # Day 0 was very busy; days 1-29 quiet. On day 31, six tickets: 2x the baseline
    # while day 0 is in it. At midnight day 0 leaves the baseline and the same six
    # tickets are a 6x spike, with no ticket arriving to trigger an evaluation.
    tickets = spread("c", 0, 60) + history("c", 29, per_day=1, first=1)
    tickets += spread("c", 31, 6, first_hour=12.0, span=6.0, tag="s")
    # The per-window gate: under the default budget six on one a day stay within chance.
    monitor = SpikeMonitor(DetectionPolicy(gate="alpha"))
    transitions = replay(tickets, monitor)
    assert [t for t in transitions if t.at >= at(29)] == []
    before = monitor.assess("c", at(31, 23.5))
    assert not before.is_spike and before.ticket_count == 6
    ticked = monitor.tick(at(32, 0.0))
    assert kinds(ticked) == [OPEN]
    assert ticked[0].at == at(32)
    assert ticked[0].assessment.ticket_count == 6
    assert ticked[0].assessment.baseline_daily_avg < before.baseline_daily_avg / 2


def test_a_spike_that_escalates_does_so_once() -> None:
    tickets = history("c", 30)
    # High first, then critical, then back to high, then critical again.
    tickets += spread("c", 30, 8, first_hour=0.5, span=2.0, tag="a")
    tickets += spread("c", 30, 6, first_hour=4.0, span=1.0, tag="b")
    tickets += spread("c", 31, 2, first_hour=6.0, span=1.0, tag="c")
    tickets += spread("c", 31, 14, first_hour=8.0, span=1.0, tag="d")
    transitions = replay(tickets)
    assert kinds(transitions)[:2] == [OPEN, ESC]
    assert kinds(transitions).count(ESC) == 1
    assert transitions[0].severity is Severity.HIGH
    assert transitions[1].severity is Severity.CRITICAL


def test_episode_ids_are_stable_and_deterministic() -> None:
    tickets = history("c", 30) + spread("c", 30, 12, span=2.0)
    first = replay(tickets)
    second = replay(list(reversed(tickets)))
    assert [t.to_json() for t in first] == [t.to_json() for t in second]
    opened = first[0]
    assert opened.episode_id == episode_id_for("c", opened.at)
    assert episode_id_for("c", opened.at) != episode_id_for("d", opened.at)
    assert episode_id_for("c", opened.at) != episode_id_for("c", opened.at + timedelta(hours=1))
    # The id is a hash: nothing of a hostile customer id reaches idempotency keys.
    hostile = episode_id_for("<!channel> ../../etc", opened.at)
    assert hostile.startswith("ep_") and hostile[3:].isalnum() and len(hostile) == 23


def test_an_imported_open_episode_resolves_in_the_new_process() -> None:
    first = SpikeMonitor()
    transitions = replay(history("c", 30) + spread("c", 30, 8, first_hour=1.0, span=2.0), first)
    assert kinds(transitions) == [OPEN]
    saved = json.loads(json.dumps(first.export_customer("c")))
    second = SpikeMonitor()
    second.import_customer("c", saved)
    assert second.open_episodes == {"c"}
    later = [t for h in range(4, 48) for t in second.tick(at(30, h))]
    assert kinds(later) == [RES]
    assert later[0].episode_id == transitions[0].episode_id


def test_import_refuses_foreign_state() -> None:
    monitor = SpikeMonitor()
    with pytest.raises(ValueError):
        monitor.import_customer("c", {"version": 99})
    replay(history("c", 3), monitor)
    saved = monitor.export_customer("c")
    other = SpikeMonitor(DetectionPolicy(window_hours=6))
    with pytest.raises(ValueError, match="different window"):
        other.import_customer("c", saved)


# -- silences, outages, cooldown ---------------------------------------------------------
def spike_tickets(cid: str = "c") -> list[Ticket]:
    return (
        history(cid, 30) + spread(cid, 30, 8, first_hour=1.0, span=2.0) + history(cid, 4, first=31)
    )


def test_a_customer_silence_records_the_transition_with_its_reason() -> None:
    silence = Silence(
        scope="customer", target="c", start=at(29), end=at(32), reason="migration weekend"
    )
    transitions = replay(spike_tickets(), SpikeMonitor(silences=[silence]))
    assert kinds(transitions) == [OPEN, RES]
    assert transitions[0].suppressed is not None
    assert "migration weekend" in transitions[0].suppressed
    assert "suppressed" in transitions[0].to_json()


def test_a_known_outage_for_a_segment_suppresses_only_that_segment() -> None:
    outage = Silence(
        scope="segment", target="smb", end=at(31), kind="outage", reason="INC-7 login outage"
    )
    accounts = {"c": Account(id="c", segment="smb"), "d": Account(id="d", segment="ent")}
    transitions = replay(
        spike_tickets("c") + spike_tickets("d"), SpikeMonitor(silences=[outage], accounts=accounts)
    )
    opened = {t.customer_id: t for t in transitions if t.kind is OPEN}
    assert opened["c"].suppressed is not None and opened["c"].suppressed.startswith("outage")
    assert opened["d"].suppressed is None


def test_an_expired_or_future_silence_does_not_apply() -> None:
    old = Silence(scope="global", target=None, end=at(10), reason="old")
    future = Silence(scope="global", target=None, start=at(40), end=at(41), reason="future")
    transitions = replay(spike_tickets(), SpikeMonitor(silences=[old, future]))
    assert transitions[0].kind is OPEN and transitions[0].suppressed is None


def assessment(when: datetime, multiplier: float, *, cid: str = "c") -> Assessment:
    is_spike = multiplier >= 3.0
    severity = (
        (Severity.CRITICAL if multiplier > 5 else Severity.HIGH) if is_spike else Severity.NONE
    )
    return Assessment(
        customer_id=cid,
        at=when,
        is_spike=is_spike,
        severity=severity,
        ticket_count=round(multiplier * 2),
        baseline_daily_avg=2.0,
        expected_count=2.0,
        spike_multiplier=multiplier,
        period_start=when - timedelta(hours=24),
        period_end=when,
        period_hours=24.0,
        baseline_source=BaselineSource.OWN,
        baseline_days=30.0,
        p_value=0.0001,
    )


def run(
    steps: list[tuple[float, float]], policy: LifecyclePolicy, silences: tuple[Silence, ...] = ()
) -> list:
    state = EpisodeState()
    out = []
    for hour, multiplier in steps:
        state, transitions = advance_episode(
            state, assessment(at(0, hour), multiplier), policy=policy, silences=silences
        )
        out += transitions
    return out


def test_hysteresis_keeps_an_episode_open_between_the_lines() -> None:
    policy = LifecyclePolicy(resolve_below=1.5, resolve_after_hours=3)
    steps = [
        (0, 4.0),
        (1, 2.5),
        (2, 2.0),
        (3, 1.6),
        (4, 2.9),
        (5, 1.7),
        (6, 1.0),
        (7, 1.0),
        (8, 1.2),
        (9, 1.0),
    ]
    transitions = run(steps, policy)
    # 2.5x is below the alert line but above the resolve line: still one open episode.
    assert kinds(transitions) == [OPEN, RES]
    assert transitions[1].at == at(0, 9)  # quiet from hour 6, resolved 3 hours later


def test_a_new_spike_inside_the_cooldown_does_not_page_again() -> None:
    policy = LifecyclePolicy(resolve_after_hours=0, cooldown_hours=24)
    transitions = run([(0, 4.0), (2, 1.0), (5, 4.0), (7, 1.0), (40, 4.0)], policy)
    assert kinds(transitions) == [OPEN, RES, OPEN, RES, OPEN]
    assert transitions[0].suppressed is None
    assert transitions[2].suppressed is not None and "cooldown" in transitions[2].suppressed
    assert transitions[3].suppressed is not None  # it never paged, so neither does its end
    assert transitions[4].suppressed is None  # after the cooldown
    assert transitions[0].episode_id != transitions[2].episode_id


def test_a_worse_spike_inside_the_cooldown_pages() -> None:
    policy = LifecyclePolicy(resolve_after_hours=0, cooldown_hours=24)
    transitions = run([(0, 4.0), (2, 1.0), (5, 9.0)], policy)
    assert kinds(transitions) == [OPEN, RES, OPEN]
    assert transitions[2].severity is Severity.CRITICAL and transitions[2].suppressed is None


def test_escalation_can_be_switched_off() -> None:
    transitions = run(
        [(0, 4.0), (1, 8.0), (2, 1.0)], LifecyclePolicy(escalate=False, resolve_after_hours=0)
    )
    assert kinds(transitions) == [OPEN, RES]


# -- configuration ----------------------------------------------------------------------
def test_lifecycle_and_silences_from_the_config_file() -> None:
    config = load_config(
        "ticketspike.yaml",
        text="""
lifecycle:
  resolve_below: 2
  resolve_after_hours: 3
  cooldown_hours: 12
silences:
  - customer: acme
    end: 2026-03-05T00:00:00Z
    reason: planned migration
  - segment: smb
    start: 2026-03-01T00:00:00Z
    end: 2026-03-02T00:00:00Z
    kind: outage
  - global: true
    end: "2026-04-01T00:00:00+02:00"
""",
    )
    assert config.lifecycle == LifecyclePolicy(
        resolve_below=2.0, resolve_after_hours=3, cooldown_hours=12
    )
    acme, smb, everyone = config.silences
    assert acme.scope == "customer" and acme.target == "acme" and acme.start is None
    assert smb.kind == "outage" and smb.covers("x", "smb", datetime(2026, 3, 1, 5, tzinfo=UTC))
    assert not smb.covers("x", "smb", datetime(2026, 3, 2, 0, tzinfo=UTC))
    assert everyone.scope == "global" and everyone.covers("x", None, START)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("lifecycle:\n  resolve_below: -1\n", "ticketspike.yaml:2: lifecycle.resolve_below"),
        ("lifecycle:\n  cooldown: 3\n", "ticketspike.yaml:2: lifecycle.cooldown"),
        ("silences:\n  - customer: a\n", "ticketspike.yaml:2: silences[0]"),
        (
            "silences:\n  - customer: a\n    segment: b\n    end: 2026-01-01T00:00:00Z\n",
            "ticketspike.yaml:2: silences[0]",
        ),
        (
            "silences:\n  - customer: a\n    end: 2026-01-01T00:00:00\n",
            "ticketspike.yaml:3: silences[0].end",
        ),
        ("silences:\n  - customer: a\n    end: tomorrow\n", "ticketspike.yaml:3: silences[0].end"),
        (
            "silences:\n  - global: true\n    start: 2026-02-01T00:00:00Z\n"
            "    end: 2026-01-01T00:00:00Z\n",
            "ticketspike.yaml:4: silences[0].end",
        ),
        (
            "silences:\n  - customer: a\n    end: 2026-01-01T00:00:00Z\n    kind: party\n",
            "ticketspike.yaml:4: silences[0].kind",
        ),
        ("silences:\n  - 12\n", "ticketspike.yaml:2: silences[0]"),
    ],
)
def test_bad_lifecycle_config_names_file_line_and_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("ticketspike.yaml", text=text)
    assert str(info.value).startswith(where)
    assert "\n" not in str(info.value)
