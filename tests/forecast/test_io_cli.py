"""Input tables, the store join, and the `assay forecast` commands end to end."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.forecast import backtest_downstream, load_table, table_from_store
from assay.store import SampleRecord, make_run_id, open_store

runner = CliRunner()


def _runs_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = np.geomspace(1e7, 1e9, 12)
    d = 20 * n
    loss = (1.7 + 400 / n**0.34 + 1800 / d**0.28) * np.exp(rng.normal(0, 1e-3, 12))
    path = tmp_path / "runs.csv"
    pd.DataFrame({"Model Size": n, "Training FLOP": 6 * n * d, "loss": loss}).to_csv(
        path, index=False
    )
    return path


def test_load_table_renames_and_derives_tokens(tmp_path):
    path = _runs_csv(tmp_path)
    df = load_table(path, params="Model Size", flops="Training FLOP")
    assert {"params", "flops", "tokens", "loss"} <= set(df.columns)
    assert df["tokens"].to_numpy() == pytest.approx(20 * df["params"].to_numpy())
    with pytest.raises(InputError, match=r"runs.csv: no column 'Size' \(for params\)"):
        load_table(path, params="Size")


def test_table_from_store_joins_metadata_and_mean_scores(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    store.upsert_models(
        [
            {"model": f"m{i}", "family": "f", "params": 10.0 ** (7 + i), "flops": 6e18 * 10**i}
            for i in range(3)
        ]
    )
    recs = [
        SampleRecord(
            run_id=make_run_id(f"m{i}", "t"),
            model=f"m{i}",
            task="t",
            doc_id=f"d{j}",
            repeat=0,
            metrics={"acc": float(j < 2 + i)},
        )
        for i in range(3)
        for j in range(4)
    ]
    store.write_samples(recs)
    table = table_from_store(store, task="t", metric="acc").sort_values("model")
    assert table["score"].tolist() == [0.5, 0.75, 1.0]
    assert table["n"].tolist() == [4, 4, 4]
    assert table["score_se"].iloc[0] == pytest.approx(np.std([1, 1, 0, 0], ddof=1) / 2)
    assert table["tokens"].iloc[0] == pytest.approx(6e18 / (6 * 1e7))


def test_cli_fit_json_and_plot(tmp_path):
    path = _runs_csv(tmp_path)
    out = tmp_path / "fit.svg"
    res = runner.invoke(
        app,
        [
            "forecast",
            "fit",
            str(path),
            "--law",
            "power",
            "--x",
            "Model Size",
            "--params-col",
            "Model Size",
            "--bootstrap",
            "20",
            "--json",
            "--plot",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert set(data) == {"law", "params", "ci", "n", "rmse", "dropped"}  # issue 14: dropped rows
    assert data["n"] == 12 and set(data["ci"]) == {"E", "A", "alpha"}
    lo, hi = data["ci"]["alpha"]
    assert lo <= data["params"]["alpha"] <= hi
    assert out.read_text().lstrip().startswith("<?xml")


def test_cli_backtest_and_predict(tmp_path):
    path = _runs_csv(tmp_path)
    cols = ["--params-col", "Model Size", "--flops-col", "Training FLOP"]
    res = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            str(path),
            "--law",
            "power",
            "--x",
            "flops",
            "--holdout-above",
            "5e19",
            "--bootstrap",
            "20",
            "--json",
            *cols,
        ],
    )
    assert res.exit_code == 0, res.output
    bt = json.loads(res.output)
    assert bt["n_heldout"] == len(bt["heldout"]) and all(r["flops"] > 5e19 for r in bt["heldout"])
    assert bt["n_fit"] + bt["n_heldout"] == 12
    res = runner.invoke(
        app,
        [
            "forecast",
            "predict",
            str(path),
            "--law",
            "power",
            "--x",
            "flops",
            "--at-x",
            "1e21",
            "--bootstrap",
            "20",
            "--json",
            *cols,
        ],
    )
    assert res.exit_code == 0, res.output
    pred = json.loads(res.output)
    row = pred["prediction"][0]
    assert row["low"] < row["prediction"] < row["high"]
    assert pred["backtest"]["mape"] >= 0


def test_cli_missing_column_is_one_line_error(tmp_path):
    path = _runs_csv(tmp_path)
    res = runner.invoke(app, ["forecast", "fit", str(path), "--law", "power", "--x", "nope"])
    assert res.exit_code != 0
    assert isinstance(res.exception, InputError)
    assert "runs.csv: no column 'nope'" in str(res.exception)
    assert "\n" not in str(res.exception)


def test_cli_trend_reads_the_store(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    sizes = [1e7, 3e7, 1e8, 3e8, 1e9, 3e9]
    store.upsert_models([{"model": f"m{i}", "params": n} for i, n in enumerate(sizes)])
    recs = [  # accuracy falls with size: 90% of 40 docs right for the smallest, 40% for the largest
        SampleRecord(
            run_id=make_run_id(f"m{i}", "t"),
            model=f"m{i}",
            task="t",
            doc_id=f"d{j}",
            repeat=0,
            metrics={"acc": float(j < 36 - 4 * i)},
        )
        for i in range(6)
        for j in range(40)
    ]
    store.write_samples(recs)
    res = runner.invoke(
        app,
        [
            "forecast",
            "trend",
            "store",
            "--store",
            str(tmp_path / "s.duckdb"),
            "--task",
            "t",
            "--metric",
            "acc",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["shape"] == "inverse" and out["n"] == 6 and out["slope"] < 0


def _downstream_csv(tmp_path):
    rng = np.random.default_rng(1)
    c = np.geomspace(1e18, 1e23, 15)
    loss = 1.8 + 3 * (c / 1e18) ** -0.15
    acc = 0.25 + 0.75 / (1 + np.exp(-6 * (3.3 - loss)))
    path = tmp_path / "ds.csv"
    pd.DataFrame(
        {"flops": c, "loss": loss * np.exp(rng.normal(0, 0.002, 15)), "score": acc}
    ).to_csv(path, index=False)
    return path


def test_cli_downstream_json(tmp_path):
    path = _downstream_csv(tmp_path)
    res = runner.invoke(
        app,
        [
            "forecast",
            "downstream",
            str(path),
            "--floor",
            "0.25",
            "--at",
            "1e24",
            "--bootstrap",
            "30",
            "--json",
            "--plot",
            str(tmp_path / "d.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["backtest"]["n_heldout"] == 4 and out["backtest"]["mape"] < 1.0
    row = out["prediction"][0]
    assert row["low"] <= row["prediction"] <= row["high"]
    assert (tmp_path / "d.png").stat().st_size > 1000


def test_downstream_backtest_is_the_library_one(tmp_path):
    """`forecast downstream` backtests with forecast.backtest_downstream: the errors below are
    what the command printed when it computed them itself."""
    path = _downstream_csv(tmp_path)
    bt = backtest_downstream(pd.read_csv(path), floor=0.25, bootstrap=30)
    assert (bt.law, bt.on) == ("downstream", "flops")
    assert (bt.n_fit, bt.n_heldout, bt.coverage) == (11, 4, 1.0)
    assert bt.cut == pytest.approx(6.105511351377857e21)
    assert bt.mae == pytest.approx(9.532388348487686e-05)
    assert bt.mape == pytest.approx(0.00959474021692934)
    assert list(bt.table.columns[-4:]) == ["actual", "prediction", "low", "high"]
    cut = backtest_downstream(
        pd.read_csv(path), floor=0.25, bootstrap=20, holdout_above=1e22, target="logit"
    )
    assert (cut.cut, cut.n_fit, cut.n_heldout) == (1e22, 12, 3)
    assert cut.mae == pytest.approx(2.6236842957660933e-05)
    assert cut.mape == pytest.approx(0.0026344699624988657)
    res = runner.invoke(
        app, ["forecast", "downstream", str(path), "--floor", "0.25", "--bootstrap", "30", "--json"]
    )
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)["backtest"]
    assert shown == json.loads(
        json.dumps({k: v for k, v in bt.to_dict().items() if k not in ("fit", "heldout")})
    )
    with pytest.raises(InputError, match="no rows with flops above"):
        backtest_downstream(pd.read_csv(path), holdout_above=1e30)
