"""Slack interactivity: the signed endpoint behind the alert's buttons, and what each click does.

Slack posts every click to the app's *Interactivity Request URL*
(``POST /api/webhooks/slack/interactions``, mounted by the HTTP app through the
``register_http_endpoints`` hook) as a form field ``payload=`` holding JSON. This module:

* verifies ``X-Slack-Signature`` over ``v0:timestamp:body`` with slack_sdk's
  :class:`~slack_sdk.signature.SignatureVerifier` (constant-time, five minutes either way)
  against every secret in ``SLACK_SIGNING_SECRET`` (space-separated, for rotation); a
  forged, stale or future request is 401, a replayed one (same signature and timestamp,
  remembered in the store) or one from another workspace is 403, all without detail;
* answers at once and does the work on a background thread, so Slack never waits past its
  three seconds however slow Slack's own Web API or the store is;
* acts through the engine's episode API (acknowledge, snooze, resolve, war room, drafts), so
  every click is idempotent and recorded: a click delivered three times acts once, because
  each click is recorded under its ``action_ts`` and each act under the episode's key;
* escapes every name and ticket-derived string it writes back (mrkdwn, ``verbatim``), so a
  display name or subject such as ``<!channel>`` pings no one.

The same :meth:`SlackInteractions.dispatch` serves Socket Mode (:mod:`.socket_mode`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from slack_sdk.signature import SignatureVerifier

from ticketspike import (
    AlertMessage,
    ChannelPost,
    DirectMessage,
    HttpReply,
    Recipient,
    Secret,
    TicketspikeError,
)
from ticketspike.store import InteractionRecord

from .blocks import (
    ACK_ACTION,
    MORE_ACTION,
    SNOOZE_CHOICES,
    STATUS_BLOCK,
    act_line,
    fallback_text,
    render_blocks,
    status_block,
)
from .escape import clip, clip_mrkdwn, mrkdwn
from .failures import guarded
from .interaction_settings import InteractionSettings
from .people import PeopleDirectory
from .settings import SlackSettings

__all__ = ["INTERACTIONS_PATH", "SlackInteractions", "war_room_name"]

log = logging.getLogger("ticketspike_slack.interactions")

INTERACTIONS_PATH = "/api/webhooks/slack/interactions"
DRAFT_CALLBACK = "ticketspike_draft"
REPLAY_TTL = 600.0  # longer than the five-minute window, so a replay is always caught
_EMPTY = HttpReply(status=200, body=b"", content_type="text/plain")
_CHANNEL_NAME = re.compile(r"[^a-z0-9_-]+")


def _refuse(status: int) -> HttpReply:
    # No detail: a prober learns only that it was refused.
    return HttpReply(status=status, body=b"", content_type="text/plain")


def war_room_name(pattern: str, values: Mapping[str, str]) -> str:
    """The war room's channel name: the pattern filled, then cut to Slack's rules.

    Lower case, letters, digits, ``-`` and ``_`` only (accents folded, bidi and control
    characters dropped), at most 80 characters, never empty.
    """
    text = pattern
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    folded = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in folded if c.isascii() and unicodedata.category(c)[0] != "C")
    name = _CHANNEL_NAME.sub("-", ascii_only.lower()).strip("-_")
    name = re.sub(r"-{2,}", "-", name)[:80].strip("-_")
    return name or "spike-war-room"


class _Clock:
    """slack_sdk's verifier asks ``now()``; the engine's clock answers."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now().timestamp()


