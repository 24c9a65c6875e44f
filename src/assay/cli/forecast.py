"""CLI commands for assay.forecast: fit, predict, downstream, backtest, density, trend."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from assay.errors import InputError

from ._common import (
    JsonOption,
    StoreOption,
    bounded,
    console,
    get_store,
    output_file,
    positive_floats,
    print_json,
    print_table,
)

forecast_app = typer.Typer(
    help=(
        "Forecast bigger models: fit scaling laws (chinchilla, power, kaplan), predict with "
        "intervals, two-stage downstream forecasts, capacity density, trend checks and "
        "backtests. DATA is a CSV/Parquet table, or `store` for the store's models and scores."
    ),
    no_args_is_help=True,
)

DataArg = Annotated[
    str, typer.Argument(help="CSV/Parquet table of training runs, or `store` for the store.")
]
LawOpt = Annotated[str, typer.Option("--law", help="chinchilla | power | kaplan.")]
XOpt = Annotated[
    str | None, typer.Option("--x", help="x column for the power law [default: params].")
]
YOpt = Annotated[str, typer.Option("--y", help="Column to fit (loss-like, > 0).")]
_OPEN01 = bounded(0, 1, low_open=True, high_open=True)
BootOpt = Annotated[
    int,
    typer.Option(
        "--bootstrap", help="Bootstrap resamples for intervals.", callback=bounded(0, 100_000)
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (>= 0).", callback=bounded(0))]
PlotOpt = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="Write a PNG/SVG/PDF plot here.",
        callback=output_file((".png", ".svg", ".pdf")),
    ),
]
LevelOpt = Annotated[
    float, typer.Option("--level", help="Prediction interval level, in (0, 1).", callback=_OPEN01)
]
TaskOpt = Annotated[str | None, typer.Option("--task", help="Store task (DATA=store).")]
MetricOpt = Annotated[str | None, typer.Option("--metric", help="Store metric (DATA=store).")]
ColOpt = Annotated[str | None, typer.Option(help="Name of this column in the file.")]
OnOpt = Annotated[str, typer.Option("--on", help="Column the holdout cut applies to.")]
CutOpt = Annotated[
    float | None,
    typer.Option(
        "--holdout-above", help="Hold out rows above this value of --on.", callback=bounded()
    ),
]


def _columns(**cols: str | None) -> dict[str, str | None]:
    return {k: v for k, v in cols.items() if v is not None}


def _load(data: str, store: Path | None, task, metric, cols: dict[str, str | None]) -> pd.DataFrame:
    from assay.forecast import load_table, table_from_store

    if data == "store":
        return table_from_store(get_store(store, must_exist=True), task=task, metric=metric)
    return load_table(data, **cols)


def _resolve(name: str | None, cols: dict[str, str | None]) -> str | None:
    """A column named by its file name maps to its canonical name after loading."""
    for canonical, original in cols.items():
        if name is not None and name == original:
            return canonical
    return name


@contextmanager
def _progress(enabled: bool, label: str):
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=1.0)
        yield lambda frac: bar.update(task, completed=frac)


def _fit(df, law, x, y, bootstrap, seed, show: bool):
    from assay.forecast import fit_law

    label = f"fitting {law} ({'4,500 starts' if law == 'chinchilla' else 'multi-start'})"
    with _progress(show, label) as report:
        fit = fit_law(df, law, x=x, y=y, bootstrap=0, seed=seed, progress=report)
    if bootstrap > 0:
        with _progress(show, f"bootstrap ({bootstrap} refits)"):
            fit.ensure_draws(bootstrap)
    return fit


def _auto_backtest(df, law, x, y, on, cut, seed, level, bootstrap):
    """Every forecast states its backtested error: fit below the cut, score above it."""
    from assay.forecast import backtest

    on = on if on in df.columns else (x or "params")
    return backtest(
        df, law=law, holdout_above=cut, on=on, level=level, bootstrap=bootstrap, seed=seed, x=x, y=y
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


def _footer(bt) -> None:
    console.print(bt.summary() if bt is not None else "backtest: not enough rows to hold out")


@forecast_app.command("fit")
def fit_cmd(
    data: DataArg,
    law: LawOpt = "chinchilla",
    x: XOpt = None,
    y: YOpt = "loss",
    bootstrap: BootOpt = 100,
    seed: SeedOpt = 0,
    plot: PlotOpt = None,
    store: StoreOption = None,
    task: TaskOpt = None,
    metric: MetricOpt = None,
    params_col: ColOpt = None,
    tokens_col: ColOpt = None,
    flops_col: ColOpt = None,
    loss_col: ColOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Fit a loss law; print {"law", "params", "ci", "n", "rmse"} (ci: bootstrap 95%)."""
    cols = _columns(params=params_col, tokens=tokens_col, flops=flops_col, loss=loss_col)
    df = _load(data, store, task, metric, cols)
    x, y = _resolve(x, cols), _resolve(y, cols)
    fit = _fit(df, law, x, y, bootstrap, seed, show=not as_json)
    if plot is not None:
        from assay.forecast import plot_forecast

        plot_forecast(fit, df, path=plot, title=f"{law} fit (n={fit.n}, rmse {fit.rmse:.3g})")
    if as_json:
        print_json(fit.to_dict())
        return
    print_table(_params_rows(fit), title=f"{law} law: n={fit.n}, rmse={fit.rmse:.4g}")


