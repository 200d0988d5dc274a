"""Every minimal config in docs/adapters/*.md runs the demo flow end to end, nothing failing.

A block counts as minimal when the line before its fence is the marker
``<!-- minimal config ... -->``. Each runs as written, plus only the address of the fake
vendor API on 127.0.0.1 (``base_url``), with the bundled demo sample:

* the Slack block notifies through the installed Slack adapter (real slack_sdk) into the
  fake Slack, including the teams it has no channel for;
* the Intercom and Zendesk blocks backfill the sample, shaped as the vendor's API returns
  it (conversations naming only contacts; tickets naming their organization), through the
  real python-intercom and zenpy clients, and the built-in notifiers carry out the plans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import fake_intercom, fake_slack, fake_zendesk
from ticketspike import Plugins, data
from ticketspike.engine import Engine
from ticketspike.store import ActionStatus
from ticketspike.ticketfile import iter_ticket_events

DOCS = Path(__file__).resolve().parents[2] / "docs" / "adapters"
MARKER = re.compile(r"<!-- minimal config[^>]*-->\n```yaml\n(.*?)```", re.S)


def minimal_blocks() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for block in MARKER.findall(page.read_text(encoding="utf-8")):
            found.append((page.stem, yaml.safe_load(block)))
    return found


BLOCKS = minimal_blocks()


def test_each_adapter_page_marks_its_minimal_config() -> None:
    assert sorted(page for page, _ in BLOCKS) == ["intercom", "slack", "zendesk"]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, Any]]:
    files = data.copy_to(tmp_path)
    events = list(iter_ticket_events(files[data.DEMO_TICKETS]))
    yield {
        "dir": tmp_path,
        "config": yaml.safe_load(files[data.DEMO_CONFIG].read_text()),
        "events": events,
        "now": max(e.at for e in events) + timedelta(minutes=15),
    }


def _engine(demo: dict[str, Any], plugins_section: dict[str, Any], env: dict[str, str], allow):
    config = dict(demo["config"])
    config["plugins"] = {**config.get("plugins", {}), **plugins_section}
    path = demo["dir"] / "ticketspike.yaml"
    path.write_text(yaml.safe_dump(config))
    return Engine.from_config(
        path,
        store=demo["dir"] / "store.sqlite3",
        env=env,
        plugins=Plugins(load_entrypoints=True, allow=allow),
        clock=lambda: demo["now"],
        sleep=lambda _s: None,
    )


def _no_failures(engine: Engine) -> list[Any]:
    actions = engine.store.actions()
    failed = [(r.key, r.error) for r in actions if r.status is ActionStatus.FAILED]
    assert failed == []
    assert actions and all(r.status is ActionStatus.DONE for r in actions)
    return actions


@pytest.mark.parametrize(("page", "block"), [b for b in BLOCKS if b[0] == "slack"])
def test_minimal_slack_config_runs_the_demo(page, block, demo, slack) -> None:
    section = {"slack": {**(block["plugins"]["slack"] or {}), "base_url": slack.base_url}}
    with _engine(demo, section, {"SLACK_BOT_TOKEN": fake_slack.TOKEN}, {"slack"}) as engine:
        engine.ingest_many(demo["events"])
        actions = _no_failures(engine)
    teams = [r for r in actions if r.kind == "notify_team"]
    assert teams, "the demo routes the spike to teams"
    texts = json.dumps([p["blocks"] for p in slack.posted()])
    for record in teams:
        team = record.key.rsplit(".", 1)[-1]
        assert f"For team {team}" in texts


@pytest.fixture
def fake_intercom_api() -> Iterator[Any]:
    fake = fake_intercom.FakeIntercom()
    with fake.server:
        yield fake


@pytest.mark.parametrize(("page", "block"), [b for b in BLOCKS if b[0] == "intercom"])
def test_minimal_intercom_config_backfills_the_demo(page, block, demo, fake_intercom_api) -> None:
    fake = fake_intercom_api
    published = json.loads(
        (DOCS.parents[1] / "tests/intercom/fixtures/published/conversation.json").read_text()
    )
    for customer in sorted({e.ticket.customer_id for e in demo["events"]}):
        fake.add_contact(f"contact-{customer}", company_ids=(customer,))
    for event in demo["events"]:
        item = json.loads(json.dumps(published))
        ticket = event.ticket
        item.update(id=ticket.ticket_id, created_at=int(ticket.created_at.timestamp()))
        item["contacts"]["contacts"][0]["id"] = f"contact-{ticket.customer_id}"
        item["source"].update(
            delivered_as="customer_initiated",
            author={"type": "user", "id": f"contact-{ticket.customer_id}"},
            subject=ticket.subject,
        )
        item["custom_attributes"] = {"category": ticket.category.value}
        fake.conversations.append(item)
    section = {"intercom": {**(block["plugins"]["intercom"] or {}), "base_url": fake.url}}
    env = {"INTERCOM_ACCESS_TOKEN": "tok-demo", "INTERCOM_CLIENT_SECRET": "cs-demo"}
    with _engine(demo, section, env, {"intercom"}) as engine:
        since = min(e.at for e in demo["events"])
        report = engine.backfill("intercom", since=since)
        assert report.stored == len(demo["events"]) and report.unmatched == 0
        _no_failures(engine)
        customers = {r.ticket.customer_id for r in engine.store.tickets()}
    assert customers == {e.ticket.customer_id for e in demo["events"]}


@pytest.fixture
def fake_zendesk_api() -> Iterator[Any]:
    fake = fake_zendesk.FakeZendesk()
    fake.start()
    yield fake, fake_zendesk
    fake.stop()


@pytest.mark.parametrize(("page", "block"), [b for b in BLOCKS if b[0] == "zendesk"])
def test_minimal_zendesk_config_backfills_the_demo(page, block, demo, fake_zendesk_api) -> None:
    fake, conftest = fake_zendesk_api
    # Zendesk names organizations by number: the accounts file uses those ids.
    customers = sorted({e.ticket.customer_id for e in demo["events"]})
    org_of = {customer: 7000 + i for i, customer in enumerate(customers)}
    accounts_path = demo["dir"] / demo["config"]["accounts"]
    accounts = yaml.safe_load(accounts_path.read_text())
    for account in accounts:
        account["id"] = str(org_of.get(account["id"], account["id"]))
    accounts_path.write_text(yaml.safe_dump(accounts))
    tickets = []
    for n, event in enumerate(demo["events"]):
        t = event.ticket
        tickets.append(
            conftest.rest_ticket(
                10_000 + n,
                created_at=t.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                updated_at=t.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                organization_id=org_of[t.customer_id],
                subject=t.subject,
                tags=[t.category.value],
                status="open",
            )
        )
    fake.add_page(None, tickets, after="end", end=True)
    section = {"zendesk": {**block["plugins"]["zendesk"], "base_url": fake.base_url}}
    env = {
        "ZENDESK_EMAIL": "bot@acme.example",
        "ZENDESK_API_TOKEN": "tok",
        "ZENDESK_WEBHOOK_SECRET": "s",
    }
    with _engine(demo, section, env, {"zendesk"}) as engine:
        since = min(e.at for e in demo["events"])
        report = engine.backfill("zendesk", since=since)
        assert report.stored == len(tickets) and report.unmatched == 0
        _no_failures(engine)
