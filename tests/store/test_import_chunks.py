"""`assay import samples` in chunks (here of two rows): what spans chunks is checked as if the
file were read whole, and a bad row in a later chunk leaves the store as it was."""

from __future__ import annotations

import functools
import json

import pytest

from assay.errors import InputError
from assay.store import _files, import_samples, open_store
from assay.store._sample_read import arrow_chunks


@pytest.fixture
def two_row_chunks(monkeypatch):
    """Chunks of two rows (CSV, Parquet) or of blocks of about 100 bytes (JSON lines)."""
    monkeypatch.setattr(_files, "arrow_chunks", functools.partial(arrow_chunks, rows=2, size=100))


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _row(i, **extra):
    return {"model": "m", "task": "t", "doc_id": f"d{i}", "metric.acc": i % 2, **extra}


def test_rows_across_chunks_are_all_written(tmp_path, two_row_chunks):
    rows = [_row(i) for i in range(5)]
    rows[3] = {"model": "m", "task": "t", "doc_id": "d3"}  # no metric in its chunk
    store = open_store(tmp_path / "s.duckdb")
    summary = import_samples(store, _jsonl(tmp_path / "a.jsonl", rows))
    assert (summary["samples"], summary["runs"]) == (5, 1)
    values = store.sql("SELECT doc_id, value FROM sample_metrics ORDER BY doc_id")
    assert values.to_dict("list") == {"doc_id": ["d0", "d1", "d2", "d4"], "value": [0, 1, 0, 0]}


def test_a_duplicate_in_a_later_chunk_names_both_lines_and_writes_nothing(tmp_path, two_row_chunks):
    store = open_store(tmp_path / "s.duckdb")
    import_samples(store, _jsonl(tmp_path / "old.jsonl", [_row(9)]))
    path = _jsonl(tmp_path / "a.jsonl", [_row(0), _row(1), _row(2), _row(3), _row(1)])
    with pytest.raises(InputError, match=r"a.jsonl: line 5: sample .*'d1'.* appears twice "
                       r"\(also at .*a.jsonl: line 2\)"):  # fmt: skip
        import_samples(store, path)
    assert store.sql("SELECT doc_id FROM samples")["doc_id"].tolist() == ["d9"]


def test_a_bad_row_in_a_later_chunk_writes_nothing(tmp_path, two_row_chunks):
    store = open_store(tmp_path / "s.duckdb")
    path = _jsonl(tmp_path / "a.jsonl", [_row(0), _row(1), _row(2), _row(3, **{"metric.acc": "x"})])
    with pytest.raises(InputError, match=r"a.jsonl: line 4, field 'metric.acc': not a number"):
        import_samples(store, path)
    assert store.sql("SELECT count(*) AS n FROM samples")["n"].tolist() == [0]


def test_csv_and_parquet_chunks_keep_their_line_and_record_numbers(tmp_path, two_row_chunks):
    import pandas as pd

    csv = tmp_path / "a.csv"
    csv.write_text("model,task,doc_id,metric.acc\nm,t,d0,1\nm,t,d1,0\n\nm,t,d2,1\nm,t,d3,2x\n")
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(InputError, match=r"a.csv: line 6, field 'metric.acc'"):
        import_samples(store, csv)
    frame = pd.DataFrame([_row(i) for i in range(5)])
    frame.loc[4, "doc_id"] = "d0"
    frame.to_parquet(tmp_path / "b.parquet")
    with pytest.raises(InputError, match=r"b.parquet: record 5: sample .* \(also at .*record 1\)"):
        import_samples(store, tmp_path / "b.parquet")
