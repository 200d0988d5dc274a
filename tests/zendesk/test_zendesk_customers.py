"""Tickets whose customer is one lookup away: requester -> organization -> external id.

The real zenpy client talks to the fake Zendesk API on 127.0.0.1, which answers with the
published Users and Organizations examples (``fixtures/published``). Backfill goes through
the CLI into a real SQLite store; webhooks (the documented ``zen:event-type:ticket.created``
body, upper-case enums and string ids) go through the engine.
"""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

import pytest

try:
    importlib.metadata.distribution("ticketspike-zendesk")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-zendesk is not installed", allow_module_level=True)

from ticketspike import Plugins, hookimpl
from ticketspike.cli import main
from ticketspike.engine import Engine
from ticketspike.store.memory import MemoryStore


def created(day: int) -> str:
    return f"2026-02-{day:02d}T09:00:00Z"


def write_config(tmp_path, base_url: str, extra: str = "") -> str:
    text = (
        "plugins:\n  zendesk:\n    subdomain: acme\n"
        f"    base_url: {base_url}\n"
        "    customer:\n      organization_key: external_id\n" + extra
    )
    path = tmp_path / "ticketspike.yaml"
    path.write_text(text)
    return str(path)


def run(capsys, *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


@pytest.fixture
def directory(fake_zendesk):
    fake_zendesk.add_organization(35436)  # external_id ABC123, as published
    fake_zendesk.add_organization(57542, external_id="globex-crm-7")
    fake_zendesk.add_organization(999, external_id=None)  # no external id
    fake_zendesk.add_user(31, 57542)
    fake_zendesk.add_user(32, None)
    return fake_zendesk


def test_backfill_looks_up_organizations_and_keeps_the_unknown_aside(
    tmp_path, monkeypatch, capsys, kit, directory
):
    monkeypatch.setenv("ZENDESK_EMAIL", "bot@acme.example")
    monkeypatch.setenv("ZENDESK_API_TOKEN", "api-token-value-9f8e7d")
    directory.add_page(
        None,
        [
            kit.rest_ticket(301, created_at=created(2), organization_id=35436, requester_id=32),
            kit.rest_ticket(302, created_at=created(3), organization_id=None, requester_id=31),
            kit.rest_ticket(303, created_at=created(4), organization_id=35436, requester_id=32),
            kit.rest_ticket(304, created_at=created(5), organization_id=999, requester_id=32),
        ],
        after="c1",
        end=True,
    )
    config = write_config(tmp_path, directory.base_url)
    store = str(tmp_path / "s.sqlite3")
    since = "2026-02-01T00:00:00Z"
    out = run(capsys, "backfill", "zendesk", "--since", since, "--store", store, "--config", config)
    assert "1 kept aside without a customer" in out

    tickets = json.loads(run(capsys, "tickets", "--store", store, "--format", "json"))
    assert {t["ticketId"]: t["customerId"] for t in tickets} == {
        "301": "ABC123",
        "302": "globex-crm-7",  # the requester's organization, then its external id
        "303": "ABC123",
    }
    org_calls = [r["path"] for r in directory.requests if "/organizations/" in r["path"]]
    assert org_calls.count("/api/v2/organizations/35436.json") == 1  # cached after the first

    (aside,) = json.loads(run(capsys, "unmatched", "--store", store, "--format", "json"))
    assert aside["record_id"] == "304" and "organization 999 has no external_id" in aside["reason"]

    # The mapping table comes first: naming organization 999 there is enough.
    config = write_config(tmp_path, directory.base_url, '      organizations: {"999": initech}\n')
    out = run(capsys, "re-resolve", "--store", store, "--config", config)
    assert "1 found their customer" in out
    tickets = json.loads(run(capsys, "tickets", "--store", store, "--format", "json"))
    assert {t["ticketId"]: t["customerId"] for t in tickets}["304"] == "initech"
    assert json.loads(run(capsys, "unmatched", "--store", store, "--format", "json")) == []


class Provides:
    def __init__(self, source: Any) -> None:
        self.source = source

    @hookimpl
    def register_ticket_sources(self, register) -> None:
        register(self.source)


def test_webhook_ticket_created_looks_up_the_requesters_organization(kit, directory):
    text = "subdomain: acme\ncustomer:\n  organization_key: external_id\n"
    source = kit.source(text, fake=directory)
    store = MemoryStore()
    engine = Engine(
        store=store,
        plugins=Plugins(load_entrypoints=False, plugins=[Provides(source)]),
        execute=False,
    )
    payload = kit.load_fixture("event_ticket_created.json")
    payload["detail"].update(organization_id=None, requester_id="31")
    body = json.dumps(payload).encode()
    result = engine.ingest_webhook("zendesk", body, kit.signed_headers(body), now=kit.NOW)
    assert result.stored == 1
    record = store.get_ticket("zendesk", "5158")
    assert record is not None and record.ticket.customer_id == "globex-crm-7"

    # A requester without an organization: kept aside, and counted once it has one.
    payload["id"] = "evt-2"
    payload["detail"].update(id="5159", requester_id="32")
    body = json.dumps(payload).encode()
    result = engine.ingest_webhook("zendesk", body, kit.signed_headers(body), now=kit.NOW)
    assert result.unmatched == 1 and store.get_ticket("zendesk", "5159") is None
    assert "requester 32 has no organization" in store.unmatched()[0].reason

    directory.add_user(32, 35436)
    later = kit.source(text, fake=directory)  # a later process: a fresh user cache
    again = Engine(
        store=store,
        plugins=Plugins(load_entrypoints=False, plugins=[Provides(later)]),
        execute=False,
    )
    report = again.re_resolve(now=kit.NOW)
    assert (report.resolved, report.still_unmatched) == (1, 0)
    record = store.get_ticket("zendesk", "5159")
    assert record is not None and record.ticket.customer_id == "ABC123"
    # Counted: the detector's window for the organization's customer holds it.
    assert again.check("ABC123", at=record.ticket.created_at).ticket_count == 1
    assert record.ticket.priority.value == "P2"  # HIGH, upper-case as the event sends it
