"""Making hostile text inert in Slack mrkdwn, and cutting text to Slack's limits.

Ticket subjects, themes and customer names come from outside. In mrkdwn, Slack
reads ``<...>`` as control sequences: ``<!channel>`` pings a whole channel,
``<@U123>`` pings a person and ``<https://evil|Reset password>`` disguises a
link. Slack's rule is to escape exactly ``&``, ``<`` and ``>`` (nothing else is
HTML-encoded), and slack_sdk ships no function for it, so this module is that
function. Every ticket-derived string goes through :func:`mrkdwn` before it is
placed in a mrkdwn text object, and those objects are built ``verbatim`` so
Slack does not auto-link what is left.

Cutting happens on the raw text *before* escaping, so an entity such as
``&amp;`` is never split in half.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["clip", "clip_mrkdwn", "is_web_url", "mrkdwn", "safe_url"]

ELLIPSIS = "…"
# Bidi embeddings, overrides and isolates, marks and zero-width characters: they would make
# a Slack reader see text in another order than it was written (or two ids as one).
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def mrkdwn(text: str) -> str:
    """``text`` with Slack's three control characters escaped (``&`` first) and bidi
    overrides and zero-width characters removed."""
    text = _INVISIBLE.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def clip_mrkdwn(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn and at most ``limit`` characters *after* escaping."""
    escaped = mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    keep = min(len(text), limit - 1)
    while keep > 0:
        # Escaping only lengthens text, so shrink the raw cut by the overshoot.
        candidate = mrkdwn(text[:keep]) + ELLIPSIS
        if len(candidate) <= limit:
            return candidate
        keep -= max(1, len(candidate) - limit)
    return ELLIPSIS if limit >= 1 else ""


def safe_url(url: str | None) -> str | None:
    """A URL fit for the inside of a mrkdwn link ``<url|label>``, or ``None``.

    Only absolute http(s) URLs pass. The characters that would end the link
    early or open a new control sequence (``|``, ``<``, ``>``) are
    percent-encoded, and ``&`` is escaped as Slack asks, so a hostile URL
    cannot smuggle a mention or a second label.
    """
    if url is None or not is_web_url(url):
        return None
    return url.replace("&", "&amp;").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


def is_web_url(url: str) -> bool:
    """True for an absolute http(s) URL without whitespace or control characters."""
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
