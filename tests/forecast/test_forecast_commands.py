"""The observational, cod, passuntil and on-the-line commands (typer's CliRunner), and the
calibrated intervals of observational scaling, on simulated data with known answers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.forecast import observational_scaling

runner = CliRunner()
_spec = importlib.util.spec_from_file_location(
    "emergence_cases", Path(__file__).with_name("test_emergence.py")
)
emergence_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(emergence_cases)


def _obs_table(seed: int = 0) -> pd.DataFrame:
    """6 families x 8 sizes; one capability linear in log compute per family drives 5
    benchmarks and the target (a floored sigmoid of it), each with noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(6):
        offset = rng.normal(0, 0.5)
        for lc in np.linspace(np.log(1e20), np.log(1e24), 8) + rng.normal(0, 0.1, 8):
            cap = offset + 0.6 * (lc - np.log(1e22))
            row = {"model": f"f{f}-{lc:.1f}", "family": f"f{f}", "flops": np.exp(lc)}
            for b, w in enumerate((1.0, 0.8, 1.2, 0.9, 1.1)):
                row[f"b{b}"] = 0.25 + 0.75 / (1 + np.exp(-w * cap)) + rng.normal(0, 0.01)
            row["target"] = 0.25 + 0.75 / (1 + np.exp(-cap + 0.5)) + rng.normal(0, 0.015)
            rows.append(row)
    return pd.DataFrame(rows)


def test_observational_intervals_for_held_out_models():
    df = _obs_table()
    small = (df["flops"] <= 1e23).to_numpy()
    fit = observational_scaling(df, [f"b{i}" for i in range(5)], "target", floor=0.25,
                                fit_mask=small, bootstrap=0)  # fmt: skip
    held = fit.scores[~fit.scores["used_in_fit"]]
    assert len(held) > 5 and held[["low", "high"]].notna().all().all()
    inside = (held["low"] <= held["target"]) & (held["target"] <= held["high"])
    assert inside.mean() >= 0.8
    assert fit.to_dict()["interval"]["n_origins"] >= 3
    near, far = fit.predict("f0", [1e23, 1e25], level=0.9).eval("high - low")
    assert near < far  # wider further beyond the fitted compute


def test_observational_command(tmp_path):
    path = tmp_path / "obs.csv"
    _obs_table().to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "observational", str(path), "--benchmarks",
                              "b0,b1,b2,b3,b4", "--target", "target", "--floor", "0.25",
                              "--holdout-above", "1e23", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["backtest"]["level"] == 0.9 and out["backtest"]["coverage"] >= 0.8
    assert out["fit"]["interval"]["calibration"].startswith("rolling-origin")
    bad = runner.invoke(app, ["forecast", "observational", str(path), "--benchmarks", "b0",
                              "--target", "target"])  # fmt: skip
    assert isinstance(bad.exception, InputError) and "at least 2" in str(bad.exception)


def test_on_the_line_command(tmp_path):
    from scipy.stats import norm

    ida = np.linspace(0.3, 0.9, 12)
    ood = norm.cdf(-0.5 + 0.8 * norm.ppf(ida))
    path = tmp_path / "acc.csv"
    pd.DataFrame({"id": ida, "ood": ood}).to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "on-the-line", str(path), "--id", "id", "--ood",
                              "ood", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["slope"] == pytest.approx(0.8, abs=1e-6)
    assert out["intercept"] == pytest.approx(-0.5, abs=1e-6)


def test_cod_and_passuntil_commands(tmp_path):
    df, truth = emergence_cases._cod_data()
    path = tmp_path / "items.csv"
    df.to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "cod", str(path), "--at", "1e11", "--floor", "0.25",
                              "--bootstrap", "20", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["low"] <= out["prediction"] <= out["high"] and out["n_models"] == 8
    rng = np.random.default_rng(0)
    sizes = np.array([1e7, 1e8, 1e9, 1e10])  # a line's 2 parameters + 2
    p = np.exp(-np.exp(6.0 - 0.2 * np.log(sizes)))
    trials = 3 + rng.negative_binomial(3, p[None, :], size=(100, 4))
    pu = pd.DataFrame({"params": np.tile(sizes, 100), "item": np.repeat(np.arange(100), 4),
                       "successes": 3, "trials": trials.ravel()})  # fmt: skip
    path = tmp_path / "pu.csv"
    pu.to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "passuntil", str(path), "--at", "1e10",
                              "--bootstrap", "50", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["params"]["slope"] == pytest.approx(-0.2, abs=0.03)
    assert len(out["prediction"]) == 1
