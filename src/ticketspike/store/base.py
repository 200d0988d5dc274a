"""The store interface: what the engine keeps, and the records it hands back.

One :class:`Store` protocol, two implementations: :class:`~ticketspike.store.memory.MemoryStore`
for tests and short-lived hosts, :class:`~ticketspike.store.sqlite.SQLiteStore` as the embedded
default. Both keep the same things with the same guarantees, which the contract tests check
against both:

* tickets, idempotent on ``(source, ticket_id)``: a second delivery of the same ticket never
  counts again; an update may change category, priority or status, never the count, by the
  rule the detector applies (:func:`merged_event`);
* an inbox of received events (webhooks are stored first and processed later, so a web request
  never waits for detection or notification);
* webhook delivery ids with a time to live, so a replayed delivery is dropped;
* detector state per customer (a JSON document with a version, so several processes sharing
  one store reload each other's changes);
* episodes, transitions (unique per episode and kind: a second process cannot record, and so
  cannot alert on, the same transition twice), plans, each action's execution record and every
  attempt at it, and the outbox of executed actions;
* named cursors (where an interrupted backfill resumes).

Every method is atomic on its own; :meth:`Store.transaction` groups several calls into one
all-or-nothing unit, so a crash never leaves a half-written record. The store never reads the
clock: every time it records is passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import attrs

from ..model import (
    Category,
    EventKind,
    Ticket,
    TicketEvent,
    event_row,
    merge_update,
    ticket_fields,
)
from ..planner.plan import EscalationPlan
from ..signals import Transition
from ..unmatched import Unmatched, UnmatchedRecord
from .drafts import DraftStore
from .incidents import IncidentRecords
from .interactions import InteractionStore
from .outbound import OutboundStore
from .parking import Parking
from .records import RecordStore
from .source_health import SourceHealthStore

__all__ = [
    "ActionRecord",
    "ActionStatus",
    "AttemptRecord",
    "EpisodeRecord",
    "OutboxEntry",
    "PlanRecord",
    "PutOutcome",
    "ActionLedger",
    "CursorStore",
    "DeliveryStore",
    "DetectorStateStore",
    "EpisodeLog",
    "InboxStore",
    "Store",
    "StoreBasics",
    "TicketStore",
    "UnmatchedStore",
    "TicketRecord",
    "TransitionRecord",
]


class PutOutcome(str, enum.Enum):
    """What storing a ticket event did.

    ``NEW``: first time this ticket was seen (it counts, unless internal).
    ``UPDATED``: known ticket whose category, priority or status changed (never counts again).
    ``DUPLICATE``: known ticket, nothing changed (a redelivery).
    """

    NEW = "new"
    UPDATED = "updated"
    DUPLICATE = "duplicate"


class ActionStatus(str, enum.Enum):
    """Where an action stands. ``DONE`` is final: a done key is never executed again."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@attrs.frozen
class TicketRecord:
    """A stored ticket with its status (``open`` or ``resolved``) and bookkeeping times."""

    ticket: Ticket
    status: str
    received_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            **self.ticket.to_json(),
            "status": self.status,
            "receivedAt": self.received_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
        }


@attrs.frozen
class EpisodeRecord:
    """A spike episode as the store last saw it (the dashboard's data)."""

    episode_id: str
    customer_id: str
    severity: str
    status: str  # "active" or "resolved"
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    last_transition: str
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    suppressed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "customer_id": self.customer_id,
            "severity": self.severity,
            "status": self.status,
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "last_transition": self.last_transition,
            "metadata": dict(self.metadata),
            "suppressed": self.suppressed,
        }


@attrs.frozen
class TransitionRecord:
    """A recorded transition: ``data`` is :meth:`Transition.to_json`."""

    episode_id: str
    kind: str
    at: datetime
    customer_id: str
    severity: str
    suppressed: str | None
    recorded_at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class PlanRecord:
    """A stored plan: ``plan_id`` is ``episode_id:transition``."""

    plan_id: str
    seq: int
    plan: EscalationPlan
    created_at: datetime


@attrs.frozen
class ActionRecord:
    """One action's execution record.

    ``action`` is the action's JSON form (:meth:`to_json` of the plan action); ``ref`` is the
    result a later step may need (``{"channel": ..., "ts": ...}``).
    """

    key: str
    plan_id: str
    episode_id: str
    customer_id: str
    seq: int
    kind: str
    step_id: str
    status: ActionStatus
    attempts: int
    depends_on: tuple[str, ...]
    action: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    handler: str | None = None
    ref: Mapping[str, str] = attrs.field(factory=dict)
    summary: str = ""
    error: str | None = None
    owner: str | None = None
    lease_until: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "plan_id": self.plan_id,
            "episode_id": self.episode_id,
            "customer_id": self.customer_id,
            "kind": self.kind,
            "step_id": self.step_id,
            "status": self.status.value,
            "attempts": self.attempts,
            "depends_on": list(self.depends_on),
            "handler": self.handler,
            "ref": dict(self.ref),
            "summary": self.summary,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@attrs.frozen
