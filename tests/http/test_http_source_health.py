"""``/api/health`` detail: each ticket source's delivery status, for readers only."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from ticketspike.model import TicketEvent
from ticketspike.testing import ticket_event


def steady(source: str, days: int = 14) -> list[TicketEvent]:
    """A delivery every 5 to 25 minutes, day and night, for ``days``."""
    rng = random.Random(7)
    out: list[TicketEvent] = []
    t = datetime(2026, 2, 2, tzinfo=timezone.utc)
    end = t + timedelta(days=days)
    while t < end:
        t += timedelta(minutes=rng.uniform(5, 25))
        out.append(ticket_event(f"T{len(out)}", f"cust{len(out) % 40}", t, source=source))
    return out


def test_health_detail_shows_a_quiet_source_its_failures_and_its_clearing(
    harness_factory: Any, kit: Any
) -> None:
    harness = harness_factory()
    events = steady(source="fake")
    harness.clock.at = events[-1].at
    harness.engine.ingest_many(events)

    anonymous = harness.client.get("/api/health")
    assert anonymous.json() == {"status": "ok"}  # names and times only for readers
    wrong = harness.client.get("/api/health", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 200 and wrong.json() == {"status": "ok"}
    detail = harness.client.get("/api/health", headers=harness.auth).json()["detail"]
    assert detail["quiet_sources"] == []
    (fake,) = detail["sources"]
    assert (fake["source"], fake["status"]) == ("fake", "ok")

    harness.clock.advance(hours=8)
    for n in range(4):  # a sender with the wrong token: refused, and counted
        refused = harness.client.post(
            "/api/webhooks/fake",
            content=b"{}",
            headers={"content-type": "application/json", "x-fake-token": f"old{n}"},
        )
        assert refused.status_code == 401
    harness.settle()  # the worker's pass ticks: the warning is planned and posted
    health = harness.client.get("/api/health", headers=harness.auth)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    detail = health.json()["detail"]
    assert detail["quiet_sources"] == ["fake"]
    (fake,) = detail["sources"]
    assert fake["status"] == "quiet" and fake["signature_failures"] == 4
    assert fake["warned_at"] == harness.clock.at.isoformat()
    posted = [k for k in harness.notifier.keys() if k.startswith("source:")]
    assert posted == ["source:fake:quiet:1"]

    harness.clock.advance(minutes=1)
    body = json.dumps(ticket_event("T-new", "acme", harness.clock.at).ticket.to_json()).encode()
    accepted = harness.client.post(
        "/api/webhooks/fake",
        content=body,
        headers={"content-type": "application/json", "x-fake-token": kit.FAKE_TOKEN},
    )
    assert accepted.status_code == 202
    harness.settle()
    detail = harness.client.get("/api/health", headers=harness.auth).json()["detail"]
    assert detail["quiet_sources"] == []
    assert detail["sources"][0]["status"] == "ok"
    assert detail["sources"][0]["signature_failures"] == 0
    posted = [k for k in harness.notifier.keys() if k.startswith("source:")]
    assert posted == ["source:fake:quiet:1", "source:fake:resumed:1"]


def test_the_openapi_document_describes_the_detail(harness: Any) -> None:
    doc = harness.client.get("/openapi.json").json()
    health = doc["components"]["schemas"]["Health"]["properties"]
    assert "sources" in health["detail"]["properties"]
