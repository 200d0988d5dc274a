"""The pure-Python count tails against exact arithmetic (and SciPy where it is installed)."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike.detect.tails import nbinom_sf, nbinom_tail_below, poisson_sf, poisson_tail_below

getcontext().prec = 60


def exact_poisson_sf(k: int, mu: Fraction) -> float:
    """e^-mu * sum_{j>=k} mu^j / j!, in 60-digit decimals from the small end.

    The terms are built from the exact rational mu, and the upper sum runs
    until the rest cannot matter, so even a 1e-50 tail keeps its digits.
    """
    m = Decimal(mu.numerator) / Decimal(mu.denominator)
    term = m**k / Decimal(math.factorial(k))
    total = Decimal(0)
    j = k
    while term > total * Decimal("1e-40") or j < k + 5:
        total += term
        j += 1
        term = term * m / j
    return float((-m).exp() * total)


def exact_nbinom_sf(k: int, r: int, p: Fraction) -> float:
    """1 - sum_{j<k} C(j+r-1, j) p^r (1-p)^j, entirely in rationals."""
    partial = sum((math.comb(j + r - 1, j) * p**r * (1 - p) ** j for j in range(k)), Fraction(0))
    return float(1 - partial)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)


POISSON_CASES = [
    (0, Fraction(1)),
    (1, Fraction(1, 10)),
    (3, Fraction(1, 10)),
    (8, Fraction(2)),
    (15, Fraction(2)),
    (2, Fraction(5)),
    (5, Fraction(5)),
    (30, Fraction(10)),
    (1, Fraction(1, 10_000)),
    (40, Fraction(3, 2)),
    (100, Fraction(120)),
    (12, Fraction(37, 3)),
]


@pytest.mark.parametrize(("k", "mu"), POISSON_CASES)
def test_poisson_tail_matches_exact_sum(k: int, mu: Fraction) -> None:
    assert close(poisson_sf(k, float(mu)), exact_poisson_sf(k, mu))


NBINOM_CASES = [
    (1, 1, Fraction(1, 2)),
    (3, 1, Fraction(1, 2)),
    (8, 60, Fraction(30, 31)),
    (5, 2, Fraction(1, 3)),
    (0, 4, Fraction(1, 5)),
    (12, 7, Fraction(7, 9)),
    (50, 3, Fraction(1, 10)),
    (2, 100, Fraction(99, 100)),
    (25, 1, Fraction(9, 10)),
]


@pytest.mark.parametrize(("k", "r", "p"), NBINOM_CASES)
def test_negative_binomial_tail_matches_exact_sum(k: int, r: int, p: Fraction) -> None:
    assert close(nbinom_sf(k, r, float(p)), exact_nbinom_sf(k, r, p))


@settings(max_examples=150, deadline=None)
@given(k=st.integers(0, 60), num=st.integers(1, 400), den=st.integers(1, 40))
def test_poisson_tail_matches_exact_sum_everywhere(k: int, num: int, den: int) -> None:
    mu = Fraction(num, den)
    assert close(poisson_sf(k, float(mu)), exact_poisson_sf(k, mu))


@settings(max_examples=150, deadline=None)
@given(k=st.integers(0, 60), r=st.integers(1, 40), num=st.integers(1, 99))
def test_negative_binomial_tail_matches_exact_sum_everywhere(k: int, r: int, num: int) -> None:
    p = Fraction(num, 100)
    assert close(nbinom_sf(k, r, float(p)), exact_nbinom_sf(k, r, p))


def test_degenerate_distributions() -> None:
    assert poisson_sf(0, 0.0) == 1.0
    assert poisson_sf(1, 0.0) == 0.0
    assert nbinom_sf(1, 0.0, 0.5) == 0.0  # no successes needed: always zero failures
    assert nbinom_sf(1, 3.0, 1.0) == 0.0
    assert nbinom_sf(0, 3.0, 0.5) == 1.0


def test_tails_fall_as_the_count_rises() -> None:
    for mu in (0.1, 2.0, 30.0, 1000.0):
        values = [poisson_sf(k, mu) for k in range(0, int(mu * 4) + 5)]
        assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_large_means_stay_accurate_against_the_normal_limit() -> None:
    # At mu = 28,000 the tail at the mean is one half plus a continuity term.
    value = poisson_sf(28_000, 28_000.0)
    assert 0.5 < value < 0.51


def test_against_scipy_when_installed() -> None:
    """Where SciPy exists, compare with it too; where not, with the exact sums above."""
    try:
        from scipy import stats  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        stats = None
    for k, mu in POISSON_CASES:
        want = (
            float(stats.poisson.sf(k - 1, float(mu)))
            if stats is not None
            else exact_poisson_sf(k, mu)
        )
        assert close(poisson_sf(k, float(mu)), want)
    for k, r, p in NBINOM_CASES:
        want = (
            float(stats.nbinom.sf(k - 1, r, float(p)))
            if stats is not None
            else exact_nbinom_sf(k, r, p)
        )
        assert close(nbinom_sf(k, r, float(p)), want)


@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, 200), mu=st.floats(1e-3, 300.0), alpha=st.floats(1e-12, 0.5))
def test_early_stopping_gate_agrees_with_the_exact_tail_poisson(
    k: int, mu: float, alpha: float
) -> None:
    assert poisson_tail_below(k, mu, alpha) == (poisson_sf(k, mu) < alpha)


@settings(max_examples=300, deadline=None)
@given(
    k=st.integers(0, 200),
    r=st.floats(0.05, 200.0),
    p=st.floats(0.001, 0.999),
    alpha=st.floats(1e-12, 0.5),
)
def test_early_stopping_gate_agrees_with_the_exact_tail_negbin(
    k: int, r: float, p: float, alpha: float
) -> None:
    assert nbinom_tail_below(k, r, p, alpha) == (nbinom_sf(k, r, p) < alpha)


@pytest.mark.parametrize("k", [7, 8, 9])
def test_gate_at_the_exact_value_of_alpha(k: int) -> None:
    exact = poisson_sf(k, 2.0)
    assert poisson_tail_below(k, 2.0, exact) is False
    assert poisson_tail_below(k, 2.0, exact * (1 + 1e-12)) is True


@settings(max_examples=150, deadline=None)
@given(k=st.integers(0, 40), num=st.integers(1, 99), r_num=st.integers(1, 15))
def test_negative_binomial_with_shape_below_one(k: int, num: int, r_num: int) -> None:
    """r < 1 (very overdispersed days): checked against a long direct pmf sum in decimals."""
    r = Fraction(r_num, 16)
    p = Fraction(num, 100)
    # pmf(j) = Gamma(j+r)/(Gamma(r) j!) p^r q^j, built term by term from pmf(0) = p^r.
    q = 1 - p
    term = Decimal(float(p)) ** Decimal(float(r))
    lower = Decimal(0)
    for j in range(k):
        lower += term
        term = term * (Decimal(j) + Decimal(float(r))) / Decimal(j + 1) * Decimal(float(q))
    want = float(Decimal(1) - lower)
    got = nbinom_sf(k, float(r), float(p))
    assert math.isclose(got, want, rel_tol=1e-8, abs_tol=1e-15)
