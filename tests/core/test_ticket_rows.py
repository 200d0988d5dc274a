"""Ticket rows (the detector's fast path) say exactly what ticket events say.

``replay`` and ``scan`` read rows instead of frozen ticket objects; every row,
every refusal, every file error and every transition must be what the event
path gives for the same input.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.errors import InvalidTicket
from ticketspike.model import (
    KIND_ORDER,
    ROW_CATEGORY,
    ROW_CREATED,
    ROW_CUSTOMER,
    ROW_GIVEN,
    ROW_ID,
    ROW_INTERNAL,
    ROW_KIND,
    ROW_PRIORITY,
    ROW_SOURCE,
    ROW_URL,
    ROW_WHEN,
    Category,
    EventKind,
    Priority,
    Ticket,
    TicketEvent,
    TicketRow,
    event_row,
    ticket_event_from_json,
    ticket_row_from_json,
)
from ticketspike.monitor import SpikeMonitor, replay_events, replay_rows
from ticketspike.signals import Transition, TransitionKind
from ticketspike.ticketfile import iter_ticket_events, iter_ticket_rows

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)
BASE: dict[str, Any] = {
    "ticketId": "TKT-1",
    "customerId": "acme",
    "category": "technical",
    "severity": "P2",
    "subject": "API errors",
    "createdAt": "2026-03-01T09:30:00Z",
}
MISSING = object()


# -- one object ------------------------------------------------------------------

OFFSETS = ["Z", "z", "+00:00", "+05:30", "-08:00", "+14:00"]
CATEGORIES = [
    "technical",
    "billing",
    "training",
    "feature_request",
    "other",
    "Feature request",
    "feature-request",
    " BILLING ",
    "Technical",
    "FEATURE_REQUEST",
    "hardware",
    "",
    None,
    7,
    MISSING,
]
SEVERITIES = ["P1", "P2", "P3", "P4", "p1", "p4", " p2 ", None, MISSING]
EVENTS = ["created", "updated", "resolved", "Resolved", " UPDATED ", MISSING]


def stamp(when: datetime, offset: str) -> str:
    if offset in ("Z", "z"):
        return when.replace(tzinfo=None).isoformat() + offset
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = offset[1:].split(":")
    tz = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return when.astimezone(tz).isoformat()


instants = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
    st.integers(0, 10**9),
    st.text(min_size=1, max_size=8).filter(str.strip),
)


@st.composite
def ticket_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "ticketId": draw(ids),
        "customerId": draw(ids),
        "createdAt": stamp(draw(instants), draw(st.sampled_from(OFFSETS))),
        "category": draw(st.sampled_from(CATEGORIES)),
        "severity": draw(st.sampled_from(SEVERITIES)),
        "event": draw(st.sampled_from(EVENTS)),
        "internal": draw(st.sampled_from([True, False, MISSING])),
        "url": draw(st.sampled_from(["https://support.example/1", "", None, MISSING])),
        "source": draw(st.sampled_from(["zendesk", "intercom", "api", "", None, MISSING])),
        "tags": draw(st.one_of(st.just(MISSING), st.lists(st.text(max_size=6), max_size=3))),
        "subject": draw(st.one_of(st.just(MISSING), st.text(max_size=20))),
        "body": draw(st.one_of(st.just(MISSING), st.text(max_size=20))),
    }
    if draw(st.booleans()):
        obj["occurredAt"] = stamp(draw(instants), draw(st.sampled_from(OFFSETS)))
    return {k: v for k, v in obj.items() if v is not MISSING}


@settings(max_examples=300, deadline=None)
@given(obj=ticket_objects(), strict=st.booleans())
def test_row_of_a_valid_object_is_the_row_of_its_event(obj: dict[str, Any], strict: bool) -> None:
    try:
        event = ticket_event_from_json(obj, where="t.jsonl:1", strict_categories=strict)
    except InvalidTicket as problem:
        # Only strict categories and the customer-id rule refuse anything here.
        assert (strict and problem.field == "category") or problem.field == "customerId"
        with pytest.raises(InvalidTicket) as info:
            ticket_row_from_json(obj, where="t.jsonl:1", strict_categories=strict)
        assert (str(info.value), info.value.field) == (str(problem), problem.field)
        return
    row = ticket_row_from_json(obj, where="t.jsonl:1", strict_categories=strict)
    assert row == event_row(event)
    assert [type(x) for x in row] == [type(x) for x in event_row(event)]


@st.composite
def contract_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Exactly the six keys of the ticket contract, with values good and bad."""
    return {
        "ticketId": draw(st.one_of(ids, st.sampled_from(["", "  ", None, True, 3.5]))),
        "customerId": draw(st.one_of(ids, st.sampled_from(["", " ", None, [1]]))),
        "category": draw(st.sampled_from([c for c in CATEGORIES if c is not MISSING] + [[1]])),
        "severity": draw(st.sampled_from([s for s in SEVERITIES if s is not MISSING] + ["P9"])),
        "subject": draw(st.one_of(st.text(max_size=20), st.sampled_from([None, 7, False]))),
        "createdAt": draw(
            st.one_of(
                st.builds(stamp, instants, st.sampled_from(OFFSETS)),
                st.sampled_from(
                    [
                        "2026-01-05T00:00:00",
                        "2026-01-05",
                        "yesterday",
                        "",
                        None,
                        " 2026-01-05T00:00:00Z ",
                        "0001-01-01T00:00:00+05:30",
                    ]
                ),
            )
        ),
    }


