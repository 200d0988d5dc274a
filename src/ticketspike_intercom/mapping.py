"""Intercom conversation (as plain JSON) -> :class:`ticketspike.Ticket`.

Webhooks and backfill both hand this module the conversation as the JSON
Intercom sent, so one set of rules maps both and a backfilled conversation
looks exactly like the one a webhook delivered. The functions are pure: no
clock, no I/O, no logging (conversation text is hostile and stays out of
logs). Shape errors raise :class:`~ticketspike.InvalidTicket` naming the
field; a conversation no rule can tie to a customer raises
:class:`NoCustomer`, so callers can acknowledge it instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

from ticketspike import Category, InvalidTicket, Priority, Ticket

from .settings import MappingRules

__all__ = [
    "INBOX_URL",
    "NoCustomer",
    "category_for",
    "contact_keys",
    "conversation_ticket",
    "customer_for",
    "html_to_text",
    "inbox_url",
    "is_admin_initiated",
    "priority_for",
    "unix_time",
]

INBOX_URL = "https://app.intercom.com/a/inbox/{app_id}/inbox/conversation/{conversation_id}"
SOURCE_NAME = "intercom"

# How Intercom marks a conversation that a teammate, a campaign or a bot started:
# these reach the customer but are not the customer asking for help.
_ADMIN_DELIVERY = frozenset(
    {"admin_initiated", "automated", "campaigns_initiated", "operator_initiated"}
)
_ADMIN_AUTHORS = frozenset({"admin", "bot", "team"})
_MARKUP = re.compile(r"</?[a-zA-Z][^>]*>")


class NoCustomer(InvalidTicket):
    """A well-formed conversation that no ``customer_from`` rule ties to a customer."""


# -- text ---------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    # Block-level tags become spaces so "<p>a</p><p>b</p>" reads "a b", not "ab".
    _BLOCK = frozenset(
        {
            "p",
            "br",
            "div",
            "li",
            "ul",
            "ol",
            "tr",
            "td",
            "th",
            "blockquote",
            "pre",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
        }
    )
    _SKIP = frozenset({"script", "style", "head", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed to single spaces.

    Uses the standard library's tolerant parser, so broken markup still gives
    its text; entities are decoded; script and style contents are dropped.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    return text[: limit - 1].rstrip() + "\u2026"


def _words(text: str) -> str:
    # Padded so a keyword matches whole words only: "api" hits "api error", not "capital".
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


# -- field access ---------------------------------------------------------------


def _obj(item: Mapping[str, Any], key: str, *, where: str) -> Mapping[str, Any]:
    value = item.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidTicket(
            f"expected an object, got {type(value).__name__}", where=where, field=key
        )
    return value


def _listed(item: Mapping[str, Any], key: str, inner: str, *, where: str) -> list[Any]:
    """``item[key][inner]`` (Intercom's ``{"type": "x.list", inner: [...]}``) or a bare list."""
    value = item.get(key)
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = value.get(inner) or []
    if not isinstance(value, list):
        raise InvalidTicket("expected a list", where=where, field=f"{key}.{inner}")
    return value


def _names(items: list[Any]) -> Iterator[str]:
    for entry in items:
        if isinstance(entry, Mapping):
            name = entry.get("name")
            if isinstance(name, str) and name.strip():
                yield name.strip()
        elif isinstance(entry, str) and entry.strip():
            yield entry.strip()


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (str, int)) and str(value).strip():
        return str(value).strip()
    return None


def unix_time(value: object, *, where: str, field: str) -> datetime:
    """An aware UTC datetime from Intercom's unix seconds (int, float or digits)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTicket("expected unix seconds (a number)", where=where, field=field)
    # 1e11 s is the year 5138: anything beyond is milliseconds or garbage.
    if not 0 < value < 1e11:
        raise InvalidTicket(
            f"{value!r} is not a plausible unix time in seconds", where=where, field=field
        )
    return datetime.fromtimestamp(value, tz=timezone.utc)


# -- rules --------------------------------------------------------------------------


def inbox_url(app_id: str, conversation_id: str) -> str:
    """The conversation's page in the Intercom inbox (what a CSM clicks)."""
    return INBOX_URL.format(app_id=app_id, conversation_id=conversation_id)


def is_admin_initiated(item: Mapping[str, Any], *, where: str = "") -> bool:
    """True when a teammate, campaign or bot started the conversation, not the customer."""
    source = _obj(item, "source", where=where)
    delivered = source.get("delivered_as")
    if isinstance(delivered, str) and delivered.lower() in _ADMIN_DELIVERY:
        return True
    author = source.get("author")
    if isinstance(author, Mapping):
        kind = author.get("type")
        if isinstance(kind, str) and kind.lower() in _ADMIN_AUTHORS:
            return True
    return False


def priority_for(item: Mapping[str, Any], rules: MappingRules) -> Priority:
    """P1-P4 from either priority vocabulary; unknown or missing -> the default."""
    raw = item.get("priority")
    if isinstance(raw, str):
        return rules.priorities.get(raw.strip().lower(), rules.default_priority)
    return rules.default_priority


def _category_from_text(text: str, rules: MappingRules) -> Category | None:
    words = _words(text)
    for category, keywords in rules.categories:
        if any(_words(k) in words for k in keywords):
            return category
    return None


