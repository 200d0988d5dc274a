"""What a ticket must satisfy to enter the engine: a plausible time, bounded text, a sane id.

The detector's clock follows the newest ticket time, so one ticket dated next year would
move every customer's window past today and silence them all. The engine therefore admits
a ticket only when it is at most ``max_future_skew_seconds`` ahead of the host clock; a
webhook carrying one is refused (nothing stored), a file or backfill drops it and says so.

Ticket text feeds the classifier and the theme analyzer, whose work grows with the text.
Subjects and bodies are stored whole up to a hard cap (longer ones are cut there, and the
ingest result says so); analysis reads only a prefix of each.

Configured in the ``tickets:`` section::

    tickets:
      max_future_skew_seconds: 300
      max_subject_chars: 4096
      max_body_chars: 262144
      analysis_subject_chars: 512
      analysis_body_chars: 4096
      analysis_budget_seconds: 5

This module is pure: the engine passes the host clock's "now" in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs

from .configfile import Section
from .errors import InvalidTicket
from .model import Ticket, TicketEvent, check_customer_id, printable

__all__ = [
    "TICKETS_KEYS",
    "Admission",
    "IngestLimits",
    "admit",
    "analysis_prefix",
    "limits_from_config",
]

#: Every key of the ``tickets:`` section (``strict_categories`` is read by the config).
TICKETS_KEYS = frozenset(
    {
        "strict_categories",
        "max_future_skew_seconds",
        "max_subject_chars",
        "max_body_chars",
        "analysis_subject_chars",
        "analysis_body_chars",
        "analysis_budget_seconds",
    }
)


@attrs.frozen
class IngestLimits:
    """Bounds on what the engine admits and on the text work it does per ticket.

    :param max_future_skew_seconds: how far a ticket's time may be ahead of the host clock.
    :param max_subject_chars: subjects longer than this are stored cut to it.
    :param max_body_chars: the same for bodies.
    :param analysis_subject_chars: the prefix of a subject the classifier and themes read.
    :param analysis_body_chars: the same for bodies.
    :param analysis_budget_seconds: the most one theme analysis may take (built-in or
        plugin); a read or an alert that would wait longer goes without themes, and the
        result is cached for the next one when the analysis finishes.
    """

    max_future_skew_seconds: float = 300.0
    max_subject_chars: int = 4096
    max_body_chars: int = 262_144
    analysis_subject_chars: int = 512
    analysis_body_chars: int = 4096
    analysis_budget_seconds: float = 5.0

    @property
    def skew(self) -> timedelta:
        return timedelta(seconds=self.max_future_skew_seconds)


def limits_from_config(section: Section | None) -> IngestLimits:
    """Parse the ``tickets:`` section's limits (errors name file, line and key)."""
    d = IngestLimits()
    if section is None:
        return d
    section.check_keys(TICKETS_KEYS)

    def number(key: str, default: float, low: float, high: float) -> float:
        value = section.get_float(key, default, minimum=low, maximum=high)
        return default if value is None else value

    def count(key: str, default: int, low: int, high: int) -> int:
        value = section.get_int(key, default, minimum=low, maximum=high)
        return default if value is None else value

    return IngestLimits(
        max_future_skew_seconds=number(
            "max_future_skew_seconds", d.max_future_skew_seconds, 0.0, 86_400.0
        ),
        max_subject_chars=count("max_subject_chars", d.max_subject_chars, 64, 1 << 20),
        max_body_chars=count("max_body_chars", d.max_body_chars, 256, 16 << 20),
        analysis_subject_chars=count(
            "analysis_subject_chars", d.analysis_subject_chars, 16, 1 << 20
        ),
        analysis_body_chars=count("analysis_body_chars", d.analysis_body_chars, 0, 16 << 20),
        analysis_budget_seconds=number(
            "analysis_budget_seconds", d.analysis_budget_seconds, 0.05, 600.0
        ),
    )


@attrs.frozen
class Admission:
    """What :func:`admit` made of a batch: the events to ingest and what it refused or cut.

    ``refused`` holds one line per refused event (ticket, customer and why, escaped for a
    terminal); ``truncated`` counts tickets whose text was cut to the hard cap.
    """

    events: tuple[TicketEvent, ...]
    refused: tuple[str, ...] = ()
    truncated: int = 0
    problems: tuple[InvalidTicket, ...] = ()


def admit(events: Iterable[TicketEvent], *, now: datetime, limits: IngestLimits) -> Admission:
    """Check every event against the id rule and the clock; cut oversized text.

    ``now`` is the host clock. An event is refused when its customer id breaks
    :func:`~ticketspike.model.check_customer_id` or when its time (or its ticket's creation
    time) is more than the skew ahead of ``now``.
    """
    try:
        latest = now + limits.skew
    except OverflowError:  # a skew reaching past year 9999 admits every time
        latest = datetime.max.replace(tzinfo=now.tzinfo)
    kept: list[TicketEvent] = []
    refused: list[str] = []
    problems: list[InvalidTicket] = []
    truncated = 0
    for event in events:
        ticket = event.ticket
        name = f"ticket {printable(ticket.source)}/{printable(ticket.ticket_id)}"
        try:
            customer = check_customer_id(ticket.customer_id, where=name)
        except InvalidTicket as problem:
            refused.append(f"{name}: customerId: {problem.message}")
            problems.append(problem)
            continue
        ahead = max(event.at, ticket.created_at)
        if ahead > latest:
            field = "createdAt" if ticket.created_at >= event.at else "occurredAt"
            message = (
                f"{ahead.isoformat()} is {(ahead - now).total_seconds():.0f} s ahead of the "
                f"host clock (at most {limits.max_future_skew_seconds:g} s allowed)"
            )
            refused.append(f"{name} of {printable(customer)}: {field}: {message}")
            problems.append(InvalidTicket(message, where=name, field=field))
            continue
        cut = _cut(ticket, limits.max_subject_chars, limits.max_body_chars)
        if cut is not ticket:
            truncated += 1
        if customer != ticket.customer_id:
            cut = attrs.evolve(cut, customer_id=customer)
        kept.append(event if cut is ticket else attrs.evolve(event, ticket=cut))
    return Admission(
        events=tuple(kept),
        refused=tuple(refused),
        truncated=truncated,
        problems=tuple(problems),
    )


def _cut(ticket: Ticket, subject_chars: int, body_chars: int) -> Ticket:
    if len(ticket.subject) <= subject_chars and len(ticket.body) <= body_chars:
        return ticket
    return attrs.evolve(
        ticket, subject=ticket.subject[:subject_chars], body=ticket.body[:body_chars]
    )


def analysis_prefix(tickets: Sequence[Ticket], limits: IngestLimits) -> list[Ticket]:
    """The tickets as analysis reads them: subject and body cut to the analysis prefix."""
    return [_cut(t, limits.analysis_subject_chars, limits.analysis_body_chars) for t in tickets]
