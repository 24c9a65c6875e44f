"""Reading battle files a block of rows at a time, into frames indexed by line/record number:
JSON lines (pyarrow's reader per block, else the careful line-by-line path that names a bad
line), CSV/TSV, Parquet, JSON. Validation of the fields is :mod:`._battles`' work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from assay.core import (
    Elements,
    TopLevel,
    arrow_may_read,
    csv_chunks,
    jsonl_chunks,
    limit,
    limit_message,
)
from assay.errors import InputError

# wide count tables: column -> winner
_COUNT_COLUMNS = {
    "wins_a": "model_a",
    "wins_b": "model_b",
    "ties": "tie",
    "ties_bothbad": "tie_bothbad",
}
#: Fields the fast reader must find flat (text, numbers): nested ones take the careful path,
#: whose checks name the line.
_FLAT_FIELDS = (
    "model_a",
    "model_b",
    "winner",
    "prompt_id",
    "question_id",
    "judge",
    "time",
    "tstamp",
    "timestamp",
    "count",
    "id",
    *_COUNT_COLUMNS,
)


#: Optional per-battle fields :func:`read_battles` keeps with ``extras=True``.
EXTRA_FIELDS = ("style_a", "style_b", "answer_a", "answer_b")
_USED_FIELDS = frozenset(_FLAT_FIELDS + EXTRA_FIELDS)


#: Bytes of a JSON-lines file parsed at a time (a line longer than this is read whole, up to
#: ``ASSAY_MAX_JSON_VALUE_CHARS``): memory holds one block's battles, never the file.
BLOCK_BYTES = 16 * 2**20
#: Rows of a CSV or Parquet file read at a time.
BLOCK_ROWS = 100_000


def _blocks(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(number of its first line, block, its newlines) of whole lines of the file, about
    :data:`BLOCK_BYTES` each; a line longer than ``ASSAY_MAX_JSON_VALUE_CHARS`` is refused."""
    most = limit("JSON_VALUE_CHARS")
    line, rest = 1, b""
    with path.open("rb") as handle:
        while True:
            data = handle.read(BLOCK_BYTES)
            block = rest + data
            cut = block.rfind(b"\n") + 1 if data else len(block)
            if data and cut == 0:  # one line longer than a block: read on
                if len(block) > most:
                    raise InputError(
                        limit_message(f"{path}: line {line}: one JSON value", "JSON_VALUE_CHARS")
                    )
                rest = block
                continue
            if cut:
                newlines = block.count(b"\n", 0, cut)
                yield line, block[:cut], newlines
                line += newlines + (block[cut - 1 : cut] != b"\n")
            rest = block[cut:]
            if not data:
                return


