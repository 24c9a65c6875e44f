"""Discovery metrics (issue 35, item 2): precision, recall and F1 of a thresholded regression
target and the discovery acceleration factor, against a worked example and sklearn; their
delta-method pseudo-values (mean = corpus value, standard error checked by simulation); end to
end through a YAML generate task, `assay import samples --metric` and `assay compare --json`."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from fake_backend import FakeBackend
from typer.testing import CliRunner

from assay.cli import app
from assay.core import (
    discovery_acceleration,
    discovery_metrics,
    discovery_pseudo_values,
    metric_info,
    with_corpus_metrics,
)
from assay.runner import evaluate
from assay.tasks import load_task

# predicted and true energy above hull of eight materials (≤ 0: stable)
PRED = [-0.1, -0.05, 0.2, -0.3, 0.4, 0.1, -0.2, 0.3]
TRUE = [-0.02, 0.1, 0.05, -0.1, 0.3, -0.01, 0.2, 0.5]


def test_worked_example():
    # predicted stable: 0, 1, 3, 6 (4); truly stable: 0, 3, 5 (3); hits: 0, 3 (2)
    got = discovery_metrics(PRED, TRUE)
    assert got["precision"] == pytest.approx(2 / 4) and got["recall"] == pytest.approx(2 / 3)
    assert got["f1"] == pytest.approx(2 * 2 / (4 + 3)) and got["prevalence"] == 3 / 8
    assert got["daf"] == pytest.approx((2 / 4) / (3 / 8))  # 4/3
    # top 1 by prediction: material 3 (stable) -> 1 / (3/8); top 2 adds 6 (unstable) -> 4/3
    assert discovery_acceleration(PRED, TRUE, k=1) == pytest.approx(8 / 3)
    assert discovery_acceleration(PRED, TRUE, k=2) == pytest.approx(4 / 3)
    assert discovery_acceleration(PRED, TRUE) == pytest.approx(4 / 3)
    # threshold 0.1: predicted 0, 1, 3, 5, 6; true 0, 1, 2, 3, 5; hits 0, 1, 3, 5
    shifted = discovery_metrics(PRED, TRUE, threshold=0.1)
    assert (shifted["precision"], shifted["recall"]) == (pytest.approx(0.8), pytest.approx(0.8))
    assert shifted["daf"] == pytest.approx(0.8 / (5 / 8))
    assert np.isnan(discovery_metrics([1.0, 2.0], [-1.0, 1.0])["precision"])  # none called


def test_matches_sklearn_classification_metrics():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    true = rng.normal(0.1, 0.2, size=500)
    pred = true + rng.normal(0, 0.15, size=500)
    got = discovery_metrics(pred, true)
    y, s = true <= 0, pred <= 0
    assert got["precision"] == pytest.approx(metrics.precision_score(y, s), rel=1e-12)
    assert got["recall"] == pytest.approx(metrics.recall_score(y, s), rel=1e-12)
    assert got["f1"] == pytest.approx(metrics.f1_score(y, s), rel=1e-12)
    assert got["daf"] == pytest.approx(metrics.precision_score(y, s) / y.mean(), rel=1e-12)


def test_pseudo_values_mean_to_the_corpus_value_with_the_right_standard_error():
    values = discovery_pseudo_values(PRED, TRUE)
    want = discovery_metrics(PRED, TRUE)
    pairs = {"disc_precision": "precision", "disc_recall": "recall", "disc_f1": "f1"}
    for name, key in {**pairs, "daf": "daf"}.items():
        assert values[name].mean() == pytest.approx(want[key], abs=1e-12)
    # fixed-seed simulation: the spread of the corpus DAF over data sets against the mean of
    # the standard errors of the pseudo-values (delta method) — within 10%
    rng = np.random.default_rng(35)
    n, sims = 400, 1500
    daf, se = np.empty(sims), np.empty(sims)
    for b in range(sims):
        true = rng.normal(0.15, 0.2, size=n)
        pred = true + rng.normal(0, 0.15, size=n)
        v = discovery_pseudo_values(pred, true)["daf"]
        daf[b], se[b] = v.mean(), v.std(ddof=1) / np.sqrt(n)
    assert daf.std(ddof=1) / se.mean() == pytest.approx(1.0, abs=0.1)


def test_registry_declares_the_discovery_metrics():
    assert metric_info("daf").chance == 1.0 and metric_info("daf").bounds == (0.0, np.inf)
    for name in ("daf", "disc_precision", "disc_recall", "disc_f1"):
        assert metric_info(name).higher_is_better and metric_info(name).interval == "delta"
    assert metric_info("discovery_pred").priority < 0


def _scores(model: str, pred, true) -> pd.DataFrame:
    rows = []
    for i, (p, t) in enumerate(zip(pred, true, strict=True)):
        for metric, value in (("discovery_pred", p), ("discovery_true", t)):
            row = {"model": model, "task": "wbm", "run_id": model, "doc_id": f"m{i}"}
            rows.append({**row, "repeat": 0, "metric": metric, "value": value})
    return pd.DataFrame(rows)


def test_corpus_rows_from_the_pieces():
    other = [-0.15, -0.2, -0.1, -0.4, 0.5, -0.3, 0.2, 0.3]  # calls 0, 1, 2, 3, 5
    scores = pd.concat([_scores("a", PRED, TRUE), _scores("b", other, TRUE)])
    out = with_corpus_metrics(scores)
    means = out.groupby(["model", "metric"])["value"].mean()
    assert means[("a", "daf")] == pytest.approx(4 / 3)
    assert means[("b", "daf")] == pytest.approx(discovery_metrics(other, TRUE)["daf"])
    # b calls all three stable ones (0, 3, 5)
    assert means[("b", "disc_recall")] == pytest.approx(1.0)
    assert (out["metric"] == "daf").sum() == 16


def test_import_samples_and_compare(tmp_path):
    rng = np.random.default_rng(4)
    true = rng.normal(0.1, 0.2, size=300)
    rows, want = [], {}
    for model, noise in (("good", 0.05), ("poor", 0.3)):
        pred = true + rng.normal(0, noise, size=300)
        want[model] = discovery_metrics(pred, true)
        rows += [
            {"model": model, "task": "wbm", "doc_id": f"m{i}", "prediction": p, "target": t}
            for i, (p, t) in enumerate(zip(pred, true, strict=True))
        ]
    path = tmp_path / "wbm.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    store = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    done = runner.invoke(app, ["import", "samples", str(path), "--store", store, "--metric", "daf"])
    assert done.exit_code == 0, done.output
    for metric, key in (("daf", "daf"), ("disc_f1", "f1")):
        out = runner.invoke(app, ["compare", "--store", store, "--metric", metric, "--json"])
        assert out.exit_code == 0, out.output
        result = json.loads(out.output)
        got = {r["model"]: r for r in result["scores"]}
        for model in ("good", "poor"):
            assert got[model]["mean"] == pytest.approx(want[model][key], rel=1e-9)
            assert got[model]["ci_low"] < got[model]["mean"] < got[model]["ci_high"]
        assert len(result["pairs"]) == 1 and result["pairs"][0]["p_adjusted"] < 0.05


TASK = """
name: hull
request_type: generate
templates: {default: "Energy above hull of {{ formula }}?"}
target: "{{ e_hull }}"
metrics:
  daf: {}
  disc_f1: {}