class SlackInteractions:
    """The :class:`~ticketspike.HttpEndpoint` for Slack clicks, and their handlers.

    :param secrets: the signing secrets (several during rotation).
    :param client: the Web API client (the notifier's settings build one when omitted).
    :param team_id: the only workspace accepted; ``None``: the bot token's (``auth.test``).
    """

    name = "slack-interactions"
    path = INTERACTIONS_PATH

    def __init__(
        self,
        *,
        secrets: Sequence[Secret],
        client: WebClient,
        settings: SlackSettings,
        options: InteractionSettings,
        team_id: str | None = None,
        workers: int = 1,
    ) -> None:
        self._secrets = tuple(secrets)
        self._client = client
        self.settings = settings
        self.options = options
        self._team_id = team_id
        self._workers = workers
        self.people = PeopleDirectory(client, settings)
        self.engine: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self.socket_mode: Any = None  # a SocketModeRunner, when configured

    def __repr__(self) -> str:
        return f"SlackInteractions(team_id={self._team_id!r}, secrets={len(self._secrets)})"

    # -- HttpEndpoint ------------------------------------------------------------------
    def start(self, engine: Any) -> None:
        self.engine = engine
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix="slack-interactions"
                )
        if self.socket_mode is not None:
            self.socket_mode.start()

    def stop(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.stop()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every accepted click has been handled (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def handle(self, body: bytes, headers: Mapping[str, str]) -> HttpReply:
        """Verify, parse, remember, queue; answer at once (Slack waits three seconds)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        timestamp = lowered.get("x-slack-request-timestamp", "")
        signature = lowered.get("x-slack-signature", "")
        if not self._verified(body, timestamp, signature):
            return _refuse(401)
        payload = _payload(body)
        if payload is None:
            return _refuse(400)
        if not self._our_team(payload):
            return _refuse(403)
        digest = hashlib.sha256(f"{signature}:{timestamp}".encode()).hexdigest()
        if not self.accept(payload, delivery=digest):
            return _refuse(403)
        return _EMPTY

    def accept(self, payload: dict[str, Any], *, delivery: str) -> bool:
        """Queue a payload from an authenticated channel once per ``delivery`` id.

        False (nothing queued) for a delivery seen before or a payload from another
        workspace. Used by :meth:`handle` and by Socket Mode.
        """
        if not self._our_team(payload):
            return False
        if not self.engine.store.remember_delivery(
            "slack-interactions", delivery, at=self.engine.clock(), ttl_seconds=REPLAY_TTL
        ):
            return False
        self._submit(payload)
        return True

    # -- checks --------------------------------------------------------------------------
    def _verified(self, body: bytes, timestamp: str, signature: str) -> bool:
        if not self._secrets or not timestamp.isdigit() or not signature.startswith("v0="):
            return False
        clock = _Clock(self.engine.clock)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        valid = False
        for secret in self._secrets:
            verifier = SignatureVerifier(secret.reveal(), clock=clock)  # type: ignore[arg-type]
            # Check every secret (no early exit), so timing says nothing about which one.
            valid = verifier.is_valid(text, timestamp, signature) or valid
        return valid

    def team_id(self) -> str | None:
        """The accepted workspace: configured, else the bot token's (asked once)."""
        with self._lock:
            if self._team_id is not None:
                return self._team_id
        try:
            response = guarded("auth.test", self._client.auth_test)
        except TicketspikeError as exc:
            log.warning("slack: auth.test failed (%s); refusing clicks until it works", exc)
            return None
        team = response.get("team_id")
        if isinstance(team, str) and team:
            with self._lock:
                self._team_id = team
            return team
        return None

    def _our_team(self, payload: Mapping[str, Any]) -> bool:
        expected = self.team_id()
        team = payload.get("team")
        got = team.get("id") if isinstance(team, Mapping) else None
        if got is None:
            user = payload.get("user")
            got = user.get("team_id") if isinstance(user, Mapping) else None
        return expected is not None and isinstance(got, str) and got == expected

    # -- the background ------------------------------------------------------------------
    def _submit(self, payload: dict[str, Any]) -> None:
        with self._lock:
            pool = self._pool
            self._pending += 1
        if pool is None:
            self._done()
            log.warning("slack: a click arrived while stopped; dropped")
            return
        pool.submit(self._run, payload)

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run(self, payload: dict[str, Any]) -> None:
        try:
            self.dispatch(payload)
        except Exception as exc:  # noqa: BLE001 - one bad click must not stop the worker
            log.warning("slack: a click failed (%s: %s)", type(exc).__name__, clip(str(exc), 200))
        finally:
            self._done()

    # -- what a click does -------------------------------------------------------------------
    def dispatch(self, payload: Mapping[str, Any]) -> None:
        """Carry out one verified interaction payload (HTTP or Socket Mode)."""
        kind = payload.get("type")
        if kind == "block_actions":
            for action in payload.get("actions") or []:
                if isinstance(action, Mapping):
                    self._action(payload, action)
        elif kind in ("view_submission", "view_closed"):
            self._view(payload, submitted=kind == "view_submission")

    def _action(self, payload: Mapping[str, Any], action: Mapping[str, Any]) -> None:
        action_id = str(action.get("action_id") or "")
        slug = action_id.removeprefix("ticketspike_")
        if action.get("type") == "button" and action.get("url"):
            return  # a link button (View Tickets, View Customer): Slack opened the page
        if slug == "more" or action_id == MORE_ACTION:
            selected = action.get("selected_option") or {}
            slug = str(selected.get("value") or "") if isinstance(selected, Mapping) else ""
        if slug not in _HANDLERS:
            return
        target = _target(payload, action)
        if target is None:
            return
        customer_id, episode_id = target
        user = _user(payload)
        click = InteractionRecord(
            key=f"slack:{action.get('action_ts') or ''}:{action_id}:{user[0]}:{slug}",
            episode_id=episode_id or None,
            customer_id=customer_id,
            kind="click",
            by=user[1],
            at=self.engine.clock(),
            data={"action": slug, "user_id": user[0]},
        )
        if not self._allowed(user[0], customer_id):
            record, new = self.engine.record_act(_evolve(click, kind="refused", outcome="refused"))
            if new:
                self._tell(
                    payload,
                    user[0],
                    "Only the account's CSM, their manager and the "
                    "people configured for this may act on this alert.",
                )
            return
        _record, new = self.engine.record_act(click)
        if not new:
            return  # the same click delivered again
        _HANDLERS[slug](self, payload, action, customer_id, episode_id, user)

    def _allowed(self, user_id: str, customer_id: str) -> bool:
        if self.options.who_may_click == "anyone":
            return True
        if user_id in self.options.allow_users:
            return True
        account = self.engine.account(customer_id)
        csm = account.csm if account is not None else None
        people = [p for p in (csm, csm.manager if csm is not None else None) if p is not None]
        for person in people:
            try:
                if self.people.user_id(Recipient("person", person)) == user_id:
                    return True
            except TicketspikeError:
                continue
        return False

    # -- acknowledge ------------------------------------------------------------------------
    def _acknowledge(
        self, payload: Any, action: Any, customer: str, episode: str, user: Any
    ) -> None:
        if not episode:
            return
        before = self.engine.acknowledgement(episode)
        record = self.engine.acknowledge(episode, by=user[1])
        if before is not None:
            self._tell(payload, user[0], f"Already acknowledged by {mrkdwn(record.by)}.")
            return
        self._mark(payload, act_line("Acknowledged", record.by, record.at), drop_ack=True)

    # -- snooze and resolve -------------------------------------------------------------------
    def _snooze(self, payload: Any, action: Any, customer: str, episode: str, user: Any) -> None:
        value = str((action.get("selected_option") or {}).get("value") or "")
        hours = dict(SNOOZE_CHOICES).get(value.removeprefix("snooze_"))
        if hours is None:
            return
        now = self.engine.clock()
        record = self.engine.snooze(customer, until=now + timedelta(hours=hours), by=user[1])
        until = datetime.fromisoformat(str(record.data["until"]))
        self._mark(payload, f"Snoozed by {_name(record.by)} until {_when(until)}")

    def _resolve(self, payload: Any, action: Any, customer: str, episode: str, user: Any) -> None:
        if not episode:
            return
        record = self.engine.resolve_episode(episode, by=user[1])
        if record.outcome == "done":
            self._mark(
                payload,
                act_line("Resolved", record.by, record.at),
                drop_ack=True,
                drop_all=True,
            )

    # -- war room -----------------------------------------------------------------------
    def _war_room(self, payload: Any, action: Any, customer: str, episode: str, user: Any) -> None:
        if not episode:
            return
        existing = self.engine.war_room(episode)
        if existing is not None:
            self._tell(payload, user[0], f"The war room is <#{existing.data['channel']}>.")
            return
        record = self.engine.store.episode(episode)
        if record is None:
            return
        account = self.engine.account(customer)
        name = war_room_name(
            self.options.war_room_name,
            {
                "customer_id": customer,
                "customer_name": account.display_name if account is not None else customer,
                "episode_id": episode,
                "date": record.opened_at.strftime("%Y%m%d"),
            },
        )
        created = guarded(
            "conversations.create",
            lambda: self._client.conversations_create(
                name=name, is_private=self.options.war_room_private
            ),
        )
        channel_info = created.get("channel") or {}
        channel = str(channel_info.get("id") or "")
        if not channel:
            return
        invitees = self._war_room_people(customer, episode, clicker=user[0])
        if invitees:
            try:
                guarded(
                    "conversations.invite",
                    lambda: self._client.conversations_invite(
                        channel=channel, users=",".join(invitees)
                    ),
                )
            except TicketspikeError as exc:
                log.warning("slack: inviting to the war room failed (%s)", exc)
        summary = self._summary(episode)
        if summary is not None:
            blocks = render_blocks(
                summary, quick_actions=False, sparkline_days=self.settings.sparkline_days
            )
            guarded(
                "chat.postMessage",
                lambda: self._client.chat_postMessage(
                    channel=channel,
                    text=fallback_text(summary),
                    blocks=[b.to_dict() for b in blocks],
                    unfurl_links=False,
                    unfurl_media=False,
                ),
            )
        self.engine.record_war_room(episode, channel=channel, name=name, by=user[1])
        thread = self._thread(episode)
        text = f"War room opened by {_name(user[1])}: <#{channel}>"
        if thread is not None:
            guarded(
                "chat.postMessage",
                lambda: self._client.chat_postMessage(
                    channel=thread[0],
                    thread_ts=thread[1],
                    text=text,
                    blocks=[_context(text).to_dict()],
                ),
            )
        self._mark(payload, text)

    def _war_room_people(self, customer: str, episode: str, *, clicker: str) -> list[str]:
        found: list[str] = [clicker] if clicker else []
        account = self.engine.account(customer)
        csm = account.csm if account is not None else None
        for role, person in (("csm", csm), ("manager", csm.manager if csm is not None else None)):
            if person is None:
                continue
            try:
                found.append(self.people.user_id(Recipient(role, person)))
            except TicketspikeError as exc:
                log.info("slack: no Slack user for the %s (%s)", role, exc)
        teams = ["support_lead", *self._routed_teams(episode)]
        for team in teams:
            found.extend(self.options.team_people.get(team, ()))
        out: list[str] = []
        for user in found:
            if user and user not in out:
                out.append(user)
        return out

    def _routed_teams(self, episode: str) -> list[str]:
        teams: list[str] = []
        for record in self.engine.store.plans(episode_id=episode):
            teams.extend(t for t in record.plan.routed_teams if t not in teams)
        return teams

    def _summary(self, episode: str) -> AlertMessage | None:
        for record in self.engine.store.plans(episode_id=episode):
            for planned in record.plan.actions:
                if isinstance(planned, (ChannelPost, DirectMessage)):
                    return planned.message
        return None

    def _thread(self, episode: str) -> tuple[str, str] | None:
        """The coordination thread's channel and ts, from the recorded root post."""
        for record in self.engine.store.actions(episode_id=episode):
            planned = record.action
            if planned.get("kind") == "channel_post" and planned.get("create_thread"):
                channel, ts = record.ref.get("channel"), record.ref.get("ts")
                if channel and ts:
                    return str(channel), str(ts)
        return None

    # -- draft response ---------------------------------------------------------------
    def _draft(self, payload: Any, action: Any, customer: str, episode: str, user: Any) -> None:
        trigger = payload.get("trigger_id")
        drafts_of = getattr(self.engine, "drafts", None)
        if not episode or not trigger or drafts_of is None:
            self._tell(payload, user[0], "There is no draft to review for this alert.")
            return
        drafts = [d for d in drafts_of(episode_id=episode) if _status(d) == "awaiting_approval"]
        if not drafts:
            self._tell(payload, user[0], "There is no draft waiting for approval for this alert.")
            return
        draft = drafts[-1]
        view = View(
            type="modal",
            callback_id=DRAFT_CALLBACK,
            private_metadata=json.dumps({"draft": draft.id, "episode": episode}),
            title=PlainTextObject(text="Draft response"),
            submit=PlainTextObject(text="Approve & send"),
            close=PlainTextObject(text="Discard"),
            notify_on_close=True,
            blocks=[
                SectionBlock(
                    block_id="ticketspike_draft_to",
                    text=MarkdownTextObject(
                        text=f"*To:* {clip_mrkdwn(str(draft.to), 300)}", verbatim=True
                    ),
                ),
                InputBlock(
                    block_id="subject",
                    label=PlainTextObject(text="Subject"),
                    element=PlainTextInputElement(
                        action_id="value",
                        initial_value=clip(str(draft.subject), 150),
                        max_length=150,
                    ),
                ),
                InputBlock(
                    block_id="body",
                    label=PlainTextObject(text="Message"),
                    element=PlainTextInputElement(
                        action_id="value",
                        multiline=True,
                        initial_value=clip(str(draft.body), 3000),
                        max_length=3000,
                    ),
                ),
            ],
        )
        guarded(
            "views.open", lambda: self._client.views_open(trigger_id=trigger, view=view.to_dict())
        )

    def _view(self, payload: Mapping[str, Any], *, submitted: bool) -> None:
        view = payload.get("view")
        if not isinstance(view, Mapping) or view.get("callback_id") != DRAFT_CALLBACK:
            return
        try:
            meta = json.loads(str(view.get("private_metadata") or "{}"))
            draft_id, episode = str(meta["draft"]), str(meta["episode"])
        except (ValueError, KeyError, TypeError):
            return
        user = _user(payload)
        record = InteractionRecord(
            key=f"slack:view:{view.get('id') or ''}:{view.get('hash') or ''}:{submitted}",
            episode_id=episode,
            customer_id=str(getattr(self.engine.draft(draft_id), "customer_id", "") or ""),
            kind="draft_decision",
            by=user[1],
            at=self.engine.clock(),
            data={"draft": draft_id, "approved": submitted, "user_id": user[0]},
        )
        if not record.customer_id:
            return
        if not self._allowed(user[0], record.customer_id):
            return
        _stored, new = self.engine.record_act(record)
        if not new:
            return
        if submitted:
            values = (view.get("state") or {}).get("values") or {}
            subject = _input(values, "subject")
            body = _input(values, "body")
            try:
                self.engine.approve_draft(draft_id, by=user[1], subject=subject, body=body)
                outcome = (
                    f"Acknowledgement e-mail approved by {_name(user[1])} and queued for sending"
                )
            except TicketspikeError as exc:
                outcome = (
                    f"Acknowledgement e-mail could not be approved: {clip_mrkdwn(str(exc), 300)}"
                )
        else:
            try:
                self.engine.reject_draft(draft_id, by=user[1], reason="discarded in Slack")
                outcome = f"Acknowledgement e-mail discarded by {_name(user[1])}"
            except TicketspikeError as exc:
                outcome = (
                    f"Acknowledgement e-mail could not be discarded: {clip_mrkdwn(str(exc), 300)}"
                )
        thread = self._thread(episode)
        if thread is not None:
            guarded(
                "chat.postMessage",
                lambda: self._client.chat_postMessage(
                    channel=thread[0],
                    thread_ts=thread[1],
                    text=outcome,
                    blocks=[_context(outcome).to_dict()],
                ),
            )

    # -- writing back -------------------------------------------------------------------
    def _mark(
        self, payload: Any, text: str, *, drop_ack: bool = False, drop_all: bool = False
    ) -> None:
        """Rewrite the clicked message in place with a status line (``text`` is escaped)."""
        container = payload.get("container") or {}
        channel = container.get("channel_id") or (payload.get("channel") or {}).get("id")
        ts = container.get("message_ts")
        message = payload.get("message") or {}
        if not channel or not ts or not isinstance(message, Mapping):
            return
        blocks = [b for b in (message.get("blocks") or []) if isinstance(b, Mapping)]
        out: list[Any] = []
        for block in blocks:
            if block.get("block_id") == STATUS_BLOCK:
                continue
            if block.get("type") == "actions" and (drop_ack or drop_all):
                elements = [
                    e
                    for e in block.get("elements") or []
                    if not drop_all or (e.get("type") == "button" and e.get("url"))
                ]
                elements = [e for e in elements if e.get("action_id") != ACK_ACTION]
                if not elements:
                    continue
                block = {**block, "elements": elements}
            out.append(dict(block))
        status = _context(text).to_dict()
        position = next((i for i, b in enumerate(out) if b.get("type") == "actions"), len(out))
        out.insert(position, status)
        guarded(
            "chat.update",
            lambda: self._client.chat_update(
                channel=channel, ts=ts, text=str(message.get("text") or text), blocks=out
            ),
        )

    def _tell(self, payload: Any, user_id: str, text: str) -> None:
        """Answer the clicker alone (``chat.postEphemeral``); ``text`` is already mrkdwn."""
        channel = (payload.get("container") or {}).get("channel_id") or (
            payload.get("channel") or {}
        ).get("id")
        if not channel or not user_id:
            return
        try:
            guarded(
                "chat.postEphemeral",
                lambda: self._client.chat_postEphemeral(
                    channel=channel,
                    user=user_id,
                    text=text,
                    blocks=[_context(text).to_dict()],
                ),
            )
        except TicketspikeError as exc:
            log.info("slack: could not answer the clicker privately (%s)", exc)


_HANDLERS: dict[str, Callable[..., None]] = {
    ACK_ACTION: SlackInteractions._acknowledge,
    **{f"snooze_{name}": SlackInteractions._snooze for name, _h in SNOOZE_CHOICES},
    "resolve": SlackInteractions._resolve,
    "start_war_room": SlackInteractions._war_room,
    "draft_response": SlackInteractions._draft,
}


# -- payload helpers ----------------------------------------------------------------------
def _payload(body: bytes) -> dict[str, Any] | None:
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=10)
        raw = fields["payload"][0]
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        return None
    return data if isinstance(data, dict) else None


def _user(payload: Mapping[str, Any]) -> tuple[str, str]:
    user = payload.get("user") or {}
    if not isinstance(user, Mapping):
        return "", "someone"
    user_id = str(user.get("id") or "")
    name = str(user.get("name") or user.get("username") or user_id or "someone")
    return user_id, " ".join(name.split())[:200] or "someone"


def _target(payload: Mapping[str, Any], action: Mapping[str, Any]) -> tuple[str, str] | None:
    """The customer and episode a click is about: the button's value, else the message's."""
    candidates = [action.get("value")]
    message = payload.get("message") or {}
    if isinstance(message, Mapping):
        for block in message.get("blocks") or []:
            if isinstance(block, Mapping) and block.get("type") == "actions":
                candidates.extend(
                    e.get("value") for e in block.get("elements") or [] if isinstance(e, Mapping)
                )
    for value in candidates:
        if not isinstance(value, str):
            continue
        try:
            data = json.loads(value)
        except ValueError:
            continue
        if isinstance(data, Mapping) and isinstance(data.get("customer_id"), str):
            return str(data["customer_id"]), str(data.get("episode_id") or "")
    return None


def _input(values: Mapping[str, Any], block: str) -> str | None:
    found = (values.get(block) or {}).get("value") or {}
    value = found.get("value") if isinstance(found, Mapping) else None
    return str(value) if isinstance(value, str) else None


def _status(draft: Any) -> str:
    status = getattr(draft, "status", "")
    return str(getattr(status, "value", status))


def _evolve(record: InteractionRecord, **changes: Any) -> InteractionRecord:
    import attrs

    return attrs.evolve(record, **changes)


def _name(text: str) -> str:
    return clip_mrkdwn(text, 200)


def _when(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _context(text: str) -> ContextBlock:
    """A status line; ``text`` must already be escaped (names go through :func:`_name`)."""
    return status_block([text])
