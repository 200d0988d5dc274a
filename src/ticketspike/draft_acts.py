"""Acknowledgement e-mail drafts, as engine methods: list, read, approve, reject, settle.

A draft is written by the mail drafter when an episode's plan asks for an acknowledgement;
a person approves it (optionally edited) before it is sent, exactly once. The rules live in
:class:`~ticketspike.drafts.DraftDesk`; these methods are the engine's face for them, used by
the CLI (``ticketspike drafts``), the HTTP API and the escalation page (``docs/email.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .drafts import DraftDesk
    from .store.drafts import DraftRecord, DraftStatus

__all__ = ["DraftActs"]


class DraftActs:
    """The drafts part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    desk: DraftDesk

    def drafts(
        self, *, status: DraftStatus | None = None, episode_id: str | None = None
    ) -> list[DraftRecord]:
        """Acknowledgement drafts, oldest first (``ticketspike drafts list``)."""
        return self.desk.list(status=status, episode_id=episode_id)

    def draft(self, draft_id: str) -> DraftRecord | None:
        """One draft by id (or by its action key), or None."""
        return self.desk.get(draft_id)

    def approve_draft(
        self,
        draft_id: str,
        *,
        by: str,
        subject: str | None = None,
        body: str | None = None,
        confirm_resolved: bool = False,
    ) -> DraftRecord:
        """Approve a draft (optionally edited) and send it, exactly once.

        Returns the sent record; approving a sent draft returns it unchanged. Raises
        :class:`~ticketspike.errors.DraftConflict` for a rejected or ``unknown`` draft, or one
        whose episode resolved unless ``confirm_resolved``; a send that fails raises a
        :class:`~ticketspike.errors.DeliveryError` and leaves the approval recorded.
        """
        return self.desk.approve(
            draft_id, by=by, subject=subject, body=body, confirm_resolved=confirm_resolved
        )

    def reject_draft(self, draft_id: str, *, by: str, reason: str | None = None) -> DraftRecord:
        """Reject a draft: recorded with who and why, never sent."""
        return self.desk.reject(draft_id, by=by, reason=reason)

    def resolve_draft(self, draft_id: str, *, by: str, sent: bool) -> DraftRecord:
        """Settle an ``unknown`` draft after a person looked in the Sent folder."""
        return self.desk.resolve(draft_id, by=by, sent=sent)
