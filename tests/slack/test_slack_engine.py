"""End to end: the engine, the installed Slack adapter and a fake Slack on 127.0.0.1.

A customer's spike goes through the real engine (SQLite store file, detector,
planner, executor with its retries) and the adapter loaded from its entry
point; the fake Slack records what arrived.
"""

from __future__ import annotations

import importlib.metadata
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from support import fake_slack
from ticketspike import Plugins, TicketEvent, ticket_event_from_json
from ticketspike.engine import Engine
from ticketspike.testing import FixedClock, RecordingSleep

START = datetime(2026, 2, 1, tzinfo=timezone.utc)
SPIKE = START + timedelta(days=30)

ACCOUNTS = """
- id: techcorp
  name: TechCorp Inc
  arr: 500000
  health_score: 52
  csm:
    name: Mike Johnson
    email: mike.johnson@techcorp.example
    manager: {name: Dana Lee, email: dana.lee@techcorp.example, slack_id: U0DANA}
  champion: {name: Pat Doe, email: pat@techcorp.example}
"""


def spike_events() -> list[TicketEvent]:
    """A month at two billing tickets a day, then sixteen technical ones in eight hours."""
    rows: list[dict[str, Any]] = []
    for day in range(30):
        for k in range(2):
            rows.append(
                {
                    "ticketId": f"B{day}-{k}",
                    "customerId": "techcorp",
                    "category": "billing",
                    "severity": "P3",
                    "subject": "Invoice question",
                    "createdAt": (START + timedelta(days=day, hours=3 + 5 * k)).isoformat(),
                }
            )
    for i in range(16):
        rows.append(
            {
                "ticketId": f"S{i}",
                "customerId": "techcorp",
                "category": "technical",
                "severity": "P1" if i < 3 else "P2",
                "subject": "<!channel> help: API errors on login <@U123>",
                "url": f"https://support.example.com/t/S{i}",
                "createdAt": (SPIKE + timedelta(minutes=30 * i)).isoformat(),
            }
        )
    return [ticket_event_from_json(row) for row in rows]


@pytest.fixture
def setup(tmp_path: Path, slack: Any) -> dict[str, Any]:
    slack.users_by_email["mike.johnson@techcorp.example"] = "U0MIKE"
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
    (tmp_path / "ticketspike.yaml").write_text(
        "accounts: accounts.yaml\n"
        "plugins:\n"
        "  slack:\n"
        f"    base_url: {slack.base_url}\n"
        "    team_channels: {support_lead: '#support-leads', product: '#product',\n"
        "                    finance: '#finance'}\n"
    )
    return {"dir": tmp_path, "slack": slack}


def engine(setup: dict[str, Any], clock: FixedClock, sleep: RecordingSleep) -> Engine:
    return Engine.from_config(
        setup["dir"] / "ticketspike.yaml",
        store=setup["dir"] / "store.db",
        env={"SLACK_BOT_TOKEN": fake_slack.TOKEN},
        plugins=Plugins(load_entrypoints=True, allow={"slack"}),
        clock=clock,
        sleep=sleep,
    )


def top_level(slack: Any, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages.get(channel, []) if not m["thread_ts"]]


def test_a_spike_reaches_the_csm_the_manager_and_one_thread_and_only_once(
    setup: dict[str, Any],
) -> None:
    slack = setup["slack"]
    clock, sleep = FixedClock(SPIKE + timedelta(hours=8)), RecordingSleep()
    with engine(setup, clock, sleep) as first:
        result = first.ingest_many(spike_events())
    assert result.executed is not None and result.executed.failed == ()
    assert {t.kind.value for t in result.transitions} >= {"opened", "escalated"}

    # The CSM (found by e-mail) and, the spike being critical, the manager got a DM.
    assert slack.calls("users.lookupByEmail") == [{"email": "mike.johnson@techcorp.example"}]
    assert len(top_level(slack, "D0MIKE")) == 1
    assert len(top_level(slack, "D0DANA")) == 1
    # One coordination thread, its replies threaded under it.
    (root,) = top_level(slack, "C0ESCALATE")
    replies = [m for m in slack.messages["C0ESCALATE"] if m["thread_ts"]]
    assert replies and all(m["thread_ts"] == root["ts"] for m in replies)
    # Routed teams heard about it in their channels.
    assert top_level(slack, "C0SUPPORT") and top_level(slack, "C0PRODUCT")
    # Hostile subjects never reached Slack unescaped.
    wire = json.dumps([r.body for r in slack.requests])
    assert "<!channel>" not in wire and "<@U123>" not in wire

    posted = len(slack.posted())
    posts = len(slack.calls("chat.postMessage"))
    with engine(setup, clock, sleep) as second:  # a second run over the same tickets
        again = second.ingest_many(spike_events())
        second.run_pending()
    assert again.transitions == () and again.plans == ()
    assert len(slack.posted()) == posted
    assert len(slack.calls("chat.postMessage")) == posts


TEAM_CHANNELS = {
    "support_lead": "#support-leads",
    "product": "#product",
    "finance": "#finance",
    "enablement": "#enablement",
}


