"""Signed Zendesk deliveries through the source: mapped, ignored with a reason, or refused."""

from __future__ import annotations

import importlib.metadata
import json
from datetime import datetime, timedelta, timezone

import pytest

try:
    importlib.metadata.distribution("ticketspike-zendesk")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-zendesk is not installed", allow_module_level=True)

from ticketspike import (
    Category,
    EventKind,
    Priority,
    SignatureError,
    TicketSource,
    WebhookRejected,
)


def body_of(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def deliver(kit, source, payload, **header_options):
    body = payload if isinstance(payload, bytes) else body_of(payload)
    return source.parse_webhook(body, kit.signed_headers(body, **header_options), now=kit.NOW)


def test_the_source_is_a_ticket_source(kit):
    source = kit.source()
    assert isinstance(source, TicketSource)
    assert source.name == "zendesk"


def test_a_signed_ticket_created_becomes_one_mapped_ticket(kit):
    payload = kit.load_fixture("event_ticket_created.json")
    result = deliver(kit, kit.source(), payload)

    assert result.ignored is None
    assert result.delivery_id == "cbe4028c-7239-495d-b020-f22348516046"
    (event,) = result.events
    assert event.kind is EventKind.CREATED
    assert event.event_id == result.delivery_id
    ticket = event.ticket
    assert ticket.ticket_id == "5158"
    assert ticket.source == "zendesk"
    assert ticket.customer_id == "techcorp"  # organization 8447346622462 via the map
    assert ticket.priority is Priority.P2  # HIGH
    assert ticket.category is Category.TECHNICAL  # tag api_error
    assert ticket.category_given is True
    assert ticket.created_at == datetime(2026, 3, 1, 11, 58, 12, tzinfo=timezone.utc)
    assert event.at == ticket.created_at
    assert ticket.url == "https://acme.zendesk.com/agent/tickets/5158"
    assert ticket.subject == "API export failing with 502"
    assert ticket.internal is False
    assert ticket.tags == ("api_error", "enterprise")


def test_a_replayed_delivery_returns_the_same_delivery_id(kit):
    source = kit.source()
    payload = kit.load_fixture("event_ticket_created.json")
    first = deliver(kit, source, payload)
    # Zendesk re-signs a retry with a new timestamp; the event id stays.
    again = source.parse_webhook(
        body_of(payload),
        kit.signed_headers(body_of(payload), at=kit.NOW + timedelta(seconds=40)),
        now=kit.NOW + timedelta(seconds=41),
    )
    assert first.delivery_id == again.delivery_id == payload["id"]
    assert first.events == again.events


def test_status_changed_to_solved_is_a_resolution_at_the_event_time(kit):
    payload = kit.load_fixture("event_status_changed.json")
    (event,) = deliver(kit, kit.source(), payload).events
    assert event.kind is EventKind.RESOLVED
    assert event.ticket.ticket_id == "5160"
    assert event.ticket.category is Category.BILLING  # tag invoice
    assert event.occurred_at == datetime(2026, 3, 1, 11, 59, 30, 120000, tzinfo=timezone.utc)


def test_status_changed_to_closed_is_a_resolution(kit):
    payload = kit.load_fixture("event_status_changed.json")
    payload["event"] = {"current": "CLOSED", "previous": "SOLVED"}
    payload["detail"]["status"] = "CLOSED"
    (event,) = deliver(kit, kit.source(), payload).events
    assert event.kind is EventKind.RESOLVED


def test_status_changed_to_open_is_ignored_with_a_reason(kit):
    payload = kit.load_fixture("event_status_changed.json")
    payload["event"] = {"current": "OPEN", "previous": "SOLVED"}
    payload["detail"]["status"] = "OPEN"
    result = deliver(kit, kit.source(), payload)
    assert result.events == ()
    assert "open" in result.ignored and "solved and closed" in result.ignored
    assert result.delivery_id == payload["id"]


def test_priority_changed_is_an_update_with_the_new_priority(kit):
    payload = kit.load_fixture("event_priority_changed.json")
    (event,) = deliver(kit, kit.source(), payload).events
    assert event.kind is EventKind.UPDATED
    assert event.ticket.priority is Priority.P1  # event.current URGENT wins over detail HIGH
    assert event.occurred_at == datetime(2026, 3, 1, 11, 59, 50, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "event_type",
    [
        "ticket.tags_changed",
        "ticket.ticket_type_changed",
        "ticket.form_changed",
        "ticket.group_assignment_changed",
    ],
)
def test_fields_that_move_category_are_updates(kit, event_type):
    payload = kit.load_fixture("event_priority_changed.json")
    payload["type"] = f"zen:event-type:{event_type}"
    payload["event"] = {}
    payload["detail"]["tags"] = ["refund"]
    (event,) = deliver(kit, kit.source(), payload).events
    assert event.kind is EventKind.UPDATED
    assert event.ticket.category is Category.BILLING


def test_an_unknown_ticket_event_is_acknowledged_and_ignored(kit):
    payload = kit.load_fixture("event_comment_added.json")
    result = deliver(kit, kit.source(), payload)
    assert result.events == ()
    assert "ticket.comment_added" in result.ignored
    assert result.delivery_id == payload["id"]


def test_a_non_ticket_event_is_ignored(kit):
    payload = {"type": "zen:event-type:user.created", "id": "u-1", "detail": {}}
    result = deliver(kit, kit.source(), payload)
    assert result.events == () and "not a ticket event" in result.ignored


def test_the_zendesk_test_body_is_acknowledged_and_ignored(kit):
    result = deliver(kit, kit.source(), {"say": "hello"}, invocation="inv-7")
    assert result.events == ()
    assert "not a Zendesk ticket event" in result.ignored
    assert result.delivery_id == "inv-7"


def test_malformed_json_is_rejected_with_400_not_401(kit):
    with pytest.raises(WebhookRejected) as err:
        deliver(kit, kit.source(), b'{"type": "zen:event-type:ticket.created",')
    assert not isinstance(err.value, SignatureError)
    assert err.value.status == 400
    assert "malformed JSON" in str(err.value)


def test_a_json_array_is_rejected(kit):
    with pytest.raises(WebhookRejected, match="expected a JSON object, got a JSON array"):
        deliver(kit, kit.source(), b"[1, 2]")


def test_a_ticket_without_created_at_is_rejected_naming_the_field(kit):
    payload = kit.load_fixture("event_ticket_created.json")
    del payload["detail"]["created_at"]
    with pytest.raises(WebhookRejected) as err:
        deliver(kit, kit.source(), payload)
    assert err.value.field == "created_at"
    assert err.value.status == 400


def test_a_non_numeric_organization_is_rejected(kit):
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"]["organization_id"] = {"id": 1}
    with pytest.raises(WebhookRejected) as err:
        deliver(kit, kit.source(), payload)
    assert err.value.field == "organization_id"


@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ("tampered", {}),
        ("wrong secret", {"secret": "someone-else"}),
        ("stale", {"at": datetime(2026, 3, 1, 11, 54, 0, tzinfo=timezone.utc)}),
        ("future", {"at": datetime(2026, 3, 1, 12, 5, 1, tzinfo=timezone.utc)}),
    ],
)
def test_bad_signatures_are_refused_before_parsing(kit, variant, options):
    payload = kit.load_fixture("event_ticket_created.json")
    body = body_of(payload)
    headers = kit.signed_headers(body, **options)
    if variant == "tampered":
        body = body.replace(b"HIGH", b"LOW")
    with pytest.raises(SignatureError) as err:
        kit.source().parse_webhook(body, headers, now=kit.NOW)
    assert err.value.status == 401
    assert kit.SECRET not in str(err.value)


