"""`assay import samples` reads JSON lines and Parquet with pyarrow and checks them a column at a
time; what those checks cannot vouch for goes the strict way (row by row). Both ways must give
the same store, and the same error naming the same line."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

from assay.errors import InputError
from assay.store import _files, import_samples, open_store
from assay.store._sample_read import arrow_chunks

KEY = 'run_id, doc_id, "repeat"'
TABLES = {
    "samples": f"SELECT * EXCLUDE (created_at) FROM samples ORDER BY {KEY}",
    "old_stamps": "SELECT created_at FROM samples WHERE created_at < '2025-01-01' ORDER BY 1",
    "metrics": f"SELECT * FROM sample_metrics ORDER BY {KEY}, metric",
    "runs": "SELECT * EXCLUDE (created_at) FROM runs ORDER BY run_id",
    "models": "SELECT * FROM models ORDER BY model",
}


def _rows(n: int = 400) -> list[dict]:
    """Samples with every optional field now and then (fixed seed)."""
    rng = random.Random(3)
    rows = []
    for i in range(n):
        row = {
            "model": rng.choice(["a", " b ", "c\u00e9"]),
            "task": rng.choice(["t1", "t2"]),
            "doc_id": f"d{i}",
            "metric.acc": rng.choice([0, 1, 1.0, None]),
            "metric.f1": round(rng.random(), 6),
        }
        optional = {
            "repeat": i % 4,
            "prompt": "Q \u2028 " + "x" * (i % 7) + '\t"quoted"',
            "choice_logprobs": [-0.5, -1.25, float(i % 3)],
            "choice_order": [2, 0, 1],
            "chosen_position": 1,
            "latency_s": 0.25 * (i % 5),
            "created_at": f"2024-03-01 12:00:{i % 60:02d}",
            "target": "A",
            "prediction": "  B ",
            "input_tokens": 100 + i,
            "difficulty": -1.5,
            "cluster_id": f"c{i % 3}",
            "unknown": "ignored",
        }
        for k, (field, value) in enumerate(optional.items()):
            if i % (k + 2) == 0:
                row[field] = value
        rows.append(row)
    return rows


def _jsonl(path, rows, blank_every: int = 0):
    with path.open("w") as handle:
        for i, row in enumerate(rows):
            handle.write(json.dumps(row) + "\n")
            if blank_every and i % blank_every == 1:
                handle.write("\n  \n")
    return path


def _tables(store) -> dict:
    with store.connect() as con:
        return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}


def _strict(monkeypatch):
    monkeypatch.setattr(_files, "checked", lambda *args, **kwargs: None)


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
@pytest.mark.parametrize("options", [{}, {"model": "renamed"}, {"metrics": ["latency_s"]}])
def test_the_arrow_and_the_strict_way_write_the_same_store(kind, options, tmp_path, monkeypatch):
    rows = _rows()
    if "metrics" in options:  # latency_s read as a metric: every row needs one
        rows = [{**r, "latency_s": r.get("latency_s", 0.5)} for r in rows]
    path = tmp_path / f"rows.{kind}"
    if kind == "jsonl":
        _jsonl(path, rows, blank_every=50)
    else:
        pd.DataFrame(rows).to_parquet(path)
    fast = open_store(tmp_path / "fast.duckdb")
    summary = import_samples(fast, path, **options)
    with monkeypatch.context() as patch:
        _strict(patch)
        strict = open_store(tmp_path / "strict.duckdb")
        assert import_samples(strict, path, **options) == summary
    assert _tables(fast) == _tables(strict)
    assert summary["samples"] == len(rows)


def test_a_clean_file_never_takes_the_strict_way(tmp_path, monkeypatch):
    path = _jsonl(tmp_path / "rows.jsonl", _rows(), blank_every=7)
    pd.DataFrame(_rows()).to_parquet(tmp_path / "rows.parquet")

    def refuse(*args, **kwargs):
        raise AssertionError("the strict way was taken")

    monkeypatch.setattr(_files, "_mapped", refuse)
    for file in (path, tmp_path / "rows.parquet"):
        assert (
            import_samples(open_store(tmp_path / f"{file.suffix}.duckdb"), file)["samples"] == 400
        )


def test_line_numbers_count_blank_lines(tmp_path):
    rows = [{"model": "m", "task": "t", "doc_id": f"d{i}", "metric.acc": 1} for i in range(6)]
    rows[5]["doc_id"] = "d1"
    path = _jsonl(tmp_path / "dup.jsonl", rows, blank_every=2)  # blank lines after rows 1, 3, 5
    chunk = next(arrow_chunks(path))
    assert chunk.table is not None
    assert chunk.rows.tolist() == [1, 2, 5, 6, 9, 10]
    with pytest.raises(InputError, match=r"dup.jsonl: line 10: sample .* \(also at .*line 2\)"):
        import_samples(open_store(tmp_path / "s.duckdb"), path)


LINE = '{"model": "m", "task": "t", "doc_id": "d%d", "metric.acc": 1}\n'
ODD_FILES = {
    # what pyarrow reads, or reads otherwise than Python's json: each goes the strict way
    "two objects on a line": (
        LINE % 0 + (LINE % 1).strip() + " " + LINE % 2,
        "line 2: not valid JSON (Extra data)",
    ),
    "BOM inside": (LINE % 0 + "\ufeff" + LINE % 1, "line 2: not valid JSON"),
    "NaN": (LINE % 0 + LINE.replace("1}", "NaN}") % 1, "line 2, field 'metric.acc': not a finite"),
    "control character": (
        LINE % 0 + LINE.replace('"m"', '"m\x01"') % 1,
        "line 2: not valid JSON (Invalid control character",
    ),
    "number as text": (LINE % 0 + LINE.replace("1}", '"1x"}') % 1, "line 2, field 'metric.acc'"),
    "object as model": (
        LINE % 0 + LINE.replace('"m"', '{"a": 1}') % 1,
        "line 2, field 'model': not text",
    ),
    "invalid UTF-8": (
        (LINE % 0).encode()
        + (LINE % 1).replace('"m"', '"m\udcff"').encode("utf-8", "surrogateescape"),
        "line 2: not valid UTF-8 (byte 0xff)",
    ),
}


@pytest.mark.parametrize("name", list(ODD_FILES))
def test_odd_json_lines_read_as_the_strict_reader_reads_them(name, tmp_path, monkeypatch):
    content, expected = ODD_FILES[name]
    path = tmp_path / "odd.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    errors = []
    for strict in (False, True):
        with monkeypatch.context() as patch:
            if strict:
                _strict(patch)
            with pytest.raises(InputError) as err:
                import_samples(open_store(tmp_path / f"{strict}.duckdb"), path)
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    assert expected in errors[0]


def test_an_import_makes_room_for_the_indexes_duckdb_holds(tmp_path, monkeypatch):
    """DuckDB keeps a table's primary-key index in memory (about 100 bytes a key): 30,000
    samples with 4 metrics need more than 8 MB of it, and that is no reason to refuse them."""
    monkeypatch.setenv("ASSAY_MAX_IMPORT_MEMORY", "8000000")
    frame = pd.DataFrame(
        {
            "model": "m",
            "task": "t",
            "doc_id": [f"document-{i:06d}" for i in range(30_000)],
            **{f"metric.m{k}": float(k) for k in range(4)},
        }
    )
    frame.to_parquet(tmp_path / "rows.parquet")
    store = open_store(tmp_path / "s.duckdb")
    assert import_samples(store, tmp_path / "rows.parquet")["samples"] == 30_000
    assert store.sql("SELECT count(*) AS n FROM sample_metrics")["n"].tolist() == [120_000]


def test_a_folder_of_small_files_is_written_in_few_chunks_and_errors_keep_file_order(
    tmp_path, monkeypatch
):
    folder = tmp_path / "parts"
    for k in range(30):
        part = folder / f"model=m/task=t{k}"
        part.mkdir(parents=True)
        rows = [
            {"model": "m", "task": f"t{k}", "doc_id": f"d{i}", "metric.acc": 1} for i in range(5)
        ]
        _jsonl(part / "data_0.jsonl", rows)
    store = open_store(tmp_path / "s.duckdb")
    writes = []
    original = _files.Rows.write

    def counted(self, *args, **kwargs):
        writes.append(self.table.num_rows)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_files.Rows, "write", counted)
    summary = import_samples(store, folder)
    assert (summary["samples"], summary["runs"], writes) == (150, 30, [150])
    # a run another source made (first file) is named before a bad row of a later file
    store.upsert_run({"run_id": "taken", "model": "x", "task": "y", "source": "assay"})
    (folder / "model=m/task=t0/data_0.jsonl").write_text(
        json.dumps({"run_id": "taken", "model": "m", "task": "t0", "doc_id": "d", "metric.acc": 1})
    )
    (folder / "model=m/task=t9/data_0.jsonl").write_text(
        json.dumps({"model": "m", "task": "t9", "doc_id": "d", "metric.acc": "x"})
    )
    with pytest.raises(InputError, match=r"t0/data_0.jsonl: line 1, field 'run_id': run 'taken'"):
        import_samples(store, folder)
