"""Issue 15's report: findings ranked by surprise, chance levels, what was run, collapsed
empty panels, levels, arena groups rated separately and the CLI's rating options."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import rank, stats
from assay.cli import app
from assay.report import build_report, render_report
from assay.report._panels import arena_panel
from assay.store import Store

from .conftest import make_store


@pytest.fixture(scope="module")
def variant_report(variant_store_path):
    return build_report(variant_store_path, scaling_bootstrap=0, bootstrap=10)


def _table(panel, table_id):
    return next(i for i in panel.items if i.get("id") == table_id)


def test_findings_are_every_result_ranked_by_surprise(variant_report, variant_store_path):
    findings = variant_report.findings
    surprise = [f.surprise for f in findings]
    assert surprise == sorted(surprise, reverse=True)
    kinds = {f.kind for f in findings}
    assert {"pair", "flips", "variance", "bias", "chance"} <= kinds
    # all of them: 2 tasks × (1 pair + 1 flip + 2 models × (variance, bias, chance)), besides
    # the later panels' own (calibration, reliability, ...)
    core = [f for f in findings if f.kind in {"pair", "flips", "variance", "bias", "chance"}]
    assert len(core) == 2 * (1 + 1 + 2 * 3)
    scores = Store(variant_store_path).scores(metric="acc")
    comp = stats.compare(scores)
    pair = comp.pairs[comp.pairs["task"] == "arith_mc"].iloc[0]
    top = findings[0]
    assert top.kind == "pair" and "arith_mc" in top.text
    assert f"{abs(pair['diff']):.3f} higher" in top.text
    assert top.p_value == pytest.approx(pair["p_adjusted"])
    assert top.surprise == pytest.approx(-np.log10(pair["p_adjusted"]))
    assert "95% CI of the difference" in top.text and "a real difference" in top.text


def test_flip_finding_counts_by_hand(variant_report, variant_store_path):
    scores = Store(variant_store_path).scores(task="dates_mc", metric="acc")
    right = scores.groupby(["model", "doc_id"])["value"].mean().unstack("model") > 0.5
    old, new = right["smollm2-135m"], right["smollm2-135m-int8"]
    negative, positive = int((old & ~new).sum()), int((~old & new).sum())
    text = next(
        f.text for f in variant_report.findings if f.kind == "flips" and "dates_mc" in f.text
    )
    assert f"{negative} of 150 answers flipped from right to wrong" in text
    assert f"and {positive} from wrong to right" in text


def test_chance_column_groups_only_when_they_distinguish(variant_report):
    lb = variant_report.panel("leaderboard")
    arith = _table(lb, "leaderboard-arith_mc")  # significant: letters a / b
    dates = _table(lb, "leaderboard-dates_mc")  # not significant: both "a", no column
    assert arith["columns"][-2:] == ["chance", "group"]
    assert [r[-1]["text"] for r in arith["rows"]] == ["a", "b"]
    assert "group" not in dates["columns"] and dates["columns"][-1] == "chance"
    assert all(r[-1]["value"] == pytest.approx(0.25) for r in dates["rows"])  # 1 / 4 choices
    svg = next(i["svg"] for i in variant_report.panel("tasks").items if i["kind"] == "svg")
    assert "chance 0.25" in svg  # the chance line's legend


def test_what_was_run(variant_report):
    about = variant_report.panel("about")
    tasks = _table(about, "about-tasks")
    row = next(r for r in tasks["rows"] if r[0]["text"] == "arith_mc")
    assert row[1]["text"] == "addition/subtraction, 1-5 digit operands"
    assert row[2]["text"] == "150 of 300"  # a --limit shows as fewer documents than the task
    metrics = _table(about, "about-metrics")
    acc = next(r for r in metrics["rows"] if r[0]["text"] == "acc")
    assert acc[3]["text"] == "argmax log-likelihood is the right choice"
    runs = _table(about, "about-runs")
    int8 = next(r for r in runs["rows"] if r[0]["text"] == "smollm2-135m-int8")
    cols = runs["columns"]
    assert int8[cols.index("orderings")]["text"] == "2"
    assert int8[cols.index("n-shot")]["text"] == "0"
    assert int8[cols.index("dtype / quantization")]["text"] == "float32 / int8"
    models = _table(about, "about-models")
    assert [r[1]["text"] for r in models["rows"]] == ["—", "smollm2-135m"]  # parents


def test_empty_panels_collapse_into_one_box(variant_report, tmp_path):
    # what this store lacks: votes, sizes, perturbed runs, fairness probes, judged answers,
    # timings and difficulty levels
    assert {p.key for p in variant_report.empty_panels} == {
        "arena",
        "arena_style",
        "scaling",
        "robustness",
        "fairness",
        "judges",
        "efficiency",
        "breakdown",
    }
    html = render_report(variant_report)
    box = html[html.index('id="more"') :]
    assert "assay serve" in box and "set-meta" in box
    assert html.count('class="note"') == 0  # no panel shows only a placeholder
    assert set(variant_report.drilldown) == {"arith_mc", "dates_mc"}
    # one model: no side by side, no pairs; both listed in the box with their command
    store = Store(tmp_path / "one.duckdb")
    rows = Store(variant_report.store_path).samples(model="smollm2-135m")
    store.write_samples(
        [
            {**r, "metrics": {"acc": 1.0}}
            for r in rows.drop(columns=["created_at"]).to_dict("records")
        ]
    )
    one = build_report(store, scaling_bootstrap=0, bootstrap=0)
    assert one.drilldown == {} and not one.panel("pairs").available
    html = render_report(one)
    assert 'id="drilldown"' not in html and 'id="more-drilldown"' in html
    assert "assay eval -m MODEL" in html[html.index('id="more"') :]


def test_level_follows_alpha(variant_store_path):
    data = build_report(variant_store_path, alpha=0.01, scaling_bootstrap=0, bootstrap=0)
    assert data.level == "99%"
    assert _table(data.panel("leaderboard"), "leaderboard-arith_mc")["columns"][3] == "99% CI"
    pair = next(f for f in data.findings if f.kind == "pair")
    assert "99% CI of the difference" in pair.text and "α = 0.01" in pair.text
    assert "99% CI" in data.summary[0]
    assert "Wilson 99% intervals" in data.panel("flips").intro


def test_one_vote_between_new_models_keeps_the_arena(tmp_path):
    store = make_store(tmp_path / "a.duckdb", sizes=False, n_docs=20, battles=300)
    before = rank.fit_battles(store.battles(), bootstrap=20, seed=0).table
    store.add_battles(
        pd.DataFrame({"model_a": ["new-a"], "model_b": ["new-b"], "winner": ["model_a"]})
    )
    groups = rank.arena_groups(store.battles(), bootstrap=20, seed=0)
    assert [sorted(g.models) for g in groups][1] == ["new-a", "new-b"]
    pd.testing.assert_frame_equal(groups[0].table, before)  # untouched by the new group
    data = build_report(store, scaling_bootstrap=0, bootstrap=20)
    arena = data.panel("arena")
    assert arena.available and len(arena.results["groups"]) == 2
    assert "2 groups of models never compared" in next(
        i["text"] for i in arena.items if i["kind"] == "text"
    )
    main = _table(arena, "arena-ratings")
    assert [r[1]["text"] for r in main["rows"]] == list(before["model"])
    assert _table(arena, "arena-ratings-2")["caption"] == "group 2: 2 models, 1 vote"
    assert any("groups of models never compared" in f.text for f in data.findings)


def test_report_honours_anchor_and_method(plain_store_path, tmp_path):
    data = build_report(
        plain_store_path, scaling_bootstrap=0, bootstrap=10, anchor=("base-1b", 1200.0),
        method="davidson",
    )  # fmt: skip
    ratings = data.panel("arena").results["ratings"]
    assert ratings.method == "davidson"
    assert ratings.rating["base-1b"] == pytest.approx(1200.0)
    assert "base-1b pinned at 1200" in data.panel("arena").intro
    out = tmp_path / "r.html"
    runner = CliRunner()
    args = ["report", "--store", str(plain_store_path), "-o", str(out), "--scaling-bootstrap", "0"]
    result = runner.invoke(app, [*args, "--anchor", "xl-30b=1500", "--level", "0.9", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["level"] == "90%"
    arena = next(p for p in payload["panels"] if p["key"] == "arena")
    top = next(r for r in arena["data"]["ratings"]["ratings"] if r["model"] == "xl-30b")
    assert top["rating"] == pytest.approx(1500.0)
    bad = runner.invoke(app, [*args, "--anchor", "nobody=1000"])  # main() prints it in one line
    assert bad.exit_code == 1 and "has no arena votes" in str(bad.exception)
    assert "\n" not in str(bad.exception) and "xl-30b" in str(bad.exception)


def test_serve_ratings_per_group(tmp_path):
    from fastapi.testclient import TestClient

    from assay.serve import create_app

    store = make_store(tmp_path / "s.duckdb", sizes=False, n_docs=10, battles=200)
    store.add_battles(pd.DataFrame({"model_a": ["new-a"], "model_b": ["new-b"], "winner": ["tie"]}))
    client = TestClient(create_app(tmp_path / "s.duckdb"), base_url="http://127.0.0.1")
    data = client.get("/api/ratings").json()
    assert len(data["groups"]) == 2 and data["groups"][1]["models"] == ["new-a", "new-b"]
    assert {r["model"] for r in data["ratings"]} == {
        "tiny-10m", "small-100m", "base-1b", "large-10b", "xl-30b"
    }  # fmt: skip
    page = client.get("/").text
    assert re.search(r"The votes form 2 groups", page)


def test_one_vote_arena_says_too_few_votes_not_a_p_value():
    battles = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["model_a"]})
    panel = arena_panel(battles, bootstrap=50)
    (finding,) = panel.findings
    assert "too few votes to rate a, b" in finding.text and finding.p_value is None
    assert any(i["kind"] == "text" and "Too few votes" in i["text"] for i in panel.items)
    assert any(i["kind"] == "svg" for i in panel.items)  # the plot draws unbounded whiskers


def test_a_pair_with_one_shared_document_claims_no_direction():
    """An audit's report said "nully scores  higher than perfect" (blank number, wrong way) and
    "+nan" in the matrix for a task whose models share one document."""
    from assay.report._leaderboard import pairs_panel

    rows = [
        {
            "model": m,
            "task": "one",
            "run_id": f"{m}-one",
            "doc_id": "d0",
            "repeat": 0,
            "metric": "acc",
            "value": v,
        }
        for m, v in (("nully", 0.0), ("perfect", 1.0))
    ]
    comp = stats.compare(pd.DataFrame(rows))
    assert comp.pairs["diff"].isna().all()
    panel = pairs_panel(comp, {"one": "acc"})
    texts = [f.text for f in panel.findings]
    assert texts == [
        "On one (acc), nully and perfect share 1 document: too little data to compare them."
    ]
    cells = [c["text"] for row in _table(panel, "pairs-one")["rows"] for c in row]
    assert "—" in cells and not any("nan" in t for t in cells)


def test_a_p_value_in_a_sentence_never_reads_p_equals_less_than():
    """An audit found "calibration test p = < 0.001" in the report's calibration finding."""
    import inspect

    from assay.report import _helm_panels
    from assay.report._panel import p_text

    assert p_text(0.0001) == "< 0.001" and p_text(0.0123) == "= 0.012"
    assert "p = {fmt_p" not in inspect.getsource(_helm_panels)