@settings(max_examples=400, deadline=None)
@given(obj=contract_objects())
def test_the_six_key_contract_shape_is_read_alike_by_both(obj: dict[str, Any]) -> None:
    try:
        event = ticket_event_from_json(obj, where="t.jsonl:1")
    except InvalidTicket as problem:
        with pytest.raises(InvalidTicket) as info:
            ticket_row_from_json(obj, where="t.jsonl:1")
        assert (str(info.value), info.value.field) == (str(problem), problem.field)
        return
    row = ticket_row_from_json(obj, where="t.jsonl:1")
    assert row == event_row(event)
    assert [type(x) for x in row] == [type(x) for x in event_row(event)]


def test_row_positions_say_what_the_event_says() -> None:
    obj = {
        **BASE,
        "createdAt": "2026-03-01T09:30:00+05:30",
        "occurredAt": "2026-03-02T10:00:00Z",
        "event": "updated",
        "source": "zendesk",
        "url": "https://s.example/1",
        "severity": "p1",
        "category": "Feature request",
    }
    row = ticket_row_from_json(obj)
    created = datetime(2026, 3, 1, 4, 0, tzinfo=UTC).timestamp()
    assert row[ROW_WHEN] == datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()
    assert KIND_ORDER[row[ROW_KIND]] is EventKind.UPDATED
    assert (row[ROW_SOURCE], row[ROW_ID], row[ROW_CREATED], row[ROW_CUSTOMER]) == (
        "zendesk",
        "TKT-1",
        created,
        "acme",
    )
    assert (row[ROW_CATEGORY], row[ROW_PRIORITY], row[ROW_URL]) == (
        Category.FEATURE_REQUEST,
        Priority.P1,
        "https://s.example/1",
    )
    assert (row[ROW_INTERNAL], row[ROW_GIVEN]) == (False, True)


def test_without_occurred_at_a_row_happens_when_the_ticket_was_created() -> None:
    row = ticket_row_from_json({**BASE, "category": "hardware", "internal": True})
    assert row[ROW_WHEN] == row[ROW_CREATED] == datetime(2026, 3, 1, 9, 30, tzinfo=UTC).timestamp()
    assert KIND_ORDER[row[ROW_KIND]] is EventKind.CREATED
    assert (row[ROW_SOURCE], row[ROW_CATEGORY], row[ROW_GIVEN], row[ROW_INTERNAL]) == (
        "api",
        Category.OTHER,
        False,
        True,
    )


