"""The report read through DuckDB (aggregates, rows only for what a panel shows) equals the
report built from every row loaded into pandas: the same panels, findings, verdict, flipped
questions and side-by-side documents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay.report import build_report
from assay.store import SampleRecord, Store, drill_docs, open_store, score_facts


def _loaded_evidence(monkeypatch):
    """Store.evidence without per-document matrices: every analysis reads the loaded rows."""
    original = Store.evidence

    def loaded(self, **filters):
        return original(self, **filters).loaded()

    monkeypatch.setattr(Store, "evidence", loaded)


def _both(path, monkeypatch, **options):
    sql = build_report(path, **options)
    assert sql.counts["samples"] > 0
    with monkeypatch.context() as m:
        _loaded_evidence(m)
        rows = build_report(path, **options)
    return sql, rows


def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    for d in (da, db):
        d.pop("generated_at")
    assert json.dumps(da, sort_keys=True, default=str) == json.dumps(
        db, sort_keys=True, default=str
    )
    assert json.dumps(a.drilldown, sort_keys=True) == json.dumps(b.drilldown, sort_keys=True)


def _plain_store(path):
    """3 models x 2 tasks, one 0/1 metric, answers text (some long, some missing), no optional
    panel's inputs: the SQL report reads no rows but the drill-down's."""
    rng = np.random.default_rng(5)
    store = open_store(path)
    records = []
    for m, acc in (("alpha", 0.4), ("beta", 0.6), ("gamma", 0.62)):
        for task, docs in (("qa", 80), ("math", 50)):
            store.upsert_run({"run_id": f"{m}|{task}", "model": m, "task": task})
            for d in range(docs):
                right = float(rng.random() < acc)
                answer = None if d % 11 == 0 else ("x" * 1600 if d % 13 == 0 else f"a{d % 3}")
                records.append(
                    SampleRecord(
                        run_id=f"{m}|{task}",
                        model=m,
                        task=task,
                        doc_id=f"{task}-{d:03d}",
                        repeat=0,
                        prediction=answer,
                        prompt=f"question {d}",
                        target="a1",
                        metrics={"acc": right},
                    )
                )
    store.write_samples(records)
    return store


def test_a_plain_store_reads_aggregates_and_the_shown_documents(tmp_path, monkeypatch):
    store = _plain_store(tmp_path / "plain.duckdb")
    facts = score_facts(store)
    assert facts.n_samples == 390 and facts.features == frozenset()
    assert dict(facts.docs_by_task) == {"math": 50, "qa": 80}
    assert facts.models == ("alpha", "beta", "gamma") and facts.metric_names == ("acc",)
    picked = drill_docs(store, {"qa": "acc", "math": "acc"}, 7)
    docs, total, disputed, models = picked["qa"]
    assert total == 80 and len(docs) == 7 and docs == sorted(docs)
    assert models == ["alpha", "beta", "gamma"]
    s = store.samples(task="qa")
    pred = s["prediction"].fillna("").map(lambda t: t[:1500] + " …" if len(t) > 1500 else t)
    g = s.assign(pred=pred).groupby("doc_id")
    split = (g["metric.acc"].nunique() > 1) | (g["pred"].nunique() > 1)
    assert disputed == int(split.sum()) and 7 < disputed < 80
    assert docs == sorted(split[split].index)[:7]
    sql, rows = _both(tmp_path / "plain.duckdb", monkeypatch, max_docs=7, scaling_bootstrap=0)
    _same(sql, rows)
    assert sql.drilldown["qa"]["total_docs"] == 80


def test_first_answers_of_repeated_and_single_answers(tmp_path, monkeypatch):
    """One (model, task) answered twice (a repeat, a second run): its first answers count, the
    other (model, task)s' single answers as they are; as the loaded rows give it."""
    store = _plain_store(tmp_path / "mixed.duckdb")
    store.upsert_run({"run_id": "beta|qa|2", "model": "beta", "task": "qa"})
    records = []
    for d in range(80):
        for run_id, repeat in (("alpha|qa", 1), ("beta|qa|2", 0)):
            model = run_id.split("|")[0]
            records.append(
                SampleRecord(
                    run_id=run_id,
                    model=model,
                    task="qa",
                    doc_id=f"qa-{d:03d}",
                    repeat=repeat,
                    prediction=f"b{d % 2}",
                    metrics={"acc": float(d % 2)},
                )
            )
    store.write_samples(records)
    assert "varied" in score_facts(store).features
    sql, rows = _both(tmp_path / "mixed.duckdb", monkeypatch, max_docs=9, scaling_bootstrap=0)
    _same(sql, rows)
    assert sql.drilldown["qa"]["total_docs"] == 80


