"""Robustness: paired differences and the worst case on a hand-made table; the model order's
Kendall τ across checkpoints; the report panel; the CLI's JSON and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.report._robust_panels import order_stability_panel, robustness_panel
from assay.stats import checkpoint_scores, order_stability, robustness
from assay.store import SampleRecord, open_store

# 4 documents; per task the acc of d0..d3
CLEAN = [1, 1, 1, 0]
TYPOS = [1, 0, 1, 0]
CASING = [0, 1, 1, 1]


def _frame(metric: str = "acc") -> pd.DataFrame:
    rows = []
    for task, values in (("t", CLEAN), ("t+typos", TYPOS), ("t+casing", CASING)):
        for i, v in enumerate(values):
            rows.append({"model": "m", "task": task, "doc_id": f"d{i}", "repeat": 0,
                         "metric": metric, "value": float(v)})  # fmt: skip
    return pd.DataFrame(rows)


def test_paired_difference_and_worst_case_known_answers():
    result = robustness(_frame())
    table = result.table.set_index("perturbation")
    assert table.loc["typos", "diff"] == pytest.approx(-0.25)
    assert table.loc["casing", "diff"] == pytest.approx(0.0)
    assert table.loc["typos", "clean"] == pytest.approx(0.75)
    assert table.loc["typos", "n"] == 4
    worst = result.worst.iloc[0]
    # per document min over clean, typos, casing: d0 0, d1 0, d2 1, d3 0
    assert worst["worst"] == pytest.approx(0.25)
    assert worst["drop"] == pytest.approx(0.5)
    assert worst["perturbations"] == 2


def test_lower_is_better_worst_case_takes_the_max():
    df = _frame("brier")
    result = robustness(df, metric="brier")
    # per document max: d0 1, d1 1, d2 1, d3 1 -> 1; drop (in the better direction) 1 − 0.75
    assert result.worst.iloc[0]["worst"] == pytest.approx(1.0)
    assert result.worst.iloc[0]["drop"] == pytest.approx(0.25)


def test_t_interval_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    clean = rng.normal(0.6, 0.1, 40)
    pert = clean - 0.05 + rng.normal(0, 0.02, 40)
    rows = [{"model": "m", "task": t, "doc_id": f"d{i}", "metric": "p_correct", "value": v}
            for t, vals in (("t", clean), ("t+typos", pert)) for i, v in enumerate(vals)]  # fmt: skip
    row = robustness(pd.DataFrame(rows)).table.iloc[0]
    d = pert - clean
    se = d.std(ddof=1) / np.sqrt(40)
    assert row["diff"] == pytest.approx(d.mean())
    assert row["stderr"] == pytest.approx(se)
    from scipy.stats import t

    assert row["ci_high"] == pytest.approx(d.mean() + t.ppf(0.975, 39) * se)


def test_no_perturbed_runs_is_a_one_line_error():
    df = _frame()
    with pytest.raises(InputError, match="no task has both clean and perturbed runs"):
        robustness(df[df["task"] == "t"])


def test_order_stability_known_tau():
    # three families at three checkpoints: order a>b>c, then a>b>c, then c>b>a
    table = pd.DataFrame(
        [("a", 1, 0.3), ("b", 1, 0.2), ("c", 1, 0.1), ("a", 2, 0.5), ("b", 2, 0.4),
         ("c", 2, 0.3), ("a", 3, 0.5), ("b", 3, 0.6), ("c", 3, 0.7)],
        columns=["model", "checkpoint", "value"],
    )  # fmt: skip
    result = order_stability(table)
    assert list(result.pairs["tau"]) == pytest.approx([1.0, -1.0])
    assert result.mean_tau == pytest.approx(0.0)
    with pytest.raises(InputError, match="two or more checkpoints"):
        order_stability(table[table["checkpoint"] == 1])


def test_checkpoint_scores_align_families_by_step_order():
    scores = pd.DataFrame(
        [(m, "t", "d0", "acc", v) for m, v in
         (("a-1k", 0.2), ("a-2k", 0.4), ("b-5k", 0.3), ("b-9k", 0.1))],
        columns=["model", "task", "doc_id", "metric", "value"],
    )  # fmt: skip
    models = pd.DataFrame(
        {"model": ["a-1k", "a-2k", "b-5k", "b-9k"], "family": ["a", "a", "b", "b"],
         "step": [1000, 2000, 5000, 9000]}
    )  # fmt: skip
    table = checkpoint_scores(scores, models, task="t", metric="acc")
    assert sorted(map(tuple, table[["model", "checkpoint"]].to_numpy().tolist())) == [
        ("a", 1), ("a", 2), ("b", 1), ("b", 2)
    ]  # fmt: skip
    assert order_stability(table).mean_tau == pytest.approx(-1.0)
    panel = order_stability_panel(scores, models, task="t", metric="acc")
    assert panel.available and panel.results["order_stability"].mean_tau == pytest.approx(-1.0)


def test_robustness_panel():
    panel = robustness_panel(_frame())
    assert panel.available
    assert panel.results["robustness"].worst.iloc[0]["worst"] == pytest.approx(0.25)
    empty = robustness_panel(_frame().query("task == 't'"))
    assert not empty.available and "--perturb" in empty.note


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "s.duckdb"
    store = open_store(path)
    records = [
        SampleRecord(run_id=f"r-{task}", model="m", task=task, doc_id=f"d{i}", repeat=0,
                     metrics={"acc": float(v)})
        for task, values in (("t", CLEAN), ("t+typos", TYPOS), ("t+casing", CASING))
        for i, v in enumerate(values)
    ]  # fmt: skip
    store.write_samples(records)
    return path


def test_cli_json(store_path):
    out = CliRunner().invoke(app, ["robustness", "--store", str(store_path), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    diffs = {r["perturbation"]: r["diff"] for r in data["table"]}
    assert diffs == pytest.approx({"typos": -0.25, "casing": 0.0})
    assert data["worst"][0]["worst"] == pytest.approx(0.25)
    # an outside audit: "alpha": 0.050000000000000044 and no level in the titles
    assert data["confidence_level"] == 0.95 and "alpha" not in data
    table = CliRunner().invoke(
        app, ["robustness", "--store", str(store_path), "--confidence", "0.8"]
    )
    assert table.exit_code == 0 and table.output.count("(80% intervals)") == 1
    assert "per document, 80% intervals" in table.output
    bad = CliRunner().invoke(app, ["robustness", "--store", str(store_path), "-t", "nope"])
    assert bad.exit_code == 1 and "unknown task 'nope'; available: t" in str(bad.exception)


def test_order_stability_cli(tmp_path):
    from assay.store import ModelInfo

    path = tmp_path / "s.duckdb"
    store = open_store(path)
    values = {("a", 1): 0.2, ("a", 2): 0.5, ("b", 1): 0.3, ("b", 2): 0.4, ("c", 1): 0.1,
              ("c", 2): 0.45}  # fmt: skip
    store.upsert_models([ModelInfo(model=f"{f}-{s}", family=f, step=s * 1000) for f, s in values])
    store.write_samples(
        [SampleRecord(run_id=f"{f}-{s}", model=f"{f}-{s}", task="t", doc_id="d0", repeat=0,
                      metrics={"acc": v}) for (f, s), v in values.items()]
    )  # fmt: skip
    out = CliRunner().invoke(app, ["order-stability", "--store", str(path), "-t", "t", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    # checkpoint 1: b > a > c; checkpoint 2: a > c > b -> one concordant pair of three: τ = −1/3
    assert data["mean_tau"] == pytest.approx(-1 / 3)
    bad = CliRunner().invoke(app, ["order-stability", "--store", str(path)])
    assert bad.exit_code == 1 and "--task" in str(bad.exception)
