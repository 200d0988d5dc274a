"""The e-mail drafter while a mail transport serves: the draft goes to the CSM's mailbox.

Replaces the built-in file drafter (never a plugin's own drafter) when a
:class:`~ticketspike.roles.MailTransport` is registered. It composes the acknowledgement
(:func:`ticketspike.mail.compose_message`: From the CSM or the shared sender, To the
champion, a Message-ID fixed now, threaded to the episode's earlier acknowledgement), and has
the transport save it as a draft, once per action key. Nothing is sent here: sending happens
only when a person approves (:mod:`ticketspike.drafts`).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from email.utils import make_msgid
from typing import cast

import attrs

from ..errors import InputError, PermanentDeliveryError
from ..mail.compose import compose_message, make_address, sender_addresses
from ..mail.settings import EmailSettings
from ..planner.plan import Action, DraftEmail, action_key
from ..roles import ActionContext, ActionHandler, ActionResult, MailTransport
from ..signals import TransitionKind
from ..store.drafts import draft_id_for
from .email_drafter import EmailDrafter
from .text import one_line

__all__ = ["MailboxDrafter", "use_mail_transport"]


@attrs.frozen
class MailboxDrafter:
    """An :class:`~ticketspike.roles.ActionHandler` for ``draft_email`` that saves to a mailbox."""

    transport: MailTransport
    settings: EmailSettings = attrs.field(factory=EmailSettings)
    name: str = "mailbox_drafter"
    kinds: frozenset[type[Action]] = frozenset({DraftEmail})

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        if not isinstance(action, DraftEmail):
            raise PermanentDeliveryError(f"mailbox drafter cannot carry out {action.kind!r}")
        if not action.requires_approval:
            raise PermanentDeliveryError(
                "refusing a customer e-mail that does not require approval"
            )
        person = action.to.person
        if person is None or not person.email:
            raise PermanentDeliveryError(
                f"no e-mail address known for the {action.to.role}; draft not saved"
            )
        try:
            to = make_address(person.name, person.email, field="to")
            sender, reply_to = sender_addresses(self.settings, action.sender.person)
        except InputError as exc:
            raise PermanentDeliveryError(f"draft not saved: {exc}") from None
        in_reply_to, references = self._thread(action, ctx)
        draft_id = draft_id_for(action.key)
        message = compose_message(
            to=to,
            sender=sender,
            reply_to=reply_to,
            subject=action.subject,
            body=action.body,
            message_id=make_msgid(idstring="ticketspike", domain=sender.domain or None),
            date=ctx.now,
            draft_id=draft_id,
            key=action.key,
            in_reply_to=in_reply_to,
            references=references,
            html=self.settings.html,
        )
        saved = self.transport.save_draft(message, key=action.key, now=ctx.now)
        ref = {
            "draft_id": draft_id,
            "status": "awaiting_approval",
            "to": str(to),
            "from": str(sender),
            "message_id": saved.message_id,
        }
        if reply_to is not None and reply_to.addr_spec != sender.addr_spec:
            ref["reply_to"] = str(reply_to)
        if saved.mailbox:
            ref["mailbox"] = saved.mailbox
        if saved.folder:
            ref["folder"] = saved.folder
        if in_reply_to:
            ref["in_reply_to"] = in_reply_to
            ref["references"] = " ".join(references)
        where = f" in {saved.folder}" if saved.folder else ""
        return ActionResult(
            ref=ref,
            summary=f"draft to {one_line(str(to))}{where} awaiting approval: "
            f"{one_line(action.subject)}",
        )

    @staticmethod
    def _thread(action: DraftEmail, ctx: ActionContext) -> tuple[str | None, tuple[str, ...]]:
        """The episode's first acknowledgement, when this one follows it up."""
        if ctx.plan.transition is TransitionKind.OPENED:
            return None, ()
        first = ctx.result_of(
            action_key(ctx.plan.episode_id, TransitionKind.OPENED, action.step_id)
        )
        if first is None or not first.ref.get("message_id"):
            return None, ()
        earlier = tuple(first.ref.get("references", "").split())
        return first.ref["message_id"], earlier


def use_mail_transport(
    handlers: MutableMapping[str, ActionHandler],
    transport: MailTransport | None,
    settings: EmailSettings,
) -> None:
    """Let ``transport`` serve drafts in place of the built-in file drafter (not a plugin's)."""
    if transport is None:
        return
    if isinstance(handlers.get("draft_email"), EmailDrafter):
        handlers["draft_email"] = cast(ActionHandler, MailboxDrafter(transport, settings))
