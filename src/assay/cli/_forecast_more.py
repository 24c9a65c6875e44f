"""CLI commands for observational scaling, COD, PassUntil and accuracy-on-the-line: thin
wrappers over the assay.forecast functions of the same names (the analysis lives there)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from assay.core import level_label
from assay.errors import InputError

from ._common import console, print_json, print_table
from ._forecast_inputs import (
    ColOption,
    FloorOption,
    Table,
    holdout_option,
    n_items_option,
    skill_words,
    table_input,
    warn_dropped,
)
from ._options import (
    RESAMPLING,
    JsonOption,
    Resampling,
    forecast_confidence,
    forecast_resampling,
    split_list,
    with_options,
)

Names = Annotated[
    str, typer.Option("--benchmarks", help="Comma-separated benchmark columns for the PCA.")
]


def _names(text: str) -> list[str]:
    names = split_list(text) or []
    if len(names) < 2:
        raise InputError("--benchmarks needs at least 2 comma-separated columns")
    return names


@dataclass(frozen=True)
class Observational:
    """The settings the observational fit and its leave-family-out backtest share."""

    compute: str
    family: str
    model: str
    n_components: int | None
    floor: float

    @property
    def kwargs(self) -> dict[str, Any]:
        return asdict(self)


def observational_options(
    compute: Annotated[str, typer.Option("--compute", help="Compute column.")] = "flops",
    family_col: Annotated[str, typer.Option("--family-col", help="Family column.")] = "family",
    model_col: Annotated[str, typer.Option("--model-col", help="Model column.")] = "model",
    components: Annotated[
        int | None,
        typer.Option(
            "--components", help="Principal components (default: 3, at most the benchmarks)."
        ),
    ] = None,
    floor: FloorOption = 0.0,
) -> Observational:
    """The options of :class:`Observational` (an option group for ``with_options``)."""
    return Observational(compute, family_col, model_col, components, floor)


def observational_cmd(
    source: Table,
    benchmarks: Names,
    target: Annotated[str, typer.Option("--target", help="Benchmark column to forecast.")],
    fit: Observational,
    holdout_above: Annotated[
        float | None, holdout_option("Fit the target on models with compute <= this.")
    ] = None,
    leave_family_out: Annotated[
        bool,
        typer.Option(
            "--leave-family-out",
            help="Backtest: leave each family out in turn, fit on the rest, predict its models.",
        ),
    ] = False,
    method: Annotated[
        str,
        typer.Option(
            "--method", help="With --leave-family-out: blend | select | observational | log-linear."
        ),
    ] = "blend",
    n_items: Annotated[
        float | None, n_items_option("Items in the target benchmark (binomial evaluation noise).")
    ] = None,
    level: float = 0.9,
    as_json: JsonOption = False,
) -> None:
    """Observational scaling (Ruan et al.): PCA capabilities -> target, calibrated intervals."""
    from assay.forecast import observational_scaling

    df = source.load()
    source.require(df, fit.compute, fit.family, target, *_names(benchmarks))
    if leave_family_out:
        if holdout_above is not None:
            raise InputError("--leave-family-out and --holdout-above are two backtests: give one")
        _family_out(df, _names(benchmarks), target, fit, method, n_items, level, as_json)
        return
    mask = None
    if holdout_above is not None:
        mask = (pd.to_numeric(df[fit.compute], errors="coerce") <= holdout_above).to_numpy()
    result = observational_scaling(
        df, _names(benchmarks), target, **fit.kwargs, fit_mask=mask, bootstrap=0, level=level
    )
    scores = result.scores
    out = {"fit": result.to_dict(), "level": level, "models": scores.to_dict(orient="records")}
    backtest = result.heldout_errors(level) if mask is not None else None
    if backtest is not None:
        out["backtest"] = backtest
    if as_json:
        print_json(out)
        return
    shown = [c for c in ("model", "family", "target", "fitted", "low", "high") if c in scores]
    print_table(scores[shown], title=f"observational scaling of {target} (n={result.n})")
    if "backtest" in out:
        b = out["backtest"]
        base = ", ".join(f"{k} {v:.3g}" for k, v in b["baselines_mae"].items())
        console.print(
            f"held-out models: MAE {b['mae']:.3g}, {level_label(level)} coverage "
            f"{b['coverage']:.0%}; naive baselines MAE: {base}; {skill_words(b['skill'])}"
        )


def _family_out(df, names, target, fit: Observational, method, n_items, level, as_json) -> None:
    """``observational --leave-family-out``: the backtest's rows, errors and baselines."""
    from assay.forecast import leave_family_out

    bt = leave_family_out(
        df, names, target, **fit.kwargs, method=method, n_items=n_items, level=level
    )
    if as_json:
        print_json({"level": level, "backtest": bt.to_dict()})
        return
    shown = ["model", "family", "method", "actual", "prediction", "low", "high"]
    print_table(bt.heldout[shown], title=f"{target}: each family left out of the fit")
    base = ", ".join(f"{k} {v:.3g}" for k, v in bt.baselines.items())
    console.print(
        f"leave-one-family-out ({bt.n_heldout} models, {len(bt.families)} families): MAE "
        f"{bt.mae:.3g}, {level_label(level)} coverage {bt.coverage:.0%}, mean width "
        f"{bt.width:.3g}; naive baselines MAE: {base}; {skill_words(bt.skill)}"
    )


