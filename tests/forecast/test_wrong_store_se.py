"""Forecast tables from the store: a model's SE is over documents (repeats and choice
orderings of a document are one piece of evidence), cluster-robust when clusters are stored."""

from __future__ import annotations

import numpy as np
import pytest
from fake_backend import FakeBackend, answer_key

from assay.forecast import table_from_store
from assay.runner import evaluate
from assay.stats import clustered_se
from assay.store import SampleRecord, make_run_id, open_store
from assay.tasks import load_task


def test_orderings_of_a_builtin_task_are_not_independent_evidence(tmp_path):
    task = load_task("arith_mc")
    fake = FakeBackend(answers=answer_key(task.instances(permute_choices=2)), skill=0.5)
    path = tmp_path / "s.duckdb"
    evaluate(fake, task, store=path, limit=40, permute_choices=2, progress=False)
    store = open_store(path)
    scores = store.scores(task="arith_mc", metric="acc")
    assert len(scores) == 80  # 40 documents x 2 orderings
    per_doc = scores.groupby("doc_id")["value"].mean()
    row = table_from_store(store, task="arith_mc", metric="acc").iloc[0]
    assert (row["n"], row["n_samples"]) == (40, 80)
    assert row["score"] == pytest.approx(per_doc.mean())
    assert row["score_se"] == pytest.approx(per_doc.std(ddof=1) / np.sqrt(40))
    naive = scores["value"].std(ddof=1) / np.sqrt(80)  # what the table used to report
    assert row["score_se"] > 1.2 * naive


def test_repeated_samples_do_not_shrink_the_se_and_clusters_widen_it(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    store.upsert_models([{"model": "m", "params": 1e8}])
    values = [1, 1, 0, 0, 1, 0, 1, 1]
    recs = [
        SampleRecord(
            run_id=make_run_id("m", "t"),
            model="m",
            task="t",
            doc_id=f"d{j}",
            repeat=r,
            metrics={"acc": float(values[j])},
            cluster_id=f"c{j // 2}",
        )
        for j in range(8)
        for r in range(3)  # three identical repeats per document
    ]
    store.write_samples(recs)
    row = table_from_store(store, task="t", metric="acc").iloc[0]
    assert (row["n"], row["n_samples"]) == (8, 24)
    x = np.array(values, dtype=float)
    assert row["score_se"] == pytest.approx(clustered_se(x, [j // 2 for j in range(8)]))
    assert row["score_se"] > x.std(ddof=1) / np.sqrt(24)
