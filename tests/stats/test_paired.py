"""Paired comparisons and multiple-testing corrections: known answers and null behaviour."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats import adjust_pvalues, clustered_se, paired_test
from assay.stats._paired import benjamini_hochberg, holm

SIMS = 2_000


def test_paired_t_matches_scipy_and_hand():
    a = np.array([0.9, 0.4, 0.7, 0.8, 0.3, 0.6, 0.5])
    b = np.array([0.7, 0.5, 0.6, 0.6, 0.2, 0.6, 0.2])
    res = paired_test(a, b, method="t")
    d = a - b
    se = d.std(ddof=1) / np.sqrt(7)
    assert res.diff == pytest.approx(d.mean())
    assert res.stderr == pytest.approx(se)
    assert res.ci_low == pytest.approx(d.mean() - sps.t.ppf(0.975, 6) * se)
    ref = sps.ttest_rel(a, b)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.pvalue == pytest.approx(ref.pvalue)
    assert res.correlation == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert res.method == "t" and res.n == 7


def test_exact_mcnemar_by_hand():
    # a right & b wrong on 7 questions, b right & a wrong on 2, concordant on 11
    a = np.array([1] * 7 + [0] * 2 + [1] * 6 + [0] * 5, dtype=float)
    b = np.array([0] * 7 + [1] * 2 + [1] * 6 + [0] * 5, dtype=float)
    res = paired_test(a, b, method="mcnemar-exact")
    assert res.method == "mcnemar-exact"
    assert (res.a_only_right, res.b_only_right) == (7, 2)
    # two-sided exact binomial, 9 discordant pairs, p = 0.5: 2 * P(X <= 2)
    from math import comb

    p = 2 * sum(comb(9, k) for k in range(3)) / 2**9
    assert res.pvalue == pytest.approx(p)
    assert res.diff == pytest.approx(5 / 20)


def test_permutation_pvalue_matches_full_enumeration():
    d = np.array([0.5, 0.3, -0.1, 0.4, 0.2, 0.6, -0.2, 0.35])
    a, b = d, np.zeros_like(d)
    signs = np.array(list(itertools.product([-1, 1], repeat=d.size)))
    exact = np.mean(np.abs(signs @ d) >= abs(d.sum()) - 1e-12)
    res = paired_test(a, b, method="permutation", n_permutations=40_000, seed=1)
    assert res.pvalue == pytest.approx(exact, abs=0.006)


def test_clustered_paired_se_and_drops_missing():
    a = np.array([1.0, 0.0, 1.0, 1.0, np.nan, 1.0])
    b = np.array([0.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    clusters = np.array(["x", "x", "y", "y", "y", "z"])
    res = paired_test(a, b, clusters=clusters, method="t")
    keep = ~np.isnan(a)
    d = (a - b)[keep]
    assert res.n == 5 and res.method == "t" and res.n_clusters == 3 and res.df == 2
    assert res.stderr == pytest.approx(clustered_se(d, clusters[keep]))
    # binary with clusters: "auto" is the clustered t; the cluster-adjusted McNemar test (opt-in)
    # finds 3 clusters too few
    assert paired_test(a, b, clusters=clusters).method == "t"
    opt = paired_test(a, b, clusters=clusters, method="mcnemar-clustered")
    assert opt.method.startswith("mcnemar-clustered (too few clusters")
    assert opt.stderr == pytest.approx(res.stderr) and (opt.ci_low, opt.ci_high) == (-1, 1)


def test_repeats_are_averaged_per_question():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, np.nan]])
    b = np.array([0.0, 1.0, 0.0, 0.0])
    res = paired_test(a, b)
    d = np.array([0.5, 0.0, 0.0, 1.0])
    assert res.method == "t"
    assert res.diff == pytest.approx(d.mean())
    assert res.stderr == pytest.approx(d.std(ddof=1) / 2)


def test_holm_and_bh_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> cummax
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    # BH: sorted p * 4 / rank -> 0.02, 0.02, 0.04, 0.04 -> reverse cummin
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])
    with_nan = holm([0.01, np.nan, 0.02])
    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.02])
    np.testing.assert_allclose(adjust_pvalues(p, "none"), p)
    with pytest.raises(ValueError):
        adjust_pvalues(p, "bonferonni")


def _null_pairs(rng, n):
    """Two equally good models: same per-question difficulty, independent answers."""
    p_doc = rng.beta(2.0, 2.0, size=(SIMS, n))
    a = (rng.random((SIMS, n)) < p_doc).astype(float)
    b = (rng.random((SIMS, n)) < p_doc).astype(float)
    return a, b


@pytest.mark.parametrize("method", ["t", "mcnemar"])
def test_null_rejection_rate(method):
    rng = np.random.default_rng(20)
    a, b = _null_pairs(rng, 300)
    rejections = np.mean(
        [paired_test(x, y, method=method).pvalue < 0.05 for x, y in zip(a, b, strict=True)]
    )
    assert 0.035 <= rejections <= 0.065, rejections


def test_null_rejection_rate_clustered():
    rng = np.random.default_rng(21)
    g, size = 60, 5
    clusters = np.repeat(np.arange(g), size)
    p_cluster = np.repeat(rng.beta(2.0, 2.0, size=(SIMS, g)), size, axis=1)
    a = (rng.random((SIMS, g * size)) < p_cluster).astype(float)
    b = (rng.random((SIMS, g * size)) < p_cluster).astype(float)
    pvals = np.array(
        [paired_test(x, y, clusters=clusters).pvalue for x, y in zip(a, b, strict=True)]
    )
    assert 0.035 <= np.mean(pvals < 0.05) <= 0.065


def test_paired_coverage():
    rng = np.random.default_rng(22)
    n = 300
    p_doc = rng.beta(3.0, 2.0, size=(SIMS, n))  # E[p] = 0.6
    a = (rng.random((SIMS, n)) < p_doc).astype(float)
    b = (rng.random((SIMS, n)) < 0.9 * p_doc).astype(float)  # E = 0.54: true diff 0.06
    res = [paired_test(x, y) for x, y in zip(a, b, strict=True)]
    cov = np.mean([(r.ci_low <= 0.06 <= r.ci_high) for r in res])
    assert 0.935 <= cov <= 0.965, cov
    # pairing shrinks the SE compared with two independent samples
    unpaired = np.sqrt(a.var(axis=1, ddof=1) / n + b.var(axis=1, ddof=1) / n)
    assert np.mean([r.stderr for r in res]) < np.mean(unpaired)


def _tango_by_hand(b, c, n, delta):
    """Tango (1998) eq. 3: restricted MLE of p21 from 2n p² + (−b − c + (2n − b + c)δ) p
    − c δ (1 − δ) = 0, statistic (b − c − nδ) / √(n (2 p21 + δ (1 − δ)))."""
    qa, qb, qc = 2 * n, -b - c + (2 * n - b + c) * delta, -c * delta * (1 - delta)
    p21 = (-qb + np.sqrt(qb**2 - 4 * qa * qc)) / (2 * qa)
    return (b - c - n * delta) / np.sqrt(n * (2 * p21 + delta * (1 - delta)))


def test_mcnemar_score_interval_by_hand():
    a = np.array([1] * 7 + [0] * 2 + [1] * 6 + [0] * 5, dtype=float)
    b = np.array([0] * 7 + [1] * 2 + [1] * 6 + [0] * 5, dtype=float)
    res = paired_test(a, b)
    assert res.method == "mcnemar" and res.statistic == pytest.approx(5 / 3)
    assert res.pvalue == pytest.approx(sps.chi2.sf(25 / 9, 1))  # McNemar, no continuity corr.
    z = sps.norm.ppf(0.975)
    assert _tango_by_hand(7, 2, 20, res.ci_low) == pytest.approx(z)
    assert _tango_by_hand(7, 2, 20, res.ci_high) == pytest.approx(-z)
    assert res.ci_low < 0 < res.ci_high  # p = 0.096 > 0.05
    exact = paired_test(a, b, method="mcnemar-exact")  # exact p; Tango's interval (holds 0)
    assert exact.pvalue == pytest.approx(sps.binomtest(7, 9, 0.5).pvalue)
    assert (exact.ci_low, exact.ci_high) == pytest.approx((res.ci_low, res.ci_high))


@pytest.mark.parametrize("method", ["auto", "t", "mcnemar-exact", "permutation"])
def test_interval_excludes_zero_iff_p_below_alpha(method):
    rng = np.random.default_rng(30)
    agree = 0
    for i in range(40):
        n = int(rng.integers(20, 200))
        p = rng.beta(2.0, 2.0, size=n)
        a = (rng.random(n) < p).astype(float)
        b = (rng.random(n) < p * rng.uniform(0.7, 1.0)).astype(float)
        clusters = np.repeat(np.arange(n), 1) // 4 if method in ("t", "permutation") else None
        for alpha in (0.05, 0.2):
            kw = {"n_permutations": 2_000} if method == "permutation" else {}
            r = paired_test(a, b, clusters=clusters, method=method, alpha=alpha, seed=i, **kw)
            excludes = r.ci_low > 0 or r.ci_high < 0
            assert excludes == (r.pvalue < alpha), (i, alpha, r)
            agree += excludes
    assert agree > 5  # both outcomes occur


def test_continuous_t_interval_and_test_agree():
    rng = np.random.default_rng(31)
    for i in range(30):
        a, b = rng.normal(0, 1, 60), rng.normal(0.2, 1, 60)
        r = paired_test(a, b)
        assert r.method == "t" and (r.ci_low > 0 or r.ci_high < 0) == (r.pvalue < 0.05), i


def _clustered_example():
    """5 clusters of sizes 2, 3, 2, 3, 2 with discordance d_k = 1, 2, −1, 2, 0."""
    a = np.array([1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0], dtype=float)
    b = np.array([0, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0], dtype=float)
    return a, b, np.repeat(np.arange(5), [2, 3, 2, 3, 2])


def test_clustered_mcnemar_by_hand():
    a, b, clusters = _clustered_example()
    dk, nk = np.array([1.0, 2.0, -1.0, 2.0, 0.0]), np.array([2.0, 3.0, 2.0, 3.0, 2.0])
    res = paired_test(a, b, clusters=clusters, method="mcnemar-clustered")
    assert res.method == "mcnemar-clustered" and res.n_clusters == 5
    # Durkalski: X² = (Σ d_k)² / Σ d_k² = 16 / 10
    assert res.statistic == pytest.approx(4 / np.sqrt(10))
    assert res.pvalue == pytest.approx(sps.chi2.sf(1.6, 1))
    assert res.diff == pytest.approx(4 / 12)
    z2 = sps.norm.ppf(0.975) ** 2

    def score(delta):  # (S − ΔN)² − z² Σ (d_k − Δ n_k)²: zero at both ends of the interval
        return (4 - 12 * delta) ** 2 - z2 * np.sum((dk - delta * nk) ** 2)

    assert score(res.ci_low) == pytest.approx(0, abs=1e-9)
    assert score(res.ci_high) == pytest.approx(0, abs=1e-9)
    # the quadratic by hand: A = 144 − 30 z², B = 48 − 12 z², C = 16 − 10 z²
    qa, qb, qc = 144 - 30 * z2, 48 - 12 * z2, 16 - 10 * z2
    root = np.sqrt(qb**2 - qa * qc)
    assert (res.ci_low, res.ci_high) == pytest.approx(((qb - root) / qa, (qb + root) / qa))
    assert res.ci_low < 0 < res.ci_high  # p = 0.21
    t = paired_test(a, b, clusters=clusters, method="t")
    assert t.method == "t" and t.diff == res.diff
    # one question per cluster: the statistic is McNemar's
    plain = paired_test(a, b, method="mcnemar-clustered")
    assert plain.statistic == pytest.approx(paired_test(a, b, method="mcnemar").statistic)


def test_clustered_mcnemar_degenerate_cases():
    clusters = np.repeat(np.arange(6), 4)
    same = paired_test(np.ones(24), np.ones(24), clusters=clusters, method="mcnemar-clustered")
    assert same.method == "mcnemar-clustered" and same.pvalue == 1.0
    assert same.ci_low < 0 < same.ci_high and same.ci_low == pytest.approx(-same.ci_high)
    a, b, _ = _clustered_example()
    few = paired_test(a, b, clusters=np.repeat([0, 1], [5, 7]), method="mcnemar-clustered")
    assert "too few clusters" in few.method
    assert -1 <= few.ci_low <= 0 <= few.ci_high <= 1
    with pytest.raises(ValueError, match="binary"):
        paired_test(a * 0.5, b, clusters=_clustered_example()[2], method="mcnemar-clustered")


def test_clustered_mcnemar_interval_and_test_agree():
    rng = np.random.default_rng(32)
    agree = unbounded = 0
    for i in range(40):
        g, size = int(rng.integers(2, 40)), int(rng.integers(1, 8))
        sizes = rng.integers(1, size + 1, size=g)
        clusters = np.repeat(np.arange(g), sizes)
        p = np.repeat(rng.beta(1.0, 1.0, size=g), sizes)
        a = (rng.random(clusters.size) < p).astype(float)
        b = (rng.random(clusters.size) < p * rng.uniform(0.5, 1.0)).astype(float)
        for alpha in (0.05, 0.2):
            r = paired_test(a, b, clusters=clusters, alpha=alpha, method="mcnemar-clustered")
            assert r.method.startswith("mcnemar-clustered")
            excludes = r.ci_low > 0 or r.ci_high < 0
            assert excludes == (r.pvalue < alpha), (i, alpha, r)
            assert -1 <= r.ci_low <= r.diff <= r.ci_high <= 1
            agree += excludes
            unbounded += "too few" in r.method
    assert agree > 5 and unbounded > 0  # both outcomes occur, and the unbounded case
