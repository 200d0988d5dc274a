"""The alert as Block Kit: content, safety, and Slack's limits on any spike."""

from __future__ import annotations

import importlib.metadata
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from support import fake_slack
from support import slack_kit as kit
from ticketspike import AlertMessage, Severity
from ticketspike.planner.message import BreakdownRow, Link, MessageKind
from ticketspike_slack import fallback_text, render_blocks, sparkline

HOSTILE = ("<!channel> help", "<@U123>", "<https://evil|click>", "<!subteam^S1>", "<!here>")


def as_json(message: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return [block.to_dict() for block in render_blocks(message, **kwargs)]


def texts(blocks: Any, kind: str = "mrkdwn") -> list[dict[str, Any]]:
    """Every text object of ``kind`` anywhere in ``blocks``."""
    found: list[dict[str, Any]] = []
    if isinstance(blocks, dict):
        if blocks.get("type") == kind and isinstance(blocks.get("text"), str):
            found.append(blocks)
        for value in blocks.values():
            found.extend(texts(value, kind))
    elif isinstance(blocks, list):
        for value in blocks:
            found.extend(texts(value, kind))
    return found


def block(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b for b in blocks if b.get("block_id") == block_id)


def test_alert_carries_every_part_of_the_prd_layout() -> None:
    blocks = as_json(kit.alert())
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == ":rotating_light: SUPPORT SPIKE ALERT: TechCorp Inc"
    counts = block(blocks, "ticketspike_counts")["text"]["text"]
    assert "*15 tickets* in last 24 hours" in counts and "6.5x" in counts
    breakdown = block(blocks, "ticketspike_breakdown")["text"]["text"].splitlines()
    assert breakdown[1:] == ["• Technical: 10 (67%)", "• Billing: 2 (13%)", "• Training: 3 (20%)"]
    assert block(blocks, "ticketspike_priorities")["text"]["text"] == "*Severity:* 3 P1, 7 P2, 5 P3"
    assert block(blocks, "ticketspike_themes")["text"]["text"] == (
        "*Common Themes:* API errors, login issues"
    )
    fields = [f["text"] for f in block(blocks, "ticketspike_customer")["fields"]]
    assert fields == [
        "*Customer:*\nTechCorp Inc",
        "*ARR:*\n$500,000",
        "*Health Score:*\n52 (was 78)",
        "*CSM:*\nMike Johnson",
    ]
    buttons = block(blocks, "ticketspike_actions")["elements"]
    assert [b["text"]["text"] for b in buttons] == [
        "View Tickets",
        "Draft Response",
        "Start War Room",
        "View Customer",
    ]
    spark = block(blocks, "ticketspike_sparkline")["elements"][0]["text"]
    assert "last 14 days" in spark and spark.count("█") == 1 and "(peak 15)" in spark


def test_fallback_text_summarises_the_alert() -> None:
    assert fallback_text(kit.alert()) == (
        "SUPPORT SPIKE ALERT: TechCorp Inc: 15 tickets in last 24 hours (6.5x normal rate)"
    )


def test_every_mrkdwn_object_is_verbatim() -> None:
    for message in (kit.alert(), kit.note("Escalated", "now critical")):
        objects = texts(as_json(message))
        assert objects
        assert all(obj.get("verbatim") is True for obj in objects)


def test_hostile_ticket_text_renders_literally() -> None:
    message = kit.alert(
        customer_name="<!channel> help",
        csm_name="<@U123>",
        themes=HOSTILE,
        breakdown=(BreakdownRow("<!here>", 3, 100),),
        ticket_links=(("<@U999>", "https://evil.example/a|<!channel>"), ("T-2", "javascript:x")),
        lines=("<https://evil|click> here",),
    )
    blocks = as_json(message)
    raw = json.dumps(blocks)
    for text_object in texts(blocks):
        text = text_object["text"]
        # Only our own ticket link may open a control sequence, and only as a URL.
        stripped = re.sub(r"<https://[^|<>]+\|[^<>]*>", "", text)
        assert "<" not in stripped and ">" not in stripped, text
    assert "&lt;!channel&gt; help" in raw
    assert "&lt;@U123&gt;" in raw
    assert "&lt;https://evil|click&gt;" in raw
    assert "<https://evil.example/a%7C%3C!channel%3E|&lt;@U999&gt;>" in raw
    assert "javascript:" not in raw
    assert "&lt;!channel&gt;" in fallback_text(kit.alert(title="<!channel> spike"))


def test_a_huge_spike_is_cut_to_slack_limits_with_counts_of_what_was_left_out() -> None:
    message = kit.huge_spike()
    blocks = as_json(message, buttons={})
    assert fake_slack.block_kit_problem(blocks) is None
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    themes = block(blocks, "ticketspike_themes")["text"]["text"]
    shown = themes.removeprefix("*Common Themes:* ").split(", ")
    hidden = int(re.fullmatch(r"\+(\d+) more", shown[-1]).group(1))  # type: ignore[union-attr]
    assert len(shown) - 1 + hidden == len(message.themes)
    tickets = block(blocks, "ticketspike_tickets")["text"]["text"].split(", ")
    hidden = int(re.fullmatch(r"\+(\d+) more", tickets[-1]).group(1))  # type: ignore[union-attr]
    assert len(tickets) - 1 + hidden == len(message.ticket_links)
    rows = block(blocks, "ticketspike_breakdown")["text"]["text"].splitlines()[1:]
    hidden = int(re.fullmatch(r"\+(\d+) more", rows[-1]).group(1))  # type: ignore[union-attr]
    assert len(rows) - 1 + hidden == len(message.breakdown)
    lines = "\n".join(
        b["text"]["text"] for b in blocks if b.get("block_id", "").startswith("ticketspike_lines")
    )
    hidden = int(re.search(r"\+(\d+) more$", lines).group(1))  # type: ignore[union-attr]
    assert lines.count("line ") + hidden == len(message.lines)
    buttons = block(blocks, "ticketspike_actions")["elements"]
    assert len(buttons) <= 25 and all(len(b["text"]["text"]) <= 75 for b in buttons)
    spark = block(blocks, "ticketspike_sparkline")["elements"][0]["text"]
    assert "last 14 days" in spark


_text = st.text(max_size=400)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    kind=st.sampled_from(list(MessageKind)),
    title=_text,
    name=_text,
    themes=st.lists(_text, max_size=60),
    rows=st.lists(st.tuples(_text, st.integers(0, 10**6), st.integers(0, 100)), max_size=40),
    lines=st.lists(_text, max_size=60),
    links=st.lists(st.tuples(_text, _text), max_size=60),
    counts=st.lists(st.integers(0, 10**6), max_size=100),
)
def test_any_message_renders_within_limits_and_safely(
    kind: MessageKind,
    title: str,
    name: str,
    themes: list[str],
    rows: list[tuple[str, int, int]],
    lines: list[str],
    links: list[tuple[str, str]],
    counts: list[int],
) -> None:
    message = kit.alert(
        kind=kind,
        title=title,
        customer_name=name,
        csm_name=name,
        themes=tuple(themes),
        breakdown=tuple(BreakdownRow(*row) for row in rows),
        lines=tuple(lines),
        ticket_links=tuple(links),
        daily_counts=tuple(counts),
        severity=Severity.HIGH,
    )
    blocks = as_json(message)
    assert fake_slack.block_kit_problem(blocks) is None
    for text_object in texts(blocks):
        assert text_object["verbatim"] is True
        stripped = re.sub(r"<https?://[^|<>\s]+\|[^<>]*>", "", text_object["text"])
        assert "<" not in stripped and ">" not in stripped
    fallback = fallback_text(message)
    assert "<" not in fallback and ">" not in fallback and len(fallback) <= 3000


