"""Acknowledge, snooze, resolve, war room and the escalation chain, through the engine."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketspike.engine import Engine
from ticketspike.errors import InputError
from ticketspike.model import TicketEvent
from ticketspike.planner.chain import ChainPolicy, chain_policy_from_section, due_steps
from ticketspike.planner.plan import DirectMessage, NotifyTeam
from ticketspike.signals import Severity
from ticketspike.testing import (
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    memory_engine,
    sample_account,
    ticket_event,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPIKE_DAY = START + timedelta(days=40)


def _history(customer: str = "techcorp") -> list[TicketEvent]:
    return [
        ticket_event(
            f"{customer}-H{day}-{k}",
            customer,
            START + timedelta(days=day, hours=9 + 4 * k),
            subject="How do I export reports",
            category="training",
        )
        for day in range(40)
        for k in range(2)
    ]


def _spike(customer: str = "techcorp", n: int = 15) -> list[TicketEvent]:
    return [
        ticket_event(
            f"{customer}-S{i}",
            customer,
            SPIKE_DAY + timedelta(minutes=20 * i),
            subject="API returning 500 errors <!channel>",
            priority="P1" if i < 3 else "P2",
        )
        for i in range(n)
    ]


def _engine(notifier: RecordingNotifier, clock: FixedClock) -> Engine:
    return memory_engine(
        StaticPlugin(notifiers=[notifier]), accounts=[sample_account()], clock=clock
    )


def _opened(notifier: RecordingNotifier) -> tuple[Engine, FixedClock, str]:
    clock = FixedClock(SPIKE_DAY + timedelta(hours=5))
    engine = _engine(notifier, clock)
    engine.ingest_many(_history() + _spike())
    [episode] = engine.store.episodes(active_only=True)
    return engine, clock, episode.episode_id


def _chain_keys(notifier: RecordingNotifier) -> list[str]:
    return [k for k in notifier.keys() if ":chain:" in k]


# -- acknowledge -----------------------------------------------------------------------
def test_acknowledge_records_who_and_when_once() -> None:
    engine, clock, episode = _opened(RecordingNotifier())
    first = engine.acknowledge(episode, by="Mike Johnson")
    clock.advance(minutes=5)
    again = engine.acknowledge(episode, by="Sarah Chen")
    assert again == first and first.by == "Mike Johnson"
    acts = [h for h in engine.episode_history(episode) if h["type"] == "act"]
    assert [a["what"] for a in acts] == ["acknowledge"]
    [view] = [engine.episode_view(e) for e in engine.store.episodes()]
    assert view["acknowledged_by"] == "Mike Johnson"


def test_unknown_episode_and_nameless_actor_are_clear_errors() -> None:
    engine, _clock, episode = _opened(RecordingNotifier())
    with pytest.raises(InputError, match="no episode 'nope'"):
        engine.acknowledge("nope", by="mike")
    with pytest.raises(InputError, match="named"):
        engine.acknowledge(episode, by="   ")
    assert engine.store.interactions() == []


# -- resolve -----------------------------------------------------------------------------
def test_resolve_closes_the_episode_now_and_tells_the_thread_once() -> None:
    notifier = RecordingNotifier()
    engine, _clock, episode = _opened(notifier)
    record = engine.resolve_episode(episode, by="Mike Johnson")
    assert record.outcome == "done"
    stored = engine.store.episode(episode)
    assert stored is not None and stored.status == "resolved"
    resolved_keys = [k for k in notifier.keys() if ":resolved:" in k]
    assert resolved_keys
    again = engine.resolve_episode(episode, by="Mike Johnson")
    assert again == record
    assert [k for k in notifier.keys() if ":resolved:" in k] == resolved_keys
    whats = [h["what"] for h in engine.episode_history(episode)]
    assert "resolved" in whats and "resolve" in whats
    # The detector agrees: a new ticket does not reopen or re-resolve the old episode.
    assert engine.monitor.episode("techcorp").episode is None


# -- snooze ---------------------------------------------------------------------------------
def test_snooze_is_a_recorded_silence_that_suppresses_transitions() -> None:
    notifier = RecordingNotifier()
    clock = FixedClock(SPIKE_DAY - timedelta(hours=1))
    engine = _engine(notifier, clock)
    engine.ingest_many(_history())
    until = SPIKE_DAY + timedelta(days=1)
    record = engine.snooze("techcorp", until=until, by="Mike Johnson")
    assert engine.snooze("techcorp", until=until, by="Mike Johnson") == record
    [silence] = engine.store.recorded_silences()
    assert silence.end == until and silence.by == "Mike Johnson"
    engine.ingest_many(_spike())
    [episode] = engine.store.episodes()
    assert episode.suppressed is not None and "snoozed by Mike Johnson" in episode.suppressed
    assert notifier.delivered == []


def test_snooze_refuses_the_past_naive_and_far_future() -> None:
    engine, clock, _episode = _opened(RecordingNotifier())
    now = clock()
    with pytest.raises(InputError, match="future"):
        engine.snooze("techcorp", until=now - timedelta(minutes=1), by="mike")
    with pytest.raises(InputError, match="UTC offset"):
        engine.snooze("techcorp", until=datetime(2030, 1, 1), by="mike")
    with pytest.raises(InputError, match="30 days"):
        engine.snooze("techcorp", until=now + timedelta(days=31), by="mike")
    assert engine.store.recorded_silences() == []


# -- war room -------------------------------------------------------------------------------
def test_war_room_is_recorded_once() -> None:
    engine, _clock, episode = _opened(RecordingNotifier())
    room = engine.record_war_room(episode, channel="C1", name="spike-techcorp", by="mike")
    other = engine.record_war_room(episode, channel="C2", name="other", by="sarah")
    assert other == room and engine.war_room(episode) == room
    assert room.data["channel"] == "C1"


# -- the chain through the engine's tick ---------------------------------------------------------
def test_unacknowledged_critical_spike_reminds_then_reaches_the_manager() -> None:
    notifier = RecordingNotifier()
    engine, clock, episode = _opened(notifier)
    stored = engine.store.episode(episode)
    assert stored is not None and stored.severity == "critical"
    opened = stored.opened_at
    engine.tick(opened + timedelta(minutes=29))
    assert _chain_keys(notifier) == []
    engine.tick(opened + timedelta(minutes=30))
    assert _chain_keys(notifier) == [f"{episode}:chain:remind_csm"]
    [remind] = [d.action for d in notifier.delivered if ":chain:" in d.action.key]
    assert isinstance(remind, DirectMessage) and remind.recipient.role == "csm"
    engine.tick(opened + timedelta(minutes=45))
    engine.tick(opened + timedelta(minutes=60))
    engine.tick(opened + timedelta(minutes=61))
    assert _chain_keys(notifier) == [
        f"{episode}:chain:remind_csm",
        f"{episode}:chain:notify_manager",
        f"{episode}:chain:notify_support_lead",
    ]
    chain = [d.action for d in notifier.delivered if ":chain:" in d.action.key]
    assert isinstance(chain[1], DirectMessage) and chain[1].recipient.role == "manager"
    assert chain[1].recipient.person is not None
    assert chain[1].recipient.person.name == "Sarah Chen"
    assert isinstance(chain[2], NotifyTeam) and chain[2].team == "support_lead"


def test_an_acknowledged_spike_stops_at_the_reminder() -> None:
    notifier = RecordingNotifier()
    engine, _clock, episode = _opened(notifier)
    stored = engine.store.episode(episode)
    assert stored is not None
    engine.tick(stored.opened_at + timedelta(minutes=31))
    engine.acknowledge(episode, by="Mike Johnson")
    engine.tick(stored.opened_at + timedelta(minutes=90))
    assert _chain_keys(notifier) == [f"{episode}:chain:remind_csm"]


def test_chain_timeouts_come_from_the_config() -> None:
    policy = chain_policy_from_section({"ack_timeout_minutes": 20, "per_severity": {"critical": 5}})
    assert policy.timeout(Severity.CRITICAL) == timedelta(minutes=5)
    assert policy.timeout(Severity.HIGH) == timedelta(minutes=20)
    for bad in ({"ack_timeout_minutes": float("nan")}, {"per_severity": {"low": 1}}, {"x": 1}):
        with pytest.raises(ValueError):
            chain_policy_from_section(bad)


# -- the pure chain ------------------------------------------------------------------------------
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)


def test_due_steps_at_explicit_times() -> None:
    policy = ChainPolicy()
    kw = {"severity": Severity.CRITICAL, "opened_at": T0, "acknowledged": False, "resolved": False}
    assert due_steps(policy, now=T0 + timedelta(minutes=29, seconds=59), **kw) == ()  # type: ignore[arg-type]
    assert due_steps(policy, now=T0 + timedelta(minutes=30), **kw) == ("remind_csm",)  # type: ignore[arg-type]
    assert due_steps(policy, now=T0 + timedelta(minutes=60), **kw) == (  # type: ignore[arg-type]
        "remind_csm",
        "notify_manager",
        "notify_support_lead",
    )
    high = {**kw, "severity": Severity.HIGH}
    assert due_steps(policy, now=T0 + timedelta(hours=3), **high) == (  # type: ignore[arg-type]
        "remind_csm",
        "notify_manager",
    )
    snoozed = {**kw, "snoozed_until": T0 + timedelta(hours=4)}
    assert due_steps(policy, now=T0 + timedelta(hours=3), **snoozed) == ()  # type: ignore[arg-type]
    assert due_steps(policy, now=T0 + timedelta(hours=4, minutes=30), **snoozed) == (  # type: ignore[arg-type]
        "remind_csm",
    )


@given(
    minutes=st.integers(min_value=0, max_value=24 * 60),
    timeout=st.integers(min_value=1, max_value=240),
    critical=st.booleans(),
    acknowledged=st.booleans(),
    resolved=st.booleans(),
)
def test_due_steps_properties(
    minutes: int, timeout: int, critical: bool, acknowledged: bool, resolved: bool
) -> None:
    policy = ChainPolicy(ack_timeout=timedelta(minutes=timeout))
    severity = Severity.CRITICAL if critical else Severity.HIGH
    now = T0 + timedelta(minutes=minutes)
    steps = due_steps(
        policy,
        severity=severity,
        opened_at=T0,
        now=now,
        acknowledged=acknowledged,
        resolved=resolved,
    )
    if acknowledged or resolved:
        assert steps == ()
        return
    # Monotone: what is due now stays due later, and the order never changes.
    later = due_steps(
        policy,
        severity=severity,
        opened_at=T0,
        now=now + timedelta(minutes=1),
        acknowledged=False,
        resolved=False,
    )
    assert later[: len(steps)] == steps
    assert ("remind_csm" in steps) == (minutes >= timeout)
    assert ("notify_manager" in steps) == (minutes >= 2 * timeout)
    assert ("notify_support_lead" in steps) == (critical and minutes >= 2 * timeout)
