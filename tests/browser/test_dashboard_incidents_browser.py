"""In headless Chromium: from the list, a CSM opens the open product incident, then one of its
customers' escalations, and follows the "Part of incident" link back."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from support import incident_stream as S
from ticketspike.config import load_config
from ticketspike.http import create_app
from ticketspike.model import Account, Person, ticket_event_from_json
from ticketspike.testing import FixedClock, memory_engine


@pytest.fixture
def incident_live(kit: Any) -> Iterator[Any]:
    import uvicorn

    events = [ticket_event_from_json(r) for r in S.stream()]
    clock = FixedClock(max(e.at for e in events) + timedelta(minutes=1))
    accounts = [
        Account(
            id=c,
            name=f"Customer {c}",
            arr=100_000,
            health_score=70,
            csm=Person(name=f"CSM {c}", email=f"csm.{c}@example.com"),
        )
        for c in S.CUSTOMERS
    ]
    engine = memory_engine(config=load_config(text="{}", env={}), clock=clock, accounts=accounts)
    engine.ingest_many(events)
    app = create_app(engine, env={"TICKETSPIKE_API_TOKEN": kit.TOKEN})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield SimpleNamespace(
            engine=engine, url=f"http://127.0.0.1:{port}/dashboard", token=kit.TOKEN
        )
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        engine.close()


def test_open_the_incident_and_a_member_escalation_and_back(
    page: Any, incident_live: Any, kit: Any
) -> None:
    live = incident_live
    (record,) = live.engine.store.incidents(status="open")
    iid = record.incident_id
    kit.log_in(page, live)
    incidents = page.locator("section.incidents")
    assert "Open product incidents (1)" in incidents.inner_text()
    # The incidents come before the escalation cards.
    box = incidents.bounding_box()
    first_card = page.get_by_role("heading", name="Active escalations").bounding_box()
    assert box is not None and first_card is not None and box["y"] < first_card["y"]
    incidents.get_by_role("link", name=iid).click()
    page.wait_for_url(f"{live.url}/incidents/{iid}")
    assert page.get_by_role("heading", name="Customers (40 escalations)").count() == 1
    members = page.locator("ol.members a")
    assert members.count() == 40
    members.first.click()
    page.wait_for_url(f"{live.url}/escalations/**")
    page.locator(".incident-link").get_by_role("link", name=iid).click()
    page.wait_for_url(f"{live.url}/incidents/{iid}")
