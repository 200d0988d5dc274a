"""Reads as typed values: the engine answers with attrs values whose JSON form keeps the shapes
the API has always had; the success metrics group every episode exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketspike.accounts import parse_accounts
from ticketspike.errors import ConfigError, InputError
from ticketspike.testing import demo_engine
from ticketspike.views import (
    Banner,
    Dashboard,
    MetricSample,
    Summary,
    hourly_counts,
    safe_url,
    success_metrics,
)

SUMMARY_KEYS = {
    "customerId", "recentTickets", "baseline", "currentRate", "isSpike", "themes",
    "severity", "multiplier", "ticketCount", "periodHours", "at",
}  # fmt: skip
BANNER_KEYS = {
    "customerId", "active", "episodeId", "severity", "ticketCount", "previousCount",
    "trend", "periodHours", "link", "ticketLinks", "quickAction",
}  # fmt: skip
CARD_KEYS = {
    "customerId", "customerName", "episodeId", "severity", "status", "suppressed",
    "detectedAt", "hoursSinceDetection", "actionsTaken", "progress", "ticketCount",
    "multiplier",
}  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    made = demo_engine(tmp_path_factory.mktemp("demo"))
    yield made
    made.close()


def test_the_reads_are_frozen_attrs_values(engine) -> None:  # type: ignore[no-untyped-def]
    now = engine.clock()
    summary = engine.summary("techcorp", at=now)
    banner = engine.banner("techcorp", at=now)
    board = engine.dashboard(at=now)
    assert isinstance(summary, Summary) and isinstance(banner, Banner)
    assert isinstance(board, Dashboard)
    for value in (summary, banner, board, board.escalations[0]):
        assert attrs.has(type(value))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            value.customer_id = "x" if hasattr(value, "customer_id") else None  # type: ignore[misc]


def test_the_json_forms_keep_their_shapes_and_figures(engine) -> None:  # type: ignore[no-untyped-def]
    now = engine.clock()
    summary = engine.summary("techcorp", at=now).to_json()
    assert set(summary) == SUMMARY_KEYS
    assert summary["ticketCount"] == 15 and summary["isSpike"] is True
    assert summary["severity"] == "critical" and summary["at"] == now.isoformat()
    assert summary["recentTickets"][0]["ticketId"] == "TKT-4335"  # newest first
    banner = engine.banner("techcorp", at=now).to_json()
    assert set(banner) == BANNER_KEYS
    assert (banner["ticketCount"], banner["previousCount"], banner["trend"]) == (15, 5, "rising")
    assert banner["link"] == "/api/support/summary/techcorp"
    board = engine.dashboard(at=now).to_json()
    assert set(board) == {"generatedAt", "escalations"}
    [card] = board["escalations"]
    assert set(card) >= CARD_KEYS  # the old keys, each as it was
    assert card["customerName"] == "TechCorp Inc" and card["severity"] == "critical"
    assert card["hoursSinceDetection"] == 7.5 and card["ticketCount"] == 12
    assert set(card["progress"]) >= {"stage", "actionsDone", "actionsTotal", "failed", "plan"}
    assert card["progress"]["actionsDone"] == card["progress"]["actionsTotal"] == 12
    assert (card["progress"]["ticketsResolved"], card["progress"]["ticketsTotal"]) == (0, 18)
    assert {a["status"] for a in card["actionsTaken"]} == {"done"}


def test_an_acknowledgement_and_a_resolved_ticket_show_on_the_card(tmp_path: Path) -> None:
    from ticketspike.model import EventKind, TicketEvent

    with demo_engine(tmp_path) as engine:
        [card] = engine.dashboard(at=engine.clock()).escalations
        assert card.acknowledged_by is None
        engine.acknowledge(card.episode_id, by="Mike")
        record = engine.store.get_ticket("helpdesk", "TKT-4335")
        engine.ingest(TicketEvent(ticket=record.ticket, kind=EventKind.RESOLVED))
        [card] = engine.dashboard(at=engine.clock()).escalations
        assert card.acknowledged_by == "Mike"
        assert (card.progress.tickets_resolved, card.progress.tickets_total) == (1, 18)
        assert card.progress.percent_resolved == 5


def test_one_escalation_has_its_timeline_tickets_and_hours(engine) -> None:  # type: ignore[no-untyped-def]
    now = engine.clock()
    [card] = engine.dashboard(at=now).escalations
    page = engine.escalation(card.episode_id, at=now)
    assert page.timeline[0].type == "transition" and page.timeline[0].what == "opened"
    assert [e.at for e in page.timeline] == sorted(e.at for e in page.timeline)
    assert len(page.tickets) == card.progress.tickets_total
    assert sum(h.count for h in page.hourly) == len(page.tickets)
    assert dict(page.category_breakdown)["technical"] == 12
    assert page.baseline_per_hour > 0
    assert [p.key for p in page.panels] == ["war_room", "drafts", "tasks"]
    assert engine.escalation("ep_nope", at=now) is None


def test_a_panel_provider_adds_a_section(tmp_path: Path) -> None:
    from ticketspike.views import Panel, PanelItem

    with demo_engine(tmp_path) as engine:
        engine.add_panel_provider(
            lambda episode: Panel(key="tasks", title="Tasks", items=(PanelItem(label="call"),))
        )
        [card] = engine.dashboard(at=engine.clock()).escalations
        page = engine.escalation(card.episode_id, at=engine.clock())
        assert page.panels[-1].key == "tasks"
        assert page.to_json()["panels"][-1]["items"] == [
            {"label": "call", "value": "", "url": None}
        ]


@pytest.mark.parametrize(
    "url,safe",
    [
        ("https://logo.example/a.png", True),
        ("http://x.example/t/1", True),
        ("javascript:alert(1)", False),
        ("data:image/png;base64,AAAA", False),
        ("//evil.example/x", False),
        ("https://x.example/\nSet-Cookie: a", False),
        (" https://x.example", False),
    ],
)
def test_only_http_links_are_links(url: str, safe: bool) -> None:
    assert (safe_url(url) == url) is safe


def test_accounts_may_carry_a_logo_url() -> None:
    [account] = parse_accounts("- id: a\n  logo_url: https://cdn.example/a.png\n").values()
    assert account.logo_url == "https://cdn.example/a.png"
    with pytest.raises(ConfigError, match="logo_url"):
        parse_accounts("- id: a\n  logo_url: javascript:alert(1)\n")


T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
seconds = st.none() | st.floats(min_value=0, max_value=30 * 86400)
samples = st.lists(
    st.builds(
        MetricSample,
        episode_id=st.uuids().map(str),
        customer_id=st.sampled_from(["a", "b"]),
        csm=st.sampled_from(["Mike", "Priya", "(no CSM)"]),
        opened_at=st.integers(0, 90 * 24).map(lambda h: T0 + timedelta(hours=h)),
        detection_lag=seconds,
        to_acknowledge=seconds,
        to_resolution=seconds,
    ),
    max_size=40,
)


@given(samples, st.sampled_from(["day", "week", "month"]))
def test_every_episode_lands_in_one_period_and_one_csm(items, period) -> None:  # type: ignore[no-untyped-def]
    metrics = success_metrics(items, period=period, at=T0)
    assert sum(r.episodes for r in metrics.by_period) == len(items) == metrics.overall.episodes
    assert sum(r.episodes for r in metrics.by_csm) == len(items)
    assert sum(r.acknowledged for r in metrics.by_csm) == metrics.overall.acknowledged
    lags = [s.detection_lag for s in items if s.detection_lag is not None]
    if lags:
        assert min(lags) <= metrics.overall.detection_lag <= max(lags)
    else:
        assert metrics.overall.detection_lag is None


def test_success_metrics_refuse_an_unknown_period() -> None:
    with pytest.raises(InputError, match="period"):
        success_metrics([], period="year", at=T0)


def test_hourly_counts_cover_each_hour_once() -> None:
    start = T0 + timedelta(minutes=30)
    hours = hourly_counts([T0 + timedelta(hours=1, minutes=5)] * 3, start, T0 + timedelta(hours=3))
    assert [h.count for h in hours] == [0, 3, 0, 0]
    assert hours[0].hour == T0
