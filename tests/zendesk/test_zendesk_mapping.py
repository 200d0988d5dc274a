"""Field mapping: both Zendesk dialects, the documented defaults and the configurable rules."""

from __future__ import annotations

import importlib.metadata
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

try:
    importlib.metadata.distribution("ticketspike-zendesk")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-zendesk is not installed", allow_module_level=True)

from ticketspike import Category, InvalidTicket, Priority, Ticket
from ticketspike_zendesk import MappingRules, Skip, map_ticket, ticket_from_json

RULES = MappingRules(subdomain="acme")
CREATED = "2026-03-01T10:00:00Z"


def mapped(rules: MappingRules = RULES, **fields) -> Ticket:
    record = {"id": 1, "created_at": CREATED, "organization_id": 42, **fields}
    result = map_ticket(ticket_from_json(record, where="test"), rules)
    assert isinstance(result, Ticket), result
    return result


@pytest.mark.parametrize(
    ("zendesk", "expected"),
    [
        ("urgent", "P1"),
        ("high", "P2"),
        ("normal", "P3"),
        ("low", "P4"),
        (None, "P3"),
        ("URGENT", "P1"),
        ("Low", "P4"),
    ],
)
def test_default_priorities(zendesk, expected):
    assert mapped(priority=zendesk).priority.value == expected


def test_priorities_are_configurable():
    rules = MappingRules(subdomain="acme", priorities={**RULES.priorities, "high": Priority.P1})
    assert mapped(rules, priority="high").priority is Priority.P1


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["refund_request"], Category.BILLING),
        (["payment"], Category.BILLING),
        (["public-api"], Category.TECHNICAL),
        (["outage", "invoice"], Category.BILLING),  # billing rules come first
        (["how_to_export"], Category.TRAINING),
        (["onboarding"], Category.TRAINING),
        (["feature_request"], Category.FEATURE_REQUEST),
        (["idea"], Category.FEATURE_REQUEST),
    ],
)
def test_default_tag_rules(tags, expected):
    assert mapped(tags=tags, type=None).category is expected


def test_a_keyword_inside_another_word_does_not_match():
    ticket = mapped(tags=["rapid", "terrorist", "erroneous"], type=None)
    assert ticket.category is Category.OTHER
    assert ticket.category_given is False


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("incident", Category.TECHNICAL),
        ("problem", Category.TECHNICAL),
        ("question", Category.TRAINING),
        ("task", Category.TECHNICAL),
    ],
)
def test_ticket_type_is_the_fallback(kind, expected):
    ticket = mapped(tags=["vip"], type=kind)
    assert ticket.category is expected and ticket.category_given is True


def test_forms_groups_and_a_custom_field_name_categories():
    rules = MappingRules(
        subdomain="acme",
        forms={"7": Category.BILLING},
        groups={"9": Category.TRAINING},
        category_field="555",
        category_field_values={"cat_money": Category.BILLING},
    )
    assert mapped(rules, ticket_form_id=7, tags=[], type=None).category is Category.BILLING
    assert mapped(rules, group_id=9, tags=[], type=None).category is Category.TRAINING
    field = [{"id": 555, "value": "Technical"}]
    assert mapped(rules, custom_fields=field, tags=[], type=None).category is Category.TECHNICAL
    field = [{"id": 555, "value": "cat_money"}]
    assert mapped(rules, custom_fields=field, tags=[], type=None).category is Category.BILLING


def test_category_order_decides_between_sources():
    tags_first = MappingRules(subdomain="acme", groups={"9": Category.TRAINING})
    groups_first = MappingRules(
        subdomain="acme",
        groups={"9": Category.TRAINING},
        category_order=("group", "tags", "type"),
    )
    fields = {"tags": ["billing"], "group_id": 9}
    assert mapped(tags_first, **fields).category is Category.BILLING
    assert mapped(groups_first, **fields).category is Category.TRAINING


def test_customer_from_a_custom_field_then_the_organization():
    rules = MappingRules(subdomain="acme", customer_from=("custom_field:800", "organization"))
    assert mapped(rules, custom_fields=[{"id": 800, "value": " acct-9 "}]).customer_id == "acct-9"
    assert mapped(rules, custom_fields=[{"id": 800, "value": None}]).customer_id == "42"


