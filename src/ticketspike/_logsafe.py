"""Log lines that outside text cannot forge.

A customer id, a subject or an exception message quoting one may carry a newline, an
escape sequence or a bidi override; written to a log as it stands, it starts a fake
``ERROR:`` line or reorders what an operator reads. :class:`EscapeControl` rewrites each
record's message with those characters escaped (``\\x0a``, ``\\u202e``) before any handler
formats it. ``ticketspike serve`` installs it on the root handlers; a host embedding the
engine can do the same with :func:`install`.
"""

from __future__ import annotations

import logging

from .model import printable

__all__ = ["EscapeControl", "install"]


class EscapeControl(logging.Filter):
    """A handler filter that escapes control, format and separator characters in messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report
            return True
        safe = printable(message)
        if safe != message:
            record.msg, record.args = safe, None
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add :class:`EscapeControl` to every handler of ``logger`` (default: the root)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, EscapeControl) for f in handler.filters):
            handler.addFilter(EscapeControl())