def test_missing_signature_headers_are_refused(kit):
    body = body_of(kit.load_fixture("event_ticket_created.json"))
    with pytest.raises(SignatureError, match="missing header"):
        kit.source().parse_webhook(body, {"content-type": "application/json"}, now=kit.NOW)


def test_even_malformed_json_needs_a_valid_signature(kit):
    body = b"{not json"
    with pytest.raises(SignatureError):
        kit.source().parse_webhook(body, kit.signed_headers(b"{}"), now=kit.NOW)


def test_a_rotated_secret_verifies_through_the_source(kit):
    env = kit.env(ZENDESK_WEBHOOK_SECRET="old-secret-1 new-secret-2")
    source = kit.source(env=env)
    payload = kit.load_fixture("event_ticket_created.json")
    for secret in ("old-secret-1", "new-secret-2"):
        assert deliver(kit, source, payload, secret=secret).events
    with pytest.raises(SignatureError):
        deliver(kit, source, payload, secret=kit.SECRET)


def test_without_a_webhook_secret_deliveries_are_refused(kit):
    env = kit.env()
    del env["ZENDESK_WEBHOOK_SECRET"]
    with pytest.raises(SignatureError, match=r"\$ZENDESK_WEBHOOK_SECRET"):
        deliver(kit, kit.source(env=env), kit.load_fixture("event_ticket_created.json"))