def category_for(
    item: Mapping[str, Any], rules: MappingRules, *, where: str = ""
) -> Category | None:
    """The category a conversation's custom attribute, tags or topics name (in that order)."""
    attributes = _obj(item, "custom_attributes", where=where)
    wanted = {name.lower() for name in rules.category_attributes}
    for key, value in attributes.items():
        if str(key).lower() in wanted and isinstance(value, str) and value.strip():
            found = Category.parse(value)
            if found is not None and found is not Category.OTHER:
                return found
            found = _category_from_text(value, rules)
            if found is not None:
                return found
    for key, inner in (("tags", "tags"), ("topics", "topics")):
        for name in _names(_listed(item, key, inner, where=where)):
            found = _category_from_text(name, rules)
            if found is not None:
                return found
    return None


def _contacts(item: Mapping[str, Any], *, where: str) -> list[Mapping[str, Any]]:
    contacts = [
        c for c in _listed(item, "contacts", "contacts", where=where) if isinstance(c, Mapping)
    ]
    author = _obj(item, "source", where=where).get("author")
    if isinstance(author, Mapping) and str(author.get("type", "")).lower() in (
        "user",
        "lead",
        "contact",
    ):
        contacts.append(author)
    return contacts


def contact_keys(
    item: Mapping[str, Any], *, where: str = ""
) -> list[tuple[str, Mapping[str, Any]]]:
    """The conversation's contacts as ``(intercom id, contact)``, in order, without repeats."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for contact in _contacts(item, where=where):
        contact_id = _id(contact.get("id"))
        if contact_id and contact_id not in seen:
            seen.add(contact_id)
            out.append((contact_id, contact))
    return out


def customer_for(item: Mapping[str, Any], rules: MappingRules, *, where: str = "") -> str | None:
    """The customer id, trying each ``customer_from`` source in order.

    Every id found is passed through the ``customers`` table, so an Intercom
    company id or a contact can be translated to the host's own account id.
    """
    table = rules.customers
    for strategy in rules.customer_from:
        if strategy == "company":
            company = item.get("company")
            if isinstance(company, Mapping):
                other = "id" if rules.company_key == "company_id" else "company_id"
                found = _id(company.get(rules.company_key)) or _id(company.get(other))
                if found:
                    return table.get(found, found)
            found = _id(item.get("company_id"))
            if found:
                return table.get(found, found)
        elif strategy == "contact_lookup":
            for contact in _contacts(item, where=where):
                for key in ("id", "external_id", "email"):
                    value = _id(contact.get(key))
                    if value and value in table:
                        return table[value]
        elif strategy == "contact":
            for contact in _contacts(item, where=where):
                found = _id(contact.get("external_id")) or _id(contact.get("id"))
                if found:
                    return table.get(found, found)
    return None


def conversation_ticket(
    item: object,
    rules: MappingRules,
    *,
    app_id: str | None = None,
    internal: bool = False,
    where: str = "conversation",
    customer: str | None = None,
) -> Ticket:
    """Map one conversation object to a ticket.

    ``internal`` forces the ticket internal (an admin-initiated topic); a
    conversation whose source shows a teammate or bot started it is internal
    anyway. ``customer``, when given, is the customer another step found (an
    API lookup); otherwise the rules decide. Raises :class:`InvalidTicket` on a
    broken shape and :class:`NoCustomer` when no rule finds the customer.
    """
    if not isinstance(item, Mapping):
        raise InvalidTicket(
            f"expected a conversation object, got {type(item).__name__}", where=where
        )
    conversation_id = _id(item.get("id"))
    if conversation_id is None:
        raise InvalidTicket("missing conversation id", where=where, field="id")
    where = f"{where} {conversation_id}"
    created_at = unix_time(item.get("created_at"), where=where, field="created_at")

    if customer is None:
        customer = customer_for(item, rules, where=where)
    if customer is None:
        raise NoCustomer(
            "no customer: the conversation has no company and no contact the "
            f"'customers' table knows (rules tried: {', '.join(rules.customer_from)})",
            where=where,
        )

    source = _obj(item, "source", where=where)
    raw_body = source.get("body")
    body = html_to_text(raw_body) if isinstance(raw_body, str) else ""
    subject = ""
    for candidate in (source.get("subject"), item.get("title")):
        if isinstance(candidate, str) and candidate.strip():
            # Email subjects are plain text ("a<b" is not a tag); strip only real markup.
            subject = (
                html_to_text(candidate)
                if _MARKUP.search(candidate)
                else " ".join(candidate.split())
            )
            break
    subject = _truncate(subject or body, rules.subject_length)

    category = category_for(item, rules, where=where)
    tags = tuple(_names(_listed(item, "tags", "tags", where=where)))
    return Ticket(
        ticket_id=conversation_id,
        customer_id=customer,
        created_at=created_at,
        category=category or Category.OTHER,
        priority=priority_for(item, rules),
        subject=subject,
        source=SOURCE_NAME,
        url=inbox_url(app_id, conversation_id) if app_id else None,
        internal=internal or is_admin_initiated(item, where=where),
        body=_truncate(body, rules.body_length) if rules.body_length else "",
        tags=tags,
        category_given=category is not None,
    )
