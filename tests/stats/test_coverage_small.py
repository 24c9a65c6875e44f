"""Small fixed-seed versions of benchmarks/stats_coverage.py: the default intervals cover."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats import mean_ci, paired_test, wilson_ci
from assay.stats._cluster_score import cluster_score_ci
from assay.stats._estimators import cluster_wilson_ci
from assay.stats._paired import mcnemar_clustered, mcnemar_score

S = 300  # data sets per cell; binomial sd of a 95% coverage is 1.3 points, bounds are loose


def _cov(lo, hi, truth) -> float:
    return float(np.mean((lo <= truth) & (truth <= hi)))


@pytest.mark.parametrize("n, p", [(100, 0.05), (500, 0.5), (2000, 0.95)])
def test_wilson_covers_where_the_t_interval_did_not(n, p):
    rng = np.random.default_rng(1)
    k = rng.binomial(n, p, size=S).astype(float)
    lo, hi = wilson_ci(k, np.full(S, n))
    assert 0.91 <= _cov(lo, hi, p) <= 0.99
    grid = np.arange(n + 1)  # exact coverage from the binomial pmf, no simulation
    glo, ghi = wilson_ci(grid, np.full(n + 1, n))
    exact = sps.binom.pmf(grid, n, p)[(glo <= p) & (p <= ghi)].sum()
    assert 0.94 <= exact <= 0.967
    x = (np.arange(n) < k[0]).astype(float)
    est = mean_ci(x)
    assert est.method == "wilson" and (est.ci_low, est.ci_high) == pytest.approx((lo[0], hi[0]))


def _clustered(rng, g, p, size=5, icc=0.2):
    kappa = (1 - icc) / icc
    pc = rng.beta(kappa * p, kappa * (1 - p), size=(S, g))
    return pc, rng.binomial(size, pc).astype(float)


@pytest.mark.parametrize("g, m, p", [(20, 50, 0.05), (100, 20, 0.5), (20, 50, 0.95), (20, 5, 0.05)])
def test_cluster_interval_covers_where_the_design_effect_wilson_did_not(g, m, p):
    """Issue 32: few large clusters in the tails. The default interval (beta-binomial score)
    covers; Wilson on n / deff with deff estimated at p-hat (the default until issue 32)
    covers about 88% at 20 clusters of 50 near 5% / 95%."""
    rng = np.random.default_rng(2)
    truth = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + rng.uniform(-0.3, 0.3, S))))
    pc = rng.beta(4 * truth[:, None], 4 * (1 - truth[:, None]), size=(S, g))
    sums = rng.binomial(m, pc)
    counts = np.stack([np.bincount(r, minlength=m + 1) for r in sums])
    lo, hi, n_eff = cluster_score_ci(np.full(m + 1, m), np.arange(m + 1), counts)
    assert 0.93 <= _cov(lo, hi, truth) <= 0.985
    assert lo.min() >= 0 and hi.max() <= 1 and np.all(lo <= sums.sum(1) / (g * m))
    assert np.all((n_eff >= g * 0.99) & (n_eff <= g * m + 1e-9))
    n = g * m
    mean = sums.sum(axis=1) / n
    var = ((sums - m * mean[:, None]) ** 2).sum(axis=1) / n**2 * g / (g - 1)
    old = cluster_wilson_ci(mean, n, var, float(m))[:2]
    if m == 50:
        assert _cov(*old, truth) < 0.915
    x = (np.arange(m)[None, :] < sums[0][:, None]).astype(float).ravel()
    est = mean_ci(x, clusters=np.repeat(np.arange(g), m))
    assert est.method == "wilson-betabinomial"
    assert (est.ci_low, est.ci_high) == pytest.approx((lo[0], hi[0]), abs=1e-4)


@pytest.mark.parametrize("n, p", [(100, 0.05), (500, 0.5)])
def test_paired_score_interval_covers_and_keeps_its_size(n, p):
    rng = np.random.default_rng(3)
    pi = rng.beta(4 * p, 4 * (1 - p), size=(S, n))
    a, b = rng.random((S, n)) < pi, rng.random((S, n)) < pi  # equally good models
    n12, n21 = (a & ~b).sum(axis=1), (~a & b).sum(axis=1)
    lo, hi, _, pval = mcnemar_score(n12, n21, np.full(S, n))
    assert 0.025 <= np.mean(pval < 0.05) <= 0.08
    assert np.array_equal((lo > 0) | (hi < 0), pval < 0.05)
    ref = paired_test(a[0].astype(float), b[0].astype(float))
    assert ref.method == "mcnemar" and ref.pvalue == pytest.approx(pval[0])


@pytest.mark.parametrize("g, p", [(20, 0.5), (100, 0.5), (100, 0.05)])
def test_clustered_mcnemar_keeps_its_size(g, p):
    rng = np.random.default_rng(4)
    pc, a_sums = _clustered(rng, g, p)
    b_sums = rng.binomial(5, pc).astype(float)  # equally good models, clusters of 5
    d = a_sums - b_sums
    s = d.sum(axis=1)
    lo, hi, _, pval, unbounded = mcnemar_clustered(s, 5.0 * g, (d**2).sum(axis=1), 25.0 * g, 5 * s)
    assert 0.02 <= np.mean(pval < 0.05) <= 0.085
    assert np.array_equal((lo > 0) | (hi < 0), pval < 0.05) and not unbounded.any()
    assert 0.91 <= _cov(lo, hi, 0.0) <= 0.98

    def expand(sums):
        return (np.arange(5)[None, :] < sums[:, None]).astype(float).ravel()

    ref = paired_test(
        expand(a_sums[0]),
        expand(b_sums[0]),
        clusters=np.repeat(np.arange(g), 5),
        method="mcnemar-clustered",
    )
    assert ref.method == "mcnemar-clustered" and ref.pvalue == pytest.approx(pval[0])
    assert (ref.ci_low, ref.ci_high) == pytest.approx((lo[0], hi[0]))
