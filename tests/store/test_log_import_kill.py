"""A log import killed (SIGKILL) after some of its chunks are written leaves the store as it
was: lm-eval, inspect and lighteval write a chunk at a time, all in one transaction. The child
kills itself after its second chunk, so the test does not depend on timing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from lm_eval_files import write_lm_eval_output

from assay.store import import_inspect, import_lighteval, import_lm_eval, open_store

DATA = Path(__file__).resolve().parents[1] / "data"
SRC = Path(__file__).resolve().parents[2] / "src"

CHILD = """
import os, signal, sys
import assay.store._import_runs as runs
from assay.store import Store, open_store, import_{kind}
runs.CHUNK_SAMPLES = 2
write = Store.write_samples
calls = []
def write_then_die(self, *args, **kwargs):
    written = write(self, *args, **kwargs)
    calls.append(written)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return written
Store.write_samples = write_then_die
import_{kind}(open_store(sys.argv[1]), sys.argv[2])
"""


def _snapshot(path: Path):
    store = open_store(path)
    samples = store.sql("SELECT * EXCLUDE (created_at) FROM samples ORDER BY ALL")
    metrics = store.sql("SELECT * FROM sample_metrics ORDER BY ALL")
    runs = store.sql("SELECT run_id, model, task, extra FROM runs ORDER BY ALL")
    return samples, metrics, runs


def _lm_eval(tmp: Path) -> tuple[Path, Path]:
    write_lm_eval_output(tmp / "a", n_docs=6, date="2026-11-01T10-00-00.000001")
    write_lm_eval_output(tmp / "b", n_docs=20, seed=1, date="2026-11-02T10-00-00.000001")
    return tmp / "a", tmp / "b"


def _inspect(tmp: Path) -> tuple[Path, Path]:
    first = DATA / "inspect" / "runs" / "json" / "arith_weak.json"
    log = json.loads((DATA / "inspect" / "runs" / "json" / "arith_mock.json").read_text())
    for sample in log["samples"]:  # a re-import that would change every stored score
        sample["scores"] = {"match": {"value": "C"}}
    (tmp / "logs").mkdir()
    shutil.copy(first, tmp / "logs" / "weak.json")
    (tmp / "logs" / "mock.json").write_text(json.dumps(log))
    return first, tmp / "logs"


def _lighteval(tmp: Path) -> tuple[Path, Path]:
    out = DATA / "lighteval" / "out"
    return next(out.rglob("details_arith_mc*.parquet")), out


@pytest.mark.parametrize("kind", ["lm_eval", "inspect", "lighteval"])
def test_a_killed_log_import_leaves_the_store_as_it_was(tmp_path, kind):
    first, second = {"lm_eval": _lm_eval, "inspect": _inspect, "lighteval": _lighteval}[kind](
        tmp_path
    )
    path = tmp_path / "s.duckdb"
    importer = {"lm_eval": import_lm_eval, "inspect": import_inspect, "lighteval": import_lighteval}
    importer[kind](open_store(path), first)
    before = _snapshot(path)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(kind=kind), str(path), str(second)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    after = _snapshot(path)
    for old, new in zip(before, after, strict=True):
        assert old.equals(new)
    # and the same import, not killed, does write
    assert importer[kind](open_store(path), second).samples > 0
