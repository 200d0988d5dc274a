"""Zendesk timestamps, parsed the one way every payload needs.

Zendesk writes ISO-8601 everywhere (REST fields, event envelopes and the
signature timestamp header), but event envelopes carry nanoseconds
(``2025-01-08T10:12:07.672717030Z``), which ``datetime.fromisoformat`` refuses
before Python 3.11. Trimming the fraction to microseconds here keeps the
adapter working on every Python the project supports.
"""

from __future__ import annotations

import re
from datetime import datetime

from ticketspike import parse_time

__all__ = ["parse_instant"]

# Seconds followed by more than six fractional digits: keep the first six.
_LONG_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2}\.\d{6})\d+")


def parse_instant(value: object, *, where: str, field: str) -> datetime:
    """An aware UTC datetime from a Zendesk ISO-8601 string.

    Raises :class:`ticketspike.InvalidTicket` naming ``where`` and ``field``
    when the value is missing, not ISO-8601, or has no UTC offset.
    """
    if isinstance(value, str):
        value = _LONG_FRACTION.sub(r"\1", value.strip())
    return parse_time(value, where=where, field=field)
