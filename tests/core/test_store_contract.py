"""The store contract, checked against every store (memory, SQLite file, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.model import Category, EventKind, Priority
from ticketspike.planner.plan import EscalationPlan
from ticketspike.signals import Transition, TransitionKind
from ticketspike.store import ActionStatus, MemoryStore, PutOutcome, SQLiteStore, Store
from ticketspike.testing import sample_account, sample_plan, sample_transition, ticket_event

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store kind in turn (``any_store`` in tests/conftest.py)."""
    return any_store


def _plan(
    episode: str = "ep_1", kind: TransitionKind = TransitionKind.OPENED
) -> tuple[Transition, EscalationPlan]:
    transition = sample_transition(kind, episode_id=episode)
    return transition, sample_plan(transition, sample_account())


# -- tickets -----------------------------------------------------------------------------
def test_same_ticket_twice_is_stored_once(store: Store) -> None:
    event = ticket_event("T1", at=T0, subject="API down")
    assert store.put_ticket(event, at=T0) is PutOutcome.NEW
    assert store.put_ticket(event, at=T0) is PutOutcome.DUPLICATE
    assert store.ticket_count() == 1
    record = store.get_ticket("api", "T1")
    assert record is not None and record.ticket == event.ticket


def test_same_id_from_another_source_is_another_ticket(store: Store) -> None:
    store.put_ticket(ticket_event("T1", at=T0, source="zendesk"), at=T0)
    assert store.put_ticket(ticket_event("T1", at=T0, source="intercom"), at=T0) is PutOutcome.NEW
    assert store.ticket_count() == 2


def test_update_changes_priority_and_category_never_the_count(store: Store) -> None:
    store.put_ticket(ticket_event("T1", at=T0, priority="P3", category="billing"), at=T0)
    update = ticket_event("T1", at=T0, priority="P1", category="technical", kind=EventKind.UPDATED)
    assert store.put_ticket(update, at=T0 + timedelta(hours=1)) is PutOutcome.UPDATED
    record = store.get_ticket("api", "T1")
    assert record is not None
    assert (record.ticket.priority, record.ticket.category) == (Priority.P1, Category.TECHNICAL)
    assert record.received_at == T0 and record.updated_at == T0 + timedelta(hours=1)
    assert store.ticket_count() == 1


def test_redelivered_created_event_changes_nothing(store: Store) -> None:
    store.put_ticket(ticket_event("T1", at=T0, priority="P3"), at=T0)
    again = ticket_event("T1", at=T0, priority="P1")
    assert store.put_ticket(again, at=T0) is PutOutcome.DUPLICATE
    record = store.get_ticket("api", "T1")
    assert record is not None and record.ticket.priority is Priority.P3


def test_update_without_a_real_category_keeps_the_classified_one(store: Store) -> None:
    store.put_ticket(ticket_event("T1", at=T0, category="other"), at=T0)
    store.set_category("api", "T1", Category.BILLING)
    bare = ticket_event("T1", at=T0, category="other", priority="P2", kind=EventKind.UPDATED)
    store.put_ticket(bare, at=T0)
    record = store.get_ticket("api", "T1")
    assert record is not None
    assert (record.ticket.category, record.ticket.priority) == (Category.BILLING, Priority.P2)


def test_resolved_event_marks_the_ticket_resolved(store: Store) -> None:
    store.put_ticket(ticket_event("T1", at=T0), at=T0)
    resolved = ticket_event("T1", at=T0, kind=EventKind.RESOLVED)
    assert store.put_ticket(resolved, at=T0) is PutOutcome.UPDATED
    record = store.get_ticket("api", "T1")
    assert record is not None and record.status == "resolved"
    assert store.put_ticket(resolved, at=T0) is PutOutcome.DUPLICATE


