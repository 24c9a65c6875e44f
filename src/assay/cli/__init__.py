"""The ``assay`` command line: thin wrappers over the Python API."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from assay.errors import AssayError

__all__ = ["app", "main"]

#: each part (module of assay.cli) and the top-level commands it registers; a command line
#: imports only its command's part (``import`` also ``rank``, which adds ``import battles``)
COMMANDS: dict[str, tuple[str, ...]] = {
    "store": ("store", "import", "models", "export"),
    "tasks": ("tasks",),
    "eval": ("eval",),
    "stats": ("compare", "power", "flips", "bias", "items", "variance"),
    "rank": ("rank", "arena", "import"),
    "judge": ("judge",),
    "forecast": ("forecast",),
    "report": ("report", "serve"),
    "robust": ("robustness", "fairness", "fairness-probes", "order-stability"),
    "helm": ("calibration", "efficiency", "breakdown", "reliability"),
}

_HELP = (
    "Evaluate language models with honest error bars.\n\n"
    "Workflow: `assay eval` runs a model on tasks and writes every scored sample to a DuckDB "
    "store (or `assay import` brings in lm-eval and other results); `assay compare` and "
    "`assay rank` tell which model is better and how sure we are; `assay forecast` predicts "
    "bigger models; `assay report` writes one HTML page and `assay serve` shows it live."
)


def _hide_flag_types() -> None:
    """``--help`` shows each option's value type (``<int>``, ``<path>``) but nothing for a flag,
    which takes no value (typer would print ``<bool>``)."""
    option = typer.core.TyperOption
    if getattr(option.display_type_rich, "_assay", False):
        return
    shown = option.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._assay = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


_hide_flag_types()

_DEBUG_ENV = "ASSAY_DEBUG"
_state = {"debug": False}


def _print_version(value: bool) -> None:
    if value:
        from assay import __version__

        typer.echo(f"assay {__version__}")
        raise typer.Exit()


def _top_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the full Python traceback when assay crashes (or set ASSAY_DEBUG=1).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print assay's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    from ._common import set_table_format

    _state["debug"] = debug
    set_table_format("table")


def _parts(args: list[str]) -> tuple[str, ...]:
    """The parts a command line needs: its command's (the first word that is not an option;
    the top-level options take no value), none for ``--version`` alone, or every part (no
    command, --help, a typo)."""
    command = next((a for a in args if not a.startswith("-")), None)
    if command is None and "--version" in args and "--help" not in args:
        return ()
    needed = tuple(part for part, names in COMMANDS.items() if command in names)
    return needed or tuple(COMMANDS)


_apps: dict[tuple[str, ...] | str, typer.Typer] = {}


def _new_app() -> typer.Typer:
    """The ``assay`` app with its top-level options and no command yet."""
    built = typer.Typer(
        name="assay",
        help=_HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    built.callback()(_top_options)
    return built


def build_app(parts: tuple[str, ...] | None = None) -> typer.Typer:
    """The ``assay`` app with the commands of ``parts`` (default: all), built once each."""
    parts = tuple(COMMANDS) if parts is None else parts
    if parts not in _apps:
        import importlib

        built = _new_app()
        for part in parts:
            importlib.import_module(f"{__name__}.{part}").register(built)
        if parts:  # (``--version`` alone imports nothing heavy: no part, no layout)
            from ._help import organise

            organise(built)
        _apps[parts] = built
    return _apps[parts]


def listing_app() -> typer.Typer:
    """The app ``assay --help`` (and ``assay`` alone) shows: every top-level command's name,
    panel and summary (:data:`._index.SUMMARIES`), none of their parts imported."""
    if "listing" not in _apps:
        from ._help import panels
        from ._index import SUMMARIES

        built = _new_app()
        for name, summary in SUMMARIES.items():
            built.command(name, help=summary)(_listed)
        panels(built)
        _apps["listing"] = built
    return _apps["listing"]


def _listed() -> None:  # (a command of the listing: never run, its name is only listed)
    raise typer.Exit(2)


def _app_for(args: list[str]) -> typer.Typer:
    """The app a command line needs: for the top-level help (no command), the listing."""
    command = next((a for a in args if not a.startswith("-")), None)
    if command is None and ("--help" in args or not args):
        return listing_app()
    return build_app(_parts(args))


def __getattr__(name: str):
    if name == "app":  # the whole app, built when first asked for
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _debug() -> bool:
    env = os.environ.get(_DEBUG_ENV, "").strip().lower()
    return _state["debug"] or env in ("1", "true", "yes", "on")


def _write_trace(exc: BaseException) -> Path:
    """The full traceback in ``<tmp>/assay-crash-<timestamp>-<pid>.log``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = Path(tempfile.gettempdir()) / f"assay-crash-{stamp}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    # private (the command line may hold a token) and never over an existing file
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"assay {' '.join(sys.argv[1:])}\n\n{text}")
    return path


def _crash(exc: Exception) -> None:
    """One line for an unexpected exception; the traceback goes to a file."""
    from ._common import one_line, print_error

    what = f"{type(exc).__name__}: {one_line(str(exc))}".rstrip(": ")
    try:
        where = f"full trace written to {_write_trace(exc)}"
    except OSError as write_error:
        where = f"the trace could not be written: {one_line(str(write_error))}"
    print_error(f"{what} ({where}; rerun with --debug to see it)")


def _print_error(message: str) -> None:
    from ._common import print_error

    print_error(message)


def main() -> None:
    """Console entry point: one line on stderr for every error, never a traceback.

    User errors (:class:`AssayError`) exit 1; a crash exits 1 with its traceback written to a
    file (shown instead with ``--debug`` or ``ASSAY_DEBUG=1``); Ctrl-C exits 130. Usage errors
    keep click's exit code 2.
    """
    _state["debug"] = False
    try:
        _app_for(sys.argv[1:])()
    except AssayError as exc:
        _print_error(str(exc))
        sys.exit(1)
    except SystemExit as exc:
        if exc.code == 130:  # typer turns KeyboardInterrupt into Exit(130)
            _print_error("interrupted")
        raise
    except KeyboardInterrupt:
        _print_error("interrupted")
        sys.exit(130)
    except Exception as exc:
        if _debug():
            raise
        _crash(exc)
        sys.exit(1)
