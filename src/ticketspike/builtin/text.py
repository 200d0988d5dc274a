"""Making ticket-derived text safe for a terminal or a one-line record.

Ticket text is hostile: a subject may carry ANSI escape sequences that rewrite the operator's
terminal, or newlines that forge extra log lines. Everything the built-in plugins print or
record passes through here first.
"""

from __future__ import annotations

import re

__all__ = ["one_line", "printable"]

# C0 and C1 control characters and DEL, except newline and tab; bidi embeddings, overrides
# and isolates, zero-width characters, the BOM, and line/paragraph separators.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2028\u2029]"
)


def printable(text: str) -> str:
    """``text`` without control, bidi or zero-width characters (newlines and tabs stay)."""
    return _CONTROL.sub("", text)


def one_line(text: str, *, limit: int = 200) -> str:
    """``text`` on one line, without control characters, cut to ``limit`` characters."""
    flat = " ".join(printable(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
