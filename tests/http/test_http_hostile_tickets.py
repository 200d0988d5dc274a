"""Webhooks refuse future-dated tickets and unsafe customer ids; reads apply the same id rule."""

from __future__ import annotations

from datetime import timedelta

import pytest

PATH = "/api/webhooks/support/ticket"


def _stamp(at):  # type: ignore[no-untyped-def]
    return at.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "created", ["+1d", "9999-12-31T23:59:59Z"], ids=["one-day-ahead", "year-9999"]
)
def test_a_future_dated_ticket_is_refused_with_422_and_nothing_stored(
    harness_factory, kit, created
):
    first = harness_factory(sqlite=True)
    when = _stamp(kit.NOW + timedelta(days=1)) if created == "+1d" else created
    answer = first.post_ticket(kit.ticket("EVIL-1", customer="evil", createdAt=when), msg_id="m0")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_field"
    assert "createdAt" in error["message"] and "ahead of the host clock" in error["message"]
    assert first.stored == 0

    # Across a restart of the store: a second app over the same file detects as usual.
    second = harness_factory(sqlite=True)
    for n in range(3):
        ok = second.post_ticket(
            kit.ticket(f"T-{n}", createdAt=_stamp(kit.NOW - timedelta(minutes=10 + n))),
            msg_id=f"m{n + 1}",
        )
        assert ok.status_code == 202
    second.settle()
    assert second.engine.monitor.now is not None
    assert second.engine.monitor.now <= kit.NOW
    summary = second.client.get("/api/support/summary/acme", headers=second.auth).json()
    assert summary["ticketCount"] == 3


def test_a_ticket_inside_the_skew_is_accepted(harness, kit):
    answer = harness.post_ticket(kit.ticket(createdAt=_stamp(kit.NOW + timedelta(seconds=240))))
    assert answer.status_code == 202
    assert harness.stored == 1


@pytest.mark.parametrize(
    "customer",
    ["acme\nERROR: forged", "\u202eemca", "ac\u200bme", "x" * 257, "ac\x1b[2Jme"],
    ids=["newline", "bidi", "zero-width", "long", "escape"],
)
def test_unsafe_customer_ids_are_refused_at_the_webhook_and_on_reads(harness, kit, customer):
    answer = harness.post_ticket(kit.ticket(customer=customer))
    assert answer.status_code == 422
    assert "customerId" in answer.json()["error"]["message"]
    assert harness.stored == 0
    from urllib.parse import quote

    read = harness.client.get(
        f"/api/support/summary/{quote(customer, safe='')}", headers=harness.auth
    )
    assert read.status_code == 422


def test_two_spellings_of_one_id_are_one_customer(harness, kit):
    assert (
        harness.post_ticket(kit.ticket("T-1", customer="cafe\u0301"), msg_id="a").status_code == 202
    )
    assert (
        harness.post_ticket(kit.ticket("T-2", customer="caf\u00e9"), msg_id="b").status_code == 202
    )
    harness.settle()
    summary = harness.client.get("/api/support/summary/caf%C3%A9", headers=harness.auth).json()
    assert summary["ticketCount"] == 2