def test_button_urls_come_from_templates_with_quoted_values() -> None:
    message = kit.alert(customer_id="acme/../<!channel>")
    blocks = as_json(
        message,
        buttons={
            "view_tickets": "https://support.example.com/orgs/{customer_id}/tickets",
            "start_war_room": "https://war.example.com/new?episode={episode_id}",
        },
        episode_id="ep 1",
    )
    elements = block(blocks, "ticketspike_actions")["elements"]
    buttons = {b["text"]["text"]: b for b in elements if b["type"] == "button"}
    assert buttons["View Tickets"]["url"] == (
        "https://support.example.com/orgs/acme%2F..%2F%3C%21channel%3E/tickets"
    )
    assert buttons["Start War Room"]["url"] == "https://war.example.com/new?episode=ep%201"
    assert "url" not in buttons["Draft Response"]
    assert buttons["Draft Response"]["action_id"] == "ticketspike_draft_response"
    assert json.loads(buttons["Draft Response"]["value"]) == {
        "customer_id": "acme/../<!channel>",
        "episode_id": "ep 1",
    }


def test_links_from_the_plan_are_used_and_unsafe_urls_dropped() -> None:
    message = kit.alert(
        links=(
            Link("Open", url="https://app.example.com/c/acme"),
            Link("Sneaky", url="javascript:alert(1)"),
            Link("Ack", action_id="ack_spike"),
        )
    )
    elements = block(as_json(message), "ticketspike_actions")["elements"]
    assert [(e["text"]["text"], e.get("url"), e["action_id"]) for e in elements] == [
        ("Open", "https://app.example.com/c/acme", "ticketspike_open"),
        ("Sneaky", None, "ticketspike_sneaky"),
        ("Ack", None, "ack_spike"),
    ]


