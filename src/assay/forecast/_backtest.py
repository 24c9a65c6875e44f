"""Backtesting: fit below a cut, score the forecast above it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import require_columns
from assay.errors import InputError

from ._downstream import DownstreamFit, fit_downstream
from ._laws import LawFit, fit_law

__all__ = ["Backtest", "backtest", "backtest_downstream", "forecast_errors"]


@dataclass
class Backtest:
    """Held-out error of a law (or, with ``law="downstream"``, a two-stage downstream
    forecast) fitted only on rows with ``on`` <= ``cut``.

    ``mae`` and ``mape`` (percent) compare predictions with actual values of the held-out rows
    (``table``: those rows with ``actual``, ``prediction``, ``low``, ``high``); ``coverage`` is
    the share of held-out actual values inside their ``level`` interval."""

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
    fit: LawFit | DownstreamFit

    def summary(self) -> str:
        return (
            f"backtest ({self.law}, fit on {self.on} <= {self.cut:.3g}, n={self.n_fit}; "
            f"{self.n_heldout} held out): MAE {self.mae:.3g}, MAPE {self.mape:.2f}%, "
            f"{self.level:.0%} interval coverage {self.coverage:.0%}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "on": self.on,
            "cut": self.cut,
            "mae": self.mae,
            "mape": self.mape,
            "coverage": self.coverage,
            "level": self.level,
            "n_fit": self.n_fit,
            "n_heldout": self.n_heldout,
            "fit": self.fit.to_dict(),
            "heldout": self.table.to_dict(orient="records"),
        }


def forecast_errors(actual, prediction, low, high) -> tuple[float, float, float]:
    """MAE, MAPE (%) and interval coverage."""
    actual, prediction = np.asarray(actual, float), np.asarray(prediction, float)
    err = np.abs(prediction - actual)
    inside = (np.asarray(low) <= actual) & (actual <= np.asarray(high))
    return float(err.mean()), float(100 * np.mean(err / np.abs(actual))), float(inside.mean())


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
    fit: LawFit | DownstreamFit,
    above: pd.DataFrame,
    pred: pd.DataFrame,
) -> Backtest:
    """The held-out rows ``above`` with their predictions ``pred``, and the errors."""
    table = above.reset_index(drop=True)
    table["actual"] = pd.to_numeric(table[fit.y], errors="coerce")
    table[["prediction", "low", "high"]] = pred[["prediction", "low", "high"]].to_numpy()
    mae, mape, coverage = forecast_errors(
        table["actual"], table["prediction"], table["low"], table["high"]
    )
    return Backtest(law, on, cut, mae, mape, coverage, level, fit.n, len(table), table, fit)


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
    **fit_options: Any,
) -> Backtest:
    """Fit ``law`` on rows with ``data[on] <= holdout_above`` only, predict the rows above.

    Without ``holdout_above`` the cut is the ``quantile`` of ``data[on]``. The held-out rows
    never reach the fit: it receives a copy of the rows below the cut."""
    cut, below, above = _split(data, on, holdout_above, quantile)
    fit = fit_law(below, law, bootstrap=bootstrap, seed=seed, **fit_options)
    pred = fit.predict(above, level=level)
    return _scored(law, on, cut, level, fit, above, pred)


def backtest_downstream(
    data: pd.DataFrame,
    *,
    x: str = "flops",
    holdout_above: float | None = None,
    quantile: float = 0.75,
    level: float = 0.9,
    bootstrap: int = 200,
    seed: int = 0,
    **downstream_options: Any,
) -> Backtest:
    """:func:`fit_downstream` on rows with ``data[x] <= holdout_above`` only (default: the
    ``quantile`` of ``data[x]``), its score forecast scored on the rows above.

    ``downstream_options`` are :func:`fit_downstream`'s (y, loss, target, floor, ceiling).
    The result's ``law`` is ``"downstream"`` and its ``fit`` the :class:`DownstreamFit`."""
    cut, below, above = _split(data, x, holdout_above, quantile)
    fit = fit_downstream(below, x=x, bootstrap=bootstrap, seed=seed, **downstream_options)
    pred = fit.predict(pd.to_numeric(above[x], errors="coerce").to_numpy(float), level=level)
    return _scored("downstream", x, cut, level, fit, above, pred)
