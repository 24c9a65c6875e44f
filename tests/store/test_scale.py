"""metric_summary: the SQL per-(model, task, metric) summary equals the same numbers computed
in pandas from Store.scores(), on each of its three query paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.store import RunInfo, SampleRecord, make_run_id, metric_summary, open_store


def _records(model, task, n, *, repeats=1, seed=0, run_seed=0):
    rng = np.random.default_rng(seed)
    run_id = make_run_id(model, task, num_fewshot=0, fewshot_seed=run_seed)
    out = []
    for i in range(n):
        for r in range(repeats):
            metrics = {"acc": float(rng.integers(0, 2)), "brier": float(rng.random())}
            if i == 3:
                metrics["brier"] = None  # NULLs are left out
            out.append(SampleRecord(run_id=run_id, model=model, task=task, doc_id=f"d{i}",
                                    repeat=r, metrics=metrics))  # fmt: skip
    return out


def _with_runs(store, records):
    for run_id, model, task in {(r.run_id, r.model, r.task) for r in records}:
        store.upsert_run(RunInfo(run_id=run_id, model=model, task=task))
    store.write_samples(records)


def _pandas_summary(store) -> pd.DataFrame:
    df = store.scores().dropna(subset=["value"])
    per_doc = df.groupby(["model", "task", "metric", "doc_id"])["value"].mean().reset_index()
    out = per_doc.groupby(["model", "task", "metric"])["value"].agg(["count", "mean", "std"])
    out = out.reset_index().rename(columns={"count": "n", "std": "sd"})
    out["stderr"] = out["sd"] / np.sqrt(out["n"])
    return out


def _check(store) -> pd.DataFrame:
    got = metric_summary(store)
    want = _pandas_summary(store)
    merged = want.merge(got, on=["model", "task", "metric"], suffixes=("_pd", "_sql"))
    assert len(merged) == len(want) == len(got)
    assert (merged["n_pd"] == merged["n_sql"]).all()
    for col in ("mean", "sd", "stderr"):
        np.testing.assert_allclose(merged[f"{col}_sql"], merged[f"{col}_pd"], rtol=1e-12)
    return got


def test_single_run_single_repeat_fast_path(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    _with_runs(store, _records("a", "t1", 30, seed=1) + _records("b", "t1", 30, seed=2))
    _with_runs(store, _records("a", "t2", 12, seed=3))
    got = _check(store)
    assert got[(got["task"] == "t1") & (got["metric"] == "brier")]["n"].tolist() == [29, 29]
    t1_acc = got[(got["task"] == "t1") & (got["metric"] == "acc")]
    assert t1_acc["mean"].is_monotonic_decreasing  # best first
    only = metric_summary(store, task="t2", metric=["acc"])
    assert only[["model", "task", "metric", "n"]].values.tolist() == [["a", "t2", "acc", 12]]


def test_repeats_and_two_runs_are_averaged_per_document(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    _with_runs(store, _records("a", "t", 20, repeats=3, seed=4))
    _with_runs(store, _records("b", "t", 20, seed=5) + _records("b", "t", 20, seed=6, run_seed=1))
    got = _check(store)
    assert set(got["n"]) == {20, 19}  # documents, not samples


def test_samples_without_run_rows_use_the_sample_join(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    store.write_samples(_records("a", "t", 15, seed=7) + _records("b", "t", 15, seed=8))
    got = _check(store)
    assert len(got) == 4


def test_empty_store(tmp_path):
    got = metric_summary(open_store(tmp_path / "s.duckdb"))
    assert got.empty and list(got.columns) == [
        "model",
        "task",
        "metric",
        "n",
        "mean",
        "sd",
        "stderr",
    ]
    with pytest.raises(TypeError):
        metric_summary(open_store(tmp_path / "s.duckdb"), "t")  # keyword-only filters
