"""The engine in one process: ingest -> store -> classify -> detect -> plan -> execute."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest

from ticketspike.config import load_config
from ticketspike.engine import Engine
from ticketspike.errors import PluginError, SignatureError, WebhookRejected
from ticketspike.model import Category, TicketEvent
from ticketspike.planner.plan import DirectMessage
from ticketspike.signals import TransitionKind
from ticketspike.store import ActionStatus, MemoryStore, SQLiteStore
from ticketspike.testing import (
    FakeSource,
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    memory_engine,
    sample_account,
    ticket_event,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPIKE_DAY = START + timedelta(days=40)
BACKGROUND = [
    "How do I export reports",
    "Invoice address question",
    "Add a new user",
    "Dashboard is slow",
    "Where are the release notes",
]
SPIKE = [
    "API returning 500 errors on orders",
    "API errors when syncing invoices",
    "Login issues after the update",
    "API errors: 502 from the orders endpoint",
]


def history(customer: str = "techcorp", *, days: int = 40, per_day: int = 2) -> list[TicketEvent]:
    events = []
    for day in range(days):
        for k in range(per_day):
            at = START + timedelta(days=day, hours=9 + 4 * k)
            events.append(
                ticket_event(
                    f"{customer}-H{day}-{k}",
                    customer,
                    at,
                    subject=BACKGROUND[(day + k) % len(BACKGROUND)],
                    category="training",
                )
            )
    return events


def spike(
    customer: str = "techcorp", n: int = 15, start: datetime = SPIKE_DAY, tag: str = "S"
) -> list[TicketEvent]:
    return [
        ticket_event(
            f"{customer}-{tag}{i}",
            customer,
            start + timedelta(minutes=50 * i),
            subject=SPIKE[i % len(SPIKE)],
            priority="P1" if i < 3 else "P2",
        )
        for i in range(n)
    ]


def engine_with(notifier: RecordingNotifier, **options: object) -> Engine:
    options.setdefault("clock", FixedClock(SPIKE_DAY + timedelta(hours=14)))
    return memory_engine(StaticPlugin(notifiers=[notifier]), accounts=[sample_account()], **options)  # type: ignore[arg-type]


def test_a_spike_is_detected_planned_and_delivered() -> None:
    notifier = RecordingNotifier()
    engine = engine_with(notifier)
    result = engine.ingest_many(history() + spike())
    kinds = [(t.kind, t.customer_id) for t in result.transitions]
    assert (TransitionKind.OPENED, "techcorp") in kinds
    assert result.stored == 95 and result.duplicates == 0
    assert result.executed is not None and result.executed.failed == ()
    first_dm = notifier.delivered[0].action
    assert isinstance(first_dm, DirectMessage)
    assert first_dm.recipient.person is not None
    assert first_dm.recipient.person.name == "Mike Johnson"
    # Themes come from the stored window's text, contrasted with the baseline's.
    assert any("API" in theme for theme in first_dm.message.themes)
    assert all(theme not in BACKGROUND for theme in first_dm.message.themes)
    outbox = engine.store.outbox()
    assert len(outbox) == len(engine.store.actions()) > 5
    assert {e.kind for e in outbox} >= {
        "direct_message",
        "create_task",
        "draft_email",
        "adjust_health_score",
    }


def test_feeding_the_same_tickets_again_changes_nothing() -> None:
    notifier = RecordingNotifier()
    engine = engine_with(notifier)
    events = history() + spike()
    engine.ingest_many(events)
    delivered = len(notifier.delivered)
    outbox = len(engine.store.outbox())
    again = engine.ingest_many(events)
    assert (again.stored, again.duplicates, again.transitions) == (0, len(events), ())
    assert len(notifier.delivered) == delivered and len(engine.store.outbox()) == outbox


def test_tickets_without_a_category_are_classified_before_counting() -> None:
    engine = engine_with(RecordingNotifier())
    event = ticket_event(
        "X1",
        "acme",
        START,
        category="other",
        subject="We were charged twice on the last invoice, please refund",
    )
    engine.ingest(event)
    record = engine.store.get_ticket("api", "X1")
    assert record is not None and record.ticket.category is Category.BILLING


def test_time_resolves_an_episode_without_new_tickets() -> None:
    notifier = RecordingNotifier()
    engine = engine_with(notifier)
    engine.ingest_many(history() + spike())
    assert engine.store.episodes(active_only=True)
    transitions = engine.tick(SPIKE_DAY + timedelta(days=3))
    assert [t.kind for t in transitions] == [TransitionKind.RESOLVED]
    assert engine.store.episodes(active_only=True) == []
    resolution = [d.action for d in notifier.delivered if ":resolved:" in d.action.key]
    assert resolution, "the resolution note went out"


def test_webhooks_are_stored_at_once_and_processed_later() -> None:
    notifier = RecordingNotifier()
    source = FakeSource(token="s3cret")
    engine = memory_engine(
        StaticPlugin(notifiers=[notifier], sources=[source]),
        accounts=[sample_account()],
        clock=FixedClock(SPIKE_DAY + timedelta(hours=14)),
    )
    now = SPIKE_DAY + timedelta(hours=14)
    body = json.dumps([e.ticket.to_json() for e in history() + spike()]).encode()
    headers = {"X-Fake-Token": "s3cret", "X-Delivery-Id": "d-1"}
    result = engine.ingest_webhook("fake", body, headers, now=now)
    assert (result.stored, result.queued, result.transitions) == (95, 95, ())
    assert notifier.delivered == [] and engine.store.actions() == []
    assert engine.store.pending_event_count() == 95

    replay = engine.ingest_webhook("fake", body, headers, now=now)
    assert replay.replayed and replay.stored == 0
    again = engine.ingest_webhook("fake", body, {**headers, "X-Delivery-Id": "d-2"}, now=now)
    assert (again.stored, again.duplicates, again.queued) == (0, 95, 0)

    report = engine.run_pending()
    assert engine.store.pending_event_count() == 0
    assert report.done and not report.failed
    assert notifier.delivered and notifier.delivered[0].action.kind == "direct_message"


def test_bad_webhooks_are_refused_before_anything_is_stored() -> None:
    engine = memory_engine(StaticPlugin(sources=[FakeSource(token="s3cret")]))
    now = SPIKE_DAY
    body = json.dumps(ticket_event("T1").ticket.to_json()).encode()
    with pytest.raises(SignatureError):
        engine.ingest_webhook("fake", body, {"x-fake-token": "wrong"}, now=now)
    with pytest.raises(WebhookRejected) as unknown:
        engine.ingest_webhook("nope", body, {}, now=now)
    assert unknown.value.status == 404
    assert engine.store.ticket_count() == 0


def test_the_builtin_ticket_source_verifies_standard_webhook_signatures() -> None:
    from ticketspike.builtin.jsonl_source import sign
    from ticketspike.config import Config
    from ticketspike.secrets import Secret

    engine = memory_engine(config=Config.default(env={"TICKETSPIKE_WEBHOOK_SECRET": "k1 k2"}))
    now = SPIKE_DAY
    body = json.dumps({"tickets": [ticket_event("T1").ticket.to_json()]}).encode()
    stamp = int(now.timestamp())
    signature = sign(Secret("k2"), msg_id="msg_1", timestamp=stamp, body=body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    assert engine.ingest_webhook("ticket", body, headers, now=now).stored == 1
    assert engine.ingest_webhook("ticket", body, headers, now=now).replayed
    with pytest.raises(SignatureError):
        engine.ingest_webhook("ticket", body + b" ", {**headers, "webhook-id": "msg_2"}, now=now)


def test_summary_banner_and_dashboard() -> None:
    engine = engine_with(RecordingNotifier())
    engine.ingest_many(history() + spike())
    at = SPIKE_DAY + timedelta(hours=14)
    summary = engine.summary("techcorp", at=at).to_json()
    assert set(summary) >= {"recentTickets", "baseline", "currentRate", "isSpike", "themes"}
    assert summary["isSpike"] is True
    assert len(summary["recentTickets"]) == 15
    assert summary["recentTickets"][0]["ticketId"] == "techcorp-S14"  # newest first
    assert summary["baseline"] == pytest.approx(2.0, rel=0.2)
    assert summary["currentRate"] == 15
    assert any("API" in t for t in summary["themes"])

    banner = engine.banner("techcorp", at=at)
    assert banner.active is True and banner.ticket_count == 15
    assert banner.trend == "rising" and banner.quick_action == "Address Spike"

    [card] = engine.dashboard(at=at).escalations
    assert card.customer_name == "TechCorp Inc"
    assert card.severity == "critical"
    assert card.hours_since_detection > 0
    assert card.progress.actions_done == card.progress.actions_total > 0
    assert {a.status for a in card.actions} == {"done"}

    quiet = engine.banner("someone-else", at=at)
    assert quiet.active is False and quiet.ticket_count == 0


def test_dry_run_plans_but_delivers_nothing() -> None:
    notifier = RecordingNotifier()
    engine = engine_with(notifier, dry_run=True)
    result = engine.ingest_many(history() + spike())
    assert result.plans and notifier.delivered == []
    assert result.executed is not None and result.executed.planned
    assert {a.status for a in engine.store.actions()} == {ActionStatus.PENDING}


def test_with_inline_execution_off_actions_wait_for_run_pending() -> None:
    notifier = RecordingNotifier()
    engine = engine_with(notifier, execute=False)
    result = engine.ingest_many(history() + spike())
    assert result.plans and result.executed is None and notifier.delivered == []
    assert engine.run_pending().done
    assert notifier.delivered


def test_a_silenced_customer_is_recorded_but_nobody_is_paged() -> None:
    config = load_config(
        text="silences:\n  - customer: techcorp\n    end: 2026-12-31T00:00:00Z\n"
        "    reason: planned migration\n",
        env={},
    )
    notifier = RecordingNotifier()
    engine = engine_with(notifier, config=config)
    result = engine.ingest_many(history() + spike())
    opened = [t for t in result.transitions if t.kind is TransitionKind.OPENED]
    assert opened and opened[0].suppressed and "planned migration" in opened[0].suppressed
    assert notifier.delivered == [] and engine.store.actions() == []
    assert engine.store.transitions()[0].suppressed


def test_a_failed_batch_leaves_store_and_detector_consistent() -> None:
    class FlakyStore(MemoryStore):
        fail = True

        def save_state(self, customer_id, state, *, at):  # type: ignore[no-untyped-def]
            if self.fail:
                self.fail = False
                raise OSError("disk full")
            return super().save_state(customer_id, state, at=at)

    notifier = RecordingNotifier()
    engine = engine_with(notifier, store=FlakyStore())
    events = history() + spike()
    with pytest.raises(OSError):
        engine.ingest_many(events[:10])
    assert engine.store.ticket_count() == 0  # the whole batch rolled back
    engine.ingest_many(events)
    reference = engine_with(RecordingNotifier())
    reference.ingest_many(events)
    assert [t.data for t in engine.store.transitions()] == [
        t.data for t in reference.store.transitions()
    ]


def test_a_broken_account_directory_does_not_stop_detection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Down:
        name = "crm"

        def get_account(self, customer_id: str) -> None:
            raise ConnectionError("crm unreachable")

    notifier = RecordingNotifier()
    engine = memory_engine(
        StaticPlugin(notifiers=[notifier], directories=[Down()]),
        accounts=[sample_account()],
        clock=FixedClock(SPIKE_DAY + timedelta(hours=14)),
    )
    engine.ingest_many(history() + spike())
    assert notifier.delivered
    assert "account directory crm failed (ConnectionError)" in caplog.text


def test_from_config_builds_a_sqlite_store_and_reads_the_accounts_file(tmp_path: Path) -> None:
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson}\n"
    )
    config = tmp_path / "ticketspike.yaml"
    config.write_text("store:\n  path: data/store.sqlite3\naccounts: accounts.yaml\n")
    notifier = RecordingNotifier()
    from ticketspike.testing import clean_plugins

    with Engine.from_config(
        config,
        env={},
        plugins=clean_plugins(StaticPlugin(notifiers=[notifier])),
        clock=FixedClock(SPIKE_DAY + timedelta(hours=14)),
    ) as engine:
        assert isinstance(engine.store, SQLiteStore)
        assert engine.account("techcorp") is not None
        engine.ingest_many(history() + spike())
    assert (tmp_path / "data" / "store.sqlite3").is_file()
    dm = notifier.delivered[0].action
    assert isinstance(dm, DirectMessage) and dm.message.customer_name == "TechCorp Inc"


def test_backfill_resumes_after_the_last_stored_page_and_alerts_only_on_current_spikes() -> None:
    old_spike = spike(start=START + timedelta(days=20), n=15, tag="OLD")
    events = sorted(history() + old_spike + spike(), key=lambda e: e.at)
    pages = [events[i : i + 40] for i in range(0, len(events), 40)]
    source = FakeSource(pages=pages, fail_after=2)
    notifier = RecordingNotifier()
    now = SPIKE_DAY + timedelta(hours=14)
    engine = memory_engine(
        StaticPlugin(notifiers=[notifier], sources=[source]),
        accounts=[sample_account()],
        clock=FixedClock(now),
    )
    with pytest.raises(PluginError, match="simulated network failure"):
        engine.backfill("fake", since=START)
    assert engine.store.ticket_count() == 80  # two pages stored before the failure
    source.fail_after = None
    report = engine.backfill("fake", since=START)
    assert report.resumed and report.done
    assert source.requested[-1] == (START, "1")
    assert engine.store.ticket_count() == len(events)
    transitions = engine.store.transitions()
    historical = [t for t in transitions if t.at < now - timedelta(days=1)]
    current = [t for t in transitions if t.at >= now - timedelta(days=1)]
    assert historical and all(t.suppressed for t in historical)
    assert current and not any(t.suppressed for t in current)
    alerted = {d.episode_id for d in notifier.delivered}
    assert alerted == {t.episode_id for t in current}


def test_check_of_an_unknown_customer_is_quiet() -> None:
    engine = engine_with(RecordingNotifier())
    assessment = engine.check("nobody", at=SPIKE_DAY)
    assert not assessment.is_spike and assessment.ticket_count == 0


def test_ingest_result_is_json_ready() -> None:
    engine = engine_with(RecordingNotifier())
    result = engine.ingest_many(history() + spike())
    data = json.loads(json.dumps(result.to_json()))
    assert data["stored"] == 95 and data["transitions"][0]["transition"] == "opened"
    assert attrs.asdict(result)["received"] == 95
