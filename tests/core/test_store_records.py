"""Escalation records and the outbound log in every store: made once, changed by version."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs

from ticketspike.events import emit, event_id_for
from ticketspike.store.outbound import DeliveryRecord, EndpointState
from ticketspike.store.records import (
    HealthAdjustment,
    TaskRecord,
    TaskStatus,
    WarRoomEntry,
    record_id_for,
)

AT = datetime(2026, 2, 20, 5, 21, tzinfo=timezone.utc)


def _task(key: str = "ep_1:opened:create_task", customer: str = "techcorp") -> TaskRecord:
    return TaskRecord(
        id=record_id_for("task", key),
        action_key=key,
        episode_id=key.split(":")[0],
        customer_id=customer,
        title="URGENT: Support spike",
        priority="high",
        due_at=AT + timedelta(hours=4),
        assignee="Mike Johnson",
        assignee_role="csm",
        created_at=AT,
    )


def test_a_task_is_made_once_by_its_key_and_listed_with_filters(any_store) -> None:
    task = _task()
    assert any_store.add_record(task) is True
    assert any_store.add_record(attrs.evolve(task, title="again")) is False
    other = _task("ep_2:opened:create_task", customer="globex")
    any_store.add_record(other)
    assert any_store.get_record(TaskRecord, task.id) == task
    assert [t.id for t in any_store.list_records(TaskRecord)] == [task.id, other.id]
    assert [t.id for t in any_store.list_records(TaskRecord, customer_id="globex")] == [other.id]
    assert any_store.list_records(TaskRecord, status="done") == []


def test_a_change_wins_only_on_the_version_it_read(any_store) -> None:
    task = _task()
    any_store.add_record(task)
    done = attrs.evolve(task, status=TaskStatus.DONE, closed_by="mike", version=1)
    assert any_store.replace_record(done, version=0) is True
    late = attrs.evolve(task, status=TaskStatus.CANCELLED, version=1)
    assert any_store.replace_record(late, version=0) is False
    assert any_store.get_record(TaskRecord, task.id).status is TaskStatus.DONE
    assert [t.id for t in any_store.list_records(TaskRecord, status="done")] == [task.id]


def test_a_failed_transaction_leaves_no_record_and_no_event(any_store) -> None:
    try:
        with any_store.transaction():
            any_store.add_record(_task())
            emit(any_store, "task.created", {"id": "x"}, key="x", at=AT)
            raise RuntimeError("crash between the change and the commit")
    except RuntimeError:
        pass
    assert any_store.list_records(TaskRecord) == []
    assert any_store.outbound_events() == []


def test_the_health_ledger_keeps_every_adjustment_in_time_order(any_store) -> None:
    later = HealthAdjustment(
        id="hs_b", customer_id="techcorp", delta=7.5, reason="resolved", at=AT + timedelta(days=1)
    )
    first = HealthAdjustment(
        id="hs_a", customer_id="techcorp", delta=-15, reason="spike", at=AT, episode_id="ep_1"
    )
    any_store.add_record(later)
    any_store.add_record(first)
    assert any_store.add_record(first) is False
    assert [a.id for a in any_store.list_records(HealthAdjustment, customer_id="techcorp")] == [
        "hs_a",
        "hs_b",
    ]


def test_an_event_is_logged_once_per_change_and_read_in_order(any_store) -> None:
    one = emit(any_store, "task.created", {"id": "t1"}, key="t1:0", at=AT)
    assert one is not None and one.id == event_id_for("task.created", "t1:0")
    assert emit(any_store, "task.created", {"id": "t1"}, key="t1:0", at=AT) is None
    two = emit(any_store, "task.updated", {"id": "t1"}, key="t1:1", at=AT)
    assert two is not None
    events = any_store.outbound_events()
    assert [e.id for e in events] == [one.id, two.id]
    assert events[0].seq < events[1].seq == any_store.last_outbound_seq()
    assert any_store.outbound_events(after_seq=events[0].seq) == [events[1]]
    assert events[0].body() == {
        "type": "task.created",
        "timestamp": AT.isoformat(),
        "data": {"id": "t1"},
    }


def test_one_delivery_per_event_and_endpoint(any_store) -> None:
    state = EndpointState(endpoint_id="ep_a", url="http://127.0.0.1/x")
    assert any_store.add_endpoint(state) is True
    assert any_store.add_endpoint(attrs.evolve(state, cursor=9)) is False
    record = DeliveryRecord(
        event_id="msg_1",
        endpoint_id="ep_a",
        event_seq=1,
        type="task.created",
        created_at=AT,
        next_ts=AT.timestamp(),
    )
    assert any_store.add_delivery(record) is True
    assert any_store.add_delivery(record) is False
    assert any_store.deliveries(due_ts=AT.timestamp()) == [record]
    any_store.put_delivery(attrs.evolve(record, status="delivered", next_ts=None, attempts=1))
    assert any_store.deliveries(due_ts=AT.timestamp()) == []
    assert any_store.deliveries(endpoint_id="ep_a")[0].status == "delivered"


def test_forgetting_an_episode_drops_its_records(any_store) -> None:
    any_store.add_record(_task())
    any_store.add_record(
        WarRoomEntry(
            id="wr_1",
            action_key="k",
            episode_id="ep_1",
            customer_id="techcorp",
            war_room="q1",
            summary="s",
            created_at=AT,
        )
    )
    any_store.add_record(_task("ep_2:opened:create_task"))
    any_store.forget_episodes(["ep_1"])
    assert [t.episode_id for t in any_store.list_records(TaskRecord)] == ["ep_2"]
    assert any_store.list_records(WarRoomEntry) == []