def test_a_ticket_without_any_organization_is_kept_aside_with_a_reason(kit, fake_zendesk):
    fake_zendesk.users[8447388090494] = {"id": 8447388090494, "organization_id": None}
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"]["organization_id"] = None
    result = deliver(kit, kit.source(fake=fake_zendesk), payload)
    assert result.events == ()
    assert "5158" in result.ignored and "no customer" in result.ignored
    (aside,) = result.unmatched
    assert aside.record_id == "5158"
    assert "requester 8447388090494 has no organization" in aside.reason
    # no_customer: skip keeps the old behaviour: acknowledged, nothing kept.
    skip = "subdomain: acme\ncustomer:\n  no_customer: skip\n"
    result = deliver(kit, kit.source(skip, fake=fake_zendesk), payload)
    assert result.unmatched == () and "no customer" in result.ignored


def test_a_ticket_without_organization_can_count_for_a_default_customer(kit):
    text = (
        "subdomain: acme\ncustomer:\n  from: [organization]\n  no_customer: default\n"
        "  default_customer: unassigned\n"
    )
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"]["organization_id"] = None
    (event,) = deliver(kit, kit.source(text), payload).events
    assert event.ticket.customer_id == "unassigned"


def test_an_unmapped_organization_is_its_own_customer(kit):
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"]["organization_id"] = "777"
    (event,) = deliver(kit, kit.source(), payload).events
    assert event.ticket.customer_id == "777"


@pytest.mark.parametrize(
    ("changes", "internal"),
    [
        ({"is_public": False}, True),  # private first comment
        ({"via": {"channel": "sample_ticket"}}, True),
        ({"via": {"channel": "web"}, "submitter_id": "1001"}, True),  # agent created it
        ({"via": {"channel": "email"}, "submitter_id": "1001"}, False),  # agent forwarded mail
        ({"via": {"channel": "web"}}, False),  # the customer used the web form
    ],
)
def test_internal_and_agent_created_tickets_are_marked_internal(kit, changes, internal):
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"].update(changes)
    (event,) = deliver(kit, kit.source(), payload).events
    assert event.ticket.internal is internal


def test_requester_organization_is_looked_up_through_the_api(kit, fake_zendesk):
    fake_zendesk.users[8447388090494] = {"id": 8447388090494, "organization_id": 509974}
    text = (
        "subdomain: acme\ncustomer:\n  from: [organization, requester_organization]\n"
        '  organizations: {"509974": globex}\n'
    )
    source = kit.source(text, fake=fake_zendesk)
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"]["organization_id"] = None
    (event,) = deliver(kit, source, payload).events
    assert event.ticket.customer_id == "globex"
    # A second ticket from the same requester needs no second lookup.
    payload["detail"]["id"] = "5159"
    deliver(kit, source, payload)
    user_calls = [r for r in fake_zendesk.requests if r["path"].startswith("/api/v2/users/")]
    assert [r["path"] for r in user_calls] == ["/api/v2/users/8447388090494.json"]


def test_a_failed_lookup_asks_zendesk_to_retry(kit, fake_zendesk):
    fake_zendesk.fail_all = kit.Reply(500, {"error": "InternalError"})
    text = "subdomain: acme\ncustomer:\n  from: [requester_organization]\n"
    payload = kit.load_fixture("event_ticket_created.json")
    with pytest.raises(WebhookRejected) as err:
        deliver(kit, kit.source(text, fake=fake_zendesk), payload)
    assert err.value.status == 503
    assert "requester 8447388090494" in str(err.value)
    assert "api-token-value" not in str(err.value)


# -- trigger bodies -------------------------------------------------------------