BAD: list[tuple[object, bool]] = [
    ([1, 2], False),
    ("a ticket", False),
    (None, False),
    ({k: v for k, v in BASE.items() if k != "ticketId"}, False),
    ({**BASE, "ticketId": "   "}, False),
    ({**BASE, "ticketId": True}, False),
    ({**BASE, "customerId": ""}, False),
    ({**BASE, "customerId": ["a"]}, False),
    ({**BASE, "createdAt": "2026-03-01T09:30:00"}, False),
    ({**BASE, "createdAt": "yesterday"}, False),
    ({**BASE, "createdAt": 1767600000}, False),
    ({k: v for k, v in BASE.items() if k != "createdAt"}, False),
    ({**BASE, "severity": "P9"}, False),
    ({**BASE, "severity": 1}, False),
    ({**BASE, "event": "deleted"}, False),
    ({**BASE, "internal": "yes"}, False),
    ({**BASE, "internal": 1}, False),
    ({**BASE, "tags": "api"}, False),
    ({**BASE, "tags": ["api", 3]}, False),
    ({**BASE, "url": 42}, False),
    ({**BASE, "subject": ["x"]}, False),
    ({**BASE, "source": 1.5}, False),
    ({**BASE, "category": "hardware"}, True),
    ({**BASE, "category": 7}, True),
    ({**BASE, "occurredAt": "soon"}, False),
    ({**BASE, "occurredAt": "2026-03-01T10:00:00"}, False),
    ({**BASE, "occurredAt": None}, False),
]


@pytest.mark.parametrize(("obj", "strict"), BAD)
def test_a_bad_object_is_refused_alike_by_both(obj: object, strict: bool) -> None:
    with pytest.raises(InvalidTicket) as from_event:
        ticket_event_from_json(obj, where="t.jsonl:7", strict_categories=strict)
    with pytest.raises(InvalidTicket) as from_row:
        ticket_row_from_json(obj, where="t.jsonl:7", strict_categories=strict)
    assert str(from_row.value) == str(from_event.value)
    assert from_row.value.field == from_event.value.field
    assert from_row.value.where == from_event.value.where == "t.jsonl:7"


# -- files -----------------------------------------------------------------------


def line(tid: str, cid: str = "acme", **extra: Any) -> str:
    obj = {**BASE, "ticketId": tid, "customerId": cid, **extra}
    return json.dumps({k: v for k, v in obj.items() if v is not MISSING}) + "\n"


def rows_of_events(path: Path, **options: Any) -> list[TicketRow]:
    return [event_row(e) for e in iter_ticket_events(path, **options)]


def test_file_rows_are_the_rows_of_the_file_events(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        "\n"
        + line("1")
        + "   \n"
        + line(
            "2", "globex", category="hardware", severity="p4", createdAt="2026-03-01T11:00:00+05:30"
        )
        + "\t\r\n"
        + line("1", event="updated", occurredAt="2026-03-01T12:00:00Z", category="billing")
        + line("3", internal=True, url="https://s.example/3", source="zendesk")
        + line("2", "globex", event="resolved", occurredAt="2026-03-02T08:00:00-08:00")
        + "\n\n",
        encoding="utf-8",
    )
    rows = list(iter_ticket_rows(path))
    assert rows == rows_of_events(path)
    assert [r[ROW_ID] for r in rows] == ["1", "2", "1", "3", "2"]


def test_file_without_final_newline_or_with_crlf_reads_alike(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(line("1").replace("\n", "\r\n").encode() + line("2").rstrip("\n").encode())
    assert list(iter_ticket_rows(path)) == rows_of_events(path)
    assert len(rows_of_events(path)) == 2


def test_empty_file_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text("", encoding="utf-8")
    assert list(iter_ticket_rows(path)) == [] == rows_of_events(path)


def refusal(path: Path, reader: Any, **options: Any) -> InvalidTicket:
    with pytest.raises(InvalidTicket) as info:
        list(reader(path, **options))
    return info.value


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ('{"ticketId": "x", \n', ""),
        ("not json at all\n", ""),
        ("[1, 2]\n", ""),
        ("null\n", ""),
        (line("9", severity="P9"), "severity"),
        (line("9", createdAt="2026-03-01T09:30:00"), "createdAt"),
        (line("9", customerId=""), "customerId"),
        (line("9", occurredAt="later"), "occurredAt"),
        (line("9", tags=[1]), "tags"),
    ],
)
def test_a_bad_line_is_refused_naming_file_line_and_field(
    tmp_path: Path, bad: str, field: str
) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(line("1") + "\n" + line("2") + bad + line("3"), encoding="utf-8")
    from_rows = refusal(path, iter_ticket_rows)
    assert str(from_rows).startswith(f"{path}:4: ")
    assert from_rows.where == f"{path}:4"
    assert from_rows.field == field
    if field:
        assert str(from_rows).startswith(f"{path}:4: {field}: ")
    from_events = refusal(path, iter_ticket_events)
    assert (str(from_rows), from_rows.field) == (str(from_events), from_events.field)


