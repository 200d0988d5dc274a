"""Approving and sending acknowledgement drafts: a person decides, the message leaves once.

The engine's :meth:`~ticketspike.engine.Engine.approve_draft` and friends live here. A draft
record is made from each finished ``draft_email`` action (its content from the action, where
it was saved and its Message-ID from the action's result), then only its state moves:

* **approve**: the decision (who, when, the edited subject and body) is recorded first, then
  each send attempt is recorded *before* the message goes (``sending_since``) and the result
  after. Transient failures are retried (tenacity); whatever happens, the approval stays
  recorded, so approving again picks up where it stopped.
* **exactly once**: a record still "sending" after its process stopped is an interrupted
  send. With a transport that can search the Sent folder for the Message-ID, the answer
  settles it (found: ``sent``; not found: sent now). Without one, the draft becomes
  ``unknown`` and is never sent again until a person says whether it left
  (:meth:`DraftDesk.resolve`). Sending twice is never the fallback.
* **reject**: recorded with who and why; a rejected draft is never sent, and its copy in the
  drafts folder is removed so nobody sends it by accident.

Every change is compare-and-set on the record's version, so two people, or two processes,
deciding at once cannot both send.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

import attrs
import tenacity

from .builtin.text import one_line
from .errors import (
    DeliveryUncertainError,
    DraftConflict,
    DraftNotFound,
    InputError,
    PermanentDeliveryError,
    TicketspikeError,
    TransientDeliveryError,
)
from .events import emit
from .executor import RetryPolicy
from .mail.compose import (
    MAX_BODY,
    clean_body,
    compose_message,
    header_safe,
    make_address,
    parse_address,
    sender_addresses,
)
from .mail.settings import EmailSettings
from .planner.plan import DraftEmail
from .roles import MailTransport, SavedDraft, describe
from .store.base import ActionRecord, ActionStatus, Store
from .store.codec import action_from_json
from .store.drafts import DraftRecord, DraftStatus, draft_id_for

__all__ = ["DraftDesk"]

log = logging.getLogger("ticketspike.drafts")

_ERROR_LIMIT = 500


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DraftDesk:
    """Drafts in one store, decided by people and sent through one mail transport.

    :param transport: what sends (None: drafts can be listed and rejected, not sent).
    :param settings: the ``email:`` section (sender addresses, HTML alternative).
    :param send_lease: seconds after which a send still marked under way, by a process on
        another host, counts as interrupted (on this host a dead process counts at once).
    """

    def __init__(
        self,
        store: Store,
        transport: MailTransport | None,
        settings: EmailSettings,
        *,
        clock: Callable[[], datetime],
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        send_lease: float = 600.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self.retry = retry if retry is not None else RetryPolicy()
        if settings.send_attempts is not None:
            self.retry = attrs.evolve(self.retry, max_attempts=settings.send_attempts)
        self.sleep = sleep
        self.send_lease = send_lease
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------
    def sync(self) -> None:
        """Make the records of finished ``draft_email`` actions that have none yet, and mark
        interrupted sends that nothing can check as ``unknown``.
        """
        known = {d.action_key for d in self.store.drafts()}
        for record in self.store.actions(status=ActionStatus.DONE):
            if record.kind == "draft_email" and record.key not in known:
                try:
                    self.store.add_draft(self._record_of(record))
                except TicketspikeError as exc:
                    log.warning("draft for %s not recorded: %s", record.key, _short(exc))
        if self.transport is not None and self.transport.checks_sent:
            return  # an interrupted send is settled by asking the Sent folder, on approval
        for draft in self.store.drafts(status=DraftStatus.APPROVED):
            if draft.sending_since is not None and self._interrupted(draft):
                self._mark_unknown(draft)

    def list(
        self, *, status: DraftStatus | None = None, episode_id: str | None = None
    ) -> list[DraftRecord]:
        self.sync()
        return self.store.drafts(status=status, episode_id=episode_id)

    def get(self, draft_id: str) -> DraftRecord | None:
        self.sync()
        found = self.store.draft(draft_id)
        if found is None and ":" in draft_id:
            found = self.store.draft(draft_id_for(draft_id))  # an action key names it too
        return found

    def _require(self, draft_id: str) -> DraftRecord:
        found = self.get(draft_id)
        if found is None:
            raise DraftNotFound(f"no e-mail draft {one_line(draft_id, limit=80)!r}", field="id")
        return found

    def _record_of(self, record: ActionRecord) -> DraftRecord:
        action = action_from_json(record.action)
        if not isinstance(action, DraftEmail):
            raise PermanentDeliveryError(f"action {record.key} is not a draft_email")
        ref = record.ref
        to = ref.get("to", "")
        if not to and action.to.person is not None and action.to.person.email:
            to = str(make_address(action.to.person.name, action.to.person.email, field="to"))
        from_addr, reply_to = ref.get("from", ""), ref.get("reply_to")
        if not from_addr:
            try:
                sender, reply = sender_addresses(self.settings, action.sender.person)
                from_addr = str(sender)
                if reply is not None and reply.addr_spec != sender.addr_spec:
                    reply_to = str(reply)
            except InputError:
                from_addr = ""  # approval says what is missing
        message_id = ref.get("message_id") or make_msgid(
            idstring="ticketspike",
            domain=from_addr.rpartition("@")[2].rstrip(">") or "ticketspike.invalid",
        )
        return DraftRecord(
            id=draft_id_for(record.key),
            episode_id=record.episode_id,
            customer_id=record.customer_id,
            action_key=record.key,
            status=DraftStatus.AWAITING_APPROVAL,
            to=to,
            from_addr=from_addr,
            reply_to=reply_to,
            subject=action.subject,
            body=action.body,
            message_id=message_id,
            mailbox=ref.get("mailbox"),
            folder=ref.get("folder"),
            created_at=record.updated_at,
            in_reply_to=ref.get("in_reply_to"),
            references=tuple(ref.get("references", "").split()),
            file=ref.get("file"),
            updated_at=record.updated_at,
        )

    # -- deciding --------------------------------------------------------------------
    def approve(
        self,
        draft_id: str,
        *,
        by: str,
        subject: str | None = None,
        body: str | None = None,
        confirm_resolved: bool = False,
    ) -> DraftRecord:
        """Record the approval (with edits) and send; see the module docstring."""
        who = _who(by)
        edits: dict[str, Any] = {}
        if subject is not None:
            edits["subject"] = header_safe(subject, field="subject")
        if body is not None:
            text = clean_body(body)
            if not text.strip():
                raise InputError("must not be empty", field="body")
            if len(text) > MAX_BODY:
                raise InputError(f"must be at most {MAX_BODY} characters", field="body")
            edits["body"] = text
        draft = self._require(draft_id)
        if draft.status is DraftStatus.SENT:
            return draft  # approving again changes nothing
        self._check_sendable(draft, confirm_resolved=confirm_resolved)
        with self._owning(draft.id):
            if draft.sending_since is not None:
                draft = self._settle(draft)
                if draft.status is DraftStatus.SENT:
                    return draft
            changes: dict[str, Any] = dict(edits)
            if draft.status is DraftStatus.AWAITING_APPROVAL or edits:
                changes.update(decided_by=who, decided_at=self.clock())
            changes.update(status=DraftStatus.APPROVED, error=None)
            draft = self._change(draft, changes)
            log.info("draft %s approved by %s", draft.id, who)
            return self._send(draft)

    def reject(self, draft_id: str, *, by: str, reason: str | None = None) -> DraftRecord:
        """Record the rejection; the draft is never sent and leaves the drafts folder."""
        who = _who(by)
        why = one_line(reason, limit=500) if reason else None
        draft = self._require(draft_id)
        if draft.status is DraftStatus.REJECTED:
            return draft
        if draft.status is DraftStatus.SENT:
            raise DraftConflict(
                f"draft {draft.id} was already sent at {_when(draft.sent_at)}; it cannot be "
                "rejected"
            )
        if draft.status is DraftStatus.UNKNOWN or draft.sending_since is not None:
            raise DraftConflict(
                f"draft {draft.id} may already have been sent (a send was started); settle it "
                f"first with `ticketspike drafts resolve {draft.id} --sent` or `--not-sent`"
            )
        draft = self._change(
            draft,
            {
                "status": DraftStatus.REJECTED,
                "decided_by": who,
                "decided_at": self.clock(),
                "reason": why,
                "error": None,
            },
        )
        log.info("draft %s rejected by %s", draft.id, who)
        self._discard(draft)
        return draft

    def resolve(self, draft_id: str, *, by: str, sent: bool) -> DraftRecord:
        """A person's answer for a draft in ``unknown``: it left (``sent``) or it did not (it
        goes back to ``approved``, and approving sends it).
        """
        who = _who(by)
        draft = self._require(draft_id)
        if draft.status is not DraftStatus.UNKNOWN:
            raise DraftConflict(
                f"draft {draft.id} is {draft.status.value}; only an `unknown` draft is resolved"
            )
        now = self.clock()
        if sent:
            draft = self._change(
                draft,
                {
                    "status": DraftStatus.SENT,
                    "sent_at": now,
                    "sending_since": None,
                    "sending_owner": None,
                    "error": None,
                    "reason": f"marked as sent by {who}",
                },
            )
            self._discard(draft)
            return draft
        return self._change(
            draft,
            {
                "status": DraftStatus.APPROVED,
                "sending_since": None,
                "sending_owner": None,
                "error": f"marked as not sent by {who}; approve it to send",
            },
        )

    # -- internals ----------------------------------------------------------------------
    def _check_sendable(self, draft: DraftRecord, *, confirm_resolved: bool) -> None:
        if draft.status is DraftStatus.REJECTED:
            by = f" by {draft.decided_by}" if draft.decided_by else ""
            raise DraftConflict(
                f"draft {draft.id} was rejected{by} at {_when(draft.decided_at)}; a rejected "
                "draft is never sent"
            )
        if draft.status is DraftStatus.UNKNOWN:
            raise DraftConflict(
                f"draft {draft.id}: a send was cut off and nothing can tell whether it left; "
                f"look in the Sent folder{_of(draft)}, then run `ticketspike drafts resolve "
                f"{draft.id} --sent` or `--not-sent`"
            )
        if self.transport is None:
            raise PermanentDeliveryError(
                "no mail transport is configured: add an `email:` section with `smtp` "
                "(see docs/email.md) or install a mail transport plugin"
            )
        if draft.sending_since is not None and not self._interrupted(draft):
            raise DraftConflict(
                f"draft {draft.id} is being sent by {draft.sending_owner or 'another process'}"
                f" since {_when(draft.sending_since)}"
            )
        episode = self.store.episode(draft.episode_id)
        if episode is not None and episode.status == "resolved" and not confirm_resolved:
            raise DraftConflict(
                f"the spike this draft answers (episode {draft.episode_id}) resolved at "
                f"{_when(episode.resolved_at)}; confirm to send it anyway "
                "(--confirm-resolved, or confirm_resolved=true)"
            )

    def _owning(self, draft_id: str) -> _Owning:
        return _Owning(self, draft_id)

    def _interrupted(self, draft: DraftRecord) -> bool:
        """Whether a send marked under way has no live process behind it."""
        owner = draft.sending_owner or ""
        if owner == self.owner:
            with self._lock:
                return draft.id not in self._in_flight
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host == self.host and pid_text.isdigit() and os.name != "nt":
            pid = int(pid_text)
            if pid != os.getpid() and not _pid_alive(pid):
                return True
        since = draft.sending_since
        return since is None or self.clock() - since > timedelta(seconds=self.send_lease)

    def _change(self, draft: DraftRecord, changes: dict[str, Any]) -> DraftRecord:
        at = self.clock()
        with self.store.transaction():
            new = self.store.change_draft(draft.id, changes, version=draft.version, at=at)
            moved = new is not None and new.status is not draft.status
            if moved and new is not None and new.status.value in ("approved", "sent"):
                # Reported in the transaction that makes the change (draft.approved / .sent).
                data = {
                    "id": new.id,
                    "status": new.status.value,
                    "episode_id": new.episode_id,
                    "customer_id": new.customer_id,
                    "subject": new.subject,
                    "decided_by": new.decided_by,
                }
                emit(
                    self.store,
                    f"draft.{new.status.value}",
                    data,
                    key=f"{new.id}:{new.status.value}",
                    at=at,
                )
        if new is None:
            current = self.store.draft(draft.id)
            state = current.status.value if current is not None else "gone"
            raise DraftConflict(
                f"draft {draft.id} was changed by someone else meanwhile (now {state}); "
                "look at it again before deciding"
            )
        return new

    def _mark_unknown(self, draft: DraftRecord) -> DraftRecord:
        try:
            return self._change(
                draft,
                {
                    "status": DraftStatus.UNKNOWN,
                    "error": "a send was cut off and nothing can tell whether it left; look "
                    "in the Sent folder, then resolve it as sent or not sent",
                },
            )
        except DraftConflict:
            return self.store.draft(draft.id) or draft

    def _settle(self, draft: DraftRecord) -> DraftRecord:
        """An interrupted send: ask the Sent folder; with no answer, the draft is unknown."""
        answer = self.transport.was_sent(self._message(draft)) if self.transport else None
        if answer is None:
            self._mark_unknown(draft)
            raise DraftConflict(
                f"draft {draft.id}: a send was cut off and nothing can tell whether it left; "
                f"look in the Sent folder{_of(draft)}, then run `ticketspike drafts resolve "
                f"{draft.id} --sent` or `--not-sent`"
            )
        if answer:
            log.info("draft %s: interrupted send found in the Sent folder", draft.id)
            return self._sent(draft)
        log.info("draft %s: interrupted send not in the Sent folder; sending", draft.id)
        return self._change(
            draft,
            {
                "sending_since": None,
                "sending_owner": None,
                "error": "an interrupted send was not found in the Sent folder",
            },
        )

    def _sent(self, draft: DraftRecord) -> DraftRecord:
        draft = self._change(
            draft,
            {
                "status": DraftStatus.SENT,
                "sent_at": self.clock(),
                "sending_since": None,
                "sending_owner": None,
                "error": None,
            },
        )
        self._discard(draft)
        return draft

    def _message(self, draft: DraftRecord) -> Any:
        if not draft.from_addr:
            raise PermanentDeliveryError(
                f"draft {draft.id} has no sender: set `email.from` or the CSM's e-mail address"
            )
        try:
            return compose_message(
                to=parse_address(draft.to, field="to"),
                sender=parse_address(draft.from_addr, field="from"),
                reply_to=parse_address(draft.reply_to, field="reply_to")
                if draft.reply_to
                else None,
                subject=draft.subject,
                body=draft.body,
                message_id=draft.message_id,
                date=self.clock(),
                draft_id=draft.id,
                key=draft.action_key,
                in_reply_to=draft.in_reply_to,
                references=draft.references,
                html=self.settings.html,
            )
        except InputError as exc:
            raise PermanentDeliveryError(f"draft {draft.id} cannot be sent: {exc}") from None

    def _send(self, draft: DraftRecord) -> DraftRecord:
        policy = self.retry
        message = self._message(draft)
        state = {"draft": draft}

        def wait(retry_state: tenacity.RetryCallState) -> float:
            exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
            hint = exc.retry_after if isinstance(exc, TransientDeliveryError) else None
            return policy.wait(retry_state.attempt_number, hint)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(TransientDeliveryError),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._send_once(state, message)
        except TransientDeliveryError as exc:
            raise TransientDeliveryError(
                f"draft {draft.id} is approved but not sent after {policy.max_attempts} "
                f"attempts: {_short(exc)}; approve it again to retry",
                retry_after=exc.retry_after,
            ) from None
        except PermanentDeliveryError as exc:
            raise PermanentDeliveryError(
                f"draft {draft.id} is approved but not sent: {_short(exc)}"
            ) from None
        return state["draft"]

    def _send_once(self, state: dict[str, DraftRecord], message: Any) -> None:
        """One attempt; ``state["draft"]`` always holds the newest record, for the next one."""
        assert self.transport is not None
        draft = state["draft"] = self._change(
            state["draft"],
            {
                "sending_since": self.clock(),
                "sending_owner": self.owner,
                "attempts": state["draft"].attempts + 1,
            },
        )
        try:
            self.transport.send(message)
        except (TransientDeliveryError, PermanentDeliveryError) as exc:
            # Nothing left: say why, and keep the approval for the next try.
            state["draft"] = self._change(
                draft, {"sending_since": None, "sending_owner": None, "error": _short(exc)}
            )
            raise
        except Exception as exc:  # noqa: BLE001 - uncertain, or a transport bug: ask, never resend
            if isinstance(exc, DeliveryUncertainError):
                reason = _short(exc)
            else:
                reason = f"{describe(self.transport)} raised {type(exc).__name__}"
            log.warning("draft %s: send interrupted (%s)", draft.id, reason)
            draft = state["draft"] = self._change(draft, {"error": reason})
            settled = state["draft"] = self._settle(draft)
            if settled.status is DraftStatus.SENT:
                return
            raise TransientDeliveryError(f"the send was cut off ({reason})") from None
        state["draft"] = self._sent(draft)

    def _discard(self, draft: DraftRecord) -> None:
        if self.transport is None or draft.folder is None:
            return
        try:
            self.transport.discard_draft(
                SavedDraft(message_id=draft.message_id, mailbox=draft.mailbox, folder=draft.folder)
            )
        except Exception as exc:  # noqa: BLE001 - the decision stands; the copy is a nicety
            log.warning(
                "draft %s: its copy in %s was not removed (%s)", draft.id, draft.folder, _short(exc)
            )


@attrs.define
class _Owning:
    """Marks a draft as being handled by this process, so its own state is not "interrupted"."""

    desk: DraftDesk
    draft_id: str

    def __enter__(self) -> None:
        with self.desk._lock:
            if self.draft_id in self.desk._in_flight:
                raise DraftConflict(f"draft {self.draft_id} is being sent right now")
            self.desk._in_flight.add(self.draft_id)

    def __exit__(self, *exc: object) -> None:
        with self.desk._lock:
            self.desk._in_flight.discard(self.draft_id)


def _who(by: str) -> str:
    if not isinstance(by, str) or not by.strip():
        raise InputError("say who decides (a name, e-mail or Slack user id)", field="by")
    return one_line(by, limit=200)


def _when(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "an unknown time"


def _of(draft: DraftRecord) -> str:
    return f" of {one_line(draft.mailbox)}" if draft.mailbox else ""
