"""The documented mapping defaults, their configuration, and properties of text and signatures."""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
from datetime import datetime, timezone

import pytest

try:
    importlib.metadata.distribution("ticketspike-intercom")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-intercom is not installed", allow_module_level=True)

from hypothesis import given
from hypothesis import strategies as st

from ticketspike import Category, InvalidTicket, Priority, Secret, SignatureError
from ticketspike_intercom import (
    MappingRules,
    NoCustomer,
    conversation_ticket,
    html_to_text,
    sign,
    verify_signature,
)
from ticketspike_intercom.mapping import category_for, customer_for, priority_for

RULES = MappingRules()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # API <= 2.15: binary
        ("priority", Priority.P2),
        ("not_priority", Priority.P3),
        # API 2.16+: five levels
        ("urgent", Priority.P1),
        ("high", Priority.P2),
        ("medium", Priority.P3),
        ("none", Priority.P3),
        ("low", Priority.P4),
        ("URGENT", Priority.P1),
        # missing or unknown: the default
        (None, Priority.P3),
        ("critical-ish", Priority.P3),
        (7, Priority.P3),
    ],
)
def test_priority_defaults_cover_both_vocabularies(raw, expected):
    assert priority_for({"priority": raw}, RULES) is expected


def test_priority_table_is_configurable():
    rules = MappingRules(priorities={"priority": Priority.P1}, default_priority=Priority.P4)
    assert priority_for({"priority": "priority"}, rules) is Priority.P1
    assert priority_for({"priority": "urgent"}, rules) is Priority.P4


def test_category_from_custom_attribute_beats_tags():
    conversation = {
        "custom_attributes": {"Category": "Feature request"},
        "tags": {"type": "tag.list", "tags": [{"name": "billing"}]},
    }
    assert category_for(conversation, RULES) is Category.FEATURE_REQUEST


def test_category_from_tags_matches_whole_words():
    assert category_for({"tags": {"tags": [{"name": "api_error"}]}}, RULES) is Category.TECHNICAL
    assert category_for({"tags": {"tags": [{"name": "how-to"}]}}, RULES) is Category.TRAINING
    # "capital" contains "api" but is not the word "api".
    assert category_for({"tags": {"tags": [{"name": "capital"}]}}, RULES) is None


def test_category_from_topics(conversation_2_16):
    # "Issue type" is not a category attribute by default; the topic "API errors" decides.
    assert category_for(conversation_2_16, RULES) is Category.TECHNICAL


def test_category_attribute_names_and_keywords_are_configurable(conversation_2_16):
    rules = MappingRules(
        category_attributes=("issue type",),
        categories=((Category.TRAINING, ("outage",)),),
    )
    assert category_for(conversation_2_16, rules) is Category.TRAINING


def test_no_category_leaves_it_to_the_classifier(user_created):
    item = user_created["data"]["item"]
    item["tags"] = {"type": "tag.list", "tags": []}
    ticket = conversation_ticket(item, RULES, app_id="abc12345")
    assert ticket.category is Category.OTHER and ticket.category_given is False


def test_customer_from_company_object_uses_company_id_by_default(user_created):
    item = user_created["data"]["item"]
    assert customer_for(item, RULES) == "acme-corp"
    assert customer_for(item, MappingRules(company_key="id")) == "6657a1f2e4b0c3d2a1b00001"


def test_customer_from_bare_company_id_through_the_customers_table(conversation_2_16):
    assert customer_for(conversation_2_16, RULES) == "6657a1f2e4b0c3d2a1b00009"
    rules = MappingRules(customers={"6657a1f2e4b0c3d2a1b00009": "globex"})
    assert customer_for(conversation_2_16, rules) == "globex"


def test_customer_from_contact_lookup_by_id_external_id_or_email(user_created):
    item = user_created["data"]["item"]
    del item["company"]
    assert customer_for(item, RULES) is None
    for key in ("6657a2b3e4b0c3d2a1b00002", "user-70", "jo@acme.example"):
        assert customer_for(item, MappingRules(customers={key: "acme"})) == "acme"


