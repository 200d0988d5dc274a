"""Built-in ticket source ``ticket``: the canonical ticket JSON, over signed webhooks or a file.

Webhooks (``POST /api/webhooks/ticket``) carry one canonical ticket object, a list of them, or
``{"tickets": [...]}``, signed the Standard Webhooks way: headers ``webhook-id``,
``webhook-timestamp`` (unix seconds) and ``webhook-signature`` (space-separated ``v1,<base64>``
entries, HMAC-SHA256 over ``{id}.{timestamp}.{body}``). The secret comes from
``TICKETSPIKE_WEBHOOK_SECRET`` (or the variable ``plugins.ticket.secret_env`` names); several
secrets separated by spaces are all accepted, for rotation. With no secret configured every
delivery is refused: nothing is open by default.

Backfill reads a JSON Lines file (``plugins.ticket.path``) in pages; the cursor is the line
number to resume after.

Configuration (all optional)::

    plugins:
      ticket:
        secret_env: TICKETSPIKE_WEBHOOK_SECRET
        tolerance_seconds: 300
        path: history.jsonl
        page_size: 500
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import attrs

from ..configfile import Section
from ..errors import InputError, InvalidTicket, SignatureError, WebhookRejected
from ..hookspecs import hookimpl
from ..model import TicketEvent, ticket_event_from_json
from ..roles import BackfillPage, PluginConfig, TicketSource, WebhookResult
from ..secrets import Secret
from ..ticketfile import iter_ticket_events, json_loads

__all__ = ["TicketJsonSource", "register_ticket_sources", "sign", "verify_signature"]

DEFAULT_SECRET_ENV = "TICKETSPIKE_WEBHOOK_SECRET"
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_KEYS = frozenset({"secret_env", "tolerance_seconds", "path", "page_size"})


def _key_bytes(secret: Secret) -> bytes:
    # Standard Webhooks secrets are "whsec_<base64>"; anything else is used as it stands.
    value = secret.reveal()
    if value.startswith("whsec_"):
        try:
            return base64.b64decode(value[len("whsec_") :], validate=True)
        except binascii.Error:
            pass
    return value.encode("utf-8")


def sign(secret: Secret, *, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``webhook-signature`` header value a sender puts on ``body``.

    ``timestamp`` is signed as it is written in the ``webhook-timestamp`` header.
    """
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Sequence[Secret],
    now: datetime,
    tolerance_seconds: float = 300.0,
) -> str:
    """Check a Standard Webhooks signature over the raw body; returns the ``webhook-id``.

    Raises :class:`SignatureError` (HTTP 401) without echoing secrets or signatures.
    """
    if not secrets:
        raise SignatureError(
            f"no webhook secret configured (set {DEFAULT_SECRET_ENV}); refusing unsigned "
            "deliveries",
            where="webhook",
        )
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signature = headers.get("webhook-signature", "")
    if not msg_id or not stamp or not signature:
        raise SignatureError(
            "missing webhook-id, webhook-timestamp or webhook-signature header",
            where="webhook",
        )
    # The spec signs the header exactly as sent; int() would also take " 17...", "1_7..."
    # or non-ASCII digits, so a signature over one spelling would verify another.
    if _UNIX_SECONDS.fullmatch(stamp) is None:
        raise SignatureError(
            "webhook-timestamp is not unix seconds (ASCII digits only)", where="webhook"
        )
    timestamp = int(stamp)
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise SignatureError("webhook-timestamp outside the allowed window", where="webhook")
    offered = [
        part.split(",", 1)[1]
        for part in signature.split()
        if part.startswith("v1,") and "," in part
    ]
    for secret in secrets:
        expected = sign(secret, msg_id=msg_id, timestamp=stamp, body=body).split(",", 1)[1]
        if any(hmac.compare_digest(expected.encode(), o.encode()) for o in offered):
            return msg_id
    raise SignatureError("signature does not match", where="webhook")


@attrs.frozen
class TicketJsonSource:
    """The canonical ticket JSON as a :class:`~ticketspike.roles.TicketSource`."""

    secrets: tuple[Secret, ...] = attrs.field(default=(), repr=False)
    tolerance_seconds: float = 300.0
    path: Path | None = None
    page_size: int = 500
    name: str = "ticket"

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookResult:
        delivery_id = verify_signature(
            body,
            headers,
            secrets=self.secrets,
            now=now,
            tolerance_seconds=self.tolerance_seconds,
        )
        try:
            data = json_loads(body)
        except ValueError as exc:
            raise WebhookRejected(f"body is not valid JSON: {exc}", where="webhook") from None
        items: Any = data.get("tickets") if isinstance(data, dict) and "tickets" in data else data
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise WebhookRejected(
                'expected a ticket object, a list of them, or {"tickets": [...]}',
                where="webhook",
            )
        try:
            events = tuple(
                ticket_event_from_json(obj, where=f"webhook[{i}]") for i, obj in enumerate(items)
            )
        except InvalidTicket as exc:
            raise WebhookRejected(exc.message, where=exc.where, field=exc.field) from None
        if not events:
            return WebhookResult(delivery_id=delivery_id, ignored="no tickets in delivery")
        return WebhookResult(events=events, delivery_id=delivery_id)

    def backfill(self, *, since: datetime, cursor: str | None = None) -> Iterator[BackfillPage]:
        if self.path is None:
            raise InputError(
                "the ticket source has no file to backfill from; set plugins.ticket.path",
                where="backfill",
            )
        start = 0
        if cursor:
            try:
                start = int(cursor)
            except ValueError:
                raise InputError(f"bad cursor {cursor!r}", where="backfill") from None
        page: list[TicketEvent] = []
        skipped = 0
        line = start
        for line, event in _numbered(self.path, start):
            if event.at >= since:
                page.append(event)
            else:
                skipped += 1
            if len(page) >= self.page_size:
                yield BackfillPage(events=tuple(page), cursor=str(line), skipped=skipped)
                page, skipped = [], 0
        yield BackfillPage(events=tuple(page), cursor=str(line), done=True, skipped=skipped)


def _numbered(path: Path, start: int) -> Iterator[tuple[int, TicketEvent]]:
    numbers: list[int] = []

    def on_line(number: int, _read: int) -> None:
        numbers.append(number)

    for event in iter_ticket_events(path, on_line=on_line):
        if numbers[-1] > start:
            yield numbers[-1], event


def source_from_config(config: PluginConfig) -> TicketJsonSource:
    section = config.section("ticket")
    if section is None:
        return TicketJsonSource(secrets=config.secrets(None, "secret_env", DEFAULT_SECRET_ENV))
    section.check_keys(_KEYS)
    path = section.get_str("path")
    return TicketJsonSource(
        secrets=config.secrets(section, "secret_env", DEFAULT_SECRET_ENV),
        tolerance_seconds=section.get_float("tolerance_seconds", 300.0, minimum=1, maximum=86400)
        or 300.0,
        path=_relative(section, path) if path else None,
        page_size=section.get_int("page_size", 500, minimum=1) or 500,
    )


def _relative(section: Section, path: str) -> Path:
    # Paths in a config file are relative to that file, not to where the command runs.
    p = Path(path)
    if p.is_absolute() or section.name.startswith("<"):
        return p
    return Path(section.name).parent / p


@hookimpl
def register_ticket_sources(register: Callable[[TicketSource], None], config: PluginConfig) -> None:
    # Frozen values satisfy the protocol at run time; mypy wants ``name`` settable.
    register(cast(TicketSource, source_from_config(config)))
