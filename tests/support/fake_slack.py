"""A small fake of the Slack Web API on 127.0.0.1, for the real slack_sdk WebClient.

It keeps channels, messages (with threads and metadata) and users in memory,
records every request it receives, checks the bot token like Slack does, and
refuses Block Kit that breaks Slack's documented limits, independently of
slack_sdk's own checks. Failures are scripted per method: an HTTP status with
headers, a Slack error code, or a dropped connection, optionally *after* the
effect was applied (a lost response).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

import attrs

from support.loopback import LoopbackServer

TOKEN = "xoxb-fake-test-token-4242"
APP_TOKEN = "xapp-1-A0APP-fake-test-token-4343"


class Gate(threading.Event):
    """Holds the fake Slack's calls of one method; ``arrived`` says a call is waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.arrived.set()
        return super().wait(timeout)


@attrs.frozen
class Recorded:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]


@attrs.frozen
class Scripted:
    status: int = 200
    error: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    drop: bool = False  # close the connection without answering
    apply: bool = False  # perform the call's effect before failing


class FakeSlack:
    """The fake's state and controls; :meth:`start` serves it on an ephemeral port."""

    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.channels: dict[str, str] = {
            "#cs-escalations": "C0ESCALATE",
            "#product": "C0PRODUCT",
            "#finance": "C0FINANCE",
            "#support-leads": "C0SUPPORT",
            "#enablement": "C0ENABLE",
        }
        self.members: set[str] = set(self.channels.values())
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.users_by_email: dict[str, str] = {}
        self.history_error: str | None = None
        self.list_error: str | None = None
        self.list_page_size = 2  # small pages, so clients must follow the cursor
        self._scripts: dict[str, deque[Scripted]] = {}
        self._lock = threading.Lock()
        self._clock = 1_700_000_000
        self._seq = 0
        self._server: LoopbackServer | None = None
        # Interactivity: the workspace, ephemeral answers, views, created channels.
        self.team_id = "T0FAKETEAM"
        self.ephemeral: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.created: dict[str, dict[str, Any]] = {}
        self.invited: dict[str, list[str]] = {}
        self.valid_triggers: set[str] = set()
        # Set to hold every call of a method until released (a Slack that hangs).
        self.hold: dict[str, threading.Event] = {}
        # Socket Mode: the app-level token and the WebSocket URL apps.connections.open hands out.
        self.app_token = APP_TOKEN
        self.socket_url: str | None = None

    # -- control ------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = LoopbackServer(Handler).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return self._server.url("/api/")

    def script(self, method: str, *, times: int = 1, **kwargs: Any) -> None:
        """Answer the next ``times`` calls of ``method`` as scripted."""
        with self._lock:
            queue = self._scripts.setdefault(method, deque())
            queue.extend(Scripted(**kwargs) for _ in range(times))

    def clear_scripts(self) -> None:
        """Forget every scripted failure not yet served."""
        with self._lock:
            self._scripts.clear()

    def calls(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests if r.method == method]

    def posted(self) -> list[dict[str, Any]]:
        """Every stored message in posting order, with its channel."""
        with self._lock:
            out = [dict(m, channel=c) for c, msgs in self.messages.items() for m in msgs]
        return sorted(out, key=lambda m: m["ts"])

    # -- behaviour ----------------------------------------------------------------
    def handle(
        self, method: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[Scripted | None, int, dict[str, Any], dict[str, str]]:
        gate = self.hold.get(method)
        if gate is not None:
            gate.wait(30)
        with self._lock:
            self.requests.append(Recorded(method, body, headers))
            queue = self._scripts.get(method)
            scripted = queue.popleft() if queue else None
        if scripted is not None and not scripted.apply:
            payload = {"ok": False, "error": scripted.error or "internal_error"}
            return scripted, scripted.status, payload, dict(scripted.headers)
        token = self.app_token if method == "apps.connections.open" else self.token
        if headers.get("authorization") != f"Bearer {token}":
            return scripted, 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return scripted, 200, {"ok": False, "error": "unknown_method"}, {}
        with self._lock:
            result: dict[str, Any] = handler(body)
        if scripted is not None:
            payload = {"ok": False, "error": scripted.error or "internal_error"}
            return scripted, scripted.status, payload, dict(scripted.headers)
        return None, 200, result, {}

    def _ts(self) -> str:
        self._seq += 1
        return f"{self._clock}.{self._seq:06d}"

    def _resolve(self, channel: str) -> str | None:
        if channel.startswith("D"):
            return channel
        if channel in self.members:
            return channel
        return self.channels.get(channel) or self.channels.get("#" + channel)

    def _m_conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users = str(body.get("users", ""))
        if not users.startswith(("U", "W")):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + users[1:]}}

    def _m_conversations_list(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.list_error:
            return {"ok": False, "error": self.list_error}
        everything = [
            {"id": cid, "name": name.lstrip("#"), "is_member": cid in self.members}
            for name, cid in sorted(self.channels.items())
        ]
        start = int(body.get("cursor") or 0)
        limit = int(body.get("limit", 100))
        page = everything[start : start + min(limit, self.list_page_size)]
        nxt = start + len(page)
        cursor = str(nxt) if nxt < len(everything) else ""
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    def _m_users_lookupByEmail(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self.users_by_email.get(str(body.get("email", "")).lower())
        if user is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": {"id": user, "profile": {"email": body["email"]}}}

    def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(str(body.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        problem = block_kit_problem(body.get("blocks") or [])
        if problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        message = {
            "type": "message",
            "ts": self._ts(),
            "text": body.get("text", ""),
            "blocks": body.get("blocks") or [],
            "metadata": body.get("metadata"),
            "thread_ts": body.get("thread_ts"),
            "reply_broadcast": body.get("reply_broadcast"),
            "parse": body.get("parse"),
            "link_names": body.get("link_names"),
        }
        if message["thread_ts"] and not any(
            m["ts"] == message["thread_ts"] for m in self.messages.get(channel, [])
        ):
            return {"ok": False, "error": "thread_not_found"}
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(str(body.get("channel", "")))
        for message in self.messages.get(channel or "", []):
            if message["ts"] == body.get("ts"):
                problem = block_kit_problem(body.get("blocks") or [])
                if problem:
                    return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
                message.update(
                    text=body.get("text", ""), blocks=body.get("blocks") or [], edited=True
                )
                if body.get("metadata"):
                    message["metadata"] = body["metadata"]
                return {"ok": True, "channel": channel, "ts": message["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _history_view(self, message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
        view = {k: v for k, v in message.items() if v is not None}
        if not with_metadata:
            view.pop("metadata", None)
        return view

    def _m_conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.history_error:
            return {"ok": False, "error": self.history_error}
        channel = self._resolve(str(body.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        limit = int(body.get("limit", 100))
        with_metadata = str(body.get("include_all_metadata", "0")) in ("1", "true", "True")
        top = [
            m for m in self.messages.get(channel, []) if not m["thread_ts"] or m["reply_broadcast"]
        ]
        newest_first = list(reversed(top))[:limit]
        return {
            "ok": True,
            "messages": [self._history_view(m, with_metadata) for m in newest_first],
        }

    def _m_conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.history_error:
            return {"ok": False, "error": self.history_error}
        channel = self._resolve(str(body.get("channel", "")))
        root = str(body.get("ts", ""))
        limit = int(body.get("limit", 100))
        with_metadata = str(body.get("include_all_metadata", "0")) in ("1", "true", "True")
        thread = [
            m
            for m in self.messages.get(channel or "", [])
            if m["ts"] == root or m["thread_ts"] == root
        ]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return {
            "ok": True,
            "messages": [self._history_view(m, with_metadata) for m in thread[:limit]],
        }

    def _m_apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_url}

    def _m_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team_id": self.team_id, "user_id": "U0BOT", "bot_id": "B0BOT"}

    def _m_chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(str(body.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not str(body.get("user", "")).startswith(("U", "W")):
            return {"ok": False, "error": "user_not_in_channel"}
        self.ephemeral.append(dict(body, channel=channel))
        return {"ok": True, "message_ts": self._ts()}

    def _m_views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        trigger = str(body.get("trigger_id", ""))
        if trigger not in self.valid_triggers:
            return {"ok": False, "error": "invalid_trigger_id"}
        self.valid_triggers.discard(trigger)  # a trigger id works once, as at Slack
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        problem = block_kit_problem((view or {}).get("blocks") or [])
        if problem:
            return {"ok": False, "error": "invalid_arguments", "errors": [problem]}
        self.views.append(view)
        return {"ok": True, "view": dict(view, id=f"V{len(self.views):06d}")}

    def _m_conversations_create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name", ""))
        if (
            not name
            or len(name) > 80
            or name != name.lower()
            or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-_" for c in name)
        ):
            return {"ok": False, "error": "invalid_name_specials"}
        if "#" + name in self.channels:
            return {"ok": False, "error": "name_taken"}
        private = str(body.get("is_private", "false")).lower() in ("1", "true")
        cid = ("G" if private else "C") + f"0ROOM{len(self.created) + 1:04d}"
        self.channels["#" + name] = cid
        self.members.add(cid)
        self.created[cid] = {"name": name, "is_private": private}
        return {"ok": True, "channel": {"id": cid, "name": name, "is_private": private}}

    def _m_conversations_invite(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel", ""))
        if channel not in self.created:
            return {"ok": False, "error": "channel_not_found"}
        users = [u for u in str(body.get("users", "")).split(",") if u]
        if not users or any(not u.startswith(("U", "W")) for u in users):
            return {"ok": False, "error": "user_not_found"}
        self.invited.setdefault(channel, []).extend(users)
        return {"ok": True, "channel": {"id": channel}}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeSlack

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if raw.startswith("{"):
            body = json.loads(raw)
        else:
            body = dict(parse_qsl(raw))
            for key in ("blocks", "metadata", "view"):
                if isinstance(body.get(key), str):
                    body[key] = json.loads(body[key])
        method = self.path.rsplit("/", 1)[-1]
        headers = {k.lower(): v for k, v in self.headers.items()}
        scripted, status, payload, extra = self.owner.handle(method, body, headers)
        if scripted is not None and scripted.drop:
            self.close_connection = True
            self.connection.shutdown(2)  # the client sees the connection vanish
            return
        data = json.dumps(payload).encode()
        if status >= 500:
            data = b"<html><body>upstream error</body></html>"
        self.send_response(status)
        content_type = "text/html" if status >= 500 else "application/json; charset=utf-8"
        for key, value in {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            **extra,
        }.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


# -- Slack's Block Kit limits, checked independently of slack_sdk ----------------------

MAX_TOTAL_TEXT = 12_000


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("text"), str) and value.get("type") in ("mrkdwn", "plain_text"):
            yield value["text"]
        for v in value.values():
            if isinstance(v, (dict, list)):
                yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def block_kit_problem(blocks: list[dict[str, Any]]) -> str | None:
    """What Slack would refuse in ``blocks`` (documented limits), or ``None``."""
    if len(blocks) > 50:
        return f"too many blocks: {len(blocks)} > 50"
    for i, block in enumerate(blocks):
        kind = block.get("type")
        text = block.get("text") or {}
        if kind == "header" and (text.get("type") != "plain_text" or len(text["text"]) > 150):
            return f"[{i}] header must be plain_text <= 150"
        if kind == "section":
            if text and len(text.get("text", "")) > 3000:
                return f"[{i}] section text > 3000"
            fields = block.get("fields") or []
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                return f"[{i}] section fields > 10 or a field > 2000"
        if kind == "context" and len(block.get("elements") or []) > 10:
            return f"[{i}] context elements > 10"
        if kind == "actions":
            elements = block.get("elements") or []
            if len(elements) > 25:
                return f"[{i}] actions elements > 25"
            ids = [e.get("action_id") for e in elements if e.get("action_id")]
            if len(ids) != len(set(ids)):
                return f"[{i}] duplicate action_id"
            for element in elements:
                if len(element.get("text", {}).get("text", "")) > 75:
                    return f"[{i}] button text > 75"
                if len(element.get("url") or "") > 3000:
                    return f"[{i}] button url > 3000"
    total = sum(len(t) for t in _texts(blocks))
    if total > MAX_TOTAL_TEXT:
        return f"blocks too long: {total} characters of text"
    return None
