"""Rasch ranking of sparse per-sample results and per-model thinning (issue 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import kendalltau

from assay.errors import InputError
from assay.rank import rank_samples, subsample_curve
from assay.rank._rasch import fit_rasch


def _sparse(k=30, s=800, keep=0.05, seed=0):
    rng = np.random.default_rng(seed)
    theta, a, b = rng.normal(0, 1, k), rng.lognormal(0, 0.3, s), rng.normal(0, 1, s)
    x = (rng.random((k, s)) < expit(a * (theta[:, None] - b))).astype(float)
    x[rng.random((k, s)) > keep] = np.nan
    return x, theta


def _tidy(x: np.ndarray) -> pd.DataFrame:
    m, s = np.nonzero(~np.isnan(x))
    return pd.DataFrame({"model": [f"m{i:02d}" for i in m], "task": "t", "doc_id": s.astype(str),
                         "metric": "acc", "value": x[m, s]})  # fmt: skip


def test_irt_beats_plackett_luce_on_a_sparse_matrix():
    # small version of benchmarks/sparse_ranking.py (there: 0.787 → 0.832, oracle 0.852)
    gains = []
    for seed in range(3):
        x, theta = _sparse(seed=seed)
        names = [f"m{i:02d}" for i in range(len(theta))]
        tau = {}
        for method in ("pl", "irt"):
            r = rank_samples(_tidy(x), method=method, bootstrap=0)
            tau[method] = kendalltau(r.rating.loc[names], theta).statistic
        assert tau["irt"] > 0.6
        gains.append(tau["irt"] - tau["pl"])
    assert np.mean(gains) > 0.02


def test_irt_intervals_cover_the_true_ranks():
    x, theta = _sparse(k=20, s=600, keep=0.2, seed=5)
    r = rank_samples(_tidy(x), method="irt", bootstrap=50, seed=0)
    names = [f"m{i:02d}" for i in range(len(theta))]
    t = r.table.set_index("model").loc[names]
    true_rank = 1 + np.argsort(np.argsort(-theta))
    assert np.mean((t["rank_low"] <= true_rank) & (true_rank <= t["rank_high"])) >= 0.9
    assert (t["ci_low"] <= t["rating"]).all() and (t["rating"] <= t["ci_high"]).all()
    assert r.method == "irt" and r.bootstrap.shape == (50, 20)


def test_fit_rasch_recovers_abilities_and_weights_act_as_counts():
    rng = np.random.default_rng(2)
    theta, b = np.linspace(-1.5, 1.5, 8), rng.normal(0, 1, 3000)
    x = (rng.random((8, 3000)) < expit(theta[:, None] - b)).astype(float)
    est, b_hat = fit_rasch(x)
    # 8 answers per sample shrink the difficulties, and with them the ability scale, a little
    assert np.corrcoef(est[0], theta)[0, 1] > 0.99
    assert 0.8 < np.polyfit(theta, est[0], 1)[0] < 1.1
    assert np.corrcoef(b_hat[0], b)[0, 1] > 0.6
    # a bootstrap weight of 0 drops the sample; weights of several replicates fit at once
    w = np.ones((2, 3000))
    w[1, 1500:] = 0
    both = fit_rasch(x, w)[0]
    np.testing.assert_allclose(both[0], est[0], atol=1e-4)
    np.testing.assert_allclose(both[1], fit_rasch(x[:, :1500])[0][0], atol=1e-3)


def test_irt_rejects_unbounded_scores():
    df = _tidy(_sparse(k=5, s=50, keep=0.9)[0]).assign(value=lambda d: d["value"] * 3)
    with pytest.raises(InputError, match="irt needs scores in"):
        rank_samples(df, method="irt", bootstrap=0)


def test_subsample_curve_thins_each_model():
    x, _ = _sparse(k=10, s=400, keep=1.0, seed=1)
    df = _tidy(x)
    cells = subsample_curve(df, fractions=(0.5, 0.1), repeats=3, seed=0)
    whole = subsample_curve(df, fractions=(0.5, 0.1), repeats=3, seed=0, thin="samples")
    assert list(cells["repeats"]) == [3, 3] and list(whole["repeats"]) == [3, 3]
    assert (cells["tau_mean"] > 0.3).all() and cells["tau_mean"].iloc[0] > 0.7
    with pytest.raises(InputError, match="thin"):
        subsample_curve(df, fractions=(0.5,), thin="nope")