def _block_fast(
    path: Path, block: bytes, line: int, newlines: int | None = None
) -> pd.DataFrame | None:
    """A block of JSON lines through pyarrow's C++ reader, indexed by line number; or None when
    the careful path must read it: anything pyarrow rejects (bad JSON or UTF-8, a field
    changing type), blank lines (the line numbers would shift), a nested value in a field that
    is checked, no model_a/model_b (the careful path's error lists the fields), and what
    would crash pyarrow (:func:`~assay.core.arrow_may_read`: a line that is not an object,
    deep nesting)."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    if not arrow_may_read(block):
        return None
    options = pa_json.ReadOptions(use_threads=False, block_size=1 << 22)
    try:
        table = pa_json.read_json(pa.BufferReader(block), read_options=options)
        table.validate(full=True)  # UTF-8 of every string
    except (pa.ArrowException, OSError, ValueError):
        return None
    index = _line_numbers(block, line, table.num_rows, newlines)
    if index is None:
        return None
    for name in _FLAT_FIELDS:
        if name in table.column_names and pa.types.is_nested(table.schema.field(name).type):
            return None
    if not {"model_a", "model_b"} <= set(table.column_names):
        return None
    # only the fields battles use: an export's conversations never become Python strings
    df = table.select([c for c in table.column_names if c in _USED_FIELDS]).to_pandas()
    df.index = index
    return df


def _line_numbers(
    block: bytes, line: int, rows: int, newlines: int | None = None
) -> pd.Index | None:
    """The line number of each of ``rows`` objects in ``block`` (its first line ``line``; its
    ``newlines`` when counted already), blank lines skipped; None when the counts disagree (the
    careful path then reads it)."""
    newlines = block.count(b"\n") if newlines is None else newlines
    lines = newlines + (not block.endswith(b"\n"))
    if rows == lines:
        return pd.RangeIndex(line, line + rows)
    text = block.split(b"\n")[:lines]
    kept = np.flatnonzero([bool(t.strip()) for t in text])  # only a block with blank lines
    return pd.Index(kept + line, dtype=np.int64) if len(kept) == rows else None


def _careful_frames(path: Path, line: int) -> Iterator[pd.DataFrame]:
    """The file from line ``line`` on, read line by line (each problem named by its line)."""
    for chunk in jsonl_chunks(path, rows=BLOCK_ROWS, size=BLOCK_BYTES):
        kept = [(n, row) for n, row in chunk if n >= line]
        if kept:
            index = pd.Index([n for n, _ in kept], dtype=np.int64)
            yield pd.DataFrame.from_records([row for _, row in kept], index=index)


def _jsonl_frames(path: Path) -> Iterator[pd.DataFrame]:
    """JSON lines a block at a time, indexed by line number (blank lines skipped): pyarrow's
    reader (:func:`_block_fast`), and from the first block it does not take on, the careful
    line-by-line reader, whose errors name the line."""
    for line, block, newlines in _blocks(path):
        fast = _block_fast(path, block, line, newlines)
        if fast is None:
            yield from _careful_frames(path, line)
            return
        yield fast


def _csv_frames(path: Path, delimiter: str) -> Iterator[pd.DataFrame]:
    """A strict CSV/TSV table of text cells (empty cells missing), indexed by line number, a
    block of rows at a time."""
    header, chunks = csv_chunks(path, rows=BLOCK_ROWS, size=BLOCK_BYTES, delimiter=delimiter)
    for rows, lines in chunks:
        df = pd.DataFrame(rows, columns=header, index=pd.Index(lines, dtype=np.int64), dtype=object)
        yield df.where(df != "", None)


def _parquet_frames(path: Path) -> Iterator[pd.DataFrame]:
    """A Parquet file a batch of rows at a time, indexed by record number from 0."""
    import pyarrow.parquet as pq

    done = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BLOCK_ROWS):
        df = batch.to_pandas()
        df.index = pd.RangeIndex(done, done + len(df))
        done += len(df)
        yield df


def _json_frames(path: Path) -> Iterator[pd.DataFrame]:
    """A JSON list of battles (or an object whose first list field holds them), an element at
    a time (:class:`assay.core.TopLevel`): frames of :data:`BLOCK_ROWS` battles or about
    :data:`BLOCK_BYTES` of text, never the whole document."""
    stream = TopLevel(path)
    try:
        first = stream.peek()
        if first not in ("[", "{"):
            if first == "":
                stream.fail("Expecting value", stream.pos)
            raise InputError(f"{path}: expected a JSON list of battle objects")
        rows = stream.array()
        if rows is not None:
            yield from _element_frames(path, rows)
            stream.end()
            return
        found = False
        for _, value in stream.fields():  # {"battles": [...]}: the first list
            if isinstance(value, Elements) and not found:
                found = True
                yield from _element_frames(path, value)
        if not found:
            yield pd.DataFrame()
    finally:
        stream.close()


def _element_frames(path: Path, rows: Elements) -> Iterator[pd.DataFrame]:
    block: list[dict] = []
    done = size = 0
    for row in rows:
        if not isinstance(row, dict):
            raise InputError(f"{path}: expected a JSON list of battle objects")
        block.append(row)
        size += sum(len(v) for v in row.values() if isinstance(v, str))
        if len(block) >= BLOCK_ROWS or size >= BLOCK_BYTES:
            yield _records(block, done)
            done += len(block)
            block, size = [], 0
    if block or not done:
        yield _records(block, done)


def _records(block: list[dict], done: int) -> pd.DataFrame:
    df = pd.DataFrame.from_records(block)
    df.index = pd.RangeIndex(done, done + len(df))
    return df


def frames(path: Path) -> tuple[Iterator[pd.DataFrame], int]:
    """The file as DataFrames of a block of rows each (JSON lines, CSV and Parquet are read
    a block at a time; a JSON document an element at a time), and the offset from their index to the
    line/record number."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a battle file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: no battles (the file is empty)")
    if suffix in (".jsonl", ".ndjson"):
        return _parsed(path, _jsonl_frames(path)), 0
    if suffix in (".csv", ".tsv"):
        return _parsed(path, _csv_frames(path, "\t" if suffix == ".tsv" else ",")), 0
    if suffix == ".json":
        return _parsed(path, _json_frames(path)), 1
    if suffix == ".parquet":
        return _parsed(path, _parquet_frames(path)), 1
    raise InputError(
        f"{path}: unknown battle file type {suffix!r} (use .jsonl, .json, .csv, .parquet)"
    )


def _parsed(path: Path, found: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``found``, with a parser's failure as one line naming the file."""
    try:
        yield from found
    except (ValueError, TypeError, OverflowError, RecursionError, OSError) as exc:
        if isinstance(exc, InputError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot parse ({first})") from None
