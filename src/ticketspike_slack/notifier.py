"""The Slack notifier: carries out the plan's message actions with slack_sdk.

It serves ``direct_message`` (conversations.open, then chat.postMessage),
``channel_post`` (the coordination thread's root in ``#cs-escalations``),
``thread_reply`` (``thread_ts`` from the root action's recorded result),
``update_message`` (chat.update of an earlier message) and ``notify_team``
(a post in the team's configured channel). Each returns
``ActionResult(ref={"channel": ..., "ts": ...})`` so later steps, and later
plans of the same episode, can find the message.

An alert is rendered with what people have done on its episode by the time it
is sent (:meth:`~ticketspike.ActionContext.interactions`), not when it was
planned: once acknowledged, an escalation or resolution that re-renders the
alert keeps "Acknowledged by ... at ..." and no Acknowledge button; a resolved
alert keeps only its link buttons.

Reliability, in one place each:

* Retries belong to the engine's executor; the ``WebClient`` has no retry
  handlers and :mod:`ticketspike_slack.failures` says which failures are worth
  a retry.
* Doing nothing twice: the executor records each action's result under its
  idempotency key and never re-runs a recorded action. The gap it cannot see
  is a crash (or a lost response) after Slack accepted a message but before
  the result was recorded. To close it, every message carries its key in
  Slack message metadata, and before posting the notifier scans the
  channel's (or thread's) most recent ``dedupe_scan`` messages for that key;
  a match is returned as the result instead of posting again. History is read
  by channel id, so a channel named in the workflow is looked up once
  (``conversations.list``) unless ``plugins.slack.channels`` maps it. The scan
  needs the history (and list) scopes; without them it is skipped with a
  warning and the guarantee falls back to the executor's (at-least-once
  across such a crash).

Never does: set ``parse`` or ``link_names``, unfurl links from tickets, log
message text or the token.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from ticketspike import (
    Action,
    ActionContext,
    ActionResult,
    AlertMessage,
    ChannelPost,
    DirectMessage,
    NotifyTeam,
    PermanentDeliveryError,
    Secret,
    ThreadReply,
    TransitionKind,
    UpdateMessage,
)
from ticketspike.planner.message import MessageKind

from .blocks import act_line, fallback_text, render_blocks
from .failures import SlackRefused, guarded
from .people import PeopleDirectory
from .settings import DEFAULT_CHANNEL, SlackSettings

__all__ = ["METADATA_EVENT_TYPE", "SlackNotifier"]

log = logging.getLogger("ticketspike_slack")


class _QuietTransportErrors(logging.Filter):
    """Demote slack_sdk's bare "Failed to send a request" lines to DEBUG.

    The failure reaches the executor as a retryable error, and the executor logs one line
    per retry naming the action and the next attempt; slack_sdk's own line says neither.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith("Failed to send"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_WEB_LOG = logging.getLogger("ticketspike_slack.web")
if not any(isinstance(f, _QuietTransportErrors) for f in _WEB_LOG.filters):
    _WEB_LOG.addFilter(_QuietTransportErrors())

# The event type of the message metadata that carries an action's idempotency key.
METADATA_EVENT_TYPE = "ticketspike_action"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# Errors from a history read that mean "cannot check", not "cannot post".
_NO_HISTORY = frozenset({"missing_scope", "not_in_channel", "channel_not_found", "not_allowed"})
# A workspace with more channels than this is better served by ids in the config.
_MAX_LIST_PAGES = 10