def test_quick_actions_and_sparkline_can_be_left_out() -> None:
    blocks = as_json(kit.alert(), quick_actions=False, sparkline_days=0)
    ids = {b.get("block_id") for b in blocks}
    assert "ticketspike_actions" not in ids and "ticketspike_sparkline" not in ids


def test_a_note_renders_its_lines_not_the_alert_layout() -> None:
    blocks = as_json(
        kit.note(
            "Spike resolved", "Volume back to 2/day", "Thanks all", kind=MessageKind.RESOLUTION
        )
    )
    assert blocks[0]["text"]["text"].endswith("Spike resolved")
    assert block(blocks, "ticketspike_lines_0")["text"]["text"] == (
        "Volume back to 2/day\nThanks all"
    )
    assert "ticketspike_actions" not in {b.get("block_id") for b in blocks}


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=90))
def test_sparkline_orders_bars_like_the_counts(counts: list[int]) -> None:
    line = sparkline(counts)
    bars = "▁▂▃▄▅▆▇█"
    assert len(line) == len(counts)
    heights = [bars.index(ch) for ch in line]
    for i, a in enumerate(counts):
        for j, b in enumerate(counts):
            if a < b:
                assert heights[i] <= heights[j]
    if max(counts) > 0:
        assert line[counts.index(max(counts))] == "█"
    else:
        assert set(line) == {"▁"}


def test_an_alert_of_an_episode_leads_with_acknowledge_and_ends_with_snooze_and_resolve() -> None:
    blocks = as_json(kit.alert(), episode_id="ep_1")
    elements = block(blocks, "ticketspike_actions")["elements"]
    buttons = [e for e in elements if e["type"] == "button"]
    assert [b["text"]["text"] for b in buttons] == [
        "Acknowledge",
        "View Tickets",
        "Draft Response",
        "Start War Room",
        "View Customer",
    ]
    assert buttons[0]["action_id"] == "acknowledge" and buttons[0]["style"] == "primary"
    assert json.loads(buttons[0]["value"])["episode_id"] == "ep_1"
    [menu] = [e for e in elements if e["type"] == "overflow"]
    assert [(o["text"]["text"], o["value"]) for o in menu["options"]] == [
        ("Snooze 1h", "snooze_1h"),
        ("Snooze 4h", "snooze_4h"),
        ("Snooze 24h", "snooze_24h"),
        ("Resolve", "resolve"),
    ]
    # Notes and resolutions carry no controls of their own.
    note = as_json(kit.note("Spike escalated", "more"), episode_id="ep_1")
    assert not [b for b in note if b.get("block_id") == "ticketspike_actions"]


def test_an_acted_on_alert_shows_its_status_and_drops_the_controls_that_are_done() -> None:
    from datetime import datetime, timezone

    from ticketspike_slack.blocks import act_line

    at = datetime(2026, 3, 3, 10, 42, tzinfo=timezone.utc)
    line = act_line("Acknowledged", "<!channel> Mike", at)
    assert line == "Acknowledged by &lt;!channel&gt; Mike at 10:42 UTC"
    acked = as_json(kit.alert(), episode_id="ep_1", status=[line], acknowledged=True)
    status = block(acked, "ticketspike_status")
    assert status["elements"][0] == {"type": "mrkdwn", "text": line, "verbatim": True}
    assert acked.index(status) == len(acked) - 2  # just above the buttons
    ids = [e["action_id"] for e in block(acked, "ticketspike_actions")["elements"]]
    assert "acknowledge" not in ids and "ticketspike_more" in ids
    templates = {"view_customer": "https://crm.example/c/{customer_id}"}
    closed = as_json(kit.alert(), episode_id="ep_1", buttons=templates, status=[line], closed=True)
    [left] = block(closed, "ticketspike_actions")["elements"]
    assert left["action_id"] == "ticketspike_view_customer" and left["url"].startswith("https://")
    bare = as_json(kit.alert(), episode_id="ep_1", closed=True)
    assert not [b for b in bare if b.get("type") == "actions"]
    assert not [b for b in bare if b.get("block_id") == "ticketspike_status"]


def test_a_note_about_no_customer_has_no_customer_line() -> None:
    note = AlertMessage(
        kind=MessageKind.NOTE,
        title="TICKET SOURCE QUIET",
        customer_id="",
        customer_name="",
        severity=Severity.HIGH,
        lines=("No deliveries from ticket source <!channel> since 09:00 UTC.",),
        emoji=":warning:",
    )
    blocks = [b.to_dict() for b in render_blocks(note)]
    wire = json.dumps(blocks)
    assert "Customer:" not in wire and "CSM:" not in wire
    assert "&lt;!channel&gt;" in wire and "<!channel>" not in wire
    assert not [b for b in blocks if b["type"] == "actions"]  # nothing to click
