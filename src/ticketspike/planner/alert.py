"""Build the alert, escalation and resolution messages from an assessment and an account.

The :class:`~ticketspike.planner.message.AlertMessage` is medium-neutral:
this module fills it with the alert's facts (counts, rate, breakdown with
percentages, P1..P4 counts, themes, ARR, health now and before, CSM, links)
and leaves all escaping to the renderers, because only they know the medium.
Ticket-derived strings go in as they are. Pure: no clock, no I/O.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import attrs

from ..model import Account, Category, Priority
from ..signals import Assessment, Severity
from .message import AlertMessage, BreakdownRow, Link, MessageKind

__all__ = [
    "AlertLinks",
    "alert_message",
    "breakdown_rows",
    "escalation_message",
    "resolution_message",
    "percent",
]

TITLE = "SUPPORT SPIKE ALERT"


@attrs.frozen(kw_only=True)
class AlertLinks:
    """URL patterns for the alert's buttons; ``{customer_id}`` and ``{episode_id}`` are
    filled in (URL-quoted). A button without a URL carries an ``action_id`` instead,
    which interactive media (Slack) turn into a button the host handles."""

    view_tickets: str | None = None
    draft_response: str | None = None
    war_room: str | None = None
    view_customer: str | None = None

    def links(self, *, customer_id: str, episode_id: str) -> tuple[Link, ...]:
        def url(pattern: str | None) -> str | None:
            if pattern is None:
                return None
            # Plain replace, not str.format: a pattern is config, but ids are data.
            return pattern.replace("{customer_id}", quote(customer_id, safe="")).replace(
                "{episode_id}", quote(episode_id, safe="")
            )

        return (
            Link("View Tickets", url(self.view_tickets), "view_tickets"),
            Link("Draft Response", url(self.draft_response), "draft_response"),
            Link("Start War Room", url(self.war_room), "start_war_room"),
            Link("View Customer", url(self.view_customer), "view_customer"),
        )


def percent(count: int, total: int) -> int:
    """Whole-number percentage rounded half up (10 of 15 is 67)."""
    if total <= 0:
        return 0
    return (count * 200 + total) // (2 * total)


def breakdown_rows(assessment: Assessment) -> tuple[BreakdownRow, ...]:
    """Category rows in a fixed order (technical, billing, training, ...), zeros left out."""
    counts: dict[Category, int] = {}
    for category, n in assessment.category_breakdown:
        counts[category] = counts.get(category, 0) + n
    total = sum(counts.values())
    return tuple(
        BreakdownRow(category.label, counts[category], percent(counts[category], total))
        for category in Category
        if counts.get(category, 0) > 0
    )


def _priority_counts(assessment: Assessment) -> tuple[tuple[str, int], ...]:
    return tuple((p.value, assessment.count_of_priority(p)) for p in Priority)


def _multiplier(assessment: Assessment) -> float | None:
    mult = assessment.spike_multiplier
    return None if mult == float("inf") else mult


def _account(assessment: Assessment, account: Account | None) -> Account:
    """The account a message speaks of: the known one, or a bare one named by its id."""
    return account if account is not None else Account(id=assessment.customer_id)


def _csm_name(acct: Account) -> str | None:
    return acct.csm.name if acct.csm is not None and acct.csm.name else None


def alert_message(
    assessment: Assessment,
    account: Account | None,
    *,
    severity: Severity,
    episode_id: str = "",
    title: str | None = None,
    lines: tuple[str, ...] = (),
    links: AlertLinks | None = None,
    emoji: str = ":rotating_light:",
) -> AlertMessage:
    """The opening alert: ``SUPPORT SPIKE ALERT: <name>`` and every fact below it."""
    acct = _account(assessment, account)
    return AlertMessage(
        kind=MessageKind.ALERT,
        title=title if title is not None else f"{TITLE}: {acct.display_name}",
        customer_id=acct.id,
        customer_name=acct.display_name,
        severity=severity,
        ticket_count=assessment.ticket_count,
        period_hours=assessment.period_hours,
        multiplier=_multiplier(assessment),
        breakdown=breakdown_rows(assessment),
        priority_counts=_priority_counts(assessment),
        themes=assessment.themes,
        arr=acct.arr,
        health_score=acct.health_score,
        previous_health_score=acct.previous_health_score,
        csm_name=_csm_name(acct),
        links=(links or AlertLinks()).links(customer_id=acct.id, episode_id=episode_id),
        ticket_links=assessment.ticket_links,
        lines=lines,
        emoji=emoji,
    )


def _rate(assessment: Assessment) -> str:
    mult = _multiplier(assessment)
    rate = "no baseline" if mult is None else f"{mult:.1f}x normal rate"
    return f"{assessment.ticket_count} tickets in last {assessment.period_hours:g} hours ({rate})"


def escalation_message(
    assessment: Assessment,
    account: Account | None,
    *,
    severity: Severity,
    previous: Severity,
) -> AlertMessage:
    """The thread update when severity goes up (high to critical)."""
    acct = _account(assessment, account)
    return AlertMessage(
        kind=MessageKind.ESCALATION,
        title=f"SUPPORT SPIKE ESCALATED: {acct.display_name}",
        customer_id=acct.id,
        customer_name=acct.display_name,
        severity=severity,
        ticket_count=assessment.ticket_count,
        period_hours=assessment.period_hours,
        multiplier=_multiplier(assessment),
        breakdown=breakdown_rows(assessment),
        priority_counts=_priority_counts(assessment),
        themes=assessment.themes,
        arr=acct.arr,
        csm_name=_csm_name(acct),
        ticket_links=assessment.ticket_links,
        lines=(
            f"Severity raised from {previous.value} to {severity.value}.",
            _rate(assessment) + ".",
        ),
        emoji=":rotating_light:",
    )


def _duration(start: datetime, end: datetime) -> str:
    minutes = max(0, int((end - start).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if not days:
        parts.append(f"{mins}m")
    return " ".join(parts)


def resolution_message(
    assessment: Assessment,
    account: Account | None,
    *,
    opened_at: datetime,
    resolved_at: datetime,
) -> AlertMessage:
    """The resolution note: volume back to normal, how long the spike lasted."""
    acct = _account(assessment, account)
    return AlertMessage(
        kind=MessageKind.RESOLUTION,
        title=f"SUPPORT SPIKE RESOLVED: {acct.display_name}",
        customer_id=acct.id,
        customer_name=acct.display_name,
        severity=Severity.NONE,
        ticket_count=assessment.ticket_count,
        period_hours=assessment.period_hours,
        multiplier=_multiplier(assessment),
        csm_name=_csm_name(acct),
        lines=(
            "Ticket volume is back to normal: " + _rate(assessment) + ".",
            f"The spike lasted {_duration(opened_at, resolved_at)} "
            f"(opened {opened_at.isoformat()}, resolved {resolved_at.isoformat()}).",
        ),
        emoji=":white_check_mark:",
    )