def test_tickets_query_by_customer_window_and_internal(store: Store) -> None:
    for i in range(5):
        store.put_ticket(ticket_event(f"A{i}", "acme", T0 + timedelta(hours=i)), at=T0)
    store.put_ticket(ticket_event("B0", "beta", T0), at=T0)
    store.put_ticket(ticket_event("A9", "acme", T0 + timedelta(hours=2), internal=True), at=T0)
    window = store.tickets(
        customer_id="acme",
        since=T0 + timedelta(hours=1),
        until=T0 + timedelta(hours=3),
        include_internal=False,
    )
    # since is exclusive, until inclusive: hours 2 and 3.
    assert [r.ticket.ticket_id for r in window] == ["A2", "A3"]
    everything = store.tickets(customer_id="acme")
    assert [r.ticket.ticket_id for r in everything][:3] == ["A0", "A1", "A2"]
    assert len(everything) == 6


# -- inbox and deliveries -------------------------------------------------------------------
def test_inbox_keeps_order_and_forgets_processed_events(store: Store) -> None:
    events = [ticket_event(f"T{i}", at=T0 + timedelta(minutes=i)) for i in range(3)]
    store.enqueue([(e, PutOutcome.NEW) for e in events], received_at=T0)
    pending = store.pending_events(limit=10)
    assert [e.ticket.ticket_id for _s, e, _o in pending] == ["T0", "T1", "T2"]
    assert all(o is PutOutcome.NEW for _s, _e, o in pending)
    store.mark_processed([pending[0][0]])
    assert store.pending_event_count() == 2
    assert [e.ticket.ticket_id for _s, e, _o in store.pending_events(limit=1)] == ["T1"]


def test_delivery_ids_are_refused_within_their_ttl_only(store: Store) -> None:
    assert store.remember_delivery("zendesk", "d1", at=T0, ttl_seconds=60)
    assert not store.remember_delivery(
        "zendesk", "d1", at=T0 + timedelta(seconds=30), ttl_seconds=60
    )
    assert store.remember_delivery("intercom", "d1", at=T0, ttl_seconds=60)
    assert store.remember_delivery("zendesk", "d1", at=T0 + timedelta(seconds=61), ttl_seconds=60)


# -- detector state -------------------------------------------------------------------------
def test_state_versions_count_up(store: Store) -> None:
    assert store.state_version("acme") == 0 and store.load_state("acme") is None
    assert store.save_state("acme", {"n": 1}, at=T0) == 1
    assert store.save_state("acme", {"n": 2}, at=T0) == 2
    assert store.load_state("acme") == (2, {"n": 2})
    assert store.state_customers() == ["acme"]


def test_a_state_reads_back_as_saved_whatever_it_holds(store: Store) -> None:
    """Whichever JSON encoder a store uses (orjson on PostgreSQL where installed), a state
    with text outside ASCII, an integer past 64 bits and nested lists reads back equal."""
    state = {"name": "Zoë 東京", "big": 2**70, "rows": [[1, 2.5, None, True, "x"]], "e": {}}
    store.save_state("acme", state, at=T0)
    assert store.load_state("acme") == (1, state)
    changed = {**state, "name": "Zoe"}
    assert store.save_state("acme", changed, at=T0) == 2
    assert store.load_state("acme") == (2, changed)


def test_several_state_versions_are_read_at_once(store: Store) -> None:
    store.save_state("acme", {"n": 1}, at=T0)
    store.save_state("acme", {"n": 2}, at=T0)
    store.save_state("globex", {"n": 1}, at=T0)
    expected = {"acme": 2, "globex": 1, "initech": 0}
    assert store.state_versions(["acme", "globex", "initech"]) == expected
    with store.transaction():
        assert store.state_versions(["initech", "acme", "acme"]) == {"initech": 0, "acme": 2}
    assert store.state_versions([]) == {}


# -- transitions, plans, actions --------------------------------------------------------------
def test_a_transition_is_recorded_once_with_its_pending_actions(store: Store) -> None:
    transition, plan = _plan()
    assert store.record_transition(transition, plan, at=T0)
    assert not store.record_transition(transition, plan, at=T0)
    assert len(store.transitions()) == 1
    assert [p.plan for p in store.plans()] == [plan]
    records = store.actions()
    assert [r.key for r in records] == [a.key for a in plan.actions]
    assert {r.status for r in records} == {ActionStatus.PENDING}
    episode = store.episode("ep_1")
    assert episode is not None and episode.status == "active"
    assert store.active_episode("techcorp") == episode


