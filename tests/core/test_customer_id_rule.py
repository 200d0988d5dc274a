"""One customer-id rule at every entry, and ids escaped wherever they reach a terminal or log."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike._logsafe import EscapeControl
from ticketspike.errors import InvalidTicket
from ticketspike.model import (
    MAX_CUSTOMER_ID,
    check_customer_id,
    printable,
    ticket_event_from_json,
    ticket_row_from_json,
)
from ticketspike.testing import FixedClock, memory_engine, ticket_event
from ticketspike_slack.escape import mrkdwn

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@pytest.mark.parametrize(
    "bad",
    [
        "acme\nERROR: forged",
        "acme\x1b[31m",
        "ac\x00me",
        "\u202eemca",
        "ac\u200bme",
        "acme\ufeff",
        "x" * (MAX_CUSTOMER_ID + 1),
        "   ",
        "",
        "ac\u2028me",
    ],
    ids=["newline", "esc", "nul", "bidi", "zero-width", "bom", "long", "blank", "empty", "lsep"],
)
def test_unsafe_ids_are_refused_with_the_field_named(bad):
    with pytest.raises(InvalidTicket) as caught:
        check_customer_id(bad, where="t.jsonl:3")
    assert caught.value.field == "customerId"
    assert str(caught.value).startswith("t.jsonl:3: customerId: ")
    assert "\n" not in str(caught.value)


def test_ids_are_nfc_normalised_and_stripped_so_spellings_are_one_customer():
    assert check_customer_id("cafe\u0301") == "caf\u00e9" == check_customer_id("caf\u00e9")
    assert check_customer_id("  acme ") == "acme"
    assert check_customer_id(42) == "42"
    assert check_customer_id("x" * MAX_CUSTOMER_ID) == "x" * MAX_CUSTOMER_ID


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_the_rule_either_refuses_or_returns_a_safe_fixed_point(text):
    try:
        clean = check_customer_id(text)
    except InvalidTicket as exc:
        assert exc.field == "customerId"
        return
    assert 0 < len(clean) <= MAX_CUSTOMER_ID
    assert unicodedata.is_normalized("NFC", clean)
    assert not any(unicodedata.category(c) in UNSAFE for c in clean)
    assert check_customer_id(clean) == clean
    assert printable(clean) == clean


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@st.composite
def ticket_like(draw: st.DrawFn) -> dict:
    obj = {
        "ticketId": draw(st.one_of(st.text(max_size=6), json_values)),
        "customerId": draw(st.one_of(st.text(max_size=10), json_values)),
        "createdAt": draw(st.sampled_from(["2026-03-01T09:30:00Z", "2026-03-01T09:30", 5, ""])),
        "category": draw(st.one_of(st.sampled_from(["technical", "billing"]), json_values)),
        "severity": draw(st.sampled_from(["P1", "p2", "P9", None])),
    }
    extra = draw(
        st.dictionaries(st.sampled_from(["subject", "body", "event", "tags"]), json_values)
    )
    obj.update(extra)
    return obj


@settings(max_examples=300, deadline=None)
@given(ticket_like())
def test_fuzz_the_ticket_parser_refuses_cleanly_or_yields_a_safe_id(obj):
    try:
        event = ticket_event_from_json(obj, where="t.jsonl:1")
    except InvalidTicket as problem:
        with pytest.raises(InvalidTicket) as again:
            ticket_row_from_json(obj, where="t.jsonl:1")
        assert (str(again.value), again.value.field) == (str(problem), problem.field)
        assert str(problem).startswith("t.jsonl:1")
        return
    assert check_customer_id(event.ticket.customer_id) == event.ticket.customer_id
    assert ticket_row_from_json(obj, where="t.jsonl:1")[5] == event.ticket.customer_id


def _line(customer: str) -> str:
    return json.dumps(
        {
            "ticketId": "T-1",
            "customerId": customer,
            "category": "technical",
            "severity": "P2",
            "subject": "x",
            "createdAt": "2026-03-01T09:30:00Z",
        }
    )


@pytest.mark.parametrize("command", ["scan", "replay"])
def test_scan_and_replay_refuse_a_bad_id_with_file_and_line(tmp_path: Path, command):
    path = tmp_path / "t.jsonl"
    path.write_text(_line("acme") + "\n" + _line("ac\u202eme") + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "ticketspike", command, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{path}:2: customerId:" in done.stderr
    assert "\u202e" not in done.stderr + done.stdout


def test_the_engine_refuses_bad_ids_from_any_plugin_and_reads_apply_the_rule():
    engine = memory_engine(clock=FixedClock(NOW))
    result = engine.ingest_many(
        [
            ticket_event("T-1", "ac\nme", NOW - timedelta(hours=1)),
            ticket_event("T-2", "cafe\u0301", NOW - timedelta(hours=1)),
            ticket_event("T-3", "caf\u00e9", NOW - timedelta(hours=1)),
        ]
    )
    assert result.stored == 2
    assert len(result.refused) == 1 and "\n" not in result.refused[0]
    assert engine.summary("cafe\u0301", at=NOW).ticket_count == 2
    with pytest.raises(InvalidTicket):
        engine.banner("ac\nme", at=NOW)


def test_log_lines_escape_what_outside_text_carries(caplog):
    logger = logging.getLogger("ticketspike.test-escape")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(EscapeControl())
    logger.addHandler(handler)
    try:
        logger.warning("customer %s did something", "acme\nERROR: forged \x1b[2J \u202e")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1
    assert "\n" not in records[0] and "\x1b" not in records[0] and "\u202e" not in records[0]
    assert "\\x0a" in records[0] and "\\u202e" in records[0]


def test_slack_text_never_carries_bidi_overrides_or_zero_width_characters():
    assert mrkdwn("ev\u202eil\u200b <!channel>") == "evil &lt;!channel&gt;"
