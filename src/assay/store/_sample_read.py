"""A samples file read as Arrow, a chunk at a time, with the strict reader beside it.

JSON lines are parsed by pyarrow a block of whole lines (about ``CHUNK_BYTES``) at a time,
Parquet a record batch at a time; CSV only by the strict reader. Each :class:`Chunk` can also
give its rows as :func:`~assay.store._tables.iter_table` gives them (:meth:`Chunk.frame`): what
Arrow cannot read, or reads differently from Python's ``json`` (NaN, a BOM inside the file, a
line holding two objects, ...), goes that way, so a bad row is named exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.core import arrow_may_read, jsonl_block, limit, limit_message
from assay.errors import InputError

from ._tables import (
    CHUNK_BYTES,
    CHUNK_ROWS,
    EXTENSIONS,
    finish,
    iter_table,
    jsonl_frame,
    parquet_batches,
    parquet_frame,
)

_BLANK = re.compile(rb"\n[ \t\r]*\n")  # a blank line inside a block (JSON white space only)
_BOM = b"\xef\xbb\xbf"


@dataclass
class Chunk:
    """Rows of ``file``: ``table`` as Arrow read them (None: Arrow could not), ``rows`` the
    line or record number of each; :meth:`frame` reads them as the strict reader does."""

    file: Path
    table: Any
    rows: np.ndarray | None
    strict: Callable[[], pd.DataFrame]

    def frame(self) -> pd.DataFrame:
        return self.strict()


def arrow_chunks(file: Path, *, size: int = CHUNK_BYTES, rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """The chunks of one samples file (a file without rows: one chunk without rows)."""
    kind = EXTENSIONS.get(file.suffix.lower())
    if kind == "jsonl":
        yield from _jsonl_chunks(file, size)
    elif kind == "parquet":
        done = 1
        for table in parquet_batches(file, rows, size):
            yield Chunk(
                file,
                table,
                np.arange(done, done + table.num_rows, dtype=np.int64),
                lambda table=table, done=done: finish(parquet_frame(table, done), "parquet"),
            )
            done += table.num_rows
    else:
        for df in iter_table(file, rows=rows, size=size):
            yield Chunk(file, None, None, lambda df=df: df)


def _blocks(file: Path, size: int) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes) of blocks of whole lines of about ``size`` bytes; a line
    longer than ``ASSAY_MAX_JSON_VALUE_CHARS`` is refused before it is held whole."""
    try:
        handle = file.open("rb")
    except OSError:  # the strict reader names the problem
        yield 1, b""
        return
    with handle:
        line, rest, most = 1, b"", limit("JSON_VALUE_CHARS")
        while True:
            data = handle.read(size)
            if not data:
                if rest:
                    yield line, rest
                return
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if not cut:  # one line longer than a block: read on
                if len(data) > most:
                    what = f"{file}: line {line}: one JSON value"
                    raise InputError(limit_message(what, "JSON_VALUE_CHARS"))
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield line, block
            line += block.count(b"\n")


def _line_numbers(block: bytes, first: int) -> np.ndarray:
    """The numbers of the lines of ``block`` that are not blank."""
    head, _, _ = block.partition(b"\n")
    tail = block[block.rfind(b"\n") + 1 :]
    blank = not head.strip(b" \t\r") or (tail and not tail.strip(b" \t\r"))
    if not blank and _BLANK.search(block) is None:
        count = block.count(b"\n") + bool(tail)
        return np.arange(first, first + count, dtype=np.int64)
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    keep = [k for k, line in enumerate(lines) if line.strip(b" \t\r")]
    return first + np.asarray(keep, dtype=np.int64)


def _arrow_json(block: bytes, first: int) -> tuple[Any, np.ndarray | None]:
    """(table, line numbers) of a block as pyarrow reads it; (None, None) where pyarrow cannot
    read it or might read it otherwise than ``json`` does."""
    import pyarrow as pa
    import pyarrow.json as pj

    low = int(np.count_nonzero(np.frombuffer(block, np.uint8) < 32))
    control = low > block.count(b"\n") and low > sum(map(block.count, (b"\n", b"\t", b"\r")))
    if control or _BOM in block[3 if first == 1 else 0 :]:
        return None, None  # json refuses control characters in strings; pyarrow reads a BOM
    if not arrow_may_read(block):  # pyarrow would crash (null lines, deep nesting)
        return None, None
    try:
        block.decode("utf-8")  # pyarrow does not check all of it
    except UnicodeDecodeError:
        return None, None
    try:
        table = pj.read_json(pa.BufferReader(block))
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None, None
    lines = _line_numbers(block, first)
    if len(lines) != table.num_rows:  # a line holding two objects, ...
        return None, None
    return table, lines


def _jsonl_chunks(file: Path, size: int) -> Iterator[Chunk]:
    empty = True
    for first, block in _blocks(file, size):
        if not block or block.isspace():
            continue
        empty = False
        table, lines = _arrow_json(block, first)
        yield Chunk(
            file,
            table,
            lines,
            lambda block=block, first=first: finish(
                jsonl_frame(jsonl_block(file, block, first, constants=False)), "jsonl"
            ),
        )
    if empty:  # no rows (or a file that cannot be read: the strict reader says why)
        yield Chunk(file, None, None, lambda: next(iter_table(file)))
