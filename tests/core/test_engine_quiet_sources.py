"""A ticket source that goes quiet: one warning, cleared when deliveries resume.

The engine is driven with explicit times (its clock is a FixedClock the test moves); nothing
sleeps. Deliveries come in as a host hands them over (``ingest_many``, the ``run`` path) and
as verified webhooks (``ingest_webhook``).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ticketspike.config import load_config
from ticketspike.engine import Engine
from ticketspike.errors import SignatureError
from ticketspike.model import TicketEvent
from ticketspike.store import SQLiteStore
from ticketspike.testing import (
    FakeSource,
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    memory_engine,
    ticket_event,
)

START = datetime(2026, 2, 2, tzinfo=timezone.utc)  # a Monday


def steady(days: int = 14, *, source: str = "api", seed: int = 7) -> list[TicketEvent]:
    """A delivery every 5 to 25 minutes, day and night, spread over 40 customers."""
    rng = random.Random(seed)
    out: list[TicketEvent] = []
    t = START
    while t < START + timedelta(days=days):
        t += timedelta(minutes=rng.uniform(5, 25))
        n = len(out)
        out.append(ticket_event(f"T{n}", f"cust{n % 40}", t, source=source))
    return out


def source_plans(engine: Engine) -> list[str]:
    return sorted(p.plan_id for p in engine.store.plans() if p.plan_id.startswith("source:"))


def source_posts(notifier: RecordingNotifier) -> list[str]:
    return [k for k in notifier.keys() if k.startswith("source:")]


def test_stopping_a_steady_feed_warns_once_and_resuming_clears_it() -> None:
    events = steady()
    last = events[-1].at
    clock = FixedClock(last)
    notifier = RecordingNotifier()
    engine = memory_engine(StaticPlugin(notifiers=[notifier]), clock=clock)
    engine.ingest_many(events)

    for minutes in (10, 20, 29):  # shorter than the rhythm allows (and than 30 minutes)
        engine.tick(clock.advance(minutes=0) + timedelta(minutes=minutes))
    assert source_plans(engine) == []
    (status,) = engine.source_statuses(last + timedelta(minutes=20))
    assert (status.source, status.status) == ("api", "ok")
    assert status.expected_gap is not None and status.expected_gap < 30 * 60

    assert status.warn_after is not None and 2 * 3600 < status.warn_after < 6 * 3600
    clock.at = last + timedelta(seconds=status.warn_after - 60)
    engine.tick(clock.at)
    assert source_plans(engine) == []
    clock.at = last + timedelta(seconds=status.warn_after + 60)
    engine.tick(clock.at)
    assert source_plans(engine) == ["source:api:quiet:1"]
    for hours in (7, 12, 24, 72):  # still quiet: no second warning
        clock.at = last + timedelta(hours=hours)
        engine.tick(clock.at)
    assert source_posts(notifier) == ["source:api:quiet:1"]
    (warning,) = [d for d in notifier.delivered if d.action.key == "source:api:quiet:1"]
    assert warning.action.kind == "channel_post"
    message = warning.action.message  # type: ignore[union-attr]
    assert message.title == "TICKET SOURCE QUIET"
    assert "No deliveries from ticket source api since" in message.lines[0]
    (status,) = engine.source_statuses(clock.at)
    assert status.status == "quiet" and status.warned_ts is not None
    assert status.quiet_since_ts == last.timestamp()

    clock.advance(minutes=5)
    engine.ingest_many([ticket_event("T-back", "cust1", clock.at)])
    engine.tick(clock.at)
    assert source_posts(notifier) == ["source:api:quiet:1", "source:api:resumed:1"]
    resumed = notifier.delivered[-1].action.message  # type: ignore[union-attr]
    assert resumed.title == "TICKET SOURCE RESUMED"
    assert "after 3.0 days of silence" in resumed.lines[0]
    (status,) = engine.source_statuses(clock.at)
    assert status.status == "ok" and status.warned_ts is None
    engine.tick(clock.advance(minutes=10))
    assert len(source_posts(notifier)) == 2


def test_a_restart_keeps_the_rhythm_and_the_standing_warning(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    events = steady()
    last = events[-1].at
    clock = FixedClock(last)
    store = SQLiteStore(path)
    memory_engine(clock=clock, store=store).ingest_many(events, execute=False)
    store.close()
    for run in range(2):
        notifier = RecordingNotifier()
        clock.at = last + timedelta(hours=7 + run)
        store = SQLiteStore(path, create=False)
        engine = memory_engine(StaticPlugin(notifiers=[notifier]), clock=clock, store=store)
        (status,) = engine.source_statuses()
        assert status.status == "quiet"
        engine.tick(clock.at)
        assert source_posts(notifier) == (["source:api:quiet:1"] if run == 0 else [])
        store.close()


def test_a_source_never_seen_or_disabled_never_warns(tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    clock = FixedClock(START)
    engine = memory_engine(StaticPlugin(notifiers=[notifier]), clock=clock)
    engine.tick(START + timedelta(days=30))
    assert engine.source_statuses() == [] and source_plans(engine) == []

    config_file = tmp_path / "ticketspike.yaml"
    config_file.write_text("quiet_sources:\n  disabled: [api]\n", encoding="utf-8")
    events = steady()
    clock.at = events[-1].at
    engine = memory_engine(
        StaticPlugin(notifiers=[notifier]), clock=clock, config=load_config(config_file, env={})
    )
    engine.ingest_many(events)
    engine.tick(clock.at + timedelta(days=2))
    (status,) = engine.source_statuses(clock.at + timedelta(days=2))
    assert status.status == "disabled"
    assert source_plans(engine) == [] and source_posts(notifier) == []

    config_file.write_text("quiet_sources:\n  enabled: false\n", encoding="utf-8")
    engine = memory_engine(
        StaticPlugin(notifiers=[notifier]), clock=clock, config=load_config(config_file, env={})
    )
    engine.ingest_many(events)
    engine.tick(clock.at + timedelta(days=2))
    assert engine.source_statuses() == []  # not even learned
    assert source_posts(notifier) == []


def test_a_bad_quiet_sources_key_fails_at_load_with_its_line(tmp_path: Path) -> None:
    config_file = tmp_path / "ticketspike.yaml"
    config_file.write_text("quiet_sources:\n  chance: 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ticketspike.yaml:2.*chance: expected a number"):
        load_config(config_file, env={})


def _webhook(event: TicketEvent) -> bytes:
    return json.dumps(event.ticket.to_json()).encode()


def _webhook_engine() -> tuple[Engine, RecordingNotifier, FixedClock]:
    """An engine fed a fortnight of steady signed webhooks from source ``fake``."""
    source = FakeSource(name="fake", token="right")
    notifier = RecordingNotifier()
    clock = FixedClock(START)
    engine = memory_engine(StaticPlugin(notifiers=[notifier], sources=[source]), clock=clock)
    for n, event in enumerate(steady(source="fake")):
        clock.at = event.at
        engine.ingest_webhook(
            "fake",
            _webhook(event),
            {"x-fake-token": "right", "x-delivery-id": f"d{n}"},
            now=event.at,
        )
    engine.run_pending()
    return engine, notifier, clock


def _resume(engine: Engine, clock: FixedClock) -> None:
    clock.advance(minutes=2)
    good = ticket_event("T-fixed", "cust1", clock.at, source="fake")
    engine.ingest_webhook("fake", _webhook(good), {"x-fake-token": "right"}, now=clock.at)
    engine.run_pending()
    engine.tick(clock.at)


def test_a_steady_webhook_feed_that_stops_warns_once_and_clears_on_resume() -> None:
    engine, notifier, clock = _webhook_engine()
    last = clock.at
    (status,) = engine.source_statuses()
    assert status.status == "ok" and status.warn_after is not None
    for minutes in (30, 60, status.warn_after / 60 - 1):
        engine.tick(last + timedelta(minutes=minutes))
    assert source_posts(notifier) == []
    for minutes in (1, 30, 600):
        clock.at = last + timedelta(seconds=status.warn_after, minutes=minutes)
        engine.tick(clock.at)
    assert source_posts(notifier) == ["source:fake:quiet:1"]
    assert notifier.delivered[-1].action.message.title == "TICKET SOURCE QUIET"  # type: ignore[union-attr]
    _resume(engine, clock)
    assert source_posts(notifier) == ["source:fake:quiet:1", "source:fake:resumed:1"]
    assert engine.source_statuses()[0].status == "ok"


def test_failing_signatures_warn_as_a_broken_webhook_not_a_quiet_week() -> None:
    engine, notifier, clock = _webhook_engine()
    last = clock.at
    for minutes in range(1, 6):  # the secret was rotated on one side only
        clock.at = last + timedelta(minutes=5 * minutes)
        with pytest.raises(SignatureError):
            engine.ingest_webhook("fake", b"{}", {"x-fake-token": "old"}, now=clock.at)
    clock.at = last + timedelta(minutes=31)
    engine.tick(clock.at)
    assert source_posts(notifier) == ["source:fake:quiet:1"]
    message = notifier.delivered[-1].action.message  # type: ignore[union-attr]
    assert message.title == "TICKET SOURCE FAILING SIGNATURES"
    assert "5 deliveries since then failed the signature check" in message.lines[1]
    (status,) = engine.source_statuses()
    assert status.to_json()["signature_failures"] == 5
    _resume(engine, clock)
    assert source_posts(notifier) == ["source:fake:quiet:1", "source:fake:resumed:1"]
    (status,) = engine.source_statuses()
    assert status.status == "ok" and status.failures == 0


def test_a_hostile_source_name_is_printable_in_the_warning() -> None:
    name = "<!channel> feed\u202e\nforged"
    events = steady(source=name)
    clock = FixedClock(events[-1].at)
    notifier = RecordingNotifier()
    engine = memory_engine(StaticPlugin(notifiers=[notifier]), clock=clock)
    engine.ingest_many(events)
    engine.tick(clock.advance(hours=7))
    (post,) = notifier.delivered[-1:]
    line = post.action.message.lines[0]  # type: ignore[union-attr]
    assert "\u202e" not in line and "\n" not in line
    assert "<!channel> feed??forged" in line  # raw here; each medium escapes it (Slack: &lt;)


def test_two_processes_on_one_store_warn_once(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    events = steady()
    clock = FixedClock(events[-1].at)
    first_store, second_store = SQLiteStore(path), SQLiteStore(path)
    try:
        notifiers = [RecordingNotifier(), RecordingNotifier()]
        engines = [
            memory_engine(StaticPlugin(notifiers=[n]), clock=clock, store=s)
            for n, s in zip(notifiers, (first_store, second_store), strict=True)
        ]
        engines[0].ingest_many(events[: len(events) // 2])
        engines[1].ingest_many(events[len(events) // 2 :])  # each learns into the same row
        (status,) = engines[0].source_statuses()
        assert status.deliveries == len(events)
        clock.advance(hours=8)
        for _ in range(3):
            for engine in engines:
                engine.tick(clock.at)
        posts = source_posts(notifiers[0]) + source_posts(notifiers[1])
        assert posts == ["source:api:quiet:1"]
    finally:
        first_store.close()
        second_store.close()


def test_hostile_files_cannot_fill_the_store_with_sources(tmp_path: Path) -> None:
    config = load_config(text="quiet_sources:\n  max_sources: 5\n", env={})
    clock = FixedClock(START)
    engine = memory_engine(config=config, clock=clock)
    engine.ingest_many(
        [ticket_event(f"T{n}", "cust1", START, source=f"src{n}") for n in range(300)]
    )
    assert len(engine.store.source_names()) == 5
