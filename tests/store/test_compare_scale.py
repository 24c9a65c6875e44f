"""compare at scale: the vectorised pairs (three float32 products for 0/1 scores) equal
paired_test pair by pair on random matrices (fixed seeds) and on a task of 10⁵ documents;
`compare --json` written by DuckDB's JSON writer gives the values to_jsonable gives, with
means and n equal to a SQL aggregate; a large store opened to read is left to DuckDB's
block checks (a damaged block read is one line), one opened to write is scanned first."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from tests.support.cli_helpers import run_main

from assay.core import to_jsonable
from assay.errors import InputError
from assay.stats import compare, paired_test
from assay.stats._pairs import finish_pairs, task_pairs
from assay.store import RunInfo, SampleRecord, Store, _integrity, make_run_id, open_store


def _pairs(matrix: np.ndarray) -> pd.DataFrame:
    names = [f"m{k}" for k in range(matrix.shape[1])]
    chunk = task_pairs("t", "acc", matrix, None, names, test="auto", alpha=0.05, seed=0)
    return finish_pairs([chunk], 0.05)


def _check_against_paired_test(matrix: np.ndarray, rows: pd.DataFrame) -> None:
    for row in rows.itertuples():
        a, b = matrix[:, int(row.model_a[1:])], matrix[:, int(row.model_b[1:])]
        shared = ~np.isnan(a) & ~np.isnan(b)
        assert row.n == shared.sum()
        if row.n < 2:
            assert row.method == "none" and np.isnan(row.p_value)
            continue
        ref = paired_test(a[shared], b[shared])
        assert row.method == ref.method
        assert row.p_value == ref.pvalue and row.diff == ref.diff
        assert (row.ci_low, row.ci_high) == (ref.ci_low, ref.ci_high)
        assert row.stderr == pytest.approx(ref.stderr, rel=1e-12)
        if ref.method == "mcnemar":
            assert (row.a_only_right, row.b_only_right) == (ref.a_only_right, ref.b_only_right)
            assert row.correlation == pytest.approx(ref.correlation, rel=1e-12, nan_ok=True)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("graded", [False, True], ids=["binary", "graded"])
def test_vectorised_pairs_equal_paired_test(seed, graded):
    rng = np.random.default_rng(seed)
    docs, models = 60 + 7 * seed, 6
    matrix = (rng.random((docs, models)) < rng.uniform(0.2, 0.8, models)).astype(float)
    matrix[rng.random((docs, models)) < 0.15] = np.nan  # models miss some documents
    matrix[:, 5] = np.nan
    matrix[:2, 5] = 1.0  # a model with too few shared documents for a test
    if graded:  # one graded model: its pairs take the paired t, the others stay McNemar
        matrix[:, 2] = np.where(np.isnan(matrix[:, 2]), np.nan, rng.random(docs).round(2))
    rows = _pairs(matrix)
    assert len(rows) == models * (models - 1) // 2
    methods = set(rows["method"])
    assert "mcnemar" in methods and ("t" in methods) == graded
    _check_against_paired_test(matrix, rows)


def test_a_task_of_100_000_documents_stays_exact():
    rng = np.random.default_rng(7)
    docs = 100_000
    matrix = (rng.random((docs, 3)) < [0.60, 0.61, 0.75]).astype(float)
    matrix[rng.random((docs, 3)) < 0.01] = np.nan
    rows = _pairs(matrix)
    _check_against_paired_test(matrix, rows)
    assert rows["n"].min() > 97_000 and rows["a_only_right"].dtype == np.int64


def _sql_store(path, models=8, tasks=6, docs=30):
    """MODELS × TASKS × DOCS 0/1 scores written in SQL (as benchmarks/store_scale.py does)."""
    open_store(path)
    con = duckdb.connect(str(path))
    name = "'model-' || m::VARCHAR"
    task = "'task-' || t::VARCHAR"
    con.execute(f"INSERT INTO models (model) SELECT {name} FROM range({models}) a(m)")
    con.execute(f"""
        INSERT INTO runs (run_id, model, task, source, created_at)
        SELECT {name} || '|' || {task}, {name}, {task}, 'test', now()::TIMESTAMP
        FROM range({models}) a(m), range({tasks}) b(t)""")
    con.execute(f"""
        INSERT INTO samples (run_id, model, task, doc_id, "repeat")
        SELECT r.run_id, r.model, r.task, 'doc-' || d, 0 FROM runs r, range({docs}) c(d)""")
    con.execute(f"""
        INSERT INTO sample_metrics
        SELECT r.run_id, 'doc-' || d, 0, 'acc',
               CASE WHEN (hash(r.run_id, d) % 1000)::DOUBLE / 1000 < 0.3 + 0.05 * (hash(r.model) % 9)
                    THEN 1.0 ELSE 0.0 END
        FROM runs r, range({docs}) c(d)""")
    con.close()
    return open_store(path)


def test_large_compare_json_equals_to_jsonable_and_sql(tmp_path, monkeypatch):
    from assay.cli import _common

    store = _sql_store(tmp_path / "s.duckdb")
    monkeypatch.setattr(_common, "COMPACT_JSON_ROWS", 10)  # the one-line path, its tables by DuckDB
    code, out, err = run_main(["compare", "--store", store.path, "--json"])
    assert code == 0, err
    assert out.count("\n") == 1
    got = json.loads(out)
    ev = store.evidence()
    result = compare(ev)
    assert got["pairs"] == to_jsonable(result.pairs) and len(got["pairs"]) == 6 * 28
    assert got["scores"] == to_jsonable(result.scores)
    assert got["groups"] == to_jsonable(result.groups)
    assert got["family"] == result.family.to_dict()
    con = duckdb.connect(str(store.path), read_only=True)
    sql = con.execute(
        "SELECT r.model, r.task, count(*), avg(m.value) FROM sample_metrics m JOIN runs r "
        "USING (run_id) GROUP BY ALL"
    ).fetchall()
    con.close()
    mine = {(r["model"], r["task"]): (r["n"], r["mean"]) for r in got["scores"]}
    assert mine == {(m, t): (n, mean) for m, t, n, mean in sql}  # exactly


def test_two_runs_of_a_model_on_a_task_are_averaged_per_document(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    rng = np.random.default_rng(4)
    records = []
    for model, shots in (("a", 0), ("a", 5), ("b", 0)):
        run_id = make_run_id(model, "t", num_fewshot=shots, fewshot_seed=0)
        store.upsert_run(RunInfo(run_id=run_id, model=model, task="t", num_fewshot=shots))
        for d in range(30):
            value = float(rng.random() < 0.5)
            records.append(SampleRecord(run_id, model, "t", f"d{d:02d}", 0, {"acc": value}))
    store.write_samples(records)
    ev = store.evidence()
    assert ev.matrices is not None
    fast, slow = compare(ev), compare(ev.scores, metrics=ev.metrics)
    assert fast.scores["mean"].tolist() == slow.scores["mean"].tolist()
    assert fast.pairs["p_value"].tolist() == slow.pairs["p_value"].tolist()
    assert fast.pairs["method"].tolist() == ["t"]  # a's per-document means are not 0/1


def test_records_json_gives_to_jsonable_values():
    from assay.cli._frame_json import compact_json, records_json

    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame(
        {
            "text": [f'm"\\\n\t{k}é☃' for k in range(n)],
            "maybe": np.array(["a", None] * (n // 2), dtype=object),
            "x": rng.normal(size=n) * 10.0 ** rng.integers(-300, 300, n),
            "x32": rng.random(n).astype(np.float32),
            "i": rng.integers(-(2**62), 2**62, n),
            "flag": rng.random(n) < 0.5,
            "count": pd.array([1, None] * (n // 2), dtype="Int64"),
            'we"ird': np.nan,
        }
    )
    frame.loc[:5, "x"] = [np.inf, -np.inf, -0.0, 5e-324, 1e16, np.nan]
    text = records_json(frame)
    assert "\n" not in text and json.loads(text) == to_jsonable(frame)
    assert records_json(frame.iloc[:0]) == "[]"
    assert records_json(pd.DataFrame({"when": pd.to_datetime(["2020-01-01"])})) is None
    assert records_json(pd.DataFrame({"mixed": [1, "a"]})) is None
    assert records_json(pd.DataFrame({"a": [1], "A": [2]})) is None  # DuckDB: case-insensitive
    both = b"".join(compact_json({"rows": frame, "n": 3}, json.dumps)).decode()
    assert b"".join(compact_json({}, json.dumps)) == b"{}"
    assert json.loads(both) == {"rows": to_jsonable(frame), "n": 3}


def _read_block_damaged(path, folder):
    """A copy of the store at ``path`` with one block damaged that reading its scores meets
    (DuckDB reads some blocks, index storage, only to write)."""
    real = path.read_bytes()
    for block in range(1, (len(real) - 3 * 4096) // 262144):
        data = bytearray(real)
        at = 3 * 4096 + block * 262144 + 1000
        data[at : at + 64] = b"\xff" * 64
        copy = folder / f"block{block}.duckdb"
        copy.write_bytes(bytes(data))
        con = duckdb.connect(str(copy), read_only=True)
        try:
            con.execute("SELECT sum(value), count(doc_id) FROM sample_metrics").fetchall()
        except duckdb.Error:
            return copy
        finally:
            con.close()
        copy.unlink()
    raise AssertionError("no block of the scores found")


def test_a_large_store_read_only_is_left_to_duckdb_and_a_write_checks_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_integrity, "_LARGE_BYTES", 0)  # every store counts as large
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = _sql_store(tmp_path / "s.duckdb", docs=400).path
    code, out, err = run_main(["compare", "--store", path, "--json"])
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.duckdb"]  # nothing else written
    damaged = _read_block_damaged(path, tmp_path)
    _integrity._verified.clear()
    monkeypatch.setattr(_integrity, "_first_bad", lambda *a: pytest.fail("scanned"))
    assert _integrity.damaged(damaged, reading=True) is None  # a large file to read: not scanned
    monkeypatch.undo()
    assert "fails its checksum" in _integrity.damaged(damaged)  # to write: scanned
    code, out, err = run_main(["compare", "--store", damaged, "--json"])  # the damage is read
    assert code == 1 and out == "" and err.count("\n") == 1
    assert str(damaged) in err and "damaged" in err
    monkeypatch.setattr(_integrity, "_LARGE_BYTES", 0)
    _integrity._verified.clear()
    writable = Store(damaged)  # opened to write, read only so far: not scanned
    assert writable.runs()["model"].nunique() == 8
    before = damaged.read_bytes()
    with pytest.raises(InputError, match="fails its checksum"):  # a write scans it first
        writable.add_battles([{"model_a": "a", "model_b": "b", "winner": "tie"}])
    assert damaged.read_bytes() == before


def test_tasks_on_different_metrics_and_a_quoted_metric_name(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    rng = np.random.default_rng(9)
    records = []
    for model in ("a", "b", "c"):
        for task, metric in (("t1", "acc"), ("t2", "exact_match"), ("t3", "it's")):
            run_id = make_run_id(model, task, num_fewshot=0, fewshot_seed=0)
            store.upsert_run(RunInfo(run_id=run_id, model=model, task=task))
            for d in range(25):
                value = float(rng.random() < 0.5)
                records.append(SampleRecord(run_id, model, task, f"d{d:02d}", 0, {metric: value}))
    store.write_samples(records)
    ev = store.evidence()
    for kwargs in ({}, {"metric": "it's"}):
        fast, slow = compare(ev, **kwargs), compare(ev.scores, metrics=ev.metrics, **kwargs)
        assert fast.scores.drop(columns="method").equals(slow.scores.drop(columns="method"))
        assert fast.pairs["p_value"].tolist() == slow.pairs["p_value"].tolist()
    assert set(compare(ev).scores["metric"]) == {"acc", "exact_match", "it's"}


def test_runs_and_metrics_read_per_metric_or_all_at_once_agree(tmp_path, monkeypatch):
    from assay.store import _matrices

    store = open_store(tmp_path / "s.duckdb")
    records = []
    for model, task, metrics in (("a", "t1", {"acc": 1.0, "f1": 0.5}), ("b", "t2", {"bleu": 3.0})):
        run_id = make_run_id(model, task, num_fewshot=0, fewshot_seed=0)
        store.upsert_run(RunInfo(run_id=run_id, model=model, task=task))
        records.append(SampleRecord(run_id, model, task, "d0", 0, metrics))
    store.write_samples(records)
    few = _matrices.scan_store(store, task=["t1", "t2"])
    monkeypatch.setattr(_matrices, "_FEW_METRICS", 0)
    assert _matrices.scan_store(store, task=["t1", "t2"]) == few
    assert few.metrics_by_run == {
        make_run_id("a", "t1", num_fewshot=0, fewshot_seed=0): ("acc", "f1"),
        make_run_id("b", "t2", num_fewshot=0, fewshot_seed=0): ("bleu",),
    }


def test_a_compare_opens_the_store_file_once_to_read(tmp_path, monkeypatch):
    from assay.store import _store

    path = _sql_store(tmp_path / "s.duckdb").path
    opened = []
    connect = _store.duckdb.connect

    def counted(*args, **kwargs):
        opened.append(kwargs.get("read_only"))
        return connect(*args, **kwargs)

    monkeypatch.setattr(_store.duckdb, "connect", counted)
    code, out, err = run_main(["compare", "--store", path, "--json"])
    assert code == 0, err
    assert opened == [True, True]  # the schema check, then every read of the command


def test_0_1_scores_with_repeats_or_fractions_read_as_values(tmp_path, monkeypatch):
    from assay.store import _matrices

    store = open_store(tmp_path / "s.duckdb")
    rng = np.random.default_rng(5)
    records = []
    for model in ("a", "b", "c"):
        for task, repeats, graded in (
            ("plain", 1, False),
            ("again", 2, False),
            ("graded", 1, True),
        ):
            run_id = make_run_id(model, task, num_fewshot=0, fewshot_seed=0)
            store.upsert_run(RunInfo(run_id=run_id, model=model, task=task))
            for d in range(40):
                for r in range(repeats):
                    value = round(rng.random(), 2) if graded else float(rng.random() < 0.6)
                    records.append(
                        SampleRecord(run_id, model, task, f"d{d:02d}", r, {"acc": value})
                    )
    store.write_samples(records)
    ev = store.evidence()
    slow = compare(ev.scores, metrics=ev.metrics)
    for tasks in (["plain"], ["again"], ["graded"], None):
        kept = slow.scores if tasks is None else slow.scores[slow.scores["task"].isin(tasks)]
        fast = compare(ev, tasks=tasks)
        assert (
            fast.scores.drop(columns="method")
            .reset_index(drop=True)
            .equals(kept.drop(columns="method").reset_index(drop=True))
        )
    masks = []
    monkeypatch.setattr(_matrices, "_bit_matrix", lambda *a: masks.append(a) or None)
    by_values = compare(ev, tasks=["plain"])
    monkeypatch.undo()
    by_masks = compare(ev, tasks=["plain"])
    assert masks and by_masks.pairs.equals(by_values.pairs)  # the two readings agree
    assert by_masks.scores.equals(by_values.scores)


def test_console_shows_the_largest_differences_of_a_long_pairs_table(tmp_path, monkeypatch):
    from assay.cli import _compare_io

    path = _sql_store(tmp_path / "s.duckdb", models=6, tasks=2, docs=200).path
    monkeypatch.setattr(_compare_io, "CONSOLE_ROWS", 5)
    code, out, err = run_main(["compare", "--store", path])
    assert code == 0, err
    assert "25 more pairs: all of them with --json or --format csv" in out  # 30 pairs
    assert "7 more scores" in out and "7 more groups" in out
    code, csv_out, err = run_main(["compare", "--store", path, "--format", "csv"])
    assert code == 0 and "more pairs" not in csv_out


def test_masks_of_more_than_64_models_equal_the_values(tmp_path, monkeypatch):
    from assay.store import _matrices

    ev = _sql_store(tmp_path / "s.duckdb", models=130, tasks=2, docs=40).evidence()
    read = _matrices._value_matrix
    monkeypatch.setattr(_matrices, "_value_matrix", lambda *a: pytest.fail("read as values"))
    by_masks = compare(ev)  # three 64-bit words per document
    monkeypatch.setattr(_matrices, "_value_matrix", read)
    monkeypatch.setattr(_matrices, "_bit_matrix", lambda *a: None)
    by_values = compare(ev)
    assert len(by_masks.pairs) == 2 * 130 * 129 // 2
    assert by_masks.scores.equals(by_values.scores) and by_masks.pairs.equals(by_values.pairs)
