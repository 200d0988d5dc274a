"""Backfill with the real python-intercom client against a fake Intercom API on 127.0.0.1."""

from __future__ import annotations

import importlib.metadata
import json
from datetime import datetime, timezone

import pytest

try:
    importlib.metadata.distribution("ticketspike-intercom")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-intercom is not installed", allow_module_level=True)

from ticketspike import ConfigError, EventKind, InputError, Priority, Secret
from ticketspike_intercom import IntercomApiError, IntercomSettings, IntercomSource

TOKEN = "tok_live_9f8e7d6c"
SINCE = datetime(2024, 6, 1, tzinfo=timezone.utc)  # 1717200000
T0 = 1717200000


def source(fake, sleeps=None, **settings):
    settings.setdefault("page_size", 2)
    settings.setdefault("app_id", "abc12345")
    return IntercomSource(
        settings=IntercomSettings(base_url=fake.url, **settings),
        access_token=Secret(TOKEN, source="INTERCOM_ACCESS_TOKEN"),
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
    )


def ids(pages):
    return [e.ticket.ticket_id for p in pages for e in p.events if e.kind is EventKind.CREATED]


def test_backfill_reads_every_page_once_with_pinned_version_and_token(
    fake_intercom, make_conversation
):
    fake_intercom.conversations = [make_conversation(str(i), T0 + 60 * i) for i in range(1, 6)]
    fake_intercom.conversations.insert(0, make_conversation("old", T0 - 10))

    pages = list(source(fake_intercom).backfill(since=SINCE))

    assert ids(pages) == ["1", "2", "3", "4", "5"]
    assert [p.done for p in pages] == [False, False, True]
    assert pages[-1].cursor is None
    requests = fake_intercom.search_requests()
    assert len(requests) == 3  # manual paging: no endless page-1 loop
    first = requests[0]
    assert first["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert first["headers"]["Intercom-Version"] == "2.14"
    assert first["body"]["query"] == {"field": "created_at", "operator": ">", "value": T0}
    assert first["body"]["pagination"]["per_page"] == 2
    event = pages[0].events[0]
    assert event.ticket.customer_id == "acme-corp" and event.ticket.priority is Priority.P2
    assert event.ticket.url == "https://app.intercom.com/a/inbox/abc12345/inbox/conversation/1"


def test_backfill_resumes_after_interruption(fake_intercom, make_conversation):
    fake_intercom.conversations = [make_conversation(str(i), T0 + i) for i in range(1, 6)]
    first_run = source(fake_intercom).backfill(since=SINCE)
    page1 = next(first_run)
    first_run.close()  # the process stopped here
    assert page1.cursor is not None and not page1.done

    # A later run resumes from the stored cursor, even with another --since.
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    rest = list(source(fake_intercom).backfill(since=later, cursor=page1.cursor))

    assert ids([page1]) + ids(rest) == ["1", "2", "3", "4", "5"]
    assert rest[-1].done


def test_closed_conversations_also_yield_a_resolution(fake_intercom, conversation_2_16):
    fake_intercom.conversations = [conversation_2_16]
    (page,) = list(source(fake_intercom).backfill(since=datetime(2024, 6, 1, tzinfo=timezone.utc)))
    created, resolved = page.events
    assert created.kind is EventKind.CREATED and resolved.kind is EventKind.RESOLVED
    assert resolved.occurred_at == datetime(2024, 6, 25, 8, 10, tzinfo=timezone.utc)


def test_429_with_retry_after_is_retried_then_succeeds(fake_intercom, make_conversation):
    fake_intercom.conversations = [make_conversation("1", T0 + 1)]
    fake_intercom.scripted = [
        (
            429,
            b'{"type":"error.list","errors":[{"code":"rate_limit_exceeded"}]}',
            {"Retry-After": "7"},
        ),
    ]
    sleeps: list[float] = []

    pages = list(source(fake_intercom, sleeps).backfill(since=SINCE))

    assert ids(pages) == ["1"]
    assert sleeps == [7.0]  # the server's hint, not our backoff
    assert len(fake_intercom.search_requests()) == 2  # exactly one retry: SDK retries are off


def test_retry_after_is_capped(fake_intercom, make_conversation):
    fake_intercom.conversations = [make_conversation("1", T0 + 1)]
    fake_intercom.scripted = [(429, b"{}", {"Retry-After": "3600"})]
    sleeps: list[float] = []
    list(source(fake_intercom, sleeps, max_retry_wait=5).backfill(since=SINCE))
    assert sleeps == [5.0]


def test_real_sleep_honours_a_short_retry_after(fake_intercom, make_conversation):
    fake_intercom.conversations = [make_conversation("1", T0 + 1)]
    fake_intercom.scripted = [(429, b"{}", {"Retry-After": "1"})]
    src = IntercomSource(
        settings=IntercomSettings(base_url=fake_intercom.url), access_token=Secret(TOKEN)
    )
    started = datetime.now(timezone.utc)
    assert ids(list(src.backfill(since=SINCE))) == ["1"]
    assert (datetime.now(timezone.utc) - started).total_seconds() >= 1.0


def test_persistent_rate_limit_gives_up_with_a_clear_error(fake_intercom):
    fake_intercom.scripted = [(429, b"{}", {"Retry-After": "0"})] * 3
    sleeps: list[float] = []
    with pytest.raises(IntercomApiError, match=r"still rate limited \(429\) after 3") as info:
        list(source(fake_intercom, sleeps, max_attempts=3).backfill(since=SINCE))
    assert info.value.status == 429 and len(sleeps) == 2


def test_server_error_is_retried_with_backoff(fake_intercom, make_conversation):
    fake_intercom.conversations = [make_conversation("1", T0 + 1)]
    fake_intercom.scripted = [(503, b"upstream down", {}), (502, b"", {})]
    sleeps: list[float] = []
    assert ids(list(source(fake_intercom, sleeps).backfill(since=SINCE))) == ["1"]
    assert len(sleeps) == 2 and all(0 < s <= 60 for s in sleeps)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "conversation.list", "conversations": "oops"}, "'conversations' is missing"),
        ({"type": "conversation.list"}, "'conversations' is missing"),
        ({"conversations": [], "pages": 5}, "not the documented conversation.list shape"),
        ({"conversations": [], "pages": {"next": 5}}, "not the documented conversation.list"),
        ({"conversations": [], "pages": {"next": {"starting_after": 17}}}, "not a string"),
        ({"conversations": [7]}, "expected conversation objects"),
        ([1, 2], "not the documented conversation.list shape"),
    ],
)
def test_malformed_page_fails_clearly(fake_intercom, payload, message):
    fake_intercom.scripted = [(200, json.dumps(payload).encode(), {})]
    with pytest.raises(IntercomApiError, match=message) as info:
        list(source(fake_intercom).backfill(since=SINCE))
    assert str(info.value).startswith("intercom backfill: malformed search page")


