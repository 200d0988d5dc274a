"""The typed escalation plan: what should happen, never the doing of it.

An :class:`EscalationPlan` is an ordered tuple of actions for one transition
of one spike episode. Each action carries its ``step_id`` and an idempotency
``key`` (episode id + transition + step id), so planning the same transition
twice yields the same keys and the executor never does a step twice.
Actions that need an earlier action's result (a thread reply needs its
thread) name that action's key in ``depends_on``.

Pure values: frozen, slotted attrs classes; :meth:`to_json` gives the CLI's
JSON form (docs/cli.md).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

import attrs

from ..model import Person
from ..signals import Severity, TransitionKind
from .message import AlertMessage

__all__ = [
    "Action",
    "AddToWarRoom",
    "AdjustHealthScore",
    "ChannelPost",
    "CreateTask",
    "DirectMessage",
    "DraftEmail",
    "EscalationPlan",
    "NotifyTeam",
    "Recipient",
    "ScheduleSync",
    "ThreadReply",
    "UpdateMessage",
    "action_key",
]


def action_key(episode_id: str, transition: TransitionKind | str, step_id: str) -> str:
    """The idempotency key of a step: stable across re-planning and restarts."""
    kind = transition.value if isinstance(transition, TransitionKind) else transition
    return f"{episode_id}:{kind}:{step_id}"


@attrs.frozen
class Recipient:
    """Who a message or task is for.

    ``role`` is ``csm``, ``manager``, ``champion``, a team id, or ``person``;
    ``person`` is filled when the account directory knows them. A notifier
    resolves ``person`` (slack id, or e-mail lookup); when ``person`` is
    ``None`` the action fails visibly rather than guessing.
    """

    role: str
    person: Person | None = None


@attrs.frozen(kw_only=True)
class _Base:
    kind: ClassVar[str] = ""
    step_id: str
    key: str
    depends_on: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body = attrs.asdict(self, recurse=True, value_serializer=_serialize)
        return {"kind": self.kind, **body}


def _serialize(_inst: object, _field: object, value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@attrs.frozen(kw_only=True)
class DirectMessage(_Base):
    """A direct message to one person (the CSM; the manager on escalation)."""

    kind: ClassVar[str] = "direct_message"
    recipient: Recipient
    message: AlertMessage
    urgency: str = "normal"
    include_quick_actions: bool = False


@attrs.frozen(kw_only=True)
class ChannelPost(_Base):
    """A channel post; with ``create_thread`` it roots the coordination thread."""

    kind: ClassVar[str] = "channel_post"
    channel: str
    message: AlertMessage
    create_thread: bool = False


@attrs.frozen(kw_only=True)
class ThreadReply(_Base):
    """A reply in the thread rooted by the action whose key is ``thread_key``."""

    kind: ClassVar[str] = "thread_reply"
    thread_key: str
    message: AlertMessage
    broadcast: bool = False


@attrs.frozen(kw_only=True)
class UpdateMessage(_Base):
    """Rewrite the message posted by action ``target_key`` (severity up, resolved)."""

    kind: ClassVar[str] = "update_message"
    target_key: str
    message: AlertMessage


@attrs.frozen(kw_only=True)
class CreateTask(_Base):
    """A task for review: high priority, due a few hours after detection."""

    kind: ClassVar[str] = "create_task"
    title: str
    priority: str
    due_at: datetime
    assignee: Recipient
    description: str = ""


@attrs.frozen(kw_only=True)
class DraftEmail(_Base):
    """An acknowledgement e-mail draft to the customer's champion (docs/email.md).

    Always ``requires_approval``: ticketspike never e-mails a customer on its own.
    """

    kind: ClassVar[str] = "draft_email"
    to: Recipient
    subject: str
    body: str
    sender: Recipient
    requires_approval: bool = True


@attrs.frozen(kw_only=True)
class AdjustHealthScore(_Base):
    """Move the account's health score by ``delta`` (-15 in the default workflow)."""

    kind: ClassVar[str] = "adjust_health_score"
    customer_id: str
    delta: float
    reason: str


@attrs.frozen(kw_only=True)
class AddToWarRoom(_Base):
    """Add the spike to the active war room / escalation dashboard."""

    kind: ClassVar[str] = "add_to_war_room"
    war_room: str
    customer_id: str
    summary: str


@attrs.frozen(kw_only=True)
class ScheduleSync(_Base):
    """Schedule an internal sync when several P1 tickets are in the spike."""

    kind: ClassVar[str] = "schedule_sync"
    attendees: tuple[Recipient, ...]
    within_hours: float
    reason: str


@attrs.frozen(kw_only=True)
class NotifyTeam(_Base):
    """Route the spike to a team (docs/workflow.md): support_lead, product, finance, ..."""

    kind: ClassVar[str] = "notify_team"
    team: str
    reason: str
    message: AlertMessage
    channel: str | None = None


Action = (
    DirectMessage
    | ChannelPost
    | ThreadReply
    | UpdateMessage
    | CreateTask
    | DraftEmail
    | AdjustHealthScore
    | AddToWarRoom
    | ScheduleSync
    | NotifyTeam
)


@attrs.frozen(kw_only=True)
class EscalationPlan:
    """The ordered actions for one transition of one episode.

    ``notes`` say what the planner could not do and why (no manager known,
    no champion e-mail...). ``progress`` is the resolution progress a
    dashboard shows (docs/http.md): e.g. ``{"stage": "opened", "steps": 7}``.
    """

    episode_id: str
    transition: TransitionKind
    customer_id: str
    severity: Severity
    at: datetime
    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()
    routed_teams: tuple[str, ...] = ()
    progress: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "transition": self.transition.value,
            "customer_id": self.customer_id,
            "severity": self.severity.value,
            "at": self.at.isoformat(),
            "actions": [a.to_json() for a in self.actions],
            "notes": list(self.notes),
            "routed_teams": list(self.routed_teams),
            "progress": dict(self.progress),
        }
