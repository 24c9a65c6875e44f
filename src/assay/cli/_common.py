"""Shared CLI pieces: opening the store, table/JSON output, one-line errors, option range
checks and output-path checks (the shared options are in :mod:`assay.cli._options`)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from assay.core import format_number, to_jsonable, visible
from assay.errors import InputError, StoreMissing
from assay.store import Store, default_store_path, existing_store, open_store

# Everything printed is text: a model, task, metric or file name (or an error message) holding
# "[/bold]" or ":x:" prints as written, never as Rich markup or an emoji. Style with Text/style=.


class TextConsole(Console):
    """A Rich console that writes every character of text as text: no markup, no emoji codes,
    and control characters (ESC, BEL, ...) in what it prints as visible ``\\xNN`` escapes
    (:func:`assay.core.visible`) — Rich's own styling and cursor control are untouched."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, **kwargs)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(visible(seg.text), seg.style) for seg in buffer
        )


console = TextConsole()
err_console = TextConsole(stderr=True)

TABLE_FORMATS = ("table", "csv", "tsv", "markdown")
"""How :func:`print_table` writes a table: a Rich table, or plain csv/tsv/markdown text."""
_output = {"format": "table"}


def set_table_format(value: str) -> str:
    """Make every following :func:`print_table` of this command write ``value``."""
    if value not in TABLE_FORMATS:
        raise InputError(f"--format {value}: must be one of {', '.join(TABLE_FORMATS)}")
    _output["format"] = value
    return value


def plain_tables() -> bool:
    """True when tables are written as csv/tsv for a program to read (no prose around them)."""
    return _output["format"] in ("csv", "tsv")


def get_store(path: Path | None, *, must_exist: bool = False, read_only: bool = False) -> Store:
    """Open the store named by --store / $ASSAY_STORE / ./assay.duckdb; with ``must_exist``
    a missing store is the one-line failure of :func:`assay.store.existing_store` (``read_only``:
    opened only to read, its schema not migrated). Without it the store is written to: a
    Parquet folder (read-only) is refused in one line."""
    if not must_exist:
        return open_store(path, for_writing=True)
    try:
        return existing_store(path, read_only=read_only, hint=", or pass --store")
    except StoreMissing as exc:
        fail(str(exc))


@contextmanager
def store_for_writing(path: Path | None) -> Iterator[Store]:
    """:func:`get_store` for a command that writes: a store file the command created is
    removed again when the command fails before writing anything (a failed import leaves no
    new empty store behind)."""
    existed = (Path(path) if path is not None else default_store_path()).exists()
    store = get_store(path)
    try:
        yield store
    except BaseException:
        if not existed:
            store.discard_if_empty()
        raise


def one_line(text: str) -> str:
    """``text`` with its lines joined by spaces (messages must stay on one terminal line)."""
    return visible(" ".join(part.strip() for part in str(text).splitlines() if part.strip()))


def print_error(message: str) -> None:
    """``error: <message>`` as one line on stderr; the message is text, never rich markup."""
    line = Text.assemble(("error:", "bold red"), " ", one_line(message))
    err_console.print(line, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit."""
    print_error(message)
    raise typer.Exit(code)


def bounded(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[..., Any]:
    """A typer option callback: the value must be finite and in the range, else InputError
    (one line, exit 1, raised while parsing, so before any work). None passes."""

    def check(param: typer.CallbackParam, value: Any) -> Any:
        if value is None:
            return value
        name = param.opts[0] if param.opts else str(param.name)
        for v in value if isinstance(value, list | tuple) else [value]:
            _check_range(name, v, low, high, low_open, high_open)
        return value

    return check


def _check_range(name, value, low, high, low_open, high_open) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{name} {value}: must be a finite number")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not (below or above):
        return
    if low is not None and high is not None:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise InputError(f"{name} {value}: must be in {lo}{low:g}, {high:g}{hi}")
    if low is not None:
        raise InputError(f"{name} {value}: must be {'>' if low_open else '>='} {low:g}")
    raise InputError(f"{name} {value}: must be {'<' if high_open else '<='} {high:g}")


def check_output(path: Path | None, option: str) -> None:
    """Fail early (before any long work) when ``path`` cannot be written as a file: its folder
    is missing or not writable, or it names a folder. Nothing is created."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{option} {path}: folder {parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option} {path}: file is not writable")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder {parent} is not writable")


def output_file(suffixes: Sequence[str] | None = None) -> Callable[..., Any]:
    """A typer option callback: :func:`check_output` (and the file suffix, when ``suffixes``
    are given) while the options are parsed, so a bad path fails before any work."""

    def check(param: typer.CallbackParam, value: Path | None) -> Path | None:
        if value is None:
            return value
        name = param.opts[0] if param.opts else str(param.name)
        if suffixes and Path(value).suffix.lower() not in suffixes:
            listed = (
                ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
                if len(suffixes) > 1
                else suffixes[0]
            )
            raise InputError(f"{name} {value}: the file must end in {listed}")
        check_output(value, name)
        return value

    return check


def positive_floats(values: Sequence[str] | None, option: str) -> list[float]:
    """Finite numbers > 0 from a repeated option; a bad one is a one-line error naming it."""
    out = []
    for v in values or []:
        try:
            x = float(v)
        except ValueError:
            raise InputError(f"{option} {v!r}: not a number") from None
        if not math.isfinite(x) or x <= 0:
            raise InputError(f"{option} {v!r}: must be a finite number > 0")
        out.append(x)
    return out


#: rows (records in the top-level lists) above which JSON is printed on one line: indenting
#: runs Python's pure-Python encoder, seconds for the 10^5 pairs of a large compare
COMPACT_JSON_ROWS = 20_000