@forecast_app.command("predict")
def predict_cmd(
    data: DataArg,
    law: LawOpt = "chinchilla",
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
    x: XOpt = None,
    y: YOpt = "loss",
    on: OnOpt = "flops",
    holdout_above: CutOpt = None,
    level: LevelOpt = 0.9,
    bootstrap: BootOpt = 100,
    seed: SeedOpt = 0,
    plot: PlotOpt = None,
    store: StoreOption = None,
    task: TaskOpt = None,
    metric: MetricOpt = None,
    params_col: ColOpt = None,
    tokens_col: ColOpt = None,
    flops_col: ColOpt = None,
    loss_col: ColOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Predict with intervals from a fitted law, with the law's backtested error."""
    from assay.forecast import compute_optimal, plot_forecast

    # every value to predict at is checked before the (slow) fit
    if law == "power":
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
    cols = _columns(params=params_col, tokens=tokens_col, flops=flops_col, loss=loss_col)
    df = _load(data, store, task, metric, cols)
    x, y = _resolve(x, cols), _resolve(y, cols)
    fit = _fit(df, law, x, y, bootstrap, seed, show=not as_json)
    out: dict[str, Any] = {"fit": fit.to_dict()}
    tables = []
    if law == "power":
        pred = fit.predict(np.array(xs), level=level)
        tables.append(("prediction", pred))
    else:
        if n:
            pred = fit.predict({fit.inputs[0]: n, fit.inputs[1]: d}, level=level)
            tables.append(("prediction", pred))
        if c:
            tables.append(("compute_optimal", compute_optimal(fit, c, level=level).table))
    try:
        bt = _auto_backtest(df, law, x, y, on, holdout_above, seed, level, bootstrap)
    except InputError:
        bt = None
    out.update({name: t.to_dict(orient="records") for name, t in tables})
    out["backtest"] = (
        None
        if bt is None
        else {k: v for k, v in bt.to_dict().items() if k not in ("heldout", "fit")}
    )
    if plot is not None:
        below = df if bt is None else df[pd.to_numeric(df[bt.on]) <= bt.cut]
        plot_forecast(fit, below, heldout=None if bt is None else bt.table, backtest=bt, path=plot)
    if as_json:
        print_json(out)
        return
    for name, table in tables:
        if name == "compute_optimal":
            table = _long_optimal(table)
        print_table(table, title=f"{law} {name} ({level:.0%} intervals)")
    _footer(bt)


@forecast_app.command("backtest")
def backtest_cmd(
    data: DataArg,
    holdout_above: CutOpt = None,
    law: LawOpt = "chinchilla",
    on: OnOpt = "flops",
    x: XOpt = None,
    y: YOpt = "loss",
    level: LevelOpt = 0.9,
    bootstrap: BootOpt = 100,
    seed: SeedOpt = 0,
    plot: PlotOpt = None,
    store: StoreOption = None,
    task: TaskOpt = None,
    metric: MetricOpt = None,
    params_col: ColOpt = None,
    tokens_col: ColOpt = None,
    flops_col: ColOpt = None,
    loss_col: ColOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Fit on rows with --on <= --holdout-above, report MAE, MAPE, coverage above it."""
    from assay.forecast import backtest, plot_forecast

    cols = _columns(params=params_col, tokens=tokens_col, flops=flops_col, loss=loss_col)
    df = _load(data, store, task, metric, cols)
    x, y, on = _resolve(x, cols), _resolve(y, cols), _resolve(on, cols)
    with _progress(not as_json, f"backtesting {law}"):
        bt = backtest(
            df,
            law=law,
            holdout_above=holdout_above,
            on=on,
            level=level,
            bootstrap=bootstrap,
            seed=seed,
            x=x,
            y=y,
        )
    if plot is not None:
        below = df[pd.to_numeric(df[on]) <= bt.cut]
        plot_forecast(bt.fit, below, heldout=bt.table, backtest=bt, path=plot)
    if as_json:
        print_json(bt.to_dict())
        return
    cols_out = [c for c in (on, *bt.fit.inputs) if c in bt.table.columns]
    cols_out = list(dict.fromkeys(cols_out)) + ["actual", "prediction", "low", "high"]
    print_table(bt.table[cols_out], title="held-out rows")
    _footer(bt)


@forecast_app.command("downstream")
def downstream_cmd(
    data: DataArg,
    at: Annotated[list[str] | None, typer.Option("--at", help="x values to forecast at.")] = None,
    x: Annotated[str, typer.Option("--x", help="Compute-like column.")] = "flops",
    y: Annotated[str, typer.Option("--y", help="Score column.")] = "score",
    loss: Annotated[str, typer.Option("--loss", help="Loss column (stage 1).")] = "loss",
    target: Annotated[str, typer.Option("--target", help="accuracy | logit | logp.")] = "accuracy",
    floor: Annotated[
        float, typer.Option("--floor", help="Chance level.", callback=bounded())
    ] = 0.0,
    ceiling: Annotated[
        float, typer.Option("--ceiling", help="Score ceiling.", callback=bounded())
    ] = 1.0,
    holdout_above: CutOpt = None,
    level: LevelOpt = 0.9,
    bootstrap: BootOpt = 200,
    seed: SeedOpt = 0,
    plot: PlotOpt = None,
    store: StoreOption = None,
    task: TaskOpt = None,
    metric: MetricOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Two-stage forecast x -> loss -> score (sigmoid with floor and ceiling), backtested."""
    from assay.forecast import fit_downstream, forecast_errors, plot_forecast

    at_values = positive_floats(at, "--at")
    if not floor < ceiling:
        raise InputError(f"--floor {floor:g} must be below --ceiling {ceiling:g}")
    df = _load(data, store, task, metric, {})
    for col in (x, y, loss):
        if col not in df.columns:
            raise InputError(
                f"{data}: no column {col!r} (columns: {', '.join(map(str, df.columns))})"
            )
    opts = dict(x=x, y=y, loss=loss, target=target, floor=floor, ceiling=ceiling, seed=seed)
    fit = fit_downstream(df, bootstrap=bootstrap, **opts)
    key = pd.to_numeric(df[x], errors="coerce")
    cut = float(np.nanquantile(key, 0.75)) if holdout_above is None else holdout_above
    small, large = df[key <= cut], df[key > cut]
    bt_dict, bt_fit = None, None
    if len(large) and len(small) >= 5:
        bt_fit = fit_downstream(small, bootstrap=bootstrap, **opts)
        p = bt_fit.predict(large[x].to_numpy(float), level=level)
        mae, mape, cov = forecast_errors(large[y], p["prediction"], p["low"], p["high"])
        bt_dict = {
            "on": x,
            "cut": cut,
            "mae": mae,
            "mape": mape,
            "coverage": cov,
            "level": level,
            "n_fit": len(small),
            "n_heldout": len(large),
        }
    xs = at_values or [float(key.max()) * 10]
    pred = fit.predict(np.array(xs), level=level)
    if plot is not None:
        from types import SimpleNamespace

        shown = bt_fit if bt_fit is not None else fit
        ns = SimpleNamespace(**bt_dict) if bt_dict else None
        plot_forecast(
            shown,
            small if bt_fit is not None else df,
            heldout=large if bt_fit is not None else None,
            backtest=ns,
            path=plot,
        )
    if as_json:
        print_json(
            {
                "fit": fit.to_dict(),
                "prediction": pred.to_dict(orient="records"),
                "backtest": bt_dict,
            }
        )
        return
    print_table(pred, title=f"downstream {y} ({target}, {level:.0%} intervals, n={fit.n})")
    if bt_dict:
        console.print(
            f"backtest (fit on {x} <= {cut:.3g}, n={len(small)}; {len(large)} held out): "
            f"MAE {bt_dict['mae']:.3g}, MAPE {bt_dict['mape']:.2f}%, "
            f"{level:.0%} coverage {bt_dict['coverage']:.0%}"
        )


@forecast_app.command("density")
def density_cmd(
    data: DataArg,
    reference_family: Annotated[
        str, typer.Option("--reference-family", help="Family whose law defines effective size.")
    ],
    floor: Annotated[
        float, typer.Option("--floor", help="Chance level.", callback=bounded())
    ] = 0.0,
    level: Annotated[
        float, typer.Option("--level", help="Confidence level, in (0, 1).", callback=_OPEN01)
    ] = 0.95,
    plot: PlotOpt = None,
    store: StoreOption = None,
    task: TaskOpt = None,
    metric: MetricOpt = None,
    params_col: ColOpt = None,
    score_col: ColOpt = None,
    family_col: ColOpt = None,
    date_col: ColOpt = None,
    model_col: ColOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Capacity density (Densing law): effective/actual parameters and its doubling time."""
    from assay.forecast import capacity_density, plot_forecast

    cols = _columns(
        params=params_col, score=score_col, family=family_col, date=date_col, model=model_col
    )
    df = _load(data, store, task, metric, cols)
    res = capacity_density(df, reference_family, floor=floor, level=level)
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
    console.print(
        f"density doubles every {res.doubling_months:.1f} months ({level:.0%} CI "
        f"{res.doubling_ci[0]:.1f}–{res.doubling_ci[1]:.1f}; n={res.n}, p={res.pvalue:.3g})"
    )


@forecast_app.command("trend")
def trend_cmd(
    data: DataArg,
    x: Annotated[str, typer.Option("--x", help="Scale column.")] = "params",
    y: Annotated[str, typer.Option("--y", help="Score column.")] = "score",
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="y is a loss.")
    ] = False,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Significance level, in (0, 1).", callback=_OPEN01)
    ] = 0.05,
    store: StoreOption = None,
    task: TaskOpt = None,
    metric: MetricOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Detect inverse or U-shaped scaling with t-tests on linear/quadratic fits in log x."""
    from assay.forecast import detect_inverse_scaling

    df = _load(data, store, task, metric, {})
    for col in (x, y):
        if col not in df.columns:
            raise InputError(f"{data}: no column {col!r}")
    se = df["score_se"] if "score_se" in df and y == "score" else None
    if se is not None and not (np.isfinite(se.to_numpy(float)) & (se.to_numpy(float) > 0)).all():
        se = None  # weights only when every point has a standard error
    res = detect_inverse_scaling(
        df[x], df[y], se=se, higher_is_better=not lower_is_better, alpha=alpha
    )
    if as_json:
        print_json(res.to_dict())
        return
    print_table([res.to_dict()], title=f"scaling trend of {y} in {x}")


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.add_typer(forecast_app, name="forecast")
