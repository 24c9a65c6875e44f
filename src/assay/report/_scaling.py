"""Scaling panel: score against model size with the fitted law, forecast band and backtest.

The band is the calibrated interval of :func:`assay.forecast.calibrate_law` (rolling-origin
backtests inside the models, widening with the distance beyond the largest one) when the models
allow a rolling origin, else the bootstrap band; the panel states which, its level and the
backtested error next to the forecast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay import forecast
from assay.core import CORPUS_METRICS, MetricMap, Settings, level_label, lower_is_better
from assay.errors import AssayError, InputError

from ._panel import Panel, cell, fmt, new_panel
from ._plots import scaling_plot

LEVEL = 0.95
HOW_TO = (
    "Scaling plots need at least 3 models with size metadata and scores on the same task (the "
    "law needs 5, its backtest 6). Add "
    "sizes with `assay models set-meta sizes.csv` (columns: model, params, tokens, flops, "
    "family) and the report will fit a law, draw the forecast band and backtest it on the "
    "largest models."
)


@dataclass
class ScalingForecast:
    """One task's scaling fit: the law (``fit``, on the error rate 1 − score, or on the metric
    when lower is better), the score it forecasts at ``x`` = ``at`` (the end of the drawn grid)
    with its ``level`` band, and the backtest on the largest models (None with too few models)."""

    metric: str
    x: str
    fit: forecast.LawFit
    at: float
    prediction: float
    low: float
    high: float
    backtest: forecast.Backtest | None = None
    interval: str = "bootstrap"
    level: float = LEVEL
    skill: bool | None = None  # False: the backtest did no better than a naive baseline

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fit": self.fit.to_dict(),
            "forecast": {
                "x": self.x,
                "at": self.at,
                "prediction": self.prediction,
                "low": self.low,
                "high": self.high,
                "metric": self.metric,
                "level": self.level,
                "interval": self.interval,
            },
        }
        if self.fit.calibration is not None:
            out["forecast"]["calibration"] = self.fit.calibration.to_dict(self.level)
        if self.backtest is not None:
            out["backtest"] = self.backtest.to_dict()
        if self.skill is False:
            out["forecast"]["skill"] = "none: no better than a naive baseline in the backtest"
        return out

    def sentence(self, task: str) -> str:
        """What a bigger model would score, with the band and the backtested error."""
        what = "FLOPs of training compute" if self.x == "flops" else "parameters"
        if self.skill is False and self.backtest is not None:
            return (
                f"No scaling forecast for {task}: fitted on the smaller models, the law predicted "
                f"the larger ones no better than a naive baseline (backtest MAE "
                f"{self.backtest.mae:.3f})."
            )
        text = (
            f"Forecast: a model trained with {self.at:.2g} {what} should score "
            f"{self.prediction:.3f} {self.metric} on {task} ({self.interval} "
            f"{level_label(self.level)} band {self.low:.3f} to {self.high:.3f})"
        )
        b = self.backtest
        if b is not None:
            held = "largest model" if b.n_heldout == 1 else f"{b.n_heldout} largest models"
            text += (
                f"; the same fit on the smaller models predicted the {held} within "
                f"{b.mae:.3f} on average (backtest MAE)"
            )
        return text + "."


def size_table(store: Any, task: str, metric: str) -> pd.DataFrame:
    """``assay.forecast.table_from_store``: one row per model with sizes and its mean score."""
    table = forecast.table_from_store(store, task=task, metric=metric)
    return table[table[[c for c in ("params", "flops") if c in table]].notna().any(axis=1)]


def _pick_x(table: pd.DataFrame) -> str | None:
    """flops, else params: the first with ≥ 3 sized models, preferring one whose sizes differ
    (≥ 3 distinct values, as the 3-parameter law needs)."""
    usable = [c for c in ("flops", "params") if c in table and (table[c] > 0).sum() >= 3]
    spread = [c for c in usable if table.loc[table[c] > 0, c].nunique() >= 3]
    return (spread or usable or [None])[0]


def scaling_panel(
    store: Any,
    models: pd.DataFrame,
    headline: dict[str, str],
    settings: Settings | None = None,
    *,
    bootstrap: int = 30,
    metrics: MetricMap | None = None,
) -> Panel:
    """One scaling plot per task with ≥3 sized models; ``bootstrap`` refits give the band (at
    the ``settings``' level and seed). ``results`` holds a :class:`ScalingForecast` per task
    with a fit; ``metrics``: the store's metric definitions."""
    settings = settings or Settings()
    level, seed = settings.confidence_level, settings.seed
    panel = new_panel("scaling", settings)
    sized = models[["params", "flops"]].notna().any(axis=1).sum() if len(models) else 0
    if sized < 3:
        panel.note = HOW_TO
        return panel
    flat: list[str] = []
    flat_kv: dict[str, str] = {}
    for task, metric in headline.items():
        if metric in CORPUS_METRICS:
            continue  # corpus perplexities are not stored per sample: no size table yet
        table = size_table(store, task, metric)
        if len(table) < 3 or _pick_x(table) is None:
            continue
        x = _pick_x(table)
        sizes = table.loc[table[x] > 0, x]
        if sizes.nunique() < 2:  # checkpoints or variants of one size: nothing to draw
            flat.append(task)
            flat_kv = {
                "fit": f"not fitted: no spread in {x} (all {len(sizes)} models have "
                f"{x} = {fmt(float(sizes.iloc[0]))})"
            }
            continue
        try:
            _task_scaling(panel, task, metric, table, bootstrap, seed, level, metrics)
        except AssayError as exc:  # data an optional panel cannot use never breaks it
            panel.text(f"{task}: could not fit a scaling law ({type(exc).__name__}: {exc}).")
    if flat and panel.items:
        panel.kv({**flat_kv, "tasks": ", ".join(flat)}, caption="models of one size")
    if not panel.items:
        panel.note = HOW_TO + (
            f" (Here {flat_kv['fit'].removeprefix('not fitted: ')}.)" if flat else ""
        )
    return panel


def _smooth(values: np.ndarray, width: int = 7) -> np.ndarray:
    """Centred moving average over neighbouring grid points: the band's Monte-Carlo quantiles
    are noisy point by point; this only evens the drawing."""
    return pd.Series(values).rolling(width, center=True, min_periods=1).mean().to_numpy()


def _task_scaling(
    panel: Panel,
    task: str,
    metric: str,
    table: pd.DataFrame,
    bootstrap: int,
    seed: int,
    level: float = LEVEL,
    metrics: MetricMap | None = None,
) -> None:
    """Fit y = E + A·x^(−α) to the error rate (1 − score; perplexity-like metrics as they are),
    backtest it on the largest model(s) and draw data, fit, band and forecast."""
    x = _pick_x(table)
    data = table[table[x] > 0].sort_values(x).reset_index(drop=True)
    higher = not lower_is_better(metric, metrics)
    data["y"] = (1.0 - data["score"]) if higher else data["score"]
    to_score = (lambda v: 1.0 - v) if higher else (lambda v: v)
    xlabel = "training compute (FLOPs)" if x == "flops" else "parameters"
    kv: dict[str, str] = {
        "law": "1 − score = E + A·x^(−α) (power law with a floor on the error rate)"
        if higher
        else f"{metric} = E + A·x^(−α) (power law with a floor)",
        "models": f"{len(data)} with {x}",
        "band": f"{bootstrap} bootstrap refits × resampled residuals (seed {seed})",
    }
    n_hold = 0 if len(data) < 6 else (1 if len(data) < 8 else 2)
    cut = float(data[x].iloc[-n_hold - 1]) if n_hold else float("inf")
    curve, back = None, None
    fit = None
    if len(data) >= 5:
        try:  # models all of one size: say so and fit nothing
            fit = forecast.fit_law(data, "power", x=x, y="y", bootstrap=bootstrap, seed=seed)
        except InputError as exc:
            kv["fit"] = str(exc)
            kv["backtest"] = "not run: no law was fitted"
            n_hold, cut = 0, float("inf")
    interval = "bootstrap"
    if fit is not None:
        try:  # a calibrated band needs a rolling origin inside the models
            forecast.calibrate_law(fit, data, on=x)
            interval = "calibrated"
            cal = fit.calibration.to_dict(level)
            kv["band"] = (
                f"calibrated {level_label(level)} interval: {cal['method']} on {cal['n_errors']} "
                f"rolling-origin errors from {cal['n_origins']} origins, widening with "
                f"log({x}) beyond the largest model"
            )
        except InputError as exc:
            kv["band"] += f" (not calibrated: {exc})"
        grid = np.geomspace(data[x].min() / 1.5, data[x].max() * 10, 60)
        pred = fit.predict(grid, level=level)
        center = pred["prediction"].to_numpy()
        lo, hi = (  # smooth the band's offsets, not its ends: it stays around the forecast
            to_score(center + _smooth(pred["low"].to_numpy() - center)),
            to_score(center + _smooth(pred["high"].to_numpy() - center)),
        )
        if higher:  # scores live in [0, 1]
            lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        curve = pd.DataFrame(
            {
                "x": grid,
                "prediction": to_score(pred["prediction"].to_numpy()),
                "low": np.minimum(lo, hi),
                "high": np.maximum(lo, hi),
            }
        )
        kv.update({k: fmt(v) for k, v in fit.params.items()})
        at = curve.iloc[-1]
        kv[f"forecast at {x} = {grid[-1]:.2g}"] = (
            f"{fmt(at['prediction'])} ({interval} {level_label(level)} band {fmt(at['low'])} to "
            f"{fmt(at['high'])})"
        )
        panel.results[task] = ScalingForecast(
            metric=metric,
            x=x,
            fit=fit,
            at=float(grid[-1]),
            prediction=float(at["prediction"]),
            low=float(at["low"]),
            high=float(at["high"]),
            interval=interval,
            level=level,
        )
    elif "fit" not in kv:
        kv["fit"] = "needs at least 5 models with sizes (3 parameters + 2); showing the data"
    if n_hold and len(data) - n_hold >= 5:
        try:  # the smaller models may lack the spread the full set has
            back = forecast.backtest(
                data,
                law="power",
                holdout_above=cut,
                on=x,
                x=x,
                y="y",
                level=level,
                bootstrap=bootstrap,
                seed=seed,
            )
        except InputError as exc:
            kv["backtest"] = f"not run: {exc}"
            cut = float("inf")
    if back is not None:
        kv[f"backtest: fit on {x} ≤ {cut:.2g}, predict {back.n_heldout} larger"] = (
            f"MAE {fmt(back.mae)}, MAPE {back.mape:.1f}%, {level_label(level)} interval "
            f"({(back.calibration or {}).get('method', 'bootstrap')}) coverage "
            f"{back.coverage:.0%}, mean width {fmt(back.width)}"
        )
        panel.results[task].backtest = back
        if _no_skill(kv, data[data[x] <= cut], back, x):  # say so; draw no forecast curve
            kv.pop(f"forecast at {x} = {curve['x'].iloc[-1]:.2g}", None)
            panel.results[task].skill = False
            curve = None
    elif "backtest" not in kv:
        kv["backtest"] = "needs at least 6 models with sizes (5 to fit, 1 to hold out)"
        cut = float("inf")
    points = pd.DataFrame(
        {"x": data[x], "y": data["score"], "label": data["model"], "held_out": data[x] > cut}
    )
    panel.svg(
        scaling_plot(points, curve, xlabel=xlabel, ylabel=metric, title=task),
        caption=_plot_caption(task, metric, xlabel, points, curve),
    )
    panel.kv(kv, caption=f"{task}: fit and backtest")
    if back is not None:
        bt = back.table
        rows = [
            [
                cell(str(r["model"]), cls="model"),
                cell(fmt(float(r[x])), float(r[x]), "num"),
                cell(fmt(to_score(float(r["actual"]))), cls="num"),
                cell(fmt(to_score(float(r["prediction"]))), cls="num"),
                cell(
                    f"{fmt(min(to_score(r['low']), to_score(r['high'])))} – "
                    f"{fmt(max(to_score(r['low']), to_score(r['high'])))}",
                    cls="num",
                ),
            ]
            for r in bt.to_dict(orient="records")
        ]
        panel.table(
            [
                "held-out model",
                x,
                f"actual {metric}",
                "predicted",
                f"{level_label(level)} interval",
            ],
            rows,
            caption=f"{task}: backtest on the largest models",
        )


def _no_skill(kv: dict[str, str], fitted: pd.DataFrame, back: Any, x: str) -> bool:
    """Put the naive baselines' backtest MAE in ``kv``; True (and a line saying so) when the
    law did no better than the best of them on the held-out models."""
    held = back.table
    base = forecast.naive_baselines(fitted[x], fitted["y"], held[x])
    mae = {k: float(np.mean(np.abs(v - held["actual"].to_numpy(float)))) for k, v in base.items()}
    kv["naive baselines (backtest MAE)"] = ", ".join(f"{k} {fmt(v)}" for k, v in mae.items())
    best = min(mae, key=mae.get)
    if back.mae < mae[best]:
        return False
    kv["forecast"] = (
        f"not drawn: no skill — on the held-out models the law's MAE {fmt(back.mae)} was no "
        f"better than the naive {best} forecast's {fmt(mae[best])}"
    )
    return True


def _plot_caption(
    task: str, metric: str, xlabel: str, points: pd.DataFrame, curve: pd.DataFrame | None
) -> str:
    """What the scaling plot draws, and only that: the held-out markers and the forecast
    line are named only when the plot has them."""
    parts = [f"{task}: {metric} against {xlabel}."]
    held = int(points["held_out"].sum())
    if held:
        parts.append(
            f"Red diamonds: the {held} largest model{'s' if held > 1 else ''}, held out of "
            "the backtest fit."
        )
    if curve is not None and len(curve):
        fitted_max = points.loc[~points["held_out"], "x"].max()
        if (curve["x"] > fitted_max).any():
            parts.append("The dashed line is the forecast beyond the largest fitted model.")
    return " ".join(parts)
