"""An import that needs more than ``ASSAY_MAX_IMPORT_MEMORY`` is one line naming it, and the
store is as before: DuckDB past its limit either raises out-of-memory or aborts the transaction
without a word (the next statement fails), and both read the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from test_bombs import bombs, run_assay

DATA = Path(__file__).resolve().parents[1] / "data"


def _counts(store) -> tuple[int, int]:
    con = duckdb.connect(str(store), read_only=True)
    found = con.execute("SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM runs)")
    counts = found.fetchall()[0]
    con.close()
    return counts


@pytest.mark.parametrize("kind", ["lighteval", "samples"])
def test_past_the_import_memory_limit_is_one_line_and_changes_nothing(tmp_path, kind):
    store = tmp_path / "s.duckdb"
    first = tmp_path / "first"
    shutil.copytree(DATA / "lighteval" / "out", first)
    status, text, _ = run_assay(
        ["import", "lighteval", str(first), "--store", str(store)], tmp_path
    )
    assert status == 0, text[-2000:]
    before = _counts(store)
    if kind == "lighteval":
        path = tmp_path / "big"
        bombs.big_lighteval(path, megabytes=40)
    else:
        path = bombs.big_samples(tmp_path / "big.jsonl", megabytes=40)
    args = ["import", kind, str(path), "--store", str(store)]
    status, text, _ = run_assay(args, tmp_path, ASSAY_MAX_IMPORT_MEMORY="8000000")
    lines = [line for line in text.splitlines() if line.strip()]
    assert status == 1 and len(lines) == 1, text[-2000:]
    assert "ASSAY_MAX_IMPORT_MEMORY" in lines[0] and "too large" in lines[0], lines[0]
    assert _counts(store) == before
