"""The openai backend against servers that answer, but badly: a reply dripped one byte a second
(``timeout`` bounds the whole request), and well-formed 200 replies with no text or a positive
log-prob (retried, then stored as an errored sample: no prediction, no metric, counted)."""

from __future__ import annotations

import subprocess
import sys
import time

from fault_server import FaultServer

FAST = "backoff=0.01,backoff_cap=0.05"


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=timeout
    )


def test_a_dripping_server_times_out_within_the_deadline(tmp_path):
    path = tmp_path / "s.duckdb"
    with FaultServer(rate=1.0, kinds=("drip",), drip=1.0) as server:
        spec = f"openai:fake@{server.url},timeout=2,max_retries=1,{FAST}"
        start = time.monotonic()
        proc = _cli("eval", "-m", spec, "-t", "arith_mc", "-n", "1", "--no-progress",
                    "--store", str(path), timeout=120)  # fmt: skip
        seconds = time.monotonic() - start
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "giving up after 2 attempts" in lines[0] and "no reply within 2 s" in lines[0]
    assert seconds < 20  # 2 attempts x 2 s (+ start-up); the old per-read timeout took minutes
    assert not path.exists()
