"""Every forecast fit refuses fewer points than its parameters + 2 in one line naming the
counts (issue 32, item 2), and noise-aware intervals hold their level by simulation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from simulations import score_law_coverage

from assay.errors import InputError
from assay.forecast import (
    capacity_density,
    fit_downstream,
    fit_law,
    fit_sigmoid,
    observational_scaling,
    pass_until,
)


def _one_line(info) -> str:
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(("law", "params"), [("power", 3), ("kaplan", 4), ("chinchilla", 5)])
def test_laws_refuse_parameters_plus_one_distinct_points(law, params):
    n = np.geomspace(1e7, 1e10, params + 1)
    data = pd.DataFrame(
        {
            "params": n,
            "tokens": 20 * n * np.linspace(1, 3, len(n)),
            "loss": 1.8 + 400 / n**0.34 + 300 / (20 * n) ** 0.28,
        }
    )
    with pytest.raises(InputError) as info:
        fit_law(data, law, x="params" if law == "power" else None)
    assert f"at least {params + 2}" in _one_line(info) and f"got {params + 1}" in str(info.value)


def test_power_law_fits_with_parameters_plus_two_points():
    n = np.geomspace(1e7, 1e10, 5)
    fit = fit_law(pd.DataFrame({"params": n, "loss": 2 + 50 / n**0.3}), "power", x="params")
    assert fit.params["alpha"] == pytest.approx(0.3, rel=0.05)


def test_sigmoid_refuses_three_points_and_fits_four():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = 0.25 + 0.75 / (1 + np.exp(-1.5 * (x - 1.5)))
    with pytest.raises(InputError) as info:
        fit_sigmoid(x[:3], y[:3], floor=0.25, ceiling=1.0)
    assert "at least 4 points (2 parameters + 2); got 3" in _one_line(info)
    fit = fit_sigmoid(x, y, floor=0.25, ceiling=1.0)
    assert fit.slope == pytest.approx(1.5, rel=1e-3) and fit.midpoint == pytest.approx(
        1.5, abs=1e-3
    )
    with pytest.raises(InputError, match="at least 5 points .3 parameters"):
        fit_sigmoid(x, y, floor=0.25, ceiling=None)


def test_downstream_refuses_four_models():
    flops = np.geomspace(1e19, 1e22, 4)
    loss = 2 + 30 * (flops / 1e18) ** -0.3
    data = pd.DataFrame({"flops": flops, "loss": loss, "score": 0.25 + 0.5 / loss})
    with pytest.raises(InputError) as info:
        fit_downstream(data, bootstrap=0, floor=0.25)
    assert "at least 5 rows" in _one_line(info) and "got 4" in str(info.value)


def test_observational_refuses_parameters_plus_one_models():
    """1 PC: the link has 2 parameters (the capability's slope and midpoint), so 3 models
    with the target are one short and 4 fit."""
    ability = np.linspace(-2, 2, 5)
    bench = {f"b{j}": 0.25 + 0.75 / (1 + np.exp(-(ability + 0.1 * j))) for j in range(3)}
    data = pd.DataFrame(
        {
            **bench,
            "target": 0.25 + 0.75 / (1 + np.exp(-ability)),
            "flops": np.geomspace(1e20, 1e23, 5),
            "family": "A",
        }
    )
    few = data.assign(target=[np.nan, np.nan, *data["target"][2:]])
    with pytest.raises(InputError) as info:
        observational_scaling(few, ["b0", "b1", "b2"], "target", n_components=1, floor=0.25)
    assert "2 parameters and needs at least 4 models" in _one_line(info)
    assert "got 3" in str(info.value)
    fit = observational_scaling(
        data.iloc[1:], ["b0", "b1", "b2"], "target", n_components=1, floor=0.25, bootstrap=0
    )
    assert fit.n == 4


def test_pass_until_refuses_three_sizes():
    sizes = np.array([1e7, 1e8, 1e9])
    data = pd.DataFrame(
        {
            "params": np.tile(sizes, 20),
            "item": np.repeat(np.arange(20), 3),
            "successes": 1,
            "trials": 50,
        }
    )
    with pytest.raises(InputError) as info:
        pass_until(data, bootstrap=10)
    assert "at least 4 model sizes (parameters + 2); got 3" in _one_line(info)


def test_density_refuses_a_reference_family_of_three():
    data = pd.DataFrame(
        {
            "params": [1e8, 1e9, 1e10, 1e9],
            "score": [0.3, 0.5, 0.7, 0.6],
            "date": ["2023-01-01"] * 3 + ["2024-01-01"],
            "family": ["R", "R", "R", "S"],
        }
    )
    with pytest.raises(InputError) as info:
        capacity_density(data, "R", floor=0.25)
    assert "at least 4 models (the sigmoid law's 2 parameters + 2); has 3" in _one_line(info)


# coverage by simulation: a known law plus binomial noise --------------------------------------


@pytest.mark.parametrize(("n_items", "given"), [(1000, True), (1000, False), (200, False)])
def test_ninety_percent_interval_covers_85_to_95_percent(n_items, given):
    """With n not given and 200 items the scatter, equal at every size on the log-error scale
    before, covered 84.8%: it now follows the binomial shape to the forecast point."""
    assert 0.85 <= score_law_coverage(n_items, given) <= 0.95


def test_backtest_json_heldout_rows_carry_model_prediction_low_high(tmp_path):
    """`forecast backtest --json` keeps `heldout` rows with the leave-family-out fields."""
    import json

    from typer.testing import CliRunner

    from assay.cli import app

    sizes = np.geomspace(7e7, 1.2e10, 8)
    score = 1 - 0.75 * 0.7 * (sizes / 7e7) ** -0.15
    path = tmp_path / "family.csv"
    pd.DataFrame({"model": [f"m{i}" for i in range(8)], "params": sizes, "score": score}).to_csv(
        path, index=False
    )
    res = CliRunner().invoke(
        app,
        [
            "forecast",
            "backtest",
            str(path),
            "--y",
            "score",
            "--on",
            "params",
            "--holdout-above",
            "1.5e9",
            "--floor",
            "0.25",
            "--n-items",
            "1000",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["heldout"]
    assert [r["model"] for r in rows] == ["m5", "m6", "m7"]
    for row, truth in zip(rows, score[5:], strict=True):
        assert {"model", "prediction", "low", "high", "actual"} <= set(row)
        assert row["actual"] == pytest.approx(truth)
        assert row["low"] <= row["prediction"] <= row["high"]


def test_leave_family_out_error_scale_grows_with_each_trait():
    """Locally weighted conformal: |errors| exactly 0.5 + 2·a + 1·g give s = 0.5 + 2a + g
    (non-negative least squares); a trait the errors shrink with gets weight 0."""
    from assay.forecast._family_out import _scale_fit

    rng = np.random.default_rng(0)
    traits = rng.uniform(0, 1, size=(20, 2))
    sign = np.where(np.arange(20) % 2, 1, -1)
    s = _scale_fit(sign * (0.5 + traits @ [2.0, 1.0]), traits)
    assert s(np.array([[0.0, 0.0], [1.0, 1.0]])) == pytest.approx([0.5, 3.5])
    shrink = _scale_fit(2.0 - traits[:, 0], traits)  # falls with a: no weight on a or g
    assert np.ptp(shrink(np.array([[0.0, 0.0], [1.0, 0.0]]))) == pytest.approx(0.0, abs=1e-9)


def test_a_bend_in_the_points_widens_the_extrapolation_only_when_it_is_there():
    """z = 1 − 0.5·t + c·t² with known noise sd 0.01 at 5 sizes: with c = 0.05 the curvature
    (σ_c² = ĉ² − Var ĉ, Var ĉ inflated by the scatter the bend leaves in the line's residuals)
    joins the variance beyond the data; with c = 0 it is 0, and inside the data it never
    counts."""
    from assay.forecast._noisy import fit_noisy_line

    t = np.log(np.array([1e8, 3e8, 1e9, 3e9, 1e10]))
    t = t - t.mean()
    v = np.full(5, 1e-4)
    bent = fit_noisy_line(t, 1 - 0.5 * t + 0.05 * t**2, v)
    straight = fit_noisy_line(t, 1 - 0.5 * t, v)
    assert 0.03 < np.sqrt(bent.curv2) <= 0.05 and straight.curv2 == 0.0
    far, inside = np.array([t[-1] + 2.0]), np.array([t[2]])
    assert bent.sd(far)[0] > 3 * straight.sd(far)[0]
    flat = dataclasses.replace(bent, curv2=0.0)  # the same line without the curvature term
    assert bent.sd(inside)[0] == pytest.approx(flat.sd(inside)[0])
    assert bent.sd(far)[0] > 1.5 * flat.sd(far)[0]
