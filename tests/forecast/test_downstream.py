"""Two-stage compute -> loss -> score, observational scaling, sigmoid link."""

import numpy as np
import pandas as pd
import pytest

from assay.forecast import fit_downstream, fit_sigmoid, impute_low_rank, observational_scaling


def _two_stage(n=15, seed=1):
    rng = np.random.default_rng(seed)
    c = np.geomspace(1e18, 1e23, n)
    loss = 1.8 + 3.0 * (c / 1e18) ** -0.15
    acc = 0.25 + 0.75 / (1 + np.exp(-6 * (3.3 - loss)))
    return pd.DataFrame(
        {"flops": c, "loss": loss * np.exp(rng.normal(0, 0.002, n)), "score": acc}
    ), acc


def test_sigmoid_recovers_known_curve():
    x = np.linspace(-3, 3, 30)
    y = 0.25 + 0.7 / (1 + np.exp(-2.0 * (x - 0.5)))
    fit = fit_sigmoid(x, y, floor=0.25, ceiling=None)
    assert fit.ceiling == pytest.approx(0.95, rel=1e-6)
    assert fit.slope == pytest.approx(2.0, rel=1e-6)
    assert fit.midpoint == pytest.approx(0.5, abs=1e-6)
    assert fit.inverse(fit(1.3)) == pytest.approx(1.3)


def test_two_stage_forecast_extrapolates_with_interval():
    df, acc = _two_stage()
    small = df.iloc[:10]
    fit = fit_downstream(small, floor=0.25, bootstrap=60, seed=0)
    pred = fit.predict(df["flops"].iloc[10:].to_numpy(), level=0.9)
    err = np.abs(pred["prediction"].to_numpy() - acc[10:])
    assert err.max() < 0.02
    assert np.all(pred["low"] <= pred["prediction"]) and np.all(pred["prediction"] <= pred["high"])
    assert fit.link.floor == 0.25


def test_logit_target_line():
    df, acc = _two_stage()
    fit = fit_downstream(df.iloc[:10], floor=0.25, target="logit", bootstrap=20)
    slope, _ = fit.link
    assert slope == pytest.approx(-6.0, rel=0.05)  # logit((acc-.25)/.75) = 6*(3.3 - loss)


def test_impute_low_rank_fills_rank_one_matrix_exactly():
    u = np.linspace(0.1, 1, 12)
    m = np.outer(u, [1.0, 2.0, 0.5, 1.5]) + np.array([0.1, 0.0, 0.2, -0.1])
    holes = m.copy()
    holes[[1, 4, 7], [0, 2, 3]] = np.nan
    filled = impute_low_rank(holes, rank=1)
    assert filled == pytest.approx(m, abs=1e-5)


def test_observational_scaling_predicts_held_out_large_models():
    rng = np.random.default_rng(0)
    fams = {"f1": -1.0, "f2": 0.0, "f3": 0.7}  # families differ in compute efficiency
    rows = []
    for fam, offset in fams.items():
        for lc in np.linspace(np.log(1e20), np.log(1e24), 8):
            cap = 0.9 * (lc - np.log(1e22)) + offset
            bench = {
                f"b{j}": 1 / (1 + np.exp(-(w * cap + j * 0.1)))
                for j, w in enumerate([1, 0.8, 1.2, 0.6])
            }
            bench = {k: v + rng.normal(0, 0.005) for k, v in bench.items()}
            target = 0.25 + 0.75 / (1 + np.exp(-(1.5 * cap - 1.0)))
            rows.append(
                {
                    "model": f"{fam}-{lc:.1f}",
                    "family": fam,
                    "flops": np.exp(lc),
                    **bench,
                    "target": target,
                }
            )
    df = pd.DataFrame(rows)
    df.loc[3, "b2"] = np.nan
    small = df["flops"] < 5e23
    fit = observational_scaling(
        df,
        ["b0", "b1", "b2", "b3"],
        "target",
        n_components=1,
        floor=0.25,
        fit_mask=small.to_numpy(),
        bootstrap=30,
    )
    assert fit.explained_variance[0] > 0.9
    held = fit.scores[~fit.scores["used_in_fit"]]
    assert np.max(np.abs(held["fitted"] - held["target"])) < 0.05
    pred = fit.predict("f2", [1e25])
    assert pred["low"].iloc[0] <= pred["prediction"].iloc[0] <= pred["high"].iloc[0]
