"""Strict text readers: UTF-8, JSON lines and CSV, each problem one line naming file and line.

Every reader in assay (task data, sample imports, battle files, lm-eval logs) goes through
these, so one malformed file reads the same everywhere: ``FILE: line N: what is wrong``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator
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


def parse_json(
    text: str,
    where: str | Path,
    line: int | None = None,
    *,
    constants: Callable[[str], Any] | None = None,
    unique_keys: bool = True,
) -> Any:
    """``text`` parsed as JSON, every problem an :class:`InputError` naming ``where`` and the
    line (``line``: the file's line that ``text`` is, for a JSON lines row; else the line of
    the error): ``FILE: line N: not valid JSON (...)``, or ``JSON nested too deeply``.
    ``constants``: json's ``parse_constant`` (what ``NaN`` and ``Infinity`` become).
    ``unique_keys``: a key written twice in one object is an InputError (json keeps the last
    silently); off for the rows of a large JSON-lines file, where the check would slow it."""
    hook = _unique_object(where, line) if unique_keys else None
    try:
        return json.loads(text, parse_constant=constants, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        at = exc.lineno if line is None else line
        raise InputError(f"{where}: line {at}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        at = "" if line is None else f": line {line}"
        raise InputError(f"{where}{at}: JSON nested too deeply") from None


def _unique_object(where: str | Path, line: int | None) -> Callable[[list], dict]:
    """json's ``object_pairs_hook``: the object as a dict, a repeated key an InputError."""
    at = "" if line is None else f": line {line}"

    def build(pairs: list) -> dict:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            key = next(k for k, _ in pairs if k in seen or seen.add(k))
            raise InputError(f"{where}{at}: key {key!r} appears twice in one object")
        return obj

    return build


def json_row(
    text: str, path: str | Path, line: int, *, constants: Callable[[str], Any] | None = None
) -> dict[str, Any]:
    """One JSON lines row (line ``line`` of ``path``): a JSON object, else an InputError."""
    row = parse_json(text, path, line, constants=constants, unique_keys=False)
    if not isinstance(row, dict):
        raise InputError(f"{path}: line {line}: not a JSON object (got {row!r:.40})")
    return row


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
    for lineno, row, _ in _jsonl_objects(Path(path), None if constants else str):
        yield lineno, row


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _records(reader) -> Iterator[tuple[int, list[str]]]:
    """(first line number, record) of each record of a csv reader that is not blank."""
    end = 0
    for record in reader:
        start, end = end + 1, reader.line_num
        if record and (len(record) > 1 or record[0].strip()):
            yield start, record


def _header(path: Path, start: int, record: list[str]) -> list[str]:
    """The column names of a header record (a blank one named by its position); a name that
    appears twice is an InputError."""
    header = [c.strip() or f"column{i}" for i, c in enumerate(record)]
    twice = {c for c in header if header.count(c) > 1}
    if twice:
        raise InputError(f"{path}: line {start}: column '{min(twice)}' appears twice")
    return header


def _check_width(path: Path, start: int, record: list[str], header: list[str]) -> None:
    if len(record) != len(header):
        raise InputError(
            f"{path}: line {start}: {len(record)} fields, but the header has {len(header)}"
        )


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
    try:
        for start, record in _records(reader):
            if header is None:
                header = _header(path, start, record)
                continue
            _check_width(path, start, record, header)
            rows.append(record)
            lines.append(start)
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if header is None:  # only blank records, such as one empty quoted cell
        raise InputError(f"{path}: empty file (no header line)")
    return header, rows, lines


def _jsonl_objects(
    path: Path, hook, block: bytes | None = None, first: int = 1
) -> Iterator[tuple[int, dict[str, Any], int]]:
    """(line number, object, bytes of the line) for each non-blank line, checked as
    :func:`iter_jsonl` checks them (of ``block``, whole lines of ``path`` from line ``first``,
    when given)."""
    try:
        handle = path.open("rb") if block is None else io.BytesIO(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    with handle:
        for lineno, raw in enumerate(handle, start=first):
            line = decode_text(path, raw, lineno)
            if not line.strip():
                continue
            yield lineno, json_row(line, path, lineno, constants=hook), len(raw)


def jsonl_chunks(
    path: str | Path, *, rows: int, size: int, constants: bool = True
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The (line number, object) pairs of :func:`iter_jsonl` in lists of at most ``rows``
    objects or about ``size`` bytes of the file, whichever comes first: memory stays bounded
    by one chunk, whatever the file's size."""
    chunk: list[tuple[int, dict[str, Any]]] = []
    held = 0
    for lineno, row, nbytes in _jsonl_objects(Path(path), None if constants else str):
        chunk.append((lineno, row))
        held += nbytes
        if len(chunk) >= rows or held >= size:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def jsonl_block(
    path: str | Path, data: bytes, first_line: int, *, constants: bool = True
) -> list[tuple[int, dict[str, Any]]]:
    """The (line number, object) pairs of :func:`iter_jsonl` for ``data``, whole lines of the
    file ``path`` starting at line ``first_line``, checked as iter_jsonl checks them."""
    found = _jsonl_objects(Path(path), None if constants else str, data, first_line)
    return [(n, row) for n, row, _ in found]


def _bad_utf8_line(path: Path) -> InputError:
    """The error naming the first line of ``path`` that is not valid UTF-8 (read line by line)."""
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            decode_text(path, raw, lineno)  # raises at the bad line
    return InputError(f"{path}: not valid UTF-8")


def csv_chunks(
    path: str | Path, *, rows: int, size: int, delimiter: str | None = None
) -> tuple[list[str], Iterator[tuple[list[list[str]], list[int]]]]:
    """(header, chunks of (rows, line numbers)) of a CSV file read incrementally, with the
    checks of :func:`read_csv_rows` (UTF-8, a unique header, no ragged row); a chunk holds at
    most ``rows`` rows or about ``size`` characters. The header is read before this returns."""
    path = Path(path)
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        head: list[str] = []
        for line in handle:
            head.append(line)
            if line.strip():
                break
    except UnicodeDecodeError:
        handle.close()
        raise _bad_utf8_line(path) from None
    if not head or not head[-1].strip():
        handle.close()
        raise InputError(f"{path}: empty file (no header line)")
    sep = delimiter or _delimiter(head[-1])
    reader = csv.reader(itertools.chain(head, handle), delimiter=sep, strict=True)
    records = _records(reader)
    try:
        start, first = next(records, (0, None))
        if first is None:  # only blank records, such as one empty quoted cell
            raise InputError(f"{path}: empty file (no header line)")
        header = _header(path, start, first)
    except csv.Error as exc:
        handle.close()
        raise InputError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    except UnicodeDecodeError:
        handle.close()
        raise _bad_utf8_line(path) from None
    except InputError:
        handle.close()
        raise

    def chunks() -> Iterator[tuple[list[list[str]], list[int]]]:
        found: list[list[str]] = []
        lines: list[int] = []
        held = 0
        with handle:
            try:
                for start, record in records:
                    _check_width(path, start, record, header)
                    found.append(record)
                    lines.append(start)
                    held += sum(map(len, record))
                    if len(found) >= rows or held >= size:
                        yield found, lines
                        found, lines, held = [], [], 0
            except csv.Error as exc:
                raise InputError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
            except UnicodeDecodeError:
                raise _bad_utf8_line(path) from None
        if found:
            yield found, lines

    return header, chunks()
