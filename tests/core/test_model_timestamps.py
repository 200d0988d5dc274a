"""One timestamp grammar on every supported Python (3.10's and 3.11's fromisoformat differ).

Also run under the oldest supported interpreter by ``.ci/run`` where one is
installed; the cases below are exactly those where 3.10 and 3.11 disagree.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketspike.errors import InvalidTicket
from ticketspike.model import parse_time, ticket_event_from_json, ticket_row_from_json

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Refused by 3.10's fromisoformat (Z, 2 or 7 fraction digits), accepted by 3.11's.
        ("2026-03-01T09:30:00.12Z", datetime(2026, 3, 1, 9, 30, 0, 120000, tzinfo=UTC)),
        ("2026-03-01T09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01t09:30:00z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T09:30:00.1234567+00:00", datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-01T09:30:00,5Z", datetime(2026, 3, 1, 9, 30, 0, 500000, tzinfo=UTC)),
        ("2026-03-01 09:30+0530", datetime(2026, 3, 1, 4, 0, tzinfo=UTC)),
        ("2026-03-01T09:30:00-02", datetime(2026, 3, 1, 11, 30, tzinfo=UTC)),
        ("  2026-03-01T09:30:00Z ", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T09:30:00.123Z", datetime(2026, 3, 1, 9, 30, 0, 123000, tzinfo=UTC)),
        ("2026-03-01T09:30:00.123456Z", datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)),
    ],
)
def test_accepted_the_same_everywhere(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected and parsed.tzinfo is UTC
    row = ticket_row_from_json({"ticketId": "t", "customerId": "c", "createdAt": text})
    assert row[4] == expected.timestamp()
    event = ticket_event_from_json({"ticketId": "t", "customerId": "c", "createdAt": text})
    assert event.ticket.created_at == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # Accepted by 3.11's fromisoformat only: week dates, basic format, ordinal dates.
        ("2026-W09-7T10:00:00Z", "not an ISO-8601 timestamp"),
        ("20260301T093000Z", "not an ISO-8601 timestamp"),
        ("2026-060T09:30:00Z", "not an ISO-8601 timestamp"),
        ("2026-03-01T09:30:00", "no UTC offset"),
        ("2026-03-01", "no UTC offset"),
        ("2026-02-30T00:00:00Z", "not a valid date"),
        ("2026-03-01T24:00:00Z", "not a valid date"),
        ("9999-12-31T23:59:59-01:00", "outside the range"),
        ("yesterday", "not an ISO-8601 timestamp"),
        # Shaped like the fast path's spellings, but not them.
        ("2026-03-01T09:30:00.1+2Z", "not an ISO-8601 timestamp"),
        ("2026-03-01T09:30:00.12\u0663Z", "not an ISO-8601 timestamp"),
    ],
)
def test_refused_the_same_everywhere(text: str, why: str) -> None:
    with pytest.raises(InvalidTicket, match=why):
        parse_time(text, where="t.jsonl:3")
    with pytest.raises(InvalidTicket, match=why):
        ticket_row_from_json({"ticketId": "t", "customerId": "c", "createdAt": text})


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(-14 * 60, 14 * 60),
    st.sampled_from(["isoformat", "z", "millis"]),
)
def test_round_trips_every_instant(naive: datetime, offset_min: int, style: str) -> None:
    tz = timezone(timedelta(minutes=offset_min))
    aware = naive.replace(tzinfo=tz)
    if style == "isoformat":
        text = aware.isoformat()
        expected = aware
    elif style == "z":
        text = naive.replace(microsecond=0).isoformat() + "Z"
        expected = naive.replace(microsecond=0, tzinfo=UTC)
    else:
        text = naive.isoformat(timespec="milliseconds") + "Z"
        expected = naive.replace(microsecond=naive.microsecond // 1000 * 1000, tzinfo=UTC)
    assert parse_time(text) == expected
    row = ticket_row_from_json(
        json.loads(json.dumps({"ticketId": "t", "customerId": "c", "createdAt": text}))
    )
    assert row[4] == expected.timestamp()
