"""PassUntil and COD on simulated item-level data with known curves."""

import numpy as np
import pandas as pd
import pytest

from assay.forecast import cod_forecast, pass_until


def test_pass_until_recovers_loglog_line_and_tiny_rates():
    rng = np.random.default_rng(0)
    sizes = np.array([1e7, 3e7, 1e8, 3e8, 1e9])
    c, gamma = 6.0, -0.2  # P(N) = exp(-exp(c) N^gamma): 1e-6 at 1e7 .. 1e-3-ish at 1e9
    p = np.exp(-np.exp(c + gamma * np.log(sizes)))
    items = 200
    # sample each item until 3 passes: trials ~ negative binomial
    trials = 3 + rng.negative_binomial(3, p[None, :], size=(items, len(sizes)))
    df = pd.DataFrame(
        {
            "params": np.tile(sizes, items),
            "item": np.repeat(np.arange(items), len(sizes)),
            "successes": 3,
            "trials": trials.ravel(),
        }
    )
    fit = pass_until(df, bootstrap=300)
    assert fit.slope == pytest.approx(gamma, abs=0.01)
    assert fit.intercept == pytest.approx(c, abs=0.2)
    assert fit.ci["slope"][0] < gamma < fit.ci["slope"][1]
    assert fit.table["pass_rate"].iloc[0] == pytest.approx(p[0], rel=0.1)
    pred = fit.predict([1e10])
    true = np.exp(-np.exp(c + gamma * np.log(1e10)))
    assert pred["prediction"].iloc[0] == pytest.approx(true, rel=0.15)
    assert pred["low"].iloc[0] < true < pred["high"].iloc[0]


def _cod_data(seed=0):
    """Three item groups over 8 small models: an emerging sigmoid (mid log N = 21), a group stuck
    at chance, and a group whose scores jump around (does not extrapolate)."""
    rng = np.random.default_rng(seed)
    lx = np.linspace(np.log(1e8), np.log(1e10), 8)
    mids = {"emerge": 21.5, "flat": None}
    rows = []
    truth_at = {}
    target = np.log(1e11)
    curve = lambda z: 0.25 + 0.75 / (1 + np.exp(-2.0 * (z - mids["emerge"])))  # noqa: E731
    jumpy = np.array([0.25, 0.9, 0.3, 0.8, 0.35, 0.95, 0.3, 0.5])
    for i in range(300):
        group = ["emerge", "flat", "jumpy"][i % 3]
        if group == "emerge":
            prob = curve(lx)
        elif group == "flat":
            prob = np.full(8, 0.25)
        else:
            prob = jumpy
        score = rng.binomial(40, prob) / 40  # pass rate from 40 samples per item
        for j, s in enumerate(score):
            rows.append({"model": f"m{j}", "flops": np.exp(lx[j]), "item": i, "score": s})
    truth_at["subset"] = curve(target)
    return pd.DataFrame(rows), truth_at


def test_cod_keeps_the_emerging_cluster_and_forecasts_it():
    df, truth = _cod_data()
    res = cod_forecast(df, 1e11, chance=0.25, n_clusters=3, bootstrap=30, seed=0)
    kept = res.clusters[res.clusters["kept"]]
    assert len(kept) == 1 and kept["n_items"].iloc[0] == 100
    dropped = res.clusters[~res.clusters["kept"]]
    assert set(dropped["n_items"]) == {100}
    assert res.subset_prediction == pytest.approx(truth["subset"], abs=0.03)
    assert res.low <= res.prediction <= res.high
    # mapping: full = (subset + 0.25 + jumpy mean over models)/3 at the small models
    assert res.mapping[0] == pytest.approx(1 / 3, abs=0.05)
