"""A fake Zendesk API on 127.0.0.1, and Zendesk's signing recipe, for the adapter tests.

The fake speaks just enough of the Zendesk REST API (cursor-based incremental
ticket export, ``tickets/{id}``, ``users/{id}``, ``organizations/{id}``) on 127.0.0.1 for the real
zenpy client to talk to it. Export pages carry an absolute ``after_url``
pointing back at the fake, as Zendesk's do. Signatures are computed here
from the documented recipe, independently of the adapter's own signer.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.loopback import LoopbackServer

FIXTURES = Path(__file__).resolve().parents[1] / "zendesk" / "fixtures"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
SECRET = "dGVzdC1zaWduaW5nLXNlY3JldC1mb3ItemVuZGVzaw=="
EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), as the Zendesk docs describe."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(
    body: bytes, *, secret: str = SECRET, at: datetime = NOW, invocation: str | None = None
) -> dict[str, str]:
    stamp = iso(at)
    headers = {
        "x-zendesk-webhook-signature": zendesk_signature(secret, stamp, body),
        "x-zendesk-webhook-signature-timestamp": stamp,
        "x-zendesk-webhook-id": "01HZXYZWEBHOOK",
        "content-type": "application/json",
    }
    if invocation is not None:
        headers["x-zendesk-webhook-invocation-id"] = invocation
    return headers


def rest_ticket(ticket_id: int, **changes: Any) -> dict[str, Any]:
    """A REST ticket in the documented shape (fixtures/rest_ticket.json) with changes."""
    ticket = copy.deepcopy(load_fixture("rest_ticket.json"))
    ticket["id"] = ticket_id
    ticket["url"] = f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json"
    ticket.update(changes)
    return ticket


class Reply:
    """One scripted answer: status, JSON (or raw bytes) and headers."""

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.raw = raw
        self.headers = headers or {}


class FakeZendesk:
    """Scripted Zendesk API. ``pages`` maps a cursor (``None``: the first,
    start_time request) to the tickets of that page and the next cursor."""

    def __init__(self) -> None:
        self.pages: dict[str | None, Reply | Callable[[str], Reply]] = {}
        self.once: dict[str | None, list[Reply]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.organizations: dict[int, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_all: Reply | None = None
        self._server = LoopbackServer(self._handler())

    @property
    def base_url(self) -> str:
        return self._server.url()

    def export_url(self, cursor: str) -> str:
        return f"{self.base_url}{EXPORT_PATH}?cursor={cursor}"

    def add_page(
        self,
        cursor: str | None,
        tickets: list[dict[str, Any]],
        *,
        after: str,
        end: bool,
        users: list[dict[str, Any]] | None = None,
    ) -> None:
        """Serve ``tickets`` for ``cursor``, pointing on to ``after`` (absolute after_url)."""

        def reply(_: str) -> Reply:
            body: dict[str, Any] = {
                "tickets": tickets,
                "after_url": self.export_url(after),
                "after_cursor": after,
                "before_url": self.export_url(f"before-{after}"),
                "before_cursor": f"before-{after}",
                "end_of_stream": end,
            }
            if users is not None:
                body["users"] = users
            return Reply(200, body)

        self.pages[cursor] = reply

    def add_user(self, user_id: int, organization_id: int | None) -> None:
        """A user from the published Users example (fixtures/published/user.json)."""
        user = load_fixture("published/user.json")
        user.update(id=user_id, organization_id=organization_id, role="end-user")
        user["url"] = f"{self.base_url}/api/v2/users/{user_id}.json"
        self.users[user_id] = user

    def add_organization(self, organization_id: int, **changes: Any) -> None:
        """An organization from the published example (fixtures/published/organization.json)."""
        org = load_fixture("published/organization.json")
        org.update(id=organization_id, **changes)
        org["url"] = f"{self.base_url}/api/v2/organizations/{organization_id}.json"
        self.organizations[organization_id] = org

    def export_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == EXPORT_PATH]

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    # -- HTTP -------------------------------------------------------------------
    def _route(self, path: str, query: dict[str, list[str]]) -> Reply:
        if self.fail_all is not None:
            return self.fail_all
        if path == EXPORT_PATH:
            cursor = query["cursor"][0] if "cursor" in query else None
            if cursor is None and "start_time" not in query:
                return Reply(400, {"error": "InvalidPaginationParameter"})
            queued = self.once.get(cursor)
            if queued:
                return queued.pop(0)
            page = self.pages.get(cursor)
            if page is None:
                return Reply(422, {"error": "InvalidCursor", "description": "unknown cursor"})
            return page(cursor or "") if callable(page) else page
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["api", "v2"] and parts[3].endswith(".json"):
            kind, ident = parts[2], parts[3][: -len(".json")]
            table = {
                "tickets": self.tickets,
                "users": self.users,
                "organizations": self.organizations,
            }.get(kind)
            if table is not None and ident.isdigit():
                record = table.get(int(ident))
                if record is None:
                    return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
                return Reply(200, {kind[:-1]: record})
        return Reply(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                fake.requests.append(
                    {"path": url.path, "query": query, "headers": dict(self.headers)}
                )
                reply = fake._route(url.path, query)
                data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                content_type = "application/json" if reply.raw is None else "text/html"
                for key, value in {
                    "Content-Type": content_type,
                    "Content-Length": str(len(data)),
                    **reply.headers,
                }.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
