"""JSON forms of what the store keeps: ticket events and escalation plans, both ways.

Plans are stored as their own JSON form (:meth:`EscalationPlan.to_json`, which people read in
``ticketspike outbox --format json``) and rebuilt from it when an executor in another process
picks the actions up. Rebuilding is driven by the attrs classes' own type hints, so a field the
planner adds later round-trips without touching this module. JSON, not pickle: a store file is
data, and loading it must never run code.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Union

import attrs

from ..errors import StoreError
from ..model import Ticket, TicketEvent, parse_time, ticket_event_from_json
from ..planner import plan as plan_module
from ..planner.plan import Action, EscalationPlan

__all__ = [
    "action_from_json",
    "event_from_json",
    "event_to_json",
    "plan_from_json",
    "ticket_from_json",
]

_ACTION_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        plan_module.DirectMessage,
        plan_module.ChannelPost,
        plan_module.ThreadReply,
        plan_module.UpdateMessage,
        plan_module.CreateTask,
        plan_module.DraftEmail,
        plan_module.AdjustHealthScore,
        plan_module.AddToWarRoom,
        plan_module.ScheduleSync,
        plan_module.NotifyTeam,
    )
}


def event_to_json(event: TicketEvent) -> dict[str, Any]:
    """A ticket event as canonical ticket JSON plus the event's own keys."""
    out = event.ticket.to_json()
    out["event"] = event.kind.value
    out["categoryGiven"] = event.ticket.category_given
    if event.occurred_at is not None:
        out["occurredAt"] = event.occurred_at.isoformat()
    if event.event_id is not None:
        out["eventId"] = event.event_id
    return out


def event_from_json(data: Mapping[str, Any]) -> TicketEvent:
    """The inverse of :func:`event_to_json`."""
    body = {k: v for k, v in data.items() if k not in ("categoryGiven", "eventId")}
    event = ticket_event_from_json(body, where="store")
    ticket = event.ticket
    given = data.get("categoryGiven")
    if isinstance(given, bool) and given != ticket.category_given:
        ticket = attrs.evolve(ticket, category_given=given)
    event_id = data.get("eventId")
    return attrs.evolve(
        event, ticket=ticket, event_id=event_id if isinstance(event_id, str) else None
    )


def ticket_from_json(data: Mapping[str, Any]) -> Ticket:
    return event_from_json(data).ticket


def action_from_json(data: Mapping[str, Any]) -> Action:
    """Rebuild one plan action from its JSON form (dispatching on ``kind``)."""
    kind = data.get("kind")
    cls = _ACTION_TYPES.get(str(kind))
    if cls is None:
        raise StoreError(f"stored action has unknown kind {kind!r}")
    body = {k: v for k, v in data.items() if k != "kind"}
    return _structure(cls, body)  # type: ignore[no-any-return]


def plan_from_json(data: Mapping[str, Any]) -> EscalationPlan:
    """Rebuild an :class:`EscalationPlan` from :meth:`EscalationPlan.to_json`."""
    body = dict(data)
    actions = tuple(action_from_json(a) for a in body.pop("actions", ()))
    plan = _structure(EscalationPlan, {**body, "actions": []})
    return attrs.evolve(plan, actions=actions)  # type: ignore[no-any-return]


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _structure(tp: Any, value: Any) -> Any:
    """Turn plain JSON into ``tp``, following attrs fields and typing hints."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        last: Exception | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _structure(arg, value)
            except (TypeError, ValueError, KeyError, StoreError) as exc:
                last = exc
        raise StoreError(f"stored value {value!r} fits none of {tp}") from last
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_structure(args[0], v) for v in value)
        return tuple(_structure(a, v) for a, v in zip(args, value, strict=True))
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        return dict(value)
    if origin is typing.ClassVar:
        return value
    if isinstance(tp, type):
        if attrs.has(tp):
            if not isinstance(value, Mapping):
                raise StoreError(f"expected a mapping for {tp.__name__}, got {value!r}")
            hints = _hints(tp)
            kwargs = {
                f.name: _structure(hints.get(f.name, Any), value[f.name])
                for f in attrs.fields(tp)
                if f.init and f.name in value
            }
            return tp(**kwargs)
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is datetime:
            return parse_time(value, where="store", field="time")
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"expected a number, got {value!r}")
            return float(value)
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"expected a whole number, got {value!r}")
            return value
        if tp is bool:
            if not isinstance(value, bool):
                raise TypeError(f"expected true or false, got {value!r}")
            return value
        if tp is str:
            if not isinstance(value, str):
                raise TypeError(f"expected a string, got {value!r}")
            return value
    return value
