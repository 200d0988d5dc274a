"""Judging a window: the :class:`~ticketspike.signals.Assessment` and the batch answer.

The streaming detector (:mod:`.stream`) and :func:`assess_batch` both reduce a
customer's tickets to the same few integers (window count, baseline tickets,
days and squared days, spike days left out) and hand them to
:func:`build_assessment`, so a batch over a ticket list and a stream of the
same tickets give the same assessment.

Time is bucketed in whole UTC hours: the window is the clock hour of ``at``
and the ``window_hours - 1`` before it; the baseline is the
``baseline_days`` whole UTC days before the day the window starts in, so the
window never dilutes its own baseline. A day that was itself a spike (its
count passes the gate against the days before it) enters later baselines
capped at the alert line, so a past spike does not make the next one look
normal.

Pure: ticket text never enters an assessment, only ids, links and counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from ..model import Account, Category, Priority, Ticket
from ..signals import Assessment, BaselineSource
from .baseline import (
    Baseline,
    Cutoffs,
    baseline_for,
    candidate_for,
    cutoffs_for,
    gate_mean,
    multiplier_of,
    p_value,
    prd_sure_applies,
    severity_of,
    smallest_count,
    sure_line,
)
from .policy import DetectionPolicy

__all__ = [
    "WindowTicket",
    "assess_batch",
    "build_assessment",
    "capped_day",
    "epoch_hour",
    "history_known",
    "hour_start",
    "observed_days",
]

UTC = timezone.utc

# (ticket_id, created timestamp, category, priority, url): all an assessment
# keeps of a ticket. Subjects and bodies stay out on purpose.
WindowTicket = tuple[str, float, Category, Priority, "str | None"]

_PRIORITIES = (Priority.P1, Priority.P2, Priority.P3, Priority.P4)
_CATEGORIES = tuple(Category)


def epoch_hour(at: datetime) -> int:
    """Whole hours since the epoch (UTC) of an aware datetime."""
    return int(at.timestamp() // 3600)


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=UTC)


def observed_days(lo: int, hi: int, first_day: int | None) -> int:
    """Days in [lo, hi] on or after the customer's first day."""
    if first_day is None:
        return 0
    return max(0, hi - max(lo, first_day) + 1)


def capped_day(
    policy: DetectionPolicy,
    count: int,
    *,
    total: int,
    days: int,
    sumsq: int,
    industry_rate: float,
    known: bool = True,
) -> int:
    """What a closed day of ``count`` tickets adds to later baselines.

    A day that would itself have been a spike against the ``days`` before it
    adds only the largest count that would not have been: a past spike must
    not make the next one look normal. Young customers (fewer than
    ``min_history_days`` of their own) add every ticket: their baseline is
    still learning their level, and capping it against the industry rate
    would keep a big new customer alerting for weeks. Days under
    ``min_count`` tickets are never capped, even in spec mode: capping single
    tickets on a tiny baseline would ratchet it down to zero.
    """
    if count < policy.min_count or days < max(1, policy.min_history_days):
        return count
    base = baseline_for(
        policy, total=total, days=days, sumsq=sumsq, industry_rate=industry_rate, known=known
    )
    if count < candidate_for(policy, base, 24.0):
        return count
    line = cutoffs_for(policy, base, 24.0).open
    return min(count, line - 1)


