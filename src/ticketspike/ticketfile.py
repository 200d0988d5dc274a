"""Reading JSON Lines files of canonical ticket JSON (the CLI's ticket input).

Each non-blank line is one ticket object (DESIGN.md). A bad line raises
:class:`~ticketspike.errors.InvalidTicket` naming ``file:line`` and the field,
before anything downstream sees it. Uses orjson when installed
(``ticketspike[fast]``), the standard library otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import InvalidTicket
from .model import TicketEvent, ticket_event_from_json

__all__ = ["iter_ticket_events", "json_loads", "read_ticket_events"]

try:  # pragma: no cover - exercised where the extra is installed
    import orjson

    def json_loads(data: str | bytes) -> Any:
        return orjson.loads(data)

    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover

    def json_loads(data: str | bytes) -> Any:
        return json.loads(data)

    _JSON_ERRORS = (json.JSONDecodeError, ValueError)


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
    try:
        handle: IO[bytes] = p.open("rb")
    except FileNotFoundError:
        raise InvalidTicket("file not found", where=str(p)) from None
    except OSError as exc:
        raise InvalidTicket(f"cannot read file ({type(exc).__name__})", where=str(p)) from None
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


def read_ticket_events(path: str | Path, *, strict_categories: bool = False) -> list[TicketEvent]:
    """All events of a file; nothing is returned if any line is bad."""
    return list(iter_ticket_events(path, strict_categories=strict_categories))


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
