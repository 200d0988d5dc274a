"""Signed Intercom notifications through the source, as the HTTP face passes them."""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

try:
    importlib.metadata.distribution("ticketspike-intercom")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-intercom is not installed", allow_module_level=True)

from ticketspike import (
    Category,
    EventKind,
    Priority,
    Secret,
    SignatureError,
    WebhookRejected,
)
from ticketspike_intercom import IntercomSettings, IntercomSource, MappingRules

SECRET = "cs_live_7f3a9d2e"
OLD_SECRET = "cs_old_0b1c2d3e"
# The fixture notification was created at 1719399999 and first sent at 1719400000.
NOW = datetime(2024, 6, 26, 11, 7, 10, tzinfo=timezone.utc)  # 1719400030


def intercom_signature(secret: str, body: bytes) -> str:
    """Intercom's documented scheme, written out independently of the adapter."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def source(*secrets: str, **settings: Any) -> IntercomSource:
    return IntercomSource(
        settings=IntercomSettings(**settings),
        client_secrets=tuple(Secret(s, source="INTERCOM_CLIENT_SECRET") for s in secrets),
    )


def signed(notification: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(notification).encode()
    return body, {"x-hub-signature": intercom_signature(secret, body)}


def test_signed_user_created_becomes_one_counted_ticket(user_created):
    body, headers = signed(user_created)

    result = source(SECRET).parse_webhook(body, headers, now=NOW)

    assert result.delivery_id == "notif_6c2b8f7e-3d51-4a0e-9b7a-1f2e3d4c5b6a"
    assert result.ignored is None
    (event,) = result.events
    ticket = event.ticket
    assert event.kind is EventKind.CREATED
    assert event.event_id == result.delivery_id
    assert ticket.ticket_id == "215468293854"
    assert ticket.customer_id == "acme-corp"  # company.company_id, the host's own id
    assert ticket.category is Category.BILLING and ticket.category_given
    assert ticket.priority is Priority.P2  # binary "priority" of API <= 2.15
    assert ticket.created_at == datetime(2024, 6, 26, 11, 6, 30, tzinfo=timezone.utc)
    assert ticket.internal is False
    assert ticket.source == "intercom"
    assert ticket.url == (
        "https://app.intercom.com/a/inbox/abc12345/inbox/conversation/215468293854"
    )
    assert ticket.subject == "Hi team, We were charged twice this month & need a refund."
    assert ticket.tags == ("Billing",)


def test_tampered_body_is_refused(user_created):
    body, headers = signed(user_created)
    tampered = body.replace(b"acme-corp", b"evil-corp")

    with pytest.raises(SignatureError, match="does not match") as info:
        source(SECRET).parse_webhook(tampered, headers, now=NOW)
    assert info.value.status == 401


def test_wrong_secret_is_refused_without_echoing_secrets(user_created):
    body, headers = signed(user_created, secret="someone-elses-secret")
    expected = intercom_signature(SECRET, body)

    with pytest.raises(SignatureError) as info:
        source(SECRET).parse_webhook(body, headers, now=NOW)

    text = str(info.value)
    assert SECRET not in text and expected[5:] not in text
    assert headers["x-hub-signature"][5:] not in text


def test_missing_header_is_refused(user_created):
    body, _ = signed(user_created)
    with pytest.raises(SignatureError, match="missing X-Hub-Signature"):
        source(SECRET).parse_webhook(body, {}, now=NOW)


def test_header_without_sha1_prefix_is_refused(user_created):
    body, headers = signed(user_created)
    bare = {"x-hub-signature": headers["x-hub-signature"][5:]}
    with pytest.raises(SignatureError, match="sha1="):
        source(SECRET).parse_webhook(body, bare, now=NOW)


def test_no_secret_configured_refuses_everything_and_names_the_variable(user_created):
    body, headers = signed(user_created)
    with pytest.raises(SignatureError, match=r"\$INTERCOM_CLIENT_SECRET"):
        source().parse_webhook(body, headers, now=NOW)


def test_rotation_accepts_old_and_new_secret(user_created):
    rotating = source(SECRET, OLD_SECRET)
    for secret in (SECRET, OLD_SECRET):
        body, headers = signed(user_created, secret)
        assert len(rotating.parse_webhook(body, headers, now=NOW).events) == 1
    body, headers = signed(user_created, "retired-secret")
    with pytest.raises(SignatureError):
        rotating.parse_webhook(body, headers, now=NOW)


def test_replayed_notification_carries_the_same_delivery_id(user_created):
    body, headers = signed(user_created)
    src = source(SECRET)
    first = src.parse_webhook(body, headers, now=NOW)
    again = src.parse_webhook(body, headers, now=NOW + timedelta(minutes=2))
    # The engine drops the second by this id; the ticket identity is the same too.
    assert again.delivery_id == first.delivery_id == user_created["id"]
    assert again.events[0].ticket.key == first.events[0].ticket.key == ("intercom", "215468293854")


def test_stale_notification_is_refused_as_a_replay(user_created):
    body, headers = signed(user_created)
    later = NOW + timedelta(minutes=20)  # past the 15-minute default
    with pytest.raises(SignatureError, match="stale notification"):
        source(SECRET).parse_webhook(body, headers, now=later)
    # A longer max_age accepts it.
    assert source(SECRET, max_age=3600).parse_webhook(body, headers, now=later).events


def test_notification_from_the_future_is_refused(user_created):
    body, headers = signed(user_created)
    with pytest.raises(SignatureError, match="in the future"):
        source(SECRET).parse_webhook(body, headers, now=NOW - timedelta(hours=1))


def test_notification_without_timestamps_is_rejected(user_created):
    del user_created["created_at"], user_created["first_sent_at"]
    body, headers = signed(user_created)
    with pytest.raises(WebhookRejected, match="age cannot be checked"):
        source(SECRET).parse_webhook(body, headers, now=NOW)


def test_malformed_json_is_rejected_after_the_signature_check():
    body = b'{"topic": "conversation.user.created", '
    headers = {"x-hub-signature": intercom_signature(SECRET, body)}
    with pytest.raises(WebhookRejected, match="not valid JSON") as info:
        source(SECRET).parse_webhook(body, headers, now=NOW)
    assert not isinstance(info.value, SignatureError) and info.value.status == 400
    # Unsigned garbage never reaches the parser: it is a signature failure.
    with pytest.raises(SignatureError):
        source(SECRET).parse_webhook(body, {"x-hub-signature": "sha1=00"}, now=NOW)


def test_json_that_is_not_an_object_is_rejected():
    body = b"[1, 2, 3]"
    headers = {"x-hub-signature": intercom_signature(SECRET, body)}
    with pytest.raises(WebhookRejected, match="expected a notification object"):
        source(SECRET).parse_webhook(body, headers, now=NOW)


def test_notification_without_id_is_rejected(user_created):
    del user_created["id"]
    body, headers = signed(user_created)
    with pytest.raises(WebhookRejected, match="notification id"):
        source(SECRET).parse_webhook(body, headers, now=NOW)


def test_unknown_topic_is_acknowledged_and_ignored(user_created):
    user_created["topic"] = "visitor.signed_up"
    body, headers = signed(user_created)
    result = source(SECRET).parse_webhook(body, headers, now=NOW)
    assert result.events == ()
    assert result.delivery_id == user_created["id"]
    assert result.ignored == "topic 'visitor.signed_up' is not one ticketspike uses"


def test_ping_is_ignored(user_created):
    ping = {
        "type": "notification_event",
        "id": "notif_ping_1",
        "topic": "ping",
        "app_id": "abc12345",
        "data": {"type": "notification_event_data", "item": {"type": "ping", "message": "hi"}},
        "created_at": 1719400000,
    }
    body, headers = signed(ping)
    result = source(SECRET).parse_webhook(body, headers, now=NOW)
    assert result.events == () and result.ignored and result.ignored.startswith("ping")
    assert result.delivery_id == "notif_ping_1"
    # The endpoint test from Developer Hub may come without id; it is still acknowledged.
    ping["id"] = None
    body, headers = signed(ping)
    result = source(SECRET).parse_webhook(body, headers, now=NOW)
    assert result.delivery_id is None and result.ignored
    # But never unsigned.
    with pytest.raises(SignatureError):
        source(SECRET).parse_webhook(body, {"x-hub-signature": "sha1=" + "0" * 40}, now=NOW)


def test_admin_initiated_conversation_is_stored_internal(user_created):
    user_created["topic"] = "conversation.admin.single.created"
    user_created["data"]["item"]["source"]["delivered_as"] = "admin_initiated"
    user_created["data"]["item"]["source"]["author"] = {"type": "admin", "id": "991267"}
    body, headers = signed(user_created)
    (event,) = source(SECRET).parse_webhook(body, headers, now=NOW).events
    assert event.kind is EventKind.CREATED and event.ticket.internal is True


def test_user_topic_with_a_teammate_author_is_still_internal(user_created):
    user_created["data"]["item"]["source"]["author"] = {"type": "admin", "id": "991267"}
    body, headers = signed(user_created)
    (event,) = source(SECRET).parse_webhook(body, headers, now=NOW).events
    assert event.ticket.internal is True


def test_admin_note_is_ignored(user_created):
    user_created["topic"] = "conversation.admin.noted"
    body, headers = signed(user_created)
    result = source(SECRET).parse_webhook(body, headers, now=NOW)
    assert result.events == () and "notes never count" in (result.ignored or "")


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("conversation.admin.closed", EventKind.RESOLVED),
        ("conversation.priority.updated", EventKind.UPDATED),
        ("conversation_part.tag.created", EventKind.UPDATED),
        ("conversation.user.replied", EventKind.UPDATED),
    ],
)
def test_lifecycle_topics_map_to_event_kinds(user_created, topic, kind):
    user_created["topic"] = topic
    user_created["data"]["item"]["priority"] = "urgent"
    body, headers = signed(user_created)
    (event,) = source(SECRET).parse_webhook(body, headers, now=NOW).events
    assert event.kind is kind
    assert event.ticket.priority is Priority.P1
    # When it happened is the notification's time, not the conversation's creation.
    assert event.occurred_at == datetime(2024, 6, 26, 11, 6, 39, tzinfo=timezone.utc)


def test_replies_can_be_ignored_by_config(user_created):
    user_created["topic"] = "conversation.user.replied"
    body, headers = signed(user_created)
    src = source(SECRET, mapping=MappingRules(replied="ignore"))
    result = src.parse_webhook(body, headers, now=NOW)
    assert result.events == () and "replied" in (result.ignored or "")


def test_conversation_without_a_known_customer_is_acknowledged_and_kept_aside(user_created):
    item = user_created["data"]["item"]
    del item["company"]
    body, headers = signed(user_created)
    result = source(SECRET).parse_webhook(body, headers, now=NOW)
    assert result.events == ()
    assert result.ignored is not None and "no customer" in result.ignored
    # Without an access token the API cannot be asked; the reason says what to set.
    (aside,) = result.unmatched
    assert aside.record_id == item["id"] and "INTERCOM_ACCESS_TOKEN" in aside.reason
    # The contact fallback option maps it to the contact's external id.
    src = source(SECRET, mapping=MappingRules(customer_from=("company", "contact")))
    (event,) = src.parse_webhook(body, headers, now=NOW).events
    assert event.ticket.customer_id == "user-70"


def test_conversation_with_a_broken_field_is_rejected_with_the_field(user_created):
    user_created["data"]["item"]["created_at"] = "yesterday"
    body, headers = signed(user_created)
    with pytest.raises(WebhookRejected) as info:
        source(SECRET).parse_webhook(body, headers, now=NOW)
    assert info.value.field == "data.item.created_at"
    assert str(info.value).startswith("intercom webhook: data.item.created_at: expected unix")


def test_missing_conversation_is_rejected(user_created):
    user_created["data"] = {"type": "notification_event_data"}
    body, headers = signed(user_created)
    with pytest.raises(WebhookRejected, match="data.item"):
        source(SECRET).parse_webhook(body, headers, now=NOW)


def test_app_id_from_config_wins_for_links(user_created):
    body, headers = signed(user_created)
    (event,) = source(SECRET, app_id="q9x8w7").parse_webhook(body, headers, now=NOW).events
    assert event.ticket.url == (
        "https://app.intercom.com/a/inbox/q9x8w7/inbox/conversation/215468293854"
    )


def test_hostile_text_is_kept_as_text_and_errors_stay_one_line(user_created):
    item = user_created["data"]["item"]
    item["source"]["subject"] = "<!channel> {{ config }} <@U123>\nreset now"
    body, headers = signed(user_created)
    (event,) = source(SECRET).parse_webhook(body, headers, now=NOW).events
    # Stored verbatim as text (escaping is the notifier's job), no template evaluated.
    assert event.ticket.subject == "<!channel> {{ config }} <@U123> reset now"
    item["created_at"] = [1, 2]
    body, headers = signed(user_created)
    with pytest.raises(WebhookRejected) as info:
        source(SECRET).parse_webhook(body, headers, now=NOW)
    assert "\n" not in str(info.value) and "channel" not in str(info.value)


def test_source_repr_never_shows_secrets():
    src = IntercomSource(client_secrets=(Secret(SECRET),), access_token=Secret("tok_live_123"))
    assert SECRET not in repr(src) and "tok_live_123" not in repr(src)
