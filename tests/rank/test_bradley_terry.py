"""Bradley–Terry, Davidson and online Elo: simulations, independent ML fits, hand-made answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from assay.errors import InputError
from assay.rank import (
    ELO_PER_LOGIT,
    aggregate_battles,
    fit_battles,
    online_elo,
    rank_intervals,
)


def simulate(theta, n, seed, tie_rate=0.1):
    rng = np.random.default_rng(seed)
    k = len(theta)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p = expit(theta[a] - theta[b])
    tie = rng.random(n) < tie_rate
    win_a = rng.random(n) < p
    winner = np.where(tie, "tie", np.where(win_a, "model_a", "model_b"))
    names = np.array([f"m{i}" for i in range(k)])
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


def true_elo(theta):
    return 1000 + ELO_PER_LOGIT * (theta - theta.mean())


def by_model(ratings, column="rating"):
    t = ratings.table.set_index("model")
    return t.loc[sorted(t.index, key=lambda m: int(m[1:])), column].to_numpy()


# A fixed count table: (model_a, model_b, wins a, wins b, ties).
COUNTS = [
    ("a", "b", 30, 12, 4),
    ("a", "c", 25, 20, 6),
    ("a", "d", 40, 5, 2),
    ("b", "c", 18, 22, 5),
    ("b", "d", 28, 10, 3),
    ("c", "d", 33, 9, 8),
    ("d", "a", 3, 10, 1),  # the same pair in the other orientation must be merged
]


def count_battles():
    rows = []
    for a, b, wa, wb, t in COUNTS:
        rows += [(a, b, "model_a")] * wa + [(a, b, "model_b")] * wb + [(a, b, "tie")] * t
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


def test_recovers_simulated_ratings_with_correlation_above_099():
    theta = np.random.default_rng(7).normal(0, 1, 20)
    ratings = fit_battles(simulate(theta, 30_000, seed=1), bootstrap=50, seed=3)
    est = by_model(ratings)
    assert np.corrcoef(est, true_elo(theta))[0, 1] >= 0.99
    assert abs(est.mean() - 1000) < 1e-6  # default anchor: mean 1000
    assert ratings.table["n"].sum() == 2 * 30_000


def test_bootstrap_intervals_cover_at_the_nominal_rate():
    theta = np.array([-0.8, -0.2, 0.0, 0.5, 1.0])
    truth = true_elo(theta)
    hits = []
    for rep in range(40):
        # no ties: with ties as half wins, random ties would shrink the ratings toward 1000
        battles = simulate(theta, 1500, seed=100 + rep, tie_rate=0.0)
        r = fit_battles(battles, bootstrap=100, seed=rep)
        lo, hi = by_model(r, "ci_low"), by_model(r, "ci_high")
        hits.append((lo <= truth) & (truth <= hi))
    coverage = np.mean(hits)
    # 200 intervals at 95%: binomial sd 1.5 points; percentile intervals run a little short
    assert 0.88 <= coverage <= 0.99, coverage


def test_matches_an_independent_scipy_maximum_likelihood_fit():
    battles = count_battles()
    ratings = fit_battles(battles, bootstrap=0)
    models = ["a", "b", "c", "d"]
    idx = {m: i for i, m in enumerate(models)}
    # one term per (a, b) row of COUNTS: ties are half a win each way
    ia = np.array([idx[r[0]] for r in COUNTS])
    ib = np.array([idx[r[1]] for r in COUNTS])
    w = np.array([r[2] + 0.5 * r[4] for r in COUNTS], dtype=float)
    lose = np.array([r[3] + 0.5 * r[4] for r in COUNTS], dtype=float)

    def nll(x):
        theta = np.append(x, 0.0)  # gauge: last model at 0
        d = theta[ia] - theta[ib]
        return -(w * log_expit(d) + lose * log_expit(-d)).sum()

    res = minimize(nll, np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    theta = np.append(res.x, 0.0)
    expected = 1000 + ELO_PER_LOGIT * (theta - theta.mean())
    got = ratings.table.set_index("model").loc[models, "rating"].to_numpy()
    np.testing.assert_allclose(got, expected, atol=0.01)


def test_davidson_matches_an_independent_scipy_fit():
    ratings = fit_battles(count_battles(), method="davidson", bootstrap=0)
    models = ["a", "b", "c", "d"]
    idx = {m: i for i, m in enumerate(models)}
    ia = np.array([idx[r[0]] for r in COUNTS])
    ib = np.array([idx[r[1]] for r in COUNTS])
    wa, wb, t = (np.array([r[c] for r in COUNTS], dtype=float) for c in (2, 3, 4))

    def nll(x):
        theta, nu = np.append(x[:3], 0.0), np.exp(x[3])
        pa, pb = np.exp(theta[ia]), np.exp(theta[ib])
        denom = pa + pb + nu * np.sqrt(pa * pb)
        return -(
            wa * np.log(pa / denom)
            + wb * np.log(pb / denom)
            + t * np.log(nu * np.sqrt(pa * pb) / denom)
        ).sum()

    res = minimize(nll, np.zeros(4), method="BFGS", options={"gtol": 1e-10})
    theta = np.append(res.x[:3], 0.0)
    expected = 1000 + ELO_PER_LOGIT * (theta - theta.mean())
    got = ratings.table.set_index("model").loc[models, "rating"].to_numpy()
    np.testing.assert_allclose(got, expected, atol=0.01)
    assert ratings.info["tie_parameter"] == pytest.approx(np.exp(res.x[3]), rel=1e-4)


def test_anchor_win_probability_and_counts():
    battles = count_battles()
    free = fit_battles(battles, bootstrap=0)
    anchored = fit_battles(battles, anchor=("d", 1200.0), bootstrap=40, seed=1)
    t = anchored.table.set_index("model")
    assert t.loc["d", "rating"] == pytest.approx(1200.0)
    # anchoring shifts every rating by the same amount
    shift = free.rating - anchored.rating.loc[free.rating.index]
    assert np.ptp(shift.to_numpy()) < 1e-8
    # P(a beats b) = 1 / (1 + 10^((R_b − R_a) / 400))
    r = free.rating
    expected = 1 / (1 + 10 ** ((r["b"] - r["a"]) / 400))
    assert free.win_probability.loc["a", "b"] == pytest.approx(expected)
    assert free.win_probability.loc["a", "b"] + free.win_probability.loc["b", "a"] == pytest.approx(
        1
    )
    # n: battles each model played, by hand from COUNTS
    n = {m: 0 for m in "abcd"}
    for a, b, wa, wb, tie in COUNTS:
        n[a] += wa + wb + tie
        n[b] += wa + wb + tie
    assert free.table.set_index("model")["n"].to_dict() == n
    with pytest.raises(InputError, match="anchor"):
        fit_battles(battles, anchor=("zzz", 1000.0))


def test_aggregate_merges_orientations_and_counts_ties():
    pairs = aggregate_battles(count_battles())
    assert pairs.models == ["a", "b", "c", "d"]
    table = {
        (pairs.models[i], pairs.models[j]): tuple(c)
        for i, j, c in zip(pairs.pair_i, pairs.pair_j, pairs.counts, strict=True)
    }
    assert table[("a", "d")] == (40 + 10, 5 + 3, 2 + 1)
    assert table[("b", "c")] == (18, 22, 5)
    assert pairs.n_battles == sum(r[2] + r[3] + r[4] for r in COUNTS)


def test_bootstrap_is_seeded():
    battles = count_battles()
    r1 = fit_battles(battles, bootstrap=30, seed=5)
    r2 = fit_battles(battles, bootstrap=30, seed=5)
    r3 = fit_battles(battles, bootstrap=30, seed=6)
    pd.testing.assert_frame_equal(r1.table, r2.table)
    assert not np.allclose(r1.table["ci_low"], r3.table["ci_low"])
    dist = r1.rank_distribution()
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)


def test_wald_intervals_without_bootstrap_are_close_to_bootstrap():
    theta = np.array([-0.5, 0.0, 0.4, 0.9])
    battles = simulate(theta, 8000, seed=11)
    wald = fit_battles(battles, bootstrap=0)
    boot = fit_battles(battles, bootstrap=300, seed=2)
    w_width = (wald.table["ci_high"] - wald.table["ci_low"]).to_numpy()
    b_width = (boot.table["ci_high"] - boot.table["ci_low"]).to_numpy()
    np.testing.assert_allclose(w_width, b_width, rtol=0.2)
    assert wald.info["interval"].startswith("Wald")


def test_rank_intervals_by_hand():
    lo = np.array([10.0, 8.0, 1.0, 0.0])
    hi = np.array([12.0, 11.0, 9.0, 2.0])
    best, worst = rank_intervals(lo, hi)
    # best = 1 + #(lower bounds above my upper bound): for model 2 (hi 9) only lo 10 counts
    # -> 2; for model 3 (hi 2), lo 10 and lo 8 -> 3.
    assert best.tolist() == [1, 1, 2, 3]
    # worst = K − #(upper bounds below my lower bound): model 0 (lo 10) beats 2 (hi 9) and
    # 3 (hi 2) -> 2; model 1 (lo 8) beats 3 -> 3; models 2 and 3 beat nobody surely -> 4.
    assert worst.tolist() == [2, 3, 4, 4]


def test_online_elo_equals_the_sequential_update():
    battles = simulate(np.array([0.3, -0.1, 0.8, 0.0, -0.6]), 2000, seed=4)
    got = online_elo(battles, k=16)
    rating = dict.fromkeys(got.index, 1000.0)
    score = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}
    for a, b, w in battles.itertuples(index=False):  # the textbook loop, as a reference
        e = 1 / (1 + 10 ** ((rating[b] - rating[a]) / 400))
        rating[a] += 16 * (score[w] - e)
        rating[b] -= 16 * (score[w] - e)
    for m, v in rating.items():
        assert got[m] == pytest.approx(v, abs=1e-9)
    r = fit_battles(battles, method="elo", bootstrap=20, seed=0, k=16)
    assert r.rating.to_dict() == pytest.approx(got.to_dict())
    assert r.bootstrap.shape == (20, 5)


def test_bad_input_gives_one_line_errors():
    with pytest.raises(InputError, match="method"):
        fit_battles(count_battles(), method="glicko")
    bad = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["draw"]})
    with pytest.raises(InputError, match="draw"):
        fit_battles(bad)
    with pytest.raises(InputError, match="two models"):
        fit_battles(pd.DataFrame({"model_a": ["a"], "model_b": ["a"], "winner": ["tie"]}))
    split = pd.DataFrame({"model_a": ["a", "c"], "model_b": ["b", "d"], "winner": ["tie"] * 2})
    with pytest.raises(InputError, match=r"2 groups never compared with each other \(a, b; c, d\)"):
        fit_battles(split)


def test_undefeated_model_gets_a_finite_rating_and_an_unbounded_interval():
    battles = pd.DataFrame(
        {
            "model_a": ["a"] * 10 + ["b"] * 10,
            "model_b": ["b"] * 10 + ["c"] * 10,
            "winner": ["model_a"] * 10 + ["model_a"] * 6 + ["model_b"] * 4,
        }
    )
    r = fit_battles(battles, bootstrap=20, seed=0)
    assert np.isfinite(r.table["rating"]).all()
    assert r.table["model"].iloc[0] == "a"
    # a never lost: the data put no upper bound on it (issue 28.5), and say so; b and c
    # scored against each other and keep finite intervals
    table = r.table.set_index("model")
    assert np.isinf(table.loc["a", ["ci_low", "ci_high"]]).all()
    assert np.isfinite(table.loc[["b", "c"], ["ci_low", "ci_high"]].to_numpy()).all()
    assert r.info["unidentified"] == ["a"] and "too few votes" in r.info["note"]
