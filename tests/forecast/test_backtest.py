"""Backtest bookkeeping: the fit sees only rows at or below the cut."""

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.forecast import backtest, fit_law, forecast_errors


def _curve(seed=0):
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e3, 1e8, 30)
    y = (0.5 + 20.0 * x**-0.3) * np.exp(rng.normal(0, 0.003, 30))
    return pd.DataFrame({"flops": x, "loss": y})


def test_nothing_above_the_cut_reaches_the_fit():
    df = _curve()
    cut = 1e6
    bt = backtest(df, law="power", x="flops", on="flops", holdout_above=cut, bootstrap=20)
    n_below = int((df["flops"] <= cut).sum())
    assert bt.n_fit == bt.fit.n == n_below
    assert bt.n_heldout == len(df) - n_below
    assert np.all(bt.table["flops"] > cut)
    # poison every held-out row: the fitted parameters must not move at all
    poisoned = df.copy()
    poisoned.loc[poisoned["flops"] > cut, "loss"] = 1e6
    bt2 = backtest(poisoned, law="power", x="flops", on="flops", holdout_above=cut, bootstrap=20)
    assert bt2.fit.params == bt.fit.params
    assert bt2.fit.ci == bt.fit.ci
    # ... while the same fit on all rows does move
    assert fit_law(poisoned, "power", x="flops").params != bt.fit.params


def test_errors_are_computed_from_the_table():
    bt = backtest(_curve(1), law="power", x="flops", holdout_above=1e6, bootstrap=30)
    t = bt.table
    assert bt.mae == pytest.approx(np.mean(np.abs(t["prediction"] - t["actual"])))
    assert bt.mape == pytest.approx(100 * np.mean(np.abs(t["prediction"] / t["actual"] - 1)))
    inside = (t["low"] <= t["actual"]) & (t["actual"] <= t["high"])
    assert bt.coverage == pytest.approx(inside.mean())
    assert bt.mape < 2.0  # a clean power law extrapolates well
    assert set(bt.to_dict()) >= {"mae", "mape", "coverage", "n_fit", "n_heldout", "heldout"}


def test_forecast_errors_by_hand():
    mae, mape, cov = forecast_errors([1.0, 2.0], [1.5, 2.0], [1.0, 2.5], [2.0, 3.0])
    assert (mae, mape, cov) == (0.25, 25.0, 0.5)


def test_cut_with_nothing_above_is_an_error():
    with pytest.raises(InputError, match="no rows"):
        backtest(_curve(), law="power", x="flops", holdout_above=1e12)


def test_plot_marks_heldout_and_states_error(tmp_path):
    from assay.forecast import plot_forecast

    df = _curve(2)
    bt = backtest(df, law="power", x="flops", holdout_above=1e6, bootstrap=20)
    path = plot_forecast(
        bt.fit, df[df.flops <= 1e6], heldout=bt.table, backtest=bt, path=tmp_path / "bt.svg"
    )
    text = path.read_text()
    assert f"MAPE {bt.mape:.1f}%" in text  # the backtested error is in the title
    assert "held out" in text
    with pytest.raises(InputError, match="must end in"):
        plot_forecast(bt.fit, df, path=tmp_path / "bt.txt")