def test_the_test_store_with_a_baseline(store_path, monkeypatch):
    options = {"max_docs": 20, "scaling_bootstrap": 2, "bootstrap": 50, "baseline": "base-1b"}
    sql, rows = _both(store_path, monkeypatch, **options)
    _same(sql, rows)
    assert sql.verdict is not None and sql.verdict.flipped  # the flipped questions are listed


@pytest.mark.slow
def test_the_default_jobs_store(variant_store_path, monkeypatch):
    options = {"max_docs": 30, "scaling_bootstrap": 0, "bootstrap": 20}
    sql, rows = _both(variant_store_path, monkeypatch, **options)
    _same(sql, rows)


def test_disputed_documents_as_pandas_counts_them():
    import pandas as pd

    from assay.report._drilldown import _plain, _varies

    values = pd.DataFrame(
        {"a": [1.0, np.nan, 0.0, -0.0, np.nan], "b": [1.0, 2.0, 1.0, 0.0, np.nan]}
    )
    text = pd.DataFrame(
        {"a": ["x", pd.NA, "y", "", pd.NA], "b": ["x", "z", pd.NA, "w", pd.NA]}, dtype="string"
    )
    for frame in (values, text):
        assert list(_varies(frame)) == list(frame.nunique(axis=1) > 1)
    assert _plain(values).tolist() == [
        [1.0, 1.0],
        [None, 2.0],
        [0.0, 1.0],
        [-0.0, 0.0],
        [None, None],
    ]
    assert _plain(text).tolist() == [["x", "x"], [None, "z"], ["y", None], ["", "w"], [None, None]]


def test_the_drill_down_budget():
    from assay.report._build import MAX_DRILL_ANSWERS, _drill_docs

    assert MAX_DRILL_ANSWERS == 250_000
    assert _drill_docs(300, 2, 5) == 300  # small stores: --max-docs as given
    assert _drill_docs(300, 200, 50) == 25  # 200 tasks x 50 models: 250,000 answers
    assert _drill_docs(300, 2000, 50) == 20  # never fewer than 20 documents a task
    assert _drill_docs(10, 2000, 50) == 10


def test_the_fragility_search_is_bounded(store_path, monkeypatch):
    from assay.core import Settings
    from assay.report import _panels
    from assay.store import existing_store

    battles = existing_store(store_path).battles()
    monkeypatch.setattr(_panels, "MAX_FRAGILITY_VOTES", len(battles) - 1)
    panel = _panels.arena_panel(battles, Settings(resamples=10))
    assert "fragility" not in panel.results
    assert any(f"not searched: {len(battles):,} votes" in str(item) for item in panel.items)


def test_the_fold_lists_at_most_max_findings(report_data):
    from dataclasses import replace

    from assay.report import render_report

    assert len(report_data.findings) > report_data.top_findings + 2
    html = render_report(replace(report_data, max_findings=2), max_docs=5)
    fold = html[html.index('id="more-findings"') :]
    fold = fold[: fold.index("</details>")]
    assert "(the first 2 listed; every one is in the report's JSON)" in fold
    assert fold.count("<li") == 2
    full = render_report(report_data, max_docs=5)
    assert "listed; every one" not in full
