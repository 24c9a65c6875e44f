"""Reading battle files into a frame indexed by line/record number: JSON lines (DuckDB first,
then pyarrow, then the careful line-by-line path that names a bad line), JSON, CSV/TSV, Parquet.
Validation of the fields is :mod:`._battles`' work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from assay.core import iter_jsonl, read_csv_rows, read_text
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


def _lines(path: Path) -> int:
    """Lines of the file (a last line without a newline counts), read in 16 MB blocks."""
    n, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 24):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def _read_jsonl_fast(path: Path) -> pd.DataFrame | None:
    """JSON lines through pyarrow's C++ reader (an LMArena export of 1.7 million battles in
    about a second), or None when the careful path must read the file: anything pyarrow
    rejects (bad JSON or UTF-8, a field changing type), blank lines (the line numbers would
    shift) or a nested value in a field that is checked."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    try:
        table = pa_json.read_json(path)
        table.validate(full=True)  # UTF-8 of every string
    except (pa.ArrowException, OSError, ValueError):
        return None
    if table.num_rows != _lines(path):
        return None
    for name in _FLAT_FIELDS:
        if name in table.column_names and pa.types.is_nested(table.schema.field(name).type):
            return None
    if not {"model_a", "model_b"} <= set(table.column_names):
        return None  # the careful path's error lists the file's fields
    # only the fields battles use: an export's conversations never become Python strings
    df = table.select([c for c in table.column_names if c in _USED_FIELDS]).to_pandas()
    df.index = pd.RangeIndex(1, table.num_rows + 1)
    return df


#: DuckDB types the fastest reader passes on; others (JSON: a field changing type, dates,
#: nested values) leave the file to pyarrow and the careful path.
_FLAT_TYPES = frozenset({"VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "UBIGINT", "HUGEINT"})


def _read_jsonl_duckdb(path: Path) -> pd.DataFrame | None:
    """JSON lines through DuckDB's reader (half the time and memory of pyarrow's: only the
    fields battles use are kept), or None for anything unusual: a parse error, a type outside
    :data:`_FLAT_TYPES` in a used field, the optional per-battle extras, blank lines."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        # types from a sample: a later line with another key or type is an error (fallback)
        source = "read_json({}, format='newline_delimited')".format(
            "'" + str(path).replace("'", "''") + "'"
        )
        rel = con.sql(f"SELECT * FROM {source}")
        kinds = dict(zip(rel.columns, map(str, rel.types), strict=True))
        if not {"model_a", "model_b"} <= kinds.keys() or any(c in kinds for c in EXTRA_FIELDS):
            return None
        used = [c for c in kinds if c in _USED_FIELDS]
        if any(kinds[c] not in _FLAT_TYPES for c in used):
            return None
        names = ", ".join('"' + c.replace('"', '""') + '"' for c in used)
        table = con.sql(f"SELECT {names} FROM {source}").to_arrow_table()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if table.num_rows != _lines(path):
        return None
    df = table.to_pandas()
    df.index = pd.RangeIndex(1, table.num_rows + 1)
    return df


def _read_jsonl(path: Path) -> pd.DataFrame:
    """JSON lines, indexed by line number (blank lines skipped)."""
    fast = _read_jsonl_duckdb(path)
    if fast is None:
        fast = _read_jsonl_fast(path)
    if fast is not None:
        return fast
    found = list(iter_jsonl(path))
    index = pd.Index([n for n, _ in found], dtype=np.int64)
    return pd.DataFrame.from_records([row for _, row in found], index=index)


def _read_csv(path: Path, delimiter: str) -> pd.DataFrame:
    """A strict CSV/TSV table of text cells (empty cells missing), indexed by line number."""
    header, rows, lines = read_csv_rows(path, delimiter=delimiter)
    df = pd.DataFrame(rows, columns=header, index=pd.Index(lines, dtype=np.int64), dtype=object)
    return df.where(df != "", None)


def _load(path: Path) -> tuple[pd.DataFrame, int]:
    """The file as a DataFrame, and the offset from its index to the line/record number."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a battle file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: no battles (the file is empty)")
    try:
        if suffix in (".jsonl", ".ndjson"):
            return _read_jsonl(path), 0
        if suffix in (".csv", ".tsv"):
            return _read_csv(path, "\t" if suffix == ".tsv" else ","), 0
        if suffix == ".json":
            data = json.loads(read_text(path))
            if isinstance(data, dict):  # {"battles": [...]}
                data = next((v for v in data.values() if isinstance(v, list)), [])
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise InputError(f"{path}: expected a JSON list of battle objects")
            return pd.DataFrame.from_records(data), 1
        if suffix == ".parquet":
            return pd.read_parquet(path), 1
    except (ValueError, TypeError, OverflowError, RecursionError, OSError) as exc:
        if isinstance(exc, InputError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot parse ({first})") from None
    raise InputError(
        f"{path}: unknown battle file type {suffix!r} (use .jsonl, .json, .csv, .parquet)"
    )
