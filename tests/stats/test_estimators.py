"""Means with error bars: known answers by hand, and coverage over simulated data sets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats import bootstrap_ci, clustered_se, mean_ci, wilson_ci
from assay.stats._estimators import doc_means

SIMS = 2_000


def test_mean_ci_by_hand():
    x = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    est = mean_ci(x, method="t")
    mean = 4 / 6
    var = np.sum((x - mean) ** 2) / 5  # ddof 1
    se = np.sqrt(var / 6)
    q = sps.t.ppf(0.975, 5)
    assert est.mean == pytest.approx(mean)
    assert est.stderr == pytest.approx(se)
    assert est.ci_low == pytest.approx(mean - q * se)
    assert est.ci_high == pytest.approx(mean + q * se)
    assert est.n == 6 and est.method == "clt" and est.var_within == 0.0


def test_clustered_se_matches_miller_formula():
    x = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    clusters = np.array(["p", "p", "q", "q", "q", "r", "s"])
    n = x.size
    e = x - x.mean()
    # Miller eq. 4: SE_cl^2 = SE^2 + n^-2 sum_c sum_{i != j in c} e_i e_j, SE^2 = n^-2 sum e^2
    cross = 0.0
    for c in set(clusters):
        idx = np.flatnonzero(clusters == c)
        for i in idx:
            for j in idx:
                if i != j:
                    cross += e[i] * e[j]
    miller = np.sum(e**2) / n**2 + cross / n**2
    assert clustered_se(x, clusters, small_sample=False) == pytest.approx(np.sqrt(miller))
    g = 4
    assert clustered_se(x, clusters) == pytest.approx(np.sqrt(miller * g / (g - 1)))
    # one question per cluster: exactly the ddof-1 CLT standard error
    assert clustered_se(x, np.arange(n)) == pytest.approx(x.std(ddof=1) / np.sqrt(n))


def test_mean_ci_clustered_uses_cluster_df():
    x = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    clusters = ["a", "a", "b", "b", "c", "c", "d", "d"]
    est = mean_ci(x, clusters=clusters, method="t")
    se = clustered_se(x, clusters)
    q = sps.t.ppf(0.975, 3)
    assert est.method == "clustered" and est.n_clusters == 4 and est.df == 3
    assert est.ci_high - est.mean == pytest.approx(q * se)


def test_repeats_split_within_and_between():
    x = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, np.nan], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    xbar = np.array([2 / 3, 0.0, 1.0, 2 / 3])
    k = np.array([3, 2, 3, 3])
    s2 = np.array([1 / 3, 0.0, 0.0, 1 / 3])  # ddof-1 variance within each row
    mean, kk, var = doc_means(x)
    np.testing.assert_allclose(mean, xbar)
    np.testing.assert_array_equal(kk, k)
    np.testing.assert_allclose(var, s2)
    est = mean_ci(x)
    within = np.mean(s2 / k)
    assert est.var_within == pytest.approx(within)
    assert est.var_between == pytest.approx(xbar.var(ddof=1) - within)
    assert est.stderr == pytest.approx(np.sqrt(xbar.var(ddof=1) / 4))
    assert est.method == "clt+repeats"


def test_wilson_by_hand():
    k, n, z = 3, 10, sps.norm.ppf(0.975)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    lo, hi = wilson_ci(k, n)
    assert lo == pytest.approx(centre - half) and hi == pytest.approx(centre + half)
    lo0, hi0 = wilson_ci(0, 10)
    assert lo0 == 0.0 and hi0 == pytest.approx(z**2 / (n + z**2))
    lows, highs = wilson_ci(np.array([0, 3, 10]), np.array([10, 10, 10]))
    assert lows.shape == (3,) and highs[2] == 1.0


def test_bootstrap_matches_scipy_bca():
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 1.0, size=60)  # skewed: BCa differs from percentile
    ours = bootstrap_ci(x, method="bca", n_resamples=20_000, seed=3)
    ref = sps.bootstrap((x,), np.mean, method="BCa", n_resamples=20_000, random_state=4)
    lo, hi = ref.confidence_interval
    sd = x.std(ddof=1) / np.sqrt(x.size)
    assert ours.ci_low == pytest.approx(lo, abs=0.05 * sd * 4)
    assert ours.ci_high == pytest.approx(hi, abs=0.05 * sd * 4)
    assert ours.stderr == pytest.approx(ref.standard_error, rel=0.03)
    pct = bootstrap_ci(x, method="percentile", n_resamples=20_000, seed=3)
    ref_p = sps.bootstrap((x,), np.mean, method="percentile", n_resamples=20_000, random_state=4)
    assert pct.ci_low == pytest.approx(ref_p.confidence_interval.low, abs=0.2 * sd)


def test_bootstrap_few_values_fast_path_same_distribution():
    """Multinomial counts over distinct values = index resampling, in distribution."""
    rng = np.random.default_rng(2)
    x = (rng.random(400) < 0.3).astype(float)  # 2 distinct values: multinomial path
    res = bootstrap_ci(x, method="percentile", n_resamples=40_000, seed=5)
    p = x.mean()
    assert res.stderr == pytest.approx(np.sqrt(p * (1 - p) / 400), rel=0.03)
    idx = rng.integers(0, 400, size=(20_000, 400))
    brute = x[idx].mean(axis=1)
    assert res.ci_low == pytest.approx(np.quantile(brute, 0.025), abs=0.006)
    assert res.ci_high == pytest.approx(np.quantile(brute, 0.975), abs=0.006)


def test_paired_and_clustered_bootstrap():
    rng = np.random.default_rng(3)
    a, b = rng.random(300), rng.random(300)
    res = bootstrap_ci(a, b, method="percentile", n_resamples=5_000, seed=0)
    assert res.estimate == pytest.approx(np.mean(a - b))
    assert res.stderr == pytest.approx((a - b).std(ddof=1) / np.sqrt(300), rel=0.06)
    clusters = np.repeat(np.arange(30), 10)
    xc = np.repeat(rng.random(30), 10)  # perfectly clustered: only 30 independent values
    cl = bootstrap_ci(xc, clusters=clusters, method="bca", n_resamples=5_000, seed=0)
    assert cl.stderr == pytest.approx(xc[::10].std(ddof=1) / np.sqrt(30), rel=0.08)


def _coverage(lows, highs, truth) -> float:
    lows, highs = np.asarray(lows), np.asarray(highs)
    return float(np.mean((lows <= truth) & (truth <= highs)))


def test_coverage_binary_clt():
    rng = np.random.default_rng(10)
    p, n = 0.3, 400
    data = (rng.random((SIMS, n)) < p).astype(float)
    ests = [mean_ci(row) for row in data]
    cov = _coverage([e.ci_low for e in ests], [e.ci_high for e in ests], p)
    assert 0.935 <= cov <= 0.965, cov


def test_coverage_binary_wilson_small_n():
    rng = np.random.default_rng(11)
    p, n = 0.1, 40
    k = (rng.random((SIMS, n)) < p).sum(axis=1)
    lo, hi = wilson_ci(k, n)
    cov = _coverage(lo, hi, p)
    assert 0.935 <= cov <= 0.965, cov


def test_coverage_clustered():
    rng = np.random.default_rng(12)
    g, size = 60, 6
    clusters = np.repeat(np.arange(g), size)
    p_cluster = rng.beta(3.0, 2.0, size=(SIMS, g))  # cluster effect; E = 0.6 exactly
    data = (rng.random((SIMS, g * size)) < np.repeat(p_cluster, size, axis=1)).astype(float)
    ests = [mean_ci(row, clusters=clusters) for row in data]
    cov = _coverage([e.ci_low for e in ests], [e.ci_high for e in ests], 0.6)
    assert 0.935 <= cov <= 0.965, cov
    naive = [mean_ci(row, method="t") for row in data]  # ignoring the clusters under-covers badly
    assert _coverage([e.ci_low for e in naive], [e.ci_high for e in naive], 0.6) < 0.85


def test_coverage_repeats():
    rng = np.random.default_rng(13)
    n, k = 200, 4
    p_doc = rng.beta(2.0, 2.0, size=(SIMS, n))  # E = 0.5
    data = (rng.random((SIMS, n, k)) < p_doc[:, :, None]).astype(float)
    ests = [mean_ci(row) for row in data]
    cov = _coverage([e.ci_low for e in ests], [e.ci_high for e in ests], 0.5)
    assert 0.935 <= cov <= 0.965, cov


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_coverage_bootstrap_binary(method):
    rng = np.random.default_rng(14)
    p, n = 0.3, 300
    data = (rng.random((SIMS, n)) < p).astype(float)
    res = [
        bootstrap_ci(row, method=method, n_resamples=1_000, seed=i) for i, row in enumerate(data)
    ]
    cov = _coverage([r.ci_low for r in res], [r.ci_high for r in res], p)
    assert 0.935 <= cov <= 0.965, cov


def test_binned_bootstrap_matches_index_resampling(monkeypatch):
    """Many distinct values and large n: binned sums, same answer within Monte Carlo error."""
    from assay.stats import _estimators

    rng = np.random.default_rng(4)
    x, y = rng.gamma(2.0, 1.0, 30_000), rng.gamma(2.0, 1.0, 30_000)  # skewed paired scores
    fast = bootstrap_ci(x, y, method="bca", n_resamples=2_000, seed=1)
    monkeypatch.setattr(_estimators, "_BINNED_FROM", 10**9)
    exact = bootstrap_ci(x, y, method="bca", n_resamples=2_000, seed=2)
    se = exact.stderr
    assert fast.stderr == pytest.approx(se, rel=0.07)  # sd of an sd from 2,000 draws: 1.6%
    assert fast.ci_low == pytest.approx(exact.ci_low, abs=0.2 * se)
    assert fast.ci_high == pytest.approx(exact.ci_high, abs=0.2 * se)
    assert se == pytest.approx((x - y).std(ddof=1) / np.sqrt(x.size), rel=0.07)
