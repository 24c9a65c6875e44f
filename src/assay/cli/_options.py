"""The options several commands share, each defined once, and :func:`with_options`, which
adds a group of options to commands and hands the command one object built from them."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.core import DEFAULT_CONFIDENCE, resolve_confidence
from assay.errors import InputError
from assay.store import Evidence, Store

from ._common import TABLE_FORMATS, bounded, get_store, set_table_format

MAX_BOOTSTRAP = 100_000
"""Upper bound of every ``--bootstrap`` (the resamples are held in memory)."""
FORECAST_CONFIDENCE = 0.9
"""The default ``--confidence`` of forecast prediction intervals (others: 0.95)."""

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="ASSAY_STORE",
        help="DuckDB store file, or a Parquet export folder to read (default: ./assay.duckdb, "
        "or $ASSAY_STORE).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _table_format(param: typer.CallbackParam, value: str) -> str:
    return set_table_format(str(value).strip().lower())


FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="Write the tables as table (Rich, the default), csv, tsv or markdown.",
        metavar="|".join(TABLE_FORMATS),
        callback=_table_format,
        show_default=False,
    ),
]
"""``--format``: how the command's tables are written (every command with ``--json`` has it)."""
DataRootOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data-root",
        help="A folder task files may also read data from (repeatable); by default a task file "
        "reads only under its own folder.",
        metavar="DIR",
    ),
]


def seed_option(help: str = "Random seed (>= 0).") -> Any:
    """The ``typer.Option`` of ``--seed``, a whole number >= 0; ``help`` says what it seeds."""
    return typer.Option("--seed", help=help, callback=bounded(0))


SeedOption = Annotated[int, seed_option()]
BootstrapOption = Annotated[
    int,
    typer.Option(
        "--bootstrap",
        help=f"Bootstrap rounds for the intervals (0 to {MAX_BOOTSTRAP}).",
        callback=bounded(0, MAX_BOOTSTRAP),
    ),
]


def split_list(text: str | Sequence[str] | None, *, unique: bool = False) -> list[str] | None:
    """The one splitter of comma lists: ``"a, b,,c"`` (or several such texts, a repeated
    option's values) is ``[a, b, c]``, each item stripped and empty ones dropped; None when
    nothing is left. ``unique`` keeps only the first of a repeated item."""
    texts = [text] if isinstance(text, str) else list(text or [])
    names = [n.strip() for v in texts for n in str(v).split(",")]
    names = [n for n in names if n]
    if unique:
        names = list(dict.fromkeys(names))
    return names or None


def split_names(param: typer.CallbackParam, value: Sequence[str] | None) -> list[str] | None:
    """A typer callback for a repeatable option: ``-t a,b -t c`` is ``[a, b, c]`` (each name
    stripped, empty ones dropped, the first of a repeated name kept); none is None."""
    return split_list(value, unique=True)


def one_name(param: typer.CallbackParam, value: Sequence[str] | None) -> list[str] | None:
    """:func:`split_names` for an option that takes one value: several are a one-line error."""
    names = split_names(param, value)
    if names and len(names) > 1:
        opt = max(param.opts, key=len) if param.opts else str(param.name)
        raise InputError(f"{opt} takes one task here, not {len(names)}: {', '.join(names)}")
    return names


def only(names: Sequence[str] | None) -> str | None:
    """The one value of an option checked by :func:`one_name` (None when not given)."""
    return names[0] if names else None


TasksOption = Annotated[
    list[str] | None,
    typer.Option(
        "--task",
        "-t",
        help="Task name(s): repeat -t or separate with commas (default: all).",
        metavar="TASK[,TASK...]",
        callback=split_names,
        show_default=False,
    ),
]
"""``-t/--task`` for commands that take several tasks (a list of names, or None for all)."""


def one_task(help: str) -> Any:
    """The ``typer.Option`` of ``-t/--task`` for a command that takes one task (a list of at
    most one name, or None: read it with :func:`only`); ``help`` says which task."""
    return typer.Option(
        "--task", "-t", help=help, metavar="TASK", callback=one_name, show_default=False
    )


