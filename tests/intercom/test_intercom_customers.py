"""Conversations that name only contacts find their customer through the Intercom API.

The real python-intercom client asks the fake API on 127.0.0.1, which answers with the
published 2.14 reference examples (``fixtures/published``). Backfill (through the CLI,
into a real SQLite store) and webhooks (through the engine) resolve the same way; a
contact with no company is kept aside, listed, and counted after its mapping is added.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import json
from datetime import datetime, timezone

import pytest

try:
    importlib.metadata.distribution("ticketspike-intercom")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-intercom is not installed", allow_module_level=True)

from ticketspike import Plugins, Secret, hookimpl
from ticketspike.cli import main
from ticketspike.engine import Engine
from ticketspike.store.memory import MemoryStore
from ticketspike_intercom import IntercomSettings, IntercomSource
from ticketspike_intercom.customers import ContactCompanies

TOKEN = "tok_live_lookup_77aa"
SECRET = "cs_lookup_secret"
T0 = 1734537587  # the published example's created_at (2024-12-18)
ACME, GLOBEX, LONER = (
    "6762f1781bb69f9f2193bb01",
    "6762f1781bb69f9f2193bb02",
    "6762f1781bb69f9f2193bb03",
)


class Provides:
    """An in-process plugin registering one ready-made source."""

    def __init__(self, source: IntercomSource) -> None:
        self.source = source

    @hookimpl
    def register_ticket_sources(self, register) -> None:
        register(self.source)


def engine_with(source: IntercomSource, store: MemoryStore) -> Engine:
    plugins = Plugins(load_entrypoints=False, plugins=[Provides(source)])
    return Engine(store=store, plugins=plugins, execute=False)


def write_config(tmp_path, base_url: str, customers: dict[str, str] | None = None) -> str:
    lines = ["plugins:", "  intercom:", f"    base_url: {base_url}", "    page_size: 2"]
    if customers:
        lines += ["    mapping:", "      customers:"]
        lines += [f"        '{k}': {v}" for k, v in customers.items()]
    path = tmp_path / "ticketspike.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(capsys, *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


@pytest.fixture
def contacts(fake_intercom):
    fake_intercom.add_contact(ACME, company_ids=("acme-corp",))
    fake_intercom.add_contact(GLOBEX, company_ids=("globex", "globex-eu"))
    fake_intercom.add_contact(LONER)  # the published example as is: no company
    return fake_intercom


def test_backfill_stores_contact_only_conversations_under_the_company_and_keeps_the_rest(
    tmp_path, monkeypatch, capsys, contacts, published_conversation
):
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", TOKEN)
    contacts.conversations = [
        published_conversation("1", T0 + 1, ACME),
        published_conversation("2", T0 + 2, GLOBEX),
        published_conversation("3", T0 + 3, ACME),
        published_conversation("4", T0 + 4, LONER),
    ]
    config = write_config(tmp_path, contacts.url)
    store = str(tmp_path / "s.sqlite3")
    since = "2024-12-01T00:00:00Z"

    out = run(
        capsys, "backfill", "intercom", "--since", since, "--store", store, "--config", config
    )
    assert "1 kept aside without a customer" in out

    tickets = json.loads(run(capsys, "tickets", "--store", store, "--format", "json"))
    by_id = {t["ticketId"]: t["customerId"] for t in tickets}
    # The company's own id (company_id), the first of a contact's companies.
    assert by_id == {"1": "acme-corp", "2": "globex", "3": "acme-corp"}
    # Two calls per contact, then the cache: ACME's second conversation asked nothing.
    paths = contacts.contact_requests()
    assert sum(p.startswith(f"/contacts/{ACME}") for p in paths) == 2
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in contacts.requests)

    (aside,) = json.loads(run(capsys, "unmatched", "--store", store, "--format", "json"))
    assert aside["source"] == "intercom" and aside["record_id"] == "4"
    assert f"contact '{LONER}' belongs to no company" in aside["reason"]
    text = run(capsys, "unmatched", "--store", store)
    assert "intercom '4'" in text and "ticketspike re-resolve" in text

    # Re-resolving before the mapping exists changes nothing and says so.
    out = run(capsys, "re-resolve", "--store", store, "--config", config)
    assert "0 found their customer" in out and "1 still kept aside" in out

    # The mapping table (first in line) now knows the contact's email.
    config = write_config(tmp_path, contacts.url, customers={"joe@bloggs.com": "initech"})
    out = run(capsys, "re-resolve", "--store", store, "--config", config)
    assert "1 found their customer and were counted, 0 still kept aside" in out
    tickets = json.loads(run(capsys, "tickets", "--store", store, "--format", "json"))
    assert {t["ticketId"]: t["customerId"] for t in tickets}["4"] == "initech"
    assert json.loads(run(capsys, "unmatched", "--store", store, "--format", "json")) == []


def _notification(item: dict, notification_id: str) -> bytes:
    return json.dumps(
        {
            "type": "notification_event",
            "app_id": "abc12345",
            "id": notification_id,
            "topic": "conversation.user.created",
            "data": {"type": "notification_event_data", "item": item},
            "created_at": item["created_at"],
            "first_sent_at": item["created_at"],
        }
    ).encode()


def _signed(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()}


def test_webhook_for_a_contact_only_conversation_is_stored_under_the_company(
    contacts, published_conversation
):
    src = IntercomSource(
        settings=IntercomSettings(base_url=contacts.url),
        access_token=Secret(TOKEN),
        client_secrets=(Secret(SECRET),),
        sleep=lambda _s: None,
    )
    store = MemoryStore()
    engine = engine_with(src, store)
    now = datetime.fromtimestamp(T0 + 60, tz=timezone.utc)

    body = _notification(published_conversation("w1", T0 + 5, GLOBEX), "notif_1")
    result = engine.ingest_webhook("intercom", body, _signed(body), now=now)
    assert result.stored == 1 and result.unmatched == 0
    assert store.get_ticket("intercom", "w1").ticket.customer_id == "globex"

    lonely = _notification(published_conversation("w2", T0 + 6, LONER), "notif_2")
    result = engine.ingest_webhook("intercom", lonely, _signed(lonely), now=now)
    assert result.stored == 0 and result.unmatched == 1
    assert "belongs to no company" in (result.ignored or "")
    (record,) = store.unmatched()
    assert record.record_id == "w2"
    # Intercom redelivering the same notification is a replay, not a second record.
    again = engine.ingest_webhook("intercom", lonely, _signed(lonely), now=now)
    assert again.replayed and len(store.unmatched()) == 1 and store.unmatched()[0].attempts == 1

    # The contact joins a company in Intercom; once the cached answer expires a
    # re-resolve counts it (a fresh source here stands for a later process).
    contacts.add_contact(LONER, company_ids=("initech",))
    later = IntercomSource(
        settings=IntercomSettings(base_url=contacts.url),
        access_token=Secret(TOKEN),
        client_secrets=(Secret(SECRET),),
    )
    engine = engine_with(later, store)
    report = engine.re_resolve(now=now)
    assert (report.tried, report.resolved, report.still_unmatched) == (1, 1, 0)
    stored = store.get_ticket("intercom", "w2").ticket
    assert stored.customer_id == "initech" and stored.ticket_id == "w2"
    # Counted: the detector's window for the company now holds it.
    assert engine.check("initech", at=now).ticket_count == 1
    engine.process_pending()  # the webhook's conversation, as the server's worker does
    assert engine.check("globex", at=now).ticket_count == 1


def test_failed_lookups_are_kept_aside_not_cached_and_rate_limits_waited_out(
    contacts, published_conversation
):
    sleeps: list[float] = []
    src = IntercomSource(
        settings=IntercomSettings(base_url=contacts.url, max_attempts=2, max_retry_wait=5),
        access_token=Secret(TOKEN),
        sleep=sleeps.append,
    )
    conversation = published_conversation("9", T0, ACME)
    # A 429 with Retry-After on the contact call: waited out (capped), then answered.
    contacts.scripted = [(429, b'{"type":"error.list"}', {"Retry-After": "30"})]
    events = src.resolve_unmatched({"conversation": conversation})
    assert not hasattr(events, "reason") and events[0].ticket.customer_id == "acme-corp"
    assert sleeps == [5.0]

    # A refused token: kept aside with the status, and asked again next time.
    fresh = IntercomSource(
        settings=IntercomSettings(base_url=contacts.url, max_attempts=1),
        access_token=Secret(TOKEN),
    )
    contacts.scripted = [(401, b'{"type":"error.list","errors":[{"code":"unauthorized"}]}', {})]
    aside = fresh.resolve_unmatched({"conversation": conversation})
    assert "lookup failed (HTTP 401)" in aside.reason and TOKEN not in aside.reason
    events = fresh.resolve_unmatched({"conversation": conversation})
    assert events[0].ticket.customer_id == "acme-corp"


def test_cache_is_bounded_and_expires(contacts):
    now = [0.0]
    lookup = ContactCompanies(
        settings=IntercomSettings(base_url=contacts.url, lookup_cache_size=1, lookup_cache_ttl=60),
        token=Secret(TOKEN),
        clock=lambda: now[0],
    )
    for contact in (ACME, ACME, GLOBEX, ACME):
        lookup.contact(contact)
    # ACME's second answer from the cache; GLOBEX evicts it (size 1), so it is asked again.
    assert len([p for p in contacts.contact_requests() if ACME in p]) == 4
    assert lookup.contact(ACME) == lookup.contact(ACME)  # cached: no new requests
    assert len([p for p in contacts.contact_requests() if ACME in p]) == 4
    now[0] = 61.0  # past the TTL
    assert lookup.contact(ACME).companies == ("acme-corp",)
    assert len([p for p in contacts.contact_requests() if ACME in p]) == 6
    lookup.close()
