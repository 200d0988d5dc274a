"""A ticket dated ahead of the host clock changes nobody's detection.

The detector's clock follows the newest ticket time; a ticket dated tomorrow (or in year
9999) used to move every customer's window past today, so fresh spikes opened nothing and
live episodes resolved. The engine now refuses such tickets (within a configurable skew)
at every entry, says so, and keeps them out of the detector even when an older version
stored them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ticketspike.config import load_config
from ticketspike.limits import IngestLimits
from ticketspike.model import TicketEvent
from ticketspike.signals import TransitionKind
from ticketspike.store import PutOutcome, SQLiteStore
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
NOW = SPIKE_DAY + timedelta(hours=14)
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def history(customer: str) -> list[TicketEvent]:
    return [
        ticket_event(f"{customer}-H{d}-{k}", customer, START + timedelta(days=d, hours=9 + 4 * k))
        for d in range(40)
        for k in range(2)
    ]


def spike(customer: str, n: int = 15) -> list[TicketEvent]:
    return [
        ticket_event(f"{customer}-S{i}", customer, SPIKE_DAY + timedelta(minutes=50 * i))
        for i in range(n)
    ]


def transitions_with(hostile: list[TicketEvent], tmp_path: Path, name: str) -> list[tuple]:
    """History, then the hostile tickets, a restart on the same SQLite file, then a spike."""
    path = tmp_path / f"{name}.db"
    clock = FixedClock(NOW - timedelta(hours=2))

    def engine(store: SQLiteStore):  # type: ignore[no-untyped-def]
        return memory_engine(
            StaticPlugin(notifiers=[RecordingNotifier()]),
            accounts=[sample_account("techcorp"), sample_account("acme")],
            clock=clock,
            store=store,
        )

    store = SQLiteStore(path)
    first = engine(store)
    first.ingest_many(history("techcorp") + history("acme"))
    if hostile:
        result = first.ingest_many(hostile)
        assert len(result.refused) == len(hostile)
        assert result.stored == 0
    store.close()

    clock.at = NOW
    store = SQLiteStore(path)
    second = engine(store)
    result = second.ingest_many(spike("techcorp"))
    out = [(t.customer_id, t.kind) for t in result.transitions]
    assert store.ticket_count() == 2 * 80 + 15
    store.close()
    return out


@pytest.mark.parametrize(
    "when", [NOW + timedelta(days=1), NOW + timedelta(hours=72), FAR], ids=["+1d", "+72h", "9999"]
)
def test_a_future_ticket_changes_nobody_elses_detection_across_a_restart(tmp_path, when):
    clean = transitions_with([], tmp_path, "clean")
    assert ("techcorp", TransitionKind.OPENED) in clean
    hostile = transitions_with([ticket_event("evil-1", "evil", when)], tmp_path, "hostile")
    assert hostile == clean


def test_a_future_ticket_does_not_resolve_a_live_episode():
    clock = FixedClock(NOW)
    engine = memory_engine(
        StaticPlugin(notifiers=[RecordingNotifier()]),
        accounts=[sample_account("techcorp")],
        clock=clock,
    )
    engine.ingest_many(history("techcorp") + spike("techcorp"))
    assert engine.store.active_episode("techcorp") is not None
    result = engine.ingest(ticket_event("evil-1", "evil", NOW + timedelta(hours=72)))
    assert [t.kind for t in result.transitions] == []
    assert engine.store.active_episode("techcorp") is not None
    assert "evil" in result.refused[0] and "ahead of the host clock" in result.refused[0]


def test_tickets_within_the_skew_are_admitted_and_the_skew_is_configurable():
    config = load_config(text="tickets:\n  max_future_skew_seconds: 60\n", env={})
    engine = memory_engine(config=config, clock=FixedClock(NOW))
    assert engine.limits.max_future_skew_seconds == 60
    ok = engine.ingest(ticket_event("T-1", "acme", NOW + timedelta(seconds=59)))
    late = engine.ingest(ticket_event("T-2", "acme", NOW + timedelta(seconds=61)))
    assert (ok.stored, ok.refused) == (1, ())
    assert late.stored == 0 and len(late.refused) == 1
    assert "at most 60 s" in late.refused[0]


def test_a_future_ticket_already_in_the_inbox_is_kept_out_of_the_detector():
    # As an older version (or another host with a fast clock) would have left it.
    engine = memory_engine(clock=FixedClock(NOW), limits=IngestLimits())
    engine.ingest_many(history("techcorp"))
    event = ticket_event("evil-1", "evil", FAR)
    with engine.store.transaction():
        outcome = engine.store.put_ticket(event, at=NOW)
        engine.store.enqueue([(event, outcome)], received_at=NOW)
    assert outcome is PutOutcome.NEW
    engine.process_pending()
    assert engine.monitor.now is None or engine.monitor.now <= NOW + timedelta(minutes=5)
    result = engine.ingest_many(spike("techcorp"))
    assert ("techcorp", TransitionKind.OPENED) in [
        (t.customer_id, t.kind) for t in result.transitions
    ]


def _line(ticket_id: str, customer: str, at: datetime) -> str:
    import json

    return json.dumps(
        {
            "ticketId": ticket_id,
            "customerId": customer,
            "category": "technical",
            "severity": "P2",
            "subject": "API errors on export",
            "createdAt": at.isoformat().replace("+00:00", "Z"),
        }
    )


def test_run_reports_a_year_9999_ticket_and_still_detects_the_others(tmp_path: Path):
    import subprocess
    import sys

    # ``run`` uses the real clock: the file is dated relative to it.
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    lines = [
        _line(f"H{d}-{k}", "techcorp", now - timedelta(days=40 - d, hours=-(9 + 4 * k)))
        for d in range(39)
        for k in range(2)
    ]
    lines.append(_line("EVIL-1", "evil", FAR))
    lines += [_line(f"S{i}", "techcorp", now - timedelta(minutes=5 + 40 * i)) for i in range(15)]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "ticketspike", "run", str(path), "--store", str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"},
    )
    assert done.returncode == 0, done.stderr
    assert "Refused 1 ticket event(s)" in done.stdout
    assert "EVIL-1 of evil: createdAt: 9999-12-31T23:59:59+00:00" in done.stdout
    assert "Transitions recorded:\n" in done.stdout
    assert "opened     techcorp" in done.stdout