def test_contact_fallback_prefers_external_id_then_id(conversation_2_16):
    del conversation_2_16["company_id"]
    rules = MappingRules(customer_from=("company", "contact"))
    # This lead has no external id, so its Intercom id is the customer.
    assert customer_for(conversation_2_16, rules) == "6657a2b3e4b0c3d2a1b00003"


def test_unmapped_conversation_raises_no_customer(conversation_2_16):
    del conversation_2_16["company_id"]
    with pytest.raises(NoCustomer, match="no customer"):
        conversation_ticket(conversation_2_16, RULES)


def test_2_16_conversation_maps_fully(conversation_2_16):
    ticket = conversation_ticket(conversation_2_16, RULES, app_id="abc12345")
    assert ticket.ticket_id == "215468300001"
    assert ticket.priority is Priority.P1
    assert ticket.subject == "Exports failing since this morning"
    assert ticket.body == "Every export fails. Error 500."  # script dropped
    assert ticket.created_at == datetime(2024, 6, 25, 7, 20, tzinfo=timezone.utc)
    assert ticket.url == "https://app.intercom.com/a/inbox/abc12345/inbox/conversation/215468300001"


def test_subject_falls_back_to_title_then_body_and_is_truncated(conversation_2_16):
    conversation_2_16["source"]["subject"] = ""
    assert conversation_ticket(conversation_2_16, RULES).subject == "Exports fail with a 500"
    conversation_2_16["title"] = None
    conversation_2_16["source"]["body"] = "<p>" + "word " * 60 + "</p>"
    subject = conversation_ticket(conversation_2_16, MappingRules(subject_length=20)).subject
    assert subject == "word word word word\u2026"


def test_no_app_id_means_no_link(conversation_2_16):
    assert conversation_ticket(conversation_2_16, RULES).url is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", None, "missing conversation id"),
        ("created_at", 1719300000000, "plausible unix time"),
        ("created_at", True, "expected unix seconds"),
        ("tags", "billing", "expected a list"),
        ("source", "email", "expected an object"),
    ],
)
def test_broken_conversations_name_the_field(conversation_2_16, field, value, message):
    conversation_2_16[field] = value
    with pytest.raises(InvalidTicket, match=message):
        conversation_ticket(conversation_2_16, RULES)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello</p><p>world</p>", "Hello world"),
        ("a<br>b<br/>c", "a b c"),
        ("Fish &amp; chips &lt;3", "Fish & chips <3"),
        ("<style>p{color:red}</style>Visible", "Visible"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("plain text", "plain text"),
    ],
)
def test_html_to_text_examples(html, text):
    assert html_to_text(html) == text


@given(
    st.lists(st.sampled_from(["p", "b", "div", "span", "a", "li"]), max_size=6),
    st.text(alphabet=st.characters(blacklist_characters="<>&"), max_size=40),
)
def test_html_to_text_keeps_the_words_and_drops_the_tags(tags, words):
    html = "".join(f"<{t}>" for t in tags) + words + "".join(f"</{t}>" for t in reversed(tags))
    assert html_to_text(html) == " ".join(words.split())


@given(st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans()))
def test_priority_mapping_is_total(raw):
    assert priority_for({"priority": raw}, RULES) in set(Priority)


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40))
def test_signature_round_trip_matches_the_documented_scheme(body, secret):
    header = sign(body, secret)
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    assert header == "sha1=" + expected
    verify_signature(body, {"x-hub-signature": header}, [Secret(secret)])


@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_changed_byte_breaks_the_signature(body, data):
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    flipped = bytes([body[index] ^ data.draw(st.integers(min_value=1, max_value=255))])
    tampered = body[:index] + flipped + body[index + 1 :]
    header = sign(body, "s3cret")
    with pytest.raises(SignatureError):
        verify_signature(tampered, {"x-hub-signature": header}, [Secret("s3cret")])
