"""Issue 32: the interval of a mean of clustered 0/1 scores (beta-binomial score interval)
against an independent reference (scipy's beta-binomial, a bounded optimiser and brentq)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from assay.stats import mean_ci, wilson_ci
from assay.stats._cluster_score import cluster_score_ci

Z = sps.norm.ppf(0.975)


def _reference(sizes, right, alpha=0.05):
    """Bounds by brute force: ρ̃(μ) by a bounded 1-d optimiser on scipy's betabinom."""
    sizes, right = np.asarray(sizes), np.asarray(right)
    n, p = sizes.sum(), right.sum() / sizes.sum()
    deff_max = np.sum(sizes**2) / n
    z = sps.norm.ppf(1 - alpha / 2)

    def loglik(mu, rho):
        if rho <= 0:
            return sps.binom.logpmf(right, sizes, mu).sum()
        kappa = (1 - rho) / rho
        return sps.betabinom.logpmf(right, sizes, mu * kappa, (1 - mu) * kappa).sum()

    def excess(mu):
        best = optimize.minimize_scalar(lambda r: -loglik(mu, r), bounds=(0, 0.99),
                                        method="bounded", options={"xatol": 1e-10})  # fmt: skip
        rho = best.x if -best.fun > loglik(mu, 0.0) else 0.0
        deff = 1 + (deff_max - 1) * rho
        return np.sqrt(n * (p - mu) ** 2 / (mu * (1 - mu) * deff)) - z

    lo = optimize.brentq(excess, 1e-9, p - 1e-9, xtol=1e-12)
    hi = optimize.brentq(excess, p + 1e-9, 1 - 1e-9, xtol=1e-12)
    return lo, hi


@pytest.mark.parametrize(
    "sizes, right",
    [
        ([50] * 20, [0] * 14 + [1, 2, 3, 9, 20, 31]),  # few hot clusters, accuracy ~ 6.6%
        ([5] * 20, [5] * 15 + [4, 4, 3, 2, 5]),  # accuracy 93%
        ([3, 8, 12, 5, 30, 7, 9, 2, 15, 6], [1, 4, 10, 2, 11, 5, 3, 1, 8, 6]),  # unequal sizes
    ],
)
def test_bounds_match_a_brute_force_reference(sizes, right):
    lo, hi, _ = cluster_score_ci(sizes, right, np.ones((1, len(sizes))))
    ref = _reference(sizes, right)
    assert (lo[0], hi[0]) == pytest.approx(ref, abs=2e-4)
    x = np.concatenate(
        [(np.arange(m) < r).astype(float) for m, r in zip(sizes, right, strict=True)]
    )
    est = mean_ci(x, clusters=np.repeat(np.arange(len(sizes)), sizes))
    assert est.method == "wilson-betabinomial"
    assert (est.ci_low, est.ci_high) == pytest.approx(ref, abs=2e-4)


def test_one_question_per_cluster_is_wilson():
    x = np.r_[np.ones(37), np.zeros(63)]
    est = mean_ci(x, clusters=np.arange(100))
    assert (est.ci_low, est.ci_high) == pytest.approx(wilson_ci(37, 100), abs=1e-6)
    assert est.n_effective == pytest.approx(100)


def test_no_spread_counts_each_cluster_as_about_one_question():
    # all wrong in 20 clusters of 5: ρ̃ at its cap 0.99, deff = 1 + 4 · 0.99, upper bound
    # Wilson's for 0 successes on n / deff trials; all right mirrors it
    n_eff = 100 / (1 + 4 * 0.99)
    zero = mean_ci(np.zeros(100), clusters=np.repeat(np.arange(20), 5))
    assert (zero.ci_low, zero.ci_high) == pytest.approx((0.0, Z**2 / (n_eff + Z**2)), abs=1e-5)
    one = mean_ci(np.ones(100), clusters=np.repeat(np.arange(20), 5))
    assert (one.ci_low, one.ci_high) == pytest.approx((n_eff / (n_eff + Z**2), 1.0), abs=1e-5)


def test_a_single_cluster_is_worth_about_one_question():
    est = mean_ci(np.r_[np.ones(30), np.zeros(10)], clusters=np.zeros(40))
    assert est.ci_low < 0.2 and est.ci_high > 0.95


def test_few_hot_clusters_widen_the_upper_side():
    """20 clusters of 50, 3 of them hot: the upper bound is far above the design-effect
    Wilson bound's, the interval asymmetric around p-hat, and inside [0, 1]."""
    sizes = np.full(20, 50)
    right = np.r_[np.zeros(17, int), 4, 9, 20]
    lo, hi, n_eff = cluster_score_ci(sizes, right, np.ones((1, 20)))
    p = right.sum() / 1000
    assert 0 <= lo[0] < p < hi[0] <= 1
    assert hi[0] - p > 2 * (p - lo[0])
    assert 20 <= n_eff[0] < 1000


def test_the_two_likelihood_forms_agree():
    from assay.stats._cluster_score import _loglik, _loglik_of

    sizes, right = np.array([3, 3, 5, 5, 5]), np.array([0, 2, 1, 4, 5])
    mu, rho = np.array([0.1, 0.5, 0.8]), np.array([0.0, 0.05, 0.3, 0.9])
    counts = np.array([[2.0, 1, 0, 3, 1], [0, 0, 4, 1, 2]])
    product = _loglik_of(sizes, right, mu, rho)(counts)  # largest cluster 5 <= 2 * 5 kinds
    table = counts @ _loglik(sizes, right, mu, rho).reshape(5, -1)
    np.testing.assert_allclose(product, table, rtol=1e-9, atol=1e-9)