def test_resolution_closes_the_episode(store: Store) -> None:
    opened, plan = _plan()
    store.record_transition(opened, plan, at=T0)
    resolved = sample_transition(
        TransitionKind.RESOLVED, episode_id="ep_1", at=T0 + timedelta(hours=8)
    )
    assert store.record_transition(resolved, None, at=T0)
    episode = store.episode("ep_1")
    assert episode is not None
    assert (episode.status, episode.resolved_at) == ("resolved", T0 + timedelta(hours=8))
    assert store.episodes(active_only=True) == []
    assert [t.kind for t in store.transitions(episode_id="ep_1")] == ["opened", "resolved"]


def test_claim_is_exclusive_and_done_is_final(store: Store) -> None:
    transition, plan = _plan()
    store.record_transition(transition, plan, at=T0)
    key = plan.actions[0].key
    claimed = store.claim_action(key, owner="a", lease_until=1e12, at=T0)
    assert claimed is not None and claimed.status is ActionStatus.RUNNING
    assert store.claim_action(key, owner="b", lease_until=1e12, at=T0) is None
    number = store.start_attempt(key, owner="a", handler="console", at=T0)
    store.finish_attempt(key, number, outcome="done", error=None, at=T0)
    assert store.complete_action(
        key, owner="a", handler="console", ref={"ts": "1"}, summary="sent", at=T0
    )
    record = store.action(key)
    assert record is not None
    assert (record.status, record.attempts, dict(record.ref)) == (ActionStatus.DONE, 1, {"ts": "1"})
    assert store.claim_action(key, owner="b", lease_until=1e12, at=T0) is None
    assert not store.fail_action(key, owner=None, handler=None, error="late", at=T0)
    assert store.reset_failed(at=T0) == 0
    [entry] = store.outbox()
    assert (entry.key, entry.summary, entry.handler) == (key, "sent", "console")
    assert entry.action["kind"] == plan.actions[0].kind


def test_only_the_owner_completes_a_claim(store: Store) -> None:
    transition, plan = _plan()
    store.record_transition(transition, plan, at=T0)
    key = plan.actions[0].key
    store.claim_action(key, owner="a", lease_until=1e12, at=T0)
    assert not store.complete_action(key, owner="b", handler="x", ref={}, summary="", at=T0)
    assert store.outbox() == []


def test_failed_actions_are_visible_and_resettable(store: Store) -> None:
    transition, plan = _plan()
    store.record_transition(transition, plan, at=T0)
    key = plan.actions[1].key
    store.claim_action(key, owner="a", lease_until=1e12, at=T0)
    assert store.fail_action(key, owner="a", handler="slack", error="channel_not_found", at=T0)
    [failed] = store.actions(status=ActionStatus.FAILED)
    assert (failed.key, failed.error, failed.handler) == (key, "channel_not_found", "slack")
    assert store.reset_failed(at=T0) == 1
    record = store.action(key)
    assert record is not None and record.status is ActionStatus.PENDING


def test_released_action_goes_back_to_pending(store: Store) -> None:
    transition, plan = _plan()
    store.record_transition(transition, plan, at=T0)
    key = plan.actions[0].key
    store.claim_action(key, owner="a", lease_until=1e12, at=T0)
    assert [r.key for r in store.running_actions()] == [key]
    assert not store.release_action(key, owner="b", at=T0)
    assert store.release_action(key, owner="a", at=T0)
    assert store.running_actions() == []
    assert store.claim_action(key, owner="b", lease_until=1e12, at=T0) is not None


def test_attempts_are_all_recorded(store: Store) -> None:
    transition, plan = _plan()
    store.record_transition(transition, plan, at=T0)
    key = plan.actions[0].key
    store.claim_action(key, owner="a", lease_until=1e12, at=T0)
    for outcome in ("transient", "transient", "done"):
        n = store.start_attempt(key, owner="a", handler="slack", at=T0)
        store.finish_attempt(key, n, outcome=outcome, error=None, at=T0)
    attempts = store.attempts(key)
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, "transient"),
        (2, "transient"),
        (3, "done"),
    ]