def cod_cmd(
    source: Table,
    target_x: Annotated[float, typer.Option("--at", help="x (compute) to forecast at.")],
    x: Annotated[str, typer.Option("--x", help="Compute-like column.")] = "flops",
    item: ColOption = "item",
    score: ColOption = "score",
    chance: FloorOption = 0.0,
    rs: Resampling = RESAMPLING,
    as_json: JsonOption = False,
) -> None:
    """COD (Xu et al.): cluster items, keep the predictable clusters, map to the benchmark."""
    from assay.forecast import cod_forecast

    df = source.load()
    source.require(df, x, "model", item, score)
    res = cod_forecast(df, target_x, x=x, item=item, score=score, chance=chance, **rs.kwargs)
    if as_json:
        print_json(res.to_dict())
        return
    print_table(res.clusters, title=f"COD clusters ({res.n_items} items, {res.n_models} models)")
    console.print(
        f"forecast at {x} = {target_x:.3g}: {res.prediction:.3f} "
        f"({level_label(rs.confidence)} interval {res.low:.3f} to {res.high:.3f})"
    )
    how = res.to_dict()["interval"]
    console.print(f"interval: {how['method']}: {how['note']}", markup=False, highlight=False)


def passuntil_cmd(
    source: Table,
    at: Annotated[list[float] | None, typer.Option("--at", help="Sizes to predict at.")] = None,
    params: ColOption = "params",
    item: ColOption = "item",
    successes: ColOption = "successes",
    trials: ColOption = "trials",
    rs: Resampling = RESAMPLING,
    as_json: JsonOption = False,
) -> None:
    """PassUntil (Hu et al.): log(-log pass rate) linear in log N, from repeated sampling."""
    from assay.forecast import pass_until

    df = source.load()
    columns = {"params": params, "item": item, "successes": successes, "trials": trials}
    source.require(df, *columns.values())
    try:
        fit = pass_until(df, **columns, **rs.kwargs)
    except InputError as exc:  # name the file
        raise InputError(f"{source.data}: {exc}") from None
    if any(not (np.isfinite(v) and v > 0) for v in at or []):
        raise InputError("--at values must be positive numbers")
    pred = fit.predict(np.array(at), level=rs.confidence) if at else None
    if as_json:
        out = fit.to_dict()
        out["prediction"] = (
            None if pred is None else pred.assign(level=rs.confidence).to_dict(orient="records")
        )
        print_json(out)
        return
    print_table(fit.table, title=f"PassUntil: slope {fit.slope:.3g}, intercept {fit.intercept:.3g}")
    if pred is not None:
        print_table(pred, title=f"predicted pass rate ({level_label(rs.confidence)} intervals)")


def on_the_line_cmd(
    source: Table,
    id_col: Annotated[str, typer.Option("--id", help="In-distribution accuracy column.")],
    ood_col: Annotated[str, typer.Option("--ood", help="Out-of-distribution accuracy column.")],
    as_json: JsonOption = False,
) -> None:
    """Accuracy on the line (Miller et al.): probit(OOD) linear in probit(ID), curvature test."""
    from assay.forecast import accuracy_on_the_line

    df = source.load()
    source.require(df, id_col, ood_col)
    vals = df[[id_col, ood_col]].apply(pd.to_numeric, errors="coerce")  # non-numbers: NaN
    bad = vals[(vals < 0).any(axis=1) | (vals > 1).any(axis=1)]
    if len(bad):
        raise InputError(f"{source.data}: {len(bad)} rows have accuracies outside [0, 1]")
    try:
        res = accuracy_on_the_line(vals[id_col], vals[ood_col])  # drops and counts NaN rows
    except InputError as exc:  # name the file
        raise InputError(f"{source.data}: {exc}") from None
    warn_dropped(res.dropped)
    if as_json:
        print_json(res.to_dict())
        return
    shown = {k: v for k, v in res.to_dict().items() if k != "dropped"}
    print_table([shown], title=f"{ood_col} against {id_col} (probit scale)")


def add_commands(app: typer.Typer) -> None:
    """Register these commands on the ``forecast`` app."""
    for name, fn, options in (
        (
            "observational",
            observational_cmd,
            {"fit": observational_options, "level": forecast_confidence},
        ),
        ("cod", cod_cmd, {"rs": forecast_resampling(100)}),
        ("passuntil", passuntil_cmd, {"rs": forecast_resampling(1000)}),
        ("on-the-line", on_the_line_cmd, {}),
    ):
        app.command(name)(with_options(source=table_input, **options)(fn))


__all__ = ["add_commands"]
