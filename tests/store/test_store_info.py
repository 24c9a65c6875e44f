"""``Store.info``: per-(model, task) runs, samples and the metrics of those runs, known answers."""

import duckdb

from assay.store import open_store


def test_info_counts_runs_samples_and_metrics_per_model_and_task(tmp_path):
    path = tmp_path / "s.duckdb"
    open_store(path)  # the schema
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO models (model) VALUES ('a'), ('b')")
    runs = [("r1", "a", "t"), ("r2", "a", "t"), ("r3", "a", "u"), ("r4", "b", "t")]
    con.executemany(
        "INSERT INTO runs (run_id, model, task, source, created_at) VALUES (?, ?, ?, 'x', now())",
        runs,
    )
    docs = {"r1": 3, "r2": 2, "r3": 4, "r4": 1}
    for run, model, task in runs:
        con.execute(
            'INSERT INTO samples (run_id, model, task, doc_id, "repeat") '
            "SELECT ?, ?, ?, 'd' || i, 0 FROM range(?) r(i)",
            [run, model, task, docs[run]],
        )
    # r1 scores acc, r2 f1 and acc: pair (a, t) has both; r3 has none; r4 only em
    for run, metric in [("r1", "acc"), ("r2", "f1"), ("r2", "acc"), ("r4", "em")]:
        con.execute(
            "INSERT INTO sample_metrics SELECT ?, 'd' || i, 0, ?, 1.0 FROM range(?) r(i)",
            [run, metric, docs[run]],
        )
    con.close()
    info = open_store(path).info()
    assert info["counts"]["samples"] == 10 and info["counts"]["runs"] == 4
    assert info["tasks"] == [
        {"model": "a", "task": "t", "runs": 2, "samples": 5, "metrics": "acc,f1"},
        {"model": "a", "task": "u", "runs": 1, "samples": 4, "metrics": None},
        {"model": "b", "task": "t", "runs": 1, "samples": 1, "metrics": "em"},
    ]
