"""What detection says: assessments, spike transitions and the risk signal.

These are the values that flow from the detector to the lifecycle, from the
lifecycle to the planner, and out to hosts as risk signals (docs/cli.md). Pure
values only: no clock, no I/O. The detector (``ticketspike.detect``) produces
:class:`Assessment`; the lifecycle (``ticketspike.lifecycle``) produces
:class:`Transition`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from .model import Category, Priority

__all__ = [
    "Assessment",
    "BaselineSource",
    "Classification",
    "Severity",
    "Theme",
    "Transition",
    "TransitionKind",
]


class Severity(str, enum.Enum):
    """Spike severity: 3-5x is high, above 5x critical.

    ``NONE`` means no spike; ``MEDIUM`` is the label for a rate that
    is elevated but under the threshold (never alerted on).
    """

    NONE = "none"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.NONE: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class BaselineSource(str, enum.Enum):
    """Where the baseline came from (risk-signal metadata ``baseline_source``)."""

    OWN = "own"  # the customer's own history (>= minimum history days)
    INDUSTRY = "industry"  # a new customer: the segment's industry rate
    BLENDED = "blended"  # empirical-Bayes blend of own history and segment rate
    # history before the monitor started watching is unknown: learning, never a spike
    WARMING = "warming_up"


@attrs.frozen
class Assessment:
    """One customer's window judged at one instant ``at``.

    Carries everything a risk signal reports (docs/detection.md). Counts and
    breakdowns cover customer-initiated tickets in (period_start, period_end].
    ``explanation`` is one human sentence on why it fired or did not.
    """

    customer_id: str
    at: datetime
    is_spike: bool
    severity: Severity
    ticket_count: int
    baseline_daily_avg: float
    expected_count: float
    spike_multiplier: float
    period_start: datetime
    period_end: datetime
    period_hours: float
    baseline_source: BaselineSource
    baseline_days: float
    p_value: float | None
    category_breakdown: tuple[tuple[Category, int], ...] = ()
    severity_breakdown: tuple[tuple[Priority, int], ...] = ()
    ticket_ids: tuple[str, ...] = ()
    ticket_links: tuple[tuple[str, str], ...] = ()
    themes: tuple[str, ...] = ()
    explanation: str = ""
    # The expectation the significance gate judged against, when it is not
    # ``expected_count`` (the reported baseline's); ``decided_by`` names the
    # line that decided: "multiplier", "min_count", "gate" or "warming_up".
    gate_expected_count: float | None = None
    decided_by: str = ""
    # Tickets in the window's last clock hour and in its busiest one.
    last_hour_count: int = 0
    peak_hour_count: int = 0

    @property
    def tickets_per_day(self) -> float:
        """The window's count as a daily rate."""
        return self.ticket_count * 24.0 / self.period_hours if self.period_hours else 0.0

    @property
    def percentage_increase(self) -> float | None:
        """(count - expected) / expected x 100; ``None`` on a zero baseline."""
        if self.expected_count <= 0:
            return None
        return (self.ticket_count - self.expected_count) / self.expected_count * 100.0

    def count_of(self, category: Category) -> int:
        return dict(self.category_breakdown).get(category, 0)

    def count_of_priority(self, priority: Priority) -> int:
        return dict(self.severity_breakdown).get(priority, 0)

    def metadata(self) -> dict[str, Any]:
        """The ``ticket_spike`` metadata (docs/cli.md): its exact keys, then ours."""
        mult = self.spike_multiplier
        pct = self.percentage_increase
        return {
            "ticket_count": self.ticket_count,
            "baseline_daily_avg": round(self.baseline_daily_avg, 4),
            "spike_multiplier": None if mult == float("inf") else round(mult, 2),
            "period_hours": self.period_hours,
            "ticket_breakdown": {c.value: n for c, n in self.category_breakdown},
            "severity_breakdown": {p.value: n for p, n in self.severity_breakdown},
            "common_themes": list(self.themes),
            "ticket_ids": list(self.ticket_ids),
            "percentage_increase": None if pct is None else round(pct, 1),
            "expected_count": round(self.expected_count, 4),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "baseline_source": self.baseline_source.value,
            "baseline_days": self.baseline_days,
            "p_value": self.p_value,
            "gate_expected_count": (
                None if self.gate_expected_count is None else round(self.gate_expected_count, 4)
            ),
            "decided_by": self.decided_by,
            "tickets_per_day": round(self.tickets_per_day, 4),
            "tickets_per_hour_last": self.last_hour_count,
            "tickets_per_hour_peak": self.peak_hour_count,
            "ticket_links": {tid: url for tid, url in self.ticket_links},
            "explanation": self.explanation,
        }

    def to_risk_signal(self) -> dict[str, Any]:
        """The risk signal (docs/cli.md)."""
        return {
            "signal_type": "ticket_spike",
            "customer_id": self.customer_id,
            "severity": self.severity.value,
            "detected_at": self.at.isoformat(),
            "metadata": self.metadata(),
        }


class TransitionKind(str, enum.Enum):
    """How a spike episode changed (docs/detection.md)."""

    OPENED = "opened"
    ESCALATED = "escalated"  # high -> critical, at most once per episode
    RESOLVED = "resolved"


@attrs.frozen
class Transition:
    """One change of one spike episode, caused by a ticket or a clock tick at ``at``.

    ``suppressed`` holds the reason (a silence or an outage window) when the
    transition happened but must not page anyone; it is still recorded.
    """

    kind: TransitionKind
    at: datetime
    customer_id: str
    episode_id: str
    severity: Severity
    assessment: Assessment
    opened_at: datetime
    suppressed: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``replay --format json`` line (docs/cli.md)."""
        out: dict[str, Any] = {
            "transition": self.kind.value,
            "at": self.at.isoformat(),
            "customer_id": self.customer_id,
            "episode_id": self.episode_id,
            "severity": self.severity.value,
            "metadata": self.assessment.metadata(),
        }
        if self.suppressed:
            out["suppressed"] = self.suppressed
        return out


@attrs.frozen
class Theme:
    """A short phrase saying what drives a spike (docs/classification.md).

    ``area`` names the affected feature or product area when the text makes it
    clear; ``ticket_ids`` are examples, at most a handful.
    """

    phrase: str
    count: int
    ticket_ids: tuple[str, ...] = ()
    area: str | None = None
    score: float = 0.0


@attrs.frozen
class Classification:
    """A classifier's answer for one ticket: a category and how sure it is (0..1)."""

    category: Category
    confidence: float
    reason: str = ""
