"""Upper-tail probabilities of count distributions, in pure Python.

The significance gate asks "how likely is at least this many tickets, if
nothing is wrong?". SciPy would answer, but it is a heavy dependency for two
sums; these are computed in log space with :func:`math.lgamma` and summed from
the small end of whichever side is shorter, so nothing cancels and the
relative error stays near the floor set by ``lgamma`` (about 1e-10).
Conventions follow ``scipy.stats``: ``poisson_sf(k, mu) == poisson.sf(k - 1, mu)``
and ``nbinom_sf(k, r, p) == nbinom.sf(k - 1, r, p)``.
"""

from __future__ import annotations

import math

__all__ = ["nbinom_sf", "nbinom_tail_below", "poisson_sf", "poisson_tail_below"]

# Stop adding terms once the rest cannot change the sum in double precision.
_EPS = 1e-17
# How clearly an early stop must settle a comparison with alpha; closer calls
# are settled by the exact tail, so gate and reported p-value never disagree.
_MARGIN = 1e-6


def poisson_sf(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    if mu <= 0.0:
        return 0.0
    log_mu = math.log(mu)
    if k > mu:
        # Upper side: terms shrink from k on (k is past the mode).
        term = math.exp(k * log_mu - mu - math.lgamma(k + 1))
        total = 0.0
        j = k
        while term > 0.0:
            total += term
            j += 1
            ratio = mu / j
            term *= ratio
            if term <= total * _EPS * (1.0 - ratio):
                break
        return min(1.0, total)
    return max(0.0, 1.0 - _poisson_cdf_down(k - 1, mu, log_mu))


def _poisson_cdf_down(top: int, mu: float, log_mu: float) -> float:
    """P(X <= top), summed from ``top`` down (top <= mu, so terms shrink downward)."""
    term = math.exp(top * log_mu - mu - math.lgamma(top + 1))
    total = 0.0
    j = top
    while j >= 0 and term > 0.0:
        total += term
        if term <= total * _EPS:
            break
        term *= j / mu
        j -= 1
    return total


def nbinom_sf(k: int, r: float, p: float) -> float:
    """P(X >= k) for X ~ NegBin(r, p): failures before the r-th success.

    Mean ``r (1 - p) / p``; ``p`` in (0, 1]. ``r`` need not be a whole number.
    ``r == 0`` or ``p == 1`` is the point mass at zero.
    """
    if k <= 0:
        return 1.0
    if r <= 0.0 or p >= 1.0:
        return 0.0
    if p <= 0.0:
        return 1.0
    q = 1.0 - p
    log_q = math.log1p(-p)
    mean = r * q / p
    mode = max(0.0, (r - 1.0) * q / p)

    def log_pmf(j: int) -> float:
        return (
            math.lgamma(j + r) - math.lgamma(r) - math.lgamma(j + 1) + r * math.log(p) + j * log_q
        )

    if k > mean:
        term = math.exp(log_pmf(k))
        total = 0.0
        j = k
        while term > 0.0:
            total += term
            ratio = (j + r) / (j + 1) * q
            j += 1
            term *= ratio
            # Past the mode the ratio moves monotonically towards q (down for
            # r >= 1, up for r < 1), so the larger of the two bounds the rest.
            bound = q if r < 1.0 else ratio
            if j > mode and bound < 1.0 and term <= total * _EPS * (1.0 - bound):
                break
        return min(1.0, total)
    top = k - 1
    term = math.exp(log_pmf(top))
    total = 0.0
    j = top
    while j >= 0 and term > 0.0:
        total += term
        if j < mode and term <= total * _EPS:
            break
        # pmf(j-1)/pmf(j) = j / ((j - 1 + r) q)
        if j == 0:
            break
        term *= j / ((j - 1 + r) * q)
        j -= 1
    return max(0.0, 1.0 - total)


def poisson_tail_below(k: int, mu: float, alpha: float) -> bool:
    """``poisson_sf(k, mu) < alpha``, stopping as soon as the answer is clear.

    The significance gate only needs the comparison, so the sum ends once it
    is clearly past ``alpha`` or a geometric bound on the rest keeps it
    clearly below. Too close to call, it compares the exact tail, so the
    answer always agrees with :func:`poisson_sf`.
    """
    if k <= mu or mu <= 0.0 or k <= 0:
        return poisson_sf(k, mu) < alpha
    high, low = alpha * (1.0 + _MARGIN), alpha * (1.0 - _MARGIN)
    term = math.exp(k * math.log(mu) - mu - math.lgamma(k + 1))
    total = 0.0
    j = k
    while term > total * _EPS:
        total += term
        if total >= high:
            return False
        j += 1
        ratio = mu / j
        term *= ratio
        # Terms fall at least geometrically from here: the rest is below term/(1-ratio).
        if total + term / (1.0 - ratio) < low:
            return True
    return poisson_sf(k, mu) < alpha


def nbinom_tail_below(k: int, r: float, p: float, alpha: float) -> bool:
    """``nbinom_sf(k, r, p) < alpha``, stopping early; see :func:`poisson_tail_below`."""
    if k <= 0 or r <= 0.0 or p >= 1.0 or p <= 0.0:
        return nbinom_sf(k, r, p) < alpha
    q = 1.0 - p
    mean = r * q / p
    if k <= mean:
        return nbinom_sf(k, r, p) < alpha
    high, low = alpha * (1.0 + _MARGIN), alpha * (1.0 - _MARGIN)
    term = math.exp(
        math.lgamma(k + r)
        - math.lgamma(r)
        - math.lgamma(k + 1)
        + r * math.log(p)
        + k * math.log1p(-p)
    )
    mode = max(0.0, (r - 1.0) * q / p)
    total = 0.0
    j = k
    while term > total * _EPS:
        total += term
        if total >= high:
            return False
        ratio = (j + r) / (j + 1) * q
        j += 1
        term *= ratio
        # Past the mode the ratio moves monotonically towards q, so the rest is
        # below term / (1 - max(ratio, q)).
        bound = q if r < 1.0 else ratio
        if j > mode and bound < 1.0 and total + term / (1.0 - bound) < low:
            return True
    return nbinom_sf(k, r, p) < alpha
