"""Audit fixes: density halving, dropped-row reports, passuntil/on-the-line input checks,
ceiling=None in fit_downstream, and the level/method of every JSON interval."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from typer.testing import CliRunner

from assay.cli import app
from assay.forecast import capacity_density

runner = CliRunner()
LN2_12 = 12 * np.log(2)


def _density_table(rate: float, noise: float, seed: int = 2, n: int = 6) -> pd.DataFrame:
    """A reference sigmoid family and ``n`` later models whose ln density changes by ``rate``
    per year (negative: density falls)."""
    rng = np.random.default_rng(seed)
    law = lambda ln: 0.25 + 0.75 * expit(1.2 * (ln - np.log(3e9)))  # noqa: E731
    rows = [
        {"model": f"ref{i}", "family": "ref", "params": s, "score": law(np.log(s)),
         "date": "2022-01-01"}
        for i, s in enumerate([1e8, 3e8, 1e9, 3e9, 1e10, 3e10])
    ]  # fmt: skip
    for i in range(n):
        yrs = i * 0.3
        eff = 1e9 * np.exp(rate * yrs + rng.normal(0, noise))
        day = pd.Timestamp("2022-01-01") + pd.Timedelta(days=365.25 * yrs)
        rows.append({"model": f"m{i}", "family": "other", "params": 1e9,
                     "score": law(np.log(eff)), "date": day.strftime("%Y-%m-%d")})  # fmt: skip
    return pd.DataFrame(rows)


def test_falling_density_halves_with_interval_from_slope_bounds(tmp_path):
    res = capacity_density(_density_table(-1.0, 0.1), "ref", floor=0.25)
    lo, hi = res.slope_ci
    assert hi < 0 and res.direction == "halves"
    assert res.halving_months == pytest.approx(LN2_12 / -res.slope_per_year)
    assert res.halving_ci == pytest.approx((LN2_12 / -lo, LN2_12 / -hi))
    assert res.halving_ci[0] < res.halving_months < res.halving_ci[1]
    assert np.isnan(res.doubling_months) and np.isnan(res.doubling_ci).all()
    path = tmp_path / "d.csv"
    _density_table(-1.0, 0.1).to_csv(path, index=False)
    args = ["forecast", "density", str(path), "--reference-family", "ref", "--floor", "0.25"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    line = (
        f"density halves every {res.halving_months:.1f} months (95% CI "
        f"{res.halving_ci[0]:.1f}–{res.halving_ci[1]:.1f})"
    )
    assert line in out.stdout and "doubles" not in out.stdout and "nan" not in out.stdout
    js = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert js["direction"] == "halves" and js["doubling_ci"] == [None, None]
    assert js["halving_ci"] == pytest.approx(list(res.halving_ci))
    assert js["interval"]["level"] == 0.95 and "t-interval" in js["interval"]["method"]


def test_density_slope_interval_through_zero_is_unbounded(tmp_path):
    res = capacity_density(_density_table(-0.05, 0.3, seed=5, n=8), "ref", floor=0.25)
    lo, hi = res.slope_ci
    assert lo < 0 < hi and res.direction == "unclear"
    assert res.doubling_ci == pytest.approx((LN2_12 / hi, np.inf))
    assert res.halving_ci == pytest.approx((LN2_12 / -lo, np.inf))
    assert "unclear" in res.summary() and "unbounded" in res.summary()
    # a rising density keeps its doubling time, with the interval from the slope bounds
    up = capacity_density(_density_table(1.0, 0.05), "ref", floor=0.25)
    assert up.direction == "doubles" and np.isnan(up.halving_months)
    assert up.doubling_ci == pytest.approx((LN2_12 / up.slope_ci[1], LN2_12 / up.slope_ci[0]))
    # the slope interval itself is the textbook t-interval
    t = up.table[(up.table.family == "other")]
    yrs = (pd.to_datetime(t.date) - pd.to_datetime(t.date).min()).dt.days / 365.25
    fit = stats.linregress(yrs, np.log(t.density))
    q = stats.t.ppf(0.975, len(t) - 2)
    assert up.slope_ci == pytest.approx((fit.slope - q * fit.stderr, fit.slope + q * fit.stderr))


def _ds(seed: int = 0, n: int = 10) -> pd.DataFrame:
    """Two-stage data: loss a power law of flops, score a floored sigmoid of the loss."""
    rng = np.random.default_rng(seed)
    xs = np.geomspace(1e18, 1e22, n)
    loss = (1.8 + 400.0 * xs**-0.15) * np.exp(rng.normal(0, 0.01, n))
    score = 0.25 + 0.75 * expit(4.0 * (2.6 - loss)) + rng.normal(0, 0.01, n)
    return pd.DataFrame({"model": [f"m{i}" for i in range(n)], "flops": xs, "loss": loss,
                         "score": score})  # fmt: skip


def test_downstream_reports_the_rows_it_drops(tmp_path):
    from assay.forecast import fit_downstream

    bad = pd.DataFrame({"model": ["mx", "my", "mz"], "flops": ["abc", "1e23", "1e21"],
                        "loss": ["2.0", "-1", "2.0"], "score": ["0.9", "0.9", "-0.1"]})  # fmt: skip
    df = pd.concat([_ds().astype(str), bad], ignore_index=True)
    path = tmp_path / "ds.csv"
    df.to_csv(path, index=False)
    fit = fit_downstream(df, floor=0.25, bootstrap=0)
    # a score below 0 (below chance) is kept; a non-numeric flops and a negative loss are not
    assert fit.dropped == {"missing or NaN": 1, "zero or negative": 1} and fit.n == 11
    res = runner.invoke(app, ["forecast", "downstream", str(path), "--floor", "0.25",
                              "--bootstrap", "20", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    want = {"rows": 2, "reasons": {"missing or NaN": 1, "zero or negative": 1}}
    assert out["fit"]["dropped"] == want and out["fit"]["loss_law"]["dropped"] == want
    assert "warning: dropped 2 rows (1 missing or NaN, 1 zero or negative)" in res.stderr


def _pu(tmp_path, extra: list[dict] | None = None):
    rng = np.random.default_rng(0)
    sizes = np.array([1e7, 1e8, 1e9, 1e10])
    p = np.exp(-np.exp(6.0 - 0.2 * np.log(sizes)))
    trials = 3 + rng.negative_binomial(3, p[None, :], size=(40, 4))
    df = pd.DataFrame({"params": np.tile(sizes, 40), "item": np.repeat(np.arange(40), 4),
                       "successes": 3, "trials": trials.ravel()})  # fmt: skip
    df = pd.concat([df, pd.DataFrame(extra or [])], ignore_index=True)
    path = tmp_path / "pu.csv"
    df.to_csv(path, index=False)
    return df, path


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ({"successes": -5, "trials": 3}, "has a negative count"),
        ({"successes": 50, "trials": 3}, "has more successes than trials"),
        ({"successes": "abc", "trials": 3}, "successes 'abc' is not a finite number"),
        ({"successes": 1, "trials": "x"}, "trials 'x' is not a finite number"),
    ],
)
def test_passuntil_refuses_bad_counts_in_one_line(tmp_path, row, said):
    from assay.errors import InputError
    from assay.forecast import pass_until

    df, path = _pu(tmp_path, [{"params": 1e10, "item": 0, **row}])
    with pytest.raises(InputError, match=f"data row 161 \\(item '?0'?\\): {said}"):
        pass_until(df, bootstrap=10)
    res = runner.invoke(app, ["forecast", "passuntil", str(path), "--bootstrap", "10"])
    assert res.exit_code == 1 and isinstance(res.exception, InputError)  # one line, no trace
    assert str(res.exception).startswith(f"{path}: data row 161") and said in str(res.exception)


def test_passuntil_json_sizes_as_given(tmp_path):
    _, path = _pu(tmp_path)
    res = runner.invoke(app, ["forecast", "passuntil", str(path), "--bootstrap", "10", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [r["params"] for r in out["table"]] == [1e7, 1e8, 1e9, 1e10]  # exact, not exp(log)


def test_on_the_line_constant_id_is_one_line_error(tmp_path):
    from assay.errors import InputError
    from assay.forecast import accuracy_on_the_line

    with pytest.raises(InputError, match="all 5 in-distribution accuracies are 0.5"):
        accuracy_on_the_line([0.5] * 5, [0.1, 0.2, 0.3, 0.4, 0.5])
    path = tmp_path / "c.csv"
    pd.DataFrame({"id": [0.5] * 5, "ood": [0.1, 0.2, 0.3, 0.4, 0.5]}).to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "on-the-line", str(path), "--id", "id", "--ood", "ood"])
    assert res.exit_code == 1 and isinstance(res.exception, InputError)
    assert str(res.exception).startswith(f"{path}: accuracy-on-the-line not fitted")


def test_on_the_line_counts_and_says_dropped_rows(tmp_path):
    from scipy.stats import norm

    ida = np.linspace(0.3, 0.9, 12)
    ood = norm.cdf(-0.5 + 0.8 * norm.ppf(ida))
    df = pd.DataFrame({"id": ida.astype(str), "ood": ood.astype(str)})
    df = pd.concat([df, pd.DataFrame({"id": ["abc", "0.5"], "ood": ["0.5", ""]})])
    path = tmp_path / "acc.csv"
    df.to_csv(path, index=False)
    args = ["forecast", "on-the-line", str(path), "--id", "id", "--ood", "ood"]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] == 12 and out["slope"] == pytest.approx(0.8, abs=1e-6)
    assert out["dropped"] == {"rows": 2, "reasons": {"missing or NaN": 2}}
    assert "warning: dropped 2 rows (2 missing or NaN)" in res.stderr
    assert "warning: dropped 2 rows" in runner.invoke(app, args).stderr


def test_fit_downstream_ceiling_none():
    from assay.errors import InputError
    from assay.forecast import fit_downstream

    df = _ds(0, 12)
    with pytest.raises(InputError, match="target 'logit' .* needs a ceiling"):
        fit_downstream(df, floor=0.25, ceiling=None, target="logit", bootstrap=0)
    # accuracy fits the ceiling (documented); logp has no ceiling to need
    free = fit_downstream(df, floor=0.25, ceiling=None, target="accuracy", bootstrap=0)
    assert free.link_is_free_ceiling and 0.8 < free.ceiling <= 1.2
    logp = fit_downstream(df.assign(score=np.log(df.score)), ceiling=None, target="logp",
                          bootstrap=0)  # fmt: skip
    assert logp.n == 12 and np.isfinite(logp.point([1e23])).all()


def test_every_json_interval_states_level_and_method(tmp_path):
    from assay.forecast import fit_downstream

    path = tmp_path / "ds.csv"
    _ds(0, 10).to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "downstream", str(path), "--floor", "0.25",
                              "--confidence", "0.5", "--bootstrap", "20", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    how = out["fit"]["interval"]
    assert how["level"] == 0.5 and how["method"] in ("split-conformal", "student-t error growth")
    row = out["prediction"][0]
    assert row["level"] == 0.5
    # the printed interval is the stated multiplier times the error growth at that distance
    half = how["multiplier"] * (how["s0"] + how["s1"] * np.log(row["flops"] / how["x_max"]))
    assert row["high"] - row["prediction"] == pytest.approx(half, rel=1e-9)
    assert row["prediction"] - row["low"] == pytest.approx(half, rel=1e-9)
    assert out["backtest"]["interval"]["level"] == 0.5
    # without a calibration the bootstrap interval says so
    plain = fit_downstream(_ds(0, 10), floor=0.25, bootstrap=20).to_dict(level=0.8)["interval"]
    assert plain["level"] == 0.8 and plain["method"].startswith("bootstrap percentile")
    assert plain["n_draws"] == 20

    _, pu_path = _pu(tmp_path)
    res = runner.invoke(app, ["forecast", "passuntil", str(pu_path), "--at", "1e11",
                              "--bootstrap", "30", "--confidence", "0.8", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["interval"] == {"level": 0.8, "n_draws": 30,
                               "method": "percentile bootstrap over items (the line refitted "
                               "per draw)"}  # fmt: skip
    assert out["prediction"][0]["level"] == 0.8


def test_cod_json_states_level_and_method(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "emergence_cases", Path(__file__).with_name("test_emergence.py")
    )
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    df, _ = cases._cod_data()
    path = tmp_path / "items.csv"
    df.to_csv(path, index=False)
    res = runner.invoke(app, ["forecast", "cod", str(path), "--at", "1e11", "--floor", "0.25",
                              "--bootstrap", "20", "--confidence", "0.8", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    how = json.loads(res.stdout)["interval"]
    assert how["level"] == 0.8 and how["n_draws"] == 20 and "bootstrap" in how["method"]


def test_interval_lines_say_what_they_leave_out(tmp_path):
    path = tmp_path / "ds.csv"
    _ds(0, 10).to_csv(path, index=False)
    args = ["forecast", "downstream", str(path), "--floor", "0.25", "--bootstrap", "20"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "interval: 90% split-conformal; scaled from the errors of rolling-origin" in text
    assert "conservative" in text and "98.5%" in text
    few = tmp_path / "few.csv"
    _ds(0, 5).to_csv(few, index=False)  # too few rows for a rolling origin: bootstrap
    text = " ".join(runner.invoke(app, [*args[:2], str(few), *args[3:]]).stdout.split())
    assert "interval: 90% bootstrap percentile" in text and "not calibrated" in text
    out = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert "conservative" in out["fit"]["interval"]["note"]


def test_cod_interval_says_it_is_not_a_forecast_error(tmp_path):
    from assay.forecast import cod_forecast

    rng = np.random.default_rng(0)
    xs = np.geomspace(1e18, 1e21, 8)
    a, b = rng.uniform(0.8, 2.0, 100), rng.uniform(np.log(1e19), np.log(1e23), 100)
    p = 0.25 + 0.75 * expit(a[None, :] * (np.log(xs)[:, None] - b[None, :]))
    s = rng.binomial(4, p) / 4
    df = pd.DataFrame({"model": np.repeat([f"m{j}" for j in range(8)], 100),
                       "item": np.tile([f"q{i}" for i in range(100)], 8),
                       "score": s.ravel(), "flops": np.repeat(xs, 100)})  # fmt: skip
    res = cod_forecast(df, 1e22, chance=0.25, bootstrap=10, level=0.9)
    note = res.to_dict()["interval"]["note"]
    assert "not a forecast error interval" in note and "kept clusters" in note
    path = tmp_path / "cod.csv"
    df.to_csv(path, index=False)
    out = runner.invoke(app, ["forecast", "cod", str(path), "--at", "1e22", "--floor", "0.25",
                              "--bootstrap", "10"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "not a forecast error interval" in " ".join(out.stdout.split())


def test_density_counts_the_rows_it_drops(tmp_path):
    """A model whose params are not a number was dropped without a word."""
    table = _density_table(1.0, 0.1).astype({"params": object})
    table.loc[len(table)] = ["mx", "other", "abc", 0.5, "2023-01-01"]
    res = capacity_density(table, "ref", floor=0.25)
    assert res.dropped == {"missing or NaN": 1} and res.n == 6
    path = tmp_path / "d.csv"
    table.to_csv(path, index=False)
    args = ["forecast", "density", str(path), "--reference-family", "ref", "--floor", "0.25"]
    js = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert js["dropped"] == {"rows": 1, "reasons": {"missing or NaN": 1}}


def test_cod_refuses_a_score_that_is_no_number():
    """Text in the score column was averaged away or filled with the chance score, silently."""
    from assay.forecast import cod_forecast

    rows = [{"model": f"m{j}", "item": f"q{i}", "score": 0.5, "flops": 10.0 ** (18 + j)}
            for j in range(6) for i in range(4)]  # fmt: skip
    rows[5]["score"] = "abc"
    with pytest.raises(Exception, match=r"^data row 6: score 'abc' is not a number$"):
        cod_forecast(pd.DataFrame(rows), 1e22, chance=0.25)
