"""`assay export --format parquet` writes Hive-partitioned Parquet (model=/task=/ folders) that
DuckDB and Polars read back row for row, with and without hive partitioning."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from assay.store import SampleRecord, export_samples, make_run_id, open_store

MODELS = ("m-small", "org model v2")  # a space survives the folder names
TASKS = ("arith", "qa")


def _store(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    rng = np.random.default_rng(3)
    records = []
    for model in MODELS:
        for task in TASKS:
            run_id = make_run_id(model, task, num_fewshot=0, fewshot_seed=0)
            records += [
                SampleRecord(
                    run_id=run_id,
                    model=model,
                    task=task,
                    doc_id=f"d{i:03d}",
                    repeat=0,
                    metrics={"acc": float(rng.integers(0, 2)), "brier": float(rng.random())},
                    prediction=str(rng.integers(0, 4)),
                    choice_logprobs=(-rng.gamma(2, 2, 3)).tolist(),
                    input_tokens=int(rng.integers(5, 50)),
                )
                for i in range(25)
            ]
    store.write_samples(records)
    return store


KEYS = ["model", "task", "doc_id", "repeat"]
COMPARED = [*KEYS, "run_id", "prediction", "input_tokens", "metric.acc", "metric.brier"]


def _expected(store) -> pd.DataFrame:
    df = store.samples()
    return df[COMPARED].sort_values(KEYS).reset_index(drop=True)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got[COMPARED].sort_values(KEYS).reset_index(drop=True)
    got["repeat"] = got["repeat"].astype("int64")
    got["input_tokens"] = got["input_tokens"].astype("int64")
    want = want.astype({"repeat": "int64", "input_tokens": "int64"})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_export_is_hive_partitioned(tmp_path):
    store = _store(tmp_path)
    assert export_samples(store, tmp_path / "out") == 100
    folders = sorted(p.relative_to(tmp_path / "out").parent.as_posix()
                     for p in (tmp_path / "out").rglob("*.parquet"))  # fmt: skip
    assert len(folders) == 4
    assert all(f.startswith("model=") and "/task=" in f for f in folders)


def test_duckdb_reads_the_export_row_for_row(tmp_path):
    store = _store(tmp_path)
    export_samples(store, tmp_path / "out")
    glob = str(tmp_path / "out" / "**" / "*.parquet")
    con = duckdb.connect()
    flat = con.execute(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = false)").df()
    _same(flat, _expected(store))
    hive = con.execute(
        f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
    ).df()
    _same(hive, _expected(store))
    logprobs = flat.sort_values(KEYS)["choice_logprobs"].map(list).tolist()
    want = store.samples().sort_values(KEYS)["choice_logprobs"].map(list).tolist()
    assert logprobs == want  # list columns survive


def test_polars_reads_the_export_row_for_row(tmp_path):
    pl = pytest.importorskip("polars")
    store = _store(tmp_path)
    export_samples(store, tmp_path / "out")
    glob = str(tmp_path / "out" / "**" / "*.parquet")
    flat = pl.read_parquet(glob, hive_partitioning=False).to_pandas()
    _same(flat, _expected(store))
    lazy = pl.scan_parquet(glob, hive_partitioning=True)  # partition pruning, as Spark does
    only = lazy.filter(pl.col("task") == "qa").collect().to_pandas()
    want = _expected(store)
    _same(only, want[want["task"] == "qa"].reset_index(drop=True))
