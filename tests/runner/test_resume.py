"""kill -9 of a running `assay eval`, then the same command again: full coverage, no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from .conftest import needs_model


def _count(path) -> int:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:  # the writer holds the lock right now
        return -1
    try:
        return con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


@pytest.mark.real_model
@needs_model
def test_sigkill_then_resume(tmp_path):
    store = tmp_path / "kill.duckdb"
    cmd = [
        sys.executable,
        "-m",
        "assay",
        "eval",
        "--task",
        "arith_mc",
        "--limit",
        "24",
        "--batch-size",
        "8",
        "--store",
        str(store),
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists() and _count(store) >= 8:  # at least one batch written
                break
            time.sleep(0.2)
        assert proc.poll() is None, "eval finished before it could be killed"
        time.sleep(0.3)  # land somewhere inside the next batch
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    partial = _count(store)
    assert 8 <= partial < 24 and partial % 8 == 0  # whole batches only

    done = subprocess.run(cmd + ["--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(done.stdout)
    assert result["resumed_samples"] == partial and result["new_samples"] == 24 - partial
    con = duckdb.connect(str(store), read_only=True)
    total, distinct = con.execute(
        'SELECT count(*), count(DISTINCT (run_id, doc_id, "repeat")) FROM samples'
    ).fetchall()[0]
    con.close()
    assert total == distinct == 24
    acc = [r for r in result["results"] if r["metric"] == "acc"][0]
    assert acc["n"] == 24 and 0 <= acc["mean"] <= 1 and acc["stderr"] > 0
    assert pytest.approx(acc["stderr"], rel=1e-9) == (
        (acc["mean"] * (1 - acc["mean"]) * 24 / 23) ** 0.5 / 24**0.5
    )
