"""Backfill through the real zenpy client against a fake Zendesk export on 127.0.0.1."""

from __future__ import annotations

import base64
import importlib.metadata
from datetime import datetime, timedelta, timezone

import pytest

try:
    importlib.metadata.distribution("ticketspike-zendesk")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-zendesk is not installed", allow_module_level=True)

from ticketspike import Category, ConfigError, EventKind, Priority, TicketspikeError
from ticketspike_zendesk import ZendeskApiError

SINCE = datetime(2026, 2, 1, tzinfo=timezone.utc)


def created(day: int, hour: int = 9) -> str:
    return f"2026-02-{day:02d}T{hour:02d}:00:00Z"


@pytest.fixture
def three_pages(kit, fake_zendesk):
    """Seven tickets over three pages; one deleted, one solved, one older than SINCE."""
    fake_zendesk.add_page(
        None,
        [
            kit.rest_ticket(101, created_at=created(2), tags=["billing"], priority="low"),
            kit.rest_ticket(102, created_at=created(3), status="deleted"),
            kit.rest_ticket(
                103, created_at="2025-12-24T10:00:00Z"
            ),  # updated lately, created before
        ],
        after="c1",
        end=False,
    )
    fake_zendesk.add_page(
        "c1",
        [
            kit.rest_ticket(104, created_at=created(5), priority=None, type=None, tags=[]),
            kit.rest_ticket(
                105, created_at=created(6), status="solved", updated_at="2026-02-07T15:30:00Z"
            ),
        ],
        after="c2",
        end=False,
    )
    fake_zendesk.add_page(
        "c2",
        [
            kit.rest_ticket(106, created_at=created(8), tags=["feature_request"]),
            kit.rest_ticket(107, created_at=created(9), organization_id=509975),
        ],
        after="c3",
        end=True,
    )
    return fake_zendesk


def created_ids(pages):
    return [e.ticket.ticket_id for p in pages for e in p.events if e.kind is EventKind.CREATED]


def test_backfill_walks_every_page_and_skips_deleted_and_older_tickets(kit, three_pages):
    pages = list(kit.source(fake=three_pages).backfill(since=SINCE))

    assert [(p.cursor, p.done, p.skipped) for p in pages] == [
        ("c1", False, 2),
        ("c2", False, 0),
        ("c3", True, 0),
    ]
    assert created_ids(pages) == ["101", "104", "105", "106", "107"]
    by_id = {e.ticket.ticket_id: e.ticket for p in pages for e in p.events}
    assert by_id["101"].category is Category.BILLING and by_id["101"].priority is Priority.P4
    assert by_id["104"].priority is Priority.P3 and by_id["104"].category is Category.OTHER
    assert by_id["104"].category_given is False
    assert by_id["106"].category is Category.FEATURE_REQUEST
    assert by_id["101"].customer_id == "globex" and by_id["107"].customer_id == "509975"
    assert by_id["105"].url == "https://acme.zendesk.com/agent/tickets/105"

    requests = three_pages.export_requests()
    assert [r["query"].get("cursor") for r in requests] == [None, ["c1"], ["c2"]]
    assert requests[0]["query"]["start_time"] == [str(int(SINCE.timestamp()))]
    assert requests[0]["query"]["per_page"] == ["1000"]


def test_a_solved_ticket_also_gives_its_resolution(kit, three_pages):
    pages = list(kit.source(fake=three_pages).backfill(since=SINCE))
    resolved = [e for p in pages for e in p.events if e.kind is EventKind.RESOLVED]
    assert [(e.ticket.ticket_id, e.occurred_at) for e in resolved] == [
        ("105", datetime(2026, 2, 7, 15, 30, tzinfo=timezone.utc))
    ]


def test_the_api_token_authenticates_every_request(kit, three_pages):
    list(kit.source(fake=three_pages).backfill(since=SINCE))
    credentials = b"bot@acme.example/token:api-token-value-9f8e7d"
    expected = "Basic " + base64.b64encode(credentials).decode()
    assert {r["headers"]["Authorization"] for r in three_pages.requests} == {expected}


def test_an_oauth_token_is_sent_as_a_bearer_token(kit, three_pages):
    env = {"ZENDESK_OAUTH_TOKEN": "oauth-abc", "ZENDESK_WEBHOOK_SECRET": kit.SECRET}
    list(kit.source(fake=three_pages, env=env).backfill(since=SINCE))
    assert {r["headers"]["Authorization"] for r in three_pages.requests} == {"Bearer oauth-abc"}


def test_resuming_from_a_cursor_fetches_only_the_rest(kit, three_pages):
    pages = list(kit.source(fake=three_pages).backfill(since=SINCE, cursor="c1"))
    assert created_ids(pages) == ["104", "105", "106", "107"]
    assert [r["query"].get("cursor") for r in three_pages.export_requests()] == [["c1"], ["c2"]]


def test_an_interrupted_backfill_resumes_from_its_last_cursor(kit, three_pages):
    source = kit.source(fake=three_pages)
    stream = source.backfill(since=SINCE)
    first = next(stream)
    stream.close()  # the process stops after storing page one and its cursor

    rest = list(kit.source(fake=three_pages).backfill(since=SINCE, cursor=first.cursor))
    everything = created_ids([first, *rest])
    assert everything == ["101", "104", "105", "106", "107"]
    assert len(everything) == len(set(everything))


def test_a_429_with_retry_after_is_waited_out(kit, three_pages):
    three_pages.once["c1"] = [
        kit.Reply(429, {"error": "TooManyRequests"}, headers={"Retry-After": "1"})
    ]
    pages = list(kit.source(fake=three_pages).backfill(since=SINCE))
    assert created_ids(pages) == ["101", "104", "105", "106", "107"]
    cursors = [r["query"].get("cursor") for r in three_pages.export_requests()]
    assert cursors == [None, ["c1"], ["c1"], ["c2"]]