def test_variance_finding_follows_the_f_test_not_the_ratio():
    # an outside audit: under a true null the ratio sits far below 1 whenever questions differ
    # in difficulty, and the finding called that "less than the noise"; the F test decides
    from assay.report._findings import variance_findings

    rng = np.random.default_rng(0)
    n = 300
    difficulty = rng.uniform(0, 1, n)
    x = (rng.random((n, 3)) < difficulty[:, None]).astype(float)  # templates do not matter
    rows = [
        {"model": "m", "task": "t", "doc_id": f"d{i}", "template_id": f"k{j}", "run_id": "", "repeat": 0, "metric": "acc",
         "value": x[i, j]}
        for i in range(n)
        for j in range(3)
    ]  # fmt: skip
    table = stats.variance_decomposition(pd.DataFrame(rows)).table
    row = table.iloc[0]
    assert row["ratio"] < 0.6 and row["p_value"] > 0.05  # ratio well below 1 under the null
    null = row["var_noise"] / row["sampling_var"]
    assert row["ratio"] / null == pytest.approx(row["f_statistic"])  # F = var_levels / var_noise
    text = variance_findings(table)[0].text
    assert "less than the noise" not in text
    assert "no more than that noise explains (F-test p" in text
    assert f"≈ {null:.2f}× expected if the levels did not matter" in text
    shifted = x + np.array([0.0, 0.0, 0.3])  # one template adds 0.3 to every question
    rows2 = [dict(r, value=shifted[int(r["doc_id"][1:]), int(r["template_id"][1:])]) for r in rows]
    text2 = variance_findings(stats.variance_decomposition(pd.DataFrame(rows2)).table)[0].text
    assert "more than the question-by-template noise explains (F-test p" in text2
