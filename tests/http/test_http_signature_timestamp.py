"""The Standard Webhooks signature covers the ``webhook-timestamp`` header exactly as sent.

A signature made over one spelling of a time must not verify another spelling that merely
parses to the same number (spaces, underscores, a sign, non-ASCII digits).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from ticketspike.builtin.jsonl_source import verify_signature
from ticketspike.errors import SignatureError
from ticketspike.secrets import Secret

PATH = "/api/webhooks/support/ticket"


def raw_signature(key: bytes, msg_id: str, stamp: str, body: bytes) -> str:
    content = msg_id.encode() + b"." + stamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(
    "spelling",
    [" {t} ", "{t} ", "+{t}", "{a}_{b}", "{t}.0", "-0{t}"],
    ids=["spaces", "trailing-space", "plus", "underscore", "fraction", "minus-zero"],
)
def test_a_respelled_timestamp_does_not_verify(harness, kit, spelling):
    t = str(int(kit.NOW.timestamp()))
    stamp = spelling.format(t=t, a=t[:4], b=t[4:])
    body = kit.encode(kit.ticket())
    # Signed honestly over the parsed number, then sent with another spelling of it...
    headers = kit.signed(body)
    headers["webhook-timestamp"] = stamp
    answer = harness.client.post(PATH, content=body, headers=headers)
    assert answer.status_code == 401
    # ...and signed over the odd spelling itself: still refused (not unix seconds).
    headers["webhook-signature"] = raw_signature(kit.KEY, "msg_1", stamp, body)
    answer = harness.client.post(PATH, content=body, headers=headers)
    assert answer.status_code == 401
    assert harness.stored == 0


def test_the_plain_spelling_still_verifies(harness, kit):
    stamp = str(int(kit.NOW.timestamp()))
    body = kit.encode(kit.ticket())
    headers = kit.signed(body)
    headers["webhook-signature"] = raw_signature(kit.KEY, "msg_1", stamp, body)
    assert harness.client.post(PATH, content=body, headers=headers).status_code == 202
    assert harness.stored == 1


def test_non_ascii_digits_are_not_unix_seconds(kit):
    # int() reads Arabic-Indic digits; HTTP clients rarely send them, a raw socket can.
    t = str(int(kit.NOW.timestamp()))
    stamp = "\u0661" + t[1:]
    body = b"{}"
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": raw_signature(kit.KEY, "msg_1", stamp, body),
    }
    with pytest.raises(SignatureError, match="ASCII digits"):
        verify_signature(body, headers, secrets=(Secret(kit.SECRET),), now=kit.NOW)
