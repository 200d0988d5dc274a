"""Episode endpoints: list, history, acknowledge, resolve, snooze, silences (token required)."""

from __future__ import annotations

from datetime import timedelta

import pytest


def _spike(h, kit, count=8):
    start = kit.NOW - timedelta(minutes=55)
    for n in range(count):
        answer = h.post_ticket(
            kit.ticket(
                f"acme-{n}",
                "acme",
                severity="P1",
                createdAt=(start + timedelta(minutes=n)).isoformat(),
            ),
            msg_id=f"m{n}",
        )
        assert answer.status_code == 202
    h.settle()
    [episode] = h.engine.store.episodes()
    return episode.episode_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/episodes"),
        ("GET", "/api/episodes/x"),
        ("POST", "/api/episodes/x/acknowledge"),
        ("POST", "/api/episodes/x/resolve"),
        ("POST", "/api/customers/acme/snooze"),
        ("GET", "/api/silences"),
    ],
)
def test_every_episode_endpoint_needs_the_token(harness, method, path):
    answer = harness.client.request(method, path, json={"by": "mike", "for": "4h"})
    assert answer.status_code == 401


def test_acknowledge_resolve_and_history_over_http(harness, kit):
    eid = _spike(harness, kit)
    auth = harness.auth
    listed = harness.client.get("/api/episodes", headers=auth).json()["episodes"]
    assert [e["episode_id"] for e in listed] == [eid]
    first = harness.client.post(
        f"/api/episodes/{eid}/acknowledge", json={"by": "Mike"}, headers=auth
    )
    again = harness.client.post(
        f"/api/episodes/{eid}/acknowledge", json={"by": "Sam"}, headers=auth
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["by"] == "Mike"
    done = harness.client.post(f"/api/episodes/{eid}/resolve", json={"by": "Mike"}, headers=auth)
    assert done.status_code == 200 and done.json()["outcome"] == "done"
    shown = harness.client.get(f"/api/episodes/{eid}", headers=auth).json()
    assert shown["status"] == "resolved" and shown["acknowledged_by"] == "Mike"
    assert [h["what"] for h in shown["history"] if h["type"] == "act"] == ["acknowledge", "resolve"]


def test_snooze_over_http_is_listed_with_the_silences(harness, kit):
    answer = harness.client.post(
        "/api/customers/acme/snooze", json={"by": "Mike", "for": "4h"}, headers=harness.auth
    )
    assert answer.status_code == 200
    silences = harness.client.get("/api/silences", headers=harness.auth).json()["silences"]
    assert [(s["target"], s["source"], s["by"]) for s in silences] == [("acme", "recorded", "Mike")]


@pytest.mark.parametrize(
    "payload",
    [{"for": "4h"}, {"by": "", "for": "4h"}, {"by": "m", "for": "soon"}, {"by": "m"}, [1]],
)
def test_bad_snooze_bodies_are_422_and_store_nothing(harness, payload):
    answer = harness.client.post("/api/customers/acme/snooze", json=payload, headers=harness.auth)
    assert answer.status_code == 422
    assert harness.engine.store.recorded_silences() == []


def test_unknown_episode_is_404(harness):
    answer = harness.client.post(
        "/api/episodes/nope/acknowledge", json={"by": "m"}, headers=harness.auth
    )
    assert answer.status_code == 404
