"""The installed adapter through ticketspike's own faces: the CLI's backfill and the HTTP API.

Nothing is faked on ticketspike's side: the entry point loads from the installed
distribution, tickets land in a real SQLite file, and the Intercom side is the
real python-intercom client talking to the fake API on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.metadata
import json
from datetime import datetime, timezone

import httpx
import pytest

try:
    importlib.metadata.distribution("ticketspike-intercom")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-intercom is not installed", allow_module_level=True)

from ticketspike import Category, Priority
from ticketspike.cli import main
from ticketspike.engine import Engine
from ticketspike.http import create_app
from ticketspike.store.sqlite import SQLiteStore
from ticketspike.testing import FixedClock

TOKEN = "tok_live_e2e_5a4b3c"
SECRET = "cs_e2e_secret_1"
T0 = 1717200000  # 2024-06-01T00:00:00Z


def signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def write_config(tmp_path, base_url: str, **extra: object) -> str:
    lines = [
        "plugins:",
        "  intercom:",
        f"    base_url: {base_url}",
        "    app_id: abc12345",
        "    page_size: 2",
    ]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    path = tmp_path / "ticketspike.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def stored_tickets(capsys, store: str) -> list[dict]:
    capsys.readouterr()
    assert main(["tickets", "--store", store, "--format", "json"]) == 0
    tickets: list[dict] = json.loads(capsys.readouterr().out)
    return tickets


def test_cli_backfill_stores_each_conversation_once_and_resumes(
    tmp_path, monkeypatch, capsys, fake_intercom, make_conversation
):
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", TOKEN)
    fake_intercom.conversations = [make_conversation(str(i), T0 + 3600 * i) for i in range(1, 6)]
    # The third search request (page 3) fails for good: the run stops there.
    fake_intercom.fail_on_request[3] = (503, b"{}", {})
    config = write_config(tmp_path, fake_intercom.url, max_attempts=1)
    store = str(tmp_path / "ticketspike.sqlite3")
    argv = [
        "backfill",
        "intercom",
        "--since",
        "2024-06-01T00:00:00Z",
        "--store",
        store,
        "--config",
        config,
    ]

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "conversation search failed with HTTP 503" in err and TOKEN not in err
    assert sorted(t["ticketId"] for t in stored_tickets(capsys, store)) == ["1", "2", "3", "4"]

    assert main([*argv, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resumed"] is True and report["done"] is True
    # The second run asked for page 3 directly: no page was read twice.
    assert len(fake_intercom.search_requests()) == 4
    assert fake_intercom.search_requests()[3]["body"]["pagination"]["starting_after"]

    tickets = stored_tickets(capsys, store)
    assert sorted(t["ticketId"] for t in tickets) == ["1", "2", "3", "4", "5"]
    first = next(t for t in tickets if t["ticketId"] == "1")
    assert first["customerId"] == "acme-corp"
    assert first["category"] == "billing" and first["severity"] == "P2"
    assert first["url"] == "https://app.intercom.com/a/inbox/abc12345/inbox/conversation/1"


def test_cli_backfill_without_token_is_a_clear_input_error(
    tmp_path, monkeypatch, capsys, fake_intercom
):
    monkeypatch.delenv("INTERCOM_ACCESS_TOKEN", raising=False)
    config = write_config(tmp_path, fake_intercom.url)
    code = main(
        [
            "backfill",
            "intercom",
            "--since",
            "2024-06-01T00:00:00Z",
            "--store",
            str(tmp_path / "s.sqlite3"),
            "--config",
            config,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.endswith(
        "no access token: set $INTERCOM_ACCESS_TOKEN to an Intercom access "
        "token with 'Read conversations'"
    )
    assert fake_intercom.requests == []


def test_http_webhook_stores_one_ticket_and_refuses_bad_variants(tmp_path, user_created):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    store = SQLiteStore(tmp_path / "webhooks.sqlite3")
    clock = FixedClock(datetime.fromtimestamp(1719400030, tz=timezone.utc))
    engine = Engine.from_config(
        config, store=store, env={"INTERCOM_CLIENT_SECRET": SECRET}, clock=clock
    )
    app = create_app(engine, env={})

    body = json.dumps(user_created).encode()
    good = signature(SECRET, body)
    unknown = json.dumps({**user_created, "id": "notif_other", "topic": "visitor.signed_up"})
    deliveries = [
        ("tampered", body.replace(b"acme-corp", b"evil-corp"), good),
        ("wrong secret", body, signature("wrong", body)),
        ("unsigned", body, None),
        ("malformed", b'{"topic": ', signature(SECRET, b'{"topic": ')),
        ("valid", body, good),
        ("replayed", body, good),
        ("unknown topic", unknown.encode(), signature(SECRET, unknown.encode())),
    ]

    async def post_all() -> dict[str, int]:
        codes = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for name, content, header in deliveries:
                headers = {"content-type": "application/json"}
                if header is not None:
                    headers["x-hub-signature"] = header
                if name == "valid":
                    assert store.ticket_count() == 0  # no bad variant wrote anything
                answer = await client.post(
                    "/api/webhooks/intercom", content=content, headers=headers
                )
                codes[name] = answer.status_code
        return codes

    codes = asyncio.run(post_all())

    assert codes == {
        "tampered": 401,
        "wrong secret": 401,
        "unsigned": 401,
        "malformed": 400,
        "valid": 202,
        "replayed": 200,
        "unknown topic": 200,
    }
    assert store.ticket_count() == 1
    record = store.get_ticket("intercom", "215468293854")
    assert record is not None
    assert record.ticket.customer_id == "acme-corp"
    assert record.ticket.category is Category.BILLING
    assert record.ticket.priority is Priority.P2
    engine.close()
    store.close()
