"""From a Zendesk ticket to a ticketspike :class:`~ticketspike.Ticket`.

Zendesk describes one ticket in two dialects: the REST API (incremental
export, ``GET /tickets/{id}``) with integer ids and lower-case enums, and
event-subscription webhooks with string ids and upper-case enums. Both are
normalised into :class:`ZendeskTicket` first, so the rules in
:class:`MappingRules` are written once and behave the same for a webhook
and for a backfill.

Zendesk has no notion of "customer" or "category": which organization (or
custom field) names the customer and which tags, forms, groups or ticket
types name a category is a per-account decision, hence the rules. Their
defaults are documented in ``docs/adapters/zendesk.md``.

Mapping is pure apart from one injected callable, ``requester_organization``,
which the caller may back with an API lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import attrs

from ticketspike import Category, InvalidTicket, Priority, Ticket

from .times import parse_instant

__all__ = [
    "DEFAULT_CATEGORY_ORDER",
    "DEFAULT_PRIORITIES",
    "DEFAULT_TAG_RULES",
    "DEFAULT_TYPES",
    "MappingRules",
    "Skip",
    "ZendeskTicket",
    "map_ticket",
    "ticket_from_json",
]

SOURCE_NAME: Final = "zendesk"

# Zendesk priority (lower-case, "none" when unset) -> ticketspike priority.
DEFAULT_PRIORITIES: Final[Mapping[str, Priority]] = {
    "urgent": Priority.P1,
    "high": Priority.P2,
    "normal": Priority.P3,
    "low": Priority.P4,
    "none": Priority.P3,
}

# Tried in order; a tag matches a keyword when the keyword stands alone in
# it, between separators ("api" matches "api_error" and "public-api", not "rapid").
DEFAULT_TAG_RULES: Final[tuple[tuple[Category, tuple[str, ...]], ...]] = (
    (Category.BILLING, ("billing", "invoice", "refund", "payment")),
    (Category.TECHNICAL, ("bug", "error", "outage", "incident", "api")),
    (Category.TRAINING, ("how_to", "training", "onboarding")),
    (Category.FEATURE_REQUEST, ("feature_request", "feature", "idea")),
)

DEFAULT_TYPES: Final[Mapping[str, Category]] = {
    "incident": Category.TECHNICAL,
    "problem": Category.TECHNICAL,
    "question": Category.TRAINING,
    "task": Category.TECHNICAL,
}

CATEGORY_SOURCES: Final = frozenset({"tags", "custom_field", "form", "group", "type"})
DEFAULT_CATEGORY_ORDER: Final = ("tags", "custom_field", "form", "group", "type")
CUSTOMER_SOURCES: Final = ("organization", "requester_organization", "custom_field:<id>")

# Statuses that mean the ticket is resolved.
RESOLVED_STATUSES: Final = frozenset({"solved", "closed"})

# The first comment is kept for theme analysis; longer text adds little and costs storage.
BODY_LIMIT: Final = 4000


@attrs.frozen
class ZendeskTicket:
    """The fields of one Zendesk ticket that the rules look at, in one dialect.

    Ids are strings, enums lower-case, ``priority``/``type`` ``None`` when
    unset. ``requester_organization_id`` is known only when a payload
    carries it; otherwise the rules may look it up.
    """

    id: str
    created_at: datetime
    updated_at: datetime | None = None
    subject: str = ""
    description: str = ""
    status: str | None = None
    priority: str | None = None
    type: str | None = None
    tags: tuple[str, ...] = ()
    organization_id: str | None = None
    requester_id: str | None = None
    submitter_id: str | None = None
    group_id: str | None = None
    form_id: str | None = None
    channel: str | None = None
    is_public: bool | None = None
    custom_fields: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    requester_organization_id: str | None = None


@attrs.frozen
class Skip:
    """A valid Zendesk ticket that does not become a ticketspike ticket, and why.

    ``keep`` is set when the only thing missing is its customer and the rules say to
    keep such tickets aside (``no_customer: keep``) for a later re-resolve.
    """

    reason: str
    keep: bool = False


@attrs.frozen
class MappingRules:
    """How Zendesk fields become customer, priority, category, internal flag and link.

    :param subdomain: the account's subdomain, for agent links.
    :param agent_url_base: where agents open tickets; default
        ``https://{subdomain}.zendesk.com`` (set it for a host-mapped domain).
    :param customer_from: where the customer id comes from, tried in order:
        ``organization``, ``requester_organization``, ``custom_field:<id>``.
    :param organizations: organization id -> customer id; an organization
        not listed is its own customer id.
    :param organization_key: what names the customer of an organization: ``id``
        (the organization id itself), ``external_id``, or ``field:<key>`` (one of its
        ``organization_fields``); the last two are looked up through the API.
    :param no_customer: ``keep`` (keep the ticket aside with a reason, counted once
        a re-resolve finds its customer), ``skip`` (ignore it, with a reason) or
        ``default`` (count it for ``default_customer``).
    :param category_order: which category sources to try, first match wins.
    :param category_field: id of a custom field whose value names a category.
    :param internal_channels: ``via.channel`` values that never count.
    :param private_is_internal: a ticket whose first comment is private
        (``is_public`` false) is internal.
    :param agent_created_channels: channels on which a ticket whose submitter
        differs from its requester was created by an agent, hence internal.
    """

    subdomain: str
    agent_url_base: str | None = None
    customer_from: tuple[str, ...] = ("organization", "requester_organization")
    organizations: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    organization_key: str = "id"
    no_customer: str = attrs.field(
        default="keep", validator=attrs.validators.in_(("keep", "skip", "default"))
    )
    default_customer: str | None = None
    priorities: Mapping[str, Priority] = attrs.field(
        factory=lambda: dict(DEFAULT_PRIORITIES), hash=False
    )
    category_order: tuple[str, ...] = DEFAULT_CATEGORY_ORDER
    tag_rules: tuple[tuple[Category, tuple[str, ...]], ...] = DEFAULT_TAG_RULES
    category_field: str | None = None
    category_field_values: Mapping[str, Category] = attrs.field(factory=dict, hash=False)
    forms: Mapping[str, Category] = attrs.field(factory=dict, hash=False)
    groups: Mapping[str, Category] = attrs.field(factory=dict, hash=False)
    types: Mapping[str, Category] = attrs.field(factory=lambda: dict(DEFAULT_TYPES), hash=False)
    internal_channels: frozenset[str] = frozenset({"sample_ticket"})
    private_is_internal: bool = True
    agent_created_channels: frozenset[str] = frozenset({"web"})

    def __attrs_post_init__(self) -> None:
        if self.no_customer == "default" and not self.default_customer:
            raise ValueError("no_customer 'default' needs a default_customer")

    @property
    def wants_requester_organization(self) -> bool:
        return "requester_organization" in self.customer_from

    def agent_url(self, ticket_id: str) -> str:
        base = self.agent_url_base or f"https://{self.subdomain}.zendesk.com"
        return f"{base.rstrip('/')}/agent/tickets/{ticket_id}"


RequesterOrganization = Callable[[str], "str | None"]
OrganizationKey = Callable[[str], "str | None"]


def map_ticket(
    zt: ZendeskTicket,
    rules: MappingRules,
    *,
    requester_organization: RequesterOrganization | None = None,
    organization_key: OrganizationKey | None = None,
) -> Ticket | Skip:
    """The ticketspike ticket for ``zt``, or a :class:`Skip` saying why there is none.

    ``requester_organization`` (requester id -> organization id) is asked
    only when the rules name ``requester_organization`` and the payload did
    not carry it. ``organization_key`` (organization id -> its external id or
    mapped field) is asked only when ``organization_key`` is not ``id`` and the
    ``organizations`` table does not list the organization.
    """
    customer = _customer(zt, rules, requester_organization, organization_key)
    if isinstance(customer, Skip):
        return customer
    category = _category(zt, rules)
    return Ticket(
        ticket_id=zt.id,
        customer_id=customer,
        created_at=zt.created_at,
        category=category or Category.OTHER,
        priority=rules.priorities.get(zt.priority or "none", Priority.P3),
        subject=zt.subject,
        source=SOURCE_NAME,
        url=rules.agent_url(zt.id),
        internal=_internal(zt, rules),
        body=zt.description[:BODY_LIMIT],
        tags=zt.tags,
        category_given=category is not None,
    )


def _customer(
    zt: ZendeskTicket,
    rules: MappingRules,
    lookup: RequesterOrganization | None,
    org_key: OrganizationKey | None,
) -> str | Skip:
    notes: list[str] = []
    for source in rules.customer_from:
        if source == "organization":
            found = _organization_customer(zt.organization_id, rules, org_key, notes)
        elif source == "requester_organization":
            org = zt.requester_organization_id
            if org is None and lookup is not None and zt.requester_id is not None:
                org = lookup(zt.requester_id)
            if org is None and zt.requester_id is not None:
                notes.append(
                    f"requester {zt.requester_id} has no organization"
                    if lookup is not None
                    else f"requester {zt.requester_id} not looked up (no API credentials)"
                )
            found = _organization_customer(org, rules, org_key, notes)
        else:  # custom_field:<id>, validated when the rules were built
            found = _nonblank(zt.custom_fields.get(source.partition(":")[2]))
        if found is not None:
            return found
    if rules.no_customer == "default" and rules.default_customer:
        return rules.default_customer
    tried = ", ".join(rules.customer_from)
    why = f"; {'; '.join(dict.fromkeys(notes))}" if notes else ""
    return Skip(
        f"ticket {zt.id} names no customer (tried {tried}{why}; no_customer: {rules.no_customer})",
        keep=rules.no_customer == "keep",
    )


def _organization_customer(
    org: str | None, rules: MappingRules, org_key: OrganizationKey | None, notes: list[str]
) -> str | None:
    """The mapping table first, then the organization itself (or its looked-up key)."""
    if org is None:
        return None
    if org in rules.organizations:
        return rules.organizations[org]
    if rules.organization_key == "id":
        return org
    if org_key is None:
        notes.append(f"organization {org} not looked up (no API credentials)")
        return None
    value = org_key(org)
    if value is None:
        notes.append(f"organization {org} has no {rules.organization_key}")
        return None
    return rules.organizations.get(value, value)


def _category(zt: ZendeskTicket, rules: MappingRules) -> Category | None:
    for source in rules.category_order:
        found: Category | None = None
        if source == "tags":
            found = _category_from_tags(zt.tags, rules.tag_rules)
        elif source == "custom_field" and rules.category_field is not None:
            value = _nonblank(zt.custom_fields.get(rules.category_field))
            if value is not None:
                found = rules.category_field_values.get(value.lower()) or _named_category(value)
        elif source == "form" and zt.form_id is not None:
            found = rules.forms.get(zt.form_id)
        elif source == "group" and zt.group_id is not None:
            found = rules.groups.get(zt.group_id)
        elif source == "type" and zt.type is not None:
            found = rules.types.get(zt.type)
        if found is not None:
            return found
    return None


def _named_category(value: str) -> Category | None:
    category = Category.parse(value)
    return None if category is Category.OTHER else category


def _category_from_tags(
    tags: Sequence[str], tag_rules: Sequence[tuple[Category, tuple[str, ...]]]
) -> Category | None:
    for category, keywords in tag_rules:
        for keyword in keywords:
            pattern = _keyword_pattern(keyword)
            if any(pattern.search(tag) for tag in tags):
                return category
    return None


@lru_cache(maxsize=512)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    edge = r"[_\-:./\s]"
    return re.compile(rf"(?:^|{edge}){re.escape(keyword.lower())}(?:$|{edge})")


def _internal(zt: ZendeskTicket, rules: MappingRules) -> bool:
    if zt.channel is not None and zt.channel in rules.internal_channels:
        return True
    if rules.private_is_internal and zt.is_public is False:
        return True
    return (
        zt.channel is not None
        and zt.channel in rules.agent_created_channels
        and zt.submitter_id is not None
        and zt.requester_id is not None
        and zt.submitter_id != zt.requester_id
    )


# -- reading payloads ----------------------------------------------------------


def ticket_from_json(obj: object, *, where: str) -> ZendeskTicket:
    """Normalise a REST ticket or an event ``detail`` object into :class:`ZendeskTicket`.

    Raises :class:`ticketspike.InvalidTicket` naming ``where`` and the field
    when a field the rules rely on has the wrong shape.
    """
    if not isinstance(obj, Mapping):
        raise InvalidTicket(f"expected a ticket object, got {_kind(obj)}", where=where)
    ticket_id = _id(obj.get("id"), where=where, field="id")
    if ticket_id is None:
        raise InvalidTicket("missing ticket id", where=where, field="id")
    updated = obj.get("updated_at")
    via = obj.get("via")
    channel = None
    if isinstance(via, Mapping):
        channel = _enum(via.get("channel"), where=where, field="via.channel")
    elif via is not None:
        raise InvalidTicket(f"expected an object, got {_kind(via)}", where=where, field="via")
    is_public = obj.get("is_public")
    if is_public is not None and not isinstance(is_public, bool):
        raise InvalidTicket("expected true or false", where=where, field="is_public")
    return ZendeskTicket(
        id=ticket_id,
        created_at=parse_instant(obj.get("created_at"), where=where, field="created_at"),
        updated_at=(parse_instant(updated, where=where, field="updated_at") if updated else None),
        subject=_text(obj.get("subject"), where=where, field="subject"),
        description=_text(obj.get("description"), where=where, field="description"),
        status=_enum(obj.get("status"), where=where, field="status"),
        priority=_enum(obj.get("priority"), where=where, field="priority"),
        type=_enum(obj.get("type"), where=where, field="type"),
        tags=_tags(obj.get("tags"), where=where),
        organization_id=_id(obj.get("organization_id"), where=where, field="organization_id"),
        requester_id=_id(obj.get("requester_id"), where=where, field="requester_id"),
        submitter_id=_id(obj.get("submitter_id"), where=where, field="submitter_id"),
        group_id=_id(obj.get("group_id"), where=where, field="group_id"),
        form_id=_id(
            obj.get("ticket_form_id", obj.get("form_id")), where=where, field="ticket_form_id"
        ),
        channel=channel,
        is_public=is_public,
        custom_fields=_custom_fields(obj.get("custom_fields"), where=where),
        requester_organization_id=_id(
            obj.get("requester_organization_id"), where=where, field="requester_organization_id"
        ),
    )


def _id(value: object, *, where: str, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidTicket("expected an id, got a boolean", where=where, field=field)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    raise InvalidTicket(f"expected a numeric id, got {_kind(value)}", where=where, field=field)


def _enum(value: object, *, where: str, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidTicket(f"expected a string, got {_kind(value)}", where=where, field=field)
    text = value.strip().lower()
    return text or None


def _text(value: object, *, where: str, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidTicket(f"expected a string, got {_kind(value)}", where=where, field=field)
    return value


def _tags(value: object, *, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # a rendered {{ticket.tags}} placeholder: space-separated
        return tuple(t.lower() for t in value.split())
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return tuple(t.strip().lower() for t in value if t.strip())
    raise InvalidTicket("expected a list of strings", where=where, field="tags")


def _custom_fields(value: object, *, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidTicket(
            f"expected a list of {{id, value}} objects, got {_kind(value)}",
            where=where,
            field="custom_fields",
        )
    out: dict[str, str] = {}
    for index, item in enumerate(value):
        field = f"custom_fields[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidTicket("expected an {id, value} object", where=where, field=field)
        field_id = _id(item.get("id"), where=where, field=f"{field}.id")
        raw = item.get("value")
        if field_id is None or raw is None or isinstance(raw, (dict, list)):
            continue  # unset, or a multi-select: neither names a customer or category
        out[field_id] = raw if isinstance(raw, str) else str(raw).lower()
    return out


def _nonblank(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