class SlackNotifier:
    """An :class:`~ticketspike.ActionHandler` that delivers messages to Slack.

    :param token: the bot token (``xoxb-...``), revealed only to the ``WebClient``.
    :param settings: channels, buttons, user mapping, timeouts.
    :param client: a ready ``WebClient`` (tests, proxies); built from
        ``settings`` when omitted.
    """

    kinds: frozenset[type[Action]] = frozenset(
        {DirectMessage, ChannelPost, ThreadReply, UpdateMessage, NotifyTeam}
    )

    def __init__(
        self,
        *,
        token: Secret,
        settings: SlackSettings | None = None,
        client: WebClient | None = None,
        name: str = "slack",
    ) -> None:
        self.name = name
        self.settings = settings if settings is not None else SlackSettings()
        self._token = token
        self._client = (
            client
            if client is not None
            else WebClient(
                token=token.reveal(),
                base_url=self.settings.base_url,
                timeout=max(1, math.ceil(self.settings.timeout)),
                # One retry layer only: the engine's executor (see failures.py).
                retry_handlers=[],
                logger=_WEB_LOG,
            )
        )
        self.people = PeopleDirectory(self._client, self.settings)
        self._history_off: set[str] = set()
        self._channel_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"SlackNotifier(name={self.name!r}, base_url={self.settings.base_url!r}, "
            f"token={self._token!r})"
        )

    def config_warnings(self, teams: Sequence[str] = ()) -> list[str]:
        """What ``check-config`` should say about this setup (routing that falls back)."""
        missing = [t for t in teams if t not in self.settings.team_channels]
        if not missing:
            return []
        where = self.settings.channel or DEFAULT_CHANNEL
        return [
            f"plugins.slack.team_channels has no channel for {', '.join(missing)}: their "
            f"notifications go to the coordination channel {where} with a note naming the "
            f"team; route them with plugins.slack.team_channels: {{{missing[0]}: '#channel'}}"
        ]

    # -- the ActionHandler contract ------------------------------------------------
    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        episode_id = ctx.plan.episode_id
        if isinstance(action, DirectMessage):
            user = self.people.user_id(action.recipient)
            opened = guarded(
                "conversations.open", lambda: self._client.conversations_open(users=user)
            )
            channel = _channel_of(opened)
            ref = self._post(
                channel,
                action.message,
                key=action.key,
                episode_id=episode_id,
                quick_actions=action.include_quick_actions,
                state=_episode_state(ctx, action.message),
            )
            person = action.recipient.person
            who = (
                f"{action.recipient.role} {person.name}"
                if person and person.name
                else (action.recipient.role)
            )
            return ActionResult(ref={**ref, "user": user}, summary=f"Slack DM to {who}")
        if isinstance(action, ChannelPost):
            channel = self.settings.channel_id(action.channel, coordination=action.create_thread)
            ref = self._post(
                channel,
                action.message,
                key=action.key,
                episode_id=episode_id,
                state=_episode_state(ctx, action.message),
            )
            what = "coordination thread" if action.create_thread else "post"
            return ActionResult(ref=ref, summary=f"Slack {what} in {action.channel or channel}")
        if isinstance(action, ThreadReply):
            root = _message_ref(ctx, action.thread_key, "thread")
            ref = self._post(
                root["channel"],
                action.message,
                key=action.key,
                episode_id=episode_id,
                thread_ts=root["ts"],
                broadcast=action.broadcast,
            )
            return ActionResult(ref={**ref, "thread_ts": root["ts"]}, summary="Slack thread reply")
        if isinstance(action, UpdateMessage):
            target = _message_ref(ctx, action.target_key, "message to update")
            ref = self._update(
                target["channel"],
                target["ts"],
                action.message,
                key=action.target_key,
                episode_id=episode_id,
                state=_episode_state(ctx, action.message),
            )
            return ActionResult(ref=ref, summary="Slack message updated")
        if isinstance(action, NotifyTeam):
            channel_name = action.channel or self.settings.team_channels.get(action.team)
            message = action.message
            if not channel_name:
                # No channel for this team: the coordination channel gets it, saying whom
                # it was meant for, so a minimal config still reaches a person.
                channel_name = self.settings.channel or DEFAULT_CHANNEL
                note = (
                    f"For team {action.team}: no Slack channel is configured for it "
                    f"(plugins.slack.team_channels.{action.team}), so it is posted here."
                )
                message = attrs.evolve(message, lines=(note, *message.lines))
            channel = self.settings.channel_id(channel_name)
            ref = self._post(channel, message, key=action.key, episode_id=episode_id)
            return ActionResult(
                ref=ref, summary=f"Slack post for team {action.team} in {channel_name}"
            )
        raise PermanentDeliveryError(f"the Slack notifier does not handle {action.kind!r}")

    # -- Web API calls ---------------------------------------------------------------
    def _payload(
        self,
        message: AlertMessage,
        *,
        key: str,
        episode_id: str,
        quick_actions: bool,
        state: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        blocks = render_blocks(
            message,
            buttons=self.settings.buttons,
            episode_id=episode_id,
            quick_actions=quick_actions,
            sparkline_days=self.settings.sparkline_days,
            **(state or {}),
        )
        return {
            "text": fallback_text(message),
            # Serialise here so slack_sdk's limit checks fail in our frame, as a clear
            # permanent failure, rather than mid-call.
            "blocks": guarded("Block Kit layout", lambda: [b.to_dict() for b in blocks]),
            "metadata": {"event_type": METADATA_EVENT_TYPE, "event_payload": {"key": key}},
        }

    def _post(
        self,
        channel: str,
        message: AlertMessage,
        *,
        key: str,
        episode_id: str,
        quick_actions: bool = True,
        thread_ts: str | None = None,
        broadcast: bool = False,
        state: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        channel = self._resolve(channel)
        found = self._already_posted(channel, key, thread_ts=thread_ts)
        if found is not None:
            log.info("slack: %s was already posted (ts %s); not posting again", key, found)
            return {"channel": channel, "ts": found}
        payload = self._payload(
            message, key=key, episode_id=episode_id, quick_actions=quick_actions, state=state
        )
        response = guarded(
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                reply_broadcast=True if (thread_ts and broadcast) else None,
                # Ticket URLs must not unfurl into previews fetched by Slack.
                unfurl_links=False,
                unfurl_media=False,
                **payload,
            ),
        )
        ref = {"channel": str(response.get("channel") or channel), "ts": _ts_of(response)}
        if not _CHANNEL_ID.match(channel) and _CHANNEL_ID.match(ref["channel"]):
            with self._lock:
                self._channel_ids[_bare(channel)] = ref["channel"]
        log.info("slack: posted %s to %s (ts %s)", key, ref["channel"], ref["ts"])
        return ref

    def _update(
        self,
        channel: str,
        ts: str,
        message: AlertMessage,
        *,
        key: str,
        episode_id: str,
        state: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        payload = self._payload(
            message, key=key, episode_id=episode_id, quick_actions=True, state=state
        )
        response = guarded(
            "chat.update",
            lambda: self._client.chat_update(channel=channel, ts=ts, **payload),
        )
        ref = {
            "channel": str(response.get("channel") or channel),
            "ts": str(response.get("ts") or ts),
        }
        log.info("slack: updated %s in %s (ts %s)", key, ref["channel"], ref["ts"])
        return ref

    def _resolve(self, channel: str) -> str:
        """The channel id for a name, when it can be learnt; else the name as given.

        Only the duplicate check needs ids (history is read by id), so names are
        looked up only while that check is on. Ids learnt from earlier posts are
        reused; otherwise one ``conversations.list`` walk finds them.
        """
        if _CHANNEL_ID.match(channel) or self.settings.dedupe_scan <= 0:
            return channel
        name = _bare(channel)
        with self._lock:
            known = self._channel_ids.get(name)
            if known or "list" in self._history_off:
                return known or channel
        cursor: str | None = None
        for _page in range(_MAX_LIST_PAGES):
            try:
                page = self._list_channels(cursor)
            except SlackRefused as exc:
                if exc.code == "missing_scope":
                    with self._lock:
                        self._history_off.add("list")
                    log.warning(
                        "slack: cannot list channels (missing_scope); channels named in the "
                        "workflow are not checked for duplicates unless mapped to ids under "
                        "plugins.slack.channels",
                    )
                return channel
            for item in page.get("channels") or []:
                if isinstance(item, Mapping) and item.get("name") == name and item.get("id"):
                    with self._lock:
                        self._channel_ids[name] = str(item["id"])
                    return str(item["id"])
            meta = page.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, Mapping) else None
            if not cursor:
                break
        return channel

    def _list_channels(self, cursor: str | None) -> SlackResponse:
        return guarded(
            "conversations.list",
            lambda: self._client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=200,
                cursor=cursor,
            ),
        )

    def _already_posted(self, channel: str, key: str, *, thread_ts: str | None) -> str | None:
        """The ts of a message carrying ``key`` among the most recent ones, if any."""
        limit = self.settings.dedupe_scan
        if limit <= 0 or not _CHANNEL_ID.match(channel):
            return None
        with self._lock:
            if channel[0] in self._history_off:
                return None
        what = "conversations.replies" if thread_ts else "conversations.history"
        try:
            if thread_ts:
                response = guarded(
                    what,
                    lambda: self._client.conversations_replies(
                        channel=channel, ts=thread_ts, limit=limit, include_all_metadata=True
                    ),
                )
            else:
                response = guarded(
                    what,
                    lambda: self._client.conversations_history(
                        channel=channel, limit=limit, include_all_metadata=True
                    ),
                )
        except SlackRefused as exc:
            code = exc.code
            if code in _NO_HISTORY:
                if code == "missing_scope":
                    with self._lock:
                        self._history_off.add(channel[0])
                    log.warning(
                        "slack: cannot read history of %s channels (%s); duplicate check "
                        "before posting is off for them",
                        _channel_type(channel),
                        code,
                    )
                return None
            raise
        return _find_key(response.get("messages") or [], key)


