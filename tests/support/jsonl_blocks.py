"""JSON-lines files laid out against a reader's block size, for the pyarrow guards' tests."""

from __future__ import annotations

from pathlib import Path


def null_block_file(path: Path, first: str, last: str) -> Path:
    """``first`` (a JSON object ending in an empty ``pad`` field) padded to fill a 100-byte
    block, then a block of ``null`` lines from byte 100, then ``last``."""
    head = first[:-2]
    head += "x" * (99 - len(head) - 2) + '"}'
    path.write_text(head + "\n" + "null\n" * 20 + last + "\n")
    assert path.read_bytes().index(b"null") == 100
    return path
