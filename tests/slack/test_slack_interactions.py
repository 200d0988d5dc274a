"""Slack clicks end to end: signed payloads as Slack sends them, through the HTTP app.

The real slack_sdk ``WebClient`` talks to the fake Slack Web API on 127.0.0.1; the payloads
are form-encoded ``payload=`` JSON signed with v0 HMAC-SHA256 (computed here from Slack's
documented recipe, not with slack_sdk), posted to ``/api/webhooks/slack/interactions`` of the
app ``ticketspike serve`` runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.metadata
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from support import fake_slack
from ticketspike import Plugins, TicketEvent, ticket_event_from_json
from ticketspike.engine import Engine
from ticketspike.http import create_app
from ticketspike.testing import (
    FixedClock,
    RecordingMailTransport,
    RecordingSleep,
    StaticPlugin,
)
from ticketspike_slack.interactions import war_room_name

START = datetime(2026, 2, 1, tzinfo=timezone.utc)
SPIKE = START + timedelta(days=30)
SECRETS = ("old-signing-secret", "new-signing-secret")
PATH = "/api/webhooks/slack/interactions"
HOSTILE = "<!channel> \u202eMike <@U123> Johnson"

ACCOUNTS = """
- id: techcorp
  name: "TechCorp <!here> Inc"
  csm:
    name: Mike Johnson
    email: mike.johnson@techcorp.example
    slack_id: U0MIKE
    manager: {name: Dana Lee, email: dana.lee@techcorp.example, slack_id: U0DANA}
  champion: {name: Pat Doe, email: pat@techcorp.example}
"""


def spike_events() -> list[TicketEvent]:
    rows: list[dict[str, Any]] = []
    for day in range(30):
        for k in range(2):
            rows.append(
                {
                    "ticketId": f"B{day}-{k}",
                    "customerId": "techcorp",
                    "category": "billing",
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
                "subject": "<!channel> API errors \u202e<@U123>",
                "createdAt": (SPIKE + timedelta(minutes=30 * i)).isoformat(),
            }
        )
    return [ticket_event_from_json(row) for row in rows]


class Client:
    """Plain calls into the ASGI app, which runs in its own event loop (as under a server)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def post(self, url: str, **options: Any) -> httpx.Response:
        future = asyncio.run_coroutine_threadsafe(self._client.post(url, **options), self._loop)
        return future.result(timeout=60)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def sign(body: bytes, timestamp: int, secret: str = SECRETS[0]) -> dict[str, str]:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": str(timestamp),
        "x-slack-signature": f"v0={digest}",
    }