def _episode_state(ctx: ActionContext, message: AlertMessage) -> dict[str, Any]:
    """How an alert shows its episode now: who acknowledged or resolved it, and its buttons.

    Only alerts of an episode carry the Acknowledge button and the overflow menu, so only
    they look the acts up (once per rendered alert, read from the store by the executor).
    """
    if message.kind is not MessageKind.ALERT or not ctx.plan.episode_id:
        return {}
    first: dict[str, Any] = {}
    for record in ctx.interactions():
        if record.outcome == "done" and record.kind in ("acknowledge", "resolve"):
            first.setdefault(record.kind, record)
    status = [
        act_line(verb, first[kind].by, first[kind].at)
        for kind, verb in (("acknowledge", "Acknowledged"), ("resolve", "Resolved"))
        if kind in first
    ]
    return {
        "status": status,
        "acknowledged": "acknowledge" in first,
        "closed": "resolve" in first or ctx.plan.transition is TransitionKind.RESOLVED,
    }


def _find_key(messages: Sequence[Any], key: str) -> str | None:
    for item in messages:
        if not isinstance(item, Mapping):
            continue
        metadata = item.get("metadata")
        if not isinstance(metadata, Mapping):
            continue
        payload = metadata.get("event_payload")
        if (
            metadata.get("event_type") == METADATA_EVENT_TYPE
            and isinstance(payload, Mapping)
            and payload.get("key") == key
            and isinstance(item.get("ts"), str)
        ):
            return str(item["ts"])
    return None