def test_requester_organization_is_asked_only_when_needed():
    asked: list[str] = []

    def lookup(requester: str) -> str | None:
        asked.append(requester)
        return "77"

    rules = MappingRules(
        subdomain="acme",
        customer_from=("organization", "requester_organization"),
        organizations={"77": "initech"},
    )
    with_org = ticket_from_json(
        {"id": 1, "created_at": CREATED, "organization_id": 5, "requester_id": 3}, where="t"
    )
    without = ticket_from_json({"id": 2, "created_at": CREATED, "requester_id": 3}, where="t")
    assert map_ticket(with_org, rules, requester_organization=lookup).customer_id == "5"
    assert asked == []
    assert map_ticket(without, rules, requester_organization=lookup).customer_id == "initech"
    assert asked == ["3"]


def test_no_customer_is_a_skip_with_a_reason():
    result = map_ticket(ticket_from_json({"id": 8, "created_at": CREATED}, where="t"), RULES)
    assert isinstance(result, Skip)
    assert "ticket 8" in result.reason and "organization" in result.reason


def test_a_default_customer_needs_a_name():
    with pytest.raises(ValueError):
        MappingRules(subdomain="acme", no_customer="default")


def test_agent_url_follows_a_host_mapped_domain():
    rules = MappingRules(subdomain="acme", agent_url_base="https://help.acme.example/")
    assert mapped(rules).url == "https://help.acme.example/agent/tickets/1"


def test_long_descriptions_are_trimmed_for_storage():
    assert len(mapped(description="x" * 20_000).body) == 4000


def test_event_timestamps_with_nanoseconds_parse():
    zt = ticket_from_json({"id": "3", "created_at": "2025-01-08T10:12:07.672717030Z"}, where="t")
    assert zt.created_at == datetime(2025, 1, 8, 10, 12, 7, 672717, tzinfo=timezone.utc)


def test_minute_precision_trigger_timestamps_parse():
    zt = ticket_from_json({"id": "3", "created_at": "2013-12-12T05:35Z"}, where="t")
    assert zt.created_at == datetime(2013, 12, 12, 5, 35, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"created_at": CREATED}, "id"),
        ({"id": "abc", "created_at": CREATED}, "id"),
        ({"id": 1, "created_at": "yesterday"}, "created_at"),
        ({"id": 1, "created_at": "2026-03-01T10:00:00"}, "created_at"),  # naive
        ({"id": 1, "created_at": CREATED, "tags": "a b", "priority": 3}, "priority"),
        ({"id": 1, "created_at": CREATED, "tags": [1]}, "tags"),
        ({"id": 1, "created_at": CREATED, "is_public": "yes"}, "is_public"),
        ({"id": 1, "created_at": CREATED, "custom_fields": {"a": 1}}, "custom_fields"),
    ],
)
def test_malformed_fields_are_named(record, field):
    with pytest.raises(InvalidTicket) as err:
        ticket_from_json(record, where="payload")
    assert err.value.field == field
    assert str(err.value).startswith("payload: ")


ids = st.integers(min_value=1, max_value=10**14)
enums = st.sampled_from([None, "urgent", "high", "normal", "low"])
types = st.sampled_from([None, "question", "incident", "problem", "task"])
statuses = st.sampled_from(["new", "open", "pending", "hold", "solved", "closed"])
tag_lists = st.lists(
    st.from_regex(r"[a-z][a-z0-9_\-]{0,15}", fullmatch=True), max_size=5, unique=True
)


@given(
    ticket_id=ids,
    org=st.none() | ids,
    priority=enums,
    kind=types,
    status=statuses,
    tags=tag_lists,
    public=st.booleans(),
    channel=st.sampled_from(["web", "email", "api"]),
    requester=ids,
    submitter=ids,
)
def test_rest_and_event_dialects_map_to_the_same_ticket(
    ticket_id, org, priority, kind, status, tags, public, channel, requester, submitter
):
    rest = {
        "id": ticket_id,
        "created_at": CREATED,
        "organization_id": org,
        "priority": priority,
        "type": kind,
        "status": status,
        "tags": tags,
        "is_public": public,
        "via": {"channel": channel},
        "requester_id": requester,
        "submitter_id": submitter,
    }
    event = {
        **rest,
        "id": str(ticket_id),
        "organization_id": None if org is None else str(org),
        "priority": priority.upper() if priority else None,
        "type": kind.upper() if kind else None,
        "status": status.upper(),
        "requester_id": str(requester),
        "submitter_id": str(submitter),
    }
    rules = MappingRules(subdomain="acme", no_customer="default", default_customer="nobody")
    from_rest = map_ticket(ticket_from_json(rest, where="rest"), rules)
    from_event = map_ticket(ticket_from_json(event, where="event"), rules)
    assert from_rest == from_event
    assert isinstance(from_rest, Ticket)
    assert from_rest.customer_id == (str(org) if org is not None else "nobody")
    assert from_rest.priority in set(Priority)
