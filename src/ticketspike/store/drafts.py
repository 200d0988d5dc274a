"""Acknowledgement e-mail drafts as the store keeps them: content, decision and sending state.

A draft is made once per ``draft_email`` action (its id is derived from the action key), and
from then on only its state moves: ``awaiting_approval`` -> ``approved`` -> ``sent``, or
``rejected``; ``unknown`` when a send was interrupted and nothing can tell whether the message
left (a person looks in the Sent folder and settles it). Changes are compare-and-set on
``version``, so two people approving at once, or two processes, cannot both send.

The store never decides anything about drafts: :mod:`ticketspike.drafts` does, and this module
only defines the record and keeps it, in memory (:class:`MemoryDrafts`) or SQLite
(:class:`SQLiteDrafts`), each mixed into its store.
"""

from __future__ import annotations

import enum
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

__all__ = [
    "DraftRecord",
    "DraftStatus",
    "DraftStore",
    "MemoryDrafts",
    "SQLiteDrafts",
    "draft_id_for",
]


class DraftStatus(str, enum.Enum):
    """Where a draft stands. ``sent`` and ``rejected`` are final."""

    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    SENT = "sent"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


def draft_id_for(action_key: str) -> str:
    """The draft id of a ``draft_email`` action: short, stable, safe in a URL path."""
    return "dr_" + hashlib.sha256(action_key.encode("utf-8")).hexdigest()[:16]


def _opt_iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


@attrs.frozen(kw_only=True)
class DraftRecord:
    """One acknowledgement draft.

    ``message_id`` is fixed when the draft is made and never changes: it is how a send is
    recognised in the Sent folder, and how a reply threads. ``mailbox`` and ``folder`` say
    where the draft was saved (``None`` when it lives only here or in a file). While a send
    is under way ``sending_since`` and ``sending_owner`` are set; a record that still has
    them after its owner stopped is an interrupted send.
    """

    id: str
    episode_id: str
    customer_id: str
    action_key: str
    status: DraftStatus
    to: str
    from_addr: str
    reply_to: str | None
    subject: str
    body: str
    message_id: str
    mailbox: str | None
    folder: str | None
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    sent_at: datetime | None = None
    error: str | None = None
    reason: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    file: str | None = None
    attempts: int = 0
    sending_since: datetime | None = None
    sending_owner: str | None = None
    updated_at: datetime | None = None
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "to": self.to,
            "subject": self.subject,
            "episode_id": self.episode_id,
            "customer_id": self.customer_id,
            "action_key": self.action_key,
            "from": self.from_addr,
            "reply_to": self.reply_to,
            "body": self.body,
            "message_id": self.message_id,
            "mailbox": self.mailbox,
            "folder": self.folder,
            "created_at": _opt_iso(self.created_at),
            "decided_by": self.decided_by,
            "decided_at": _opt_iso(self.decided_at),
            "sent_at": _opt_iso(self.sent_at),
            "error": self.error,
            "reason": self.reason,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "file": self.file,
            "attempts": self.attempts,
            "sending_since": _opt_iso(self.sending_since),
            "sending_owner": self.sending_owner,
            "updated_at": _opt_iso(self.updated_at),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DraftRecord:
        created = _opt_time(data["created_at"])
        assert created is not None
        return cls(
            id=str(data["id"]),
            episode_id=str(data["episode_id"]),
            customer_id=str(data["customer_id"]),
            action_key=str(data["action_key"]),
            status=DraftStatus(data["status"]),
            to=str(data["to"]),
            from_addr=str(data["from"]),
            reply_to=data.get("reply_to"),
            subject=str(data["subject"]),
            body=str(data["body"]),
            message_id=str(data["message_id"]),
            mailbox=data.get("mailbox"),
            folder=data.get("folder"),
            created_at=created,
            decided_by=data.get("decided_by"),
            decided_at=_opt_time(data.get("decided_at")),
            sent_at=_opt_time(data.get("sent_at")),
            error=data.get("error"),
            reason=data.get("reason"),
            in_reply_to=data.get("in_reply_to"),
            references=tuple(data.get("references") or ()),
            file=data.get("file"),
            attempts=int(data.get("attempts") or 0),
            sending_since=_opt_time(data.get("sending_since")),
            sending_owner=data.get("sending_owner"),
            updated_at=_opt_time(data.get("updated_at")),
            version=int(data.get("version") or 0),
        )


# Fields a change may set; identity, content origin and version are the store's.
_CHANGEABLE = frozenset(
    {
        "status",
        "subject",
        "body",
        "mailbox",
        "folder",
        "decided_by",
        "decided_at",
        "sent_at",
        "error",
        "reason",
        "attempts",
        "sending_since",
        "sending_owner",
    }
)


