"""People's acts, recorded silences and follow-up plans: the store contract on every store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest

from ticketspike.store import InteractionRecord, SilenceRecord, Store
from ticketspike.testing import sample_account, sample_plan, sample_transition

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store kind in turn (``any_store`` in tests/conftest.py)."""
    return any_store


def _act(key: str = "ep_1:acknowledge", **changes: object) -> InteractionRecord:
    base = InteractionRecord(
        key=key,
        episode_id="ep_1",
        customer_id="techcorp",
        kind="acknowledge",
        by="Mike <@U123>",
        at=T0,
        data={"note": "\u202eevil"},
    )
    return attrs.evolve(base, **changes)


def test_an_act_is_recorded_once_by_key(store: Store) -> None:
    assert store.record_interaction(_act()) is True
    assert store.record_interaction(_act(by="someone else")) is False
    [record] = store.interactions(episode_id="ep_1")
    assert record.by == "Mike <@U123>" and record.at == T0
    assert record.data == {"note": "\u202eevil"} and record.seq >= 1


def test_acts_filter_by_episode_and_customer_in_order(store: Store) -> None:
    store.record_interaction(_act("a"))
    store.record_interaction(_act("b", episode_id="ep_2", kind="resolve"))
    store.record_interaction(_act("c", episode_id=None, customer_id="other", kind="snooze"))
    assert [r.key for r in store.interactions()] == ["a", "b", "c"]
    assert [r.key for r in store.interactions(episode_id="ep_2")] == ["b"]
    assert [r.key for r in store.interactions(customer_id="other")] == ["c"]


def test_a_failed_transaction_keeps_no_act(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.record_interaction(_act())
        raise RuntimeError("boom")
    assert store.interactions() == []


def test_recorded_silences_by_time(store: Store) -> None:
    silence = SilenceRecord(
        key="s1", customer_id="techcorp", start=T0, end=T0 + timedelta(hours=4), by="mike"
    )
    assert store.add_silence(silence) is True
    assert store.add_silence(silence) is False
    assert store.recorded_silences() == [silence]
    assert store.recorded_silences(active_at=T0 + timedelta(hours=1)) == [silence]
    assert store.recorded_silences(active_at=T0 + timedelta(hours=4)) == []
    assert store.recorded_silences(active_at=T0 - timedelta(seconds=1)) == []


def test_a_follow_up_plan_is_recorded_once_under_its_own_id(store: Store) -> None:
    transition = sample_transition(episode_id="ep_1")
    plan = sample_plan(transition, sample_account())
    store.record_transition(transition, plan, at=T0)
    before = len(store.actions())
    chain = attrs.evolve(plan, actions=plan.actions[:1])
    chain = attrs.evolve(
        chain, actions=(attrs.evolve(chain.actions[0], key="ep_1:chain:remind_csm"),)
    )
    assert store.record_plan(chain, plan_id="ep_1:chain:remind_csm", at=T0) is True
    assert store.record_plan(chain, plan_id="ep_1:chain:remind_csm", at=T0) is False
    assert store.plan("ep_1:chain:remind_csm") is not None
    assert len(store.actions()) == before + 1
    assert store.action("ep_1:chain:remind_csm") is not None
