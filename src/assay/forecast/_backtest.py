"""Backtesting: fit below a cut, score the forecast above it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import accepts_confidence, attributes, require_columns
from assay.errors import InputError

from ._bounded import BASELINES, ScoreFit, fit_score
from ._calibrate import interval_score
from ._downstream import DownstreamFit, calibrate_downstream, fit_downstream
from ._laws import calibrate_law, fit_law

WIS_LEVELS = (0.5, 0.8, 0.9, 0.95)

__all__ = [
    "Backtest",
    "backtest",
    "backtest_downstream",
    "backtest_score",
    "baseline_errors",
    "forecast_errors",
    "naive_baselines",
    "skill_against",
]


@dataclass
class Backtest:
    """Held-out error of a law (or, with ``law="downstream"``, a two-stage downstream
    forecast) fitted only on rows with ``on`` <= ``cut``.

    ``mae`` and ``mape`` (percent) compare predictions with actual values of the held-out rows
    (``table``: those rows with ``actual``, ``prediction``, ``low``, ``high``); ``coverage`` is
    the share of held-out actual values inside their ``level`` interval, ``width`` its mean
    width and ``wis`` the mean weighted interval score over the 50/80/90/95% intervals and the
    median (lower is better). ``calibration`` states how the interval was made."""

    law: str
    on: str
    cut: float
    mae: float
    mape: float
    coverage: float
    level: float
    n_fit: int
    n_heldout: int
    table: pd.DataFrame
    fit: Any
    width: float = float("nan")
    wis: float = float("nan")
    calibration: dict[str, Any] | None = None
    baselines: dict[str, float] | None = None
    skill: dict[str, float] | None = None

    def summary(self) -> str:
        how = (self.calibration or {}).get("method", "bootstrap")
        return (
            f"backtest ({self.law}, fit on {self.on} <= {self.cut:.3g}, n={self.n_fit}; "
            f"{self.n_heldout} held out): MAE {self.mae:.3g}, MAPE {self.mape:.2f}%, "
            f"{self.level:.0%} interval ({how}) coverage {self.coverage:.0%}, "
            f"mean width {self.width:.3g}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **attributes(self, "law", "on", "cut", "mae", "mape", "coverage", "level"),
            **attributes(self, "n_fit", "n_heldout", "width", "wis"),
            "interval": self.calibration,
            "baselines_mae": self.baselines,
            "skill": self.skill,
            # a score fit states the interval level it is read at: the backtest's
            "fit": self.fit.to_dict(level=self.level)
            if isinstance(self.fit, ScoreFit | DownstreamFit)
            else self.fit.to_dict(),
            "heldout": self.table.to_dict(orient="records"),
        }


def forecast_errors(actual, prediction, low, high) -> tuple[float, float, float]:
    """MAE, MAPE (%) and interval coverage."""
    actual, prediction = np.asarray(actual, float), np.asarray(prediction, float)
    err = np.abs(prediction - actual)
    inside = (np.asarray(low) <= actual) & (actual <= np.asarray(high))
    with np.errstate(divide="ignore"):
        mape = float(100 * np.mean(err / np.abs(actual)))
    return float(err.mean()), mape, float(inside.mean())


def _split(
    data: pd.DataFrame, on: str, holdout_above: float | None, quantile: float
) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    """(cut, copy of the rows with ``on`` <= cut, copy of the rows above it); the cut is the
    ``quantile`` of ``data[on]`` unless ``holdout_above`` is given."""
    require_columns(data, [on], " to cut on")
    key = pd.to_numeric(data[on], errors="coerce")
    cut = float(np.nanquantile(key, quantile)) if holdout_above is None else float(holdout_above)
    below, above = data[key <= cut].copy(), data[key > cut].copy()
    if above.empty:
        raise InputError(f"no rows with {on} above {cut:g} to hold out")
    return cut, below, above


def _scored(
    law: str,
    on: str,
    cut: float,
    level: float,
    fit: Any,
    above: pd.DataFrame,
    inputs: Any,
    calibration: dict[str, Any] | None = None,
) -> Backtest:
    """The held-out rows ``above`` with ``fit.predict(inputs, level=...)``'s predictions (one
    per row of ``above``), and the errors."""
    table = above.reset_index(drop=True)
    table["actual"] = pd.to_numeric(table[fit.y], errors="coerce")
    pred = fit.predict(inputs, level=level)
    table[["prediction", "low", "high"]] = pred[["prediction", "low", "high"]].to_numpy()
    errors = forecast_errors(table["actual"], table["prediction"], table["low"], table["high"])
    bounds = {
        lv: (table["low"], table["high"])
        if lv == level
        else tuple(fit.predict(inputs, level=lv)[["low", "high"]].to_numpy().T)
        for lv in WIS_LEVELS
    }
    wis = float(np.mean(interval_score(table["actual"], table["prediction"], bounds)))
    width = float(np.mean(table["high"] - table["low"]))
    return Backtest(
        law, on, cut, *errors, level, fit.n, len(table), table, fit, width, wis, calibration
    )


def _baselined(bt: Backtest, below: pd.DataFrame) -> Backtest:
    """``bt`` with the naive baselines' MAE on its held-out rows (:func:`naive_baselines` over
    the cut column from the rows below the cut) and the skill against them; left empty when
    the rows below have fewer than two distinct values of the cut column."""
    y = getattr(bt.fit, "y", None)
    if y is None or y not in below or bt.on not in below:
        return bt
    xb = pd.to_numeric(below[bt.on], errors="coerce")
    yb = pd.to_numeric(below[y], errors="coerce")
    try:
        base = naive_baselines(xb, yb, pd.to_numeric(bt.table[bt.on], errors="coerce"))
    except InputError:
        return bt
    actual = bt.table["actual"].to_numpy(float)
    bt.baselines = {k: float(np.nanmean(np.abs(v - actual))) for k, v in base.items()}
    bt.skill = skill_against(bt.mae, bt.baselines)
    return bt


def _not_calibrated(interval: str, level: float, exc: InputError) -> dict[str, Any]:
    """The ``calibration`` of a backtest whose interval stays ``interval``, with the reason."""
    return {
        "calibration": f"{interval} (not calibrated)",
        "method": "bootstrap",
        "level": level,
        "reason": str(exc),
    }


@accepts_confidence("level")
def backtest(
    data: pd.DataFrame,
    *,
    law: str = "chinchilla",
    holdout_above: float | None = None,
    on: str = "flops",
    quantile: float = 0.75,
    level: float = 0.9,
    bootstrap: int = 100,
    seed: int = 0,
    calibrate: bool = True,
    progress: Callable[[int, int], None] | None = None,
    **fit_options: Any,
) -> Backtest:
    """Fit ``law`` on rows with ``data[on] <= holdout_above`` only, predict the rows above.

    Without ``holdout_above`` the cut is the ``quantile`` of ``data[on]``. The held-out rows
    never reach the fit: it receives a copy of the rows below the cut. With ``calibrate`` the
    interval is calibrated by rolling-origin backtests inside the rows below the cut
    (:func:`calibrate_law`); else it is the bootstrap interval. ``progress(done, total)``
    counts the fits (the fit, then one per rolling origin or bootstrap refit)."""
    report = progress or (lambda _done, _total: None)
    cut, below, above = _split(data, on, holdout_above, quantile)
    report(0, 1)
    fit = fit_law(below, law, bootstrap=0, seed=seed, **fit_options)
    report(1, 1)

    def after_fit(done: int, total: int) -> None:
        report(1 + done, 1 + total)

    calibration = None
    if calibrate:
        try:
            calibrate_law(fit, below, on=on, progress=after_fit)
            calibration = fit.calibration.to_dict(level)
        except InputError as exc:  # too few rows below the cut for a rolling origin
            fit.ensure_draws(bootstrap, progress=after_fit)
            calibration = _not_calibrated("bootstrap × resampled residuals", level, exc)
    elif bootstrap > 0:
        fit.ensure_draws(bootstrap, progress=after_fit)
    return _baselined(_scored(law, on, cut, level, fit, above, above, calibration), below)


@accepts_confidence("level")
def backtest_downstream(
    data: pd.DataFrame,
    *,
    x: str = "flops",
    holdout_above: float | None = None,
    quantile: float = 0.75,
    level: float = 0.9,
    bootstrap: int = 200,
    seed: int = 0,
    calibrate: bool = True,
    **downstream_options: Any,
) -> Backtest:
    """:func:`fit_downstream` on rows with ``data[x] <= holdout_above`` only (default: the
    ``quantile`` of ``data[x]``), its score forecast scored on the rows above.

    ``downstream_options`` are :func:`fit_downstream`'s (y, loss, target, floor, ceiling).
    The result's ``law`` is ``"downstream"`` and its ``fit`` the :class:`DownstreamFit`."""
    cut, below, above = _split(data, x, holdout_above, quantile)
    fit = fit_downstream(below, x=x, bootstrap=bootstrap, seed=seed, **downstream_options)
    calibration = None
    if calibrate:
        try:
            calibrate_downstream(fit, below, loss=downstream_options.get("loss", "loss"))
            calibration = fit.calibration.to_dict(level)
        except InputError as exc:  # too few rows below the cut for a rolling origin
            calibration = _not_calibrated("bootstrap of both stages", level, exc)
    xs = pd.to_numeric(above[x], errors="coerce").to_numpy(float)
    return _baselined(_scored("downstream", x, cut, level, fit, above, xs, calibration), below)


