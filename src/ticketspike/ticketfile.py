"""Reading JSON Lines files of canonical ticket JSON (the CLI's ticket input).

Each non-blank line is one ticket object (docs/cli.md). A bad line raises
:class:`~ticketspike.errors.InvalidTicket` naming ``file:line`` and the field,
before anything downstream sees it. Parsed by :mod:`ticketspike.jsontext` (orjson when
installed, ``ticketspike[fast]``; the same depth and surrogate rules either way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from .errors import InvalidTicket
from .jsontext import JsonError, loads
from .model import (
    ROW_GIVEN,
    ROW_INTERNAL,
    Ticket,
    TicketEvent,
    TicketRow,
    event_row,
    ticket_event_from_json,
    ticket_row_from_json,
)

__all__ = ["iter_ticket_events", "iter_ticket_rows", "json_loads", "read_ticket_events"]

# How many lines pass between two progress callbacks of iter_ticket_rows.
_PROGRESS_EVERY = 4096

json_loads = loads  # the one parser for untrusted JSON (orjson when installed)
_JSON_ERRORS: tuple[type[Exception], ...] = (JsonError,)


def iter_ticket_events(
    path: str | Path,
    *,
    strict_categories: bool = False,
    on_line: Callable[[int, int], None] | None = None,
) -> Iterator[TicketEvent]:
    """Yield the events of a JSON Lines file in file order.

    ``on_line(line_number, bytes_read)`` is called per line for progress.
    """
    p = Path(path)
    handle = _open(p)
    with handle:
        read = 0
        for number, raw in enumerate(handle, start=1):
            read += len(raw)
            if on_line is not None:
                on_line(number, read)
            if not raw.strip():
                continue
            where = f"{p}:{number}"
            try:
                obj = json_loads(raw)
            except _JSON_ERRORS as exc:
                raise InvalidTicket(f"malformed JSON ({_short(exc)})", where=where) from None
            yield ticket_event_from_json(obj, where=where, strict_categories=strict_categories)


def iter_ticket_rows(
    path: str | Path,
    *,
    strict_categories: bool = False,
    on_line: Callable[[int, int], None] | None = None,
    categorize: Callable[[Ticket], Ticket] | None = None,
) -> Iterator[TicketRow]:
    """Yield the :data:`~ticketspike.model.TicketRow` of each line, in file order.

    The detector's fast path: every line is validated exactly as
    :func:`iter_ticket_events` does (same errors, ``file:line`` and field),
    but no ticket object is built unless ``categorize`` has to read the
    text of a ticket whose source named no category. ``on_line`` is called
    every few thousand lines and after the last.
    """
    p = Path(path)
    handle = _open(p)
    loads = json_loads
    to_row = ticket_row_from_json
    with handle:
        read = 0
        number = 0
        for number, raw in enumerate(handle, start=1):
            if on_line is not None:
                read += len(raw)
                if number % _PROGRESS_EVERY == 0:
                    on_line(number, read)
            try:
                obj = loads(raw)
                row = to_row(obj, strict_categories=strict_categories)
            except InvalidTicket as exc:
                raise InvalidTicket(exc.message, where=f"{p}:{number}", field=exc.field) from None
            except _JSON_ERRORS as exc:
                if not raw.strip():
                    continue
                raise InvalidTicket(
                    f"malformed JSON ({_short(exc)})", where=f"{p}:{number}"
                ) from None
            if categorize is not None and not row[ROW_GIVEN] and not row[ROW_INTERNAL]:
                event = ticket_event_from_json(
                    obj, where=f"{p}:{number}", strict_categories=strict_categories
                )
                ticket = categorize(event.ticket)
                if ticket is not event.ticket:
                    row = event_row(
                        TicketEvent(ticket=ticket, kind=event.kind, occurred_at=event.occurred_at)
                    )
            yield row
        if on_line is not None and number % _PROGRESS_EVERY:
            on_line(number, read)


def read_ticket_events(path: str | Path, *, strict_categories: bool = False) -> list[TicketEvent]:
    """All events of a file; nothing is returned if any line is bad."""
    return list(iter_ticket_events(path, strict_categories=strict_categories))


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def _open(p: Path) -> IO[bytes]:
    try:
        return p.open("rb")
    except FileNotFoundError:
        raise InvalidTicket("file not found", where=str(p)) from None
    except OSError as exc:
        raise InvalidTicket(f"cannot read file ({type(exc).__name__})", where=str(p)) from None
