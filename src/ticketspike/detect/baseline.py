"""A customer's baseline rate and the ticket counts that cross each line.

Given the integers the streaming detector keeps (tickets and days observed in
the baseline period, and the sum of squared daily counts), :func:`baseline_for`
says what rate is normal for the customer and where it came from, and
:func:`cutoffs_for` turns the policy into whole ticket counts: how many
tickets in the window open a spike, and how many make it critical. Because
the baseline only moves at the day boundary, the counts are computed about
once per customer-day and the per-ticket check is one integer comparison.

Batch and streaming both call these functions with the same integers, which
is why they agree to the last bit. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math

import attrs

from ..signals import BaselineSource, Severity
from .policy import DetectionPolicy
from .tails import nbinom_sf, nbinom_tail_below, poisson_sf, poisson_tail_below

__all__ = [
    "Baseline",
    "Cutoffs",
    "baseline_for",
    "blended_rate",
    "crossings_per_year",
    "cutoffs_for",
    "day_shape",
    "dispersion",
    "gate_mean",
    "multiplier_of",
    "p_value",
    "prior_weight",
    "severity_of",
    "smallest_count",
]

_INF = float("inf")
# A count no window reaches: the cut of a customer that cannot spike yet.
_NO_SPIKE = 1 << 40


@attrs.frozen
class Baseline:
    """What is normal for one customer on one day.

    ``daily_rate`` is the expected tickets per day; ``shape`` is the
    negative-binomial shape of the predictive count per day (``inf`` means
    Poisson: the rate is taken as known). ``days`` is the exposure: baseline
    days observed, spike days left out. ``own_rate`` is the customer's own
    average over those days (``None`` with no days), kept for explanations.
    """

    daily_rate: float
    source: BaselineSource
    days: int
    total: int
    industry_rate: float
    shape: float = _INF
    own_rate: float | None = None
    # The expectation the significance gate uses, when it differs from the
    # reported ``daily_rate`` (``None``: the same figure decides).
    gate_rate: float | None = None
    # Whether the customer's days vary no more than Poisson would.
    steady: bool = False

    def expected(self, hours: float) -> float:
        """Expected tickets in a window of ``hours`` (the reported baseline's)."""
        return self.daily_rate * hours / 24.0

    def gate_expected(self, hours: float) -> float:
        """Expected tickets in ``hours`` as the significance gate sees it."""
        rate = self.daily_rate if self.gate_rate is None else self.gate_rate
        return rate * hours / 24.0


def prior_weight(policy: DetectionPolicy, days: int) -> float:
    """Pseudo-days of the industry rate mixed into ``days`` days of own history.

    ``prior_days`` for a customer with no history, fading linearly to nothing
    at ``baseline_days``: with a full baseline period the reported baseline
    is exactly the customer's own rolling average (docs/detection.md), and the prior
    only helps customers whose own history is still partial.
    """
    if policy.prior_days <= 0.0 or days >= policy.baseline_days:
        return 0.0
    return policy.prior_days * (1.0 - days / policy.baseline_days)


def blended_rate(policy: DetectionPolicy, total: int, days: int, industry_rate: float) -> float:
    """The gated mode's daily rate from ``total`` tickets over ``days`` days."""
    if days == 0:
        return industry_rate
    prior = prior_weight(policy, days)
    return (industry_rate * prior + total) / (prior + days)


def baseline_for(
    policy: DetectionPolicy,
    *,
    total: int,
    days: int,
    sumsq: int,
    industry_rate: float,
    known: bool = True,
) -> Baseline:
    """The baseline from ``total`` tickets over ``days`` days (``sumsq``: sum of squared days).

    * ``mode: spec`` takes the customer's own average once it has
      ``min_history_days`` days, else the industry rate.
    * ``mode: gated`` blends the two by empirical Bayes (a Gamma prior worth
      ``prior_days`` days at the industry rate, fading to nothing once the
      customer has ``baseline_days`` of its own): a new customer gets exactly
      the industry rate and its own history takes over as it accumulates.
      With ``prior_days: 0`` it behaves like spec.
    * ``known=False``: the customer's history before the monitor started
      watching is unknown, so ``days`` count from then. It warms up
      (:attr:`BaselineSource.WARMING`, never a spike) until it has
      ``min_history_days`` and is then judged against its own days only,
      never against the industry rate.
    """
    own = total / days if days > 0 else None
    if not known:
        if days < max(1, policy.min_history_days):
            return Baseline(
                own if own is not None else industry_rate,
                BaselineSource.WARMING,
                days,
                total,
                industry_rate,
                _INF,
                own,
            )
        if policy.mode == "spec":
            return Baseline(total / days, BaselineSource.OWN, days, total, industry_rate, _INF, own)
        # Jeffreys posterior (algo.bayes: total + 1/2): a silent start is not a zero rate.
        shape = compound_shape(policy, total + 0.5, day_shape(policy, total, days, sumsq))
        gate = (total + 0.5) / days
        return Baseline(
            total / days, BaselineSource.OWN, days, total, industry_rate, shape, own, gate
        )
    if policy.mode == "spec" or policy.prior_days <= 0.0:
        if days == 0 or days < policy.min_history_days:
            return Baseline(
                industry_rate, BaselineSource.INDUSTRY, days, total, industry_rate, _INF, own
            )
        # Spec mode reports a Poisson p-value for information only; gated mode
        # without a prior uses the flat-prior posterior (algo.bayes: total + 1/2).
        shape = _INF
        if policy.mode != "spec":
            shape = compound_shape(policy, total + 0.5, day_shape(policy, total, days, sumsq))
        return Baseline(total / days, BaselineSource.OWN, days, total, industry_rate, shape, own)
    prior_total = industry_rate * policy.prior_days
    if days == 0:
        return Baseline(
            industry_rate, BaselineSource.INDUSTRY, 0, total, industry_rate, prior_total, own
        )
    # The gate keeps the full prior: the posterior predictive of a Gamma prior
    # worth prior_days, so a short or silent history is judged with its
    # uncertainty and a zero history never means a zero expectation. The
    # reported baseline lets the prior fade, so with a full baseline period it
    # is exactly the customer's own average.
    gate = (prior_total + total) / (policy.prior_days + days)
    # A customer whose days vary more than Poisson gets the wider of the two.
    spread = dispersion(total, days, sumsq)
    shape = compound_shape(policy, prior_total + total, day_shape(policy, total, days, sumsq))
    if days >= policy.baseline_days:
        rate, source = total / days, BaselineSource.OWN
    else:
        rate, source = blended_rate(policy, total, days, industry_rate), BaselineSource.BLENDED
    return Baseline(
        rate,
        source,
        days,
        total,
        industry_rate,
        shape,
        own,
        None if gate == rate else gate,
        steady=days >= policy.min_history_days and spread == _INF,
    )


def dispersion(total: int, days: int, sumsq: int) -> float:
    """Negative-binomial shape per day from the spread of daily counts.

    ``inf`` when the days vary no more than Poisson would.
    """
    if days < 2 or total <= 0:
        return _INF
    mean = total / days
    var = (sumsq - total * mean) / (days - 1)
    if var <= mean:
        return _INF
    return mean * mean / (var - mean)


def window_shape(baseline: Baseline, hours: float) -> float:
    """The negative-binomial shape of a window of ``hours`` (at most a day).

    The spread beyond Poisson is measured between days: a busy day is busy
    in all its hours. So a window within a day shares the day's Gamma level
    and keeps the day's shape; only the mean scales with the hours. (Scaling
    the shape too, as if every hour had its own independent level, gives a
    1-hour window a tail 24 times heavier than the data show, and lines for
    the short windows almost as high as the full day's.)
    """
    return baseline.shape


def day_shape(policy: DetectionPolicy, total: int, days: int, sumsq: int) -> float:
    """The gate's negative-binomial shape per day: the customer's spread, shrunk.

    The spread beyond Poisson is estimated from a few dozen daily counts, and
    for a customer filing a ticket or two a day that estimate is mostly noise:
    30 days of a steady 0.5-a-day customer often show a sample variance
    twice the mean by chance, which reads as a shape near 0.5 and doubles its
    lines. So the estimate of the squared coefficient of variation of the
    day level (``phi = (var - mean) / mean**2``) is combined with a prior
    ``day_spread**2`` by precision (empirical Bayes, normal approximation):
    the estimate's variance is ``2 (mean + phi0 mean**2)**2 / ((days - 1)
    mean**4)``, the prior's is ``phi0**2``. A big customer's own spread wins
    after a few days; a small one's stays near the prior. ``day_spread: 0``
    takes the raw estimate (:func:`dispersion`).
    """
    spread = policy.day_spread
    if spread <= 0.0:
        return dispersion(total, days, sumsq)
    phi0 = spread * spread
    if days < 2 or total <= 0:
        return 1.0 / phi0
    mean = total / days
    var = (sumsq - total * mean) / (days - 1)
    m2 = mean * mean
    s2 = mean + phi0 * m2
    weight = (days - 1) * m2 * m2 / (2.0 * s2 * s2)  # 1 / variance of the estimate
    weight0 = 1.0 / (phi0 * phi0)
    phi = ((var - mean) / m2 * weight + phi0 * weight0) / (weight + weight0)
    return 1.0 / phi if phi > 0.0 else _INF


def compound_shape(policy: DetectionPolicy, rate_shape: float, day: float) -> float:
    """The predictive shape when both the rate and the day's level are uncertain.

    ``rate_shape`` is the Gamma posterior's shape of the customer's rate (its
    tickets, plus the prior's): a week of six tickets leaves the rate known to
    a CV of about 40%. ``day`` is the shape of the day level around that rate.
    The two multiply, so their squared CVs compound: ``1/a + phi + phi/a``,
    and the product is matched by a Gamma of that CV. (Taking the smaller of
    the two shapes, as a single source of spread, makes a customer judged
    after its first week look surer of its rate than it is.) With
    ``day_spread: 0`` the smaller of the two is taken, as before.
    """
    if policy.day_spread <= 0.0:
        return min(rate_shape, day)
    inv_a = 1.0 / rate_shape if rate_shape > 0.0 else _INF
    phi = 1.0 / day
    cv2 = inv_a + phi + phi * inv_a
    return 1.0 / cv2 if cv2 > 0.0 else _INF


def multiplier_of(count: int, expected: float) -> float:
    """count / expected; a zero expectation makes any ticket infinitely many times it."""
    if expected > 0.0:
        return count / expected
    return _INF if count > 0 else 0.0


def p_value(count: int, baseline: Baseline, hours: float, *, tail: str = "negbin") -> float:
    """P(at least ``count`` tickets in ``hours``) if the baseline is right."""
    mu = baseline.gate_expected(hours)
    shape = window_shape(baseline, hours)
    if tail == "poisson" or shape == _INF:
        return poisson_sf(count, mu)
    if shape <= 0.0 or mu <= 0.0:
        return 0.0 if count > 0 else 1.0
    return nbinom_sf(count, shape, shape / (shape + mu))


def p_below(
    count: int, baseline: Baseline, hours: float, alpha: float, *, tail: str = "negbin"
) -> bool:
    """Whether :func:`p_value` is below ``alpha``, computed only as far as needed."""
    mu = baseline.gate_expected(hours)
    shape = window_shape(baseline, hours)
    if tail == "poisson" or shape == _INF:
        return poisson_tail_below(count, mu, alpha)
    if shape <= 0.0 or mu <= 0.0:
        return count > 0 or alpha > 1.0
    return nbinom_tail_below(count, shape, shape / (shape + mu), alpha)


def severity_of(policy: DetectionPolicy, multiplier: float, is_spike: bool) -> Severity:
    """High for threshold..critical_above inclusive, critical above.

    A window that is no spike but runs at half the threshold or more is
    ``medium`` ("elevated", never alerted on); anything lower is ``none``.
    """
    if is_spike:
        return Severity.CRITICAL if multiplier > policy.critical_above else Severity.HIGH
    return Severity.MEDIUM if multiplier >= policy.threshold / 2.0 else Severity.NONE


def smallest_count(expected: float, factor: float, *, strict: bool = False) -> int:
    """The smallest count whose multiplier is >= ``factor`` (> with ``strict``).

    Checked with the same division as :func:`multiplier_of`, so the cut and
    the reported multiplier can never disagree at the edge.
    """
    if expected <= 0.0:
        return 1
    k = max(0, math.ceil(factor * expected))
    if strict:
        while k / expected <= factor:
            k += 1
        while k > 0 and (k - 1) / expected > factor:
            k -= 1
    else:
        while k / expected < factor:
            k += 1
        while k > 0 and (k - 1) / expected >= factor:
            k -= 1
    return k


@attrs.frozen
class Cutoffs:
    """Whole ticket counts at which a window becomes a spike and a critical one.

    ``candidate`` is a cheap lower bound (multiplier and minimum count only);
    ``open`` adds the significance gate and is exact. A count below
    ``candidate`` needs no further thought, which is the common case.
    """

    expected: float
    candidate: int
    open: int
    critical: int


def cutoffs_for(policy: DetectionPolicy, baseline: Baseline, hours: float) -> Cutoffs:
    """Counts that open a spike and make it critical, for a window of ``hours``."""
    mu = baseline.expected(hours)
    k_mult = smallest_count(mu, policy.threshold)
    k_crit_mult = smallest_count(mu, policy.critical_above, strict=True)
    if baseline.source is BaselineSource.WARMING:
        # Still learning a customer whose earlier history is unknown: never a spike.
        return Cutoffs(mu, _NO_SPIKE, _NO_SPIKE, _NO_SPIKE)
    if policy.mode == "spec":
        # The literal rule: any count at 3x counts, even one ticket.
        k_open = max(k_mult, 1)
        return Cutoffs(mu, k_open, k_open, max(k_open, k_crit_mult))
    candidate = max(k_mult, policy.min_count)
    if policy.gate == "budget":
        k_open = _first_within_budget(policy, baseline, hours, candidate)
        if hours == policy.window_hours and prd_sure_applies(baseline):
            k_open = min(k_open, sure_line(policy, baseline, hours, candidate))
    else:
        k_open = _first_significant(policy, baseline, hours, candidate)
    return Cutoffs(mu, candidate, k_open, max(k_open, k_crit_mult))


_HOURS_PER_YEAR = 24.0 * 365.25


def prd_sure_applies(baseline: Baseline) -> bool:
    """The moderate spike (8 in a day on 2 a day) binds for a customer whose days are no
    more variable than Poisson (its known history, no dispersion beyond chance)."""
    return baseline.source is not BaselineSource.WARMING and baseline.steady


def sure_line(policy: DetectionPolicy, baseline: Baseline, hours: float, candidate: int) -> int:
    """The count at ``sure_multiplier`` x and ``sure_count`` tickets (8 on 2 a day by default)."""
    sure = max(policy.sure_count, smallest_count(baseline.expected(hours), policy.sure_multiplier))
    return max(candidate, sure)


def gate_mean(policy: DetectionPolicy, baseline: Baseline, hours: float) -> float:
    """The expected count the budget judges a window of ``hours`` against.

    The full window uses the day's expectation scaled to its hours. A short
    window is judged as if the day's tickets all fell within its
    ``busy_hours`` (office hours): a flat share of the day would put the
    expectation of a mid-morning hour at less than half of what it is, and
    spend the budget there many times over. Night hours are judged against
    the same busy expectation, which only makes them stricter.
    """
    if hours >= policy.window_hours or policy.busy_hours >= 24:
        return baseline.gate_expected(hours)
    return baseline.gate_expected(min(24.0, hours * 24.0 / policy.busy_hours))


def log_pmf(
    k: int, baseline: Baseline, hours: float, *, tail: str = "negbin", mu: float | None = None
) -> float:
    """log P(exactly ``k`` tickets in ``hours``) under the gate's predictive count
    (of mean ``mu`` when given, else the gate's expectation for ``hours``)."""
    if mu is None:
        mu = baseline.gate_expected(hours)
    shape = window_shape(baseline, hours)
    if mu <= 0.0:
        return 0.0 if k == 0 else -_INF
    if tail == "poisson" or shape == _INF:
        return k * math.log(mu) - mu - math.lgamma(k + 1)
    p = shape / (shape + mu)
    return (
        math.lgamma(k + shape)
        - math.lgamma(shape)
        - math.lgamma(k + 1)
        + shape * math.log(p)
        + k * math.log1p(-p)
    )


def crossings_per_year(
    k: int, baseline: Baseline, hours: float, *, tail: str = "negbin", mu: float | None = None
) -> float:
    """Expected times a year a sliding ``hours`` window first reaches ``k`` by chance.

    A sliding window of a Poisson stream at rate ``lam`` per hour reaches
    ``k`` when a ticket arrives while it holds ``k - 1``: ``lam * P(N = k -
    1)`` times an hour, which equals ``(k / hours) * P(N = k)``. With a
    Gamma-distributed rate (the negative binomial) the same identity holds
    under the mixture, so the predictive pmf gives the rate directly.
    """
    return _HOURS_PER_YEAR * k / hours * math.exp(log_pmf(k, baseline, hours, tail=tail, mu=mu))


def _first_within_budget(
    policy: DetectionPolicy, baseline: Baseline, hours: float, start: int
) -> int:
    """Smallest k >= start whose chance crossings fit the window's share of the budget.

    The crossing rate falls with k beyond the mode, and start is at least
    threshold x the expectation, so gallop then bisect as for the tail.
    """
    share = policy.false_episodes_per_year / len(policy.windows)
    mu = gate_mean(policy, baseline, hours)

    def within(k: int) -> bool:
        return crossings_per_year(k, baseline, hours, tail=policy.tail, mu=mu) <= share

    # Walk up with the pmf's ratio (one multiplication a step); the line is
    # usually within a few tickets of the start. Far ones gallop below.
    log_rate = math.log(_HOURS_PER_YEAR / hours) + log_pmf(
        start, baseline, hours, tail=policy.tail, mu=mu
    )
    if log_rate == -_INF:
        return start
    log_share = math.log(share)
    shape = window_shape(baseline, hours)
    poisson = policy.tail == "poisson" or shape == _INF
    log_q = 0.0 if poisson else math.log(mu / (shape + mu))
    log_mu = math.log(mu) if mu > 0.0 else -_INF
    k = start
    for _ in range(64):
        if log_rate + math.log(k) <= log_share:
            return k
        # log pmf(k+1) - log pmf(k)
        if poisson:
            log_rate += log_mu - math.log(k + 1)
        else:
            log_rate += math.log((k + shape) / (k + 1)) + log_q
        k += 1
    start = k
    if within(start):
        return start
    lo, step = start, 1
    hi = start + step
    while not within(hi):
        lo = hi
        step *= 2
        hi = start + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if within(mid):
            hi = mid
        else:
            lo = mid
    return hi


def candidate_for(policy: DetectionPolicy, baseline: Baseline, hours: float) -> int:
    """The cheap part of :func:`cutoffs_for`: counts below this are never spikes."""
    k_mult = smallest_count(baseline.expected(hours), policy.threshold)
    if baseline.source is BaselineSource.WARMING:
        return _NO_SPIKE
    if policy.mode == "spec":
        return max(k_mult, 1)
    return max(k_mult, policy.min_count)


def _first_significant(
    policy: DetectionPolicy, baseline: Baseline, hours: float, start: int
) -> int:
    """Smallest k >= start with tail p < alpha: gallop, then bisect (the tail falls with k)."""

    def significant(k: int) -> bool:
        return p_below(k, baseline, hours, policy.alpha, tail=policy.tail)

    if significant(start):
        return start
    lo, step = start, 1
    hi = start + step
    while not significant(hi):
        lo = hi
        step *= 2
        hi = start + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if significant(mid):
            hi = mid
        else:
            lo = mid
    return hi
