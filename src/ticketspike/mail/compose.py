"""The acknowledgement as a MIME message, with nothing from a ticket able to shape a header.

Every header value is built from parts: display names are folded to one line and quoted by
:class:`email.headerregistry.Address`, addresses must parse as exactly one ``local@domain``,
and a subject or name carrying CR or LF is folded (text the planner made from tickets) or
refused (:func:`header_safe`, for text a person typed in an edit). The standard library's
own check (header values may not contain line breaks) stays as the last guard.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from ..errors import InputError
from ..model import Person
from ..planner.email import clean_text
from .settings import EmailSettings

__all__ = [
    "MAX_BODY",
    "MAX_SUBJECT",
    "compose_message",
    "format_address",
    "header_safe",
    "parse_address",
    "sender_addresses",
]

MAX_SUBJECT = 250
MAX_BODY = 100_000
_MESSAGE_ID = re.compile(r"^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>$")
_LINE_BREAKS = re.compile(r"[\r\n\x00\u2028\u2029\x85]")


def header_safe(value: str, *, field: str, limit: int = MAX_SUBJECT) -> str:
    """``value`` for a header, or an :class:`InputError`: no line breaks, not empty, not long."""
    if _LINE_BREAKS.search(value):
        raise InputError("must be one line (line breaks could forge mail headers)", field=field)
    text = clean_text(value)
    if not text:
        raise InputError("must not be empty", field=field)
    if len(text) > limit:
        raise InputError(f"must be at most {limit} characters", field=field)
    return text


def parse_address(text: str, *, field: str) -> Address:
    """Exactly one address (``Name <a@b>`` or ``a@b``); anything else is an :class:`InputError`."""
    if _LINE_BREAKS.search(text):
        raise InputError("an address must be one line", field=field)
    found = getaddresses([text])
    if len(found) != 1 or not found[0][1]:
        raise InputError(f"expected one e-mail address, got {clean_text(text)!r}", field=field)
    name, spec = found[0]
    return make_address(name, spec, field=field)


def make_address(name: str | None, email: str, *, field: str) -> Address:
    """An address from a (hostile) display name and an e-mail address."""
    spec = email.strip()
    if _LINE_BREAKS.search(spec) or spec.count("@") != 1 or any(c.isspace() for c in spec):
        raise InputError(f"not an e-mail address: {clean_text(spec)!r}", field=field)
    try:
        return Address(display_name=clean_text(name or "")[:200], addr_spec=spec)
    except (ValueError, TypeError) as exc:
        message = " ".join(str(exc).split())
        raise InputError(f"not an e-mail address ({message})", field=field) from None


def format_address(address: Address) -> str:
    return str(address)


def _message_id(value: str, *, field: str) -> str:
    if not _MESSAGE_ID.match(value):
        raise InputError(f"not a Message-ID: {clean_text(value)!r}", field=field)
    return value


def _html(body: str) -> str:
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    inner = "\n".join(
        "<p>" + "<br>\n".join(html_lib.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    return (
        f'<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n{inner}\n</body></html>\n'
    )


def compose_message(
    *,
    to: Address,
    sender: Address,
    reply_to: Address | None,
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
    draft_id: str,
    key: str = "",
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    html: bool = False,
) -> EmailMessage:
    """The message: text/plain (quoted-printable), with a text/html alternative if ``html``.

    ``subject`` is folded to one line (ticket-derived text is a phrase, never a header of its
    own); ``body`` keeps its lines, without control characters.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if reply_to is not None and reply_to.addr_spec != sender.addr_spec:
        message["Reply-To"] = reply_to
    message["Subject"] = clean_text(subject)[:MAX_SUBJECT]
    message["Date"] = format_datetime(date)
    message["Message-ID"] = _message_id(message_id, field="message_id")
    if in_reply_to:
        message["In-Reply-To"] = _message_id(in_reply_to, field="in_reply_to")
        chain = [_message_id(r, field="references") for r in references if r]
        if in_reply_to not in chain:
            chain.append(in_reply_to)
        message["References"] = " ".join(chain)
    message["X-Ticketspike-Draft"] = clean_text(draft_id)
    if key:
        # How the drafts folder is searched for this action's draft (saved once per key).
        message["X-Ticketspike-Key"] = clean_text(key)
    text = clean_body(body)
    message.set_content(text, cte="quoted-printable")
    if html:
        message.add_alternative(_html(text), subtype="html", cte="quoted-printable")
    return message


def clean_body(body: str) -> str:
    """A body with ``\\n`` line ends and no control characters but tabs, ending in one newline."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or (ch >= " " and ch != "\x7f"))
    text = re.sub(r"[\u202a-\u202e\u2066-\u2069]", "", text)
    return text.strip("\n") + "\n"


def sender_addresses(settings: EmailSettings, csm: Person | None) -> tuple[Address, Address | None]:
    """``(From, Reply-To)``: the CSM, or the shared sender with Reply-To the CSM.

    With ``reply_to_csm`` the shared ``from`` sends and replies go to the CSM; otherwise the
    CSM sends, and the shared ``from`` stands in for a CSM with no e-mail address.
    """
    csm_address = (
        make_address(csm.name, csm.email, field="csm.email") if csm and csm.email else None
    )
    shared = parse_address(settings.from_addr, field="email.from") if settings.from_addr else None
    if settings.reply_to_csm and shared is not None:
        return shared, csm_address
    if csm_address is not None:
        return csm_address, None
    if shared is not None:
        return shared, None
    raise InputError(
        "no sender address: the CSM has no e-mail address and `email.from` is not set",
        field="from",
    )