def test_rate_limiting_beyond_the_budget_stops_with_a_resumable_error(kit, three_pages):
    three_pages.once["c1"] = [
        kit.Reply(429, {"error": "TooManyRequests"}, headers={"Retry-After": "30"})
    ]
    text = "subdomain: acme\nratelimit_budget: 1\n"
    stream = kit.source(text, fake=three_pages).backfill(since=SINCE)
    assert next(stream).cursor == "c1"
    with pytest.raises(ZendeskApiError) as err:
        next(stream)
    assert err.value.cursor == "c1"
    assert "ratelimit_budget" in str(err.value) and "resume with cursor c1" in str(err.value)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("html", "malformed export page"),
        ("no tickets", "malformed export page"),
        ("no created_at", "created_at"),
        ("no end_of_stream", "end_of_stream"),
    ],
)
def test_a_malformed_page_stops_with_a_clear_error(kit, three_pages, reply, expected):
    if reply == "html":
        three_pages.pages["c1"] = kit.Reply(200, raw=b"<html>Gateway maintenance</html>")
    elif reply == "no tickets":
        three_pages.pages["c1"] = kit.Reply(200, {"after_cursor": "c2", "end_of_stream": False})
    elif reply == "no created_at":
        broken = kit.rest_ticket(104)
        del broken["created_at"]
        three_pages.pages["c1"] = kit.Reply(
            200, {"tickets": [broken], "after_cursor": "c2", "end_of_stream": False}
        )
    else:
        three_pages.pages["c1"] = kit.Reply(200, {"tickets": [], "after_cursor": "c2"})
    stream = kit.source(fake=three_pages).backfill(since=SINCE)
    next(stream)
    with pytest.raises(ZendeskApiError) as err:
        next(stream)
    message = str(err.value)
    assert expected in message
    assert "page 2" in message
    assert "\n" not in message
    assert err.value.cursor == "c1"


def test_an_export_that_does_not_advance_is_stopped(kit, fake_zendesk):
    fake_zendesk.add_page(None, [], after="same", end=False)
    fake_zendesk.add_page("same", [], after="same", end=False)
    seen = []
    with pytest.raises(ZendeskApiError, match="did not advance"):
        for page in kit.source(fake=fake_zendesk).backfill(since=SINCE):
            seen.append(page.cursor)
    assert seen == ["same", "same"]


def test_rejected_credentials_are_reported_without_the_token(kit, fake_zendesk):
    fake_zendesk.fail_all = kit.Reply(401, {"error": "Couldn't authenticate you"})
    with pytest.raises(ZendeskApiError) as err:
        list(kit.source(fake=fake_zendesk).backfill(since=SINCE))
    assert "HTTP 401" in str(err.value) and "check the API credentials" in str(err.value)
    assert "api-token-value" not in str(err.value)
    assert isinstance(err.value, TicketspikeError)


def test_an_unreachable_zendesk_is_a_clear_error(kit):
    text = "subdomain: acme\nbase_url: http://127.0.0.1:9\ntimeout: 2\n"
    with pytest.raises(ZendeskApiError, match="cannot reach Zendesk"):
        list(kit.source(text).backfill(since=SINCE))


def test_backfill_without_credentials_names_the_variables(kit):
    env = {"ZENDESK_WEBHOOK_SECRET": kit.SECRET}
    with pytest.raises(ConfigError) as err:
        list(kit.source(env=env).backfill(since=SINCE))
    assert "$ZENDESK_EMAIL" in str(err.value) and "$ZENDESK_OAUTH_TOKEN" in str(err.value)


def test_requester_organizations_come_from_sideloaded_users(kit, fake_zendesk):
    fake_zendesk.add_page(
        None,
        [
            kit.rest_ticket(201, created_at=created(2), organization_id=None, requester_id=31),
            kit.rest_ticket(202, created_at=created(3), organization_id=None, requester_id=32),
        ],
        after="c1",
        end=True,
        users=[
            {"id": 31, "name": "Ann", "organization_id": 509974},
            {"id": 32, "name": "Bo", "organization_id": None},
        ],
    )
    text = (
        "subdomain: acme\ncustomer:\n  from: [organization, requester_organization]\n"
        '  organizations: {"509974": globex}\n'
    )
    (page,) = list(kit.source(text, fake=fake_zendesk).backfill(since=SINCE))
    assert [(e.ticket.ticket_id, e.ticket.customer_id) for e in page.events] == [("201", "globex")]
    # Ticket 202: neither it nor its requester has an organization: kept aside.
    assert page.skipped == 0 and [u.record_id for u in page.unmatched] == ["202"]
    (export,) = fake_zendesk.export_requests()
    assert export["query"]["include"] == ["users"]
    assert not [r for r in fake_zendesk.requests if r["path"].startswith("/api/v2/users/")]


def test_a_naive_since_is_refused(kit, three_pages):
    with pytest.raises(ValueError, match="timezone-aware"):
        list(kit.source(fake=three_pages).backfill(since=datetime(2026, 2, 1)))


def test_page_size_is_asked_for_when_the_export_starts(kit, three_pages):
    list(
        kit.source("subdomain: acme\npage_size: 50\n", fake=three_pages).backfill(
            since=SINCE - timedelta(days=90)
        )
    )
    first = three_pages.export_requests()[0]
    assert first["query"]["per_page"] == ["50"]
    assert first["query"]["start_time"] == [str(int((SINCE - timedelta(days=90)).timestamp()))]