def test_cursors(store: Store) -> None:
    assert store.get_cursor("backfill:x") is None
    store.set_cursor("backfill:x", "abc", at=T0)
    store.set_cursor("backfill:x", "def", at=T0)
    assert store.get_cursor("backfill:x") == "def"


# -- transactions ------------------------------------------------------------------------------
def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    transition, plan = _plan()
    with pytest.raises(RuntimeError), store.transaction():
        store.put_ticket(ticket_event("T1", at=T0), at=T0)
        store.record_transition(transition, plan, at=T0)
        store.save_state("techcorp", {"n": 1}, at=T0)
        store.set_cursor("c", "1", at=T0)
        raise RuntimeError("crash half-way")
    assert store.ticket_count() == 0 and store.tickets(customer_id="techcorp") == []
    assert store.transitions() == [] and store.plans() == [] and store.actions() == []
    assert store.state_version("techcorp") == 0 and store.get_cursor("c") is None
    # ... and the store still works afterwards.
    assert store.record_transition(transition, plan, at=T0)


def test_a_failed_completion_writes_no_outbox_entry(store: Store) -> None:
    transition, plan = _plan()
    store.record_transition(transition, plan, at=T0)
    key = plan.actions[0].key
    store.claim_action(key, owner="a", lease_until=1e12, at=T0)
    with pytest.raises(RuntimeError), store.transaction():
        store.complete_action(key, owner="a", handler="h", ref={}, summary="", at=T0)
        raise RuntimeError("crash")
    record = store.action(key)
    assert record is not None and record.status is ActionStatus.RUNNING
    assert store.outbox() == []


# -- a property: redelivery in any order counts each ticket once ---------------------------------
ids = st.sampled_from([f"T{i}" for i in range(6)])
kinds = st.sampled_from(list(EventKind))
prios = st.sampled_from(list(Priority))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deliveries=st.lists(st.tuples(ids, kinds, prios), min_size=1, max_size=30))
def test_any_delivery_sequence_stores_each_ticket_once(
    deliveries: list[tuple[str, EventKind, Priority]],
) -> None:
    made = MemoryStore()
    new = 0
    for ticket_id, kind, prio in deliveries:
        event = ticket_event(ticket_id, at=T0, priority=prio, kind=kind)
        if made.put_ticket(event, at=T0) is PutOutcome.NEW:
            new += 1
    distinct = {d[0] for d in deliveries}
    assert new == len(distinct) == made.ticket_count()
    for ticket_id in distinct:
        mine = [d for d in deliveries if d[0] == ticket_id]
        record = made.get_ticket("api", ticket_id)
        assert record is not None
        # The priority is the first delivery's, or the last update's after it (all at one
        # instant, so none is stale; a resolution changes the status only).
        changes = [p for _i, k, p in mine[1:] if k is EventKind.UPDATED]
        assert record.ticket.priority == (changes[-1] if changes else mine[0][2])
        resolved = any(k is EventKind.RESOLVED for _i, k, _p in mine)
        assert record.status == ("resolved" if resolved else "open")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deliveries=st.lists(st.tuples(ids, kinds, prios), min_size=1, max_size=20))
def test_memory_and_sqlite_agree(
    tmp_path_factory: pytest.TempPathFactory, deliveries: list[tuple[str, EventKind, Priority]]
) -> None:
    memory = MemoryStore()
    sqlite = SQLiteStore(tmp_path_factory.mktemp("agree") / "s.db")
    try:
        for ticket_id, kind, prio in deliveries:
            event = ticket_event(ticket_id, at=T0, priority=prio, kind=kind)
            assert memory.put_ticket(event, at=T0) is sqlite.put_ticket(event, at=T0)
        assert [attrs.asdict(r) for r in memory.tickets()] == [
            attrs.asdict(r) for r in sqlite.tickets()
        ]
    finally:
        sqlite.close()