class World:
    def __init__(
        self,
        tmp_path: Path,
        slack: Any,
        extra_config: str = "",
        extra: tuple[object, ...] = (),
        events: list[TicketEvent] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.slack = slack
        (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
        (tmp_path / "ticketspike.yaml").write_text(
            "accounts: accounts.yaml\n"
            "plugins:\n"
            "  slack:\n"
            f"    base_url: {slack.base_url}\n"
            "    team_channels: {support_lead: '#support-leads', product: '#product',\n"
            "                    finance: '#finance'}\n" + extra_config
        )
        self.clock = FixedClock(SPIKE + timedelta(hours=8))
        self.engine = Engine.from_config(
            tmp_path / "ticketspike.yaml",
            store=tmp_path / "store.db",
            env={
                "SLACK_BOT_TOKEN": fake_slack.TOKEN,
                "SLACK_SIGNING_SECRET": " ".join(SECRETS),
                **(env or {}),
            },
            plugins=Plugins(load_entrypoints=True, allow={"slack"}, plugins=extra),
            clock=self.clock,
            sleep=RecordingSleep(),
        )
        result = self.engine.ingest_many(spike_events() if events is None else events)
        assert result.executed is not None and result.executed.failed == ()
        [episode] = self.engine.store.episodes()
        self.episode = episode.episode_id
        self.app = create_app(self.engine, env={"TICKETSPIKE_API_TOKEN": "t"})
        self.endpoint = self.app.state.endpoints["slack-interactions"]
        self.client = Client(self.app)
        self._n = 0
        self._updates = len(slack.calls("chat.update"))  # the plan's own, before any click

    def close(self) -> None:
        self.endpoint.stop()
        processor = self.app.state.processor
        if processor is not None:
            processor.stop()
        self.app.state.writer.stop()
        self.client.close()
        self.engine.close()

    # -- Slack's side ----------------------------------------------------------------
    def alert(self, channel: str = "D0MIKE") -> dict[str, Any]:
        [message] = [m for m in self.slack.messages[channel] if not m["thread_ts"]]
        return dict(message)

    def click(
        self,
        action_id: str,
        *,
        channel: str = "D0MIKE",
        option: str | None = None,
        action_ts: str | None = None,
        user: str = "U0MIKE",
        name: str = HOSTILE,
        team: str = "T0FAKETEAM",
    ) -> dict[str, Any]:
        message = self.alert(channel)
        actions = next(b for b in message["blocks"] if b.get("type") == "actions")
        element = next(e for e in actions["elements"] if e["action_id"] == action_id)
        self._n += 1
        action: dict[str, Any] = {
            "type": element["type"],
            "action_id": action_id,
            "block_id": actions["block_id"],
            "action_ts": action_ts or f"1772000000.{self._n:06d}",
        }
        if element["type"] == "button":
            action.update(text=element["text"], value=element.get("value"))
        else:
            [chosen] = [o for o in element["options"] if o["value"] == option]
            action["selected_option"] = chosen
        trigger = f"{self._n}.{self._n}.trigger"
        self.slack.valid_triggers.add(trigger)
        return {
            "type": "block_actions",
            "user": {"id": user, "username": "mike", "name": name, "team_id": team},
            "api_app_id": "A0APP",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": trigger,
            "team": {"id": team, "domain": "fake"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "directmessage"},
            "message": message,
            "state": {"values": {}},
            "response_url": "https://hooks.slack.com/actions/T0FAKETEAM/1/abc",
            "actions": [action],
        }

    def send(
        self, payload: dict[str, Any], *, skew: int = 0, secret: str = SECRETS[0]
    ) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        stamp = int(self.clock().timestamp()) + skew
        return self.post(body, sign(body, stamp, secret))

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        answer = self.client.post(PATH, content=body, headers=headers)
        assert self.endpoint.wait_idle(30)
        return answer

    def updates(self) -> list[dict[str, Any]]:
        """The message updates clicks caused."""
        return self.slack.calls("chat.update")[self._updates :]


@pytest.fixture
def world(tmp_path: Path, slack: Any) -> Iterator[World]:
    made = World(tmp_path, slack)
    yield made
    made.close()


def _wire(slack: Any) -> str:
    return json.dumps([r.body for r in slack.requests])


# -- the buttons ---------------------------------------------------------------------------
def test_acknowledge_updates_the_alert_in_place_and_three_deliveries_act_once(
    world: World,
) -> None:
    click = world.click("acknowledge")
    for _ in range(3):  # the same click, delivered three times (new signatures each time)
        world.clock.advance(seconds=1)
        assert world.send(click).status_code == 200
    ack = world.engine.acknowledgement(world.episode)
    assert ack is not None and "Mike" in ack.by
    [update] = world.updates()
    assert update["channel"] == "D0MIKE"
    message = world.alert()
    status = next(b for b in message["blocks"] if b.get("block_id") == "ticketspike_status")
    text = status["elements"][0]["text"]
    # Escaped for mrkdwn, and the bidi override dropped.
    assert text.startswith("Acknowledged by &lt;!channel&gt; Mike &lt;@U123&gt; Johnson at ")
    assert text.endswith(world.clock().strftime("%H:%M UTC"))
    actions = next(b for b in message["blocks"] if b.get("type") == "actions")
    assert "acknowledge" not in [e["action_id"] for e in actions["elements"]]
    history = world.engine.episode_history(world.episode)
    assert [h["what"] for h in history if h["type"] == "act"].count("acknowledge") == 1

    # Another person's later click changes nothing and is answered privately.
    other = world.click("ticketspike_more", option="resolve")  # still works after ack
    del other
    second = dict(click, actions=[dict(click["actions"][0], action_ts="1772000001.000001")])
    second["user"] = dict(click["user"], id="U0DANA", name="Dana")
    assert world.send(second).status_code == 200
    assert len(world.updates()) == 1
    assert world.slack.ephemeral and world.slack.ephemeral[-1]["user"] == "U0DANA"
    assert "<!channel>" not in _wire(world.slack) and "<@U123>" not in _wire(world.slack)


def _controls(blocks: list[dict[str, Any]]) -> list[str]:
    """The action ids of a message's buttons and menus."""
    return [
        e["action_id"]
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements") or []
    ]


def _status(blocks: list[dict[str, Any]]) -> str:
    found = [b for b in blocks if b.get("block_id") == "ticketspike_status"]
    return "\n".join(e["text"] for b in found for e in b["elements"])


def test_an_acknowledged_alert_stays_acknowledged_through_escalation_and_resolution(
    tmp_path: Path, slack: Any
) -> None:
    events = spike_events()
    # The eighth spike ticket opens the episode at "high" (8 against 2 a day); the rest escalate.
    opens_at = 60 + 8
    links = "    buttons: {view_tickets: 'https://support.example/t?c={customer_id}'}\n"
    world = World(tmp_path, slack, extra_config=links, events=events[:opens_at])
    try:
        [opened] = world.engine.store.episodes()
        assert opened.severity == "high"
        root = world.alert("C0ESCALATE")
        assert "acknowledge" in _controls(root["blocks"])
        assert world.send(world.click("acknowledge", channel="C0ESCALATE")).status_code == 200
        line = _status(world.alert("C0ESCALATE")["blocks"])
        assert line.startswith("Acknowledged by &lt;!channel&gt;") and line.endswith(" UTC")

        world.clock.advance(hours=1)
        before = len(slack.calls("chat.update"))
        result = world.engine.ingest_many(events[opens_at:])
        assert {t.kind.value for t in result.transitions} == {"escalated"}
        assert world.engine.store.episodes()[0].severity == "critical"
        world.clock.advance(days=4)
        assert [t.kind.value for t in world.engine.tick(world.clock())] == ["resolved"]

        updates = slack.calls("chat.update")[before:]
        escalated, resolved = updates[0], updates[-1]
        assert len(updates) == 2 and {u["channel"] for u in updates} == {"C0ESCALATE"}
        # Both re-renders come from later plans, yet keep who acknowledged the episode.
        for update in (escalated, resolved):
            assert _status(update["blocks"]) == line
            assert "acknowledge" not in _controls(update["blocks"])
            assert "<!channel>" not in json.dumps(update)
        assert "critical" in json.dumps(escalated["blocks"]).lower()
        assert "ticketspike_more" in _controls(escalated["blocks"])  # snooze/resolve remain
        # Resolved: the title says so and only the link buttons are left.
        assert resolved["blocks"][0]["text"]["text"].startswith(":white_check_mark: RESOLVED")
        [left] = [b["elements"] for b in resolved["blocks"] if b.get("type") == "actions"]
        assert [(e["action_id"], e["url"]) for e in left] == [
            ("view_tickets", "https://support.example/t?c=techcorp")
        ]
        assert world.alert("C0ESCALATE")["blocks"] == resolved["blocks"]
    finally:
        world.close()


def test_snooze_from_the_overflow_menu_is_a_recorded_silence(world: World) -> None:
    assert world.send(world.click("ticketspike_more", option="snooze_4h")).status_code == 200
    [silence] = world.engine.store.recorded_silences()
    assert silence.end == world.clock() + timedelta(hours=4)
    assert silence.customer_id == "techcorp"
    [update] = world.updates()
    assert "Snoozed by" in json.dumps(update["blocks"])


def test_resolve_from_the_overflow_menu_closes_the_episode(world: World) -> None:
    assert world.send(world.click("ticketspike_more", option="resolve")).status_code == 200
    stored = world.engine.store.episode(world.episode)
    assert stored is not None and stored.status == "resolved"
    message = world.alert()
    assert all(b.get("type") != "actions" for b in message["blocks"])
    assert "Resolved by" in json.dumps(message["blocks"])


def test_start_war_room_creates_a_private_room_once_and_links_it(world: World) -> None:
    world.engine.config  # noqa: B018 - the routed teams come from the recorded plans
    assert world.send(world.click("start_war_room")).status_code == 200
    [(channel, info)] = world.slack.created.items()
    assert info["is_private"] is True
    assert info["name"] == war_room_name(
        "spike-{customer_id}-{date}", {"customer_id": "techcorp", "date": "20260303"}
    )
    invited = world.slack.invited[channel]
    assert {"U0MIKE", "U0DANA"} <= set(invited)
    summary = world.slack.messages[channel]
    assert summary and "SUPPORT SPIKE ALERT" in summary[0]["text"]
    room = world.engine.war_room(world.episode)
    assert room is not None and room.data["channel"] == channel
    thread = [m for m in world.slack.messages["C0ESCALATE"] if m["thread_ts"]]
    assert any(f"<#{channel}>" in m["text"] for m in thread)
    # A second click (another delivery, another person) links the same room.
    world.clock.advance(seconds=5)
    assert world.send(world.click("start_war_room", user="U0DANA", name="Dana")).status_code == 200
    assert len(world.slack.created) == 1
    assert f"<#{channel}>" in world.slack.ephemeral[-1]["text"]
    assert "<!channel>" not in _wire(world.slack) and "<!here>" not in _wire(world.slack)


# -- what is refused -------------------------------------------------------------------------
def test_forged_stale_future_replayed_and_foreign_requests_change_nothing(world: World) -> None:
    click = world.click("acknowledge")
    body = urlencode({"payload": json.dumps(click)}).encode()
    now = int(world.clock().timestamp())
    forged = sign(body, now, "not-the-secret")
    assert world.post(body, forged).status_code == 401
    assert world.post(body, sign(body, now - 301)).status_code == 401
    assert world.post(body, sign(body, now + 301)).status_code == 401
    assert world.post(body, {**sign(body, now), "x-slack-signature": "v0=00"}).status_code == 401
    assert (
        world.post(body, {"content-type": "application/x-www-form-urlencoded"}).status_code == 401
    )
    tampered = body.replace(b"acknowledge", b"acknowledgx")
    assert world.post(tampered, sign(body, now)).status_code == 401
    foreign = world.click("acknowledge", team="T0OTHER")
    assert world.send(foreign).status_code == 403
    for answer in (world.post(body, forged), world.send(foreign)):
        assert answer.content == b""
    assert world.engine.store.interactions() == []
    assert world.updates() == []

    # The new secret of a rotation works; the very same request a second time is a replay.
    headers = sign(body, now, SECRETS[1])
    assert world.post(body, headers).status_code == 200
    assert world.post(body, headers).status_code == 403
    assert len(world.updates()) == 1
    assert len([r for r in world.engine.store.interactions() if r.kind == "acknowledge"]) == 1


def test_garbage_bodies_are_refused_without_detail(world: World) -> None:
    now = int(world.clock().timestamp())
    for body in (b"payload=not-json", b"nothing=here", b"\xff\xfe", b"payload=%5B1%5D"):
        answer = world.post(body, sign(body, now))
        assert answer.status_code in (400, 401) and answer.content == b""
        now += 1
    assert world.engine.store.interactions() == []


def test_a_hanging_slack_never_makes_the_click_wait(world: World) -> None:
    gate = threading.Event()
    world.slack.hold["chat.update"] = gate
    click = world.click("acknowledge")
    body = urlencode({"payload": json.dumps(click)}).encode()
    answer = world.client.post(
        PATH, content=body, headers=sign(body, int(world.clock().timestamp()))
    )
    # Answered while the Slack call behind it is still stuck.
    assert answer.status_code == 200 and not gate.is_set()
    gate.set()
    assert world.endpoint.wait_idle(30)
    assert len(world.updates()) == 1


def test_who_may_click_can_be_limited_to_the_account(tmp_path: Path, slack: Any) -> None:
    made = World(
        tmp_path,
        slack,
        "    interactions: {who_may_click: account, allow_users: [U0LEAD]}\n",
    )
    try:
        stranger = made.click("acknowledge", user="U0STRANGER", name="Eve")
        assert made.send(stranger).status_code == 200
        assert made.engine.acknowledgement(made.episode) is None
        [private] = slack.ephemeral
        assert private["user"] == "U0STRANGER" and "CSM" in private["text"]
        refused = [r for r in made.engine.store.interactions() if r.kind == "refused"]
        assert len(refused) == 1
        made.clock.advance(seconds=1)
        assert made.send(made.click("acknowledge", user="U0LEAD", name="Lee")).status_code == 200
        assert made.engine.acknowledgement(made.episode) is not None
    finally:
        made.close()


def test_war_room_names_are_sanitised() -> None:
    name = war_room_name(
        "spike-{customer_name}-{date}",
        {"customer_name": "<!channel> Ünïcode \u202eCorp & Sons", "date": "20260303"},
    )
    assert name == "spike-channel-unicode-corp-sons-20260303"
    assert war_room_name("{customer_id}", {"customer_id": "\u202e\u202e"}) == "spike-war-room"
    assert len(war_room_name("x" * 200, {})) == 80


# -- the draft modal ---------------------------------------------------------------------------
def _submission(world: World, view: dict[str, Any], *, body: str, kind: str) -> dict[str, Any]:
    values = {
        "subject": {"value": {"type": "plain_text_input", "value": "Re: your <!channel> tickets"}},
        "body": {"value": {"type": "plain_text_input", "value": body}},
    }
    return {
        "type": kind,
        "team": {"id": "T0FAKETEAM", "domain": "fake"},
        "user": {
            "id": "U0MIKE",
            "username": "mike",
            "name": "Mike Johnson",
            "team_id": "T0FAKETEAM",
        },
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "trigger_id": "9.9.trigger",
        "view": {
            **view,
            "id": "V000001",
            "team_id": "T0FAKETEAM",
            "state": {"values": values},
            "hash": "1772000000.AbCdEf",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }


@pytest.fixture
def mail_world(tmp_path: Path, slack: Any) -> Iterator[tuple[World, RecordingMailTransport]]:
    transport = RecordingMailTransport()
    made = World(tmp_path, slack, extra=(StaticPlugin(mail_transports=[transport]),))
    yield made, transport
    made.close()


def test_draft_response_opens_the_modal_and_approve_sends_the_edited_mail_once(
    mail_world: tuple[World, RecordingMailTransport],
) -> None:
    world, transport = mail_world
    [draft] = world.engine.drafts(episode_id=world.episode)
    assert world.send(world.click("draft_response")).status_code == 200
    [view] = world.slack.views
    assert view["type"] == "modal" and view["submit"]["text"] == "Approve & send"
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["subject"]["initial_value"] == draft.subject[:150]
    assert inputs["body"]["initial_value"].startswith(draft.body[:50])
    assert "<!here>" not in json.dumps(view)  # the account name is escaped in the modal

    submitted = _submission(world, view, body="Hello Pat, we are on it.", kind="view_submission")
    for _ in range(3):
        world.clock.advance(seconds=1)
        answer = world.send(submitted)
        assert answer.status_code == 200 and answer.content == b""  # closes the modal
    [mail] = transport.sent
    assert "we are on it" in mail.get_content()
    approved = world.engine.draft(draft.id)
    assert approved is not None and approved.status.value == "sent"
    thread = [m for m in world.slack.messages["C0ESCALATE"] if m["thread_ts"]]
    assert sum("approved by Mike Johnson" in m["text"] for m in thread) == 1


def test_discarding_the_modal_rejects_the_draft(
    mail_world: tuple[World, RecordingMailTransport],
) -> None:
    world, transport = mail_world
    [draft] = world.engine.drafts(episode_id=world.episode)
    assert world.send(world.click("draft_response")).status_code == 200
    [view] = world.slack.views
    closed = _submission(world, view, body="unused", kind="view_closed")
    assert world.send(closed).status_code == 200
    rejected = world.engine.draft(draft.id)
    assert rejected is not None and rejected.status.value == "rejected"
    assert transport.sent == []
    thread = [m for m in world.slack.messages["C0ESCALATE"] if m["thread_ts"]]
    assert any("discarded by Mike Johnson" in m["text"] for m in thread)


# -- Socket Mode ---------------------------------------------------------------------------------
class _Socket:
    """Where the runner sends its envelope acknowledgements (the WebSocket's place)."""

    def __init__(self) -> None:
        self.acks: list[str] = []

    def send_socket_mode_response(self, response: Any) -> None:
        self.acks.append(response.envelope_id)


def test_socket_mode_envelopes_feed_the_same_handlers_once(world: World) -> None:
    from slack_sdk.socket_mode.request import SocketModeRequest

    from ticketspike import Secret
    from ticketspike_slack.socket_mode import SocketModeRunner

    runner = SocketModeRunner(
        world.endpoint,
        app_token=Secret("xapp-test", source="SLACK_APP_TOKEN"),
        client=None,  # type: ignore[arg-type]
    )
    socket = _Socket()
    click = world.click("acknowledge")
    for _ in range(2):  # Slack redelivers an envelope it thinks was not acknowledged
        runner.on_request(
            socket, SocketModeRequest(type="interactive", envelope_id="e1", payload=click)
        )
    foreign = world.click("acknowledge", team="T0OTHER", action_ts="1772000009.000001")
    runner.on_request(
        socket, SocketModeRequest(type="interactive", envelope_id="e2", payload=foreign)
    )
    assert world.endpoint.wait_idle(30)
    assert socket.acks == ["e1", "e1", "e2"]  # every envelope is acknowledged at once
    assert len(world.updates()) == 1
    assert [r.kind for r in world.engine.store.interactions()] == ["click", "acknowledge"]
    assert "xapp-test" not in repr(runner)


class SocketModeServer:
    """Slack's end of Socket Mode on 127.0.0.1: a real WebSocket server (``websockets``).

    On connection it sends ``hello``; :meth:`deliver` sends an envelope; every frame the
    client sends back (the envelope acknowledgements) is recorded.
    """

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.acked = threading.Condition()
        self.connected = threading.Event()
        self._connection: Any = None
        self._server = serve(
            self._serve_client, "127.0.0.1", 0, compression=None, ping_interval=None
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=fake-ticket&app_id=A0APP"

    def _serve_client(self, websocket: Any) -> None:
        self.paths.append(websocket.request.path)
        websocket.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0APP"},
                }
            )
        )
        self._connection = websocket
        self.connected.set()
        for frame in websocket:
            with self.acked:
                self.received.append(json.loads(frame))
                self.acked.notify_all()

    def deliver(self, envelope: dict[str, Any]) -> None:
        assert self.connected.wait(30), "the client never connected"
        self._connection.send(json.dumps(envelope))

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        with self.acked:
            return self.acked.wait_for(lambda: len(self.received) >= count, timeout)

    def close(self) -> None:
        self._server.shutdown()


def test_socket_mode_over_a_real_websocket_acks_and_acts_once(
    tmp_path: Path, slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("websockets.sync.server", reason="websockets (test group) is not installed")
    # slack_sdk's Socket Mode client takes a proxy from these and ignores NO_PROXY.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = SocketModeServer()
    slack.socket_url = server.url
    world = World(
        tmp_path,
        slack,
        extra_config="    interactions: {socket_mode: true}\n",
        env={"SLACK_APP_TOKEN": fake_slack.APP_TOKEN},
    )
    try:
        envelope = {
            "envelope_id": "3f1b6c1e-8a0b-4a53-9d3e-7e1d2c9b5a10",
            "payload": world.click("acknowledge"),
            "type": "interactive",
            "accepts_response_payload": False,
        }
        for _ in range(2):  # Slack redelivers an envelope it thinks was not acknowledged
            server.deliver(envelope)
        assert server.wait_for(2)
        # Closing the client waits for its listeners; then the handlers' own pool drains.
        world.endpoint.socket_mode.stop()
        assert world.endpoint.wait_idle(30)
        assert slack.calls("apps.connections.open") == [{}]
        assert server.paths == ["/link/?ticket=fake-ticket&app_id=A0APP"]
        # Each delivery was acknowledged over the socket with its envelope id, and only that.
        assert server.received == [{"envelope_id": envelope["envelope_id"]}] * 2
        ack = world.engine.acknowledgement(world.episode)
        assert ack is not None and "Mike" in ack.by
        assert [r.kind for r in world.engine.store.interactions()] == ["click", "acknowledge"]
        [update] = world.updates()
        assert "Acknowledged by" in json.dumps(update["blocks"])
    finally:
        world.close()
        server.close()


def test_the_documented_interaction_settings_load() -> None:
    import re

    from ticketspike.config import load_config
    from ticketspike_slack.interaction_settings import interaction_settings_from_section

    doc = (Path(__file__).resolve().parents[2] / "docs" / "adapters" / "slack.md").read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", doc, flags=re.S) if "interactions:" in b]
    env = {"SLACK_BOT_TOKEN": fake_slack.TOKEN, "SLACK_SIGNING_SECRET": "a b"}
    config = load_config(text=block, env=env)
    section = config.plugins.section("slack")
    assert section is not None
    options = interaction_settings_from_section(section.get_section("interactions"))
    assert options.team_people["product"] == ("U0PM1", "U0PM2")
    [endpoint] = Plugins(load_entrypoints=True, allow={"slack"}).http_endpoints(config.plugins)
    assert endpoint.path == "/api/webhooks/slack/interactions"
    assert "a b" not in repr(endpoint)
    bad = block.replace("who_may_click: anyone", "who_may_click: everybody")
    with pytest.raises(Exception, match="who_may_click"):
        interaction_settings_from_section(
            load_config(text=bad, env=env).plugins.section("slack").get_section("interactions")  # type: ignore[union-attr]
        )


def test_the_interactions_path_is_in_the_openapi_document(world: World) -> None:
    future = asyncio.run_coroutine_threadsafe(
        world.client._client.get("/openapi.json"), world.client._loop
    )
    doc = future.result(timeout=30).json()
    assert set(doc["paths"][PATH]) == {"post"}
