"""Bounded text work: caps at ingest, a prefix for analysis, themes cached and computed
outside the store's write transaction, within a budget."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs

from ticketspike.limits import IngestLimits
from ticketspike.model import Ticket, TicketEvent
from ticketspike.signals import Theme, TransitionKind
from ticketspike.store import SQLiteStore
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
BIG = "timeout on export " * 4000  # ~72 KB


def history(customer: str = "techcorp") -> list[TicketEvent]:
    return [
        ticket_event(f"H{d}-{k}", customer, START + timedelta(days=d, hours=9 + 4 * k))
        for d in range(40)
        for k in range(2)
    ]


def big_spike(customer: str = "techcorp", n: int = 15) -> list[TicketEvent]:
    out = []
    for i in range(n):
        event = ticket_event(
            f"S{i}", customer, SPIKE_DAY + timedelta(minutes=50 * i), subject="Export fails"
        )
        out.append(attrs.evolve(event, ticket=attrs.evolve(event.ticket, body=BIG)))
    return out


@attrs.define
class ProbingAnalyzer:
    """A theme analyzer that checks, when called, whether the store's write lock is free."""

    path: Path
    name: str = "probe"
    calls: int = 0
    locked: list[bool] = attrs.field(factory=list)
    longest_body: int = 0
    gate: threading.Event | None = None

    def analyze(
        self, window: Sequence[Ticket], baseline: Sequence[Ticket], *, limit: int = 5
    ) -> list[Theme]:
        self.calls += 1
        self.longest_body = max([self.longest_body, *(len(t.body) for t in window)])
        probe = sqlite3.connect(self.path, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            self.locked.append(False)
        except sqlite3.OperationalError:
            self.locked.append(True)
        finally:
            probe.close()
        if self.gate is not None:
            self.gate.wait(30)
        return [Theme(phrase="export timeouts", count=len(window))]


def engine_over(tmp_path: Path, analyzer: ProbingAnalyzer, **options: object):  # type: ignore[no-untyped-def]
    return memory_engine(
        StaticPlugin(notifiers=[RecordingNotifier()], theme_analyzers=[analyzer]),
        accounts=[sample_account()],
        clock=FixedClock(NOW),
        store=SQLiteStore(analyzer.path),
        **options,
    )


def test_themes_are_computed_outside_the_write_transaction_on_a_capped_prefix(tmp_path):
    analyzer = ProbingAnalyzer(tmp_path / "s.db")
    engine = engine_over(tmp_path, analyzer)
    result = engine.ingest_many(history() + big_spike())
    opened = [t for t in result.transitions if t.kind is TransitionKind.OPENED]
    assert opened and opened[0].assessment.themes == ("export timeouts",)
    assert analyzer.calls >= 1
    assert analyzer.locked and not any(analyzer.locked)
    assert analyzer.longest_body == engine.limits.analysis_body_chars
    # Stored whole (under the hard cap).
    stored = engine.store.get_ticket("api", "S0")
    assert stored is not None and stored.ticket.body == BIG


def test_reads_hit_the_cache_until_the_window_changes(tmp_path):
    analyzer = ProbingAnalyzer(tmp_path / "s.db")
    engine = engine_over(tmp_path, analyzer)
    engine.ingest_many(history() + big_spike())
    assert engine.summary("techcorp", at=NOW).themes == ("export timeouts",)
    calls = analyzer.calls
    hits = engine.theme_cache.hits
    for _ in range(3):
        assert engine.summary("techcorp", at=NOW).themes == ("export timeouts",)
        engine.banner("techcorp", at=NOW)
    assert analyzer.calls == calls  # one analysis answers every read of this window
    assert engine.theme_cache.hits >= hits + 6
    engine.ingest(ticket_event("S-new", "techcorp", NOW - timedelta(minutes=1)))
    engine.summary("techcorp", at=NOW)
    assert analyzer.calls == calls + 1  # a new ticket in the window: computed once more


def test_an_overrunning_analysis_is_answered_without_themes_then_cached(tmp_path):
    gate = threading.Event()
    analyzer = ProbingAnalyzer(tmp_path / "s.db", gate=gate)
    engine = engine_over(
        tmp_path, analyzer, limits=IngestLimits(analysis_budget_seconds=0.2), theme_budget=None
    )
    result = engine.ingest_many(history() + big_spike())
    opened = [t for t in result.transitions if t.kind is TransitionKind.OPENED]
    assert opened and opened[0].assessment.themes == ()  # alert not held up
    assert engine.summary("techcorp", at=NOW).themes == ()
    started = analyzer.calls
    gate.set()
    for _ in range(200):
        if engine.theme_cache.computed >= started:
            break
        threading.Event().wait(0.05)
    # The overrun analysis finished in the background; it (or one more, now unblocked)
    # answers the next read. One customer never has two analyses running at once.
    assert engine.summary("techcorp", at=NOW).themes == ("export timeouts",)
    assert started == 1
    assert analyzer.calls <= started + 1


def test_text_over_the_hard_cap_is_cut_and_reported():
    limits = IngestLimits(max_subject_chars=64, max_body_chars=1000)
    engine = memory_engine(clock=FixedClock(NOW), limits=limits)
    event = ticket_event("T-1", "acme", NOW - timedelta(hours=1), subject="s" * 500)
    event = attrs.evolve(event, ticket=attrs.evolve(event.ticket, body="b" * 5000))
    result = engine.ingest(event)
    assert (result.stored, result.truncated) == (1, 1)
    stored = engine.store.get_ticket("api", "T-1")
    assert stored is not None
    assert (len(stored.ticket.subject), len(stored.ticket.body)) == (64, 1000)


def test_the_classifier_reads_the_analysis_prefix_only(tmp_path):
    seen: list[int] = []

    @attrs.define
    class Probe:
        name: str = "probe-classifier"

        def classify(self, ticket: Ticket):  # type: ignore[no-untyped-def]
            from ticketspike.model import Category
            from ticketspike.signals import Classification

            seen.append(len(ticket.body))
            return Classification(category=Category.BILLING, confidence=0.9)

    engine = memory_engine(StaticPlugin(classifiers=[Probe()]), clock=FixedClock(NOW))
    event = ticket_event("T-1", "acme", NOW - timedelta(hours=1), category="other")
    event = attrs.evolve(event, ticket=attrs.evolve(event.ticket, body="invoice " * 5000))
    engine.ingest(event)
    assert seen == [engine.limits.analysis_body_chars]
    stored = engine.store.get_ticket("api", "T-1")
    assert stored is not None and len(stored.ticket.body) == len("invoice " * 5000)
    assert stored.ticket.category.value == "billing"
