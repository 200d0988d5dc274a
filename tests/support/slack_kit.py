"""Plans, messages and an executor-shaped context for the Slack adapter tests.

The context stands in for the engine's executor: it records each action's
result under its key and answers ``result_of``, which is all a notifier may
ask. The notifier and the Slack client under test are real.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import attrs

from ticketspike import (
    Account,
    Action,
    ActionResult,
    AlertMessage,
    ChannelPost,
    DeliveryError,
    DirectMessage,
    EscalationPlan,
    NotifyTeam,
    Person,
    Recipient,
    Severity,
    ThreadReply,
    TransitionKind,
    UpdateMessage,
)
from ticketspike.planner.message import BreakdownRow, Link, MessageKind

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
EPISODE = "acme-2026-03-02"

MANAGER = Person(name="Dana Lee", email="dana.lee@example.com", slack_id="U0MANAGER")
CSM = Person(name="Mike Johnson", email="mike.johnson@example.com", manager=MANAGER)


def alert(**changes: Any) -> AlertMessage:
    """The example alert (TechCorp Inc, 15 tickets, 6.5x)."""
    base = AlertMessage(
        kind=MessageKind.ALERT,
        title="SUPPORT SPIKE ALERT: TechCorp Inc",
        customer_id="acme",
        customer_name="TechCorp Inc",
        severity=Severity.CRITICAL,
        ticket_count=15,
        period_hours=24,
        multiplier=6.5,
        breakdown=(
            BreakdownRow("Technical", 10, 67),
            BreakdownRow("Billing", 2, 13),
            BreakdownRow("Training", 3, 20),
        ),
        priority_counts=(("P1", 3), ("P2", 7), ("P3", 5), ("P4", 0)),
        themes=("API errors", "login issues"),
        arr=500_000,
        health_score=52,
        previous_health_score=78,
        csm_name="Mike Johnson",
        daily_counts=(2, 3, 1, 2, 2, 4, 3, 2, 1, 2, 3, 2, 2, 15),
    )
    return attrs.evolve(base, **changes)


def huge_spike() -> AlertMessage:
    return alert(
        title="SUPPORT SPIKE ALERT: " + "Enormous Customer Name " * 20,
        customer_name="Enormous & <Sons> " * 100,
        csm_name="C" * 5000,
        ticket_count=12_000,
        breakdown=tuple(BreakdownRow(f"Category {i}", 100, 1) for i in range(40)),
        priority_counts=tuple((f"P{i}", 3000) for i in range(1, 30)),
        themes=tuple(f"theme{i:04d} " + "&" * 300 for i in range(500)),
        ticket_links=tuple(
            (f"TKT-{i:05d}", f"https://support.example.com/t/{i}") for i in range(12_000)
        ),
        daily_counts=tuple(range(365)),
        lines=tuple(f"line {i} " + "x" * 400 for i in range(300)),
        links=tuple(Link(f"Button number {i} " + "b" * 100) for i in range(40)),
    )


def note(title: str, *lines: str, kind: MessageKind = MessageKind.NOTE) -> AlertMessage:
    return AlertMessage(
        kind=kind,
        title=title,
        customer_id="acme",
        customer_name="TechCorp Inc",
        severity=Severity.CRITICAL,
        lines=lines,
    )


def key(step: str, transition: str = "opened") -> str:
    return f"{EPISODE}:{transition}:{step}"


def dm(
    step: str = "notify_csm",
    person: Person | None = CSM,
    *,
    role: str = "csm",
    message: AlertMessage | None = None,
    quick: bool = True,
) -> DirectMessage:
    return DirectMessage(
        step_id=step,
        key=key(step),
        recipient=Recipient(role, person),
        message=message or alert(),
        include_quick_actions=quick,
    )


def channel_post(
    channel: str = "#cs-escalations",
    *,
    step: str = "create_coordination_thread",
    message: AlertMessage | None = None,
) -> ChannelPost:
    return ChannelPost(
        step_id=step, key=key(step), channel=channel, message=message or alert(), create_thread=True
    )


def reply(
    thread_step: str = "create_coordination_thread",
    *,
    step: str = "thread_update",
    text: str = "Escalated to critical",
    broadcast: bool = False,
    transition: str = "escalated",
) -> ThreadReply:
    return ThreadReply(
        step_id=step,
        key=key(step, transition),
        thread_key=key(thread_step),
        message=note("Spike escalated", text, kind=MessageKind.ESCALATION),
        broadcast=broadcast,
        depends_on=(key(thread_step),),
    )


def update(
    target_step: str = "notify_csm", *, message: AlertMessage | None = None
) -> UpdateMessage:
    return UpdateMessage(
        step_id="update_alert",
        key=key("update_alert", "resolved"),
        target_key=key(target_step),
        message=message
        or note("RESOLVED: TechCorp Inc", "Back to normal", kind=MessageKind.RESOLUTION),
        depends_on=(key(target_step),),
    )


def team(name: str = "product", channel: str | None = None) -> NotifyTeam:
    return NotifyTeam(
        step_id=f"route_{name}",
        key=key(f"route_{name}"),
        team=name,
        reason="technical tickets",
        message=alert(),
        channel=channel,
    )


def plan(*actions: Action) -> EscalationPlan:
    return EscalationPlan(
        episode_id=EPISODE,
        transition=TransitionKind.OPENED,
        customer_id="acme",
        severity=Severity.CRITICAL,
        at=NOW,
        actions=tuple(actions),
    )


@attrs.define
class Context:
    """What the executor offers a handler: the plan, the account, the time, earlier results."""

    plan: EscalationPlan
    account: Account | None = None
    now: datetime = NOW
    results: dict[str, ActionResult] = attrs.field(factory=dict)
    failures: dict[str, DeliveryError] = attrs.field(factory=dict)
    acts: list[Any] = attrs.field(factory=list)

    def result_of(self, key: str) -> ActionResult | None:
        return self.results.get(key)

    def interactions(self) -> list[Any]:
        return list(self.acts)


def run(handler: Any, actions: Iterable[Action], ctx: Context | None = None) -> Context:
    """Execute ``actions`` in order like the executor: record results, skip recorded keys."""
    actions = tuple(actions)
    ctx = ctx or Context(plan=plan(*actions))
    for action in actions:
        if action.key in ctx.results:
            continue
        try:
            ctx.results[action.key] = handler.execute(action, ctx)
        except DeliveryError as exc:
            ctx.failures[action.key] = exc
    return ctx
