"""Intervals where the data show no spread: two models that never disagree, one model that
answers every question right, a discordant cell of zero. Each interval must keep a width
that matches the evidence (an outside audit found [0, 0] and [1, 1] intervals covering 43 %)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats import compare, paired_test, wilson_ci
from assay.stats._paired import mcnemar_score


def _rare_flips(rng, n=80, clusters=20, q=0.01):
    """B loses a right answer of A with probability q: true difference 0.7 q."""
    a = (rng.random(n) < 0.7).astype(float)
    b = a.copy()
    b[(rng.random(n) < q) & (a == 1)] = 0.0
    return a, b, np.repeat(np.arange(clusters), n // clusters)


def test_models_that_never_disagree_get_tango_on_one_question_per_cluster():
    a = np.tile([1.0, 0.0, 1.0, 1.0], 20)
    cl = np.repeat(np.arange(20), 4)
    for method in ("auto", "t", "permutation"):
        r = paired_test(a, a.copy(), clusters=cl, method=method, n_permutations=500)
        lo, hi, _, _ = mcnemar_score(0.0, 0.0, 20.0)  # n_eff = 80² / (20 · 4²) = 20
        assert (r.ci_low, r.ci_high) == pytest.approx((float(lo), float(hi))), method
        assert r.ci_high - r.ci_low > 0.1 and r.pvalue == 1.0
    plain = paired_test(a, a.copy(), method="t")  # no clusters: each question its own
    lo, hi, _, _ = mcnemar_score(0.0, 0.0, 80.0)
    assert (plain.ci_low, plain.ci_high) == pytest.approx((float(lo), float(hi)))


def test_every_question_decided_for_one_side_is_not_certain():
    a, b = np.ones(30), np.zeros(30)
    r = paired_test(a, b, method="t")
    assert r.method == "sign-test" and r.pvalue == pytest.approx(2 * 0.5**30)
    lo, _, _, _ = mcnemar_score(30.0, 0.0, 30.0)
    assert r.ci_low == pytest.approx(float(lo)) and r.ci_low < 0.95 and r.ci_high == 1.0


def test_clustered_default_covers_rare_disagreements():
    """The audit's case: 80 questions in 20 clusters, B only loses answers (1 %). The zero-width
    interval of no disagreement covered 42.7 % of 2,000 data sets; now at least 95 %."""
    rng = np.random.default_rng(1)
    hits = []
    for _ in range(400):
        a, b, cl = _rare_flips(rng)
        r = paired_test(a, b, clusters=cl)
        hits.append(r.ci_low <= 0.007 <= r.ci_high and r.ci_high > r.ci_low)
    assert np.mean(hits) >= 0.95


@pytest.mark.parametrize(("p10", "p01", "n"), [(0.2, 0.0, 60), (0.1, 0.0, 100), (0.15, 0.05, 100)])
def test_exact_mcnemar_interval_covers(p10, p01, n):
    """Clopper–Pearson mapped through the observed (b + c) / n covered 54 % at (0.2, 0, 60)."""
    rng = np.random.default_rng(7)
    hits = 0
    reps = 600
    for _ in range(reps):
        u = rng.random(n)
        a = np.where(u < p10, 1.0, np.where(u < p10 + p01, 0.0, (u > 0.6).astype(float)))
        b = np.where(u < p10, 0.0, np.where(u < p10 + p01, 1.0, a))
        r = paired_test(a, b, method="mcnemar-exact")
        hits += r.ci_low <= p10 - p01 <= r.ci_high
    assert hits / reps >= 0.925  # 95 % target; 600 draws: sd 0.9 pp


def test_exact_mcnemar_upper_bound_passes_the_estimate_when_c_is_zero():
    a = np.r_[np.ones(16), np.ones(20), np.zeros(24)]
    b = np.r_[np.zeros(16), np.ones(20), np.zeros(24)]
    r = paired_test(a, b, method="mcnemar-exact")
    assert r.pvalue == pytest.approx(sps.binomtest(16, 16, 0.5).pvalue)
    assert r.ci_low < 16 / 60 < r.ci_high
    lo, hi, _, _ = mcnemar_score(16, 0, 60)
    assert (r.ci_low, r.ci_high) == pytest.approx((float(lo), float(hi)))


def test_overall_row_of_an_all_right_model_is_wilson_on_the_pooled_trials(make_scores):
    scores = make_scores({"all": 1.0, "half": 0.5}, tasks=("t1", "t2"), n=50)
    res = compare(scores, overall=True)
    rows = res.scores.set_index(["task", "model"])
    assert rows.loc[("t1", "all"), "ci_low"] < 1.0
    overall = rows.loc[("(all)", "all")]
    low, high = wilson_ci(100, 100)
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx((low, high))
    assert 0.95 < overall["ci_low"] < 0.97 and overall["method"] == "wilson-macro"
