"""Built-in task and health-score sinks: record the action in the outbox for the host.

The engine's executor writes every executed action to the store's outbox, whatever plugin
carried it out; for review tasks, war-room entries, internal syncs and health-score
adjustments (docs/records.md), when no plugin connects to a real task tracker or CRM,
recording is the whole job. Whichever handler serves these kinds, the engine also keeps each
as a record (:mod:`ticketspike.records`: a task with its status, a health-score ledger entry,
a war-room entry, a sync) and reports it as an outbound event. Each is described in one line
a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import attrs

from ..errors import PermanentDeliveryError
from ..hookspecs import hookimpl
from ..planner.plan import (
    Action,
    AddToWarRoom,
    AdjustHealthScore,
    CreateTask,
    Recipient,
    ScheduleSync,
)
from ..roles import ActionContext, ActionHandler, ActionResult, PluginConfig
from .text import one_line

__all__ = ["OutboxRecorder", "register_action_handlers"]

TASK_KINDS: frozenset[type[Action]] = frozenset({CreateTask, AddToWarRoom, ScheduleSync})
HEALTH_KINDS: frozenset[type[Action]] = frozenset({AdjustHealthScore})


def _who(recipient: Recipient) -> str:
    person = recipient.person
    if person is not None and person.name:
        return f"{one_line(person.name)} ({recipient.role})"
    return recipient.role


def describe(action: Action) -> str:
    """One line saying what the recorded action asks for."""
    if isinstance(action, CreateTask):
        return (
            f"task {one_line(action.title)!r} for {_who(action.assignee)}, priority "
            f"{action.priority}, due {action.due_at.isoformat()}"
        )
    if isinstance(action, AdjustHealthScore):
        return (
            f"health score {action.delta:+g} for {one_line(action.customer_id)}: "
            f"{one_line(action.reason)}"
        )
    if isinstance(action, AddToWarRoom):
        return f"add {one_line(action.customer_id)} to war room {one_line(action.war_room)}"
    if isinstance(action, ScheduleSync):
        people = ", ".join(_who(r) for r in action.attendees) or "no attendees"
        return f"sync within {action.within_hours:g} h with {people}: {one_line(action.reason)}"
    raise PermanentDeliveryError(f"the outbox does not record {action.kind!r}")


@attrs.frozen
class OutboxRecorder:
    """An :class:`~ticketspike.roles.ActionHandler` whose delivery is the outbox record."""

    kinds: frozenset[type[Action]] = TASK_KINDS
    name: str = "outbox"

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        return ActionResult(ref={"outbox": action.key}, summary=describe(action))


@hookimpl
def register_action_handlers(
    register: Callable[[ActionHandler], None], config: PluginConfig
) -> None:
    # Frozen values satisfy the protocol at run time; mypy wants ``name`` settable.
    register(cast(ActionHandler, OutboxRecorder(kinds=TASK_KINDS)))
    register(cast(ActionHandler, OutboxRecorder(kinds=HEALTH_KINDS)))
