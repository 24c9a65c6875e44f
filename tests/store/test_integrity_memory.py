"""The whole-file block check holds a few megabytes whatever the file's size (it reads the
blocks through one small buffer: a memory map made the process as large as the file), and
still names a bad block wherever it lies: in a whole chunk, in the last part-chunk, or the
file's last block."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import assay
from assay.store import _integrity

_BLOCK = 256 * 1024
_WORDS = _BLOCK // 8


def _file(path: Path, blocks: int) -> Path:
    """A file of DuckDB's layout (two database headers, then ``blocks`` blocks whose first word
    is the checksum of the rest), filled with random words."""
    pages = np.zeros((3, 4096 // 8), dtype="<u8")
    pages[1:, 1:6] = [[1, 0, 0, blocks, _BLOCK], [0, 0, 0, blocks, _BLOCK]]
    pages[1:, 0] = _integrity._checksums(pages[1:, 1:])
    rng = np.random.default_rng(3)
    with path.open("wb") as out:
        out.write(pages.tobytes())
        for start in range(0, blocks, 64):
            data = rng.integers(0, 2**63, size=(min(64, blocks - start), _WORDS), dtype="<u8")
            data[:, 0] = _integrity._checksums(data[:, 1:])
            out.write(data.tobytes())
    return path


def _spoil(path: Path, block: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(_integrity._FIRST_BLOCK + block * _BLOCK + 1000)
        handle.write(b"\x01\x02\x03")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_the_scan_of_a_large_file_holds_a_few_megabytes(tmp_path):
    path = _file(tmp_path / "big.duckdb", 512)  # 128 MB
    script = (
        "import sys; from pathlib import Path; from assay.store import _integrity\n"
        "def peak():\n"
        "    line = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0]\n"
        "    return int(line.split()[1]) // 1024\n"
        "before = peak()\n"
        "print(_integrity.damaged(Path(sys.argv[1])), peak() - before)\n"
    )
    src = str(Path(assay.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    verdict, grown = done.stdout.rsplit(maxsplit=1)
    assert verdict == "None"
    assert int(grown) < 40, f"the scan grew the process by {grown} MB (file: 128 MB)"


@pytest.mark.parametrize("bad", [5, 16, 17, 40, 47])
def test_a_bad_block_is_named_wherever_it_lies(tmp_path, bad):
    path = _file(tmp_path / "s.duckdb", 48)  # three chunks of 16
    _integrity._verified.clear()
    assert _integrity.damaged(path) is None
    _spoil(path, bad)
    _integrity._verified.clear()
    found = _integrity.damaged(path)
    assert found is not None and found.startswith(f"block {bad} ") and "checksum" in found
