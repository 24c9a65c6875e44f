"""`assay calibration / efficiency / breakdown / reliability` and their report panels on a
store the FakeBackend writes through the runner: JSON matches the library, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key
from typer.testing import CliRunner

from assay import open_store, stats
from assay.cli import app
from assay.core import Settings
from assay.errors import InputError
from assay.report._helm_panels import (
    breakdown_panel,
    calibration_panel,
    efficiency_panel,
    reliability_panel,
)
from assay.runner import evaluate
from assay.tasks import load_task

runner = CliRunner()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("helm") / "s.duckdb"
    task = load_task("arith_mc")
    key = answer_key(task.instances(limit=40, permute_choices=2))
    store = open_store(path)
    for name, skill in (("good", 0.8), ("poor", 0.3)):
        backend = FakeBackend(name, answers=key, skill=skill)
        evaluate(backend, [task], store=store, limit=40, permute_choices=2, progress=False)
    return str(path)


def _json(args):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_calibration_json_matches_library(store_path):
    out = _json(["calibration", "--store", store_path, "--bootstrap", "200"])
    lib = stats.calibration(open_store(store_path).samples(), n_resamples=200)
    assert [r["ece"] for r in out["table"]] == pytest.approx(lib.table["ece"].tolist())
    assert {r["model"] for r in out["table"]} == {"good", "poor"}
    # reliability-diagram bins chosen by n: 80 answers → 8 bins of 10 per model
    assert out["table"][0]["n"] == 80 and len(out["bins"]) == 2 * 8
    for row in out["table"]:
        assert 0 < row["ece_pvalue"] <= 1 and 0 < row["ce2_debiased_pvalue"] <= 1
        assert (
            row["ece_low"] < row["ece_high"] and row["ce2_debiased_low"] < row["ce2_debiased_high"]
        )
    assert [r["ece_pvalue"] for r in out["table"]] == pytest.approx(
        lib.table["ece_pvalue"].tolist()
    )
    cmp = _json(["calibration", "--store", store_path, "-t", "arith_mc", "--compare", "good,poor"])
    assert cmp["n_docs"] == 40 and [r["measure"] for r in cmp["table"]][0] == "ece_debiased"
    assert cmp["confidence_level"] == 0.95 and "88%" in cmp["interval_note"]
    assert all(0 < r["pvalue"] <= 1 for r in cmp["table"])


def test_efficiency_with_prices(store_path, tmp_path):
    prices = tmp_path / "p.json"
    prices.write_text(json.dumps([{"model": "good", "input_per_1m": 1.0, "output_per_1m": 4.0}]))
    out = _json(["efficiency", "--store", store_path, "--prices", str(prices)])
    good = next(r for r in out["table"] if r["model"] == "good")
    samples = open_store(store_path).samples(model="good")
    assert good["cost_total"] == pytest.approx(samples["input_tokens"].sum() / 1e6)
    assert good["n"] == 80 and good["latency_p50"] > 0
    assert {f["model"] for f in out["fits"]} == {"good", "poor"}


def test_negative_price_is_one_line_error(store_path, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("model,input_per_1m,output_per_1m\ngood,-1,2\n")
    result = runner.invoke(app, ["efficiency", "--store", store_path, "--prices", str(bad)])
    assert isinstance(result.exception, InputError) and "negative" in str(result.exception)
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "efficiency", "--store", store_path, "--prices", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0
    assert "must be >= 0" in proc.stderr


def test_breakdown_and_reliability(store_path, tmp_path):
    out = _json(["breakdown", "--store", store_path, "--by", "difficulty", "--pair", "good,poor"])
    assert {r["group"] for r in out["groups"]} == {"1", "2", "3", "4", "5"}
    assert len(out["tests"]) == 2 and len(out["pairs"]) == 5
    groups = tmp_path / "g.csv"
    docs = open_store(store_path).samples(model="good")["doc_id"].unique()
    pd.DataFrame({"doc_id": docs, "half": ["first"] * 20 + ["second"] * 20}).to_csv(groups)
    half = _json(["breakdown", "--store", store_path, "--by", "half", "--groups", str(groups)])
    assert {r["group"] for r in half["groups"]} == {"first", "second"}
    rel = _json(["reliability", "--store", store_path])
    lib = stats.reliability(open_store(store_path).analysis_scores())
    assert [r["all_right"] for r in rel["table"]] == lib.table["all_right"].tolist()
    assert rel["table"][0]["variants"] == 2 and rel["pairs"][0]["model_a"] == "good"
    result = runner.invoke(app, ["reliability", "--store", store_path, "--by", "cluster"])
    assert isinstance(result.exception, InputError)


def test_panels(store_path):
    st = open_store(store_path)
    samples, scores = st.samples(), st.analysis_scores()
    headline = {"arith_mc": "acc"}
    panels = [
        calibration_panel(samples, headline, Settings(resamples=100)),
        efficiency_panel(samples, headline),
        breakdown_panel(scores, headline),
        reliability_panel(scores, headline),
    ]
    for panel in panels:
        assert panel.available and panel.note is None, panel.key
        assert any(i["kind"] == "svg" for i in panel.items) or panel.key == "efficiency"
        json.dumps(panel.to_dict(), default=str)
    assert "<svg" in panels[0].items[1]["svg"]
    once = scores[scores["repeat"] == 0]
    assert not reliability_panel(once, headline).available
    assert "difficulty" in breakdown_panel(once.assign(difficulty=None), headline).note
    empty = samples.iloc[:0]
    assert calibration_panel(empty, headline).note and efficiency_panel(empty, headline).note


def test_panel_findings(store_path):
    st = open_store(store_path)
    headline = {"arith_mc": "acc"}
    calib = calibration_panel(st.samples(), headline, Settings(resamples=100))
    assert [f.kind for f in calib.findings] == ["calibration", "calibration"]
    rel = reliability_panel(st.analysis_scores(), headline)
    pair = [f for f in rel.findings if f.p_value is not None]
    assert len(pair) == 1 and pair[0].surprise > 2 and "good is right" in pair[0].text
    rows = [
        {"model": "m", "task": "t", "run_id": "r", "doc_id": f"{level}-{i}", "repeat": 0,
         "template_id": "x", "cluster_id": None, "difficulty": level, "metric": "acc",
         "value": float(i < (45 if level == 1 else 10))}
        for level in (1, 2) for i in range(50)
    ]  # fmt: skip
    found = breakdown_panel(pd.DataFrame(rows), {"t": "acc"}).findings
    assert len(found) == 1 and found[0].text.startswith("m on t: 0.900 at difficulty 1")
