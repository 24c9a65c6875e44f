"""Loss laws: known parameters recovered, grid vs single start, intervals, regions."""

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.forecast import compute_optimal, fit_law, learning_curve_regions
from assay.forecast._lse import fit_lse


def _chinchilla_points(n=80, noise=2e-4, seed=0):
    rng = np.random.default_rng(seed)
    big_n = np.exp(rng.uniform(np.log(1e7), np.log(3e10), n))
    big_d = np.exp(rng.uniform(np.log(1e9), np.log(3e12), n))
    loss = 1.8 + 450.0 / big_n**0.34 + 2000.0 / big_d**0.29
    return pd.DataFrame(
        {"params": big_n, "tokens": big_d, "loss": loss * np.exp(rng.normal(0, noise, n))}
    )


@pytest.fixture(scope="module")
def chinchilla_fit():
    return fit_law(_chinchilla_points(), "chinchilla", bootstrap=10)


def test_chinchilla_recovers_known_parameters_within_2_percent(chinchilla_fit):
    fit = chinchilla_fit
    truth = {"E": 1.8, "A": 450.0, "B": 2000.0, "alpha": 0.34, "beta": 0.29}
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=0.02), name
    assert fit.n == 80
    assert set(fit.to_dict()) == {"law", "params", "ci", "n", "rmse", "dropped"}  # issue 14


def test_grid_finds_global_optimum_where_single_start_is_stuck(chinchilla_fit):
    df = _chinchilla_points()
    log_x = np.log(df[["params", "tokens"]].to_numpy())
    log_y = np.log(df["loss"].to_numpy())
    # from this grid point the D term starts switched off (b - beta*log D = 5 - 2*log D << e):
    # its gradient vanishes and L-BFGS-B settles where N alone explains the loss
    single = fit_lse(log_x, log_y, starts=[[0.0, 5.0, 0.0, 2.0, 0.0]], keep=())
    assert single.n_starts == 1
    grid = chinchilla_fit  # the same points through fit_law's 4,500-start grid
    assert grid._problem.starts().shape == (4500, 5)
    assert single.objective > 100 * grid.objective
    assert grid.params["A"] == pytest.approx(450.0, rel=0.02)
    assert grid.params["alpha"] == pytest.approx(0.34, rel=0.02)
    assert single.theta[3] == pytest.approx(2.0)  # the D term never moved


def test_power_law_recovery_and_regions():
    rng = np.random.default_rng(3)
    x = np.geomspace(1e2, 1e7, 40)
    y = (0.3 + 5.0 * x**-0.5) * np.exp(rng.normal(0, 1e-3, 40))
    fit = fit_law(pd.DataFrame({"steps": x, "err": y}), "power", x="steps", y="err")
    assert fit.params["E"] == pytest.approx(0.3, rel=0.02)
    assert fit.params["A"] == pytest.approx(5.0, rel=0.02)
    assert fit.params["alpha"] == pytest.approx(0.5, rel=0.02)
    table, bounds = learning_curve_regions(fit, [1.0, 1e3, 1e9], best_guess=2.0)
    # small data ends where 0.3 + 5 x^-0.5 = 2 -> x = (5/1.7)^2 = 8.65
    assert bounds["small_data_end"] == pytest.approx((5 / 1.7) ** 2, rel=0.03)
    # floor starts where 5 x^-0.5 = 0.05*0.3 -> x = (5/0.015)^2 = 1.11e5
    assert bounds["floor_start"] == pytest.approx((5 / 0.015) ** 2, rel=0.05)
    assert list(table["region"]) == ["small-data", "power-law", "floor"]


def test_kaplan_recovery():
    rng = np.random.default_rng(4)
    big_n = np.exp(rng.uniform(np.log(1e6), np.log(1e10), 60))
    big_d = np.exp(rng.uniform(np.log(1e8), np.log(1e11), 60))
    loss = ((8.8e13 / big_n) ** (0.076 / 0.095) + 5.4e13 / big_d) ** 0.095
    df = pd.DataFrame({"params": big_n, "tokens": big_d, "loss": loss})
    fit = fit_law(df, "kaplan")
    assert fit.params["alpha_N"] == pytest.approx(0.076, rel=0.02)
    assert fit.params["alpha_D"] == pytest.approx(0.095, rel=0.02)
    assert fit.rmse < 1e-3