@accepts_confidence("level")
def backtest_score(
    data: pd.DataFrame,
    *,
    x: str = "params",
    y: str = "score",
    holdout_above: float | None = None,
    quantile: float = 0.75,
    level: float = 0.9,
    **score_options: Any,
) -> Backtest:
    """:func:`fit_score` (a bounded, higher-is-better score) on rows with ``x`` <= the cut, scored
    on the rows above, beside the naive baselines' MAE (``baselines``: the largest fitted size's
    score, ``flat`` (last value); a line in log x, ``log-linear``; the mean of the fitted sizes,
    ``family-mean``) and the forecaster's ``skill`` against each, 1 − MAE/baseline MAE (> 0:
    better than that baseline). A baseline the fitted sizes are too few for is left out."""
    cut, below, above = _split(data, x, holdout_above, quantile)
    vals = above[[x, y]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    above = above[np.isfinite(vals).all(axis=1) & (vals[:, 0] > 0)]
    if above.empty:
        raise InputError(f"no rows with a finite {y} and {x} above {cut:g} to hold out")
    fit = fit_score(below, x=x, y=y, **score_options)
    xs = pd.to_numeric(above[x], errors="coerce").to_numpy(float)
    calibration = fit.interval(level)
    bt = _scored(f"score:{fit.method}", x, cut, level, fit, above, xs, calibration)
    actual = bt.table["actual"].to_numpy(float)
    bt.baselines = {}
    for name in BASELINES:
        try:
            base = fit_score(
                below, x=x, y=y, **{**score_options, "method": name, "margin": -np.inf}
            )
        except InputError:  # too few sizes for this baseline's parameters + 2
            continue
        bt.baselines[name] = float(np.mean(np.abs(base.predict(xs)["prediction"] - actual)))
    bt.skill = skill_against(bt.mae, bt.baselines)
    return bt


def naive_baselines(x_fit: Any, y_fit: Any, x_new: Any) -> dict[str, np.ndarray]:
    """The naive forecasts at ``x_new`` from points (x_fit, y_fit): ``flat`` (last value: the
    mean y at the largest x), ``log-linear`` (a line in log x) and ``family-mean`` (the mean
    y). Vectorised; x must be positive."""
    x, y = np.asarray(x_fit, float), np.asarray(y_fit, float)
    new = np.asarray(x_new, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[ok], y[ok]
    if len(np.unique(x)) < 2:
        raise InputError("naive baselines need points at two or more sizes")
    slope, icpt = np.polyfit(np.log(x), y, 1)
    return {
        "flat": np.full(new.shape, y[x == x.max()].mean()),
        "log-linear": icpt + slope * np.log(new),
        "family-mean": np.full(new.shape, y.mean()),
    }


def baseline_errors(
    x_fit: Any, y_fit: Any, x_new: Any, actual: Any, mae: float
) -> tuple[dict[str, float], dict[str, float]]:
    """(MAE of each naive baseline on ``actual`` at ``x_new``, the skill of a forecaster with
    ``mae`` against them): :func:`naive_baselines` then :func:`skill_against`."""
    base = naive_baselines(x_fit, y_fit, x_new)
    y = np.asarray(actual, float)
    errors = {k: float(np.nanmean(np.abs(v - y))) for k, v in base.items()}
    return errors, skill_against(mae, errors)


def skill_against(mae: float, baselines: dict[str, float]) -> dict[str, float]:
    """1 − MAE/baseline MAE per baseline (> 0: the forecaster beats it), and ``best`` against
    the best (lowest-MAE) baseline."""
    out = {k: float(1 - mae / v) if v > 0 else float("nan") for k, v in baselines.items()}
    if baselines:
        best = min(baselines.values())
        out["best"] = float(1 - mae / best) if best > 0 else float("nan")
    return out
