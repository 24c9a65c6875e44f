"""The store is safe with any input: exports never delete what they did not write, imports
never modify rows they did not create, and a bad store file or a bad row is one line naming the
file (and the row and field) with every file left byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main
from lm_eval_files import write_lm_eval_output

from assay.errors import InputError
from assay.store import (
    RunInfo,
    SampleRecord,
    Store,
    export_samples,
    import_lm_eval,
    import_samples,
    open_store,
)
from assay.store import _store as store_module
from assay.store._export import MARKER, SIDE_TABLES


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> hash)."""
    return {p.relative_to(folder).as_posix(): _sha(p) for p in folder.rglob("*") if p.is_file()}


def _fill(store: Store, models=("alpha", "beta"), tasks=("t1", "t2"), n: int = 6) -> None:
    """An eval-like store: one run per (model, task), with source "assay"."""
    rng = np.random.default_rng(0)
    records = []
    for model in models:
        for task in tasks:
            run_id = f"{model}-{task}"
            store.upsert_run(RunInfo(run_id=run_id, model=model, task=task, source="assay"))
            records += [
                SampleRecord(
                    run_id=run_id,
                    model=model,
                    task=task,
                    doc_id=f"d{i}",
                    metrics={"acc": float(rng.integers(0, 2))},
                    prediction="A",
                    choice_logprobs=[-0.5, -1.5],
                )
                for i in range(n)
            ]
    store.write_samples(records)


@pytest.fixture
def store(tmp_path) -> Store:
    s = open_store(tmp_path / "project" / "assay.duckdb")
    _fill(s)
    return s


def _cli(*args: str) -> tuple[int, str]:
    code, _, err = run_main([str(a) for a in args])
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    if code:
        assert len(lines) == 1, err
        assert "trace written" not in err, err
    return code, err


# -- export ---------------------------------------------------------------------------------


def test_export_refuses_a_folder_holding_other_files_and_changes_nothing(store):
    project = store.path.parent
    (project / "notes.txt").write_text("precious\n")
    (project / "sub").mkdir()
    (project / "sub" / "data.csv").write_text("a,b\n1,2\n")
    before = _tree(project)
    with pytest.raises(InputError, match="not empty; pass --overwrite"):
        export_samples(store, project)
    code, err = _cli("export", project, "--store", store.path)
    assert code == 1
    assert str(project) in err and "--overwrite" in err
    assert _tree(project) == before  # the store file included


def test_export_overwrite_keeps_every_other_file_byte_for_byte(store, tmp_path):
    project = store.path.parent
    (project / "notes.txt").write_text("precious\n")
    (project / "model=mine").mkdir()  # looks like a partition, but is the user's
    (project / "model=mine" / "keep.parquet").write_bytes(b"user data")
    others = _tree(project)
    code, err = _cli("export", project, "--overwrite", "--store", store.path)
    assert code == 0, err
    after = _tree(project)
    assert {k: after[k] for k in others} == others
    written = sorted(k for k in after if k not in others)
    assert MARKER in written
    tables = [k for k in written if k.startswith(".assay/")]  # the store's other tables
    assert tables == [f".assay/{t}.pq" for t in sorted(SIDE_TABLES)]
    parts = [k for k in written if k not in (MARKER, *tables)]
    assert len(parts) == 4 and all(k.startswith("model=") and "/task=" in k for k in parts)
    assert json.loads((project / MARKER).read_text())["files"] == tables + parts
    back = open_store(tmp_path / "back.duckdb")
    for part in parts:
        import_samples(back, project / part)
    assert back.info()["counts"]["samples"] == 24


def test_export_twice_with_overwrite_round_trips_and_drops_its_stale_partitions(store, tmp_path):
    out = tmp_path / "out"
    assert export_samples(store, out) == 24
    (out / "README").write_text("mine\n")
    first = _tree(out)
    assert export_samples(store, out, overwrite=True) == 24
    assert set(_tree(out)) == set(first)
    assert _tree(out)["README"] == first["README"]
    back = open_store(tmp_path / "back.duckdb")
    assert import_samples(back, out)["samples"] == 24
    a = store.samples().sort_values(["run_id", "doc_id"]).reset_index(drop=True)
    b = back.samples().sort_values(["run_id", "doc_id"]).reset_index(drop=True)
    assert a["metric.acc"].tolist() == b["metric.acc"].tolist()
    # a smaller store exported over it, as CSV: its old parquet partitions go, README stays
    small = open_store(tmp_path / "small.duckdb")
    _fill(small, models=("alpha",), tasks=("t1",))
    assert export_samples(small, out, fmt="csv", overwrite=True) == 6
    left = _tree(out)
    assert sorted(left) == sorted(["README", MARKER, "model=alpha/task=t1/data_0.csv"])
    assert not (out / "model=beta").exists()


