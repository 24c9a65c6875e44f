"""Item analysis by hand; 2PL IRT recovery and anchor-estimator error on simulated responses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from assay.errors import InputError
from assay.stats import anchor_points, estimate_from_anchors, fit_irt_2pl, item_analysis
from assay.stats._anchors import kmeans
from assay.stats._items import estimate_ability


def _long(matrix: np.ndarray, task: str = "t") -> pd.DataFrame:
    m, n = matrix.shape
    return pd.DataFrame(
        {"model": np.repeat([f"m{i}" for i in range(m)], n), "task": task,
         "doc_id": np.tile([f"q{j}" for j in range(n)], m), "repeat": 0, "metric": "acc",
         "value": matrix.ravel()}
    )  # fmt: skip


def test_item_analysis_by_hand():
    x = np.array(
        [[1, 1, 0, 0],
         [1, 0, 0, 1],
         [1, 1, 0, 0],
         [0, 0, 0, 1],
         [1, 1, 0, 1]], dtype=float
    )  # fmt: skip
    res = item_analysis(_long(x))
    table = res.table.set_index("doc_id")
    np.testing.assert_allclose(table["difficulty"], [0.8, 0.6, 0.0, 0.6])
    rest0 = x[:, 1:].sum(axis=1)  # models' totals on the other items
    assert table.loc["q0", "discrimination"] == pytest.approx(np.corrcoef(x[:, 0], rest0)[0, 1])
    rest3 = x[:, :3].sum(axis=1)
    r3 = np.corrcoef(x[:, 3], rest3)[0, 1]
    assert r3 < 0 and table.loc["q3", "discrimination"] == pytest.approx(r3)
    assert table.loc["q2", "flags"] == "nobody_right"
    assert table.loc["q3", "flags"] == "negative_discrimination"
    r1 = np.corrcoef(x[:, 1], x[:, [0, 2, 3]].sum(axis=1))[0, 1]  # = -0.2 / sqrt(1.2 * 1.2)
    assert r1 == pytest.approx(-0.2 / 1.2)
    assert list(res.flagged["doc_id"]) == ["q1", "q2", "q3"]
    with pytest.raises(InputError, match="at least 3 models"):
        item_analysis(_long(x[:2]))


def _simulate(m: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, m)
    a = rng.lognormal(0.0, 0.3, n)
    b = rng.normal(0, 1, n)
    p = expit(a[None, :] * (theta[:, None] - b[None, :]))
    y = (rng.random((m, n)) < p).astype(float)
    return theta, a, b, y


def test_irt_recovers_parameters():
    theta, a, b, y = _simulate(500, 60, seed=40)
    y[0, :5] = np.nan  # missing answers are allowed
    fit = fit_irt_2pl(pd.DataFrame(y))
    assert fit.converged
    assert np.corrcoef(fit.ability, theta)[0, 1] > 0.9
    assert np.corrcoef(fit.difficulty, b)[0, 1] > 0.97
    assert np.corrcoef(fit.discrimination, a)[0, 1] > 0.7
    assert np.mean(np.abs(fit.difficulty - b)) < 0.25
    assert fit.ability.mean() == pytest.approx(0, abs=1e-9)
    assert fit.ability.std(ddof=0) == pytest.approx(1, abs=1e-9)


def test_estimate_ability_with_known_items():
    rng = np.random.default_rng(41)
    a, b = rng.lognormal(0, 0.3, 400), rng.normal(0, 1, 400)
    theta = np.array([-1.5, 0.0, 1.0])
    y = (rng.random((3, 400)) < expit(a * (theta[:, None] - b))).astype(float)
    est, se = estimate_ability(y, a, b)
    assert np.all(np.abs(est - theta) < 3 * se)
    assert np.all(se < 0.2)


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(42)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pts = np.concatenate([c + rng.normal(0, 0.5, (50, 2)) for c in centres])
    labels, found = kmeans(pts, 3, seed=0)
    assert len(set(labels[:50])) == len(set(labels[50:100])) == len(set(labels[100:])) == 1
    assert len(set(labels)) == 3
    np.testing.assert_allclose(np.sort(found[:, 0]), [0, 0, 10], atol=0.3)


def test_anchor_estimators_error_is_small_and_reported():
    _, _, _, y = _simulate(360, 400, seed=43)
    train = pd.DataFrame(y[:300], columns=[f"q{j}" for j in range(400)])
    new = pd.DataFrame(y[300:], columns=train.columns)
    anchors = anchor_points(train, 30, seed=0)
    assert len(anchors.doc_ids) == 30 and anchors.weights.sum() == pytest.approx(1.0)
    assert set(anchors.validation["estimator"]) == {"anchor", "irt", "pirt", "random_30"}
    est = estimate_from_anchors(anchors, new).table
    truth = new.mean(axis=1).to_numpy()
    errors = {name: np.abs(est[name].to_numpy() - truth) for name in ("anchor", "irt", "pirt")}
    mae = {name: float(e.mean()) for name, e in errors.items()}
    rng = np.random.default_rng(0)
    random_k = new.iloc[:, rng.choice(400, 30, replace=False)].mean(axis=1).to_numpy()
    mae["random_30"] = float(np.mean(np.abs(random_k - truth)))
    print("anchor-estimator MAE on 60 new models, k=30 of 400 items:", mae)
    # measured: irt 0.040, pirt 0.040, anchor 0.069, 30 random items 0.056 (before issue 13
    # the k-means anchors gave 0.046 / 0.047 / 0.079); the floor is the truth's own Bernoulli
    # noise over 400 items (sd 0.025) plus θ's uncertainty from 30 items
    assert mae["irt"] < 0.05 and mae["pirt"] < 0.05 and mae["anchor"] < 0.1
    assert mae["pirt"] < 0.85 * mae["random_30"] and anchors.recommended == "pirt"
    val = anchors.validation.set_index("estimator")["mae"]
    assert val["pirt"] < val["random_30"]  # the held-out check reports the baseline too
    # the model-based standard errors are honest: most errors within two of them
    assert np.mean(errors["irt"] < 2 * est["irt_se"]) > 0.85
    assert anchors.validation.set_index("estimator").loc["irt", "mae"] < 0.06
    single = estimate_from_anchors(anchors, new.iloc[0])
    assert single.table.loc[0, "irt"] == pytest.approx(est.loc[0, "irt"])


def test_information_anchors_beat_random_items_and_kmeans_anchors():
    """Small fixed-seed version of benchmarks/anchors_vs_random.py: difficulty strata with the
    most informative item each, estimated by p-IRT, beat k random items and the k-means
    anchors of tinyBenchmarks on 2PL data."""
    _, _, _, y = _simulate(150, 500, seed=7)
    cols = [f"q{j}" for j in range(500)]
    train, new = pd.DataFrame(y[:120], columns=cols), pd.DataFrame(y[120:], columns=cols)
    truth = new.mean(axis=1).to_numpy()
    mae = {}
    for embedding in ("information", "irt", "correctness"):
        anchors = anchor_points(train, 50, embedding=embedding, seed=0)
        est = estimate_from_anchors(anchors, new).table
        mae[embedding] = float(np.mean(np.abs(est["pirt"].to_numpy() - truth)))
    rng = np.random.default_rng(1)
    draws = [rng.choice(500, 50, replace=False) for _ in range(50)]
    mae["random"] = float(np.mean([np.abs(y[120:, d].mean(1) - truth).mean() for d in draws]))
    print("p-IRT MAE, k=50 of 500 items, 30 new models:", mae)
    assert mae["information"] < 0.9 * mae["random"]
    assert mae["information"] < min(mae["irt"], mae["correctness"])
    strata = anchor_points(train, 50, seed=0)
    assert strata.weights.sum() == pytest.approx(1.0) and len(set(strata.doc_ids)) == 50
    assert strata.labels.nunique() == 50
    with pytest.raises(InputError, match="embedding"):
        anchor_points(train, 5, embedding="nope")