def _bare(channel: str) -> str:
    return channel.lstrip("#")


def _channel_type(channel: str) -> str:
    return {"C": "public", "G": "private", "D": "direct-message"}.get(channel[0], "some")


def _channel_of(response: SlackResponse) -> str:
    channel = response.get("channel")
    channel_id = channel.get("id") if isinstance(channel, Mapping) else None
    if not isinstance(channel_id, str) or not channel_id:
        raise PermanentDeliveryError("Slack conversations.open returned no channel id")
    return channel_id


def _ts_of(response: SlackResponse) -> str:
    ts = response.get("ts")
    if not isinstance(ts, str) or not ts:
        raise PermanentDeliveryError("Slack chat.postMessage returned no message ts")
    return ts


def _message_ref(ctx: ActionContext, key: str, what: str) -> dict[str, str]:
    """The channel and ts recorded for action ``key`` (a thread root, a message)."""
    result = ctx.result_of(key)
    if result is None:
        raise PermanentDeliveryError(
            f"the {what} ({key}) has no recorded result; it was not posted"
        )
    channel, ts = result.ref.get("channel"), result.ref.get("ts")
    if not channel or not ts:
        raise PermanentDeliveryError(
            f"the {what} ({key}) was not posted to Slack, so there is nothing to reply to or update"
        )
    return {"channel": channel, "ts": ts}