class AttemptRecord:
    """One attempt at one action; ``outcome`` is done, transient, permanent or interrupted."""

    key: str
    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    handler: str | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "number": self.number,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "outcome": self.outcome,
            "handler": self.handler,
            "error": self.error,
        }


@attrs.frozen
class OutboxEntry:
    """An executed action, as the outbox records it for people and host systems."""

    seq: int
    key: str
    kind: str
    handler: str
    episode_id: str
    customer_id: str
    executed_at: datetime
    summary: str
    ref: Mapping[str, str] = attrs.field(factory=dict)
    action: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "key": self.key,
            "kind": self.kind,
            "handler": self.handler,
            "episode_id": self.episode_id,
            "customer_id": self.customer_id,
            "executed_at": self.executed_at.isoformat(),
            "summary": self.summary,
            "ref": dict(self.ref),
            "action": dict(self.action),
        }


class StoreBasics(Protocol):
    """What every store has: transactions, a location for people, ``close``."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group calls into one all-or-nothing unit; nested uses join the outer one."""
        ...

    def close(self) -> None: ...

    @property
    def location(self) -> str:
        """Where the data lives, for people (a file path, or ``memory``)."""
        ...


class TicketStore(Protocol):
    """Tickets, idempotent on ``(source, ticket_id)``."""

    def put_ticket(self, event: TicketEvent, *, at: datetime) -> PutOutcome:
        """Store a ticket event idempotently on ``(source, ticket_id)``."""
        ...

    def get_ticket(self, source: str, ticket_id: str) -> TicketRecord | None: ...

    def tickets(
        self,
        *,
        customer_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_internal: bool = True,
    ) -> list[TicketRecord]:
        """Stored tickets by creation time, oldest first.

        ``since`` is exclusive and ``until`` inclusive, like a detection window.
        """
        ...

    def ticket_count(self) -> int: ...


class InboxStore(Protocol):
    """Stored events waiting for detection (webhooks are answered before it runs)."""

    def set_category(self, source: str, ticket_id: str, category: Category) -> None:
        """Record the category a classifier gave a ticket whose source gave none."""
        ...

    def enqueue(
        self, items: Sequence[tuple[TicketEvent, PutOutcome]], *, received_at: datetime
    ) -> int:
        """Add stored events (with what storing them did) to the inbox; returns how many."""
        ...

    def pending_events(self, *, limit: int = 500) -> list[tuple[int, TicketEvent, PutOutcome]]:
        """The oldest unprocessed inbox events: sequence number, event, storing outcome."""
        ...

    def mark_processed(self, seqs: Sequence[int]) -> None: ...

    def pending_event_count(self) -> int: ...


class DeliveryStore(Protocol):
    """Webhook delivery ids with a time to live, so a replayed delivery is dropped."""

    def remember_delivery(
        self, source: str, delivery_id: str, *, at: datetime, ttl_seconds: float
    ) -> bool:
        """Record a delivery id; False when it was already seen within its time to live."""
        ...


class DetectorStateStore(Protocol):
    """Detector state per customer: a JSON document with a version, so processes
    sharing one store reload each other's changes."""

    def load_state(self, customer_id: str) -> tuple[int, dict[str, Any]] | None:
        """``(version, state)`` of a customer's detector state, or None."""
        ...

    def state_version(self, customer_id: str) -> int:
        """The stored version (0 when there is none); cheap."""
        ...

    def state_versions(self, customer_ids: Sequence[str]) -> dict[str, int]:
        """:meth:`state_version` of several customers in one read (absent ones: 0)."""
        ...

    def save_state(self, customer_id: str, state: Mapping[str, Any], *, at: datetime) -> int:
        """Save a customer's state; returns the new version."""
        ...

    def state_customers(self) -> list[str]: ...


class EpisodeLog(Protocol):
    """Episodes, transitions (one per episode and kind: the guard against alerting
    twice) and plans."""

    def record_transition(
        self, transition: Transition, plan: EscalationPlan | None, *, at: datetime
    ) -> bool:
        """Record a transition (and its plan's pending actions) once.

        Returns False, writing nothing, when this episode already has a transition of this
        kind: that is what keeps two processes from alerting twice.
        """
        ...

    def episodes(self, *, active_only: bool = False) -> list[EpisodeRecord]: ...

    def episode(self, episode_id: str) -> EpisodeRecord | None: ...

    def active_episode(self, customer_id: str) -> EpisodeRecord | None: ...

    def transitions(self, *, episode_id: str | None = None) -> list[TransitionRecord]: ...

    def plans(self, *, episode_id: str | None = None) -> list[PlanRecord]: ...

    def plan(self, plan_id: str) -> PlanRecord | None: ...


