"""History from Zendesk's cursor-based incremental ticket export, one page at a time.

The export (``/api/v2/incremental/tickets/cursor.json``) returns every ticket
*updated* since ``start_time``, deleted ones included, in pages that each end
with an ``after_cursor``. Each page becomes one
:class:`~ticketspike.BackfillPage` carrying that cursor, so a caller that
stores it can stop at any page and resume exactly there (or poll for changes
later). zenpy does the HTTP, the authentication and the 429 ``Retry-After``
waits, capped by ``ratelimit_budget``; everything it can raise is turned into
one :class:`ZendeskApiError` line that names the page and the cursor to
resume from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ticketspike import (
    BackfillPage,
    EventKind,
    InvalidTicket,
    Ticket,
    TicketEvent,
    TicketspikeError,
    Unmatched,
)

from .mapping import (
    RESOLVED_STATUSES,
    SOURCE_NAME,
    MappingRules,
    Skip,
    map_ticket,
    ticket_from_json,
)

__all__ = ["ZendeskApiError", "export_pages", "map_record"]

log = logging.getLogger("ticketspike_zendesk")


class ZendeskApiError(TicketspikeError):
    """The Zendesk API could not be read: unreachable, refused, rate limited past
    the budget, or it answered something that is not an export page.

    ``cursor`` is where a new backfill should resume (``None``: from ``since``).
    """

    def __init__(self, message: str, *, cursor: str | None = None) -> None:
        self.cursor = cursor
        self.detail = " ".join(message.split())
        resume = f" (resume with cursor {cursor})" if cursor else ""
        super().__init__(f"zendesk: {self.detail}{resume}")


def describe_failure(exc: BaseException) -> str:
    """One line about a zenpy or requests failure: no URLs, bodies or credentials."""
    import requests
    from zenpy.lib.exception import APIException, RatelimitBudgetExceeded

    if isinstance(exc, RatelimitBudgetExceeded):
        return "rate limited by Zendesk for longer than ratelimit_budget allows"
    response = getattr(exc, "response", None)
    if isinstance(exc, (APIException, requests.HTTPError)) and response is not None:
        status = response.status_code
        return f"Zendesk answered HTTP {status}{_STATUS_HINTS.get(status, '')}"
    if isinstance(exc, requests.exceptions.RetryError):
        # urllib3 gave up retrying 5xx answers; its reason names the status.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return f"Zendesk kept failing after retries ({reason or 'server errors'})"
    if isinstance(exc, requests.RequestException):
        return f"cannot reach Zendesk ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


_STATUS_HINTS = {
    401: " (check the API credentials)",
    403: " (the API user lacks access)",
    429: " (rate limited without a Retry-After)",
}


def export_pages(
    client: Any,
    rules: MappingRules,
    *,
    since: datetime,
    cursor: str | None = None,
    page_size: int = 1000,
    requester_organization: Callable[[str], str | None] | None = None,
    organization_key: Callable[[str], str | None] | None = None,
) -> Iterator[BackfillPage]:
    """Yield one :class:`~ticketspike.BackfillPage` per export page.

    Starts at ``since`` or, when resuming, at ``cursor``. Tickets created
    before ``since`` and deleted tickets are counted in ``skipped``; tickets
    with no customer are kept aside in ``unmatched`` (``no_customer: keep``)
    or skipped (``no_customer: skip``). A live ticket gives a ``created`` event; a solved
    or closed one also a ``resolved`` event at its last update.
    """
    # Imported here: the plugin module loads on every ticketspike start, backfills are rare.
    import requests
    from zenpy.lib.exception import APIException, ZenpyException

    if since.tzinfo is None or since.utcoffset() is None:
        raise ValueError("since must be timezone-aware")
    # Sideloading requesters lets zenpy's user cache answer the lookups without extra calls.
    include = {"include": ["users"]} if requester_organization is not None else {}
    page_no = 0
    while True:
        page_no += 1
        where = f"zendesk export page {page_no}"
        try:
            if cursor is None:
                gen = client.tickets.incremental(
                    start_time=max(0, int(since.timestamp())), per_page=page_size, **include
                )
            else:
                gen = client.tickets.incremental(cursor=cursor, per_page=page_size, **include)
            page = _page_fields(gen, where=where)
        except (ZenpyException, APIException, requests.RequestException) as exc:
            raise ZendeskApiError(f"{where}: {describe_failure(exc)}", cursor=cursor) from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # zenpy deserialises before we see the page: a body without a
            # "tickets" list fails inside it.
            raise ZendeskApiError(
                f"{where}: malformed export page ({type(exc).__name__}: {exc}); expected "
                "an object with a 'tickets' list, 'after_cursor' and 'end_of_stream'",
                cursor=cursor,
            ) from exc
        records, after_cursor, end_of_stream = page

        events: list[TicketEvent] = []
        aside: list[Unmatched] = []
        skipped = 0
        for index, record in enumerate(records):
            try:
                mapped = map_record(
                    record,
                    rules,
                    since=since,
                    where=f"{where}: tickets[{index}]",
                    requester_organization=requester_organization,
                    organization_key=organization_key,
                )
            except InvalidTicket as exc:
                raise ZendeskApiError(f"malformed export page: {exc}", cursor=cursor) from exc
            except ZendeskApiError as exc:  # a requester lookup failed
                raise ZendeskApiError(f"{where}: {exc}", cursor=cursor) from exc
            if isinstance(mapped, Unmatched):
                aside.append(mapped)
                continue
            if isinstance(mapped, Skip):
                skipped += 1
                log.debug("%s: skipped: %s", where, mapped.reason)
                continue
            events.extend(mapped)
        next_cursor = after_cursor or cursor
        log.info(
            "%s: %d tickets, %d events, %d skipped%s",
            where,
            len(records),
            len(events),
            skipped,
            " (end of stream)" if end_of_stream else "",
        )
        yield BackfillPage(
            events=tuple(events),
            cursor=next_cursor,
            done=end_of_stream,
            skipped=skipped,
            unmatched=tuple(aside),
        )
        if end_of_stream:
            return
        if after_cursor is None or after_cursor == cursor:
            raise ZendeskApiError(
                f"{where}: the export did not advance (after_cursor missing or unchanged) "
                "although end_of_stream is false",
                cursor=cursor,
            )
        cursor = after_cursor


def _page_fields(gen: Any, *, where: str) -> tuple[list[dict[str, Any]], str | None, bool]:
    """The ticket dicts, ``after_cursor`` and ``end_of_stream`` of one zenpy page."""
    # zenpy returns the raw response when the body is not a JSON export page.
    if not hasattr(gen, "after_cursor") and not hasattr(gen, "end_of_stream"):
        raise ValueError("the response is not a JSON export page")
    end_of_stream = getattr(gen, "end_of_stream", None)
    if not isinstance(end_of_stream, bool):
        raise ValueError(f"end_of_stream is {end_of_stream!r}, expected true or false")
    after_cursor = getattr(gen, "after_cursor", None)
    if after_cursor is not None and not isinstance(after_cursor, str):
        raise ValueError(f"after_cursor is {type(after_cursor).__name__}, expected a string")
    values = gen.values or []
    records = [v.to_dict() if hasattr(v, "to_dict") else v for v in values]
    return records, after_cursor or None, end_of_stream


def map_record(
    record: Any,
    rules: MappingRules,
    *,
    since: datetime | None,
    where: str,
    requester_organization: Callable[[str], str | None] | None,
    organization_key: Callable[[str], str | None] | None = None,
) -> list[TicketEvent] | Skip | Unmatched:
    """One exported ticket's events, or why it has none (``Unmatched``: no customer yet)."""
    status = record.get("status") if isinstance(record, dict) else None
    if isinstance(status, str) and status.lower() == "deleted":
        return Skip(f"ticket {record.get('id')} is deleted")
    zt = ticket_from_json(record, where=where)
    if since is not None and zt.created_at < since:
        return Skip(f"ticket {zt.id} was created before the backfill start")
    mapped = map_ticket(
        zt,
        rules,
        requester_organization=requester_organization,
        organization_key=organization_key,
    )
    if isinstance(mapped, Skip):
        if mapped.keep:
            return Unmatched(SOURCE_NAME, zt.id, mapped.reason, {"export": dict(record)})
        return mapped
    events = [TicketEvent(ticket=mapped, kind=EventKind.CREATED)]
    if zt.status in RESOLVED_STATUSES:
        events.append(_resolved(mapped, zt.updated_at))
    return events


def _resolved(ticket: Ticket, updated_at: datetime | None) -> TicketEvent:
    return TicketEvent(ticket=ticket, kind=EventKind.RESOLVED, occurred_at=updated_at)
