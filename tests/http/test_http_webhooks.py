"""``POST /api/webhooks/support/ticket``: signed tickets stored once; everything else refused.

Every refusal is checked for its status, its JSON error shape, and that nothing was stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from ticketspike.http import ServerSettings, create_app

PATH = "/api/webhooks/support/ticket"


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    error: dict[str, str] = body["error"]
    return error


def test_a_signed_ticket_is_stored_and_counted_once_when_delivered_three_times(harness, kit):
    body = kit.encode(kit.ticket("TKT-9"))
    headers = kit.signed(body, msg_id="msg_dup")

    answers = [harness.client.post(PATH, content=body, headers=headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 200, 200]
    assert answers[0].json()["stored"] == 1
    assert [a.json()["replayed"] for a in answers] == [False, True, True]
    assert harness.stored == 1
    harness.settle()
    summary = harness.client.get("/api/support/summary/acme", headers=harness.auth).json()
    assert summary["ticketCount"] == 1
    assert [t["ticketId"] for t in summary["recentTickets"]] == ["TKT-9"]


def test_the_same_ticket_under_new_delivery_ids_still_counts_once(harness, kit):
    for n in range(3):
        answer = harness.post_ticket(kit.ticket("TKT-1"), msg_id=f"msg_{n}")
        assert answer.status_code in (200, 202)
    assert harness.stored == 1
    harness.settle()
    summary = harness.client.get("/api/support/summary/acme", headers=harness.auth).json()
    assert summary["ticketCount"] == 1


def test_the_dedupe_lives_in_the_store_so_a_second_process_drops_the_replay(
    harness_factory, kit, tmp_path
):
    first = harness_factory(sqlite=True)
    body = kit.encode(kit.ticket("TKT-2"))
    headers = kit.signed(body, msg_id="msg_shared")
    assert first.client.post(PATH, content=body, headers=headers).status_code == 202

    # Another app and engine over the same file, as a second server process would be.
    second = harness_factory(sqlite=True)
    again = second.client.post(PATH, content=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert second.stored == 1


@pytest.mark.parametrize(
    "case",
    [
        "unsigned",
        "tampered",
        "wrong secret",
        "stale",
        "future",
        "garbage signature",
        "not unix seconds",
    ],
)
def test_bad_signatures_are_refused_with_401_and_nothing_is_stored(harness, kit, case):
    body = kit.encode(kit.ticket())
    headers = kit.signed(body)
    if case == "unsigned":
        headers = {"content-type": "application/json"}
    elif case == "tampered":
        body = body.replace(b"acme", b"evil")
    elif case == "wrong secret":
        headers = kit.signed(body, key=b"another-key-of-thirty-two-bytes!")
    elif case == "stale":
        headers = kit.signed(body, at=kit.NOW - timedelta(seconds=301))
    elif case == "future":
        headers = kit.signed(body, at=kit.NOW + timedelta(seconds=301))
    elif case == "garbage signature":
        headers["webhook-signature"] = "v1,not-base64!! v2,whatever"
    elif case == "not unix seconds":
        headers["webhook-timestamp"] = "2026-03-02T12:00:00Z"

    answer = harness.client.post(PATH, content=body, headers=headers)

    assert answer.status_code == 401
    error = error_of(answer)
    assert error["code"] == "invalid_signature"
    # Nothing about why: no secret, no expected signature, no hint at the window.
    assert error["message"] == "missing or invalid webhook signature"
    assert kit.SECRET not in answer.text and "v1," not in answer.text
    assert harness.stored == 0


def test_timestamps_inside_the_window_are_accepted_in_both_directions(harness, kit):
    early = harness.post_ticket(
        kit.ticket("TKT-a"), msg_id="a", at=kit.NOW - timedelta(seconds=299)
    )
    late = harness.post_ticket(kit.ticket("TKT-b"), msg_id="b", at=kit.NOW + timedelta(seconds=299))
    assert (early.status_code, late.status_code) == (202, 202)
    assert harness.stored == 2


def test_rotated_secrets_are_all_accepted_and_any_matching_entry_counts(harness_factory, kit):
    old_key = b"the-old-signing-key-of-32-bytes!"
    env = {"TICKETSPIKE_WEBHOOK_SECRET": f"{kit.SECRET} plain-old-secret-value-24b"}
    h = harness_factory(env=env)

    by_new = h.post_ticket(kit.ticket("TKT-new"), msg_id="n")
    by_plain = h.post_ticket(kit.ticket("TKT-plain"), msg_id="p", key=b"plain-old-secret-value-24b")
    body = kit.encode(kit.ticket("TKT-both"))
    headers = kit.signed(body, msg_id="both")
    wrong = kit.spec_signature(old_key, "both", int(kit.NOW.timestamp()), body)
    headers["webhook-signature"] = f"{wrong} {headers['webhook-signature']}"
    by_either = h.client.post(PATH, content=body, headers=headers)

    assert [by_new.status_code, by_plain.status_code, by_either.status_code] == [202] * 3
    assert h.stored == 3


def test_with_no_secret_configured_every_delivery_is_refused(harness_factory, kit):
    h = harness_factory(env={})
    answer = h.post_ticket(kit.ticket())
    assert answer.status_code == 401
    assert h.stored == 0


def test_an_oversized_body_is_refused_with_413_before_anything_is_stored(harness_factory, kit):
    h = harness_factory(settings=ServerSettings(max_body_bytes=2048))
    answer = h.post_ticket(kit.ticket(body="x" * 4096))
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "payload_too_large"
    assert h.stored == 0


def test_the_body_limit_is_enforced_while_streaming_not_after(kit):
    """A chunked body with no Content-Length is cut off as soon as it passes the limit."""
    engine = kit.make_engine()
    app = create_app(engine, settings=ServerSettings(max_body_bytes=4096, background=False), env={})
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(1000):  # 1 MB if it were all read
            sent.append(n)
            yield b" " * 1024

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(
                PATH, content=chunks(), headers={"content-type": "application/json"}
            )

    answer = asyncio.run(post())
    assert answer.status_code == 413
    assert len(sent) <= 6  # stopped just past 4 KiB, not after a megabyte
    assert engine.store.ticket_count() == 0


def test_a_wrong_content_type_is_refused_with_415(harness, kit):
    body = kit.encode(kit.ticket())
    answer = harness.client.post(
        PATH, content=body, headers=kit.signed(body, content_type="text/plain")
    )
    assert answer.status_code == 415
    assert error_of(answer)["code"] == "unsupported_media_type"
    assert harness.stored == 0


def test_json_with_a_charset_parameter_is_fine(harness, kit):
    body = kit.encode(kit.ticket())
    answer = harness.client.post(
        PATH, content=body, headers=kit.signed(body, content_type="application/json; charset=utf-8")
    )
    assert answer.status_code == 202


def test_malformed_json_is_refused_with_400(harness, kit):
    answer = harness.post_ticket(b'{"ticketId": "TKT-1", ')
    assert answer.status_code == 400
    assert "JSON" in error_of(answer)["message"]
    assert harness.stored == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customerId": None}, "customerId"),
        ({"ticketId": {"nested": 1}}, "ticketId"),
        ({"createdAt": "2026-03-02T11:00:00"}, "createdAt"),  # naive: no offset
        ({"createdAt": "yesterday"}, "createdAt"),
        ({"severity": "urgent"}, "severity"),
        ({"internal": "yes"}, "internal"),
        ({"tags": "billing"}, "tags"),
    ],
)
def test_missing_or_wrong_fields_are_refused_with_422_naming_the_field(harness, kit, change, field):
    obj = kit.ticket()
    obj.update(change)
    obj = {k: v for k, v in obj.items() if v is not None}

    answer = harness.post_ticket(obj)

    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == "invalid_field"
    assert field in error["message"]
    assert "\n" not in error["message"]
    assert harness.stored == 0


def test_a_batch_with_one_bad_ticket_stores_none_of_them(harness, kit):
    batch = [kit.ticket("TKT-1"), kit.ticket("TKT-2", createdAt="2026-03-02 11:00")]
    answer = harness.post_ticket(batch)
    assert answer.status_code == 422
    assert harness.stored == 0


def test_the_server_keeps_serving_after_refusals(harness, kit):
    refused = [
        harness.post_ticket(b"not json").status_code,
        harness.client.post(
            PATH, content=b"{}", headers={"content-type": "application/json"}
        ).status_code,
        harness.post_ticket(kit.ticket(createdAt="2026-03-02T11:00:00")).status_code,
    ]
    accepted = harness.post_ticket(kit.ticket("TKT-ok"), msg_id="ok")
    assert refused == [400, 401, 422]
    assert accepted.status_code == 202
    assert harness.stored == 1


def test_a_stuck_and_failing_notifier_never_holds_up_or_fails_the_webhook(harness_factory, kit):
    notifier = kit.BlockingNotifier()
    h = harness_factory(notifier=notifier)
    at = kit.NOW - timedelta(minutes=50)
    answers = [
        h.post_ticket(
            kit.ticket(
                f"TKT-{n}", severity="P1", createdAt=(at + timedelta(minutes=n)).isoformat()
            ),
            msg_id=f"spike_{n}",
        )
        for n in range(8)
    ]
    assert [a.status_code for a in answers] == [202] * 8
    # The spike reached the notifier, which is now stuck inside Slack ...
    assert notifier.entered.wait(30)
    # ... and webhooks are still answered at once, and stored.
    more = h.post_ticket(kit.ticket("TKT-late", severity="P1"), msg_id="late")
    assert more.status_code == 202
    assert not notifier.release.is_set()
    assert h.stored == 9

    notifier.release.set()
    h.settle()
    cards = h.client.get("/api/support/escalations", headers=h.auth).json()["escalations"]
    (card,) = cards
    assert card["customerId"] == "acme"
    assert card["progress"]["failed"] >= 1
    failed = [a for a in card["actionsTaken"] if a["status"] == "failed"]
    assert failed and all("slack is down" in (a["error"] or "") for a in failed)
    assert h.stored == 9


def test_a_webhook_is_answered_only_after_the_ticket_is_committed(harness_factory, kit):
    """The 2xx means durable: a fresh connection to the file sees the ticket at once."""
    from ticketspike.store.sqlite import SQLiteStore

    h = harness_factory(sqlite=True)
    answer = h.post_ticket(kit.ticket("TKT-durable"))
    assert answer.status_code == 202
    path = h.engine.store.location
    with SQLiteStore(path) as other:
        record = other.get_ticket("api", "TKT-durable")
    assert record is not None
    assert record.ticket.customer_id == "acme"


def test_error_bodies_are_single_line_json(harness, kit):
    answer = harness.post_ticket(kit.ticket(severity="P9\nINJECTED: yes"))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/json")
    assert "\n" not in json.loads(answer.text)["error"]["message"]