TaskOption = Annotated[list[str] | None, one_task("Task name (one).")]
"""``-t/--task`` for commands that take one task: read it with :func:`only`."""
MetricOption = Annotated[
    str | None,
    typer.Option(
        "--metric", help="Metric (default per task: acc, else exact_match, else the first)."
    ),
]
ModelOption = Annotated[str | None, typer.Option("--model", help="Model (default: all).")]
"""``--model`` for commands that take one model or all."""
ModelsOption = Annotated[
    str | None, typer.Option("--models", help="Comma-separated models (default: all).")
]
CorrectionOption = Annotated[
    str, typer.Option("--correction", help="holm, bh (Benjamini-Hochberg) or none.")
]
"""``--correction``: how p-values are adjusted over a family of tests (default: holm)."""
AlphaOption = Annotated[
    float,
    typer.Option(
        "--alpha", help="Significance level, in (0, 0.5].", callback=bounded(0, 0.5, low_open=True)
    ),
]
"""``--alpha`` of ``assay power`` only: the significance level a planned test will use. Every
other command takes the level as ``--confidence`` (:func:`confidence_option`)."""

_OPEN01 = bounded(0, 1, low_open=True, high_open=True)
_CONFIDENCE_HELP = (
    f"Confidence level of every interval, in (0, 1); tests are at significance 1 - it "
    f"(default {DEFAULT_CONFIDENCE})."
)
ConfidenceOption = Annotated[
    float | None,
    typer.Option(
        "--confidence",
        help=_CONFIDENCE_HELP,
        callback=_OPEN01,
        show_default=False,
    ),
]
ForecastConfidenceOption = Annotated[
    float | None,
    typer.Option(
        "--confidence",
        help=f"Confidence level of the prediction intervals, in (0, 1) "
        f"(default {FORECAST_CONFIDENCE}).",
        callback=_OPEN01,
        show_default=False,
    ),
]
AlphaAliasOption = Annotated[
    float | None,
    typer.Option(
        "--alpha",
        help="Deprecated: use --confidence (--alpha A means --confidence 1 - A).",
        callback=_OPEN01,
        show_default=False,
    ),
]
LevelAliasOption = Annotated[
    float | None,
    typer.Option(
        "--level",
        help="Deprecated: use --confidence (the same number).",
        callback=_OPEN01,
        show_default=False,
    ),
]


def confidence_option(confidence: ConfidenceOption = None, alpha: AlphaAliasOption = None) -> float:
    """An option group for :func:`with_options`: ``--confidence`` (default 0.95) with its
    deprecated alias ``--alpha``; the command receives the confidence level (a float)."""
    return resolve_confidence(confidence, alpha=("alpha", alpha))


def forecast_confidence(
    confidence: ForecastConfidenceOption = None, level: LevelAliasOption = None
) -> float:
    """``--confidence`` of the prediction intervals (default 0.9) with its deprecated alias
    ``--level`` (an option group for :func:`with_options`)."""
    return resolve_confidence(confidence, default=FORECAST_CONFIDENCE, level=("level", level))


def level_confidence(confidence: ConfidenceOption = None, level: LevelAliasOption = None) -> float:
    """``--confidence`` (default 0.95) with its deprecated alias ``--level`` (an option group
    for :func:`with_options`)."""
    return resolve_confidence(confidence, level=("level", level))


def report_confidence(
    confidence: ConfidenceOption = None,
    alpha: AlphaAliasOption = None,
    level: LevelAliasOption = None,
) -> float:
    """``--confidence`` with both old spellings, ``--alpha`` and ``--level``, as deprecated
    aliases (``assay report`` took both)."""
    return resolve_confidence(confidence, alpha=("alpha", alpha), level=("level", level))


@dataclass(frozen=True)
class Resampling:
    """The interval options of a bootstrap analysis; ``**r.kwargs`` hands them on."""

    bootstrap: int = 200
    seed: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def kwargs(self) -> dict[str, Any]:
        return asdict(self)


RESAMPLING = Resampling()


def resampling_options(
    bootstrap: BootstrapOption = RESAMPLING.bootstrap,
    confidence: ConfidenceOption = None,
    alpha: AlphaAliasOption = None,
    seed: SeedOption = RESAMPLING.seed,
) -> Resampling:
    """An option group for :func:`with_options`: ``--bootstrap`` (default 200),
    ``--confidence`` (with its deprecated alias ``--alpha``) and ``--seed``."""
    return Resampling(bootstrap, seed, confidence_option(confidence, alpha))


