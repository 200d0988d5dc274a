"""The read endpoints: bearer token required; summary, check-spike, banner, dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ticketspike.http import ServerSettings

READS = [
    ("GET", "/api/support/summary/acme", None),
    ("GET", "/api/support/banner/acme", None),
    ("GET", "/api/support/escalations", None),
    ("POST", "/api/support/check-spike", {"customerId": "acme"}),
]


def spike(h, kit, customer="acme", count=8):
    """``count`` P1 tickets in the last hour: a critical spike for a new customer."""
    start = kit.NOW - timedelta(minutes=55)
    for n in range(count):
        at = (start + timedelta(minutes=n)).isoformat()
        answer = h.post_ticket(
            kit.ticket(
                f"{customer}-{n}",
                customer,
                severity="P1",
                createdAt=at,
                subject=f"Login fails with SSO error {n}",
            ),
            msg_id=f"{customer}_{n}",
        )
        assert answer.status_code == 202
    h.settle()


@pytest.mark.parametrize(("method", "path", "payload"), READS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic cmVhZDp0b2tlbg==", "Bearer", "read-token-7f3a9c"],
)
def test_reads_without_the_right_token_are_401(harness, method, path, payload, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = harness.client.request(method, path, json=payload, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": {"code": "unauthorized", "message": "missing or invalid bearer token"}
    }
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "payload"), READS)
def test_with_no_token_configured_every_read_is_refused(
    harness_factory, method, path, payload, kit
):
    h = harness_factory(token_env={})
    for offered in ("", "Bearer ", f"Bearer {kit.TOKEN}"):
        answer = h.client.request(method, path, json=payload, headers={"Authorization": offered})
        assert answer.status_code == 401


def test_the_scheme_is_case_insensitive_but_the_token_is_not(harness, kit):
    ok = harness.client.get(
        "/api/support/escalations", headers={"Authorization": f"bearer {kit.TOKEN}"}
    )
    wrong = harness.client.get(
        "/api/support/escalations", headers={"Authorization": f"Bearer {kit.TOKEN.upper()}"}
    )
    assert (ok.status_code, wrong.status_code) == (200, 401)


def test_summary_has_the_prd_shape(harness, kit):
    spike(harness, kit)
    answer = harness.client.get("/api/support/summary/acme", headers=harness.auth)

    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    data = answer.json()
    assert {"recentTickets", "baseline", "currentRate", "isSpike", "themes"} <= set(data)
    assert data["isSpike"] is True
    assert data["ticketCount"] == 8
    assert data["currentRate"] == 8.0  # 8 tickets in a 24-hour window, per day
    assert isinstance(data["baseline"], float) and data["baseline"] > 0
    assert all(isinstance(t, str) for t in data["themes"])
    tickets = data["recentTickets"]
    assert len(tickets) == 8
    # Newest first, each in the canonical ticket JSON.
    assert [t["ticketId"] for t in tickets] == [f"acme-{n}" for n in range(7, -1, -1)]
    assert {"ticketId", "customerId", "category", "severity", "subject", "createdAt"} <= set(
        tickets[0]
    )


def test_summary_limit_bounds_recent_tickets(harness, kit):
    spike(harness, kit)
    two = harness.client.get("/api/support/summary/acme?limit=2", headers=harness.auth)
    assert [t["ticketId"] for t in two.json()["recentTickets"]] == ["acme-7", "acme-6"]
    for bad in ("0", "-1", "many", "100000"):
        answer = harness.client.get(f"/api/support/summary/acme?limit={bad}", headers=harness.auth)
        assert answer.status_code == 422
        assert "limit" in answer.json()["error"]["message"]


def test_summary_of_a_customer_with_no_tickets_is_an_empty_summary(harness):
    data = harness.client.get("/api/support/summary/nobody", headers=harness.auth).json()
    assert data["recentTickets"] == []
    assert data["isSpike"] is False
    assert data["currentRate"] == 0


def test_check_spike_returns_the_assessment_and_the_prd_risk_signal(harness, kit):
    spike(harness, kit)
    answer = harness.client.post(
        "/api/support/check-spike", json={"customerId": "acme"}, headers=harness.auth
    )

    assert answer.status_code == 200
    data = answer.json()
    assert data["isSpike"] is True
    assert data["severity"] == "critical"
    assert data["ticketCount"] == 8
    assert sorted(data["ticketIds"]) == sorted(f"acme-{n}" for n in range(8))
    signal = data["riskSignal"]
    assert signal["signal_type"] == "ticket_spike"
    assert signal["customer_id"] == "acme"
    assert signal["severity"] == "critical"
    assert {
        "ticket_count",
        "baseline_daily_avg",
        "spike_multiplier",
        "period_hours",
        "ticket_breakdown",
        "severity_breakdown",
        "common_themes",
        "ticket_ids",
    } <= set(signal["metadata"])
    assert signal["metadata"]["severity_breakdown"] == {"P1": 8}
    assert signal["metadata"]["ticket_breakdown"] == {"technical": 8}


def test_check_spike_of_a_quiet_customer_has_no_risk_signal(harness, kit):
    harness.post_ticket(kit.ticket("TKT-1", "quiet"))
    harness.settle()
    data = harness.client.post(
        "/api/support/check-spike", json={"customerId": "quiet"}, headers=harness.auth
    ).json()
    assert data["isSpike"] is False
    assert data["ticketCount"] == 1
    assert data["riskSignal"] is None


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"customerId": "acme"', "application/json", 400),
        (b'["acme"]', "application/json", 422),
        (b"{}", "application/json", 422),
        (b'{"customerId": ""}', "application/json", 422),
        (b'{"customerId": ["acme"]}', "application/json", 422),
        (b'{"customerId": true}', "application/json", 422),
        (b'{"customerId": "' + b"a" * 300 + b'"}', "application/json", 422),
        (b'{"customerId": "a\\u0000b"}', "application/json", 422),
        (b"customerId=acme", "application/x-www-form-urlencoded", 415),
    ],
)
def test_check_spike_refuses_bad_bodies(harness, content, content_type, status):
    answer = harness.client.post(
        "/api/support/check-spike",
        content=content,
        headers={**harness.auth, "content-type": content_type},
    )
    assert answer.status_code == status
    error = answer.json()["error"]
    if status == 422:
        assert error["code"] == "invalid_field"
        assert "customerId" in error["message"] or "object" in error["message"]


def test_check_spike_accepts_a_numeric_customer_id(harness, kit):
    harness.post_ticket(kit.ticket("TKT-1", "4711"))
    harness.settle()
    data = harness.client.post(
        "/api/support/check-spike", json={"customerId": 4711}, headers=harness.auth
    ).json()
    assert data["customerId"] == "4711"
    assert data["ticketCount"] == 1


def test_the_banner_shows_an_active_spike_with_count_trend_and_link(harness, kit):
    spike(harness, kit)
    data = harness.client.get("/api/support/banner/acme", headers=harness.auth).json()
    assert data["active"] is True
    assert data["severity"] == "critical"
    assert data["ticketCount"] == 8
    assert data["trend"] == "rising"
    assert data["quickAction"] == "Address Spike"
    assert data["link"] == "/api/support/summary/acme"


def test_the_banner_of_a_calm_customer_is_inactive(harness):
    data = harness.client.get("/api/support/banner/calm", headers=harness.auth).json()
    assert data["active"] is False
    assert data["quickAction"] is None


def test_the_dashboard_lists_one_card_per_active_spike_with_actions(harness, kit):
    spike(harness, kit, "acme")
    spike(harness, kit, "globex")
    data = harness.client.get("/api/support/escalations", headers=harness.auth).json()

    cards = {c["customerId"]: c for c in data["escalations"]}
    assert set(cards) == {"acme", "globex"}
    acme = cards["acme"]
    assert acme["customerName"] == "TechCorp Inc"  # from the account directory
    assert acme["severity"] == "critical"
    assert acme["hoursSinceDetection"] >= 0
    assert acme["actionsTaken"] and all(a["status"] == "done" for a in acme["actionsTaken"])
    assert acme["progress"]["actionsDone"] == acme["progress"]["actionsTotal"] > 0
    # The recording notifier really was asked to deliver the CSM message.
    assert any(d.action.kind == "direct_message" for d in harness.notifier.delivered)


def test_customer_ids_with_control_characters_are_refused(harness):
    answer = harness.client.get("/api/support/summary/a%0Ab", headers=harness.auth)
    assert answer.status_code == 422


def test_customer_ids_are_escaped_in_the_banner_link(harness):
    data = harness.client.get("/api/support/banner/acme%20corp%3F", headers=harness.auth).json()
    assert data["customerId"] == "acme corp?"
    assert data["link"] == "/api/support/summary/acme%20corp%3F"


def test_health_needs_no_token(harness):
    answer = harness.client.get("/api/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_health_reports_an_unusable_store_as_503(harness_factory):
    h = harness_factory(sqlite=True)
    h.engine.store.close()
    answer = h.client.get("/api/health")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable"}


def test_unknown_paths_and_methods_get_json_errors(harness):
    missing = harness.client.get("/api/support/nothing-here")
    wrong = harness.client.get("/api/support/check-spike")
    assert (missing.status_code, wrong.status_code) == (404, 405)
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_cors_is_off_by_default_and_on_for_configured_origins(harness_factory, kit):
    plain = harness_factory()
    answer = plain.client.get("/api/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in answer.headers

    h = harness_factory(settings=ServerSettings(cors_origins=("https://app.example.com",)))
    preflight = h.client.options(
        "/api/support/summary/acme",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    other = h.client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
