"""Forecasts from a handful of sizes (issue 32, item 2): refusal below parameters + 2 points,
evaluation noise in the interval, the naive baselines and skill, leave-one-family-out rows and
the JSON fields held-out checks read. Small tables built here, fixed seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.forecast import (
    backtest_score,
    fit_score,
    leave_family_out,
    naive_baselines,
    skill_against,
)

runner = CliRunner()
SIZES = np.array([1e8, 3e8, 1e9, 3e9, 1e10, 3e10])


def _family(score, sizes=SIZES) -> pd.DataFrame:
    return pd.DataFrame(
        {"model": [f"m{i}" for i in range(len(sizes))], "params": sizes, "score": score}
    )


def _power(sizes=SIZES, floor=0.25, a=0.6, b=0.2) -> np.ndarray:
    """Error above chance a power law in size: 1 - (1 - floor)·a·(x/1e8)^-b."""
    return 1 - (1 - floor) * a * (sizes / 1e8) ** -b


# refusal -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["power-error", "log-linear"])
def test_fewer_sizes_than_parameters_plus_two_are_refused_in_one_line(method):
    data = _family(_power()[:3], SIZES[:3])
    with pytest.raises(InputError) as info:
        fit_score(data, x="params", y="score", floor=0.25, method=method)
    msg = str(info.value)
    assert "needs at least 4 points (2 parameters + 2); got 3" in msg and "\n" not in msg
    fit_score(_family(_power()[:4], SIZES[:4]), x="params", y="score", floor=0.25, method=method)


def test_refusal_through_the_cli_is_one_line(tmp_path):
    path = tmp_path / "three.csv"
    _family(_power()[:5], SIZES[:5]).to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "backtest", str(path), "--y", "score", "--on", "params",
                              "--holdout-above", "1.5e9", "--floor", "0.25", "--json"])  # fmt: skip
    assert res.exit_code != 0 and isinstance(res.exception, InputError)
    msg = str(res.exception)
    assert "2 parameters + 2); got 3" in msg and "\n" not in msg


# evaluation noise and parameter uncertainty in the interval --------------------------------


def test_interval_is_never_narrower_than_the_new_scores_own_noise():
    """Exact power-law data (no scatter at all), at the largest size seen: without n the
    interval has near zero width; with n = 200 items it is at least the normal quantile times
    the binomial SE of the score. Beyond the data it widens with the parameters' uncertainty."""
    data = _family(_power())
    exact = fit_score(data, x="params", y="score", floor=0.25)
    row = exact.predict([3e10]).iloc[0]
    assert row["high"] - row["low"] < 1e-3
    near = fit_score(data, x="params", y="score", floor=0.25, n_items=200)
    widths = np.diff(near.predict([3e10, 3e11])[["low", "high"]].to_numpy(), axis=1)
    assert widths[0, 0] < widths[1, 0]
    noisy = fit_score(data, x="params", y="score", floor=0.25, n_items=200)
    row = noisy.predict([3e10], level=0.9).iloc[0]
    se = np.sqrt(row["prediction"] * (1 - row["prediction"]) / 200)
    assert row["high"] - row["low"] >= 2 * stats.norm.ppf(0.95) * se * 0.99
    assert noisy.to_dict()["interval"]["evaluation_noise"] == "binomial over n items"
    assert noisy.to_dict()["interval"]["df"] > 2  # known noise, no scatter: t grows to normal


def test_coverage_by_simulation_with_binomial_noise():
    """Scores drawn binomially (n = 500) around a power law; fit 5 sizes, predict the 6th:
    the 90% interval covers about 90% of 300 fixed-seed families."""
    rng = np.random.default_rng(7)
    truth, n, inside = _power(), 500, []
    for _ in range(300):  # one tiny fit per simulated family
        score = rng.binomial(n, truth) / n
        bt = backtest_score(_family(score), x="params", y="score", holdout_above=1.5e10,
                            floor=0.25, n_items=n)  # fmt: skip
        inside.append(bt.coverage)
    assert 0.85 <= np.mean(inside) <= 0.95


# naive baselines and skill ------------------------------------------------------------------