def test_bootstrap_interval_covers_truth_and_prediction_interval_is_ordered():
    df = _chinchilla_points(noise=0.01, seed=5)
    fit = fit_law(df, "chinchilla", bootstrap=40, seed=1)
    lo, hi = fit.ci["alpha"]
    assert lo < 0.34 < hi
    pred = fit.predict(pd.DataFrame({"params": [7e10], "tokens": [1.4e12]}), level=0.9)
    true = 1.8 + 450 / 7e10**0.34 + 2000 / 1.4e12**0.29
    row = pred.iloc[0]
    assert row["low"] < row["prediction"] < row["high"]
    assert row["low"] < true < row["high"]
    # same seed, same numbers
    first = dict(fit.ci)
    fit.draws = None
    fit.ensure_draws(40)
    assert fit.ci == first


def test_compute_optimal_matches_closed_form(chinchilla_fit):
    fit = chinchilla_fit
    p = fit.params
    c = 1e23
    a_, b_ = p["alpha"], p["beta"]
    g = (a_ * p["A"] / (b_ * p["B"])) ** (1 / (a_ + b_))
    n_opt = g * (c / 6) ** (b_ / (a_ + b_))
    res = compute_optimal(fit, [c])
    assert res.table["params_opt"].iloc[0] == pytest.approx(n_opt, rel=1e-9)
    assert res.table["tokens_per_param"].iloc[0] == pytest.approx(c / 6 / n_opt**2, rel=1e-9)
    assert res.exponents["params"] == pytest.approx(b_ / (a_ + b_), rel=1e-6)


def test_kaplan_compute_optimal_grid_agrees_with_brute_force():
    rng = np.random.default_rng(6)
    big_n = np.exp(rng.uniform(np.log(1e6), np.log(1e10), 40))
    big_d = np.exp(rng.uniform(np.log(1e8), np.log(1e11), 40))
    loss = ((8.8e13 / big_n) ** 0.8 + 5.4e13 / big_d) ** 0.095
    fit = fit_law(pd.DataFrame({"params": big_n, "tokens": big_d, "loss": loss}), "kaplan")
    fit.draws = fit.param_vector[None, :]
    res = compute_optimal(fit, [1e20])
    n = np.geomspace(1e5, 1e14, 200001)
    brute = n[np.argmin(fit.curve({"params": n, "tokens": 1e20 / (6 * n)}))]
    assert res.table["params_opt"].iloc[0] == pytest.approx(brute, rel=1e-3)


def test_bad_input_is_one_line_error():
    with pytest.raises(InputError, match="no column 'flops'"):
        fit_law(pd.DataFrame({"params": [1.0], "loss": [1.0]}), "power", x="flops")
    with pytest.raises(InputError, match="unknown law"):
        fit_law(pd.DataFrame(), "cubic")


@pytest.mark.parametrize("law", ["chinchilla", "kaplan"])
def test_analytic_gradient_matches_finite_differences(law):
    from scipy.optimize import approx_fprime

    from assay.forecast._kaplan import kaplan_objective
    from assay.forecast._lse import lse_objective

    df = _chinchilla_points(n=30, noise=0.05, seed=9)
    log_x = np.log(df[["params", "tokens"]].to_numpy())
    log_y = np.log(df["loss"].to_numpy())
    if law == "chinchilla":
        vg, theta = lse_objective(log_x, log_y, delta=0.1), np.array([6.0, 7.5, 0.3, 0.3, 0.6])
    else:
        vg, theta = kaplan_objective(log_x, log_y, delta=0.1), np.array([31.0, 30.0, 0.08, 0.1])
    analytic = vg(theta[None, :])[1][0]
    numeric = approx_fprime(theta, lambda t: vg(t[None, :])[0][0], 1e-7)
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-6)
