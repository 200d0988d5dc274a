"""The Slack notifier driving the real slack_sdk WebClient against a fake Slack on 127.0.0.1."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import time
import traceback
from typing import Any

import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from support import fake_slack
from support import slack_kit as kit
from ticketspike import (
    ActionResult,
    PermanentDeliveryError,
    Person,
    Secret,
    TransientDeliveryError,
)
from ticketspike_slack import METADATA_EVENT_TYPE, SlackNotifier, SlackSettings

TOKEN = fake_slack.TOKEN


def notifier(slack: Any, *, token: str = TOKEN, **settings: Any) -> SlackNotifier:
    return SlackNotifier(
        token=Secret(token, source="SLACK_BOT_TOKEN"),
        settings=SlackSettings(base_url=slack.base_url, timeout=5, **settings),
    )


def test_dm_opens_a_conversation_then_posts_the_alert(slack: Any) -> None:
    action = kit.dm(person=Person(name="Mike Johnson", slack_id="U0MIKE"))
    ctx = kit.run(notifier(slack), [action])
    result = ctx.results[action.key]
    assert [r.method for r in slack.requests if not r.method.startswith("conversations.h")] == [
        "conversations.open",
        "chat.postMessage",
    ]
    assert slack.calls("conversations.open") == [{"users": "U0MIKE"}]
    post = slack.calls("chat.postMessage")[0]
    assert post["channel"] == "D0MIKE"
    assert post["text"].startswith("SUPPORT SPIKE ALERT: TechCorp Inc: 15 tickets")
    assert post["blocks"][0]["type"] == "header"
    assert post["metadata"] == {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"key": action.key},
    }
    assert post["unfurl_links"] is False and "parse" not in post and "link_names" not in post
    stored = slack.posted()
    assert len(stored) == 1
    assert dict(result.ref) == {"channel": "D0MIKE", "ts": stored[0]["ts"], "user": "U0MIKE"}
    assert result.summary == "Slack DM to csm Mike Johnson"


def test_people_are_found_by_email_once_then_cached(slack: Any) -> None:
    slack.users_by_email["mike.johnson@example.com"] = "U0MIKE"
    handler = notifier(slack)
    kit.run(handler, [kit.dm("notify_csm"), kit.dm("remind_csm")])
    assert slack.calls("users.lookupByEmail") == [{"email": "mike.johnson@example.com"}]
    assert [p["channel"] for p in slack.calls("chat.postMessage")] == ["D0MIKE", "D0MIKE"]


def test_configured_user_mapping_wins_over_lookup(slack: Any) -> None:
    handler = notifier(slack, users={"mike.johnson@example.com": "U0MAPPED"})
    kit.run(handler, [kit.dm()])
    assert slack.calls("users.lookupByEmail") == []
    assert slack.calls("conversations.open") == [{"users": "U0MAPPED"}]


def test_an_unknown_person_fails_that_action_only(slack: Any) -> None:
    stranger = Person(name="Sam Nobody", email="sam@example.com")
    actions = [
        kit.dm("notify_csm", stranger),
        kit.dm("notify_manager", kit.MANAGER, role="manager"),
    ]
    ctx = kit.run(notifier(slack), actions)
    error = ctx.failures[actions[0].key]
    assert isinstance(error, PermanentDeliveryError)
    assert "Sam Nobody" in str(error) and "sam@example.com" in str(error)
    assert "users_not_found" in str(error)
    assert actions[1].key in ctx.results
    assert [p["channel"] for p in slack.calls("chat.postMessage")] == ["D0MANAGER"]


def test_a_recipient_nobody_knows_is_a_clear_failure(slack: Any) -> None:
    ctx = kit.run(notifier(slack), [kit.dm(person=None, role="manager")])
    (error,) = ctx.failures.values()
    assert isinstance(error, PermanentDeliveryError)
    assert "no manager is known" in str(error)
    assert slack.requests == []


def test_coordination_thread_and_its_replies(slack: Any) -> None:
    root = kit.channel_post()
    replies = [
        kit.reply(step="escalated_note"),
        kit.reply(step="resolved_note", text="Resolved", broadcast=True),
    ]
    ctx = kit.run(notifier(slack), [root, *replies])
    assert not ctx.failures
    root_ref = ctx.results[root.key].ref
    assert root_ref["channel"] == "C0ESCALATE"
    posts = slack.calls("chat.postMessage")
    assert posts[0]["channel"] == "C0ESCALATE" and "thread_ts" not in posts[0]
    assert [p.get("thread_ts") for p in posts[1:]] == [root_ref["ts"], root_ref["ts"]]
    assert [p.get("reply_broadcast") for p in posts[1:]] == [None, True]
    assert [p["channel"] for p in posts[1:]] == ["C0ESCALATE", "C0ESCALATE"]
    assert ctx.results[replies[0].key].ref["thread_ts"] == root_ref["ts"]
    stored = slack.messages["C0ESCALATE"]
    assert [m["thread_ts"] for m in stored] == [None, root_ref["ts"], root_ref["ts"]]


def test_a_reply_without_a_posted_root_fails_clearly(slack: Any) -> None:
    ctx = kit.run(notifier(slack), [kit.reply()])
    (error,) = ctx.failures.values()
    assert isinstance(error, PermanentDeliveryError)
    assert "no recorded result" in str(error)
    ctx = kit.Context(
        plan=kit.plan(kit.reply()),
        results={
            kit.key("create_coordination_thread"): ActionResult(summary="printed to the console")
        },
    )
    kit.run(notifier(slack), [kit.reply()], ctx)
    assert "was not posted to Slack" in str(ctx.failures[kit.reply().key])
    assert slack.calls("chat.postMessage") == []


def test_update_rewrites_the_original_alert(slack: Any) -> None:
    original = kit.dm(person=Person(name="Mike", slack_id="U0MIKE"))
    change = kit.update()
    ctx = kit.run(notifier(slack), [original, change])
    posted = ctx.results[original.key].ref
    assert dict(ctx.results[change.key].ref) == {"channel": posted["channel"], "ts": posted["ts"]}
    (call,) = slack.calls("chat.update")
    assert (call["channel"], call["ts"]) == (posted["channel"], posted["ts"])
    (stored,) = slack.posted()
    assert stored["edited"] is True
    assert stored["blocks"][0]["text"]["text"].endswith("RESOLVED: TechCorp Inc")
    assert stored["metadata"]["event_payload"]["key"] == original.key


def test_team_posts_go_to_the_configured_team_channel(slack: Any) -> None:
    handler = notifier(slack, team_channels={"product": "#product"})
    ctx = kit.run(
        handler, [kit.team("product"), kit.team("finance"), kit.team("legal", channel="#finance")]
    )
    assert ctx.results[kit.team("product").key].ref["channel"] == "C0PRODUCT"
    assert ctx.results[kit.team("legal").key].ref["channel"] == "C0FINANCE"
    # A team without a channel is not a failure: the coordination channel gets it,
    # with a first line saying which team it is for and how to route it.
    assert kit.team("finance").key not in ctx.failures
    fallback = ctx.results[kit.team("finance").key]
    assert fallback.ref["channel"] == "C0ESCALATE"
    assert "#cs-escalations" in fallback.summary and "finance" in fallback.summary
    (post,) = [p for p in slack.posted() if p["channel"] == "C0ESCALATE"]
    text = json.dumps(post["blocks"])
    assert "For team finance" in text and "team_channels.finance" in text
    assert handler.config_warnings(("product", "finance")) == [
        "plugins.slack.team_channels has no channel for finance: their notifications go to "
        "the coordination channel #cs-escalations with a note naming the team; route them "
        "with plugins.slack.team_channels: {finance: '#channel'}"
    ]
    assert handler.config_warnings(("product",)) == []


def test_channel_names_are_looked_up_once_following_the_cursor(slack: Any) -> None:
    handler = notifier(slack)
    kit.run(
        handler,
        [kit.channel_post("#support-leads"), kit.channel_post("#support-leads", step="second")],
    )
    # Five channels in pages of two: #support-leads sorts last, on the third page.
    assert [c.get("cursor") for c in slack.calls("conversations.list")] == [None, "2", "4"]
    assert [p["channel"] for p in slack.calls("chat.postMessage")] == ["C0SUPPORT"] * 2


def test_without_the_list_scope_names_are_posted_as_given(
    slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    slack.list_error = "missing_scope"
    with caplog.at_level(logging.WARNING, logger="ticketspike_slack"):
        ctx = kit.run(notifier(slack), [kit.channel_post(), kit.channel_post(step="again")])
    # The first post goes by name; its answer teaches the id the second one uses.
    assert [p["channel"] for p in slack.calls("chat.postMessage")] == [
        "#cs-escalations",
        "C0ESCALATE",
    ]
    assert len(slack.calls("conversations.list")) == 1
    assert {r.ref["channel"] for r in ctx.results.values()} == {"C0ESCALATE"}
    assert "cannot list channels" in caplog.text


def test_the_configured_channel_takes_the_coordination_thread(slack: Any) -> None:
    handler = notifier(slack, channel="#support-leads")
    plain = kit.team("product", channel="#product")
    ctx = kit.run(handler, [kit.channel_post(), plain])
    assert ctx.results[kit.channel_post().key].ref["channel"] == "C0SUPPORT"
    assert ctx.results[plain.key].ref["channel"] == "C0PRODUCT"


def test_channel_aliases_map_workflow_names_to_ids(slack: Any) -> None:
    handler = notifier(slack, channels={"#cs-escalations": "C0SUPPORT"})
    ctx = kit.run(handler, [kit.channel_post()])
    assert ctx.results[kit.channel_post().key].ref["channel"] == "C0SUPPORT"
    assert slack.calls("chat.postMessage")[0]["channel"] == "C0SUPPORT"


# -- failures ---------------------------------------------------------------------


def test_rate_limit_is_transient_with_retry_after_and_not_retried_inside(slack: Any) -> None:
    slack.script("chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "7"})
    handler = notifier(slack)
    action = kit.channel_post()
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError) as caught:
        kit.run(handler, [action], kit.Context(plan=kit.plan(action), failures=_Raise()))
    assert time.monotonic() - started < 5  # the client did not sleep through Retry-After
    assert caught.value.retry_after == 7.0
    assert len(slack.calls("chat.postMessage")) == 1
    ctx = kit.run(handler, [action])  # the executor's retry
    assert action.key in ctx.results
    assert len(slack.calls("chat.postMessage")) == 2
    assert len(slack.posted()) == 1


def test_server_error_then_success(slack: Any) -> None:
    slack.script("chat.postMessage", status=500)
    handler = notifier(slack)
    action = kit.channel_post()
    ctx = kit.run(handler, [action])
    error = ctx.failures[action.key]
    assert isinstance(error, TransientDeliveryError) and error.retry_after is None
    assert "HTTP 500" in str(error)
    ctx = kit.run(handler, [action])
    assert action.key in ctx.results and len(slack.posted()) == 1


def test_a_dropped_connection_is_transient(slack: Any) -> None:
    slack.script("chat.postMessage", drop=True)
    ctx = kit.run(notifier(slack), [kit.channel_post()])
    (error,) = ctx.failures.values()
    assert isinstance(error, TransientDeliveryError)
    assert "connection failed" in str(error)


def test_a_lost_response_is_not_posted_twice(slack: Any) -> None:
    slack.script("chat.postMessage", drop=True, apply=True)  # Slack posted, reply lost
    handler = notifier(slack)
    action = kit.channel_post()
    first = kit.run(handler, [action])
    assert isinstance(first.failures[action.key], TransientDeliveryError)
    assert len(slack.posted()) == 1
    again = kit.run(notifier(slack), [action])  # a fresh process resuming the plan
    (stored,) = slack.posted()
    assert dict(again.results[action.key].ref) == {"channel": "C0ESCALATE", "ts": stored["ts"]}
    assert len(slack.calls("chat.postMessage")) == 1


def test_a_lost_thread_reply_is_not_posted_twice(slack: Any) -> None:
    root, answer = kit.channel_post(), kit.reply()
    ctx = kit.run(notifier(slack), [root])
    slack.script("chat.postMessage", drop=True, apply=True)
    ctx = kit.run(notifier(slack), [answer], ctx)
    assert isinstance(ctx.failures.pop(answer.key), TransientDeliveryError)
    ctx = kit.run(notifier(slack), [answer], ctx)
    assert answer.key in ctx.results
    assert len(slack.messages["C0ESCALATE"]) == 2


def test_without_the_history_check_a_lost_response_means_a_duplicate(slack: Any) -> None:
    slack.script("chat.postMessage", drop=True, apply=True)
    action = kit.channel_post()
    kit.run(notifier(slack, dedupe_scan=0), [action])
    kit.run(notifier(slack, dedupe_scan=0), [action])
    assert len(slack.posted()) == 2
    assert slack.calls("conversations.history") == []


def test_missing_history_scope_still_posts_and_warns_once(
    slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    slack.history_error = "missing_scope"
    handler = notifier(slack)
    with caplog.at_level(logging.WARNING, logger="ticketspike_slack"):
        kit.run(
            handler,
            [kit.dm(person=Person(slack_id="U0A")), kit.dm("again", person=Person(slack_id="U0B"))],
        )
    assert len(slack.posted()) == 2
    assert len(slack.calls("conversations.history")) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "direct-message" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda s: s.script("chat.postMessage", error="not_in_channel"), "not_in_channel"),
        (lambda s: s.script("chat.postMessage", error="is_archived"), "is_archived"),
        (lambda s: s.channels.pop("#cs-escalations"), "channel_not_found"),
        (lambda s: setattr(s, "token", "xoxb-another"), "invalid_auth"),
        (lambda s: s.script("chat.postMessage", error="strange_new_error"), "strange_new_error"),
    ],
)
def test_permanent_errors_are_clear_and_final(slack: Any, setup: Any, code: str) -> None:
    setup(slack)
    ctx = kit.run(notifier(slack, dedupe_scan=0), [kit.channel_post()])
    (error,) = ctx.failures.values()
    assert isinstance(error, PermanentDeliveryError)
    assert str(error).startswith(f"Slack chat.postMessage failed: {code}")
    assert "\n" not in str(error)


def test_hints_say_what_to_do(slack: Any) -> None:
    slack.script("chat.postMessage", error="not_in_channel")
    ctx = kit.run(notifier(slack, dedupe_scan=0), [kit.channel_post()])
    assert "invite the app" in str(next(iter(ctx.failures.values())))


# -- safety -------------------------------------------------------------------------


def test_mentions_in_ticket_text_reach_slack_escaped(slack: Any) -> None:
    message = kit.alert(
        title="SUPPORT SPIKE ALERT: <!channel> help",
        themes=("<!channel> help", "<@U123>", "<https://evil|click>"),
        customer_name="<!here>",
        csm_name="<@U0CSM>",
    )
    kit.run(notifier(slack), [kit.channel_post(message=message)])
    (request,) = [r for r in slack.requests if r.method == "chat.postMessage"]
    wire = json.dumps(request.body)
    for raw in ("<!channel>", "<@U123>", "<https://evil|click>", "<!here>", "<@U0CSM>"):
        assert raw not in wire
    themes = next(b for b in request.body["blocks"] if b["block_id"] == "ticketspike_themes")
    assert themes["text"] == {
        "type": "mrkdwn",
        "verbatim": True,
        "text": "*Common Themes:* &lt;!channel&gt; help, &lt;@U123&gt;, &lt;https://evil|click&gt;",
    }
    assert "&lt;!channel&gt;" in request.body["text"]


def test_a_huge_spike_is_accepted_by_slack(slack: Any) -> None:
    ctx = kit.run(notifier(slack), [kit.channel_post(message=kit.huge_spike())])
    assert not ctx.failures
    (stored,) = slack.posted()
    assert fake_slack.block_kit_problem(stored["blocks"]) is None


def test_the_token_never_shows_in_reprs_errors_or_logs(
    slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    slack.users_by_email["mike.johnson@example.com"] = "U0MIKE"
    slack.script("chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "0"})
    slack.script("conversations.open", status=500)
    handler = notifier(slack)
    with caplog.at_level(logging.DEBUG):
        ctx = kit.run(
            handler,
            [
                kit.channel_post(),
                kit.dm(),
                kit.dm("again"),
                kit.dm("stranger", Person(email="x@example.com")),
            ],
        )
        kit.run(notifier(slack, token="xoxb-wrong"), [kit.channel_post(step="other")])
    assert any("chat.postMessage" in r.getMessage() for r in caplog.records)  # logs were on
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(handler) and "SLACK_BOT_TOKEN" in repr(handler)
    assert ctx.failures  # the failure paths above were taken
    for error in ctx.failures.values():
        printed = "".join(traceback.format_exception(error))
        assert TOKEN not in printed and TOKEN not in repr(error)
        # slack_sdk keeps request headers on its response; that object must not travel.
        assert error.__cause__ is None and error.__suppress_context__


class _Raise(dict[str, Any]):
    """A failure record that re-raises, to see the exception the executor would see."""

    def __setitem__(self, key: str, value: Any) -> None:
        raise value