def test_page_that_is_not_json_fails_clearly(fake_intercom):
    fake_intercom.scripted = [(200, b"<html>maintenance</html>", {})]
    with pytest.raises(IntercomApiError, match="the body is not JSON"):
        list(source(fake_intercom).backfill(since=SINCE))


def test_bad_token_names_the_variable_not_the_value(fake_intercom):
    fake_intercom.scripted = [
        (401, b'{"type":"error.list","errors":[{"code":"unauthorized"}]}', {})
    ]
    with pytest.raises(IntercomApiError, match=r"\$INTERCOM_ACCESS_TOKEN") as info:
        list(source(fake_intercom).backfill(since=SINCE))
    assert TOKEN not in str(info.value) and info.value.status == 401
    assert len(fake_intercom.search_requests()) == 1  # auth errors are not retried


def test_missing_token_is_a_config_error_before_any_request(fake_intercom):
    src = IntercomSource(settings=IntercomSettings(base_url=fake_intercom.url))
    with pytest.raises(ConfigError, match=r"\$INTERCOM_ACCESS_TOKEN"):
        list(src.backfill(since=SINCE))
    assert fake_intercom.requests == []


def test_unusable_conversations_are_skipped_and_counted(fake_intercom, make_conversation):
    nobody = make_conversation("2", T0 + 2)
    del nobody["company"]
    broken = make_conversation("3", T0 + 3)
    broken["created_at"] = "soon"
    fake_intercom.scripted = [
        (
            200,
            json.dumps(
                {
                    "type": "conversation.list",
                    "conversations": [make_conversation("1", T0 + 1), nobody, broken],
                }
            ).encode(),
            {},
        ),
    ]
    (page,) = list(source(fake_intercom, page_size=5).backfill(since=SINCE))
    assert ids([page]) == ["1"] and page.skipped == 1 and page.done
    # The one without a company is valid: kept aside with its reason, not dropped.
    (aside,) = page.unmatched
    assert aside.record_id == "2" and aside.reason.startswith("no customer:")


def test_bad_cursor_and_naive_since_are_input_errors(fake_intercom):
    with pytest.raises(InputError, match="not a cursor"):
        list(source(fake_intercom).backfill(since=SINCE, cursor="page=2"))
    with pytest.raises(InputError, match="naive"):
        list(source(fake_intercom).backfill(since=datetime(2024, 6, 1)))
    assert fake_intercom.requests == []


def test_unreachable_api_fails_clearly():
    src = IntercomSource(
        settings=IntercomSettings(base_url="http://127.0.0.1:9", max_attempts=2, timeout=2),
        access_token=Secret(TOKEN),
        sleep=lambda _s: None,
    )
    with pytest.raises(IntercomApiError, match="cannot reach Intercom at http://127.0.0.1:9"):
        list(src.backfill(since=SINCE))
