"""Kendall τ, the subsampling curve and bootstrap rank distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from assay.errors import InputError
from assay.rank import fit_battles, kendall_tau, rank_distribution, subsample_curve


def simulate(theta, n, seed):
    """Battles between random pairs, won with the Bradley–Terry probability (no ties)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(theta), n)
    b = (a + rng.integers(1, len(theta), n)) % len(theta)
    winner = np.where(rng.random(n) < expit(theta[a] - theta[b]), "model_a", "model_b")
    names = np.array([f"m{i}" for i in range(len(theta))])
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


def test_kendall_tau_by_hand():
    # one swapped pair out of 6: (5 concordant − 1 discordant) / 6
    res = kendall_tau(["a", "b", "c", "d"], ["a", "c", "b", "d"])
    assert res.statistic == pytest.approx(4 / 6)
    assert res.n_models == 4
    assert float(kendall_tau(["a", "b", "c"], ["c", "b", "a"])) == pytest.approx(-1.0)
    # Series (higher = better) and only the shared models
    s = pd.Series({"a": 3.0, "b": 2.0, "c": 1.0, "zz": 9.0})
    assert kendall_tau(s, ["a", "b", "c"]).statistic == pytest.approx(1.0)
    assert kendall_tau(s, ["a", "b", "c"]).n_models == 3
    with pytest.raises(InputError, match="fewer than two"):
        kendall_tau(["a"], ["a", "b"])


def test_subsample_curve_on_battles():
    theta = np.linspace(-1, 1, 8)
    battles = simulate(theta, 4000, seed=2)
    curve = subsample_curve(battles, fractions=(1.0, 0.5, 0.02), repeats=4, seed=1)
    assert curve["fraction_kept"].tolist() == [1.0, 0.5, 0.02]
    assert curve.loc[0, "tau_mean"] == pytest.approx(1.0)  # all data: the same ranking
    assert curve.loc[0, "tau_sd"] == pytest.approx(0.0)
    assert curve.loc[2, "tau_mean"] < curve.loc[1, "tau_mean"] <= 1.0
    assert (curve["repeats"] == 4).all()


def test_rank_distribution_by_hand():
    boot = np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [3.0, 1.0, 2.0], [3.0, 2.0, 1.0]])
    dist = rank_distribution(["a", "b", "c"], boot)
    assert dist.loc["a"].tolist() == [0.75, 0.25, 0.0]
    assert dist.loc["b"].tolist() == [0.25, 0.5, 0.25]
    assert dist.loc["c"].tolist() == [0.0, 0.25, 0.75]


def test_ratings_rank_distribution_concentrates_on_clear_gaps():
    battles = simulate(np.array([-2.0, 0.0, 2.0]), 3000, seed=4)
    dist = fit_battles(battles, bootstrap=50, seed=0).rank_distribution()
    assert dist.loc["m2", 1] == 1.0 and dist.loc["m0", 3] == 1.0
