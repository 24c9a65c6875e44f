"""Calibrated extrapolation intervals, bounded-score forecasts and the weighted interval score:
fixed-seed simulations from known laws."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.forecast import backtest, backtest_score, fit_law, fit_score, interval_score

runner = CliRunner()


def _power_runs(seed: int, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e7, 1e10, n)
    loss = (2.0 + 40.0 * x**-0.25) * np.exp(rng.normal(0, 0.01, n))
    return pd.DataFrame({"params": x, "loss": loss})


def test_calibrated_interval_covers_under_extrapolation():
    """Fit below 1e9, predict the decade above: the calibrated 90% interval covers about 90%,
    and the calibration is stated."""
    inside, widths = [], []
    for seed in range(4):
        bt = backtest(_power_runs(seed), law="power", x="params", on="params",
                      holdout_above=1e9, level=0.9)  # fmt: skip
        inside.append(bt.coverage)
        widths.append(bt.width)
        assert bt.calibration["calibration"].startswith("rolling-origin")
        assert bt.calibration["n_origins"] >= 3 and bt.calibration["level"] == 0.9
    assert 0.8 <= np.mean(inside) <= 1.0
    assert 0.03 < np.mean(widths) < 0.35  # not zero-width, not a blanket (the loss is ~2.3)


def test_half_width_grows_with_distance():
    fit = fit_law(_power_runs(0), "power", x="params")
    from assay.forecast import calibrate_law

    calibrate_law(fit, _power_runs(0), on="params")
    pred = fit.predict(np.array([1e10, 1e11, 1e12]), level=0.9)
    ratio = (pred["high"] / pred["low"]).to_numpy()
    assert ratio[0] < ratio[1] < ratio[2]
    assert fit.to_dict()["interval"]["space"] == "log"


def test_no_emergence_from_pure_chance():
    rng = np.random.default_rng(3)
    x = np.geomspace(1e8, 3e9, 6).repeat(3)
    data = pd.DataFrame({"params": x, "score": 0.25 + rng.normal(0, 0.006, len(x))})
    for method in ("power-error", "log-linear", "select"):
        fit = fit_score(data, x="params", y="score", floor=0.25, method=method)
        assert fit.method == "flat" and "chance" in fit.reason
        pred = fit.predict([1e11], level=0.9).iloc[0]
        assert abs(pred["prediction"] - 0.25) < 0.01
        assert pred["low"] <= 0.25 <= pred["high"] < 0.35


def _family(seed: int = 0) -> pd.DataFrame:
    """Accuracy with error above chance a power law in size, plus benchmark noise."""
    rng = np.random.default_rng(seed)
    x = np.geomspace(7e7, 1.2e10, 8)
    score = 1 - 0.75 * (x / 5e7) ** -0.12 + rng.normal(0, 0.004, len(x))
    return pd.DataFrame({"model": [f"m{i}" for i in range(8)], "params": x, "score": score})


def test_bounded_backtest_beats_naive_baselines():
    bt = backtest_score(_family(), x="params", y="score", holdout_above=1.5e9, floor=0.25)
    assert bt.n_fit == 5 and bt.n_heldout == 3
    assert bt.mae < 0.01
    assert bt.mae < bt.baselines["flat"] and bt.mae < bt.baselines["log-linear"]
    assert bt.coverage == 1.0 and np.isfinite(bt.wis)


def test_bounded_backtest_through_the_cli(tmp_path):
    path = tmp_path / "family.csv"
    _family().to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "backtest", str(path), "--y", "score", "--on",
                              "params", "--holdout-above", "1.5e9", "--floor", "0.25", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["level"] == 0.9 and 0 <= out["coverage"] <= 1 and out["mae"] < 0.01
    assert out["fit"]["method"] == "power-error"
    assert out["interval"]["method"] == "noise-aware" and out["interval"]["df"] == 2
    assert out["mae"] < min(out["baselines_mae"].values())


def test_dropped_rows_are_counted_and_said(tmp_path):
    data = _power_runs(1)
    data.loc[0, "loss"] = -1.0
    data.loc[1, "loss"] = np.nan
    data.loc[2, "params"] = np.inf
    fit = fit_law(data, "power", x="params")
    assert fit.to_dict()["dropped"] == {
        "rows": 3,
        "reasons": {"missing or NaN": 1, "infinite": 1, "zero or negative": 1},
    }
    path = tmp_path / "runs.csv"
    data.to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "fit", str(path), "--law", "power", "--x", "params",
                              "--bootstrap", "0", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning: dropped 3 rows" in res.stderr
    assert json.loads(res.stdout)["dropped"]["rows"] == 3


def test_identical_losses_are_refused():
    n = np.geomspace(1e7, 1e9, 10)
    data = pd.DataFrame({"params": n, "tokens": 20 * n[::-1], "loss": 3.0})
    with pytest.raises(InputError, match="no spread in loss") as info:
        fit_law(data, "chinchilla")
    assert "\n" not in str(info.value)


def test_weighted_interval_score_known_answer():
    # one interval (level 0.8, alpha 0.2) [1, 3], median 2, y = 2.5: (0.25 + 0.1 * 2) / 1.5
    wis = interval_score(np.array([2.5]), np.array([2.0]), {0.8: ([1.0], [3.0])})
    assert wis[0] == pytest.approx((0.25 + 0.1 * 2) / 1.5)
    # y outside: penalty 2/alpha * 1 = 10 on top of the width 2
    wis = interval_score(np.array([4.0]), np.array([2.0]), {0.8: ([1.0], [3.0])})
    assert wis[0] == pytest.approx((1.0 + 0.1 * 12) / 1.5)
    # crossing bounds are sorted first, which can only lower the score
    crossed = interval_score(
        np.array([2.0]), np.array([2.0]), {0.5: ([2.6], [1.4]), 0.9: ([1.0], [3.0])}
    )
    fixed = interval_score(
        np.array([2.0]), np.array([2.0]), {0.5: ([1.4], [2.6]), 0.9: ([1.0], [3.0])}
    )
    assert crossed[0] == pytest.approx(fixed[0])


def test_bounded_backtest_json_states_one_level(tmp_path):
    """An audit: at --confidence 0.5 the backtest JSON said level 0.5 but fit.interval.level 0.9."""
    path = tmp_path / "family.csv"
    _family().to_csv(path, index=False)
    argv = ["forecast", "backtest", str(path), "--y", "score", "--on", "params"]
    argv += ["--holdout-above", "1.5e9", "--floor", "0.25", "--confidence", "0.5", "--json"]
    res = runner.invoke(app, argv)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["level"] == out["interval"]["level"] == out["fit"]["interval"]["level"] == 0.5
