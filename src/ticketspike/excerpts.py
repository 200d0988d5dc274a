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


def ticket_excerpt(ticket: Ticket, *, limit: int = EXCERPT_CHARS) -> dict[str, Any]:
    """``ticket.to_json()`` with a body longer than ``limit`` characters cut to ``limit``."""
    data = ticket.to_json()
    body = data.get("body")
    if isinstance(body, str) and len(body) > limit:
        data["body"] = body[:limit]
        data["bodyTruncated"] = True
        data["bodyLength"] = len(body)
    return data
