"""Tickets, accounts and the enums everything else speaks in.

This is the floor of the package: it imports nothing of ours but the error
tree, performs no I/O and never reads the clock. Every value is a frozen,
slotted attrs class, so a ticket handed to a plugin cannot be changed under
the engine's feet.
"""

from __future__ import annotations

import enum
import functools
import operator
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final, NamedTuple

import attrs

from .errors import InvalidTicket

__all__ = [
    "Account",
    "Category",
    "EventKind",
    "Person",
    "Priority",
    "Ticket",
    "TicketEvent",
    "KIND_ORDER",
    "MAX_CUSTOMER_ID",
    "TicketFields",
    "TicketRow",
    "check_customer_id",
    "printable",
    "event_row",
    "merge_update",
    "parse_time",
    "ticket_event_from_json",
    "ticket_fields",
    "ticket_row_from_json",
]


class Category(str, enum.Enum):
    """What a ticket is about (docs/classification.md). ``OTHER`` when nobody can tell."""

    TECHNICAL = "technical"
    BILLING = "billing"
    TRAINING = "training"
    FEATURE_REQUEST = "feature_request"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> Category | None:
        """The category a spelling names, or ``None`` if it names none.

        Accepts any case and ``feature request`` / ``feature-request``.
        """
        if not isinstance(value, str):
            return None
        key = "_".join(value.strip().lower().replace("-", " ").split())
        try:
            return cls(key)
        except ValueError:
            return None

    @property
    def label(self) -> str:
        """Human label: ``Feature request``."""
        return self.value.replace("_", " ").capitalize()


class Priority(str, enum.Enum):
    """Ticket severity P1 (most urgent) to P4 (the ticket JSON's ``priority``, docs/http.md)."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @classmethod
    def parse(cls, value: object) -> Priority | None:
        if not isinstance(value, str):
            return None
        try:
            return cls(value.strip().upper())
        except ValueError:
            return None


class EventKind(str, enum.Enum):
    """What happened to a ticket (docs/http.md, webhooks)."""

    CREATED = "created"
    UPDATED = "updated"
    RESOLVED = "resolved"


def _aware(value: datetime) -> datetime:
    tz = value.tzinfo
    if tz is None or (tz is not timezone.utc and value.utcoffset() is None):
        raise ValueError("naive datetime: add a UTC offset such as +00:00 or Z")
    return value


@attrs.frozen
class Ticket:
    """One support ticket as ticketspike counts it.

    ``internal`` marks internal notes and agent-created tickets: they are stored
    but never count as customer volume (docs/detection.md).
    ``category_given`` is False when the source named no usable category, so a
    classifier may refine ``category``.
    """

    ticket_id: str
    customer_id: str
    created_at: datetime = attrs.field(validator=lambda _i, _a, v: _aware(v))
    category: Category = Category.OTHER
    priority: Priority = Priority.P3
    subject: str = ""
    source: str = "api"
    url: str | None = None
    internal: bool = False
    body: str = ""
    tags: tuple[str, ...] = ()
    category_given: bool = True

    @property
    def key(self) -> tuple[str, str]:
        """Identity for deduplication: the same source and id count once."""
        return (self.source, self.ticket_id)

    def to_json(self) -> dict[str, Any]:
        """The canonical ticket JSON (docs/cli.md), with the optional keys set."""
        out: dict[str, Any] = {
            "ticketId": self.ticket_id,
            "customerId": self.customer_id,
            "category": self.category.value,
            "severity": self.priority.value,
            "subject": self.subject,
            "createdAt": self.created_at.isoformat(),
            "source": self.source,
        }
        if self.url:
            out["url"] = self.url
        if self.internal:
            out["internal"] = True
        if self.body:
            out["body"] = self.body
        if self.tags:
            out["tags"] = list(self.tags)
        return out


@attrs.frozen
class TicketEvent:
    """A ticket that was created, updated or resolved at ``occurred_at``.

    ``event_id`` is the source's delivery id when it has one (used to drop
    replayed webhooks); the ticket's own identity is ``ticket.key``.
    """

    ticket: Ticket
    kind: EventKind = EventKind.CREATED
    occurred_at: datetime | None = None
    event_id: str | None = None

    @property
    def at(self) -> datetime:
        """When it happened: ``occurred_at``, or the ticket's creation time."""
        return self.occurred_at if self.occurred_at is not None else self.ticket.created_at