def build_assessment(
    policy: DetectionPolicy,
    *,
    customer_id: str,
    at: datetime,
    count: int,
    baseline: Baseline,
    tickets: Sequence[WindowTicket],
    cutoffs: Cutoffs | None = None,
    shorts: Sequence[tuple[int, int, Cutoffs]] | None = None,
) -> Assessment:
    """The full assessment of ``count`` window tickets against ``baseline`` at ``at``.

    ``cutoffs`` may be passed when the caller already has them for ``baseline``,
    ``shorts`` as (hours, count, cutoffs) of the short windows (computed from
    ``tickets`` when not given). Any window at its opening count makes the
    assessment a spike; counts, multiplier and severity are the full window's.
    """
    hours = float(policy.window_hours)
    cut = cutoffs if cutoffs is not None else cutoffs_for(policy, baseline, hours)
    if shorts is None:
        end = epoch_hour(at)
        shorts = tuple(
            (
                h,
                sum(1 for t in tickets if int(t[1] // 3600) > end - h),
                cutoffs_for(policy, baseline, float(h)),
            )
            for h in policy.windows[:-1]
        )
    expected = cut.expected
    multiplier = multiplier_of(count, expected)
    full_spike = count >= cut.open
    trigger = next((s for s in shorts if s[1] >= s[2].open), None)
    is_spike = full_spike or trigger is not None
    severity = severity_of(policy, multiplier, is_spike)
    p = p_value(count, baseline, hours, tail=policy.tail) if count > 0 else 1.0
    ordered = sorted(tickets, key=lambda t: (t[1], t[0]))
    by_category = {c: 0 for c in _CATEGORIES}
    by_priority = {p_: 0 for p_ in _PRIORITIES}
    by_hour: dict[int, int] = {}
    for _tid, ts, category, priority, _url in ordered:
        by_category[category] += 1
        by_priority[priority] += 1
        h = int(ts // 3600)
        by_hour[h] = by_hour.get(h, 0) + 1
    gate_mu = baseline.gate_expected(hours)
    period_end = at
    period_start = hour_start(epoch_hour(at) - policy.window_hours + 1)
    return Assessment(
        customer_id=customer_id,
        at=at,
        is_spike=is_spike,
        severity=severity,
        ticket_count=count,
        baseline_daily_avg=baseline.daily_rate,
        expected_count=expected,
        spike_multiplier=multiplier,
        period_start=period_start,
        period_end=period_end,
        period_hours=hours,
        baseline_source=baseline.source,
        baseline_days=float(baseline.days),
        p_value=p,
        category_breakdown=tuple((c, n) for c, n in by_category.items() if n),
        severity_breakdown=tuple((p_, n) for p_, n in by_priority.items() if n),
        ticket_ids=tuple(t[0] for t in ordered),
        ticket_links=tuple((t[0], t[4]) for t in ordered if t[4]),
        gate_expected_count=None if gate_mu == expected else gate_mu,
        decided_by=(
            f"gate ({trigger[0]} h window: {trigger[1]} tickets against "
            f"{gate_mean(policy, baseline, float(trigger[0])):.2f} expected)"
            if trigger is not None and not full_spike
            else _decided_by(policy, baseline, cut, count, hours)
        ),
        last_hour_count=by_hour.get(epoch_hour(at), 0),
        peak_hour_count=max(by_hour.values(), default=0),
        explanation=explain(
            policy,
            count=count,
            baseline=baseline,
            expected=expected,
            multiplier=multiplier,
            p=p,
            is_spike=is_spike,
            severity=severity.value,
            line=cut.open,
            trigger=(
                None
                if trigger is None or full_spike
                else (trigger[0], trigger[1], gate_mean(policy, baseline, float(trigger[0])))
            ),
        ),
    )


def _decided_by(
    policy: DetectionPolicy, baseline: Baseline, cut: Cutoffs, count: int, hours: float
) -> str:
    """Which line decided: the multiplier, the minimum count, the gate, or warming up."""
    if baseline.source is BaselineSource.WARMING:
        return "warming_up"
    k_mult = smallest_count(cut.expected, policy.threshold)
    if policy.mode == "spec" or count < k_mult:
        return "multiplier"
    if count < cut.candidate:
        return "min_count"
    if cut.open > cut.candidate:
        if (
            policy.gate == "budget"
            and prd_sure_applies(baseline)
            and cut.open == sure_line(policy, baseline, hours, cut.candidate)
        ):
            return "prd_moderate_spike"
        return "gate"
    return "min_count" if policy.min_count > k_mult else "multiplier"


def _describe_baseline(baseline: Baseline) -> str:
    rate = baseline.daily_rate
    if baseline.source is BaselineSource.WARMING:
        return (
            f"warming up: {baseline.days} days watched of {baseline.total} tickets, "
            "history before that unknown"
        )
    if baseline.source is BaselineSource.INDUSTRY:
        if baseline.days:
            return f"industry baseline {rate:.2f}/day (only {baseline.days} days of own history)"
        return f"industry baseline {rate:.2f}/day (no own history yet)"
    own = baseline.own_rate if baseline.own_rate is not None else 0.0
    if baseline.source is BaselineSource.OWN:
        return f"own average {own:.2f}/day over {baseline.days} days"
    return (
        f"own {own:.2f}/day over {baseline.days} days blended with the industry "
        f"{baseline.industry_rate:.2f}/day = {rate:.2f}/day"
    )


def explain(
    policy: DetectionPolicy,
    *,
    count: int,
    baseline: Baseline,
    expected: float,
    multiplier: float,
    p: float,
    is_spike: bool,
    severity: str,
    line: int = 0,
    trigger: tuple[int, int, float] | None = None,
) -> str:
    """One sentence saying why the window fired or did not. Numbers only.

    ``line`` is the full window's opening count; ``trigger`` the (hours,
    count, expected) of the short window that fired when the full one did not.
    """
    budget = policy.mode == "gated" and policy.gate == "budget"
    mult = "infinitely many times" if multiplier == float("inf") else f"{multiplier:.1f}x"
    head = (
        f"{count} tickets in {policy.window_hours} h against {expected:.2f} expected "
        f"({_describe_baseline(baseline)}): {mult}"
    )
    gate_mu = baseline.gate_expected(float(policy.window_hours))
    if gate_mu != expected and policy.mode == "gated":
        head += f" (the gate expects {gate_mu:.2f})"
    if baseline.source is BaselineSource.WARMING:
        return f"{head}; no alert while warming up (min_history_days {policy.min_history_days})."
    if is_spike:
        band = (
            f"above {policy.critical_above:g}x"
            if severity == "critical"
            else f"{policy.threshold:g}x to {policy.critical_above:g}x"
        )
        if trigger is not None:
            hours, n, mu = trigger
            gate = (
                f"; the last {hours} h hold {n} tickets against {mu:.2f} expected, past that "
                "window's false-alarm budget"
            )
        elif budget:
            gate = f", at or past the false-alarm budget's line of {line}"
        else:
            gate = f", p={p:.2g} < {policy.alpha:g}" if policy.mode == "gated" else ""
        return f"{head}{gate}; {severity} ({band})."
    if multiplier < policy.threshold:
        return f"{head}, below the {policy.threshold:g}x threshold; no spike."
    if policy.mode == "gated" and count < policy.min_count:
        return f"{head}, but only {count} tickets (at least {policy.min_count} needed); no spike."
    if budget:
        return (
            f"{head}, but under the false-alarm budget's line of {line} tickets (p={p:.2g}), "
            "so it may be chance; no spike."
        )
    return f"{head}, but p={p:.2g} is not below {policy.alpha:g}, so it may be chance; no spike."


def assess_batch(
    tickets: Iterable[Ticket],
    *,
    customer_id: str,
    at: datetime,
    policy: DetectionPolicy,
    account: Account | None = None,
    watching_since: datetime | None = None,
) -> Assessment:
    """Assess one customer at ``at`` from a plain list of tickets.

    Counts the customer's non-internal tickets created at or before ``at``,
    each ticket key once (the last occurrence wins for its category and
    priority). Gives the same answer as streaming the same tickets through
    the detector, whatever their order, as long as every ticket arrived
    within the lateness bound. ``watching_since`` is the monitor's
    (:class:`~ticketspike.monitor.SpikeMonitor`): when the tickets start
    then, a customer first seen within ``baseline_days`` of it has an
    unknown history and warms up (see :func:`history_known`).
    """
    latest: dict[tuple[str, str], Ticket] = {}
    for ticket in tickets:
        if ticket.customer_id != customer_id or ticket.internal or ticket.created_at > at:
            continue
        latest[ticket.key] = ticket
    hour = epoch_hour(at)
    day = hour // 24
    window_lo = hour - policy.window_hours + 1
    daily: dict[int, int] = {}
    window: list[WindowTicket] = []
    first_day = _first_seen_day(account)
    for ticket in latest.values():
        h = epoch_hour(ticket.created_at)
        d = h // 24
        daily[d] = daily.get(d, 0) + 1
        if first_day is None or d < first_day:
            first_day = d
        if h >= window_lo:
            window.append(
                (
                    ticket.ticket_id,
                    ticket.created_at.timestamp(),
                    ticket.category,
                    ticket.priority,
                    ticket.url,
                )
            )
    industry_rate = policy.industry_rate(account)
    known = True
    if watching_since is not None and _first_seen_day(account) is None:
        # Judged at its first ticket, as the monitor does (at ``at`` for a customer never seen).
        first_hour = min((epoch_hour(t.created_at) for t in latest.values()), default=hour)
        known, watch_day = history_known(policy, epoch_hour(watching_since), first_hour)
        if watch_day is not None:
            first_day = watch_day if first_day is None else min(watch_day, first_day)
    total, days, sumsq = _baseline_sums(policy, daily, first_day, day, industry_rate, known)
    base = baseline_for(
        policy, total=total, days=days, sumsq=sumsq, industry_rate=industry_rate, known=known
    )
    return build_assessment(
        policy, customer_id=customer_id, at=at, count=len(window), baseline=base, tickets=window
    )


def history_known(
    policy: DetectionPolicy, watch_hour: int, first_hour: int
) -> tuple[bool, int | None]:
    """Whether a customer first seen at ``first_hour`` has a known history, and its first day.

    Watching since ``watch_hour`` for at least ``baseline_days`` without a
    ticket from the customer means it is genuinely new (first day: when it
    appeared, judged against the industry rate). Seen earlier, its history
    before the monitor started is unknown: its days count from the day
    watching started (``None`` means "from its first ticket").
    """
    if first_hour - watch_hour >= policy.baseline_days * 24:
        return True, None
    return False, watch_hour // 24


def _first_seen_day(account: Account | None) -> int | None:
    if account is None or account.first_seen is None:
        return None
    return epoch_hour(account.first_seen) // 24


def _baseline_sums(
    policy: DetectionPolicy,
    daily: dict[int, int],
    first_day: int | None,
    day: int,
    industry_rate: float,
    known: bool = True,
) -> tuple[int, int, int]:
    """(tickets, days, squared days) of the baseline for ``day``, spike days capped.

    Walks the customer's days in order, capping each against the days before
    it, exactly as the streaming rings do when each day closes.
    """
    b = policy.baseline_days
    if first_day is None:
        return 0, 0, 0
    final = dict(daily)
    if policy.cap_spike_days:
        # Day x is capped against [x - b, x - 1]; slide that range along.
        total = sumsq = 0
        for x in range(first_day, day - 1):
            n = daily.get(x, 0)
            if n:
                n = capped_day(
                    policy,
                    n,
                    total=total,
                    days=observed_days(x - b, x - 1, first_day),
                    sumsq=sumsq,
                    industry_rate=industry_rate,
                    known=known,
                )
                final[x] = n
            total += n
            sumsq += n * n
            gone = final.get(x - b, 0)
            total -= gone
            sumsq -= gone * gone
    lo, hi = day - b - 1, day - 2
    total = sumsq = 0
    for x in range(lo, hi + 1):
        n = final.get(x, 0)
        total += n
        sumsq += n * n
    return total, observed_days(lo, hi, first_day), sumsq
