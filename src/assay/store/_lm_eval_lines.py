"""The lines of an lm-eval samples file, grouped by document without holding the file.

lm-eval logs a document once per filter, and writes all documents of one filter before the next
(so a document's lines are far apart). A first read notes each line's key (doc id, repeat,
filter) and byte offset in a DuckDB table that spills to disk
(:class:`Layout`); the second read takes the lines a document at a time, in the order of each
document's first line, by their offsets. Memory holds one document's lines, never the file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pandas as pd

from assay.core import decode_text, json_row, limit, limit_message
from assay.errors import InputError

_BATCH = 50_000  # keys sent to DuckDB at once, and rows fetched back


def _line(path: Path, lineno: int, raw: bytes, most: int) -> dict[str, Any] | None:
    """One line's object (None for a blank line), checked as core's iter_jsonl checks it."""
    if len(raw) > most:
        raise InputError(
            limit_message(f"{path}: line {lineno}: one JSON value", "JSON_VALUE_CHARS")
        )
    line = decode_text(path, raw, lineno)
    if not line.strip():
        return None
    return json_row(line, path, lineno)


def iter_lines(path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(line number, byte offset, object) of each non-blank line; a line longer than
    ``ASSAY_MAX_JSON_VALUE_CHARS`` bytes is refused before it is held whole."""
    most = limit("JSON_VALUE_CHARS")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    with handle:
        offset, lineno = 0, 0
        while True:
            raw = handle.readline(most + 1)
            if not raw:
                return
            lineno += 1
            row = _line(path, lineno, raw, most)
            if row is not None:
                yield lineno, offset, row
            offset += len(raw)


def line_at(handle: BinaryIO, path: Path, lineno: int, offset: int) -> dict[str, Any]:
    """The object on line ``lineno``, which starts at byte ``offset``."""
    most = limit("JSON_VALUE_CHARS")
    handle.seek(offset)
    row = _line(path, lineno, handle.readline(most + 1), most)
    if row is None:
        raise InputError(f"{path}: line {lineno}: changed while it was read")
    return row


class Layout:
    """Each line's (doc id, repeat, filter, line, offset), in an in-memory DuckDB that
    spills to a temporary folder past half of ``ASSAY_MAX_IMPORT_MEMORY``."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="assay-lm-eval-")
        self.con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": f"{max(limit('IMPORT_MEMORY') // 2**21, 16)}MiB",
                "temp_directory": self._tmp.name,
                "threads": 1,
            },
        )
        self.con.execute(
            'CREATE TABLE lines (doc_id VARCHAR, "repeat" BIGINT, filt VARCHAR, '
            "lineno BIGINT, off BIGINT)"
        )
        self._rows: list[tuple[str, int, str, int, int]] = []

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def __enter__(self) -> Layout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, doc_id: str, repeat: int, filt: str, lineno: int, offset: int) -> None:
        self._rows.append((doc_id, repeat, filt, lineno, offset))
        if len(self._rows) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            frame = pd.DataFrame(self._rows, columns=["doc_id", "repeat", "filt", "lineno", "off"])
            self.con.from_df(frame).query("_k", "INSERT INTO lines SELECT * FROM _k")
            self._rows = []

    def twice(self) -> tuple[int, str, int, str, int] | None:
        """(line, doc id, repeat, filter, earlier line) of the first line (in file order)
        whose (doc id, repeat, filter) an earlier line had, or None."""
        self._flush()
        found = self.con.execute(
            'SELECT lineno, doc_id, "repeat", filt, first FROM (SELECT *, '
            "row_number() OVER w AS k, first_value(lineno) OVER w AS first FROM lines "
            'WINDOW w AS (PARTITION BY doc_id, "repeat", filt ORDER BY lineno)) '
            "WHERE k = 2 ORDER BY lineno LIMIT 1"
        ).fetchall()
        return found[0] if found else None

    def documents(self) -> Iterator[list[tuple[int, int]]]:
        """[(line, offset), ...] of each document (doc id, repeat), in the order of their first
        lines."""
        self._flush()
        self.con.execute(
            'WITH g AS (SELECT doc_id, "repeat", min(lineno) AS first FROM lines '
            'GROUP BY doc_id, "repeat") SELECT g.first, l.lineno, l.off FROM lines l '
            'JOIN g USING (doc_id, "repeat") ORDER BY g.first, l.lineno'
        )
        current: int | None = None
        lines: list[tuple[int, int]] = []
        while True:
            batch = self.con.fetchmany(_BATCH)
            if not batch:
                break
            for first, lineno, off in batch:
                if first != current:
                    if current is not None:
                        yield lines
                    current, lines = first, []
                lines.append((lineno, off))
        if current is not None:
            yield lines
