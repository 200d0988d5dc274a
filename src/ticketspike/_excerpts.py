"""Ticket JSON for list reads: the body cut to an excerpt.

A summary lists up to a hundred tickets; with bodies of 64 KB each that is megabytes per
response, built and sent while webhooks wait for the same interpreter. Lists therefore carry
the first :data:`EXCERPT_CHARS` characters of a body, with ``bodyTruncated`` and
``bodyLength`` saying what was left out; the whole body is one read of the ticket away
(``GET /api/support/tickets/{source}/{ticketId}``).
"""

from __future__ import annotations

from typing import Any

from .model import Ticket

__all__ = ["EXCERPT_CHARS", "ticket_excerpt"]

EXCERPT_CHARS = 280


def ticket_excerpt(
    ticket: Ticket, *, limit: int = EXCERPT_CHARS, length: int | None = None
) -> dict[str, Any]:
    """``ticket.to_json()`` with a body longer than ``limit`` characters cut to ``limit``.

    ``length`` is the whole body's length when ``ticket`` carries its body already cut (a
    window read never takes bodies whole, see :mod:`ticketspike.store.ticket_heads`).
    """
    data = ticket.to_json()
    body = data.get("body", "")
    whole = max(length or 0, len(body)) if isinstance(body, str) else 0
    if whole > limit:
        data["body"] = body[:limit]
        data["bodyTruncated"] = True
        data["bodyLength"] = whole
    return data