def forecast_resampling(bootstrap: int) -> Callable[..., Resampling]:
    """An option group for :func:`with_options`: ``--bootstrap`` (default ``bootstrap``),
    ``--seed`` and the prediction intervals' ``--confidence`` (default 0.9, with its deprecated
    alias ``--level``), as one :class:`Resampling`."""

    def options(
        bootstrap: BootstrapOption = bootstrap,
        seed: SeedOption = RESAMPLING.seed,
        confidence: ForecastConfidenceOption = None,
        level: LevelAliasOption = None,
    ) -> Resampling:
        return Resampling(bootstrap, seed, forecast_confidence(confidence, level))

    return options


@dataclass(frozen=True)
class Scope:
    """What an analysis reads: the store, the tasks and models (None: all) and the metric
    (None: each task's headline)."""

    store: Path | None = None
    tasks: list[str] | None = None
    models: list[str] | None = None
    metric: str | None = None

    def open(self) -> Store:
        """The store (a missing one is a one-line error)."""
        return get_store(self.store, must_exist=True)

    def evidence(self) -> Evidence:
        """The store's evidence (``Store.evidence``); no scored samples is a one-line error."""
        st = self.open()
        ev = st.evidence()
        if ev.scores.empty:
            raise InputError(f"the store at {st.path} has no scored samples")
        return ev

    @property
    def selection(self) -> dict[str, Any]:
        """``metric=``, ``models=`` and ``tasks=`` for an analysis of :mod:`assay.stats`."""
        return {"metric": self.metric, "models": self.models, "tasks": self.tasks}


SCOPE = Scope()


def scope_options(
    store: StoreOption = None,
    task: TasksOption = None,
    models: ModelsOption = None,
    metric: MetricOption = None,
) -> Scope:
    """An option group for :func:`with_options`: ``--store``, ``-t/--task`` (several),
    ``--models`` and ``--metric``."""
    return Scope(store, task, split_list(models), metric)


def model_scope(
    store: StoreOption = None, model: ModelOption = None, task: TasksOption = None
) -> Scope:
    """An option group for :func:`with_options`: ``--store``, ``--model`` (one, or all) and
    ``-t/--task`` (several); the metric is the command's own."""
    return Scope(store, task, None if model is None else [model])


def with_options(**groups: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable]:
    """A decorator: for each ``name=build``, the parameters of ``build`` (typer-annotated
    options and arguments) take the place of the command's parameter ``name``, and the command
    receives ``build(**their values)`` there.

    So a group of options that several commands share is written once, as ``build``'s
    signature, and read once, by ``build``. The options keep the command's order (a group's
    options where its parameter stands), arguments (no default) first."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        shared = {
            name: list(inspect.signature(build, eval_str=True).parameters.values())
            for name, build in groups.items()
        }
        own = inspect.signature(command, eval_str=True).parameters
        params: list[inspect.Parameter] = []
        for p in own.values():
            params += shared.get(p.name, [p])
        names = [p.name for p in params]
        if set(groups) - set(own) or len(set(names)) != len(names):
            raise TypeError(f"{command.__name__}: shared options clash with its parameters")
        params.sort(key=lambda p: p.default is not inspect.Parameter.empty)  # arguments first

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            for name, build in groups.items():
                values[name] = build(**{p.name: values.pop(p.name) for p in shared[name]})
            return command(**values)

        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
        )
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return decorate


def _has_option(command: Callable[..., Any], flag: str) -> bool:
    for p in inspect.signature(command, eval_str=True).parameters.values():
        for meta in getattr(p.annotation, "__metadata__", ()):
            decls = [getattr(meta, "default", None), *(getattr(meta, "param_decls", None) or ())]
            if flag in decls:
                return True
    return False


def add_format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with :data:`FormatOption` added when it prints ``--json`` and has no
    ``--format`` of its own (the option's callback sets the format; the command never sees it)."""
    if not _has_option(command, "--json") or _has_option(command, "--format"):
        return command
    sig = inspect.signature(command, eval_str=True)
    if "table_format" in sig.parameters:
        return command

    @functools.wraps(command)
    def run(*args: Any, table_format: str = "table", **values: Any) -> Any:
        return command(*args, **values)

    params = list(sig.parameters.values())
    extra = inspect.Parameter(
        "table_format", inspect.Parameter.KEYWORD_ONLY, default="table", annotation=FormatOption
    )
    run.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params] + [extra]
    )
    run.__annotations__ = {**{p.name: p.annotation for p in params}, "table_format": FormatOption}
    return run