def _changed(record: DraftRecord, changes: Mapping[str, Any], at: datetime) -> DraftRecord:
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise ValueError(f"draft fields that cannot change: {', '.join(sorted(unknown))}")
    return attrs.evolve(record, **changes, updated_at=at, version=record.version + 1)


def _matches(record: DraftRecord, status: DraftStatus | None, episode_id: str | None) -> bool:
    return (status is None or record.status is status) and (
        episode_id is None or record.episode_id == episode_id
    )


class DraftStore(Protocol):
    """Acknowledgement e-mail drafts (:mod:`.drafts`)."""

    def add_draft(self, record: DraftRecord) -> bool:
        """Record a new draft; False, writing nothing, when its id is already recorded."""
        ...

    def draft(self, draft_id: str) -> DraftRecord | None: ...

    def drafts(
        self, *, status: DraftStatus | None = None, episode_id: str | None = None
    ) -> list[DraftRecord]:
        """Drafts, oldest first."""
        ...

    def change_draft(
        self, draft_id: str, changes: Mapping[str, Any], *, version: int, at: datetime
    ) -> DraftRecord | None:
        """Apply ``changes`` if the draft is still at ``version``; the new record, or None."""
        ...


class MemoryDrafts:
    """The drafts part of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    transaction: Callable[[], AbstractContextManager[None]]

    def _draft_table(self) -> dict[str, str]:
        table: dict[str, str] | None = getattr(self, "_drafts_rows", None)
        if table is None:
            table = {}
            self._drafts_rows = table
        return table

    def add_draft(self, record: DraftRecord) -> bool:
        with self.transaction():
            table = self._draft_table()
            if record.id in table:
                return False
            self._set(table, record.id, json.dumps(record.to_json()))
            return True

    def draft(self, draft_id: str) -> DraftRecord | None:
        with self._lock:
            raw = self._draft_table().get(draft_id)
            return None if raw is None else DraftRecord.from_json(json.loads(raw))

    def drafts(
        self, *, status: DraftStatus | None = None, episode_id: str | None = None
    ) -> list[DraftRecord]:
        with self._lock:
            found = [DraftRecord.from_json(json.loads(r)) for r in self._draft_table().values()]
        found = [r for r in found if _matches(r, status, episode_id)]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def change_draft(
        self, draft_id: str, changes: Mapping[str, Any], *, version: int, at: datetime
    ) -> DraftRecord | None:
        with self.transaction():
            current = self.draft(draft_id)
            if current is None or current.version != version:
                return None
            new = _changed(current, changes, at)
            self._set(self._draft_table(), draft_id, json.dumps(new.to_json()))
            return new


class SQLiteDrafts:
    """The drafts part of :class:`~ticketspike.store.sqlite.SQLiteStore` (table ``drafts``)."""

    _lock: threading.RLock
    transaction: Callable[[], AbstractContextManager[None]]
    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]

    def add_draft(self, record: DraftRecord) -> bool:
        return (
            self._exec(
                "INSERT INTO drafts (id, episode_id, customer_id, action_key, status,"
                " created_at, version, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (
                    record.id,
                    record.episode_id,
                    record.customer_id,
                    record.action_key,
                    record.status.value,
                    _opt_iso(record.created_at),
                    record.version,
                    json.dumps(record.to_json()),
                ),
            )
            == 1
        )

    def draft(self, draft_id: str) -> DraftRecord | None:
        row = self._one("SELECT record FROM drafts WHERE id = ?", (draft_id,))
        return None if row is None else DraftRecord.from_json(json.loads(row[0]))

    def drafts(
        self, *, status: DraftStatus | None = None, episode_id: str | None = None
    ) -> list[DraftRecord]:
        sql = "SELECT record FROM drafts"
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if episode_id is not None:
            where.append("episode_id = ?")
            params.append(episode_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, id"
        rows: Sequence[Any] = self._all(sql, params)
        return [DraftRecord.from_json(json.loads(r[0])) for r in rows]

    def change_draft(
        self, draft_id: str, changes: Mapping[str, Any], *, version: int, at: datetime
    ) -> DraftRecord | None:
        with self.transaction():
            current = self.draft(draft_id)
            if current is None or current.version != version:
                return None
            new = _changed(current, changes, at)
            changed = self._exec(
                "UPDATE drafts SET status = ?, version = ?, record = ?"
                " WHERE id = ? AND version = ?",
                (new.status.value, new.version, json.dumps(new.to_json()), draft_id, version),
            )
            return new if changed == 1 else None