def test_export_overwrite_never_replaces_a_file_it_did_not_write(store, tmp_path):
    out = tmp_path / "out"
    export_samples(store, out)
    marker = json.loads((out / MARKER).read_text())
    (out / MARKER).unlink()  # as if the folder came from elsewhere
    victim = out / marker["files"][0]
    victim.write_bytes(b"not assay's")
    before = _tree(out)
    with pytest.raises(InputError, match="was not written by an assay export"):
        export_samples(store, out, overwrite=True)
    assert _tree(out) == before


def test_a_tampered_marker_cannot_make_export_delete_other_files(store, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    outside = tmp_path / "outside.parquet"
    outside.write_text("outside")
    listed = ["keep.txt", "../outside.parquet", "model=x/../../outside.parquet", "/etc/passwd"]
    (out / MARKER).write_text(json.dumps({"files": listed}))
    export_samples(store, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "keep"
    assert outside.read_text() == "outside"


def test_export_path_that_is_a_file_or_under_a_file(store, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("I am a file\n")
    for target, expected in [(a_file, "is a file, not a folder"), (a_file / "sub", "is a file")]:
        with pytest.raises(InputError, match=expected):
            export_samples(store, target, overwrite=True)
        code, err = _cli("export", target, "--store", store.path)
        assert code == 1 and str(target) in err
    assert a_file.read_text() == "I am a file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "project"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_export_into_an_unwritable_folder(store, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InputError, match="not writable"):
            export_samples(store, locked / "out")
    finally:
        locked.chmod(0o700)


def test_unknown_format_creates_nothing(store, tmp_path):
    code, err = _cli("export", tmp_path / "new", "--format", "xml", "--store", store.path)
    assert code == 1 and "xml" in err
    assert not (tmp_path / "new").exists()


# -- import samples with run ids --------------------------------------------------------------


def _csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_import_never_overwrites_an_eval_run(store, tmp_path):
    path = _csv(
        tmp_path / "clash.csv",
        [{"run_id": "alpha-t1", "model": "alpha", "task": "t1", "doc_id": "d0", "metric.acc": 9}],
    )
    sha = _sha(store.path)
    with pytest.raises(InputError) as err:
        import_samples(store, path)
    message = str(err.value)
    assert f"{path}: line 2, field 'run_id'" in message
    assert "'alpha-t1' already exists" in message and "'assay'" in message
    assert _sha(store.path) == sha
    code, cli_err = _cli("import", "samples", path, "--store", store.path)
    assert code == 1 and "already exists" in cli_err
    assert _sha(store.path) == sha
    renamed = _csv(
        tmp_path / "renamed.csv",
        [{"run_id": "alpha-t1", "model": "zeta", "task": "t9", "doc_id": "d0", "metric.acc": 1}],
    )
    with pytest.raises(InputError, match="already exists"):
        import_samples(store, renamed)
    assert _sha(store.path) == sha


def test_reimporting_a_file_with_run_ids_is_idempotent(store, tmp_path):
    rows = [
        {"run_id": "ext-1", "model": "gamma", "task": "t1", "doc_id": f"d{i}", "metric.acc": i % 2}
        for i in range(5)
    ]
    path = _csv(tmp_path / "ext.csv", rows)
    import_samples(store, path)
    counts = store.info()["counts"]
    import_samples(store, path)
    assert store.info()["counts"] == counts
    # the same run id from another source is not this import's to change
    with pytest.raises(InputError, match="created by 'import'"):
        import_samples(store, path, source="other")


def test_one_run_id_for_two_models_is_an_error(store, tmp_path):
    path = _csv(
        tmp_path / "split.csv",
        [
            {"run_id": "r", "model": "a", "task": "t", "doc_id": "d0", "metric.acc": 1},
            {"run_id": "r", "model": "b", "task": "t", "doc_id": "d1", "metric.acc": 1},
        ],
    )
    sha = _sha(store.path)
    with pytest.raises(InputError, match=r"line 3, field 'run_id': run 'r' is used for more"):
        import_samples(store, path)
    assert _sha(store.path) == sha


def test_lm_eval_import_refuses_to_take_over_a_run_of_another_source(tmp_path):
    write_lm_eval_output(tmp_path / "out", n_docs=4)
    store = open_store(tmp_path / "s.duckdb")
    import_lm_eval(store, tmp_path / "out")
    run = store.runs().iloc[0]
    store.sql("UPDATE runs SET source = 'assay' WHERE run_id = ?", [run["run_id"]])
    sha = _sha(store.path)
    with pytest.raises(InputError, match="already exists"):
        import_lm_eval(store, tmp_path / "out")
    assert _sha(store.path) == sha


# -- store files ----------------------------------------------------------------------------


def _bad_store(kind: str, good: Path, folder: Path) -> Path:
    path = folder / f"{kind}.duckdb"
    real = good.read_bytes()
    if kind == "text":
        path.write_text("this is not a database\n" * 10)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(real[:4096])
    elif kind == "cut":  # DuckDB's headers intact, cut inside a block
        path.write_bytes(real[: 3 * 4096 + 1000])
    elif kind == "corrupt":
        damaged = bytearray(real)
        half = len(real) // 2
        damaged[half : half + 4096] = np.random.default_rng(1).bytes(4096)
        path.write_bytes(bytes(damaged))
    elif kind == "dir":
        path.mkdir()
    else:
        path.write_bytes(real)
        con = duckdb.connect(str(path))
        if kind == "newer":
            con.execute("UPDATE meta SET value = '999'")
        elif kind == "noschema":
            con.execute("DELETE FROM meta")
        elif kind == "badversion":
            con.execute("UPDATE meta SET value = 'one'")
        con.close()
    if kind == "foreign":
        path.unlink()
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE mine AS SELECT 42 AS answer")
        con.close()
    return path


BAD_STORES = {
    "text": "not a DuckDB file",
    "empty": "empty file",
    "truncated": "truncated DuckDB file",
    "cut": "truncated",
    "corrupt": "damaged: block",
    "dir": "is a folder",
    "newer": "schema version 999 is newer than this assay",
    "noschema": "no schema_version row",
    "badversion": "is not a number",
    "foreign": "not an assay store",
}


@pytest.mark.parametrize("kind", list(BAD_STORES))
def test_a_bad_store_file_is_one_line_and_stays_unchanged(kind, store, tmp_path):
    store.add_battles([{"model_a": "alpha", "model_b": "beta", "winner": "tie"}])
    path = _bad_store(kind, store.path, tmp_path)
    digest = _tree(path) if path.is_dir() else _sha(path)
    for read_only in (False, True):
        with pytest.raises(InputError) as err:
            Store(path, read_only=read_only).info()
        assert str(err.value).startswith(f"{path}: ")
        assert BAD_STORES[kind] in str(err.value)
    for args in (["store", "info"], ["store", "query", "SELECT 1"], ["models", "list"]):
        code, cli_err = _cli(*args, "--store", path)
        assert code == 1
        assert str(path) in cli_err and BAD_STORES[kind] in cli_err
    assert (_tree(path) if path.is_dir() else _sha(path)) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, "project"])


def test_lock_retry_only_matches_duckdbs_lock_message():
    corrupt = duckdb.Error(
        "Corrupt database file: computed checksum 1 does not match stored checksum 2 "
        "in block at location 12288"
    )
    assert not store_module._is_lock_error(corrupt)
    assert not store_module._is_lock_error(duckdb.Error("IO Error: Could not read block 7"))
    locked = duckdb.IOException(
        'IO Error: Could not set lock on file "/x/assay.duckdb": Conflicting lock is held in '
        "/usr/bin/python3 (PID 1234)."
    )
    assert store_module._is_lock_error(locked)


def test_a_store_held_by_another_process_is_reported_once_the_wait_is_over(store, monkeypatch):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(store.path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(store_module, "_LOCK_WAIT_S", 0.2)
        with pytest.raises(InputError, match="still locked by another process"):
            store.info()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert store.info()["counts"]["samples"] == 24  # released: the retry gets in


def test_store_query_cannot_write(store):
    sha = _sha(store.path)
    for sql in ("DELETE FROM samples", "DROP TABLE battles", "UPDATE meta SET value = '2'"):
        code, err = _cli("store", "query", sql, "--store", store.path)
        assert code == 1 and "read-only" in err
    assert _sha(store.path) == sha