def test_baselines_are_last_value_log_line_and_family_mean():
    score = np.array([0.30, 0.36, 0.41, 0.47, 0.52, 0.60])
    bt = backtest_score(_family(score), x="params", y="score", holdout_above=1.5e10, floor=0.25)
    fitted, actual = score[:5], score[5]
    slope, icpt = np.polyfit(np.log(SIZES[:5]), fitted, 1)
    assert bt.baselines["flat"] == pytest.approx(abs(actual - 0.52))
    assert bt.baselines["log-linear"] == pytest.approx(abs(actual - icpt - slope * np.log(3e10)))
    assert bt.baselines["family-mean"] == pytest.approx(abs(actual - fitted.mean()))
    best = min(bt.baselines.values())
    assert bt.skill["best"] == pytest.approx(1 - bt.mae / best)
    assert bt.skill["flat"] == pytest.approx(1 - bt.mae / bt.baselines["flat"])
    pred = naive_baselines(SIZES[:5], fitted, [3e10])
    assert pred["flat"][0] == 0.52 and pred["family-mean"][0] == pytest.approx(fitted.mean())
    assert skill_against(0.01, {"a": 0.02, "b": 0.04}) == {"a": 0.5, "b": 0.75, "best": 0.5}


def test_no_skill_is_said_on_the_backtest_line(tmp_path):
    """Scores exactly linear in log size: the log-linear baseline is exact, so the (power-error)
    forecaster cannot beat it and the CLI says "no skill"."""
    path = tmp_path / "line.csv"
    _family(0.3 + 0.05 * np.log(SIZES / 1e8)).to_csv(path, index=False)
    args = ["forecast", "backtest", str(path), "--y", "score", "--on", "params",
            "--holdout-above", "1.5e10", "--floor", "0.25"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "no skill" in " ".join(res.output.split())
    out = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert out["baselines_mae"]["log-linear"] == pytest.approx(0, abs=1e-9)
    assert out["skill"]["best"] <= 0
    assert set(out["heldout"][0]) >= {"model", "prediction", "low", "high", "actual"}
    assert out["heldout"][0]["model"] == "m5"


# leave one family out -----------------------------------------------------------------------


def _families(seed: int = 0) -> pd.DataFrame:
    """4 families x 5 sizes; 4 benchmarks driven by one capability (linear in log compute
    with a family offset) plus noise; the target a floored sigmoid of it."""
    rng = np.random.default_rng(seed)
    rows = []
    for f, offset in zip("ABCD", (0.0, 0.4, -0.3, 0.2), strict=True):
        for j, c in enumerate(np.geomspace(1e20, 1e23, 5)):
            cap = 0.8 * np.log10(c / 1e20) + offset
            row = {"model": f"{f}{j}", "family": f, "flops": c}
            for b in range(4):
                row[f"b{b}"] = 0.3 + 0.1 * cap * (1 + 0.2 * b) + rng.normal(0, 0.01)
            row["target"] = 0.25 + 0.75 / (1 + np.exp(-(cap - 1.2) * 1.5)) + rng.normal(0, 0.01)
            rows.append(row)
    return pd.DataFrame(rows)


def test_each_family_is_predicted_by_a_fit_that_never_saw_it():
    data = _families()
    bench = [f"b{b}" for b in range(4)]
    bt = leave_family_out(data, bench, "target", floor=0.25, level=0.9)
    t = bt.heldout
    assert len(t) == 20 and list(t["model"]) == list(data["model"])
    assert set(t.columns) >= {"model", "family", "prediction", "low", "high", "actual"}
    assert (t["low"] <= t["prediction"]).all() and (t["prediction"] <= t["high"]).all()
    # poison family A's target: A's own predictions do not move, every other family's do
    poisoned = data.copy()
    poisoned.loc[poisoned["family"] == "A", "target"] = 0.99
    again = leave_family_out(poisoned, bench, "target", floor=0.25, level=0.9).heldout
    in_a = t["family"] == "A"
    assert np.allclose(again.loc[in_a, "prediction"], t.loc[in_a, "prediction"])
    assert not np.allclose(again.loc[~in_a, "prediction"], t.loc[~in_a, "prediction"])
    # the baselines: a line in log compute across the other families, their mean, nearest model
    other = data[data["family"] != "A"]
    slope, icpt = np.polyfit(np.log(other["flops"]), other["target"], 1)
    a = data[data["family"] == "A"]
    assert np.allclose(t.loc[in_a, "log-linear"], icpt + slope * np.log(a["flops"]))
    assert np.allclose(t.loc[in_a, "family-mean"], other["target"].mean())
    assert bt.mae < bt.baselines["family-mean"]


def test_leave_family_out_needs_three_families():
    data = _families()
    with pytest.raises(InputError, match="at least 3 families"):
        leave_family_out(data[data["family"].isin(["A", "B"])], ["b0", "b1"], "target")


def test_leave_family_out_json_fields(tmp_path):
    path = tmp_path / "families.csv"
    _families().to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "observational", str(path), "--benchmarks",
                              "b0,b1,b2,b3", "--target", "target", "--floor", "0.25",
                              "--leave-family-out", "--level", "0.9", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["backtest"]
    assert out["mode"] == "leave-one-family-out" and out["level"] == 0.9
    assert len(out["heldout"]) == 20
    for row in out["heldout"]:
        assert {"model", "prediction", "low", "high"} <= set(row)
        assert row["low"] <= row["prediction"] <= row["high"]
    assert set(out["baselines_mae"]) == {"flat", "log-linear", "family-mean"}
    assert "best" in out["skill"]
    text = runner.invoke(app, ["forecast", "observational", str(path), "--benchmarks",
                               "b0,b1,b2,b3", "--target", "target", "--floor", "0.25",
                               "--leave-family-out"])  # fmt: skip
    assert text.exit_code == 0 and "leave-one-family-out (20 models, 4 families)" in " ".join(
        text.output.split()
    )


def test_every_law_backtest_carries_the_baselines_and_skill():
    """A loss law's backtest (not only bounded scores) reports the three naive baselines on its
    held-out rows, computed here by hand, and the skill against them."""
    rng = np.random.default_rng(1)
    x = np.geomspace(1e7, 1e10, 12)
    data = pd.DataFrame(
        {"params": x, "loss": (2 + 40 * x**-0.25) * np.exp(rng.normal(0, 0.005, 12))}
    )
    from assay.forecast import backtest

    bt = backtest(data, law="power", x="params", on="params", holdout_above=2e9)
    below, above = data[data["params"] <= 2e9], data[data["params"] > 2e9]
    slope, icpt = np.polyfit(np.log(below["params"]), below["loss"], 1)
    last = below["loss"].iloc[-1]
    assert bt.baselines["flat"] == pytest.approx(np.mean(np.abs(above["loss"] - last)))
    assert bt.baselines["log-linear"] == pytest.approx(
        np.mean(np.abs(above["loss"] - icpt - slope * np.log(above["params"])))
    )
    assert bt.baselines["family-mean"] == pytest.approx(
        np.mean(np.abs(above["loss"] - below["loss"].mean()))
    )
    assert bt.skill["best"] == pytest.approx(1 - bt.mae / min(bt.baselines.values()))
    assert bt.skill["best"] > 0.5  # an exact law beats every naive forecast
    assert set(bt.to_dict()) >= {"baselines_mae", "skill", "heldout"}


def test_observational_compute_backtest_prints_baselines(tmp_path):
    """`observational --holdout-above`: the held-out models' errors beside the naive baselines
    (fitted on the models at or below the cut), and the skill against them."""
    data = _families()
    path = tmp_path / "families.csv"
    data.to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "observational", str(path), "--benchmarks",
                              "b0,b1,b2,b3", "--target", "target", "--floor", "0.25",
                              "--holdout-above", "2e22", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    b = json.loads(res.stdout)["backtest"]
    below, above = data[data["flops"] <= 2e22], data[data["flops"] > 2e22]
    last = below.loc[below["flops"] == below["flops"].max(), "target"].mean()
    assert b["baselines_mae"]["flat"] == pytest.approx(np.mean(np.abs(above["target"] - last)))
    assert b["skill"]["best"] == pytest.approx(1 - b["mae"] / min(b["baselines_mae"].values()))


def test_observational_heldout_errors_are_the_commands_backtest(tmp_path):
    """``ObservationalFit.heldout_errors``: the models outside ``fit_mask`` scored against the
    fit (MAE over them by hand), the same numbers `observational --holdout-above` prints; a
    fit on every model has none."""
    from assay.forecast import observational_scaling

    data = _families()
    names = ["b0", "b1", "b2", "b3"]
    mask = (data["flops"] <= 2e22).to_numpy()
    fit = observational_scaling(data, names, "target", floor=0.25, fit_mask=mask, bootstrap=0)
    errors = fit.heldout_errors(0.9)
    held = fit.scores[~fit.scores["used_in_fit"] & np.isfinite(fit.scores["target"])]
    assert errors["n_heldout"] == len(held) == int((~mask).sum())
    assert errors["mae"] == pytest.approx(np.mean(np.abs(held["fitted"] - held["target"])))
    path = tmp_path / "families.csv"
    data.to_csv(path, index=False)
    args = ["--target", "target", "--floor", "0.25", "--holdout-above", "2e22", "--json"]
    res = runner.invoke(
        app, ["forecast", "observational", str(path), "--benchmarks", ",".join(names), *args]
    )
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)["backtest"]
    assert set(printed) == set(errors)
    for key in ("mae", "coverage", "level", "n_heldout", "width"):
        assert printed[key] == pytest.approx(errors[key])
    for key in ("baselines_mae", "skill"):
        assert printed[key] == pytest.approx(errors[key], nan_ok=True)
    whole = observational_scaling(data, names, "target", floor=0.25, bootstrap=0)
    assert whole.heldout_errors(0.9) is None
