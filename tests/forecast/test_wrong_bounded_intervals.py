"""Downstream intervals of a bounded metric stay inside its bounds (an accuracy in [0, 1])."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.forecast import backtest_downstream, fit_downstream


def _near_ceiling(seed: int = 0) -> pd.DataFrame:
    """Ten models whose accuracy climbs from chance (0.25) to ~0.99."""
    rng = np.random.default_rng(seed)
    c = np.geomspace(1e18, 1e22, 10)
    loss = 1.8 + 3 * (c / 1e18) ** -0.15 * np.exp(rng.normal(0, 0.01, 10))
    score = 0.25 + 0.75 / (1 + np.exp(-(3.5 - loss) * 4)) + rng.normal(0, 0.01, 10)
    return pd.DataFrame({"flops": c, "loss": loss, "score": np.clip(score, 0, 1)})


def test_accuracy_interval_stays_in_0_1():
    fit = fit_downstream(_near_ceiling(), bootstrap=50)
    assert fit.bounds == (0.0, 1.0)
    pred = fit.predict([1e22, 1e23, 1e24], level=0.95)
    assert (pred["high"] <= 1).all() and (pred["low"] >= 0).all()
    assert (pred["low"] <= pred["prediction"]).all() and (pred["prediction"] <= pred["high"]).all()
    fit.bounds = (-np.inf, np.inf)  # what it did before: the residual pushes draws above 1
    assert (fit.predict([1e22, 1e23, 1e24], level=0.95)["high"] > 1).any()


def test_percent_scores_and_logp_keep_their_bounds():
    data = _near_ceiling()
    pct = fit_downstream(
        data.assign(score=100 * data["score"]), floor=25, ceiling=100, bootstrap=30
    )
    assert pct.bounds == (0.0, 100.0)
    assert (pct.predict([1e24], level=0.95)["high"] <= 100).all()
    logp = fit_downstream(data.assign(score=np.log(data["score"])), target="logp", bootstrap=30)
    assert logp.bounds == (-np.inf, 0.0)
    assert (logp.predict([1e23, 1e24], level=0.95)["high"] <= 0).all()


def test_backtest_interval_is_bounded():
    back = backtest_downstream(_near_ceiling(), holdout_above=1.5e21, bootstrap=30, level=0.95)
    assert back.n_heldout == 2
    assert (back.table["high"] <= 1).all() and (back.table["low"] >= 0).all()
    assert back.coverage == pytest.approx(
        np.mean(
            (back.table["low"] <= back.table["actual"])
            & (back.table["actual"] <= back.table["high"])
        )
    )
