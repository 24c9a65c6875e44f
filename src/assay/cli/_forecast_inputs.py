"""What the forecast commands share: their options, the input table (a file or the store) and
the law to fit, read once by the option groups of :func:`assay.cli._options.with_options`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from assay.errors import InputError

from ._common import bounded, err_console, get_store, output_file
from ._options import BootstrapOption, SeedOption, StoreOption, one_task, only, with_options
from ._progress import Update, progress_bar

if TYPE_CHECKING:
    from assay.forecast import Backtest, LawFit

OPEN01 = bounded(0, 1, low_open=True, high_open=True)

DataArg = Annotated[
    str, typer.Argument(help="CSV/Parquet table of training runs, or `store` for the store.")
]
StoreTaskOption = Annotated[
    list[str] | None, one_task("Task of the store's scores (DATA=store; one).")
]
StoreMetricOption = Annotated[
    str | None,
    typer.Option(
        "--metric", help="Metric of the store's scores (DATA=store; needed with several)."
    ),
]
LawOption = Annotated[str, typer.Option("--law", help="chinchilla | power | kaplan.")]
XOption = Annotated[
    str | None, typer.Option("--x", help="x column for the power law [default: params].")
]
YOption = Annotated[str, typer.Option("--y", help="Column to fit (loss-like, > 0).")]
PlotOption = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="Write a PNG/SVG/PDF plot here.",
        callback=output_file((".png", ".svg", ".pdf")),
    ),
]
ColOption = Annotated[str | None, typer.Option(help="Name of this column in the file.")]
"""``--NAME-col`` (named after its parameter ``NAME_col``): a file's own name of a column."""
OnOption = Annotated[str, typer.Option("--on", help="Column the holdout cut applies to.")]


def holdout_option(help: str) -> Any:
    """The ``typer.Option`` of ``--holdout-above``, a finite number; ``help`` says which rows
    it holds out."""
    return typer.Option("--holdout-above", help=help, callback=bounded())


CutOption = Annotated[float | None, holdout_option("Hold out rows above this value of --on.")]
FloorOption = Annotated[float, typer.Option("--floor", help="Chance level.", callback=bounded())]
ScoreFloorOption = Annotated[
    float | None,
    typer.Option(
        "--floor",
        help="Chance level of a bounded higher-is-better --y (accuracy): backtests that score.",
        callback=bounded(),
    ),
]


def column_options(*names: str) -> Callable[..., dict[str, str]]:
    """An option group for ``with_options``: a :data:`ColOption` ``--NAME-col`` for each of
    ``names``; the command receives ``{NAME: the file's name}`` for those given."""

    def columns(**given: str | None) -> dict[str, str]:
        return {name: col for name in names if (col := given[f"{name}_col"]) is not None}

    keyword = inspect.Parameter.KEYWORD_ONLY
    columns.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(f"{n}_col", keyword, default=None, annotation=ColOption) for n in names]
    )
    return columns


def n_items_option(help: str) -> Any:
    """The ``typer.Option`` of ``--n-items``: items in the benchmark of a bounded score (its
    binomial evaluation noise), at least 1; ``help`` says which benchmark."""
    return typer.Option("--n-items", help=help, callback=bounded(1))


BOUNDED_NAMES = ("score", "accuracy", "acc", "acc_norm")


@dataclass
class Table:
    """DATA: a CSV/Parquet file, or ``store`` for the store's models and mean scores."""

    data: str
    store: Path | None = None
    task: str | None = None
    metric: str | None = None

    def load(self, columns: dict[str, str] | None = None) -> pd.DataFrame:
        """The table; ``columns`` maps canonical names to a file's own column names."""
        from assay.forecast import load_table, table_from_store

        if self.data == "store":
            store = get_store(self.store, must_exist=True)
            return table_from_store(store, task=self.task, metric=self.metric)
        return load_table(self.data, **(columns or {}))

    def require(self, df: pd.DataFrame, *columns: str) -> None:
        """A one-line error naming the first of ``columns`` the table lacks."""
        for col in columns:
            if col not in df.columns:
                listed = ", ".join(map(str, df.columns))
                raise InputError(f"{self.data}: no column {col!r} (columns: {listed})")


def table_input(
    data: DataArg,
    store: StoreOption = None,
    task: StoreTaskOption = None,
    metric: StoreMetricOption = None,
) -> Table:
    """The options of :class:`Table` (an option group for ``with_options``)."""
    return Table(data, store, only(task), metric)


