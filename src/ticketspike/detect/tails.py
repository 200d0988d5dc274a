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

__all__ = ["nbinom_sf", "poisson_sf"]

# Stop adding terms once the rest cannot change the sum in double precision.
_EPS = 1e-17


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
        return (math.lgamma(j + r) - math.lgamma(r) - math.lgamma(j + 1)
                + r * math.log(p) + j * log_q)

    if k > mean:
        term = math.exp(log_pmf(k))
        total = 0.0
        j = k
        while term > 0.0:
            total += term
            ratio = (j + r) / (j + 1) * q
            j += 1
            term *= ratio
            # Past the mode the ratio falls towards q, so the rest is geometric.
            if j > mode and ratio < 1.0 and term <= total * _EPS * (1.0 - ratio):
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
