"""Built-in e-mail drafter: records the approval-gated acknowledgement draft (docs/email.md).

ticketspike never e-mails a customer on its own: this handler records the
draft in the outbox, marked as awaiting approval, and, when ``plugins.email_drafter.drafts_dir``
is set, also writes it as an ``.eml`` file a person can open, edit and send from their mail
client. A draft without ``requires_approval`` is refused: something upstream broke the rule.

Configuration (optional)::

    plugins:
      email_drafter:
        drafts_dir: drafts/
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import cast

import attrs

from ..errors import PermanentDeliveryError
from ..hookspecs import hookimpl
from ..planner.plan import Action, DraftEmail, Recipient
from ..roles import ActionContext, ActionHandler, ActionResult, PluginConfig
from .text import one_line, printable

__all__ = ["EmailDrafter", "register_action_handlers"]


def _address(recipient: Recipient) -> str:
    person = recipient.person
    if person is None or not person.email:
        return ""
    return formataddr((one_line(person.name), person.email))


@attrs.frozen
class EmailDrafter:
    """An :class:`~ticketspike.roles.ActionHandler` for ``draft_email``."""

    drafts_dir: Path | None = None
    name: str = "email_drafter"
    kinds: frozenset[type[Action]] = frozenset({DraftEmail})

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        if not isinstance(action, DraftEmail):
            raise PermanentDeliveryError(f"email drafter cannot carry out {action.kind!r}")
        if not action.requires_approval:
            raise PermanentDeliveryError(
                "refusing a customer e-mail that does not require approval"
            )
        to = _address(action.to)
        if not to:
            raise PermanentDeliveryError(
                f"no e-mail address known for the {action.to.role}; draft not recorded"
            )
        ref = {"draft_id": action.key, "status": "awaiting_approval", "to": to}
        if self.drafts_dir is not None:
            ref["file"] = str(self._write(action, to, ctx))
        return ActionResult(
            ref=ref,
            summary=f"draft to {to} awaiting approval: {one_line(action.subject)}",
        )

    def _write(self, action: DraftEmail, to: str, ctx: ActionContext) -> Path:
        message = EmailMessage()
        message["To"] = to
        sender = _address(action.sender)
        if sender:
            message["From"] = sender
        message["Subject"] = one_line(action.subject, limit=250)
        message["X-Ticketspike-Key"] = one_line(action.key)
        message["X-Ticketspike-Requires-Approval"] = "yes"
        message["X-Unsent"] = "1"  # mail clients open it as a draft to edit and send
        message.set_content(printable(action.body))
        assert self.drafts_dir is not None
        self.drafts_dir.mkdir(parents=True, exist_ok=True)
        target = self.drafts_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", action.key) + ".eml")
        # Write, then link into place only if absent: a crash never leaves half a draft, and
        # a repeat of the action after a crash keeps the first draft (perhaps edited since).
        fd, tmp = tempfile.mkstemp(dir=self.drafts_dir, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(bytes(message))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass  # drafted before, under the same key
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target


@hookimpl
def register_action_handlers(
    register: Callable[[ActionHandler], None], config: PluginConfig
) -> None:
    section = config.section("email_drafter")
    drafts_dir: Path | None = None
    if section is not None:
        section.check_keys({"drafts_dir"})
        value = section.get_str("drafts_dir")
        if value:
            drafts_dir = Path(value)
            if not drafts_dir.is_absolute() and not section.name.startswith("<"):
                drafts_dir = Path(section.name).parent / drafts_dir
    # Frozen values satisfy the protocol at run time; mypy wants ``name`` settable.
    register(cast(ActionHandler, EmailDrafter(drafts_dir=drafts_dir)))