@dataclass
class LawInput:
    """What every law command reads: the :class:`Table` with its file's column names, the law,
    the columns it fits and the bootstrap."""

    table: Table
    law: str
    x: str | None
    y: str
    bootstrap: int
    seed: int
    columns: dict[str, str] = field(default_factory=dict)

    def column(self, name: str | None) -> str | None:
        """The canonical name of a column given by its name in the file."""
        for canonical, original in self.columns.items():
            if name is not None and name == original:
                return canonical
        return name

    def load(self) -> pd.DataFrame:
        return self.table.load(self.columns)

    def fit(self, df: pd.DataFrame, *, show: bool) -> LawFit:
        """The law fitted to ``df`` (with ``bootstrap`` draws), a progress bar when ``show``."""
        from assay.forecast import fit_law

        starts = "4,500 starts" if self.law == "chinchilla" else "multi-start"
        label = f"fitting {self.law} ({starts})"
        x, y = self.column(self.x), self.column(self.y)
        with progress(show, label) as report:
            fit = fit_law(df, self.law, x=x, y=y, bootstrap=0, seed=self.seed, progress=report)
        if self.bootstrap > 0:
            with progress(show, "bootstrap refits", counts=True) as report:
                fit.ensure_draws(self.bootstrap, progress=report)
        warn_dropped(fit.dropped)
        return fit

    def backtest(
        self,
        df: pd.DataFrame,
        *,
        on: str,
        holdout_above: float | None,
        level: float,
        progress: Update | None = None,
    ) -> Backtest:
        """:func:`assay.forecast.backtest` of this law on ``df``, cut on ``on``."""
        from assay.forecast import backtest

        return backtest(
            df,
            law=self.law,
            progress=progress,
            holdout_above=holdout_above,
            on=self.column(on),
            level=level,
            bootstrap=self.bootstrap,
            seed=self.seed,
            x=self.column(self.x),
            y=self.column(self.y),
        )


@with_options(columns=column_options("params", "tokens", "flops", "loss"))
def law_input(
    data: DataArg,
    law: LawOption = "chinchilla",
    x: XOption = None,
    y: YOption = "loss",
    bootstrap: BootstrapOption = 100,
    seed: SeedOption = 0,
    store: StoreOption = None,
    task: StoreTaskOption = None,
    metric: StoreMetricOption = None,
    columns: dict[str, str] | None = None,
) -> LawInput:
    """The options of :class:`LawInput` (an option group for ``with_options``)."""
    return LawInput(Table(data, store, only(task), metric), law, x, y, bootstrap, seed, columns)


@contextmanager
def progress(enabled: bool, label: str, *, counts: bool = False) -> Iterator[Update | None]:
    """:func:`assay.cli._progress.progress_bar` (stderr, a terminal only): fed fractions done,
    or with ``counts`` ``(done, total)``; None when not ``enabled`` or stderr is piped."""
    with progress_bar(label, enabled=enabled, counts=counts) as update:
        yield update


def warn_dropped(dropped: dict[str, int]) -> None:
    """One warning line on stderr naming the rows a fit left out and why (none: silent)."""
    if dropped:
        why = ", ".join(f"{n} {reason}" for reason, n in dropped.items())
        err_console.print(
            f"warning: dropped {sum(dropped.values())} rows ({why})", markup=False, highlight=False
        )


def backtest_line(bt: Backtest | None) -> str:
    """The one line every forecast prints about its backtested error."""
    if bt is None:
        return "backtest: not enough rows to hold out"
    line = bt.summary()
    if bt.baselines:
        line += "; naive baselines MAE: " + ", ".join(
            f"{k} {v:.3g}" for k, v in bt.baselines.items()
        )
        line += "; " + skill_words(bt.skill)
    return line


def skill_words(skill: dict[str, float] | None) -> str:
    """The forecaster's skill against the best naive baseline, in words."""
    best = (skill or {}).get("best", float("nan"))
    if best != best:  # NaN: no baseline
        return "no naive baseline to compare with"
    if best <= 0:
        return f"no skill: the best naive baseline is as good or better (skill {best:+.2f})"
    return f"skill {best:+.2f} against the best naive baseline (1 − MAE/baseline MAE)"


def backtest_json(bt: Backtest | None) -> dict[str, Any] | None:
    """A backtest for a forecast's JSON: its errors, without the fit and the held-out rows."""
    if bt is None:
        return None
    return {k: v for k, v in bt.to_dict().items() if k not in ("heldout", "fit")}
