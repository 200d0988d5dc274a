"""Incident endpoints: three customers spiking together over webhooks make one incident."""

from __future__ import annotations

from datetime import timedelta

import pytest


def _spikes(h, kit, customers=("acme", "globex", "initech"), count=8):
    start = kit.NOW - timedelta(minutes=55)
    for c, cid in enumerate(customers):
        for n in range(count):
            answer = h.post_ticket(
                kit.ticket(
                    f"{cid}-{n}",
                    cid,
                    severity="P1",
                    category="technical",
                    createdAt=(start + timedelta(minutes=n + c)).isoformat(),
                ),
                msg_id=f"m{cid}{n}",
            )
            assert answer.status_code == 202
    h.settle()


@pytest.mark.parametrize("path", ["/api/incidents", "/api/incidents/x"])
def test_incident_endpoints_need_the_token(harness, path):
    assert harness.client.get(path).status_code == 401


def test_three_customers_spiking_together_are_one_incident(harness, kit):
    _spikes(harness, kit)
    auth = harness.auth
    listed = harness.client.get("/api/incidents", headers=auth)
    assert listed.status_code == 200
    (incident,) = listed.json()["incidents"]
    assert sorted(incident["customer_ids"]) == ["acme", "globex", "initech"]
    assert incident["status"] == "open" and incident["key"] == "category:technical"
    shown = harness.client.get(f"/api/incidents/{incident['incident_id']}", headers=auth)
    assert shown.status_code == 200 and shown.json()["incident_id"] == incident["incident_id"]
    assert harness.client.get("/api/incidents?status=resolved", headers=auth).json() == {
        "incidents": []
    }


def test_unknown_incident_and_bad_status_are_clean_errors(harness):
    auth = harness.auth
    missing = harness.client.get("/api/incidents/inc_nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "incident_not_found"
    bad = harness.client.get("/api/incidents?status=maybe", headers=auth)
    assert bad.status_code == 422
