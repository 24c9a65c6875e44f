"""`assay import samples` streams its input: a 300 MB JSON-lines file is read in chunks and
written in one transaction, so the import's peak memory stays well under what reading the whole
file took (about 1.4 GB for this file before imports streamed; docs/security.md)."""

from __future__ import annotations

import json

import duckdb
from test_bombs import bombs, run_assay

FILE_MB = 300
PEAK_BOUND_KB = 800_000  # 0.8 GB; streamed it takes 0.56 GB, the whole-file reader took 1.4 GB


def test_a_300_mb_import_streams_under_the_bound(tmp_path):
    file = bombs.big_samples(tmp_path / "big.jsonl", megabytes=FILE_MB, text_chars=4000)
    rows = sum(1 for _ in file.open("rb"))
    assert file.stat().st_size > FILE_MB * 10**6
    store = tmp_path / "store.duckdb"
    status, text, peak_kb = run_assay(
        ["import", "samples", str(file), "--store", str(store), "--json"], tmp_path
    )
    assert status == 0, text[-2000:]
    summary = json.loads(text[text.index("{") :])
    assert (summary["samples"], summary["runs"]) == (rows, 4)
    con = duckdb.connect(str(store), read_only=True)
    stored = con.execute("SELECT count(*), sum(value) FROM sample_metrics").fetchall()[0]
    con.close()
    assert stored == (rows, float(sum(i % 3 == 0 for i in range(rows))))
    assert peak_kb < PEAK_BOUND_KB, f"peak {peak_kb / 1e6:.2f} GB"
