"""Built-in notifier: prints messages to the console in the PRD 5.1 plain-text layout.

It serves ``direct_message``, ``channel_post``, ``thread_reply``, ``update_message`` and
``notify_team`` whenever no installed notifier (Slack, say) does, so the embedded default
always delivers somewhere a person can see. Ticket-derived text is stripped of control
characters first: a subject must not be able to drive the operator's terminal.

Configuration (optional)::

    plugins:
      console:
        stream: stdout      # or stderr
        enabled: true
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, cast

import attrs

from ..hookspecs import hookimpl
from ..planner.message import AlertMessage, render_text
from ..planner.plan import (
    Action,
    ChannelPost,
    DirectMessage,
    NotifyTeam,
    Recipient,
    ThreadReply,
    UpdateMessage,
)
from ..roles import ActionContext, ActionHandler, ActionResult, PluginConfig
from .text import one_line, printable

__all__ = ["ConsoleNotifier", "register_notifiers"]

KINDS = frozenset(
    {"direct_message", "channel_post", "thread_reply", "update_message", "notify_team"}
)


def _who(recipient: Recipient) -> str:
    person = recipient.person
    name = person.name if person is not None and person.name else ""
    if not name and person is not None and person.email:
        name = person.email
    return f"{one_line(name)} ({recipient.role})" if name else recipient.role


@attrs.define
class ConsoleNotifier:
    """An :class:`~ticketspike.roles.ActionHandler` that writes messages to a text stream.

    ``stream`` None means the process's standard output at the time of each message.
    """

    stream: IO[str] | None = None
    name: str = "console"
    kinds: frozenset[str] = KINDS

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        header, message, ref = self._describe(action, ctx)
        out = self.stream if self.stream is not None else sys.stdout
        text = printable(render_text(message))
        out.write(f"--- {header} ---\n{text}\n\n")
        out.flush()
        return ActionResult(ref=ref, summary=f"{header}: {one_line(message.summary)}")

    def _describe(
        self, action: Action, ctx: ActionContext
    ) -> tuple[str, AlertMessage, dict[str, str]]:
        ref = {"channel": "console", "ts": action.key}
        if isinstance(action, DirectMessage):
            return f"direct message to {_who(action.recipient)}", action.message, ref
        if isinstance(action, ChannelPost):
            what = "thread root in" if action.create_thread else "post in"
            ref["channel"] = action.channel
            return f"{what} {one_line(action.channel)}", action.message, ref
        if isinstance(action, ThreadReply):
            root = ctx.result_of(action.thread_key)
            where = root.ref.get("channel", "the thread") if root is not None else "the thread"
            ref["channel"] = where
            ref["thread_ts"] = root.ref.get("ts", action.thread_key) if root else action.thread_key
            return f"reply in thread of {one_line(where)}", action.message, ref
        if isinstance(action, UpdateMessage):
            target = ctx.result_of(action.target_key)
            ref = dict(target.ref) if target is not None else ref
            return f"update of message {one_line(action.target_key)}", action.message, ref
        if isinstance(action, NotifyTeam):
            where = f" in {one_line(action.channel)}" if action.channel else ""
            return f"team {one_line(action.team)}{where}", action.message, ref
        raise TypeError(f"console notifier cannot carry out {action.kind!r}")


@hookimpl
def register_notifiers(register: Callable[[ActionHandler], None], config: PluginConfig) -> None:
    section = config.section("console")
    stream: IO[str] | None = None
    if section is not None:
        section.check_keys({"stream", "enabled"})
        if not section.get_bool("enabled", True):
            return
        if section.get_str("stream", "stdout", choices=("stdout", "stderr")) == "stderr":
            stream = sys.stderr
    register(cast(ActionHandler, ConsoleNotifier(stream=stream)))
