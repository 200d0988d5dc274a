"""A fake Intercom API on 127.0.0.1 for the adapter tests.

A real HTTP server (port 0, so parallel runs never collide) that answers
``POST /conversations/search`` the way Intercom documents it: ``{"type": "conversation.list",
"conversations": [...], "total_count": n, "pages": {"next": {"starting_after": "<opaque>"}}}``.
Tests can script answers (a 429, a malformed page) ahead of the normal ones and read every
request the real ``Intercom`` client sent.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from support.loopback import LoopbackServer

FIXTURES = Path(__file__).resolve().parents[1] / "intercom" / "fixtures"


class FakeIntercom:
    """A small Intercom API: conversation search with cursor pages."""

    def __init__(self) -> None:
        self.conversations: list[dict[str, Any]] = []
        self.scripted: list[tuple[int, bytes, dict[str, str]]] = []
        # 1-based request number -> answer, for "fails on the third page" scenarios.
        self.fail_on_request: dict[int, tuple[int, bytes, dict[str, str]]] = {}
        self.requests: list[dict[str, Any]] = []
        # GET /contacts/{id} and GET /contacts/{id}/companies answers, by contact id.
        self.contacts: dict[str, dict[str, Any]] = {}
        self.contact_companies: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw) if raw else None
                with fake.lock:
                    fake.requests.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                    )
                    scripted = fake.scripted.pop(0) if fake.scripted else None
                    scripted = fake.fail_on_request.pop(len(fake.requests), scripted)
                if scripted is not None:
                    self._send(*scripted)
                    return
                if self.path != "/conversations/search":
                    self._send(404, b'{"type":"error.list","errors":[{"code":"not_found"}]}', {})
                    return
                self._send(200, json.dumps(fake.search_page(body)).encode(), {})

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                with fake.lock:
                    fake.requests.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": None}
                    )
                    scripted = fake.scripted.pop(0) if fake.scripted else None
                    scripted = fake.fail_on_request.pop(len(fake.requests), scripted)
                if scripted is not None:
                    self._send(*scripted)
                    return
                parts = path.strip("/").split("/")
                found: dict[str, Any] | None = None
                if len(parts) == 2 and parts[0] == "contacts":
                    found = fake.contacts.get(parts[1])
                elif len(parts) == 3 and parts[0] == "contacts" and parts[2] == "companies":
                    if parts[1] in fake.contacts:
                        found = fake.contact_companies.get(
                            parts[1], {"type": "list", "data": [], "total_count": 0}
                        )
                if found is None:
                    self._send(
                        404, (FIXTURES / "published" / "contact_not_found.json").read_bytes(), {}
                    )
                    return
                self._send(200, json.dumps(found).encode(), {})

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = LoopbackServer(Handler)

    @property
    def url(self) -> str:
        return self.server.url()

    def search_page(self, body: dict[str, Any]) -> dict[str, Any]:
        query = body["query"]
        assert query["field"] == "created_at" and query["operator"] == ">"
        since = int(query["value"])
        matching = [c for c in self.conversations if c["created_at"] >= since]
        paging = body.get("pagination") or {}
        per_page = int(paging.get("per_page") or 20)
        after = paging.get("starting_after")
        start = json.loads(base64.b64decode(after))["offset"] if after else 0
        chunk = matching[start : start + per_page]
        page: dict[str, Any] = {
            "type": "conversation.list",
            "conversations": chunk,
            "total_count": len(matching),
            "pages": {
                "type": "pages",
                "page": start // per_page + 1,
                "per_page": per_page,
                "total_pages": max(1, -(-len(matching) // per_page)),
            },
        }
        if start + per_page < len(matching):
            token = base64.b64encode(json.dumps({"offset": start + per_page}).encode()).decode()
            page["pages"]["next"] = {"per_page": per_page, "starting_after": token}
        return page

    def add_contact(
        self, contact_id: str, *, company_ids: tuple[str, ...] = (), **fields: Any
    ) -> None:
        """A contact from the published ``GET /contacts/{id}`` example, in those companies
        (each from the published ``GET /contacts/{id}/companies`` example)."""
        contact = json.loads((FIXTURES / "published" / "contact.json").read_text())
        listing = json.loads((FIXTURES / "published" / "contact_companies.json").read_text())
        contact.update(id=contact_id, **fields)
        contact["companies"]["total_count"] = len(company_ids)
        template = listing["data"][0]
        listing["data"] = [
            dict(template, company_id=cid, id=f"ic-{cid}", name=f"company {cid}")
            for cid in company_ids
        ]
        listing["total_count"] = len(company_ids)
        self.contacts[contact_id] = contact
        self.contact_companies[contact_id] = listing

    def contact_requests(self) -> list[str]:
        return [r["path"] for r in self.requests if r["path"].startswith("/contacts/")]

    def search_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/conversations/search"]
