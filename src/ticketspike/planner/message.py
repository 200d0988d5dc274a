"""The medium-neutral alert message, and its plain-text rendering (docs/workflow.md).

One structured model serves every medium: the console notifier renders it as
plain text (:func:`render_text`), the Slack adapter as Block Kit.
Ticket-derived strings (themes, subjects) are stored raw here; each renderer
escapes them for its medium, because only the renderer knows the medium.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from ..signals import Severity

__all__ = [
    "AlertMessage",
    "BreakdownRow",
    "Link",
    "MessageKind",
    "render_text",
]


class MessageKind(str, enum.Enum):
    ALERT = "alert"  # the opening alert
    ESCALATION = "escalation"  # severity went up
    RESOLUTION = "resolution"  # the spike is over
    NOTE = "note"  # anything else a step wants to say


@attrs.frozen
class Link:
    """A button or link: ``url`` when known, else ``action_id`` for interactive media."""

    label: str
    url: str | None = None
    action_id: str | None = None


@attrs.frozen
class BreakdownRow:
    """``Technical: 10 (67%)``."""

    label: str
    count: int
    percent: int


def _fmt_multiplier(value: float | None) -> str:
    if value is None:
        return "no baseline"
    return f"{value:.1f}x normal rate"


def _fmt_money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.0f}"


def _fmt_score(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:g}"


@attrs.frozen
class AlertMessage:
    """Everything a CSM sees about a spike, before any medium's formatting."""

    kind: MessageKind
    title: str
    customer_id: str
    customer_name: str
    severity: Severity
    ticket_count: int = 0
    period_hours: float = 24.0
    multiplier: float | None = None
    breakdown: tuple[BreakdownRow, ...] = ()
    priority_counts: tuple[tuple[str, int], ...] = ()
    themes: tuple[str, ...] = ()
    arr: float | None = None
    health_score: float | None = None
    previous_health_score: float | None = None
    csm_name: str | None = None
    links: tuple[Link, ...] = ()
    ticket_links: tuple[tuple[str, str], ...] = ()
    daily_counts: tuple[int, ...] = ()
    lines: tuple[str, ...] = ()  # free sentences (escalation, resolution, notes)
    emoji: str = ":rotating_light:"

    @property
    def summary(self) -> str:
        """One-line fallback (notification text, logs)."""
        if self.kind is MessageKind.ALERT:
            return (
                f"{self.title}: {self.ticket_count} tickets in last "
                f"{self.period_hours:g} hours ({_fmt_multiplier(self.multiplier)})"
            )
        return self.title if not self.lines else f"{self.title}: {self.lines[0]}"

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=_serialize)


def _serialize(_inst: object, _field: object, value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    return value


def render_text(message: AlertMessage) -> str:
    """The plain-text alert layout (docs/workflow.md), line for line (for consoles and e-mail)."""
    out: list[str] = [f"{message.emoji} {message.title}".strip(), ""]
    if message.kind is MessageKind.ALERT:
        out.append(
            f"{message.ticket_count} tickets in last {message.period_hours:g} hours "
            f"({_fmt_multiplier(message.multiplier)})"
        )
        out.append("")
        if message.breakdown:
            out.append("Ticket Breakdown:")
            out.extend(f"- {row.label}: {row.count} ({row.percent}%)" for row in message.breakdown)
            out.append("")
        if message.priority_counts:
            counts = ", ".join(f"{n} {p}" for p, n in message.priority_counts if n)
            out.append(f"Severity: {counts}")
            out.append("")
        if message.themes:
            out.append(f"Common Themes: {', '.join(message.themes)}")
            out.append("")
        out.append(f"Customer: {message.customer_name}")
        out.append(f"ARR: {_fmt_money(message.arr)}")
        health = f"Health Score: {_fmt_score(message.health_score)}"
        if message.previous_health_score is not None:
            health += f" (was {_fmt_score(message.previous_health_score)})"
        out.append(health)
        out.append(f"CSM: {message.csm_name or 'unassigned'}")
        if message.lines:
            # Extra sentences a workflow step adds (config ``text``) follow the facts.
            out.append("")
            out.extend(message.lines)
    else:
        out.extend(message.lines)
    if message.links:
        out.append("")
        out.append(" ".join(f"[{link.label}]" for link in message.links))
    return "\n".join(out)
