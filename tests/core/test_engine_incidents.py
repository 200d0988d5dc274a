"""Incidents through the engine (memory store, recording notifier): what each member's plan
holds, the seam other parts subscribe to, and the incident's resolution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from support import incident_stream as S
from ticketspike.config import load_config
from ticketspike.incidents import IncidentTransition
from ticketspike.model import Account, Person, ticket_event_from_json
from ticketspike.planner.plan import AdjustHealthScore, DirectMessage, DraftEmail, NotifyTeam
from ticketspike.testing import FixedClock, memory_engine


def accounts() -> list[Account]:
    return [
        Account(
            id=cid,
            name=f"Customer {cid}",
            arr=100_000,
            health_score=70,
            csm=Person(name=f"CSM {cid}", email=f"csm.{cid}@example.com"),
            champion=Person(name=f"Pat {cid}", email=f"pat@{cid}.example"),
        )
        for cid in S.CUSTOMERS
    ]


def run(config_text: str = "", **stream: bool) -> tuple[Any, Any, list[IncidentTransition]]:
    events = [ticket_event_from_json(r) for r in S.stream(**stream)]
    clock = FixedClock(max(e.at for e in events) + timedelta(minutes=1))
    config = load_config(text=config_text or "{}", env={})
    engine = memory_engine(config=config, clock=clock, accounts=accounts())
    seen: list[IncidentTransition] = []
    engine.incident_desk.listeners.append(seen.append)
    result = engine.ingest_many(events)
    return engine, result, seen


def test_member_plans_are_short_and_the_incident_plans_once() -> None:
    engine, result, seen = run()
    kinds = [s.kind for s in seen]
    assert kinds.count("incident_opened") == 1 and kinds.count("incident_joined") == 37
    incident = seen[0].incident
    members = {
        p.customer_id: p
        for p in result.plans
        if p.episode_id in incident.episode_ids or p.customer_id in S.AFFECTED
    }
    member_plans = [p for p in result.plans if p.episode_id.startswith("ep_")]
    by_customer = {p.customer_id: p for p in member_plans if p.transition.value == "opened"}
    assert set(S.AFFECTED) <= set(by_customer) and members
    for cid in S.AFFECTED:
        plan = by_customer[cid]
        dms = [a for a in plan.actions if isinstance(a, DirectMessage)]
        assert len(dms) == 1 and dms[0].step_id == "incident_dm"
        assert incident.incident_id in dms[0].message.lines[0]
        assert not [a for a in plan.actions if isinstance(a, NotifyTeam)]
        (health,) = [a for a in plan.actions if isinstance(a, AdjustHealthScore)]
        assert health.delta == -5.0
        for draft in (a for a in plan.actions if isinstance(a, DraftEmail)):
            assert "known issue" in draft.body
    for cid in S.UNRELATED:
        plan = by_customer[cid]
        (health,) = [a for a in plan.actions if isinstance(a, AdjustHealthScore)]
        assert health.delta == -15.0
    teams = [
        a.team
        for p in result.plans
        if p.episode_id == incident.incident_id
        for a in p.actions
        if isinstance(a, NotifyTeam)
    ]
    assert teams and len(teams) == len(set(teams))
    (record,) = engine.store.incidents()
    assert len(record.data["customer_ids"]) == 40


def test_the_health_rule_and_the_known_issue_sentence_are_configurable() -> None:
    _engine, result, seen = run(
        "incidents:\n  health_delta: -2\n"
        "  known_issue: 'Known: {{ incident_label }} at {{ incident_customers }} customers.'\n"
    )
    incident = seen[0].incident
    deltas = {
        a.delta
        for p in result.plans
        if p.episode_id in incident.episode_ids
        for a in p.actions
        if isinstance(a, AdjustHealthScore)
    }
    assert deltas == {-2.0}
    bodies = [
        a.body
        for p in result.plans
        if p.episode_id in incident.episode_ids
        for a in p.actions
        if isinstance(a, DraftEmail)
    ]
    assert bodies and all("Known: technical at " in b for b in bodies)


def test_a_bad_known_issue_template_fails_at_load() -> None:
    import pytest

    from ticketspike.errors import ConfigError

    with pytest.raises(ConfigError, match="known_issue"):
        load_config(text="incidents: {known_issue: '{{ nope }}'}", env={})


def test_incidents_off_escalates_every_customer_on_its_own() -> None:
    engine, result, seen = run("incidents: {enabled: false}")
    assert seen == [] and engine.store.incidents() == []
    opened = [p for p in result.plans if p.transition.value == "opened"]
    assert {p.customer_id for p in opened} >= set(S.AFFECTED)


def test_the_incident_resolves_when_its_members_have_and_members_skip_the_chain() -> None:
    engine, _result, seen = run()
    incident = seen[0].incident
    last = max(e for e in [incident.latest_spike])
    # No escalation-chain reminders for the incident's members.
    chained = engine.run_chain(last + timedelta(hours=3))
    assert not [p for p in chained if p.split(":")[0] in incident.episode_ids]
    engine.tick(last + timedelta(days=2))
    (record,) = engine.store.incidents()
    assert record.status == "resolved"
    assert [s.kind for s in seen][-1] == "incident_resolved"


def test_a_busy_monday_opens_no_incident_in_the_engine() -> None:
    engine, _result, seen = run(incident=False, busy_monday=True)
    assert seen == [] and engine.store.incidents() == []


def _one_ticket_per_call(affected: int, hold: str) -> Any:
    rows = S.stream(customers=30, affected=affected, days=12)
    events = [ticket_event_from_json(r) for r in rows]
    clock = FixedClock(max(e.at for e in events) + timedelta(minutes=1))
    config = load_config(text=f"incidents: {{hold_minutes: {hold}}}", env={})
    engine = memory_engine(config=config, clock=clock, accounts=accounts(), execute=False)
    planned_at: dict[str, Any] = {}  # plan id -> the ticket whose call recorded it
    for event in events:  # a live stream: one webhook, one call
        for plan in engine.ingest(event).plans:
            planned_at.setdefault(f"{plan.episode_id}:{plan.transition.value}", event.at)
    return engine, planned_at


def test_hold_minutes_keeps_a_live_streams_first_customers_out_of_their_own_alerts() -> None:
    engine, _planned = _one_ticket_per_call(8, "60")
    (incident,) = engine.store.incidents()
    members = set(incident.data["episode_ids"])
    keys = [a.key for a in engine.store.actions()]
    told = {k.split(":")[0] for k in keys if k.endswith(":opened:incident_dm")}
    alerted = {k.split(":")[0] for k in keys if k.endswith(":opened:notify_csm")}
    assert told == members and not alerted & members


def test_without_hold_minutes_a_live_stream_alerts_the_first_customers_on_their_own() -> None:
    engine, _planned = _one_ticket_per_call(8, "0")
    (incident,) = engine.store.incidents()
    members = set(incident.data["episode_ids"])
    keys = [a.key for a in engine.store.actions()]
    alerted = {k.split(":")[0] for k in keys if k.endswith(":opened:notify_csm")}
    assert 1 <= len(alerted & members) < 3  # the ones before the incident opened


def test_a_held_episode_no_incident_takes_is_escalated_after_the_hold() -> None:
    engine, planned_at = _one_ticket_per_call(1, "60")
    assert engine.store.incidents() == []
    (episode,) = [e for e in engine.store.episodes() if e.customer_id == "cust000"]
    released = planned_at[f"{episode.episode_id}:opened"]
    assert released >= episode.opened_at + timedelta(minutes=60)
    assert engine.store.action(f"{episode.episode_id}:opened:notify_csm") is not None


def test_the_stored_incident_follows_its_members_as_they_resolve() -> None:
    engine, _result, seen = run()
    incident_id = seen[0].incident.incident_id
    active = {e.episode_id for e in engine.store.episodes(active_only=True)}

    def stored_open() -> set[str]:
        (record,) = engine.store.incidents()
        assert record.incident_id == incident_id
        return set(record.data["open_episodes"])

    live = engine.incident_desk.correlator.incident_of(seen[0].episode_ids[0])
    assert live is not None
    assert stored_open() == set(live.open_episodes) == active & set(live.episode_ids)
    # A day on, some members have resolved and others not yet: the record says which.
    engine.tick(seen[-1].at + timedelta(hours=30))
    live = engine.incident_desk.correlator.incident_of(seen[0].episode_ids[0])
    assert live is not None
    active = {e.episode_id for e in engine.store.episodes(active_only=True)}
    assert stored_open() == set(live.open_episodes) == active & set(live.episode_ids)
