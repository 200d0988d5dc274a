"""Product incidents on the dashboard, over HTTP: open incidents above the escalation cards,
each member's card and page linking its incident, and the incident page listing its customers
with links to their escalations. Customer names are hostile and arrive as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from typing import Any

import pytest

from support import incident_stream as S
from ticketspike.config import load_config
from ticketspike.http import create_app
from ticketspike.model import Account, Person, ticket_event_from_json
from ticketspike.testing import FixedClock, memory_engine

TOKEN = "dash-token-incidents"
HOSTILE = "<script>alert(1)</script>{{ 7*7 }}"


def _accounts() -> list[Account]:
    return [
        Account(
            id=cid,
            name=HOSTILE if cid == S.AFFECTED[5] else f"Customer {cid}",
            arr=100_000,
            health_score=70,
            csm=Person(name=f"CSM {cid}", email=f"csm.{cid}@example.com"),
        )
        for cid in S.CUSTOMERS
    ]


@pytest.fixture(scope="module")
def incident_engine() -> Iterator[Any]:
    events = [ticket_event_from_json(r) for r in S.stream()]
    clock = FixedClock(max(e.at for e in events) + timedelta(minutes=1))
    engine = memory_engine(config=load_config(text="{}", env={}), clock=clock, accounts=_accounts())
    engine.ingest_many(events)
    yield engine
    engine.close()


@pytest.fixture
def client(incident_engine: Any, kit: Any) -> Iterator[Any]:
    client = kit.Client(create_app(incident_engine, env={"TICKETSPIKE_API_TOKEN": TOKEN}))
    form = client.get("/dashboard/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf
    answer = client.post(
        "/dashboard/login", data={"token": TOKEN, "csrf_token": csrf.group(1), "name": "Ann"}
    )
    assert answer.status_code == 303
    yield client
    processor = client.app.state.processor
    if processor is not None:
        processor.stop()
    client.app.state.writer.stop()
    client.close()


def _links(html: str, prefix: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'href="({re.escape(prefix)}[^"]*)"', html)]


def test_the_list_shows_open_incidents_above_the_cards_and_members_link_them(
    incident_engine: Any, client: Any
) -> None:
    (record,) = incident_engine.store.incidents(status="open")
    iid = record.incident_id
    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    section = html.index("Open product incidents")
    assert section < html.index("Active escalations")
    head = html[section : html.index("Active escalations")]
    assert f'href="/dashboard/incidents/{iid}"' in head
    assert "technical" in head and "<dd>40</dd>" in head
    assert record.first_spike.strftime("%Y-%m-%d %H:%M UTC") in head
    # Each member's card says so, with the link; an unrelated customer's card does not.
    cards = html.split('<li class="card ')[1:]
    members = [c for c in cards if "Part of incident" in c]
    active = [
        e for e in record.data["episode_ids"] if incident_engine.store.episode(e).status == "active"
    ]
    assert active and len(members) == len(active)
    assert all(any(f"/dashboard/escalations/{e}" in c for c in members) for e in active)
    assert all(f'href="/dashboard/incidents/{iid}"' in c for c in members)
    unrelated = [c for c in cards if any(f"Customer {u}<" in c for u in S.UNRELATED)]
    assert unrelated and not any("Part of incident" in c for c in unrelated)
    assert "<script" not in html


def test_the_incident_page_lists_its_customers_with_links_to_their_escalations(
    incident_engine: Any, client: Any
) -> None:
    (record,) = incident_engine.store.incidents(status="open")
    iid = record.incident_id
    page = client.get(f"/dashboard/incidents/{iid}")
    assert page.status_code == 200
    assert "<script" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in page.text  # as text, not run
    links = _links(page.text, "/dashboard/escalations/")
    assert len(links) == 40
    names = set()
    for link in links:
        escalation = client.get(link)
        assert escalation.status_code == 200
        assert "Part of incident" in escalation.text
        assert f'href="/dashboard/incidents/{iid}"' in escalation.text
        episode = incident_engine.store.episode(link.rsplit("/", 1)[1])
        names.add(episode.customer_id)
    assert names == set(S.AFFECTED)
    unrelated = next(e for e in incident_engine.store.episodes() if e.customer_id in S.UNRELATED)
    other = client.get(f"/dashboard/escalations/{unrelated.episode_id}")
    assert other.status_code == 200 and "Part of incident" not in other.text


def test_an_unknown_incident_is_a_404_page_and_no_session_goes_to_login(
    incident_engine: Any, client: Any, kit: Any
) -> None:
    missing = client.get("/dashboard/incidents/inc_nope%3Cb%3E")
    assert missing.status_code == 404 and "no such incident" in missing.text
    assert "<b>" not in missing.text
    client._client.cookies.clear()
    (record,) = incident_engine.store.incidents(status="open")
    answer = client.get(f"/dashboard/incidents/{record.incident_id}")
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
