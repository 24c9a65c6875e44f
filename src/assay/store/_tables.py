"""Reading CSV / JSONL / Parquet tables strictly, and checking their fields row by row.

Every problem is one :class:`InputError` naming the file and the line (CSV, JSONL) or record
(Parquet) and field: invalid UTF-8, a ragged CSV line, a field of the wrong type, a number that
is not finite or out of range. Values keep their file types (CSV cells are text); numbers are
converted by :func:`numbers`, names by :func:`texts`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.core import csv_chunks, iter_jsonl, jsonl_chunks, read_csv_rows
from assay.errors import InputError

EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
}
INT32_MAX = 2**31 - 1
CHUNK_ROWS = 50_000  # rows per chunk of a streamed import ...
CHUNK_BYTES = 8 * 2**20  # ... or about this much of the file, whichever comes first
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def files_in(path: Path) -> list[Path]:
    """The table files at ``path`` (a file, or a folder searched recursively)."""
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in EXTENSIONS
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise InputError(f"{path}: no .parquet, .csv or .jsonl files inside")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.suffix.lower() not in EXTENSIONS:
        raise InputError(f"{path}: unknown file type (use .parquet, .csv or .jsonl)")
    return [path]


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[int]]:
    header, rows, lines = read_csv_rows(path)
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df = df.where(df != "", None).astype("string")  # vectorised string checks downstream
    return df, lines


def _parquet_error(path: Path, exc: BaseException) -> InputError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(f"{path}: cannot be read as parquet: {first}")


def _parquet_frame(table) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc

    df = table.to_pandas()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_floating(column.type):
            nan = pc.fill_null(pc.is_nan(column), False).to_numpy(zero_copy_only=False)
            if nan.any():  # a stored NaN is a value, not a missing cell: let checks name it
                df[name] = df[name].astype(object).where(~nan, "NaN")
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _parquet_error(path, exc) from None
    return _parquet_frame(table)


def parquet_batches(path: Path, rows: int, size: int) -> Iterator[Any]:
    """Record batches of a Parquet file as Arrow tables, each about ``size`` bytes
    uncompressed (at most ``rows`` rows): the file is never whole in memory. A file without
    rows is one empty table; a file that is not Parquet an InputError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        meta = handle.metadata
        total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        per_row = max(total / max(meta.num_rows, 1), 1.0)
        batch = int(min(rows, max(256, size // per_row)))
        if meta.num_rows == 0:
            yield handle.schema_arrow.empty_table()
            return
        for record_batch in handle.iter_batches(batch_size=batch):
            yield pa.Table.from_batches([record_batch])
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _parquet_error(path, exc) from None


def parquet_frame(table, first: int) -> pd.DataFrame:
    """One batch of :func:`parquet_batches` as :func:`iter_table` gives it, its first row
    record number ``first``."""
    df = _parquet_frame(table)
    if len(df):
        df.attrs["rows"] = np.arange(first, first + len(df), dtype=np.int64)
    return df


def _parquet_chunks(path: Path, rows: int, size: int) -> Iterator[pd.DataFrame]:
    done = 1
    for table in parquet_batches(path, rows, size):
        yield parquet_frame(table, done)
        done += table.num_rows


def _table_file(path: str | Path) -> tuple[Path, str | None]:
    """``path`` as a Path and its kind by suffix (None: unknown); a folder or a missing file
    is an InputError."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return path, EXTENSIONS.get(path.suffix.lower())


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one CSV / JSONL / Parquet file into a DataFrame.

    ``attrs['unit']`` ("line" or "record") and ``attrs['rows']`` (each row's line number, an
    array: pandas copies attrs on every operation) let errors name the row; see :func:`where`.
    """
    path, kind = _table_file(path)
    try:
        if kind == "jsonl":
            found = list(iter_jsonl(path, constants=False))
            df = pd.DataFrame([row for _, row in found], dtype=object)
            unit, rows = "line", np.array([n for n, _ in found], dtype=np.int64)
        elif kind == "csv":
            df, lines = _read_csv(path)
            unit, rows = "line", np.array(lines, dtype=np.int64)
        else:
            df = _read_parquet(path)
            unit, rows = "record", None  # record n is row n - 1
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    df.columns = [str(c) for c in df.columns]
    df.attrs["unit"] = unit
    df.attrs["rows"] = rows
    return df


def iter_table(
    path: str | Path, *, rows: int = CHUNK_ROWS, size: int = CHUNK_BYTES
) -> Iterator[pd.DataFrame]:
    """:func:`read_table` in chunks of at most ``rows`` rows or about ``size`` bytes, so memory
    is bounded by one chunk, not by the file. Each chunk has the ``attrs`` of read_table (the
    line or record numbers of its own rows); a file without rows is one empty chunk."""
    path, kind = _table_file(path)
    try:
        if kind == "jsonl":
            frames = _jsonl_frames(path, rows, size)
        elif kind == "csv":
            frames = _csv_frames(path, rows, size)
        else:
            frames = _parquet_chunks(path, rows, size)
        for df in frames:
            yield finish(df, kind)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def finish(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A chunk's column names as text, and the ``attrs`` :func:`where` reads."""
    df.columns = [str(c) for c in df.columns]
    df.attrs["unit"] = "record" if kind == "parquet" else "line"
    df.attrs.setdefault("rows", None)
    return df


def jsonl_frame(chunk: list[tuple[int, dict[str, Any]]]) -> pd.DataFrame:
    """(line number, object) pairs as a frame of Python values, with their line numbers."""
    if not chunk:
        return pd.DataFrame()
    df = pd.DataFrame([row for _, row in chunk], dtype=object)
    df.attrs["rows"] = np.array([n for n, _ in chunk], dtype=np.int64)
    return df


def _jsonl_frames(path: Path, rows: int, size: int) -> Iterator[pd.DataFrame]:
    empty = True
    for chunk in jsonl_chunks(path, rows=rows, size=size, constants=False):
        empty = False
        yield jsonl_frame(chunk)
    if empty:
        yield pd.DataFrame()


def _csv_frames(path: Path, rows: int, size: int) -> Iterator[pd.DataFrame]:
    header, chunks = csv_chunks(path, rows=rows, size=size)
    empty = True
    for found, lines in chunks:
        empty = False
        df = pd.DataFrame(found, columns=header, dtype=object)
        df = df.where(df != "", None).astype("string")
        df.attrs["rows"] = np.array(lines, dtype=np.int64)
        yield df
    if empty:
        yield pd.DataFrame(columns=header, dtype="string")


def as_arrow(frame: pd.DataFrame):
    """``frame`` as an Arrow table for DuckDB to scan (within a transaction DuckDB holds on to
    what a scan of pandas object columns allocates until COMMIT; of Arrow it does not); a frame
    Arrow cannot type (mixed objects) is returned as it is."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return frame


def where(df: pd.DataFrame, path: Path, bad: np.ndarray | int) -> str:
    """``<path>: line N`` (or ``record N``) for the first row flagged in ``bad``."""
    row = int(bad) if isinstance(bad, int | np.integer) else int(np.flatnonzero(bad)[0])
    numbers_ = df.attrs.get("rows")
    number = numbers_[row] if numbers_ is not None and row < len(numbers_) else row + 1
    return f"{path}: {df.attrs.get('unit', 'record')} {number}"


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_text(raw: pd.Series) -> bool:
    """Every non-null cell is a string (CSV cells always are): the vectorised paths apply."""
    if pd.api.types.is_string_dtype(raw.dtype) and raw.dtype != object:
        return True
    return raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in (
        "string",
        "empty",
    )


def _is_number(raw: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype)


def present(raw: pd.Series) -> np.ndarray:
    """Cells that hold something (not null, not blank text)."""
    if _is_number(raw):
        return raw.notna().to_numpy()
    if _is_text(raw):
        return (raw.notna() & (raw.str.strip() != "")).to_numpy(dtype=bool, na_value=False)
    text = raw.map(lambda v: v.strip() if isinstance(v, str) else "x")
    return (raw.notna() & (text != "")).to_numpy()


def numbers(
    df: pd.DataFrame,
    path: Path,
    field: str,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> pd.Series:
    """Column ``field`` as floats (NaN where empty); anything else is an error naming the row:
    not a number, not finite, not a whole number (``integer``), or outside [low, high]."""
    raw = df[field]
    has = present(raw)
    none = np.zeros(len(raw), dtype=bool)
    if _is_number(raw):
        values = raw.astype(float)
        words, lists = none, none
    elif _is_text(raw):
        stripped = raw.str.strip()
        values = pd.to_numeric(stripped, errors="coerce")
        words = stripped.str.lower().isin(_NON_FINITE).to_numpy(dtype=bool, na_value=False)
        lists = none
    else:
        values = pd.to_numeric(
            raw.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce"
        ).astype(float)
        words = raw.map(lambda v: isinstance(v, str) and v.strip().lower() in _NON_FINITE).to_numpy(
            dtype=bool
        )
        lists = raw.map(lambda v: isinstance(v, list | dict | tuple | np.ndarray)).to_numpy(
            dtype=bool
        )
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    nonfinite = has & (np.isinf(arr) | (np.isnan(arr) & words))
    if nonfinite.any():
        raise InputError(f"{where(df, path, nonfinite)}, field '{field}': not a finite number")
    bad = has & (np.isnan(arr) | lists)
    if bad.any():
        value = raw.iloc[int(np.flatnonzero(bad)[0])]
        raise InputError(
            f"{where(df, path, bad)}, field '{field}': not a number ({_show(value)!r})"
        )
    values = pd.Series(arr, index=raw.index)
    ok = ~np.isnan(arr)
    if integer:
        fraction = ok & (np.mod(arr, 1, where=ok, out=np.zeros_like(arr)) != 0)
        if fraction.any():
            i = int(np.flatnonzero(fraction)[0])
            raise InputError(
                f"{where(df, path, fraction)}, field '{field}': not a whole number "
                f"({_show(raw.iloc[i])})"
            )
    out = np.zeros(len(arr), dtype=bool)
    if low is not None:
        out |= ok & ((arr <= low) if low_open else (arr < low))
    if high is not None:
        out |= ok & (arr > high)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        if low is not None and high is not None:
            rule = f"between {low:g} and {high:g}"
        elif low is not None:
            rule = f"{'>' if low_open else '>='} {low:g}"
        else:
            rule = f"<= {high:g}"
        raise InputError(
            f"{where(df, path, out)}, field '{field}': {_show(raw.iloc[i])} is out of range "
            f"(must be {rule})"
        )
    return values


def _as_text(value: Any) -> str | None | bool:
    """A cell as text, None when empty, False when it is not a scalar."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    return False


def texts(df: pd.DataFrame, path: Path, field: str, *, strip: bool = False) -> pd.Series:
    """Column ``field`` as text (None where empty); a list or object is an error naming the row."""
    raw = df[field]
    if _is_text(raw):
        converted = raw.str.strip() if strip else raw
        keep = raw.notna() & (converted != "") if strip else raw.notna()
        return converted.astype(object).where(keep.to_numpy(dtype=bool, na_value=False), None)
    converted = raw.map(_as_text)
    bad = converted.map(lambda v: v is False).to_numpy(dtype=bool)
    if bad.any():
        raise InputError(f"{where(df, path, bad)}, field '{field}': not text")
    if strip:
        converted = converted.map(lambda v: v.strip() or None if isinstance(v, str) else v)
    return converted.astype(object)
