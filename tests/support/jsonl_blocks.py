"""JSON-lines files laid out against a reader's block size, for the pyarrow guards' tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def null_block_file(path: Path, first: str, last: str) -> Path:
    """``first`` (a JSON object ending in an empty ``pad`` field) padded to fill a 100-byte
    block, then a block of ``null`` lines from byte 100, then ``last``."""
    head = first[:-2]
    head += "x" * (99 - len(head) - 2) + '"}'
    path.write_text(head + "\n" + "null\n" * 20 + last + "\n")
    assert path.read_bytes().index(b"null") == 100
    return path


def python_error(code: str, src: Path) -> tuple[int, str]:
    """``code`` run in a child Python (with ``src`` on its path: a crash fails the test, not
    pytest): its exit status and the last line it wrote to stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    lines = done.stderr.strip().splitlines()
    return done.returncode, lines[-1] if lines else ""
