"""``--store DIR``: a folder of Parquet files written by ``assay export --format parquet`` is a
read-only store. Every table reads back as in the DuckDB file it was exported from, every read
command prints the same numbers, writes are refused in one line and change nothing, and
``store merge`` takes the folder as an input."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend, answer_key

from assay.errors import InputError
from assay.runner import evaluate
from assay.store import (
    ParquetStore,
    SampleRecord,
    export_samples,
    make_run_id,
    merge_stores,
    open_store,
)
from assay.store._parquet import parquet_location
from assay.tasks import load_task

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
TASKS = ("arith_mc", "dates_mc")
TABLES = ("samples", "sample_metrics", "runs", "models", "battles", "scores", "meta")


def _cli(*args) -> tuple[int, str, str]:
    return run_main([str(a) for a in args])


def _ok(*args) -> str:
    code, out, err = _cli(*args)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> tuple[Path, Path]:
    """(a DuckDB store, its Parquet export): three runner models on two tasks in two choice
    orderings, an lm-eval import, model metadata and arena battles."""
    root = tmp_path_factory.mktemp("parquet")
    db = root / "s.duckdb"
    key = answer_key(i for t in TASKS for i in load_task(t).instances(limit=12))
    for name, skill in (("m1", 0.4), ("m2", 0.7), ("m3", 0.9)):
        fake = FakeBackend(name, answers=key, skill=skill)
        evaluate(fake, TASKS, store=db, limit=12, permute_choices=2, progress=False)
    _ok("import", "lm-eval", DATA / "lm-eval", "--store", db)
    _ok("models", "set-meta", DATA / "models.csv", "--store", db)
    _ok("rank", "battles", DATA / "arena.jsonl", "--store", db, "--bootstrap", "0")
    _ok("export", root / "out", "--store", db)
    return db, root / "out"


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


KEYS = ("run_id", "doc_id", "repeat", "metric", "model", "battle_id", "key")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values([c for c in KEYS if c in frame.columns]).reset_index(drop=True)


def _same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert list(a.dtypes) == list(b.dtypes)
    a, b = _sorted(a), _sorted(b)
    for column in a.columns:
        left, right = a[column].tolist(), b[column].tolist()
        same = [
            (x is y) or (x == y) or (pd.isna(x) is True and pd.isna(y) is True)
            if not isinstance(x, np.ndarray | list)
            else list(x) == list(y)
            for x, y in zip(left, right, strict=True)
        ]
        assert all(same), column


def test_a_folder_opens_as_a_read_only_store_with_every_table(stores):
    db, out = stores
    tables = [f".assay/{t}.pq" for t in ("battles", "meta", "models", "null_metrics", "runs")]
    parts = [k for k in _tree(out) if k.startswith("model=")]
    assert len(parts) == 9 and sorted(_tree(out)) == sorted([".assay-export", *tables, *parts])
    file, folder = open_store(db), open_store(out)
    assert isinstance(folder, ParquetStore) and folder.read_only
    for table in TABLES:
        want, got = file.sql(f"SELECT * FROM {table}"), folder.sql(f"SELECT * FROM {table}")
        assert len(want) == len(got) > 0, table
        _same_table(want, got)
    models = folder.models().set_index("model")
    assert models.at["tiny-b", "params"] == 3.5e8 and models.at["tiny-b", "family"] == "tiny"
    assert str(models.at["tiny-b", "release_date"])[:10] == "2026-04-01"
    assert len(folder.battles()) == len(file.battles()) > 0
    # the runner's declared metric definitions come through the runs' settings
    assert file.evidence().to_dict()["metrics"] == folder.evidence().to_dict()["metrics"]


READS = [
    ["compare", "--json"],
    ["compare", "-t", "arith_mc", "--confidence", "0.99", "--json"],
    ["rank", "samples", "--json", "--seed", "1", "--bootstrap", "20"],
    ["rank", "battles", "--json", "--seed", "1", "--bootstrap", "20"],
    ["calibration", "-t", "arith_mc", "--json"],
    ["bias", "--model", "m1", "--task", "arith_mc", "--json"],
    ["variance", "--model", "m2", "--task", "dates_mc", "--json"],
    ["items", "--task", "arith_mc", "--json"],
    ["reliability", "--json"],
    ["flips", "--old", "m1", "--new", "m2", "--json"],
    ["efficiency", "--json"],
    ["breakdown", "--by", "difficulty", "--json"],
    ["store", "info", "--json"],
    ["models", "list", "--json"],
]


@pytest.mark.parametrize("command", READS, ids=lambda c: " ".join(c[:2]))
def test_read_commands_print_the_same_numbers(stores, command):
    db, out = stores
    want = _ok(*command, "--store", db).replace(str(db), "STORE")
    got = _ok(*command, "--store", out).replace(str(out), "STORE")
    assert json.loads(got) == json.loads(want)


def test_compare_means_and_n_equal_sql_on_the_file(stores):
    db, out = stores
    rows = json.loads(_ok("compare", "--json", "--store", out))["scores"]
    con = duckdb.connect(str(db), read_only=True)
    sql = con.execute(
        "SELECT model, task, avg(v), count(*) FROM (SELECT model, task, doc_id, avg(value) AS v "
        "FROM scores WHERE metric = 'acc' GROUP BY ALL) GROUP BY ALL"
    ).fetchall()
    con.close()
    want = {(m, t): (mean, n) for m, t, mean, n in sql}
    got = {(r["model"], r["task"]): (r["mean"], r["n"]) for r in rows if r["metric"] == "acc"}
    assert set(got) == {(m, t) for m in ("m1", "m2", "m3") for t in TASKS}
    for key, (mean, n) in got.items():
        assert n == want[key][1] and mean == pytest.approx(want[key][0], abs=1e-12)


def test_compare_takes_the_export_folder_as_its_path(stores, tmp_path):
    db, out = stores
    want = _ok("compare", "--json", "--store", out)
    assert _ok("compare", out, "--json") == want  # the folder as PATH is read as --store
    assert (
        json.loads(want)["scores"] == json.loads(_ok("compare", "--json", "--store", db))["scores"]
    )
    code, _, err = _cli("compare", out, "--store", db)
    assert code == 1 and "give PATHs or --store, not both" in err


def test_report_forecast_table_and_serve_read_the_same(stores, tmp_path):
    from fastapi.testclient import TestClient

    from assay.forecast import table_from_store
    from assay.serve import create_app

    db, out = stores
    _ok("report", "-o", tmp_path / "a.html", "--store", db, "--seed", "1")
    _ok("report", "-o", tmp_path / "b.html", "--store", out, "--seed", "1")
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")  # when the page was written
    page_a = stamp.sub("", (tmp_path / "a.html").read_text().replace(str(db), "STORE"))
    page_b = stamp.sub("", (tmp_path / "b.html").read_text().replace(str(out), "STORE"))
    assert page_a == page_b
    want = table_from_store(open_store(db), task="quiz_lm", metric="correct")
    got = table_from_store(open_store(out), task="quiz_lm", metric="correct")
    assert want["params"].notna().all()
    pd.testing.assert_frame_equal(got, want)
    a = TestClient(create_app(db, token="t"), base_url="http://127.0.0.1")
    b = TestClient(create_app(out, token="t"), base_url="http://127.0.0.1")
    for url in ("/api/leaderboard", "/api/ratings", "/api/models"):
        assert a.get(url).json() == b.get(url).json(), url
    before = _tree(out)
    vote = {"model_a": "m1", "model_b": "m2", "winner": "tie"}
    refused = b.post("/api/battles", json=vote, headers={"X-Assay-Token": "t"})
    assert refused.status_code == 400 and "read-only store" in refused.json()["detail"]
    assert _tree(out) == before


def test_an_export_of_the_folder_equals_the_export_of_the_file(stores, tmp_path):
    db, out = stores
    _ok("export", tmp_path / "again", "--store", out)
    first, second = _tree(out), _tree(tmp_path / "again")
    assert sorted(first) == sorted(second)
    con = duckdb.connect()
    for rel in first:
        if rel.endswith((".parquet", ".pq")):
            a = con.execute(f"SELECT * FROM read_parquet('{out / rel}')").df()
            b = con.execute(f"SELECT * FROM read_parquet('{tmp_path / 'again' / rel}')").df()
            _same_table(a, b)
    _ok("export", tmp_path / "lm1", "--format", "lm-eval", "--store", db)
    _ok("export", tmp_path / "lm2", "--format", "lm-eval", "--store", out)
    assert _tree(tmp_path / "lm1") == _tree(tmp_path / "lm2")  # byte for byte


def test_writes_are_refused_in_one_line_and_change_nothing(stores, tmp_path):
    db, out = stores
    before = _tree(out)
    mapping = ["--map", "model=system", "--map", "doc_id=item", "--metric", "correct"]
    writes = [
        ["import", "samples", DATA / "rows.csv", *mapping],
        ["import", "lm-eval", DATA / "lm-eval"],
        ["models", "set-meta", DATA / "models.csv"],
        ["rank", "battles", DATA / "arena.jsonl"],
    ]
    for args in writes:
        code, _, err = _cli(*args, "--store", out)
        assert code == 1 and err.count("\n") == 1, (args, err)
        assert str(out) in err and "read-only store" in err and "store merge" in err
    code, _, err = _cli("store", "merge", db, "-o", out)
    assert code == 1 and "is a folder" in err and err.count("\n") == 1
    code, _, err = _cli("store", "query", "CREATE TABLE x (a INT)", "--store", out)
    assert code == 1 and err.count("\n") == 1
    store = open_store(out)
    record = SampleRecord(run_id="r", model="m", task="t", doc_id="0", metrics={"acc": 1.0})
    for write in (
        lambda: store.write_samples([record]),
        lambda: store.add_battles([{"model_a": "a", "model_b": "b", "winner": "tie"}]),
        lambda: store.upsert_models([{"model": "m1", "family": "x"}]),
    ):
        with pytest.raises(InputError, match="read-only store"):
            write()
    key = answer_key(load_task("arith_mc").instances(limit=2))
    with pytest.raises(InputError, match="read-only store"):
        evaluate(FakeBackend("m9", answers=key), ["arith_mc"], store=out, limit=2, progress=False)
    assert _tree(out) == before


def test_store_merge_takes_a_parquet_folder(stores, tmp_path):
    db, out = stores
    merged = tmp_path / "m.duckdb"
    _ok("store", "merge", out, "-o", merged)
    file, back = open_store(db), open_store(merged)
    for table in ("samples", "sample_metrics", "runs", "models", "battles"):
        _same_table(file.sql(f"SELECT * FROM {table}"), back.sql(f"SELECT * FROM {table}"))
    # the file and its export together: one copy of everything, no conflict
    again = merge_stores([db, out], tmp_path / "both.duckdb")
    assert again["total"] == {t: len(file.sql(f"SELECT * FROM {t}")) for t in again["total"]}
    assert merge_stores([out], merged)["added"] == dict.fromkeys(again["total"], 0)


def test_an_older_export_without_its_tables_reads_the_samples(stores, tmp_path):
    db, out = stores
    old = tmp_path / "old"
    shutil.copytree(out, old)
    shutil.rmtree(old / ".assay")  # what assay exported before it wrote the other tables
    store = open_store(old)
    assert store.battles().empty
    runs = store.runs()[["run_id", "model", "task"]].sort_values("run_id")
    want = open_store(db).runs()[["run_id", "model", "task"]].sort_values("run_id")
    assert runs.reset_index(drop=True).equals(want.reset_index(drop=True))
    assert set(store.models()["model"]) == set(open_store(db).models()["model"])
    # no run declares its metrics: the built-in definitions apply, the means and n are equal
    a = json.loads(_ok("compare", "-t", "quiz_lm", "--json", "--store", db))["scores"]
    b = json.loads(_ok("compare", "-t", "quiz_lm", "--json", "--store", old))["scores"]
    assert [(r["model"], r["mean"], r["n"]) for r in a] == [
        (r["model"], r["mean"], r["n"]) for r in b
    ]


def test_null_and_nan_metric_values_round_trip(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    run_id = make_run_id("m", "t", num_fewshot=0, fewshot_seed=0)
    values = [{"acc": 1.0, "f1": None}, {"acc": float("nan"), "f1": 0.5}, {"acc": 0.0}]
    records = [
        SampleRecord(run_id=run_id, model="m", task="t", doc_id=str(i), metrics=m)
        for i, m in enumerate(values)
    ]
    store.write_samples(records)
    metrics = store.sql("SELECT * FROM sample_metrics ORDER BY doc_id, metric")
    assert metrics["value"].isna().sum() == 2  # NULL f1 and NaN acc are both stored
    export_samples(store, tmp_path / "out")
    folder = open_store(tmp_path / "out")
    for table in ("sample_metrics", "scores"):
        query = f"SELECT *, isnan(value) AS nan FROM {table} ORDER BY doc_id, metric"
        _same_table(store.sql(query), folder.sql(query))


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda d: None, "is a folder with no model=<m>/task=<t>/*.parquet files"),
        (lambda d: (d / "x.csv").write_text("a\n1\n"), "neither a store file nor a Parquet store"),
        (
            lambda d: duckdb.execute(f"COPY (SELECT 1 AS a) TO '{_part(d)}' (FORMAT parquet)"),
            "its Parquet files have no column run_id, doc_id, repeat",
        ),
        (lambda d: _part(d).write_bytes(b"PAR1 not really"), "cannot read the Parquet store"),
    ],
    ids=["empty", "no-parquet", "other-columns", "corrupt"],
)
def test_a_bad_folder_is_one_line(tmp_path, setup, words):
    folder = tmp_path / "bad"
    folder.mkdir()
    setup(folder)
    before = _tree(folder)
    with pytest.raises(InputError, match="^" + str(folder).replace("\\", "\\\\")):
        open_store(folder)
    for args in (["compare"], ["store", "info"], ["store", "merge", folder, "-o", tmp_path / "o"]):
        code, _, err = _cli(*args, *([] if "merge" in args else ["--store", folder]))
        assert code == 1 and err.count("\n") == 1 and str(folder) in err, err
        assert words in err, err
    assert _tree(folder) == before and not (tmp_path / "o").exists()


def _part(folder: Path) -> Path:
    part = folder / "model=m" / "task=t"
    part.mkdir(parents=True, exist_ok=True)
    return part / "data_0.parquet"


def test_a_newer_export_is_refused(stores, tmp_path):
    _, out = stores
    newer = tmp_path / "newer"
    shutil.copytree(out, newer)
    duckdb.execute(
        f"COPY (SELECT 'schema_version' AS key, '999' AS value) TO "
        f"'{newer / '.assay' / 'meta.pq'}' (FORMAT parquet)"
    )
    with pytest.raises(InputError, match="schema version 999 is newer than this assay"):
        open_store(newer)


def test_object_store_urls_are_read_by_duckdb_not_pathlib(tmp_path):
    assert parquet_location("s3://bucket/runs") == "s3://bucket/runs"
    assert parquet_location(Path("gs://bucket/runs")) == "gs://bucket/runs"  # Path folds the //
    assert parquet_location(tmp_path / "missing") is None
    assert parquet_location(tmp_path / "s.duckdb") is None
    assert parquet_location(tmp_path) == str(tmp_path.resolve())


def test_assay_store_may_name_the_folder(stores):
    db, out = stores
    code, got, err = run_main(["compare", "--json"], env={"ASSAY_STORE": str(out)})
    assert code == 0, err
    want = _ok("compare", "--json", "--store", db)
    assert json.loads(got)["scores"] == json.loads(want)["scores"]


def test_partitions_with_different_metric_columns_are_read_by_name(tmp_path):
    """Files of two exports (other metrics) copied into one folder: read by column name."""
    for name, metrics in (("a", {"acc": 1.0}), ("b", {"acc": 0.0, "f1": 0.25})):
        store = open_store(tmp_path / f"{name}.duckdb")
        run_id = make_run_id(name, "t", num_fewshot=0, fewshot_seed=0)
        store.write_samples(
            [SampleRecord(run_id=run_id, model=name, task="t", doc_id="0", metrics=metrics)]
        )
        export_samples(store, tmp_path / f"out-{name}")
    mixed = tmp_path / "mixed"
    shutil.copytree(tmp_path / "out-a" / "model=a", mixed / "model=a")
    shutil.copytree(tmp_path / "out-b" / "model=b", mixed / "model=b")
    scores = open_store(mixed).scores()
    assert scores[["model", "metric", "value"]].values.tolist() == [
        ["a", "acc", 1.0],
        ["b", "acc", 0.0],
        ["b", "f1", 0.25],
    ]
