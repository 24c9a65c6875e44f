"""CLI commands for assay.forecast: fit, predict, backtest, downstream, density, trend."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from assay.core import level_label
from assay.errors import InputError

from ._common import bounded, console, positive_floats, print_json, print_table
from ._forecast_inputs import (
    BOUNDED_NAMES,
    CutOption,
    FloorOption,
    LawInput,
    OnOption,
    PlotOption,
    ScoreFloorOption,
    Table,
    backtest_json,
    backtest_line,
    column_options,
    law_input,
    n_items_option,
    progress,
    table_input,
    warn_dropped,
)
from ._options import (
    BootstrapOption,
    JsonOption,
    SeedOption,
    confidence_option,
    forecast_confidence,
    level_confidence,
    with_options,
)

forecast_app = typer.Typer(
    help=(
        "Forecast bigger models: fit scaling laws (chinchilla, power, kaplan), predict with "
        "intervals, two-stage downstream forecasts, capacity density, trend checks and "
        "backtests. DATA is a CSV/Parquet table, or `store` for the store's models and scores."
    ),
    no_args_is_help=True,
)


def _params_rows(fit) -> list[dict[str, Any]]:
    return [
        {
            "param": k,
            "value": v,
            "low": fit.ci.get(k, (np.nan,))[0],
            "high": fit.ci.get(k, (np.nan, np.nan))[1],
        }
        for k, v in fit.params.items()
    ]


def _long_optimal(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per (budget, quantity) with value, low, high: readable in a terminal."""
    rows = []
    for rec in table.to_dict(orient="records"):
        for q in ("params_opt", "tokens_opt", "tokens_per_param", "loss_opt"):
            rows.append(
                {
                    "flops": rec["flops"],
                    "quantity": q,
                    "value": rec[q],
                    "low": rec[f"{q}_low"],
                    "high": rec[f"{q}_high"],
                }
            )
    return rows


@forecast_app.command("fit")
@with_options(inp=law_input)
def fit_cmd(inp: LawInput, plot: PlotOption = None, as_json: JsonOption = False) -> None:
    """Fit a loss law; print {"law", "params", "ci", "n", "rmse"} (ci: bootstrap 95%)."""
    df = inp.load()
    fit = inp.fit(df, show=not as_json)
    if plot is not None:
        from assay.forecast import plot_forecast

        title = f"{inp.law} fit (n={fit.n}, rmse {fit.rmse:.3g})"
        plot_forecast(fit, df, path=plot, title=title)
    if as_json:
        print_json(fit.to_dict())
        return
    print_table(_params_rows(fit), title=f"{inp.law} law: n={fit.n}, rmse={fit.rmse:.4g}")


@forecast_app.command("predict")
@with_options(inp=law_input, level=forecast_confidence)
def predict_cmd(
    inp: LawInput,
    at_params: Annotated[
        list[str] | None, typer.Option("--at-params", help="N to predict at.")
    ] = None,
    at_tokens: Annotated[
        list[str] | None, typer.Option("--at-tokens", help="D (with --at-params).")
    ] = None,
    at_flops: Annotated[
        list[str] | None,
        typer.Option("--at-flops", help="Compute budgets: compute-optimal N, D, loss."),
    ] = None,
    at_x: Annotated[list[str] | None, typer.Option("--at-x", help="x values (power law).")] = None,
    on: OnOption = "flops",
    holdout_above: CutOption = None,
    level: float = 0.9,
    plot: PlotOption = None,
    as_json: JsonOption = False,
) -> None:
    """Predict with intervals from a fitted law, with the law's backtested error."""
    from assay.forecast import compute_optimal, plot_forecast

    # every value to predict at is checked before the (slow) fit
    if inp.law == "power":
        xs = positive_floats(at_x or at_params, "--at-x" if at_x else "--at-params")
        if not xs:
            raise InputError("give values to predict at with --at-x")
    else:
        n = positive_floats(at_params, "--at-params")
        d = positive_floats(at_tokens, "--at-tokens")
        c = positive_floats(at_flops, "--at-flops")
        if len(n) != len(d):
            raise InputError("--at-params and --at-tokens must be given the same number of times")
        if not n and not c:
            raise InputError("give --at-params with --at-tokens, or --at-flops")
    from assay.forecast import calibrate_law

    df = inp.load()
    fit = inp.fit(df, show=not as_json)
    on = on if inp.column(on) in df.columns else (inp.x or "params")
    try:  # the interval calibrated by rolling-origin backtests inside the data
        with progress(not as_json, "calibrating (rolling-origin refits)", counts=True) as report:
            calibrate_law(fit, df, on=inp.column(on), progress=report)
        how = fit.calibration.to_dict(level)
        interval_line = (
            f"interval: calibrated {level_label(level)} ({how['method']}, {how['n_errors']} rolling-origin "
            f"errors from {how['n_origins']} origins; widens with log({on}) beyond the data)"
        )
    except InputError as exc:
        interval_line = f"interval: bootstrap (not calibrated: {exc})"
    tables = []
    if inp.law == "power":
        tables.append(("prediction", fit.predict(np.array(xs), level=level)))
    else:
        if n:
            pred = fit.predict({fit.inputs[0]: n, fit.inputs[1]: d}, level=level)
            tables.append(("prediction", pred))
        if c:
            tables.append(("compute_optimal", compute_optimal(fit, c, level=level).table))
    try:  # every forecast states its backtested error: fit below the cut, score above it
        bt = inp.backtest(df, on=on, holdout_above=holdout_above, level=level)
    except InputError:
        bt = None
    out: dict[str, Any] = {"fit": fit.to_dict()}
    out.update({name: t.to_dict(orient="records") for name, t in tables})
    out["backtest"] = backtest_json(bt)
    out["interval"] = interval_line
    if plot is not None:
        below = df if bt is None else df[pd.to_numeric(df[bt.on]) <= bt.cut]
        plot_forecast(fit, below, heldout=None if bt is None else bt.table, backtest=bt, path=plot)
    if as_json:
        print_json(out)
        return
    for name, table in tables:
        if name == "compute_optimal":
            table = _long_optimal(table)
        print_table(table, title=f"{inp.law} {name} ({level_label(level)} intervals)")
    console.print(interval_line)
    console.print(backtest_line(bt))


