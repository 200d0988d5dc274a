"""The engine keeps the records a plan's actions leave, once, and reports each change once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from ticketspike.config import load_config
from ticketspike.errors import ConfigError, InputError, RecordNotFound
from ticketspike.model import Category, Priority, Ticket, TicketEvent
from ticketspike.store.records import HealthAdjustment, TaskRecord
from ticketspike.testing import FixedClock, memory_engine, sample_account

START = datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc)


def _spike(engine, customer: str = "techcorp") -> None:
    events = []
    for day in range(20):
        at = START + timedelta(days=day, hours=1)
        events.append(_ticket(f"base-{day}", customer, at))
    burst = START + timedelta(days=21)
    for n in range(14):
        events.append(_ticket(f"spike-{n}", customer, burst + timedelta(minutes=20 * n)))
    engine.clock.at = burst + timedelta(hours=6)
    engine.ingest_many(events)


def _ticket(ticket_id: str, customer: str, at: datetime) -> TicketEvent:
    return TicketEvent(
        ticket=Ticket(
            ticket_id=ticket_id,
            customer_id=customer,
            category=Category.TECHNICAL,
            priority=Priority.P1,
            subject="API errors on checkout",
            created_at=at,
        )
    )


@pytest.fixture
def engine():
    made = memory_engine(
        accounts=[sample_account()], clock=FixedClock(START), config=load_config(text="{}", env={})
    )
    yield made
    made.close()


def test_the_plan_leaves_one_task_and_one_ledger_entry_and_reports_them(engine) -> None:
    _spike(engine)
    (task,) = engine.tasks()
    assert task.status.value == "open" and task.customer_id == "techcorp"
    view = engine.health("techcorp")
    assert view.base == sample_account().health_score
    assert [a.delta for a in view.adjustments] == [-15.0]
    # Running the executor again (a restart) makes nothing twice.
    engine.run_pending()
    assert len(engine.store.list_records(TaskRecord)) == 1
    assert len(engine.store.list_records(HealthAdjustment)) == 1
    types = Counter(e.type for e in engine.store.outbound_events())
    assert types["task.created"] == 1 and types["health_score.adjusted"] == 1
    assert types["escalation.opened"] == 1


def test_an_acknowledgement_is_reported_once_however_often_clicked(engine) -> None:
    _spike(engine)
    (episode,) = engine.store.episodes()
    engine.acknowledge(episode.episode_id, by="Mike")
    engine.acknowledge(episode.episode_id, by="Sarah")
    acks = [e for e in engine.store.outbound_events() if e.type == "escalation.acknowledged"]
    assert [e.data["by"] for e in acks] == ["Mike"]


def test_task_changes_name_who_and_refuse_bad_input(engine) -> None:
    _spike(engine)
    (task,) = engine.tasks()
    done = engine.update_task(task.id, status="done", by="  Mike   Johnson ")
    assert (done.status.value, done.closed_by, done.version) == ("done", "Mike Johnson", 1)
    assert engine.update_task(task.id, status="done", by="again") == done
    with pytest.raises(RecordNotFound):
        engine.update_task("task_missing", status="done", by="Mike")
    with pytest.raises(InputError, match="status: expected one of"):
        engine.update_task(task.id, status="finished", by="Mike")
    with pytest.raises(InputError, match="must be named"):
        engine.update_task(task.id, status="open", by="   ")
    assert engine.tasks(status="done") == [done]


def test_history_retention_drops_only_old_resolved_escalations() -> None:
    engine = memory_engine(
        accounts=[sample_account()],
        clock=FixedClock(START),
        config=load_config(text="records:\n  history_retention_days: 30\n", env={}),
    )
    _spike(engine)
    (episode,) = engine.store.episodes()
    assert engine.forget_history() == 0  # still active
    engine.resolve_episode(episode.episode_id, by="Mike")
    engine.clock.at += timedelta(days=10)
    assert engine.forget_history() == 0  # resolved, but recent
    engine.clock.at += timedelta(days=31)
    assert engine.forget_history() == 1
    assert engine.store.episodes() == [] and engine.tasks() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("records:\n  health_restore_on_resolve: 2\n", "expected a number <= 1"),
        (
            "webhooks:\n  endpoints:\n    - url: ftp://x\n      secret_env: S\n",
            "http:// or https://",
        ),
        (
            "webhooks:\n  endpoints:\n    - url: http://h/x\n      secret_env: NOPE\n",
            "NOPE is not set",
        ),
        (
            "webhooks:\n  endpoints:\n    - url: http://h/x\n      secret_env: S\n"
            "      events: [task.closed]\n",
            "unknown event 'task.closed'",
        ),
    ],
)
def test_bad_records_and_webhooks_sections_are_one_line_errors_at_load(text, message) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(text=text, env={"S": "whsec_c2VjcmV0LWtleS0zMi1ieXRlcy1sb25nISEhIQ=="})
    assert "\n" not in str(caught.value)


def test_a_secret_not_in_whsec_form_is_refused_without_showing_it() -> None:
    text = "webhooks:\n  endpoints:\n    - url: http://h/x\n      secret_env: S\n"
    with pytest.raises(ConfigError) as caught:
        load_config(text=text, env={"S": "plain-secret-value"})
    assert "whsec_" in str(caught.value) and "plain-secret-value" not in str(caught.value)


def test_a_war_room_a_person_opens_is_a_record_too(engine) -> None:
    _spike(engine)
    (episode,) = engine.store.episodes()
    engine.record_war_room(episode.episode_id, channel="C0WAR", name="techcorp-api", by="Mike")
    engine.record_war_room(episode.episode_id, channel="C0WAR", name="again", by="Sarah")
    rooms = engine.escalation_records(episode.episode_id)["war_room_entries"]
    assert [(r["war_room"], r["status"]) for r in rooms] == [("techcorp-api", "active")]
