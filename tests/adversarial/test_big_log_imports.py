"""`assay import lm-eval`, `inspect` (.json and .eval logs) and `lighteval` stream their input:
a file of about 300 MB in the tool's own layout (tests/adversarial/bombs.py) is read a chunk at a
time and written in one transaction, so the import's peak memory (a child process's own
``ru_maxrss``) stays under a bound that reading the file whole went far past (docs/security.md
lists both)."""

from __future__ import annotations

import json

import duckdb
import pytest
from test_bombs import bombs, run_assay

FILE_MB = 300
PEAK_BOUND_KB = {"lm-eval": 600_000, "inspect": 600_000, "lighteval": 700_000}
"""Streamed, these files take 0.44 GB (lm-eval), 0.48 GB (inspect) and 0.59 GB (lighteval: it
writes the most rows, and DuckDB holds up to ASSAY_MAX_IMPORT_MEMORY of them); read whole they
took 0.65-0.71, 1.0-1.2 and 1.8-1.9 GB (benchmarks/import_memory.py --mb 300)."""

pytestmark = pytest.mark.slow


def _import(kind: str, path, tmp_path, **env: str) -> tuple[dict, duckdb.DuckDBPyConnection]:
    store = tmp_path / "store.duckdb"
    status, text, peak_kb = run_assay(
        ["import", kind, str(path), "--store", str(store), "--json"], tmp_path, **env
    )
    assert status == 0, text[-2000:]
    assert peak_kb < PEAK_BOUND_KB[kind], f"{kind}: peak {peak_kb / 1e6:.2f} GB"
    return json.loads(text[text.index("{") :]), duckdb.connect(str(store), read_only=True)


def _sums(con) -> dict[str, tuple[int, float]]:
    rows = con.execute("SELECT metric, count(*), sum(value) FROM sample_metrics GROUP BY metric")
    return {metric: (int(n), float(total)) for metric, n, total in rows.fetchall()}


def test_a_300_mb_lm_eval_folder_streams_under_the_bound(tmp_path):
    docs = bombs.big_lm_eval(tmp_path / "out", megabytes=FILE_MB)
    file = next((tmp_path / "out").rglob("samples_*.jsonl"))
    assert file.stat().st_size > 0.6 * FILE_MB * 10**6
    summary, con = _import("lm-eval", tmp_path / "out", tmp_path)
    assert (summary["samples"], summary["runs"], summary["models"]) == (docs, 1, ["org/model"])
    expected = {
        f"exact_match,{filt}": (docs, sum(bombs.lm_eval_metric(d, filt) for d in range(docs)))
        for filt in bombs.LM_EVAL_FILTERS
    }
    assert _sums(con) == expected  # both filters' rows, far apart in the file, per document
    prompts = con.execute("SELECT count(DISTINCT prompt), min(length(prompt)) FROM samples")
    assert prompts.fetchall() == [(docs, 4000 + len("0 "))]


@pytest.mark.parametrize("suffix", [".json", ".eval"])
def test_a_300_mb_inspect_log_streams_under_the_bound(tmp_path, suffix):
    log = tmp_path / f"big{suffix}"
    count = bombs.big_inspect_log(log, megabytes=FILE_MB)
    # an .eval archive of this size decompresses past the zip-bomb limit: raise it
    summary, con = _import("inspect", log, tmp_path, ASSAY_MAX_DECOMPRESSED_BYTES=str(2**31))
    assert (summary["samples"], summary["runs"], summary["errored"]) == (count, 1, 0)
    correct = sum(bombs.inspect_value(i) == "C" for i in range(count))
    assert _sums(con) == {"match": (count, float(correct))}
    run = con.execute("SELECT extra FROM runs").fetchall()[0][0]
    assert json.loads(run)["results"] == {"match": {"accuracy": 0.5}}


def test_a_300_mb_lighteval_output_streams_under_the_bound(tmp_path):
    rows = bombs.big_lighteval(tmp_path / "out", megabytes=FILE_MB)
    summary, con = _import("lighteval", tmp_path / "out", tmp_path)
    assert (summary["samples"], summary["models"], summary["tasks"]) == (
        rows,
        ["org/model"],
        ["big_mc"],
    )
    assert _sums(con) == {"acc": (rows, float(sum(bombs.lighteval_metric(i) for i in range(rows))))}