@attrs.frozen
class Person:
    """Someone a plan addresses: a CSM, a manager, a champion.

    ``slack_id`` lets a notifier skip a lookup by email; ``manager`` is set on
    CSMs whose manager is known (the manager is reminded).
    """

    name: str = ""
    email: str | None = None
    slack_id: str | None = None
    manager: Person | None = None


@attrs.frozen
class Account:
    """What the planner and detector know about a customer.

    Everything but ``id`` is optional, and plans degrade gracefully (with a
    note) when a piece is missing. ``seats`` is the size measure the detector
    scales industry baselines by (docs/detection.md); ``segment`` picks the industry
    baseline; ``war_room`` is the id of an active war room, if any.
    """

    id: str
    name: str = ""
    arr: float | None = None
    health_score: float | None = None
    previous_health_score: float | None = None
    segment: str | None = None
    seats: int | None = None
    organization: str | None = None
    csm: Person | None = None
    champion: Person | None = None
    first_seen: datetime | None = None
    war_room: str | None = None
    logo_url: str | None = None  # shown on the dashboard when it is an http(s) URL

    @property
    def display_name(self) -> str:
        return self.name or self.id


def parse_time(value: object, *, where: str = "", field: str = "createdAt") -> datetime:
    """Parse an ISO-8601 instant with an offset or ``Z``; naive times are refused.

    The result is always in UTC.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidTicket(
            "expected an ISO-8601 timestamp with offset, such as 2026-03-01T09:30:00Z",
            where=where,
            field=field,
        )
    try:
        return _utc_instant(value)
    except _NotAnInstant as problem:
        raise InvalidTicket(str(problem), where=where, field=field) from None


class _NotAnInstant(ValueError):
    pass


# One grammar on every supported Python: ISO-8601 extended date and time with
# an offset (RFC 3339, plus a space for the T, a comma for the point and an
# offset without colon). Python 3.11's ``fromisoformat`` accepts much more
# (week dates, basic format, any fraction) and 3.10's much less (no ``Z``,
# only 3 or 6 fraction digits), so neither decides what a ticket may say.
_ISO_INSTANT: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)",
    re.ASCII,
)
_UTC: Final = timezone.utc


# Ticket files repeat timestamps (minute precision is common) and parsing is the hot path
# of ``replay``, so recent answers are memoised; the results are immutable and the memo
# small (a few thousand entries: bursts repeat timestamps, whole files rarely do).
@functools.lru_cache(maxsize=4096)
def _utc_instant(value: str) -> datetime:
    text = value.strip()
    m = _ISO_INSTANT.fullmatch(text)
    if m is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?", text):
            raise _NotAnInstant(
                f"{value!r} has no UTC offset; naive timestamps are ambiguous (add Z or +00:00)"
            )
        raise _NotAnInstant(
            f"{value!r} is not an ISO-8601 timestamp (expected e.g. 2026-03-01T09:30:00Z)"
        )
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
    micro = int((fraction + "00000")[:6]) if fraction else 0  # truncated to microseconds
    try:
        if zulu:
            tz = _UTC
        else:
            offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
            tz = _UTC if not offset else timezone(-offset if sign == "-" else offset)
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
        )
    except ValueError:
        raise _NotAnInstant(
            f"{value!r} is not a valid date and time (expected e.g. 2026-03-01T09:30:00Z)"
        ) from None
    if tz is _UTC:
        return parsed
    try:
        return parsed.astimezone(_UTC)
    except OverflowError:
        raise _NotAnInstant(
            f"{value!r} is outside the range of dates (years 1 to 9999 in UTC)"
        ) from None


#: The longest customer id accepted anywhere (characters, after normalisation).
MAX_CUSTOMER_ID: Final = 256
# Unicode categories no id may hold: controls, format characters (bidi overrides, zero-width
# joiners and spaces, the BOM), surrogates, private use, unassigned, line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_customer_id(value: object, *, where: str = "", field: str = "customerId") -> str:
    """The one rule for customer ids, at every entry (files, webhooks, backfill, reads).

    The id is NFC-normalised and stripped of surrounding spaces, so two spellings of one
    name are one customer; it must then be 1 to :data:`MAX_CUSTOMER_ID` characters with
    no control, format (bidi override, zero-width), surrogate, private-use, unassigned
    or non-ASCII space character, so an id can never forge a log line, reorder a terminal
    or a Slack message, or be stored in a form the read API cannot ask for. Returns the
    normalised id; raises :class:`InvalidTicket` naming ``where`` and ``field`` otherwise.
    """
    if value is None:
        raise InvalidTicket("missing required field", where=where, field=field)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidTicket(
            f"expected a string, got {type(value).__name__}", where=where, field=field
        )
    text = str(value)
    if text.isascii():
        text = text.strip()
        if 0 < len(text) <= MAX_CUSTOMER_ID and text.isprintable():
            return text
    else:
        text = unicodedata.normalize("NFC", text.strip())
    if not text:
        raise InvalidTicket("must not be empty", where=where, field=field)
    if len(text) > MAX_CUSTOMER_ID:
        raise InvalidTicket(
            f"longer than {MAX_CUSTOMER_ID} characters ({len(text)})", where=where, field=field
        )
    for char in text:
        # Spaces other than U+0020 (no-break, ideographic...) are not printable either:
        # they would make lookalike ids of one another.
        if not char.isprintable() or unicodedata.category(char) in _UNSAFE_CATEGORIES:
            raise InvalidTicket(
                f"contains U+{ord(char):04X} ({unicodedata.category(char)}); ids may not hold "
                "control, bidi, zero-width, unassigned or non-ASCII space characters",
                where=where,
                field=field,
            )
    return text


def printable(text: str) -> str:
    """``text`` with every control, format or separator character escaped (``\\u202e``).

    For anything from outside (ids, subjects) on its way to a terminal or a log line:
    it cannot start a new line, move the cursor, or reverse the text after it.
    """
    if text.isascii() and text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable() and unicodedata.category(char) not in _UNSAFE_CATEGORIES:
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def _text(obj: Mapping[str, Any], key: str, *, where: str, required: bool) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidTicket("missing required field", where=where, field=key)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidTicket(
            f"expected a string, got {type(value).__name__}", where=where, field=key
        )
    text = str(value)
    if required and not text.strip():
        raise InvalidTicket("must not be empty", where=where, field=key)
    return text


# Exact spellings seen on the hot path; anything else takes the forgiving slow path.
_CATEGORY_FAST = {c.value: c for c in Category}
_PRIORITY_FAST = {**{p.value: p for p in Priority}, **{p.value.lower(): p for p in Priority}}
_KIND_FAST = {k.value: k for k in EventKind}


def _fast_text(obj: Mapping[str, Any], key: str, *, where: str) -> str:
    value = obj.get(key)
    if type(value) is str and value.strip():
        return value
    return _text(obj, key, where=where, required=True)


def _optional_text(obj: Mapping[str, Any], key: str, *, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if type(value) is str:
        return value
    return _text(obj, key, where=where, required=False)


class TicketRow(NamedTuple):
    """A ticket event as the detector reads it (see :func:`ticket_row_from_json`).

    A named tuple, because a detector that counts a million tickets should not
    pay for a million frozen objects it never hands to anyone, and the fields
    still read by name. Its first four items are its replay order.
    """

    when: float  #: when the event happened (``occurredAt``, else the creation time)
    kind: int  #: the event kind's place in :data:`KIND_ORDER`
    source: str
    ticket_id: str
    created: float
    customer_id: str
    category: Category
    priority: Priority
    url: str | None
    internal: bool
    category_given: bool


# Positions in a TicketRow, for code that sorts or slices rows as plain tuples.
ROW_WHEN: Final = 0
ROW_KIND: Final = 1
ROW_SOURCE: Final = 2
ROW_ID: Final = 3
ROW_CREATED: Final = 4
ROW_CUSTOMER: Final = 5
ROW_CATEGORY: Final = 6
ROW_PRIORITY: Final = 7
ROW_URL: Final = 8
ROW_INTERNAL: Final = 9
ROW_GIVEN: Final = 10

#: The identity under which a ticket counts once: (source, ticket id, customer id).
#: Changing a volume rule's key means changing this line only.
ticket_key: Callable[[TicketRow], tuple[str, str, str]] = operator.itemgetter(
    ROW_SOURCE, ROW_ID, ROW_CUSTOMER
)
#: A row's creation time (the sort key of a customer's kept rows).
row_created: Callable[[TicketRow], float] = operator.itemgetter(ROW_CREATED)
#: A row's time (``occurredAt``, else the creation time).
row_when: Callable[[TicketRow], float] = operator.itemgetter(ROW_WHEN)
#: A row's replay order: (time, kind, source, ticket id).
row_order: Callable[[TicketRow], tuple[float, int, str, str]] = operator.itemgetter(
    ROW_WHEN, ROW_KIND, ROW_SOURCE, ROW_ID
)
#: Event kinds in the order a row sorts them when they happen at the same instant.
KIND_ORDER = (EventKind.CREATED, EventKind.UPDATED, EventKind.RESOLVED)
_KIND_INDEX = {k: i for i, k in enumerate(KIND_ORDER)}
_KIND_ROW_FAST = {k.value: i for i, k in enumerate(KIND_ORDER)}
_CANONICAL = operator.itemgetter(
    "ticketId", "customerId", "category", "severity", "subject", "createdAt"
)


def ticket_row_from_json(
    obj: object, *, where: str = "", strict_categories: bool = False
) -> TicketRow:
    """Validate one canonical ticket JSON object exactly as :func:`ticket_event_from_json`
    does, and return only what the detector reads, as a :data:`TicketRow`.

    The fast path of ``replay`` and ``scan``: the same errors for the same
    input, without building the :class:`Ticket` and :class:`TicketEvent`.
    An object in the usual shape (exact spellings, a UTC timestamp, no tags
    or occurredAt) is checked inline; anything else takes the full path.
    """
    if type(obj) is dict:
        if len(obj) == 6:
            # Exactly the six keys of the ticket JSON (docs/cli.md), the common case.
            try:
                tid, cid, raw_category, raw_priority, subject, raw_created = _CANONICAL(obj)
            except KeyError:
                pass
            else:
                if (
                    type(tid) is str
                    and type(cid) is str
                    and type(raw_created) is str
                    and type(raw_category) is str
                    and type(raw_priority) is str
                    and (subject is None or type(subject) is str)
                    and tid
                    and not tid.isspace()
                    and _plain_id(cid)
                ):
                    category = _CATEGORY_FAST.get(raw_category)
                    priority = _PRIORITY_FAST.get(raw_priority)
                    if category is not None and priority is not None:
                        row = _utc_row(
                            raw_created, 0, "api", tid, cid, category, priority, None, False
                        )
                        if row is not None:
                            return row
        get = obj.get
        tid = get("ticketId")
        cid = get("customerId")
        raw_created = get("createdAt")
        raw_category = get("category")
        raw_priority = get("severity")
        raw_kind = get("event", "created")
        internal = get("internal", False)
        url = get("url")
        source = get("source", "api")
        subject = get("subject")
        body = get("body")
        if (
            type(tid) is str
            and type(cid) is str
            and type(raw_created) is str
            and type(raw_category) is str
            and type(raw_priority) is str
            and type(raw_kind) is str
            and (internal is False or internal is True)
            and (url is None or type(url) is str)
            and type(source) is str
            and source
            and (subject is None or type(subject) is str)
            and (body is None or type(body) is str)
            and not get("tags")
            and "occurredAt" not in obj
            and tid
            and not tid.isspace()
            and _plain_id(cid)
        ):
            category = _CATEGORY_FAST.get(raw_category)
            priority = _PRIORITY_FAST.get(raw_priority)
            kind = _KIND_ROW_FAST.get(raw_kind)
            if category is not None and priority is not None and kind is not None:
                row = _utc_row(
                    raw_created,
                    kind,
                    sys.intern(source),
                    tid,
                    cid,
                    category,
                    priority,
                    url,
                    internal,
                )
                if row is not None:
                    return row
    f = _fields(obj, where, strict_categories)
    created = f[2].timestamp()
    occurred = f[10]
    return TicketRow(
        created if occurred is None else occurred.timestamp(),
        _KIND_INDEX[f[6]],
        f[12],
        f[0],
        created,
        f[1],
        f[3],
        f[5],
        f[9],
        f[7],
        f[4],
    )


def _plain_id(cid: str) -> bool:
    """True when ``cid`` already satisfies :func:`check_customer_id` unchanged (the hot
    case: short printable ASCII without surrounding spaces); others take the full path."""
    return (
        0 < len(cid) <= MAX_CUSTOMER_ID
        and cid.isascii()
        and cid.isprintable()
        and cid[0] != " "
        and cid[-1] != " "
    )


def _utc_row(
    raw_created: str,
    kind: int,
    source: str,
    tid: str,
    cid: str,
    category: Category,
    priority: Priority,
    url: str | None,
    internal: bool,
) -> TicketRow | None:
    """The row of an already checked object whose ``createdAt`` reads
    ``YYYY-MM-DDTHH:MM:SSZ``; ``None`` sends anything else (fractions, other
    offsets, bad or naive times) down the full path (see :func:`_instant`)."""
    created_at = _plain_utc(raw_created)
    if created_at is None:
        return None
    ts = created_at.timestamp()
    # tuple.__new__ skips the named tuple's Python-level __new__: half the cost of a row.
    return tuple.__new__(
        TicketRow,
        (
            ts,
            kind,
            source,
            tid,
            ts,
            sys.intern(cid),
            category,
            priority,
            url,
            internal,
            category is not Category.OTHER,
        ),
    )


def event_row(event: TicketEvent) -> TicketRow:
    """The :data:`TicketRow` of an event (what :meth:`SpikeMonitor.ingest` feeds the detector)."""
    t = event.ticket
    created = t.created_at.timestamp()
    occurred = event.occurred_at
    return TicketRow(
        created if occurred is None else occurred.timestamp(),
        _KIND_INDEX[event.kind],
        t.source,
        t.ticket_id,
        created,
        t.customer_id,
        t.category,
        t.priority,
        t.url,
        t.internal,
        t.category_given,
    )


def event_order(event: TicketEvent) -> tuple[float, int, str, str]:
    """An event's replay order, the same as its row's (:data:`row_order`)."""
    t = event.ticket
    return (event.at.timestamp(), _KIND_INDEX[event.kind], t.source, t.ticket_id)


def event_time(event: TicketEvent) -> float:
    """An event's time in seconds (what :data:`row_when` is for its row)."""
    return event.at.timestamp()


