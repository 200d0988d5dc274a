"""The escalation chain: who hears about a spike nobody acknowledged, and when.

PagerDuty's escalation policies are the model: an episode that opened (and paged) and is not
acknowledged within ``ack_timeout`` reminds the CSM; after a second timeout it reaches the
CSM's manager, and for a critical spike the support lead too. An acknowledgement or a
resolution stops the chain; a snooze pauses it (the clock restarts when the snooze ends).

Each step is planned as an ordinary :class:`~ticketspike.planner.plan.EscalationPlan` with one
action whose key is ``<episode>:chain:<step>``, so the executor does each step once however
often the engine's tick asks. Pure: time is a parameter; nothing is read or written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..model import Account
from ..signals import Severity, TransitionKind
from .message import AlertMessage, MessageKind
from .plan import DirectMessage, EscalationPlan, NotifyTeam, Recipient, action_key

__all__ = [
    "CHAIN",
    "ChainPolicy",
    "chain_plan_id",
    "chain_policy_from_section",
    "due_steps",
    "plan_chain_step",
]

CHAIN = "chain"
# (step id, how many timeouts after the start, who, only for critical)
_STEPS: tuple[tuple[str, int, str, bool], ...] = (
    ("remind_csm", 1, "csm", False),
    ("notify_manager", 2, "manager", False),
    ("notify_support_lead", 2, "support_lead", True),
)


@attrs.frozen(kw_only=True)
class ChainPolicy:
    """How long an episode may go unacknowledged before the next level hears of it.

    ``per_severity`` overrides ``ack_timeout`` for ``high`` or ``critical``.
    """

    ack_timeout: timedelta = timedelta(minutes=30)
    per_severity: Mapping[str, timedelta] = attrs.field(factory=dict)
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        for name, value in {"ack_timeout": self.ack_timeout, **self.per_severity}.items():
            if value <= timedelta(0):
                raise ValueError(f"{name}: the acknowledgement timeout must be positive")

    def timeout(self, severity: Severity) -> timedelta:
        return self.per_severity.get(severity.value, self.ack_timeout)


def chain_plan_id(episode_id: str, step_id: str) -> str:
    return f"{episode_id}:{CHAIN}:{step_id}"


def due_steps(
    policy: ChainPolicy,
    *,
    severity: Severity,
    opened_at: datetime,
    now: datetime,
    acknowledged: bool,
    resolved: bool,
    paged: bool = True,
    snoozed_until: datetime | None = None,
) -> tuple[str, ...]:
    """The chain's steps due at ``now``, in order (each is planned once by its key).

    Nothing is due for an episode that is acknowledged, resolved, never paged, or snoozed at
    ``now``; after a snooze the timeouts count from its end.
    """
    if not policy.enabled or acknowledged or resolved or not paged:
        return ()
    start = opened_at
    if snoozed_until is not None:
        if now < snoozed_until:
            return ()
        start = max(start, snoozed_until)
    timeout = policy.timeout(severity)
    return tuple(
        step
        for step, levels, _who, critical_only in _STEPS
        if now >= start + timeout * levels and (not critical_only or severity is Severity.CRITICAL)
    )


def plan_chain_step(
    step_id: str,
    *,
    episode_id: str,
    customer_id: str,
    severity: Severity,
    opened_at: datetime,
    at: datetime,
    account: Account | None,
) -> EscalationPlan:
    """The plan of one chain step; ``notes`` say why it is empty when nobody can be told."""
    who = {s: w for s, _l, w, _c in _STEPS}[step_id]
    name = account.display_name if account is not None else customer_id
    minutes = max(0, int((at - opened_at).total_seconds() // 60))
    csm = account.csm if account is not None else None
    message = AlertMessage(
        kind=MessageKind.NOTE,
        title="UNACKNOWLEDGED SUPPORT SPIKE",
        customer_id=customer_id,
        customer_name=name,
        severity=severity,
        csm_name=csm.name if csm is not None and csm.name else None,
        lines=(
            f"The {severity.value} support spike for {name} opened {minutes} minutes ago "
            "and nobody has acknowledged it yet.",
        ),
        emoji=":alarm_clock:",
    )
    key = action_key(episode_id, CHAIN, step_id)
    notes: list[str] = []
    actions: list[DirectMessage | NotifyTeam] = []
    if who == "support_lead":
        actions.append(
            NotifyTeam(
                step_id=step_id,
                key=key,
                team="support_lead",
                reason="critical spike not acknowledged",
                message=message,
            )
        )
    else:
        person = csm if who == "csm" else (csm.manager if csm is not None else None)
        if person is None:
            notes.append(f"no {who} known for {customer_id}; the chain skips this step")
        else:
            actions.append(
                DirectMessage(
                    step_id=step_id,
                    key=key,
                    recipient=Recipient(who, person),
                    message=message,
                    urgency="high",
                    include_quick_actions=True,
                )
            )
    return EscalationPlan(
        episode_id=episode_id,
        transition=TransitionKind.OPENED,
        customer_id=customer_id,
        severity=severity,
        at=at,
        actions=tuple(actions),
        notes=tuple(notes),
        progress={"stage": CHAIN, "step": step_id},
    )


def chain_policy_from_section(data: Mapping[str, Any] | None) -> ChainPolicy:
    """``escalation_chain: {ack_timeout_minutes: 30, per_severity: {critical: 15}, enabled}``.

    Raises ``ValueError`` naming the key on anything else.
    """
    if not data:
        return ChainPolicy()
    unknown = set(data) - {"ack_timeout_minutes", "per_severity", "enabled"}
    if unknown:
        raise ValueError(
            f"unknown key {sorted(unknown)[0]!r} (expected ack_timeout_minutes, "
            "per_severity, enabled)"
        )
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError("enabled: expected true or false")
    base = _minutes(data.get("ack_timeout_minutes", 30), "ack_timeout_minutes")
    per: dict[str, timedelta] = {}
    raw = data.get("per_severity") or {}
    if not isinstance(raw, Mapping):
        raise ValueError("per_severity: expected a mapping such as {critical: 15}")
    for name, value in raw.items():
        if name not in ("high", "critical"):
            raise ValueError(f"per_severity: expected high or critical, got {name!r}")
        per[str(name)] = _minutes(value, f"per_severity.{name}")
    return ChainPolicy(ack_timeout=base, per_severity=per, enabled=enabled)


def _minutes(value: Any, field: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value == value:
        raise ValueError(f"{field}: expected a number of minutes")
    if not 0 < value <= 7 * 24 * 60:
        raise ValueError(f"{field}: expected minutes between 0 and one week")
    return timedelta(minutes=float(value))
