"""Shared CLI pieces: the --store and --json options, table/JSON output, one-line errors."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from assay.store import Store, default_store_path

console = Console()
err_console = Console(stderr=True)

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="ASSAY_STORE",
        help="DuckDB store file (default: ./assay.duckdb, or $ASSAY_STORE).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def get_store(path: Path | None, *, must_exist: bool = False) -> Store:
    """Open the store named by --store / $ASSAY_STORE / ./assay.duckdb."""
    resolved = path or default_store_path()
    if must_exist and not Path(resolved).exists():
        fail(f"no store at {resolved} (run `assay eval` or `assay import` first, or pass --store)")
    return Store(resolved)


def fail(message: str, code: int = 1) -> None:
    """Print one line to stderr and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return _clean(value.item())
        except (ValueError, AttributeError):
            pass
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def print_json(data: Any) -> None:
    """JSON to stdout with NaN as null and numpy/pandas values converted."""
    typer.echo(json.dumps(_clean(data), indent=2, default=str))


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** (-digits)):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}"
    return str(value)


def print_table(
    rows: Iterable[Mapping[str, Any]] | Any,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    digits: int = 4,
) -> None:
    """A rich table from records or a DataFrame."""
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict(orient="records")
    rows = [dict(r) for r in rows]
    cols = list(columns) if columns else (list(rows[0]) if rows else [])
    table = Table(title=title, show_lines=False)
    for c in cols:
        table.add_column(str(c), overflow="fold")
    for r in rows:
        table.add_row(*(_fmt(_clean(r.get(c)), digits) for c in cols))
    console.print(table)