class TicketFields(NamedTuple):
    """What updates change of a ticket, and the time they are as of.

    ``as_of`` is the time (epoch seconds) of the last update applied, or the
    ticket's creation time before any.
    """

    category: Category
    priority: Priority
    url: str | None
    as_of: float


def ticket_fields(event: TicketEvent) -> TicketFields:
    """The fields an event carries: as of an update's time, else as of the ticket's creation."""
    t = event.ticket
    at = event.at if event.kind is EventKind.UPDATED else t.created_at
    return TicketFields(t.category, t.priority, t.url, at.timestamp())


_UPDATED_KIND: Final = _KIND_INDEX[EventKind.UPDATED]


def merge_update(held: TicketFields, update: TicketRow) -> TicketFields | None:
    """The one update rule: a ticket's fields after ``update``, or None if it is not applied.

    The store (:func:`ticketspike.store.base.merged_event`) and the detector
    (``Kernel.update``) both apply it, so the category and priority a spike's
    breakdown reports are the ones the store holds, whatever the arrival order:

    * only an ``updated`` event changes a ticket (a ``created`` one is a
      redelivery; a ``resolved`` one changes the status, not the fields);
    * an update older than the last one applied (``held.as_of``) is stale and
      changes nothing: deliveries arrive out of order, and the newest word on a
      ticket wins (one at the same instant is applied: the later arrival wins);
    * priority takes the update's value; category only when the source gave
      one (``category_given``), so a classified ticket keeps its class when a
      bare update arrives; the URL only when the update has one.
    """
    at = update.when
    if update.kind != _UPDATED_KIND or at < held.as_of:
        return None
    return TicketFields(
        update.category if update.category_given else held.category,
        update.priority,
        update.url if update.url else held.url,
        at,
    )


