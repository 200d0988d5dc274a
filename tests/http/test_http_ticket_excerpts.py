"""Summaries carry body excerpts; the single-ticket read carries the whole body.

A hundred 64 KB tickets made each summary 6.4 MB, built in the process that answers webhooks:
with three readers looping on the hot customer, other customers' webhook p99 went from 28 to
259 ms (bench/bench_big_tickets.py). A list now holds at most EXCERPT_CHARS of each body.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike._excerpts import EXCERPT_CHARS, ticket_excerpt
from ticketspike.testing import ticket_event


def test_the_summary_lists_excerpts_and_the_ticket_read_has_the_whole_body(
    harness: Any,
) -> None:
    body = "export fails " * 5000  # 65,000 characters
    assert (
        harness.post_ticket(
            {
                "ticketId": "BIG-1",
                "customerId": "acme",
                "category": "technical",
                "body": body,
                "createdAt": "2026-03-02T11:00:00Z",
            }
        ).status_code
        == 202
    )
    assert (
        harness.post_ticket(
            {
                "ticketId": "SMALL-1",
                "customerId": "acme",
                "category": "billing",
                "body": "short",
                "createdAt": "2026-03-02T11:10:00Z",
            },
            msg_id="msg_2",
        ).status_code
        == 202
    )
    harness.settle()
    answer = harness.client.get("/api/support/summary/acme", headers=harness.auth)
    assert answer.status_code == 200 and len(answer.content) < 4000
    listed = {t["ticketId"]: t for t in answer.json()["recentTickets"]}
    assert listed["BIG-1"]["body"] == body[:EXCERPT_CHARS]
    assert (listed["BIG-1"]["bodyTruncated"], listed["BIG-1"]["bodyLength"]) == (True, len(body))
    assert listed["SMALL-1"]["body"] == "short" and "bodyTruncated" not in listed["SMALL-1"]

    source = listed["BIG-1"]["source"]
    one = harness.client.get(f"/api/support/tickets/{source}/BIG-1", headers=harness.auth)
    assert one.status_code == 200 and one.headers["cache-control"] == "no-store"
    data = one.json()
    assert data["body"] == body and "bodyTruncated" not in data
    assert (data["customerId"], data["status"]) == ("acme", "open")


def test_the_ticket_read_needs_the_token_and_names_what_is_missing(harness: Any) -> None:
    assert harness.client.get("/api/support/tickets/ticket/NOPE").status_code == 401
    missing = harness.client.get("/api/support/tickets/ticket/NOPE", headers=harness.auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    odd = harness.client.get("/api/support/tickets/ticket/a%0Ab", headers=harness.auth)
    assert odd.status_code == 422


@settings(max_examples=200, derandomize=True, deadline=None)
@given(body=st.text(max_size=2 * EXCERPT_CHARS))
def test_an_excerpt_is_a_prefix_and_says_when_it_cut(body: str) -> None:
    ticket = attrs.evolve(ticket_event("T1").ticket, body=body)
    data = ticket_excerpt(ticket)
    if len(body) > EXCERPT_CHARS:
        assert data["body"] == body[:EXCERPT_CHARS] and data["bodyLength"] == len(body)
        assert data["bodyTruncated"] is True
    else:
        assert data == ticket.to_json()