docs:
"""


def test_a_yaml_generate_task_with_a_numeric_target_scores_discovery(tmp_path):
    path = tmp_path / "hull.yaml"
    docs = [f"  - {{doc_id: m{i}, formula: X{i}, e_hull: '{t}'}}" for i, t in enumerate(TRUE)]
    path.write_text(TASK + "\n".join(docs) + "\n")
    task = load_task(path)
    answers = dict(enumerate(PRED))
    answers[7] = "no idea"  # no number: a predicted negative (its true value 0.5 is positive)

    def answer(request) -> str:
        return str(answers[int(re.search(r"X(\d+)", request.context).group(1))])

    store = tmp_path / "s.duckdb"
    result = evaluate(FakeBackend("m", generation=answer), task, store=store, progress=False)
    table = result.table.set_index("metric")
    assert table.loc["daf", "mean"] == pytest.approx(4 / 3)
    assert table.loc["disc_f1", "mean"] == pytest.approx(4 / 7)
    out = CliRunner().invoke(
        app, ["compare", "--store", str(store), "--metric", "disc_precision", "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["scores"][0]["mean"] == pytest.approx(0.5)


def test_breakdown_gives_each_group_its_own_daf():
    from assay import stats

    rng = np.random.default_rng(8)
    true = rng.normal(0.1, 0.2, size=120)
    frames = []
    for model, noise in (("a", 0.05), ("b", 0.25)):
        frames.append(_scores(model, true + rng.normal(0, noise, size=120), true))
    scores = with_corpus_metrics(pd.concat(frames))
    docs = [f"m{i}" for i in range(120)]
    halves = np.where(np.arange(120) < 60, "first", "second")
    grouping = pd.DataFrame({"task": "wbm", "doc_id": docs, "group": halves})
    res = stats.breakdown(scores, groups=grouping, metric="daf", pair=("a", "b"))
    g = res.groups.set_index(["model", "group"])
    for model in ("a", "b"):
        raw = frames[0 if model == "a" else 1]
        pred = raw.loc[raw["metric"] == "discovery_pred", "value"].to_numpy()
        for name in ("first", "second"):
            sel = halves == name
            expected = discovery_metrics(pred[sel], true[sel])["daf"]
            assert g.loc[(model, name), "mean"] == pytest.approx(expected, rel=1e-9)
