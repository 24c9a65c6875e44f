"""Checks of a store file before and while DuckDB opens it: a folder, an empty or truncated
file, a file that is not DuckDB's, a damaged one, another process's file lock, and whether
opening it writes."""

from __future__ import annotations

from pathlib import Path

import duckdb

from assay.errors import InputError

from ._battles import MIGRATION_KEY, MIGRATION_VALUE
from ._schema import SCHEMA_VERSION, read_schema_version


def _is_lock_error(exc: Exception) -> bool:
    """DuckDB's file-lock conflict: another process has the file open for writing."""
    text = str(exc).lower()
    return "could not set lock on file" in text or "conflicting lock is held" in text


# Errors that mean the file itself is damaged, whatever the query was.
_FILE_FAULTS = ("corrupt database file", "could not read enough bytes")
_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _describe(exc: BaseException) -> str:
    """What a DuckDB error says about the file, short (its own message repeats the path)."""
    text = _first_line(exc)
    low = text.lower()
    if "could not read enough bytes" in low:
        return "truncated: the file ends inside its data"
    if "not a valid duckdb database file" in low:
        return "not a DuckDB file, so not an assay store"
    if "corrupt database file" in low:
        return "the store file is damaged: " + text[low.index("corrupt database file") + 22 :]
    return f"cannot open the store: {text}"


def check_store_file(path: Path) -> None:
    """Refuse, without opening it in DuckDB, a path that cannot be an assay store: a folder, an
    empty file, a file that is not DuckDB's, or one shorter than DuckDB's headers."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a store file")
    if not path.exists():
        return
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(12)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the store file ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{path}: empty file, not an assay store")
    if head[8:12] != b"DUCK":
        raise InputError(f"{path}: not a DuckDB file, so not an assay store")
    if size < _HEADER_BYTES:
        raise InputError(f"{path}: truncated DuckDB file ({size} bytes), not a usable store")


def opening_writes(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether opening the store for writing writes to it: a new store, an older schema, or
    battle ids not yet migrated (so its blocks are checked first)."""
    if read_schema_version(con, name) != SCHEMA_VERSION:
        return True
    done = con.execute("SELECT value FROM meta WHERE key = ?", [MIGRATION_KEY]).fetchall()
    return not done or done[0][0] != MIGRATION_VALUE
