"""The store: round trips, idempotency, transactions, concurrent readers, migrations."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.store import (
    SCHEMA_VERSION,
    SampleRecord,
    export_samples,
    import_samples,
    make_run_id,
    open_store,
)


def _records(model: str, task: str, n: int, seed: int = 0) -> list[SampleRecord]:
    rng = np.random.default_rng(seed)
    run_id = make_run_id(model, task, num_fewshot=0, fewshot_seed=seed)
    return [
        SampleRecord(
            run_id=run_id,
            model=model,
            task=task,
            doc_id=f"d{i:04d}",
            repeat=int(i % 2),
            metrics={"acc": float(rng.integers(0, 2)), "p_correct": float(rng.random())},
            prompt=f"Q{i}: what?",
            target=str(i % 4),
            prediction=str(rng.integers(0, 4)),
            choice_logprobs=(-rng.gamma(2, 2, 4)).tolist(),
            choice_order=rng.permutation(4).tolist(),
            chosen_position=int(rng.integers(0, 4)),
            input_tokens=int(rng.integers(5, 50)),
            output_tokens=1,
            latency_s=float(rng.random()),
            cluster_id=f"c{i // 5}",
            difficulty=float(i % 3),
            extra={"note": "x"} if i % 7 == 0 else None,
        )
        for i in range(n)
    ]


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["run_id", "doc_id", "repeat"]).reset_index(drop=True)


def test_write_read_round_trip(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    recs = _records("m1", "t1", 20)
    assert store.write_samples(recs) == 20
    df = _sorted(store.samples())
    assert len(df) == 20
    first = df.iloc[0]
    assert first["doc_id"] == "d0000"
    assert list(first["choice_logprobs"]) == pytest.approx(recs[0].choice_logprobs)
    assert list(first["choice_order"]) == recs[0].choice_order
    assert first["metric.acc"] == recs[0].metrics["acc"]
    assert first["metric.p_correct"] == recs[0].metrics["p_correct"]
    scores = store.scores(metric="acc")
    assert len(scores) == 20
    assert scores["value"].sum() == sum(r.metrics["acc"] for r in recs)


def test_writing_twice_never_duplicates(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    recs = _records("m1", "t1", 10)
    store.write_samples(recs)
    store.write_samples(recs)
    store.write_samples(recs + recs)  # duplicates inside one call too
    counts = store.info()["counts"]
    assert counts["samples"] == 10
    assert counts["sample_metrics"] == 20
    # a replaced record with fewer metrics leaves no stale metric rows
    recs[0].metrics = {"acc": 1.0}
    store.write_samples(recs[:1])
    assert store.info()["counts"]["sample_metrics"] == 19


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_export_import_round_trip(tmp_path, fmt):
    store = open_store(tmp_path / "a.duckdb")
    store.write_samples(_records("org/model-a", "t1", 15) + _records("model b", "t=2", 12, seed=1))
    out = tmp_path / "export"
    assert export_samples(store, out, fmt=fmt) == 27
    ext = {"parquet": ".parquet", "jsonl": ".json", "csv": ".csv"}[fmt]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob(f"*{ext}"))
    assert files[0].startswith("model=")  # Hive partitions model=/task=
    assert len(files) == 2
    if fmt == "jsonl":  # DuckDB writes newline-delimited JSON with a .json suffix
        assert all(len(line) > 2 for line in next(out.rglob("*.json")).read_text().splitlines())
    back = open_store(tmp_path / "b.duckdb")
    summary = import_samples(back, out)
    assert summary["samples"] == 27
    a, b = _sorted(store.samples()), _sorted(back.samples())
    pd.testing.assert_frame_equal(
        a.drop(columns=["choice_logprobs", "choice_order", "created_at"]),
        b.drop(columns=["choice_logprobs", "choice_order", "created_at"]),
        check_dtype=False,
    )
    for col in ("choice_logprobs", "choice_order"):
        assert [list(x) for x in a[col]] == [list(x) for x in b[col]]
    assert (a["created_at"] == b["created_at"]).all()
    # importing again changes nothing
    import_samples(back, out)
    assert back.info()["counts"]["samples"] == 27


def test_polars_reads_the_partitioned_export(tmp_path):
    pl = pytest.importorskip("polars")
    store = open_store(tmp_path / "a.duckdb")
    store.write_samples(_records("m1", "t1", 8))
    export_samples(store, tmp_path / "x")
    frame = pl.read_parquet(str(tmp_path / "x" / "**" / "*.parquet"), hive_partitioning=False)
    assert frame.height == 8
    assert "metric.acc" in frame.columns


def test_reader_sees_a_consistent_store_while_a_writer_writes(tmp_path):
    path = tmp_path / "s.duckdb"
    open_store(path)
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_store import _records\n"
        "from assay.store import open_store\n"
        f"s = open_store({str(path)!r})\n"
        "recs = _records('m', 't', 400)\n"
        "for i in range(0, 400, 20):\n"
        "    s.write_samples(recs[i:i + 20])\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script])
    seen = []
    reader = open_store(path)
    while writer.poll() is None:
        seen.append(reader.info()["counts"]["samples"])
        time.sleep(0.01)
    assert writer.returncode == 0
    seen.append(reader.info()["counts"]["samples"])
    assert seen[-1] == 400
    assert all(n % 20 == 0 for n in seen)  # never a half-written batch
    assert seen == sorted(seen)


#: ``python -c`` of an ``assay`` child whose store transactions pause before COMMIT: it touches
#: ``MARK`` and waits to be killed ("hang"), or starts a thread that SIGKILLs the process as soon
#: as the store's write-ahead log appears, then commits ("commit": killed while committing, or
#: just after). No timing: the child itself says where it is.
_PAUSED = """
import os, runpy, signal, sys, threading, time
from contextlib import contextmanager
from pathlib import Path
from assay.store._store import Store
mode, mark, *args = sys.argv[1:]
plain = Store.transaction.__wrapped__