def print_json(data: Any) -> None:
    """JSON to stdout with NaN as null and numpy/pandas values converted; indented, or on one
    line (compact, same values) when it holds more than :data:`COMPACT_JSON_ROWS` rows (its
    tables, DataFrames or those :func:`json_tables` started writing, by DuckDB)."""
    from ._frame_json import FrameText, compact_json

    parts = data.values() if isinstance(data, dict) else [data]
    rows = sum(len(p) for p in parts if isinstance(p, list | pd.DataFrame | FrameText))
    indent = None if rows > COMPACT_JSON_ROWS else 2
    if indent is None and isinstance(data, dict):  # its large tables written by DuckDB
        out = sys.stdout
        sink = getattr(out, "buffer", None)  # the bytes as DuckDB wrote them, not decoded
        write = sink.write if sink is not None else lambda piece: out.write(piece.decode())
        out.flush()
        for piece in compact_json(data, lambda value: _json_text(value, None)):
            write(piece)
        write(b"\n")
        (sink or out).flush()
        return
    if isinstance(data, dict):
        data = {k: v.frame if isinstance(v, FrameText) else v for k, v in data.items()}
    typer.echo(_json_text(data, indent))


def json_tables(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """``tables`` for :func:`print_json`, those it will write on one line (more than
    :data:`COMPACT_JSON_ROWS` rows in all) already being written by DuckDB in the background
    while the command works out the rest."""
    if sum(len(t) for t in tables.values()) <= COMPACT_JSON_ROWS:
        return tables
    from ._frame_json import writing_json

    return writing_json(tables)


def _json_text(data: Any, indent: int | None) -> str:
    try:  # already plain (a result's to_dict): straight to the encoder, no second pass
        return json.dumps(data, indent=indent, default=_plain_value, allow_nan=False)
    except (ValueError, TypeError):  # NaN to null, keys made text: convert everything first
        return json.dumps(to_jsonable(data), indent=indent, default=str)


def json_printed(json_out: bool, data: Any) -> bool:
    """With ``--json``, print ``data`` as JSON (a result: its ``to_dict()``; a table: its
    records) and say so; the command then skips its text (``if json_printed(...): return``)."""
    if json_out and isinstance(data, pd.DataFrame):
        print_json(data.to_dict(orient="records"))
    elif json_out:
        print_json(data.to_dict() if hasattr(data, "to_dict") else data)
    return json_out


def json_or_table(
    json_out: bool, result: Any, table: Any, *, note: str | None = None, **table_options: Any
) -> bool:
    """A result's one view: with ``--json`` its JSON (:func:`json_printed`), else ``table``
    (:func:`print_table` with ``table_options``) and the line ``note`` under it. True when it
    printed JSON: a command that prints more after the table returns then
    (``if json_or_table(...): return``)."""
    if json_printed(json_out, result):
        return True
    print_table(table, **table_options)
    if note is not None:
        console.print(note)
    return False


def _plain_value(value: Any) -> Any:
    """A value the JSON encoder does not know, as :func:`to_jsonable` gives it (else text)."""
    plain = to_jsonable(value)
    return str(value) if plain is value else plain


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format_number(value, digits, big=1e6, sci="g")
    return visible(str(value))


def print_table(
    rows: Iterable[Mapping[str, Any]] | Any,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    digits: int = 4,
) -> None:
    """A table from records or a DataFrame: a Rich table, or csv/tsv/markdown text after
    ``--format`` (:func:`set_table_format`).

    A Rich table printed to a pipe or file is as wide as its cells need (never wrapped at 80
    columns), so every row stays on one line with all its columns."""
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict(orient="records")
    rows = [dict(r) for r in rows]
    cols = list(columns) if columns else (list(rows[0]) if rows else [])
    cells = [[_fmt(to_jsonable(r.get(c)), digits) for c in cols] for r in rows]
    if _output["format"] != "table":
        typer.echo(_as_text(_output["format"], title, [str(c) for c in cols], cells), nl=False)
        return
    # cells, headers and title are text: a model name like "[bold]" must print as written
    table = Table(title=Text(visible(title)) if title is not None else None, show_lines=False)
    for c in cols:
        table.add_column(Text(visible(str(c))), overflow="fold")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    if console.is_terminal:
        console.print(table)
    else:
        # a pipe or file: as wide as the cells need (Rich would wrap at $COLUMNS or 80)
        wide = Measurement.get(console, console.options.update(width=_UNWRAPPED), table).maximum
        TextConsole(file=console.file, width=max(console.width, wide)).print(table)


_UNWRAPPED = 1_000_000
"""The width a table may take when it is measured for a pipe (every cell on one line)."""


def _as_text(fmt: str, title: str | None, cols: list[str], cells: list[list[str]]) -> str:
    """One table as csv, tsv or markdown text; csv/tsv start with ``# title`` and end with a
    blank line, markdown with a ``### title`` heading (cells' ``|`` escaped)."""
    out = io.StringIO()
    if fmt == "markdown":
        if title:
            out.write(f"### {one_line(title)}\n\n")

        def md(cell: str) -> str:
            return one_line(cell).replace("\\", "\\\\").replace("|", "\\|")

        out.write("| " + " | ".join(md(c) for c in cols) + " |\n")
        out.write("|" + "|".join("---" for _ in cols) + "|\n")
        for row in cells:
            out.write("| " + " | ".join(md(c) for c in row) + " |\n")
        out.write("\n")
        return out.getvalue()
    if title:
        out.write(f"# {one_line(title)}\n")
    writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerow(cols)
    writer.writerows(cells)
    out.write("\n")
    return out.getvalue()
