"""The canonical ticket JSON contract (docs/cli.md): what is accepted, what is refused, and how."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketspike import Category, EventKind, InvalidTicket, Priority, ticket_event_from_json

BASE = {
    "ticketId": "TKT-1",
    "customerId": "acme",
    "category": "technical",
    "severity": "P2",
    "subject": "API errors",
    "createdAt": "2026-03-01T09:30:00Z",
}


def parse(**changes: object) -> object:
    obj = {**BASE, **changes}
    return ticket_event_from_json({k: v for k, v in obj.items() if v is not ...}, where="t.jsonl:3")


def test_round_trip_of_a_full_ticket() -> None:
    event = parse(url="https://x/1", tags=["api"], internal=False, body="500s", event="updated")
    ticket = event.ticket
    assert ticket.created_at == datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    assert (ticket.category, ticket.priority, event.kind) == (
        Category.TECHNICAL,
        Priority.P2,
        EventKind.UPDATED,
    )
    again = ticket_event_from_json(ticket.to_json())
    assert again.ticket == ticket


@pytest.mark.parametrize("spelling", ["feature request", "Feature-Request", "FEATURE_REQUEST"])
def test_feature_request_spellings(spelling: str) -> None:
    assert parse(category=spelling).ticket.category is Category.FEATURE_REQUEST


@pytest.mark.parametrize("category", [..., "hardware", None, 7])
def test_unknown_or_missing_category_becomes_other_and_is_marked_unclassified(
    category: object,
) -> None:
    ticket = parse(category=category).ticket
    assert ticket.category is Category.OTHER and ticket.category_given is False


def test_strict_categories_refuses_unknown_category_naming_the_field() -> None:
    with pytest.raises(InvalidTicket, match=r"^t\.jsonl:3: category: unknown category 'hardware'"):
        ticket_event_from_json(
            {**BASE, "category": "hardware"}, where="t.jsonl:3", strict_categories=True
        )


def test_missing_severity_is_p3_and_case_is_ignored() -> None:
    assert parse(severity=...).ticket.priority is Priority.P3
    assert parse(severity="p1").ticket.priority is Priority.P1


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"ticketId": ...}, "ticketId", "missing required field"),
        ({"customerId": ""}, "customerId", "must not be empty"),
        ({"customerId": ["a"]}, "customerId", "expected a string"),
        ({"createdAt": "2026-03-01T09:30:00"}, "createdAt", "no UTC offset"),
        ({"createdAt": "yesterday"}, "createdAt", "not an ISO-8601 timestamp"),
        ({"createdAt": ...}, "createdAt", "expected an ISO-8601 timestamp"),
        ({"severity": "P9"}, "severity", "expected P1, P2, P3 or P4"),
        ({"event": "deleted"}, "event", "expected created, updated or resolved"),
        ({"internal": "yes"}, "internal", "expected true or false"),
        ({"tags": "api"}, "tags", "expected a list of strings"),
    ],
)
def test_bad_input_is_one_line_naming_where_and_field(
    changes: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(InvalidTicket) as info:
        parse(**changes)
    message = str(info.value)
    assert message.startswith(f"t.jsonl:3: {field}: ")
    assert fragment in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_not_an_object() -> None:
    with pytest.raises(InvalidTicket, match="expected a JSON object, got list"):
        ticket_event_from_json([1, 2], where="x")


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_any_offset_is_normalised_to_the_same_instant_in_utc(naive: datetime, minutes: int) -> None:
    tz = timezone(timedelta(minutes=minutes))
    local = naive.replace(tzinfo=tz)
    ticket = parse(createdAt=local.isoformat()).ticket
    assert ticket.created_at == local
    assert ticket.created_at.utcoffset() == timedelta(0)


def test_hostile_subject_is_kept_verbatim_as_data() -> None:
    subject = "<!channel> {{ 7*7 }} <@U123> <https://evil|click> \u202e"
    assert parse(subject=subject).ticket.subject == subject
