"""Zendesk webhook signatures: the verifier refuses everything but fresh, signed bodies."""

from __future__ import annotations

import importlib.metadata
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

try:
    importlib.metadata.distribution("ticketspike-zendesk")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-zendesk is not installed", allow_module_level=True)

from ticketspike import Secret, SignatureError, WebhookRejected
from ticketspike_zendesk import SIGNED_ORDER, SignedOrder, sign, verify

BODY = b'{"type":"zen:event-type:ticket.created","id":"e1"}'


def secrets(*values: str) -> tuple[Secret, ...]:
    return tuple(Secret(v, source="ZENDESK_WEBHOOK_SECRET") for v in values)


def test_a_documented_signature_verifies_and_returns_the_signed_time(kit):
    headers = kit.signed_headers(BODY)
    assert verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW) == kit.NOW


def test_current_order_is_timestamp_then_body(kit):
    assert SIGNED_ORDER is SignedOrder.TIMESTAMP_BODY
    stamp = kit.iso(kit.NOW)
    assert sign(kit.SECRET, stamp, BODY) == kit.signature(kit.SECRET, stamp, BODY)


def test_the_old_documentation_vector_matches_only_body_then_timestamp():
    # Published with an older revision of Zendesk's "verifying" page.
    secret = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
    body = b'{"say": "hello"}'
    stamp = "2021-07-25T10:00:00Z"
    vector = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="
    assert sign(secret, stamp, body, order=SignedOrder.BODY_TIMESTAMP) == vector
    assert sign(secret, stamp, body, order=SignedOrder.TIMESTAMP_BODY) != vector


def test_a_tampered_body_is_refused_without_echoing_secrets(kit):
    headers = kit.signed_headers(BODY)
    tampered = BODY.replace(b"e1", b"e2")
    with pytest.raises(SignatureError) as err:
        verify(tampered, headers, secrets(kit.SECRET), now=kit.NOW)
    message = str(err.value)
    assert "does not match" in message
    assert kit.SECRET not in message
    expected = kit.signature(kit.SECRET, kit.iso(kit.NOW), tampered)
    assert expected not in message
    assert headers["x-zendesk-webhook-signature"] not in message
    assert err.value.status == 401


def test_a_wrong_secret_is_refused(kit):
    headers = kit.signed_headers(BODY, secret="not-the-secret")
    with pytest.raises(SignatureError, match="does not match"):
        verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW)


@pytest.mark.parametrize("offset", [301, -301, 3600, -86400])
def test_a_timestamp_outside_five_minutes_either_way_is_refused(kit, offset):
    at = kit.NOW - timedelta(seconds=offset)
    headers = kit.signed_headers(BODY, at=at)
    with pytest.raises(SignatureError) as err:
        verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW)
    assert err.value.field == "x-zendesk-webhook-signature-timestamp"
    assert ("old" if offset > 0 else "future") in str(err.value)


@pytest.mark.parametrize("offset", [300, -300, 0, 299])
def test_a_timestamp_within_five_minutes_either_way_is_accepted(kit, offset):
    at = kit.NOW - timedelta(seconds=offset)
    assert verify(BODY, kit.signed_headers(BODY, at=at), secrets(kit.SECRET), now=kit.NOW) == at


def test_the_window_is_configurable(kit):
    headers = kit.signed_headers(BODY, at=kit.NOW - timedelta(seconds=90))
    with pytest.raises(SignatureError):
        verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW, tolerance=timedelta(seconds=60))


@pytest.mark.parametrize(
    "missing", ["x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"]
)
def test_a_missing_header_is_named(kit, missing):
    headers = kit.signed_headers(BODY)
    del headers[missing]
    with pytest.raises(SignatureError) as err:
        verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW)
    assert err.value.field == missing
    assert "missing header" in str(err.value)


def test_a_unix_seconds_timestamp_is_refused_with_the_expected_format(kit):
    stamp = str(int(kit.NOW.timestamp()))
    headers = {
        "x-zendesk-webhook-signature": kit.signature(kit.SECRET, stamp, BODY),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }
    with pytest.raises(SignatureError, match="ISO-8601"):
        verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW)


def test_either_of_two_rotated_secrets_verifies(kit):
    both = secrets("old-secret", "new-secret")
    for secret in ("old-secret", "new-secret"):
        assert verify(BODY, kit.signed_headers(BODY, secret=secret), both, now=kit.NOW)
    with pytest.raises(SignatureError):
        verify(BODY, kit.signed_headers(BODY, secret="third-secret"), both, now=kit.NOW)


def test_without_a_configured_secret_every_delivery_is_refused(kit):
    with pytest.raises(SignatureError) as err:
        verify(BODY, kit.signed_headers(BODY), (), now=kit.NOW, secret_env="ZD_HOOK_SECRET")
    assert "$ZD_HOOK_SECRET" in str(err.value)


def test_signature_errors_are_webhook_rejections():
    assert issubclass(SignatureError, WebhookRejected)


@given(
    position=st.integers(min_value=0, max_value=len(BODY) - 1),
    replacement=st.integers(min_value=0, max_value=255),
)
def test_changing_any_byte_of_the_body_breaks_the_signature(kit, position, replacement):
    if BODY[position] == replacement:
        return
    headers = kit.signed_headers(BODY)
    changed = BODY[:position] + bytes([replacement]) + BODY[position + 1 :]
    with pytest.raises(SignatureError):
        verify(changed, headers, secrets(kit.SECRET), now=kit.NOW)


@given(skew=st.integers(min_value=-3 * 3600, max_value=3 * 3600))
def test_freshness_is_exactly_the_window(kit, skew):
    headers = kit.signed_headers(BODY, at=kit.NOW + timedelta(seconds=skew))
    if abs(skew) <= 300:
        verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW)
    else:
        with pytest.raises(SignatureError):
            verify(BODY, headers, secrets(kit.SECRET), now=kit.NOW)
