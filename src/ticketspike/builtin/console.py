"""Built-in notifier: prints messages to the console in the plain-text alert layout.

It serves ``direct_message``, ``channel_post``, ``thread_reply``, ``update_message`` and
``notify_team`` whenever no installed notifier (Slack, say) does, so the embedded default
always delivers somewhere a person can see. Ticket-derived text is stripped of control
characters first: a subject must not be able to drive the operator's terminal.

Once per action key: with a markers directory (``markers_dir``, by default
``<store file>.effects/console/`` beside the SQLite store), a marker file named for the key is
created (``O_CREAT | O_EXCL``) *before* a message is printed, and an action whose marker exists
is not printed again. A process killed between printing and recording therefore does not print
twice after a restart; a kill in the instant between the marker and the print loses that one
console copy instead (the console is at most once; the store still records the action).

Configuration (optional)::

    plugins:
      console:
        stream: stdout      # or stderr
        enabled: true
        markers_dir: console-markers/   # default: beside the store file
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
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

__all__ = ["ConsoleNotifier", "register_action_handlers"]

KINDS: frozenset[type[Action]] = frozenset(
    {DirectMessage, ChannelPost, ThreadReply, UpdateMessage, NotifyTeam}
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
    kinds: frozenset[type[Action]] = KINDS
    markers_dir: Path | None = None

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        header, message, ref = self._describe(action, ctx)
        summary = f"{header}: {one_line(message.summary)}"
        if not self._first_time(getattr(ctx, "key", "") or action.key, ctx):
            return ActionResult(ref=ref, summary=f"{summary} (printed before a restart)")
        out = self.stream if self.stream is not None else sys.stdout
        text = printable(render_text(message))
        out.write(f"--- {header} ---\n{text}\n\n")
        out.flush()
        return ActionResult(ref=ref, summary=summary)

    def marker(self, key: str, ctx: ActionContext | None = None) -> Path | None:
        """The marker file of action ``key`` (None without a markers directory)."""
        folder = self.markers_dir
        if folder is None and ctx is not None:
            state = getattr(ctx, "state_dir", None)
            folder = state / "console" if isinstance(state, Path) else None
        if folder is None:
            return None
        return folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".printed")

    def _first_time(self, key: str, ctx: ActionContext) -> bool:
        """Create the key's marker; False when it exists already (printed before)."""
        path = self.marker(key, ctx)
        if path is None:
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        try:
            os.write(fd, key.encode("utf-8", "replace"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

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
def register_action_handlers(
    register: Callable[[ActionHandler], None], config: PluginConfig
) -> None:
    section = config.section("console")
    stream: IO[str] | None = None
    markers: Path | None = None
    if section is not None:
        section.check_keys({"stream", "enabled", "markers_dir"})
        if not section.get_bool("enabled", True):
            return
        if section.get_str("stream", "stdout", choices=("stdout", "stderr")) == "stderr":
            stream = sys.stderr
        value = section.get_str("markers_dir")
        if value:
            markers = Path(value)
            if not markers.is_absolute() and not section.name.startswith("<"):
                markers = Path(section.name).parent / markers
    register(cast(ActionHandler, ConsoleNotifier(stream=stream, markers_dir=markers)))
