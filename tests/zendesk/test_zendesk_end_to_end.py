"""The installed adapter through ticketspike's own faces: the CLI's backfill and the HTTP API.

Nothing is faked on ticketspike's side: the entry point loads from the installed
distribution, tickets land in a real SQLite file, and the Zendesk side is the
real zenpy client talking to the fake API on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from datetime import timedelta

import httpx
import pytest

try:
    importlib.metadata.distribution("ticketspike-zendesk")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-zendesk is not installed", allow_module_level=True)

from ticketspike import Category, Priority
from ticketspike.cli import main
from ticketspike.engine import Engine
from ticketspike.http import create_app
from ticketspike.store.sqlite import SQLiteStore
from ticketspike.testing import FixedClock

TOKEN = "zd-e2e-token-4c3b2a"
SINCE = "2026-02-01T00:00:00Z"


def write_config(tmp_path, base_url: str) -> str:
    path = tmp_path / "ticketspike.yaml"
    path.write_text(
        "plugins:\n"
        "  zendesk:\n"
        "    subdomain: acme\n"
        f"    base_url: {base_url}\n"
        "    customer:\n"
        '      organizations: {"509974": globex, "8447346622462": techcorp}\n'
    )
    return str(path)


def stored_tickets(capsys, store: str) -> list[dict]:
    capsys.readouterr()
    assert main(["tickets", "--store", store, "--format", "json"]) == 0
    tickets: list[dict] = json.loads(capsys.readouterr().out)
    return tickets


def test_cli_backfill_stores_live_tickets_once_and_resumes_after_a_bad_page(
    tmp_path, monkeypatch, capsys, kit, fake_zendesk
):
    monkeypatch.setenv("ZENDESK_EMAIL", "bot@acme.example")
    monkeypatch.setenv("ZENDESK_API_TOKEN", TOKEN)
    day = "2026-02-{:02d}T09:00:00Z".format
    fake_zendesk.add_page(
        None,
        [
            kit.rest_ticket(101, created_at=day(2), tags=["refund"], priority="high"),
            kit.rest_ticket(102, created_at=day(3), status="deleted"),
        ],
        after="c1",
        end=False,
    )
    good_page_two = [
        kit.rest_ticket(103, created_at=day(4)),
        kit.rest_ticket(104, created_at=day(5), status="closed"),
    ]
    fake_zendesk.pages["c1"] = kit.Reply(200, raw=b"<html>502 Bad Gateway</html>")
    fake_zendesk.add_page("c2", [kit.rest_ticket(105, created_at=day(6))], after="c3", end=True)
    config = write_config(tmp_path, fake_zendesk.base_url)
    store = str(tmp_path / "ticketspike.sqlite3")
    argv = ["backfill", "zendesk", "--since", SINCE, "--store", store, "--config", config]

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "zendesk export page 2: malformed export page" in err
    assert "resume with cursor c1" in err
    assert TOKEN not in err
    assert [t["ticketId"] for t in stored_tickets(capsys, store)] == ["101"]

    fake_zendesk.add_page("c1", good_page_two, after="c2", end=False)
    first_run_requests = len(fake_zendesk.export_requests())
    assert main([*argv, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resumed"] is True and report["done"] is True
    assert report["cursor"] == "c3"
    second_run = fake_zendesk.export_requests()[first_run_requests:]
    assert [r["query"].get("cursor") for r in second_run] == [["c1"], ["c2"]]

    tickets = stored_tickets(capsys, store)
    assert sorted(t["ticketId"] for t in tickets) == ["101", "103", "104", "105"]
    first = next(t for t in tickets if t["ticketId"] == "101")
    assert first["customerId"] == "globex"
    assert first["category"] == "billing" and first["severity"] == "P2"
    assert first["url"] == "https://acme.zendesk.com/agent/tickets/101"
    assert first["source"] == "zendesk"


def test_cli_backfill_without_credentials_is_a_clear_input_error(
    tmp_path, monkeypatch, capsys, fake_zendesk
):
    for name in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    config = write_config(tmp_path, fake_zendesk.base_url)
    code = main(
        [
            "backfill",
            "zendesk",
            "--since",
            SINCE,
            "--store",
            str(tmp_path / "s.sqlite3"),
            "--config",
            config,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "no Zendesk API credentials" in err
    assert "$ZENDESK_EMAIL and $ZENDESK_API_TOKEN, or $ZENDESK_OAUTH_TOKEN" in err
    assert fake_zendesk.requests == []


def test_http_webhook_stores_one_ticket_and_refuses_every_bad_variant(tmp_path, kit):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    store = SQLiteStore(tmp_path / "webhooks.sqlite3")
    engine = Engine.from_config(
        config, store=store, env={"ZENDESK_WEBHOOK_SECRET": kit.SECRET}, clock=FixedClock(kit.NOW)
    )
    app = create_app(engine, env={})

    payload = kit.load_fixture("event_ticket_created.json")
    body = json.dumps(payload).encode()
    good = kit.signed_headers(body)
    unknown = json.dumps(kit.load_fixture("event_comment_added.json")).encode()
    malformed = b'{"type": "zen:event-type:ticket.created", '
    deliveries = [
        ("tampered", body.replace(b"HIGH", b"LOW"), good),
        ("wrong secret", body, kit.signed_headers(body, secret="not-it")),
        ("unsigned", body, {}),
        ("stale", body, kit.signed_headers(body, at=kit.NOW - timedelta(minutes=6))),
        ("future", body, kit.signed_headers(body, at=kit.NOW + timedelta(minutes=6))),
        ("malformed", malformed, kit.signed_headers(malformed)),
        ("unknown event", unknown, kit.signed_headers(unknown)),
        ("valid", body, good),
        ("replayed", body, kit.signed_headers(body, at=kit.NOW - timedelta(seconds=30))),
    ]

    answers: dict[str, dict] = {}

    async def post_all() -> dict[str, int]:
        codes = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for name, content, headers in deliveries:
                if name == "valid":
                    assert store.ticket_count() == 0  # no bad variant wrote anything
                answer = await client.post(
                    "/api/webhooks/zendesk",
                    content=content,
                    headers={"content-type": "application/json", **headers},
                )
                codes[name] = answer.status_code
                answers[name] = answer.json()
                assert kit.SECRET not in answer.text
        return codes

    codes = asyncio.run(post_all())

    assert codes == {
        "tampered": 401,
        "wrong secret": 401,
        "unsigned": 401,
        "stale": 401,
        "future": 401,
        "malformed": 400,
        "unknown event": 200,
        "valid": 202,
        "replayed": 200,
    }
    assert answers["replayed"]["replayed"] is True
    assert "ticket.comment_added" in answers["unknown event"]["ignored"]
    assert store.ticket_count() == 1
    record = store.get_ticket("zendesk", "5158")
    assert record is not None
    assert record.ticket.customer_id == "techcorp"
    assert record.ticket.category is Category.TECHNICAL
    assert record.ticket.priority is Priority.P2
    assert record.ticket.url == "https://acme.zendesk.com/agent/tickets/5158"
    engine.close()
    store.close()


def test_a_priority_change_updates_the_stored_ticket_without_counting_it_again(tmp_path, kit):
    store = SQLiteStore(tmp_path / "flow.sqlite3")
    engine = Engine.from_config(
        write_config(tmp_path, "http://127.0.0.1:9"),
        store=store,
        env={"ZENDESK_WEBHOOK_SECRET": kit.SECRET},
        clock=FixedClock(kit.NOW),
    )
    for name in ("event_ticket_created.json", "event_priority_changed.json"):
        body = json.dumps(kit.load_fixture(name)).encode()
        result = engine.ingest_webhook("zendesk", body, kit.signed_headers(body), now=kit.NOW)
        assert result.queued == 1
    record = store.get_ticket("zendesk", "5158")
    assert record is not None
    assert record.ticket.priority is Priority.P1  # the update moved it, the count did not
    assert store.ticket_count() == 1
    engine.close()
    store.close()
