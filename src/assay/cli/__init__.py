"""The ``assay`` command line: thin wrappers over the Python API."""

from __future__ import annotations

import sys

import typer

from assay.errors import AssayError

from . import eval as _eval
from . import forecast as _forecast
from . import rank as _rank
from . import report as _report
from . import stats as _stats
from . import store as _store
from . import tasks as _tasks
from ._common import err_console

__all__ = ["app", "main"]

app = typer.Typer(
    name="assay",
    help=(
        "Evaluate language models with honest error bars.\n\n"
        "Workflow: `assay eval` runs a model on tasks and writes every scored sample to a DuckDB "
        "store (or `assay import` brings in lm-eval and other results); `assay compare` and "
        "`assay rank` tell which model is better and how sure we are; `assay forecast` predicts "
        "bigger models; `assay report` writes one HTML page and `assay serve` shows it live."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _part in (_store, _tasks, _eval, _stats, _rank, _forecast, _report):
    _part.register(app)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 1."""
    try:
        app()
    except AssayError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
