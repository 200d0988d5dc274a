"""A plan as short human lines, for the command line and the console outbox.

One line per action saying what it would do and for whom, then the notes.
Ticket-derived text appears only inside quotes taken from the action's own
fields; nothing here evaluates it. Pure.
"""

from __future__ import annotations

from .plan import (
    Action,
    AddToWarRoom,
    AdjustHealthScore,
    ChannelPost,
    CreateTask,
    DirectMessage,
    DraftEmail,
    EscalationPlan,
    NotifyTeam,
    Recipient,
    ScheduleSync,
    ThreadReply,
    UpdateMessage,
)

__all__ = ["action_line", "plan_lines"]


def _who(recipient: Recipient) -> str:
    person = recipient.person
    if person is None:
        return f"{recipient.role} (unknown)"
    name = person.name or person.slack_id or person.email or "?"
    return name if recipient.role == "person" else f"{recipient.role} {name}"


def action_line(action: Action) -> str:
    """``direct_message to csm Mike Johnson (urgency high)``, and so on."""
    if isinstance(action, DirectMessage):
        return f"direct message to {_who(action.recipient)} (urgency {action.urgency})"
    if isinstance(action, ChannelPost):
        thread = ", opens the coordination thread" if action.create_thread else ""
        return f"post in {action.channel}{thread}"
    if isinstance(action, ThreadReply):
        return f"reply in the thread of {action.thread_key}: {action.message.title}"
    if isinstance(action, UpdateMessage):
        return f"update the message of {action.target_key}: {action.message.title}"
    if isinstance(action, CreateTask):
        return (
            f"task {action.title!r} for {_who(action.assignee)}, priority "
            f"{action.priority}, due {action.due_at.isoformat()}"
        )
    if isinstance(action, DraftEmail):
        return f"e-mail draft to {_who(action.to)}: {action.subject!r} (requires approval)"
    if isinstance(action, AdjustHealthScore):
        return f"health score {action.delta:+g}: {action.reason}"
    if isinstance(action, AddToWarRoom):
        return f"add to war room {action.war_room}"
    if isinstance(action, ScheduleSync):
        people = ", ".join(_who(a) if a.person else a.role for a in action.attendees)
        return f"schedule a sync within {action.within_hours:g}h with {people}: {action.reason}"
    assert isinstance(action, NotifyTeam)
    where = f" in {action.channel}" if action.channel else ""
    return f"notify team {action.team}{where} ({action.reason})"


def plan_lines(plan: EscalationPlan) -> list[str]:
    """Numbered actions, then ``note:`` lines."""
    head = (
        f"plan for {plan.customer_id} ({plan.transition.value}, "
        f"{plan.severity.value}, episode {plan.episode_id}):"
    )
    lines = [head]
    lines.extend(f"  {i}. {action_line(a)}" for i, a in enumerate(plan.actions, 1))
    if not plan.actions:
        lines.append("  nothing to do")
    lines.extend(f"  note: {note}" for note in plan.notes)
    return lines
