"""Zendesk webhook signatures: checked on the raw bytes before anything parses them.

Zendesk signs each delivery with the webhook's signing secret and sends two
headers: ``X-Zendesk-Webhook-Signature`` (base64 of an HMAC-SHA256) and
``X-Zendesk-Webhook-Signature-Timestamp`` (an ISO-8601 instant such as
``2021-03-25T05:09:27Z``, not unix seconds). Verification is optional on
Zendesk's side, so the receiver must enforce it: a constant-time compare, a
window around the timestamp (in both directions) so a captured delivery
cannot be replayed later, and several secrets so one can be rotated without
downtime.

What is signed: the current Zendesk documentation says
``base64(HMAC-SHA256(secret, TIMESTAMP + BODY))``, raw concatenation, the key
being the secret string's bytes. An older revision of the same page printed
``BODY + TIMESTAMP`` together with a test vector, and that vector matches only
``BODY + TIMESTAMP``. We follow the current documentation and keep the order
in the single constant :data:`SIGNED_ORDER`, so confirming it against one
real delivery (Admin Center, "Test webhook") is a one-line change if needed.

Errors never contain a secret, the expected signature or the received one.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from ticketspike import InvalidTicket, Secret, SignatureError

from .times import parse_instant

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "SIGNED_ORDER",
    "TIMESTAMP_HEADER",
    "SignedOrder",
    "sign",
    "verify",
]

SIGNATURE_HEADER: Final = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER: Final = "x-zendesk-webhook-signature-timestamp"
DEFAULT_TOLERANCE: Final = timedelta(seconds=300)
_WHERE: Final = "zendesk webhook"


class SignedOrder(enum.Enum):
    """Which way round the timestamp and the body are concatenated before signing."""

    TIMESTAMP_BODY = "timestamp+body"
    BODY_TIMESTAMP = "body+timestamp"

    def content(self, timestamp: str, body: bytes) -> bytes:
        stamp = timestamp.encode("utf-8")
        return stamp + body if self is SignedOrder.TIMESTAMP_BODY else body + stamp


# The current Zendesk documentation; see the module docstring for the older variant.
SIGNED_ORDER: Final = SignedOrder.TIMESTAMP_BODY


def sign(
    secret: str | Secret, timestamp: str, body: bytes, *, order: SignedOrder = SIGNED_ORDER
) -> str:
    """The signature Zendesk sends for ``body`` at ``timestamp`` (base64 text).

    Useful for tests and for replaying a captured delivery to a local server.
    """
    key = secret.reveal() if isinstance(secret, Secret) else secret
    digest = hmac.new(key.encode("utf-8"), order.content(timestamp, body), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[Secret],
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    secret_env: str = "ZENDESK_WEBHOOK_SECRET",
    order: SignedOrder = SIGNED_ORDER,
) -> datetime:
    """Check a delivery's signature and freshness; return its signed timestamp.

    ``headers`` has lower-case names. Every secret in ``secrets`` is tried (all
    of them, so the time taken does not tell which one matched). Raises
    :class:`ticketspike.SignatureError` when no secret is configured, a header
    is missing, no secret matches, or the timestamp is more than ``tolerance``
    away from ``now`` in either direction.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not secrets:
        raise SignatureError(
            f"no signing secret configured (set ${secret_env}); refusing unsigned deliveries",
            where=_WHERE,
        )
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise SignatureError("missing header", where=_WHERE, field=SIGNATURE_HEADER)
    stamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not stamp:
        raise SignatureError("missing header", where=_WHERE, field=TIMESTAMP_HEADER)
    try:
        signed_at = parse_instant(stamp, where=_WHERE, field=TIMESTAMP_HEADER)
    except InvalidTicket:
        raise SignatureError(
            "expected an ISO-8601 time with offset, such as 2021-03-25T05:09:27Z",
            where=_WHERE,
            field=TIMESTAMP_HEADER,
        ) from None

    given_bytes = given.encode("utf-8", "replace")
    matched = False
    for secret in secrets:
        expected = sign(secret, stamp, body, order=order).encode("ascii")
        # No early exit: every secret costs the same whether or not one matched.
        matched |= hmac.compare_digest(expected, given_bytes)
    if not matched:
        raise SignatureError(
            "signature does not match (wrong signing secret, or the body was altered)",
            where=_WHERE,
            field=SIGNATURE_HEADER,
        )

    skew = (now - signed_at).total_seconds()
    limit = tolerance.total_seconds()
    if skew > limit:
        raise SignatureError(
            f"timestamp {stamp} is {skew:.0f} s old; deliveries older than {limit:.0f} s "
            "are refused as possible replays",
            where=_WHERE,
            field=TIMESTAMP_HEADER,
        )
    if -skew > limit:
        raise SignatureError(
            f"timestamp {stamp} is {-skew:.0f} s in the future; more than {limit:.0f} s "
            "of clock skew is refused",
            where=_WHERE,
            field=TIMESTAMP_HEADER,
        )
    return signed_at