def test_a_bad_line_stops_the_file_after_the_good_rows_before_it(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(line("1") + line("2") + "{oops\n" + line("3"), encoding="utf-8")
    seen: list[str] = []
    with pytest.raises(InvalidTicket, match=r":3: malformed JSON"):
        for row in iter_ticket_rows(path):
            seen.append(row[ROW_ID])
    assert seen == ["1", "2"]


def test_unknown_category_is_refused_with_its_line_when_strict(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(line("1") + line("2", category="hardware"), encoding="utf-8")
    assert list(iter_ticket_rows(path)) == rows_of_events(path)
    strict = refusal(path, iter_ticket_rows, strict_categories=True)
    assert str(strict).startswith(f"{path}:2: category: unknown category 'hardware'")
    assert str(strict) == str(refusal(path, iter_ticket_events, strict_categories=True))


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jsonl"
    problem = refusal(path, iter_ticket_rows)
    assert str(problem) == f"{path}: file not found"
    assert str(problem) == str(refusal(path, iter_ticket_events))


def test_unreadable_path_is_refused_alike(tmp_path: Path) -> None:
    problem = refusal(tmp_path, iter_ticket_rows)
    assert str(problem).startswith(f"{tmp_path}: cannot read file")
    assert str(problem) == str(refusal(tmp_path, iter_ticket_events))


def test_on_line_reports_progress_and_ends_at_the_last_line_and_file_size(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.jsonl"
    lines = [line(str(i), f"c{i % 7}") if i % 1000 else "\n" for i in range(1, 9001)]
    path.write_text("".join(lines), encoding="utf-8")
    calls: list[tuple[int, int]] = []
    rows = list(iter_ticket_rows(path, on_line=lambda n, read: calls.append((n, read))))
    assert len(rows) == 9000 - 9
    numbers = [n for n, _ in calls]
    sizes = [read for _, read in calls]
    assert numbers == sorted(numbers) and len(calls) >= 2
    assert sizes == sorted(sizes)
    assert calls[-1] == (9000, path.stat().st_size)
    for n, read in calls:
        assert read == len("".join(lines[:n]).encode())


def test_on_line_ends_at_the_size_of_a_file_with_trailing_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(line("1") + line("2") + "\n  \n", encoding="utf-8")
    calls: list[tuple[int, int]] = []
    list(iter_ticket_rows(path, on_line=lambda n, read: calls.append((n, read))))
    assert calls and calls[-1] == (4, path.stat().st_size)


# -- categorize ------------------------------------------------------------------


def test_categorize_fills_in_only_tickets_whose_category_was_not_given(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        line("given", category="technical", subject="invoice wrong")
        + line("none", category=None, subject="my invoice is wrong")
        + line("unknown", category="hardware", subject="how do I export?")
        + line("other", category="other", subject="printer on fire")
        + line(
            "missing",
            subject="invoice again",
            event="updated",
            occurredAt="2026-03-02T00:00:00Z",
            category=MISSING,
        )
        + line("internal", category=None, subject="invoice note", internal=True)
        + line("given-too", category="Billing", subject="how do I pay?"),
        encoding="utf-8",
    )
    called: list[str] = []

    def categorize(ticket: Ticket) -> Ticket:
        called.append(ticket.ticket_id)
        assert ticket.subject  # the text is there to classify
        if "invoice" in ticket.subject:
            return attrs.evolve(ticket, category=Category.BILLING, category_given=True)
        if "how do I" in ticket.subject:
            return attrs.evolve(ticket, category=Category.TRAINING)  # still not "given"
        return ticket

    rows = list(iter_ticket_rows(path, categorize=categorize))
    assert called == ["none", "unknown", "other", "missing"]
    called.clear()
    expected = []
    for event in iter_ticket_events(path):
        t = event.ticket
        if not t.category_given and not t.internal:
            event = attrs.evolve(event, ticket=categorize(t))
        expected.append(event_row(event))
    assert rows == expected
    by_id = {(r[ROW_ID], r[ROW_KIND]): r for r in rows}
    assert (by_id["none", 0][ROW_CATEGORY], by_id["none", 0][ROW_GIVEN]) == (Category.BILLING, True)
    assert (by_id["unknown", 0][ROW_CATEGORY], by_id["unknown", 0][ROW_GIVEN]) == (
        Category.TRAINING,
        False,
    )
    assert (by_id["other", 0][ROW_CATEGORY], by_id["other", 0][ROW_GIVEN]) == (
        Category.OTHER,
        False,
    )
    assert (by_id["missing", 1][ROW_CATEGORY], by_id["missing", 1][ROW_GIVEN]) == (
        Category.BILLING,
        True,
    )
    assert by_id["missing", 1][ROW_WHEN] == datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    assert (by_id["internal", 0][ROW_CATEGORY], by_id["internal", 0][ROW_GIVEN]) == (
        Category.OTHER,
        False,
    )
    assert (by_id["given", 0][ROW_CATEGORY], by_id["given-too", 0][ROW_CATEGORY]) == (
        Category.TECHNICAL,
        Category.BILLING,
    )
    assert by_id["given", 0] == ticket_row_from_json(
        json.loads(line("given", category="technical", subject="invoice wrong"))
    )


def test_categorize_is_not_called_when_every_category_is_given(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(line("1") + line("2", category="billing"), encoding="utf-8")

    def categorize(ticket: Ticket) -> Ticket:
        raise AssertionError(f"called for {ticket.ticket_id}")

    assert list(iter_ticket_rows(path, categorize=categorize)) == rows_of_events(path)


def test_real_categorize_gives_the_rows_of_categorized_events(tmp_path: Path) -> None:
    from ticketspike.text.classify import categorize

    path = tmp_path / "tickets.jsonl"
    path.write_text(
        line("1", category=None, subject="Charged twice on my invoice, need a refund")
        + line("2", category=None, subject="Login page returns error 500")
        + line("3", category="technical", subject="Charged twice on my invoice")
        + line("4", category=None, subject="hello"),
        encoding="utf-8",
    )
    rows = list(iter_ticket_rows(path, categorize=categorize))
    expected = []
    for event in iter_ticket_events(path):
        expected.append(event_row(attrs.evolve(event, ticket=categorize(event.ticket))))
    assert rows == expected
    assert rows[2][ROW_CATEGORY] is Category.TECHNICAL


# -- the monitor -----------------------------------------------------------------

CUSTOMERS = ("a", "b", "c")


@st.composite
def deliveries(draw: st.DrawFn) -> list[TicketEvent]:
    """Ticket events for a few customers over a few days, with bursts, updates,
    resolutions, internal notes and duplicates, delivered within the lateness bound."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    days = draw(st.integers(1, 6))
    events: list[tuple[float, float, TicketEvent]] = []
    serial = 0
    for cid in draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3, unique=True)):
        rate = draw(st.sampled_from([0.5, 2.0, 5.0]))
        for day in range(days):
            n = sum(rng.random() < rate / 6 for _ in range(6))
            burst = rng.random() < 0.3
            if burst:
                n += rng.randrange(5, 30)
            burst_at = rng.randrange(0, 80000)
            for _ in range(n):
                serial += 1
                offset = burst_at + rng.randrange(3 * 3600) if burst else rng.randrange(86400)
                created = START + timedelta(days=day, seconds=offset)
                ticket = Ticket(
                    ticket_id=f"t{serial % 40}" if rng.random() < 0.1 else f"t{serial}",
                    customer_id=cid,
                    created_at=created,
                    category=rng.choice(list(Category)),
                    priority=rng.choice(list(Priority)),
                    source=rng.choice(["api", "api", "zendesk"]),
                    url=f"https://s.example/{serial}" if rng.random() < 0.5 else None,
                    internal=rng.random() < 0.05,
                    category_given=rng.random() < 0.8,
                )
                story = [TicketEvent(ticket=ticket)]
                if rng.random() < 0.2:
                    later = created + timedelta(seconds=rng.randrange(1, 40000))
                    story.append(
                        TicketEvent(
                            ticket=attrs.evolve(
                                ticket,
                                category=rng.choice(list(Category)),
                                priority=rng.choice(list(Priority)),
                            ),
                            kind=EventKind.UPDATED,
                            occurred_at=later,
                        )
                    )
                if rng.random() < 0.15:
                    later = created + timedelta(seconds=rng.randrange(0, 90000))
                    story.append(
                        TicketEvent(ticket=ticket, kind=EventKind.RESOLVED, occurred_at=later)
                    )
                for event in story:
                    for _ in range(2 if rng.random() < 0.1 else 1):
                        delay = rng.uniform(0, 23.9 * 3600) if rng.random() < 0.3 else 0.0
                        events.append((event.at.timestamp() + delay, rng.random(), event))
    events.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in events]


def in_time_order(events: list[TicketEvent]) -> list[TicketEvent]:
    """What the reorder buffer should restore: time, kind, then ticket key; arrival on a tie."""
    return sorted(
        events, key=lambda e: (e.at, KIND_ORDER.index(e.kind), e.ticket.source, e.ticket.ticket_id)
    )


def ingested(events: list[TicketEvent]) -> list[Transition]:
    monitor = SpikeMonitor()
    return [t for e in events for t in monitor.ingest(e)]


def ingested_rows(events: list[TicketEvent]) -> list[Transition]:
    monitor = SpikeMonitor()
    out: list[Transition] = []
    for e in events:
        monitor.ingest_row(event_row(e), out)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=deliveries())
def test_rows_and_events_give_the_same_transitions(events: list[TicketEvent]) -> None:
    from_rows = list(replay_rows(map(event_row, events), SpikeMonitor()))
    from_events = list(replay_events(events, SpikeMonitor()))
    assert from_rows == from_events
    ordered = in_time_order(events)
    one_by_one = ingested(ordered)
    assert ingested_rows(ordered) == one_by_one
    assert from_rows == one_by_one


def spiky_events() -> list[TicketEvent]:
    events = []
    for day in range(10):
        for i in range(2):
            created = START + timedelta(days=day, hours=3 + 8 * i)
            events.append(
                TicketEvent(
                    ticket=Ticket(ticket_id=f"q{day}-{i}", customer_id="acme", created_at=created)
                )
            )
    for i in range(20):
        created = START + timedelta(days=10, hours=2, minutes=7 * i)
        events.append(
            TicketEvent(
                ticket=Ticket(
                    ticket_id=f"s{i}",
                    customer_id="acme",
                    created_at=created,
                    category=Category.TECHNICAL,
                    priority=Priority.P1,
                )
            )
        )
    events.append(
        TicketEvent(
            ticket=Ticket(
                ticket_id="late", customer_id="globex", created_at=START + timedelta(days=13)
            )
        )
    )
    return events


def test_a_clear_spike_opens_an_episode_on_both_paths() -> None:
    events = spiky_events()
    from_rows = list(replay_rows(map(event_row, events), SpikeMonitor()))
    from_events = list(replay_events(events, SpikeMonitor()))
    assert from_rows == from_events
    assert ingested(events) == ingested_rows(events) == from_rows
    kinds = [t.kind for t in from_rows]
    assert TransitionKind.OPENED in kinds
    assert {t.customer_id for t in from_rows} == {"acme"}


def test_a_spike_of_internal_tickets_opens_nothing_on_either_path() -> None:
    events = [
        attrs.evolve(e, ticket=attrs.evolve(e.ticket, internal=True))
        if e.ticket.ticket_id.startswith("s")
        else e
        for e in spiky_events()
    ]
    assert list(replay_rows(map(event_row, events), SpikeMonitor())) == []
    assert ingested(events) == ingested_rows(events) == []


def test_a_spike_read_from_a_file_as_rows_opens_as_from_events(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        "".join(json.dumps(e.ticket.to_json()) + "\n" for e in spiky_events()), encoding="utf-8"
    )
    from_rows = list(replay_rows(iter_ticket_rows(path), SpikeMonitor()))
    from_events = list(replay_events(iter_ticket_events(path), SpikeMonitor()))
    assert from_rows == from_events
    assert TransitionKind.OPENED in [t.kind for t in from_rows]