@forecast_app.command("backtest")
@with_options(inp=law_input, level=forecast_confidence)
def backtest_cmd(
    inp: LawInput,
    holdout_above: CutOption = None,
    on: OnOption = "flops",
    level: float = 0.9,
    floor: ScoreFloorOption = None,
    ceiling: Annotated[
        float, typer.Option("--ceiling", help="Score ceiling (bounded --y).", callback=bounded())
    ] = 1.0,
    method: Annotated[
        str,
        typer.Option(
            "--method", help="Bounded --y: power-error | log-linear | flat | family-mean | select."
        ),
    ] = "power-error",
    n_items: Annotated[
        float | None,
        n_items_option(
            "Bounded --y: items in the benchmark (binomial evaluation noise of each score)."
        ),
    ] = None,
    plot: PlotOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit on rows with --on <= --holdout-above, report MAE, MAPE, coverage above it.

    A bounded higher-is-better --y (given --floor, or named score/accuracy) is forecast by
    assay.forecast.fit_score and printed beside the naive baselines' MAE."""
    from assay.forecast import backtest_score, plot_forecast

    df = inp.load()
    if floor is not None or inp.y in BOUNDED_NAMES:
        y, x = inp.column(inp.y), inp.column(on)
        inp.table.require(df, x, y)
        bt = backtest_score(
            df,
            x=x,
            y=y,
            holdout_above=holdout_above,
            level=level,
            floor=floor or 0.0,
            ceiling=ceiling,
            method=method,
            n_items=n_items,
        )
        warn_dropped(bt.fit.dropped)
        if as_json:
            print_json(bt.to_dict())
            return
        shown = [c for c in ("model", x) if c in bt.table] + ["actual", "prediction", "low", "high"]
        print_table(bt.table[shown], title="held-out rows")
        console.print(backtest_line(bt))
        return
    with progress(not as_json, f"backtesting {inp.law} (fits)", counts=True) as report:
        bt = inp.backtest(df, on=on, holdout_above=holdout_above, level=level, progress=report)
    warn_dropped(bt.fit.dropped)
    if plot is not None:
        below = df[pd.to_numeric(df[bt.on]) <= bt.cut]
        plot_forecast(bt.fit, below, heldout=bt.table, backtest=bt, path=plot)
    if as_json:
        print_json(bt.to_dict())
        return
    cols_out = [c for c in (bt.on, *bt.fit.inputs) if c in bt.table.columns]
    cols_out = list(dict.fromkeys(cols_out)) + ["actual", "prediction", "low", "high"]
    print_table(bt.table[cols_out], title="held-out rows")
    console.print(backtest_line(bt))


@forecast_app.command("downstream")
@with_options(source=table_input, level=forecast_confidence)
def downstream_cmd(
    source: Table,
    at: Annotated[list[str] | None, typer.Option("--at", help="x values to forecast at.")] = None,
    x: Annotated[str, typer.Option("--x", help="Compute-like column.")] = "flops",
    y: Annotated[str, typer.Option("--y", help="Score column.")] = "score",
    loss: Annotated[str, typer.Option("--loss", help="Loss column (stage 1).")] = "loss",
    target: Annotated[str, typer.Option("--target", help="accuracy | logit | logp.")] = "accuracy",
    floor: FloorOption = 0.0,
    ceiling: Annotated[
        float, typer.Option("--ceiling", help="Score ceiling.", callback=bounded())
    ] = 1.0,
    holdout_above: CutOption = None,
    level: float = 0.9,
    bootstrap: BootstrapOption = 200,
    seed: SeedOption = 0,
    plot: PlotOption = None,
    as_json: JsonOption = False,
) -> None:
    """Two-stage forecast x -> loss -> score (sigmoid with floor and ceiling), backtested."""
    from assay.forecast import (
        backtest_downstream,
        calibrate_downstream,
        fit_downstream,
        plot_forecast,
    )

    at_values = positive_floats(at, "--at")
    if not floor < ceiling:
        raise InputError(f"--floor {floor:g} must be below --ceiling {ceiling:g}")
    df = source.load()
    source.require(df, x, y, loss)
    opts = dict(x=x, y=y, loss=loss, target=target, floor=floor, ceiling=ceiling, seed=seed)
    fit = fit_downstream(df, bootstrap=bootstrap, **opts)
    warn_dropped(fit.dropped)
    # the interval calibrated by rolling-origin backtests inside the data; with too few rows
    # for a rolling origin it stays the bootstrap one (the JSON's "interval" is then null)
    with contextlib.suppress(InputError):
        calibrate_downstream(fit, df, loss=loss)
    try:
        bt = backtest_downstream(
            df, holdout_above=holdout_above, level=level, bootstrap=bootstrap, **opts
        )
    except InputError:  # too few rows below or above the cut
        bt = None
    xs = at_values or [float(pd.to_numeric(df[x], errors="coerce").max()) * 10]
    pred = fit.predict(np.array(xs), level=level)
    if plot is not None:
        if bt is None:
            plot_forecast(fit, df, path=plot)
        else:
            below = df[pd.to_numeric(df[x], errors="coerce") <= bt.cut]
            plot_forecast(bt.fit, below, heldout=bt.table, backtest=bt, path=plot)
    if as_json:
        rows = pred.assign(level=level).to_dict(orient="records")  # each row states its level
        out = {"fit": fit.to_dict(level=level), "prediction": rows}
        print_json({**out, "backtest": backtest_json(bt)})
        return
    print_table(pred, title=f"downstream {y} ({target}, {level_label(level)} intervals, n={fit.n})")
    console.print(fit.interval_line(level), markup=False, highlight=False)
    console.print(backtest_line(bt))


@forecast_app.command("density")
@with_options(
    source=table_input,
    level=level_confidence,
    columns=column_options("params", "score", "family", "date", "model"),
)
def density_cmd(
    source: Table,
    reference_family: Annotated[
        str, typer.Option("--reference-family", help="Family whose law defines effective size.")
    ],
    floor: FloorOption = 0.0,
    level: float = 0.95,
    plot: PlotOption = None,
    columns: dict[str, str] | None = None,
    as_json: JsonOption = False,
) -> None:
    """Capacity density (Densing law): effective/actual parameters and its doubling time."""
    from assay.forecast import capacity_density, plot_forecast

    df = source.load(columns)
    res = capacity_density(df, reference_family, floor=floor, level=level)
    warn_dropped(res.dropped)
    if plot is not None:
        plot_forecast(res, path=plot)
    if as_json:
        print_json(res.to_dict())
        return
    shown = [
        c
        for c in ("model", "family", "date", "params", "score", "effective_params", "density")
        if c in res.table
    ]
    table = res.table[shown].copy()
    if "date" in table:
        table["date"] = table["date"].dt.strftime("%Y-%m-%d")
    print_table(table, title=f"capacity density vs {reference_family}")
    console.print(f"{res.summary()}; n={res.n}, p={res.pvalue:.3g}")


@forecast_app.command("trend")
@with_options(source=table_input, confidence=confidence_option)
def trend_cmd(
    source: Table,
    x: Annotated[str, typer.Option("--x", help="Scale column.")] = "params",
    y: Annotated[str, typer.Option("--y", help="Score column.")] = "score",
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="y is a loss.")
    ] = False,
    confidence: float = 0.95,
    as_json: JsonOption = False,
) -> None:
    """Detect inverse or U-shaped scaling with t-tests on linear/quadratic fits in log x."""
    from assay.forecast import detect_inverse_scaling

    df = source.load()
    source.require(df, x, y)
    se = df["score_se"] if "score_se" in df and y == "score" else None
    if se is not None and not (np.isfinite(se.to_numpy(float)) & (se.to_numpy(float) > 0)).all():
        se = None  # weights only when every point has a standard error
    res = detect_inverse_scaling(
        df[x], df[y], se=se, higher_is_better=not lower_is_better, confidence=confidence
    )
    if as_json:
        print_json(res.to_dict())
        return
    print_table([res.to_dict()], title=f"scaling trend of {y} in {x}")


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    from ._forecast_more import add_commands

    add_commands(forecast_app)
    app.add_typer(forecast_app, name="forecast")