def ticket_event_from_json(
    obj: object, *, where: str = "", strict_categories: bool = False
) -> TicketEvent:
    """Turn one canonical ticket JSON object (docs/cli.md) into a :class:`TicketEvent`.

    Unknown or missing categories become ``other`` (with ``category_given``
    False) unless ``strict_categories`` is set, in which case they are refused.
    Missing severity is ``P3``; an unknown one is refused. Raises
    :class:`InvalidTicket` with ``where`` and the field on any breach.
    """
    (
        ticket_id,
        customer_id,
        created_at,
        category,
        given,
        priority,
        kind,
        internal,
        tags,
        url,
        occurred_at,
        subject,
        source,
        body,
    ) = _fields(obj, where, strict_categories)
    ticket = Ticket(
        ticket_id=ticket_id,
        customer_id=customer_id,
        created_at=created_at,
        category=category,
        priority=priority,
        subject=subject,
        source=source,
        url=url,
        internal=internal,
        body=body,
        tags=tags,
        category_given=given,
    )
    return TicketEvent(ticket=ticket, kind=kind, occurred_at=occurred_at)


_FROM_ISO = datetime.fromisoformat


def _plain_utc(value: object) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`` (the common spellings) parsed fast, else ``None``.

    ``fromisoformat`` sees only a plain extended date and time with 0, 3 or
    6 fraction digits and no offset, which every supported Python reads the
    same way.
    """
    if (
        type(value) is str
        and (
            len(value) == 20
            or (
                len(value) in (24, 27)
                and value[19] == "."
                and value[20:-1].isdigit()
                and value.isascii()
            )
        )
        and value[-1] == "Z"
        and value[10] == "T"
        and value[4] == "-"
        and value[7] == "-"
        and value[13] == ":"
        and value[16] == ":"
    ):
        try:
            return _FROM_ISO(value[:-1]).replace(tzinfo=_UTC)
        except ValueError:
            return None
    return None


def _instant(value: object, where: str, field: str) -> datetime:
    """:func:`parse_time`, with a shortcut for the common ``YYYY-MM-DDTHH:MM:SSZ`` spelling.

    The shortcut hands ``fromisoformat`` only the 19 characters every
    supported Python reads the same way; anything else goes through the
    one grammar of :func:`parse_time`.
    """
    fast = _plain_utc(value)
    if fast is not None:
        return fast
    return parse_time(value, where=where, field=field)


def _fields(obj: object, where: str, strict_categories: bool) -> tuple[Any, ...]:
    """Every field of a ticket object, validated (one code path for rows and events)."""
    if not isinstance(obj, Mapping):
        raise InvalidTicket(f"expected a JSON object, got {type(obj).__name__}", where=where)
    ticket_id = _fast_text(obj, "ticketId", where=where)
    # Interned: the detector looks customers up once per ticket, and equal ids then share
    # one string object (a pointer compare instead of a string compare).
    customer_id = sys.intern(check_customer_id(obj.get("customerId"), where=where))
    created_at = _instant(obj.get("createdAt"), where, "createdAt")

    raw_category = obj.get("category")
    category = _CATEGORY_FAST.get(raw_category) if type(raw_category) is str else None
    if category is None:
        category = Category.parse(raw_category)
    given = category is not None and category is not Category.OTHER
    if category is None:
        if strict_categories and raw_category is not None:
            raise InvalidTicket(
                f"unknown category {raw_category!r} (expected technical, billing, "
                "training or feature_request)",
                where=where,
                field="category",
            )
        category = Category.OTHER

    raw_priority = obj.get("severity")
    if raw_priority is None:
        priority = Priority.P3
    elif type(raw_priority) is str and raw_priority in _PRIORITY_FAST:
        priority = _PRIORITY_FAST[raw_priority]
    else:
        parsed_priority = Priority.parse(raw_priority)
        if parsed_priority is None:
            raise InvalidTicket(
                f"unknown severity {raw_priority!r} (expected P1, P2, P3 or P4)",
                where=where,
                field="severity",
            )
        priority = parsed_priority

    raw_event = obj.get("event", "created")
    fast_kind = _KIND_FAST.get(raw_event) if type(raw_event) is str else None
    try:
        kind = fast_kind or EventKind(str(raw_event).strip().lower())
    except ValueError:
        raise InvalidTicket(
            f"unknown event {raw_event!r} (expected created, updated or resolved)",
            where=where,
            field="event",
        ) from None

    internal = obj.get("internal", False)
    if internal is not False and internal is not True:
        raise InvalidTicket("expected true or false", where=where, field="internal")
    tags = obj.get("tags", ())
    if tags and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise InvalidTicket("expected a list of strings", where=where, field="tags")
    url = obj.get("url")
    if url is not None and not isinstance(url, str):
        raise InvalidTicket("expected a string", where=where, field="url")
    occurred_at = None
    if "occurredAt" in obj:
        occurred_at = _instant(obj["occurredAt"], where, "occurredAt")
    return (
        ticket_id,
        customer_id,
        created_at,
        category,
        given,
        priority,
        kind,
        internal,
        tuple(tags) if tags else (),
        url,
        occurred_at,
        _optional_text(obj, "subject", where=where),
        _optional_text(obj, "source", where=where) or "api",
        _optional_text(obj, "body", where=where),
    )
