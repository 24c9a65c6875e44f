"""Strict text readers: UTF-8, JSON lines and CSV, each problem one line naming file and line.

Every reader in assay (task data, sample imports, battle files, lm-eval logs) goes through
these, so one malformed file reads the same everywhere: ``FILE: line N: what is wrong``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.errors import InputError

_DELIMITERS = (",", ";", "\t", "|")
csv.field_size_limit(2**31 - 1)  # prompts can be long; the default limit is 128 KiB


def decode_text(path: Path, data: bytes, lineno: int | None = None) -> str:
    """``data`` as UTF-8 text (a leading BOM dropped); invalid bytes name the line."""
    try:
        return data.decode("utf-8-sig" if lineno in (None, 1) else "utf-8")
    except UnicodeDecodeError as exc:
        line = lineno if lineno is not None else data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise InputError(f"{path}: line {line}: not valid UTF-8 (byte 0x{byte:02x})") from None


def read_text(path: str | Path) -> str:
    """The UTF-8 text of the file ``path``; unreadable or not UTF-8 is one line naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    return decode_text(path, data)


def iter_jsonl(path: str | Path, *, constants: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON-lines file.

    With ``constants=False`` the non-standard JSON constants NaN / Infinity / -Infinity are read
    as the strings "NaN" / "Infinity" / "-Infinity", so number checks reject them by name.
    """
    path = Path(path)
    hook = None if constants else str
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            line = decode_text(path, raw, lineno)
            if not line.strip():
                continue
            try:
                row = json.loads(line, parse_constant=hook)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: line {lineno}: not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise InputError(f"{path}: line {lineno}: JSON nested too deeply") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}: line {lineno}: not a JSON object (got {row!r:.40})")
            yield lineno, row


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def read_csv_rows(
    path: str | Path, *, delimiter: str | None = None
) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, rows, line numbers) of a CSV file, strictly: UTF-8, a header whose names are
    unique, every row as long as the header (pandas would pad a short row and rename a repeated
    column). Blank lines are skipped; the delimiter is sniffed from the header when not given."""
    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise InputError(f"{path}: empty file (no header line)")
    first = next(line for line in text.splitlines() if line.strip())
    sep = delimiter or _delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    end = 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if header is None:
                header = [c.strip() or f"column{i}" for i, c in enumerate(record)]
                twice = {c for c in header if header.count(c) > 1}
                if twice:
                    raise InputError(f"{path}: line {start}: column '{min(twice)}' appears twice")
                continue
            if len(record) != len(header):
                raise InputError(
                    f"{path}: line {start}: {len(record)} fields, but the header has {len(header)}"
                )
            rows.append(record)
            lines.append(start)
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if header is None:  # only blank records, such as one empty quoted cell
        raise InputError(f"{path}: empty file (no header line)")
    return header, rows, lines
