"""Report contents: numbers equal the analysis parts' output and hand computations."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.report import build_report, render_report
from assay.store import Store

from .conftest import MODELS, make_store

stats = pytest.importorskip("assay.stats")


def _table(panel, table_id):
    return next(i for i in panel.items if i["kind"] == "table" and i["id"] == table_id)


def test_leaderboard_equals_compare_and_hand_means(report_data, store_path):
    scores = Store(store_path).scores(metric="acc")
    expected = pd.DataFrame(stats.compare(scores, alpha=0.05, correction="holm").scores)
    table = _table(report_data.panel("leaderboard"), "leaderboard-arith")
    shown = {key: row for key, row in zip(table["row_keys"], table["rows"], strict=True)}
    assert set(shown) == set(MODELS)
    hand = scores[scores["task"] == "arith"].groupby("model")["value"].mean()
    for r in expected[expected["task"] == "arith"].itertuples():
        row = shown[r.model]
        assert row[2]["value"] == pytest.approx(r.mean, abs=1e-12)
        assert row[2]["value"] == pytest.approx(hand[r.model], abs=1e-12)
        assert row[3]["text"] == f"{r.ci_low:.3f} – {r.ci_high:.3f}"
        assert row[5]["value"] == 120
    means = [row[2]["value"] for row in table["rows"]]
    assert means == sorted(means, reverse=True)  # ranked best first


def test_summary_names_leader_gap_and_confidence(report_data, store_path):
    scores = Store(store_path).scores(task="facts", metric="acc")
    means = scores.groupby("model")["value"].mean().sort_values(ascending=False)
    leader, second = means.index[:2]
    sentence = next(s for s in report_data.summary if s.startswith("On facts"))
    assert f"{leader} leads with {means.iloc[0]:.3f}" in sentence
    assert f"{means.iloc[0] - means.iloc[1]:.3f} above {second}" in sentence
    assert "95% CI" in sentence and "adjusted p" in sentence and "n = 120" in sentence


def test_pairs_matrix_is_antisymmetric_and_matches_compare(report_data, store_path):
    scores = Store(store_path).scores(task="arith", metric="acc")
    pairs = pd.DataFrame(stats.compare(scores).pairs)
    table = _table(report_data.panel("pairs"), "pairs-arith")
    models = table["columns"][1:]
    diff = np.array(
        [[c["value"] if c["value"] is not None else 0.0 for c in r[1:]] for r in table["rows"]]
    )
    np.testing.assert_allclose(diff, -diff.T, atol=1e-12)
    for p in pairs.itertuples():
        i, j = models.index(p.model_a), models.index(p.model_b)
        assert diff[i, j] == pytest.approx(p.diff, abs=1e-12)
        cls = table["rows"][i][j + 1]["cls"]
        assert (cls in ("better", "worse")) == (p.p_adjusted < 0.05)


def test_arena_counts_by_hand(report_data, store_path):
    battles = Store(store_path).battles()
    counts = _table(report_data.panel("arena"), "arena-counts")
    row = next(r for r in counts["rows"] if r[0]["text"] == "xl-30b")
    as_a, as_b = battles["model_a"] == "xl-30b", battles["model_b"] == "xl-30b"
    wins = (
        (as_a & (battles["winner"] == "model_a")) | (as_b & (battles["winner"] == "model_b"))
    ).sum()
    assert row[1]["value"] == (as_a | as_b).sum()
    assert row[2]["value"] == wins
    if pytest.importorskip("assay.rank"):
        ratings = _table(report_data.panel("arena"), "arena-ratings")
        assert set(ratings["row_keys"]) == set(MODELS)


def test_drilldown_keeps_disagreements_first(report_data, store_path):
    samples = Store(store_path).samples(task="arith")
    wide = samples.pivot(index="doc_id", columns="model", values="metric.acc")
    preds = samples.pivot(index="doc_id", columns="model", values="prediction")
    disputed = (wide.nunique(axis=1) > 1) | (preds.nunique(axis=1) > 1)
    dd = report_data.drilldown["arith"]
    assert dd["total_docs"] == 120 and dd["disputed_docs"] == int(disputed.sum())
    assert len(dd["docs"]) == 50  # max_docs
    shown = [d["id"] for d in dd["docs"]]
    assert all(disputed[shown])  # 50 < disputed docs: every embedded one is a disagreement
    doc = dd["docs"][0]
    assert doc["answers"]["tiny-10m"][0] == preds.at[doc["id"], "tiny-10m"]
    assert dd["models"][0] in ("large-10b", "xl-30b")  # best models first


def test_optional_panels(report_data, store_path):
    assert report_data.panel("bias").available
    flips = _table(report_data.panel("flips"), "flips")  # large-10b names base-1b as parent
    row = next(r for r in flips["rows"] if r[1]["text"] == "arith")
    acc = (
        Store(store_path)
        .scores(task="arith", metric="acc")
        .pivot(index="doc_id", columns="model", values="value")
    )
    negative = int(((acc["base-1b"] == 1) & (acc["large-10b"] == 0)).sum())
    assert row[0]["text"] == "base-1b → large-10b" and row[4]["value"] == negative
    assert row[5]["value"] == pytest.approx(negative / 120)
    assert "repeats" in report_data.panel("variance").note  # one answer per doc here
    scaling = report_data.panel("scaling")
    assert any(i["kind"] == "svg" for i in scaling.items), scaling.note
    # 5 sized models: the law (3 parameters + 2) is fitted; a backtest holding out the largest
    # would fit 4, so the panel says it needs 6 (the no-skill path: test_wrong_scaling_panel)
    assert "arith" in scaling.results and scaling.results["arith"].backtest is None
    kv = next(i for i in scaling.items if i.get("caption") == "arith: fit and backtest")
    assert "needs at least 6 models with sizes" in kv["pairs"]["backtest"]


def test_html_is_self_contained(report_file):
    html = report_file.read_text()
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    urls = set(re.findall(r"""(?:src|href)=["']([^"'#]+)""", html))
    assert not urls, urls
    assert "http://www.w3.org" in html  # SVG namespaces only
    assert html.count("<svg") >= 4
    # prompts are escaped, never injected
    assert "<b>0</b>" not in html.split('id="dd-data"')[1].split("</script>")[0]


def test_empty_and_unsized_stores(tmp_path):
    empty = Store(tmp_path / "empty.duckdb")
    data = build_report(empty)
    assert "no scored samples" in data.summary[0]
    assert "assay eval" in render_report(data)
    make_store(tmp_path / "plain.duckdb", sizes=False, battles=0, n_docs=20)
    data = build_report(tmp_path / "plain.duckdb")
    assert "set-meta" in data.panel("scaling").note
    assert "No battles" in data.panel("arena").note


def test_cli_report_prints_path_and_json(plain_store_path, tmp_path):
    out = tmp_path / "r.html"
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--store", str(plain_store_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(out.resolve())
    assert out.read_text().startswith("<!doctype html>")
    result = runner.invoke(
        app, ["report", "--store", str(plain_store_path), "-o", str(out), "--json"]
    )
    data = json.loads(result.output)
    assert data["path"] == str(out.resolve()) and data["counts"]["models"] == 5
    missing = runner.invoke(app, ["report", "--store", str(tmp_path / "nope.duckdb")])
    assert missing.exit_code == 1 and "no store at" in missing.output


def test_variance_panel_with_repeats(tmp_path):
    store = make_store(tmp_path / "rep.duckdb", sizes=False, battles=0, n_docs=30, repeats=3)
    data = build_report(store)
    panel = data.panel("variance")
    assert panel.available, panel.note
    table = panel.results["arith"].table
    assert set(table["model"]) == set(MODELS)
    # leaderboard means average repeats within a document first: equal to the plain mean here
    lb = _table(data.panel("leaderboard"), "leaderboard-arith")
    hand = store.scores(task="arith").groupby("model")["value"].mean()
    for key, row in zip(lb["row_keys"], lb["rows"], strict=True):
        assert row[2]["value"] == pytest.approx(hand[key], abs=1e-12)
        assert row[5]["value"] == 30  # n counts documents, not repeats


def test_single_model_accuracy_is_set_against_chance():
    import numpy as np
    import pandas as pd

    from assay.report._leaderboard import compare_scores, task_sentence
    from assay.stats import chance_levels

    def frame(task, values):
        return pd.DataFrame(
            {"model": "solo", "task": task, "metric": "acc", "run_id": "r",
             "doc_id": [str(i) for i in range(len(values))], "repeat": 0,
             "template_id": None, "cluster_id": None, "difficulty": None,
             "value": values}
        )  # fmt: skip

    good = np.r_[np.ones(30), np.zeros(10)]  # 0.75 with 4 choices: far above 0.25
    coin = np.r_[np.ones(11), np.zeros(29)]  # 0.275: indistinguishable from 0.25
    comp, headline = compare_scores(pd.concat([frame("good", good), frame("coin", coin)]))
    samples = pd.DataFrame(
        {"task": ["good", "good", "coin"], "choice_logprobs": [[0.0] * 4, [0.0] * 4, [0.0] * 4]}
    )
    chance = chance_levels(samples)
    assert chance == {"good": 0.25, "coin": 0.25}
    se = good.std(ddof=1) / np.sqrt(40)
    assert f"{0.5:.3f} above chance (0.250" in task_sentence(
        comp, "good", headline["good"], chance=0.25
    )
    assert "better than guessing" in task_sentence(comp, "good", headline["good"], chance=0.25)
    assert se > 0
    assert "not distinguishable from guessing" in task_sentence(
        comp, "coin", headline["coin"], chance=0.25
    )
    assert "chance" not in task_sentence(comp, "good", headline["good"])