def demo_engine(directory: Path, slack: Any, clock: FixedClock) -> Engine:
    """The bundled demo (``ticketspike demo``'s files) with Slack configured."""
    from ticketspike.data import copy_to

    files = copy_to(directory)
    config = yaml.safe_load(files["demo.yaml"].read_text())
    config.setdefault("plugins", {})["slack"] = {
        "base_url": slack.base_url,
        "team_channels": TEAM_CHANNELS,
    }
    files["demo.yaml"].write_text(yaml.safe_dump(config))
    return Engine.from_config(
        files["demo.yaml"],
        store=directory / "store.db",
        env={"SLACK_BOT_TOKEN": fake_slack.TOKEN},
        plugins=Plugins(load_entrypoints=True, allow={"slack"}),
        clock=clock,
        sleep=RecordingSleep(),
    )


def test_the_demo_spike_in_slack_and_a_second_run_posts_nothing(tmp_path: Path, slack: Any) -> None:
    from ticketspike.data import DEMO_TICKETS
    from ticketspike.ticketfile import read_ticket_events

    clock = FixedClock()
    with demo_engine(tmp_path, slack, clock) as eng:
        events = read_ticket_events(tmp_path / DEMO_TICKETS)
        clock.at = max(e.at for e in events) + timedelta(minutes=1)
        result = eng.ingest_many(events)
    assert result.executed is not None and result.executed.failed == ()
    severities = {t.severity.value for t in result.transitions if t.customer_id == "techcorp"}
    assert "critical" in severities
    # The CSM and the manager (the spike is critical) by their Slack ids in the accounts file.
    assert slack.calls("users.lookupByEmail") == []
    assert len(top_level(slack, "D0MIKEJ")) == 1
    assert len(top_level(slack, "D0SARAHC")) == 1
    (root,) = top_level(slack, "C0ESCALATE")
    replies = [m for m in slack.messages["C0ESCALATE"] if m["thread_ts"]]
    assert replies and all(m["thread_ts"] == root["ts"] for m in replies)
    assert root["blocks"][0]["text"]["text"] == ":rotating_light: SUPPORT SPIKE ALERT: TechCorp Inc"

    posted, posts = len(slack.posted()), len(slack.calls("chat.postMessage"))
    with demo_engine(tmp_path, slack, clock) as again:
        rerun = again.ingest_many(read_ticket_events(tmp_path / DEMO_TICKETS))
        again.run_pending()
    assert rerun.plans == ()
    assert (len(slack.posted()), len(slack.calls("chat.postMessage"))) == (posted, posts)


def test_resolution_replies_in_the_thread_and_updates_the_root(setup: dict[str, Any]) -> None:
    slack = setup["slack"]
    clock, sleep = FixedClock(SPIKE + timedelta(hours=8)), RecordingSleep()
    with engine(setup, clock, sleep) as eng:
        eng.ingest_many(spike_events())
        updates_before = len(slack.calls("chat.update"))
        clock.advance(days=4)
        transitions = eng.tick(clock())
    assert [t.kind.value for t in transitions] == ["resolved"]
    (root,) = top_level(slack, "C0ESCALATE")
    last = slack.messages["C0ESCALATE"][-1]
    assert last["thread_ts"] == root["ts"] and "RESOLVED" in last["text"]
    assert len(slack.calls("chat.update")) > updates_before
    assert root["blocks"][0]["text"]["text"].startswith(":white_check_mark: RESOLVED")


def test_rate_limits_are_retried_by_the_executor_honouring_retry_after(
    setup: dict[str, Any],
) -> None:
    slack = setup["slack"]
    slack.script(
        "chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "9"}, times=2
    )
    clock, sleep = FixedClock(SPIKE + timedelta(hours=8)), RecordingSleep()
    with engine(setup, clock, sleep) as eng:
        result = eng.ingest_many(spike_events())
        report = result.executed
        assert report is not None and report.failed == ()
        # The first hint is waited out in place; the second would take the waiting past
        # park_after (10 s), so the DM is parked for 9 s while everything else goes out.
        assert sleep.waits == [9.0]
        parked = [k for k in report.parked if k.endswith(":opened:notify_csm")]
        assert len(parked) == 1 and parked[0] not in report.done
        later = eng.retry_failed()  # what the next pass does once the 9 s are over
        attempts = eng.store.attempts()
    assert parked[0] in later.done
    first_dm = [a for a in attempts if a.key.endswith(":opened:notify_csm")]
    assert [a.outcome for a in first_dm] == ["transient", "transient", "done"]
    assert len(top_level(slack, "D0MIKE")) == 1


def test_a_slack_outage_parks_actions_promptly_and_retry_resumes(setup: dict[str, Any]) -> None:
    slack = setup["slack"]
    slack.script("chat.postMessage", status=503, times=200)
    clock, sleep = FixedClock(SPIKE + timedelta(hours=8)), RecordingSleep()
    with engine(setup, clock, sleep) as eng:
        result = eng.ingest_many(spike_events())
        assert result.executed is not None and result.executed.failed == ()
        # One action's backoff (1 + 2 + 4 s), then the rest of Slack's actions are parked
        # untried: the run ends instead of backing off once per action.
        assert sum(sleep.waits) <= 10 and len(result.executed.parked) >= 4
        assert len(slack.calls("chat.postMessage")) == 4
        assert slack.posted() == []
        slack.clear_scripts()  # Slack is back
        report = eng.retry_failed()
    assert report.failed == () and report.waiting == ()
    assert set(result.executed.parked) <= set(report.done)
    assert len(top_level(slack, "C0ESCALATE")) == 1
    assert len(top_level(slack, "D0MIKE")) == 1
