"""Every bomb of bombs.py ends with one error line naming its limit, in a subprocess whose peak
memory stays far under a gigabyte (the limits: ASSAY_MAX_TEMPLATE_OUTPUT, _TEMPLATE_LOOPS,
_DECOMPRESSED_BYTES, _COMPRESSION_RATIO, _DOCUMENT_CHARS)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.store import Store

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"
_spec = importlib.util.spec_from_file_location("bombs", HERE / "bombs.py")
bombs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bombs)

PEAK_BOUND_KB = 1_000_000  # 1 GB; before the limits these took 4-13 GB


_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""
"""Runs the command and writes its exit status and peak RSS. Linux counts in a child's peak the
memory of the process it was forked from (exec records the copied address space's high-water
mark), so the command is forked from this small launcher, never from the test process, whose
own peak grows with every test it has run."""


def run_assay(args: list[str], tmp: Path, **env: str) -> tuple[int, str, int]:
    """(exit status, stderr + stdout, peak RSS in kB) of ``python -m assay ARGS`` in a process
    of its own (os.wait4 in a small launcher gives that process's rusage alone)."""
    out, err, peak = tmp / "out.txt", tmp / "err.txt", tmp / "peak.txt"
    environ = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "120", **env}
    command = [sys.executable, "-c", _LAUNCHER, str(peak), sys.executable, "-m", "assay", *args]
    with out.open("wb") as o, err.open("wb") as e:
        subprocess.run(command, stdout=o, stderr=e, env=environ, check=True)
    status, peak_kb = map(int, peak.read_text().split())
    return status, err.read_text() + out.read_text(), peak_kb


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    return bombs.bombs(tmp_path_factory.mktemp("bombs"))


LIMIT_OF = {
    **{f"template_{name}": "ASSAY_MAX_TEMPLATE_OUTPUT" for name in bombs.TEMPLATE_BOMBS},
    "template_nested_range": "ASSAY_MAX_TEMPLATE_LOOPS",
    "template_output": "ASSAY_MAX_TEMPLATE_LOOPS",
    "zip_bomb": "ASSAY_MAX_COMPRESSION_RATIO",
    "big_document": "ASSAY_MAX_DOCUMENT_CHARS",
}


@pytest.mark.parametrize("name", sorted(LIMIT_OF))
def test_bomb_is_one_line_naming_its_limit_under_a_gigabyte(commands, name, tmp_path):
    status, text, peak_kb = run_assay(commands[name], tmp_path)
    lines = [line for line in text.splitlines() if line.strip()]
    assert status == 1, text[-2000:]
    assert len(lines) == 1, text[-2000:]
    assert LIMIT_OF[name] in lines[0] and "too large" in lines[0], lines[0]
    assert peak_kb < PEAK_BOUND_KB, f"{name}: peak {peak_kb / 1e6:.2f} GB"


def test_raising_the_limit_lets_a_big_but_bounded_template_through(tmp_path):
    path = bombs.template_task(tmp_path / "wide.yaml", "{{ question | center(20000000) }}")
    status, text, _ = run_assay(["tasks", "show", str(path)], tmp_path)
    assert status == 1 and "ASSAY_MAX_TEMPLATE_OUTPUT" in text
    status, text, _ = run_assay(
        ["tasks", "show", str(path)], tmp_path, ASSAY_MAX_TEMPLATE_OUTPUT="30000000"
    )
    assert status == 0, text[-2000:]
    assert "more characters; --json shows all" in text  # the 20M-character prompt is clipped


def test_bad_limit_value_is_one_line(tmp_path):
    path = bombs.template_task(tmp_path / "ok.yaml", "{{ question }}")
    status, text, _ = run_assay(
        ["tasks", "show", str(path)], tmp_path, ASSAY_MAX_TEMPLATE_LOOPS="lots"
    )
    assert status == 1 and text.strip().count("\n") == 0
    assert "ASSAY_MAX_TEMPLATE_LOOPS='lots': must be a positive whole number" in text


def test_tasks_show_clips_a_large_document_and_raising_the_cap_admits_it(tmp_path):
    path = bombs.big_document(tmp_path / "doc.jsonl", chars=3_000_000)
    status, text, peak_kb = run_assay(["tasks", "show", str(path), "-n", "1"], tmp_path)
    assert status == 0, text[-2000:]
    assert "2,998,000 more characters" in text or "more characters" in text
    assert len(text) < 20_000 and peak_kb < PEAK_BOUND_KB
    status, text, _ = run_assay(
        ["tasks", "show", str(path)], tmp_path, ASSAY_MAX_DOCUMENT_CHARS="1000000"
    )
    assert status == 1 and "row 0: the document: too large" in text


@pytest.mark.parametrize("method", ["zstd", "deflate"])
def test_a_member_whose_header_states_a_small_size_is_capped_on_the_bytes_read(tmp_path, method):
    """Its headers say 100 bytes; it expands to 1.5 GB. zstd (read by assay): the ratio limit
    counts the bytes decompressed; deflate (read by zipfile): no more than the stated size is
    read, and the CRC then fails. Either way one line, far under a gigabyte."""
    pytest.importorskip("zstandard") if method == "zstd" else None
    log = bombs.lying_zip_bomb(tmp_path / f"lie-{method}.eval", method)
    store = tmp_path / "s.duckdb"
    status, text, peak_kb = run_assay(
        ["import", "inspect", str(log), "--store", str(store)], tmp_path
    )
    lines = [line for line in text.splitlines() if line.strip()]
    assert status == 1 and len(lines) == 1, text[-2000:]
    if method == "zstd":
        assert "ASSAY_MAX_COMPRESSION_RATIO" in lines[0] and "too large" in lines[0], lines[0]
    else:
        assert "Bad CRC-32" in lines[0], lines[0]
    assert peak_kb < 500_000, f"peak {peak_kb / 1e6:.2f} GB"
    assert not store.exists() or Store(store).samples().empty