class ActionLedger(Protocol):
    """Each action's record, its lease and attempts, and the outbox of executed actions."""

    def actions(
        self,
        *,
        status: ActionStatus | None = None,
        episode_id: str | None = None,
        plan_id: str | None = None,
    ) -> list[ActionRecord]:
        """Action records in execution order (plan order, then step order)."""
        ...

    def action(self, key: str) -> ActionRecord | None: ...

    def claim_action(
        self, key: str, *, owner: str, lease_until: float, at: datetime
    ) -> ActionRecord | None:
        """Move a pending action to running for ``owner``; None if someone else has it."""
        ...

    def renew_lease(self, key: str, *, owner: str, lease_until: float) -> bool: ...

    def start_attempt(self, key: str, *, owner: str, handler: str | None, at: datetime) -> int:
        """Count and record a new attempt; returns its number."""
        ...

    def finish_attempt(
        self, key: str, number: int, *, outcome: str, error: str | None, at: datetime
    ) -> None: ...

    def complete_action(
        self,
        key: str,
        *,
        owner: str,
        handler: str,
        ref: Mapping[str, str],
        summary: str,
        at: datetime,
    ) -> bool:
        """Mark done and append the outbox entry, in one transaction."""
        ...

    def fail_action(
        self, key: str, *, owner: str | None, handler: str | None, error: str, at: datetime
    ) -> bool:
        """Mark failed for good (visible, re-runnable with :meth:`reset_failed`)."""
        ...

    def release_action(self, key: str, *, owner: str, at: datetime) -> bool:
        """Hand a running action back to pending (an interrupted run)."""
        ...

    def running_actions(self) -> list[ActionRecord]: ...

    def reset_failed(self, keys: Sequence[str] | None = None, *, at: datetime) -> int:
        """Failed actions back to pending, so the next run tries them again."""
        ...

    def attempts(self, key: str | None = None) -> list[AttemptRecord]: ...

    # -- outbox ------------------------------------------------------------------
    def outbox(self, *, customer_id: str | None = None) -> list[OutboxEntry]: ...


class CursorStore(Protocol):
    """Named cursors (where an interrupted backfill resumes)."""

    def get_cursor(self, name: str) -> str | None: ...

    def set_cursor(self, name: str, cursor: str | None, *, at: datetime) -> None: ...


class UnmatchedStore(Protocol):
    """Records a source could not tie to a customer, kept until it can."""

    def put_unmatched(self, item: Unmatched, *, at: datetime) -> None:
        """Keep ``item``; seen again, its reason and payload are refreshed and attempts counted."""
        ...

    def unmatched(self, *, source: str | None = None) -> list[UnmatchedRecord]:
        """Every kept record (of ``source``), oldest first."""
        ...

    def drop_unmatched(self, source: str, record_id: str) -> bool:
        """Forget a record (it resolved); ``False`` when it was not kept."""
        ...


class Store(
    StoreBasics,
    TicketStore,
    InboxStore,
    DeliveryStore,
    DetectorStateStore,
    EpisodeLog,
    ActionLedger,
    CursorStore,
    UnmatchedStore,
    InteractionStore,
    DraftStore,
    SourceHealthStore,
    IncidentRecords,
    Parking,
    RecordStore,
    OutboundStore,
    Protocol,
):
    """Everything the engine persists: every role at once. See the module docstring for the
    guarantees; a store is written one role at a time (see :mod:`.sqlcore`).
    """


def plan_id_of(plan: EscalationPlan) -> str:
    """The plan's identity: one plan per episode and transition."""
    return f"{plan.episode_id}:{plan.transition.value}"


def merged_event(stored: TicketEvent, event: TicketEvent) -> TicketEvent | None:
    """What the store keeps of a ticket after ``event``, or None if ``event`` changes nothing
    (a ticket equal to ``stored``'s: the ticket changed, or only the time it is as of).

    ``stored`` is the kept event: the ticket with its fields as of ``stored``'s time (see
    :func:`~ticketspike.model.ticket_fields`). The fields merge by the one update rule the
    detector applies too (:func:`~ticketspike.model.merge_update`): only an update newer than
    the last one applied changes them; priority always, category only when the source gave
    one, the URL only when the update has one. The result is kept as an ``updated`` event at
    the update's time, so the next update is judged against it.
    """
    held = ticket_fields(stored)
    fields = merge_update(held, event_row(event))
    if fields is None:
        return None
    old = stored.ticket
    ticket = attrs.evolve(
        old,
        category=fields.category,
        priority=fields.priority,
        url=fields.url,
        category_given=old.category_given or event.ticket.category_given,
    )
    if ticket == old and fields.as_of == held.as_of:
        return None  # a redelivery of the update last applied
    return TicketEvent(ticket=ticket, kind=EventKind.UPDATED, occurred_at=event.at)