@contextmanager
def paused(self):
    gen = plain(self)
    con = next(gen)
    yield con
    if mode == "hang":
        Path(mark).touch()
        while True:
            time.sleep(1)
    wal = Path(str(self.path) + ".wal")
    def kill_on_wal():
        while not wal.exists():
            time.sleep(0.0005)
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=kill_on_wal, daemon=True).start()
    next(gen, None)

Store.transaction = paused
sys.argv = ["assay", *args]
runpy.run_module("assay", run_name="__main__")
"""


def test_kill_during_large_import_leaves_previous_state(tmp_path):
    path = tmp_path / "s.duckdb"
    store = open_store(path)
    store.write_samples(_records("old", "t", 50))
    before = _sorted(store.samples())
    n = 20_000
    rng = np.random.default_rng(0)
    big = pd.DataFrame(
        {
            "model": "big",
            "task": "t",
            "doc_id": np.arange(n).astype(str),
            "metric.acc": rng.integers(0, 2, n).astype(float),
            "metric.f1": rng.random(n),
        }
    )
    big_file = tmp_path / "big.parquet"
    big.to_parquet(big_file)
    args = ["import", "samples", str(big_file), "--store", str(path)]
    mark = tmp_path / "paused"
    # every row written inside the transaction, COMMIT not yet issued: killed there
    child = subprocess.Popen(
        [sys.executable, "-c", _PAUSED, "hang", str(mark), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600  # generous: only a broken child reaches it
    while not mark.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mark.exists(), "the import never reached its COMMIT"
    child.kill()
    child.wait()
    after = open_store(path)
    pd.testing.assert_frame_equal(before, _sorted(after.samples()))
    assert after.info()["counts"]["samples"] == 50
    # killed while committing (or just after): all of the import or none of it, never a part
    child = subprocess.run(
        [sys.executable, "-c", _PAUSED, "commit", str(mark), *args], capture_output=True
    )
    assert child.returncode in (0, -9), child.stderr[-400:]
    samples = open_store(path).info()["counts"]["samples"]
    assert samples in (50, 50 + n), samples


def test_schema_version_and_migration_guard(tmp_path):
    path = tmp_path / "s.duckdb"
    open_store(path)
    con = duckdb.connect(str(path))
    assert con.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
    con.execute("UPDATE meta SET value = '999'")
    con.close()
    with pytest.raises(InputError, match="newer than this assay"):
        open_store(path)


def test_battles_are_idempotent_and_keep_identical_votes(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    votes = [{"model_a": "x", "model_b": "y", "winner": "model_a", "judge": None}] * 3 + [
        {"model_a": "x", "model_b": "y", "winner": "tie (bothbad)"}
    ]
    store.add_battles(votes)
    store.add_battles(votes)
    battles = store.battles()
    assert len(battles) == 4
    assert sorted(battles["winner"]) == ["model_a"] * 3 + ["tie_bothbad"]