def test_a_trigger_body_fetches_the_ticket_and_maps_it(kit, fake_zendesk):
    fake_zendesk.tickets[35436] = kit.rest_ticket(35436)
    source = kit.source(fake=fake_zendesk)
    payload = {"ticket_id": "35436", "event": "created"}
    result = deliver(kit, source, payload, invocation="01HQ-INVOCATION-1")

    assert result.delivery_id == "01HQ-INVOCATION-1"
    (event,) = result.events
    assert event.kind is EventKind.CREATED
    assert event.event_id == "01HQ-INVOCATION-1"
    ticket = event.ticket
    assert (ticket.ticket_id, ticket.customer_id) == ("35436", "globex")
    assert ticket.priority is Priority.P1  # urgent
    assert ticket.category is Category.TECHNICAL  # no tag rule matches; type incident
    assert ticket.url == "https://acme.zendesk.com/agent/tickets/35436"
    assert ticket.body.startswith("Since the reset")
    (call,) = [r for r in fake_zendesk.requests if r["path"] == "/api/v2/tickets/35436.json"]
    assert call["headers"]["Authorization"].startswith("Basic ")


def test_a_trigger_resolution_happens_at_the_signed_time(kit, fake_zendesk):
    fake_zendesk.tickets[35436] = kit.rest_ticket(35436, status="solved")
    at = kit.NOW - timedelta(seconds=20)
    payload = {"ticket_id": 35436, "event": "Resolved"}
    (event,) = deliver(kit, kit.source(fake=fake_zendesk), payload, at=at).events
    assert event.kind is EventKind.RESOLVED
    assert event.occurred_at == at


def test_each_trigger_sees_the_ticket_as_it_is_now(kit, fake_zendesk):
    fake_zendesk.tickets[35436] = kit.rest_ticket(35436, priority="low")
    source = kit.source(fake=fake_zendesk)
    (first,) = deliver(kit, source, {"ticket_id": "35436"}, invocation="i-1").events
    fake_zendesk.tickets[35436] = kit.rest_ticket(35436, priority="urgent")
    (second,) = deliver(
        kit, source, {"ticket_id": "35436", "event": "updated"}, invocation="i-2"
    ).events
    assert (first.ticket.priority, second.ticket.priority) == (Priority.P4, Priority.P1)
    assert second.kind is EventKind.UPDATED


def test_a_trigger_for_a_vanished_ticket_is_ignored(kit, fake_zendesk):
    result = deliver(kit, kit.source(fake=fake_zendesk), {"ticket_id": "999"}, invocation="i-9")
    assert result.events == ()
    assert "999" in result.ignored and "no longer exists" in result.ignored


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ticket_id": "{{ticket.id}}"}, "ticket_id"),
        ({"ticket_id": True}, "ticket_id"),
        ({"ticket_id": "12", "event": "deleted"}, "event"),
        ({"ticket_id": "12", "event": 3}, "event"),
    ],
)
def test_a_bad_trigger_body_is_rejected_naming_the_field(kit, fake_zendesk, payload, field):
    with pytest.raises(WebhookRejected) as err:
        deliver(kit, kit.source(fake=fake_zendesk), payload)
    assert err.value.field == field
    assert err.value.status == 400


def test_a_trigger_body_without_api_credentials_is_rejected(kit):
    env = {"ZENDESK_WEBHOOK_SECRET": kit.SECRET}
    with pytest.raises(WebhookRejected, match="no Zendesk API credentials"):
        deliver(kit, kit.source(env=env), {"ticket_id": "12"})


def test_event_subscriptions_work_without_api_credentials(kit):
    env = {"ZENDESK_WEBHOOK_SECRET": kit.SECRET}
    result = deliver(kit, kit.source(env=env), kit.load_fixture("event_ticket_created.json"))
    assert len(result.events) == 1


def test_a_trigger_when_zendesk_is_down_asks_for_a_retry(kit, fake_zendesk):
    fake_zendesk.fail_all = kit.Reply(503, {"error": "Unavailable"})
    with pytest.raises(WebhookRejected) as err:
        deliver(kit, kit.source(fake=fake_zendesk), {"ticket_id": "12"})
    assert err.value.status == 503
    assert "503" in str(err.value) and "fetching ticket 12" in str(err.value)


def test_hostile_ticket_text_passes_through_untouched_and_unlogged(kit, caplog):
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"]["subject"] = "<!channel> {{ 7*7 }} <https://evil.example|reset>"
    with caplog.at_level("DEBUG"):
        (event,) = deliver(kit, kit.source(), payload).events
    assert event.ticket.subject == payload["detail"]["subject"]
    assert "<!channel>" not in caplog.text


def test_the_source_repr_shows_no_secrets(kit):
    source = kit.source()
    shown = repr(source) + repr(source.settings)
    for value in kit.env().values():
        assert value not in shown
