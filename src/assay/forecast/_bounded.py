"""Bounded, higher-is-better scores (accuracy) of bigger models from smaller ones.

Methods (x is model size; per-size mean scores; floor = chance, ceiling = 1):

- ``power-error`` (default): the error above chance u = (ceiling − y)/(ceiling − floor) is a
  power law in x, log u = a − b·log x, fitted on the ``window`` largest sizes (the local trend
  the next sizes continue; cf. Gadre et al. 2024, Owen 2024 on error-rate power laws).
- ``log-linear``: y = a + b·log x on every size (a naive baseline).
- ``flat``: the largest size's score (the other naive baseline).
- ``select``: whichever of the three had the smallest rolling-origin MAE inside the data.

Near chance (the largest size within ``margin`` of the floor) the data cannot show a trend:
the forecast is ``flat`` whatever the method, so pure-chance data never forecasts emergence.
Intervals are calibrated by rolling-origin backtests of the chosen method (see
:mod:`._calibrate`) and clipped to [min(0, floor), max(1, ceiling)].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import require_columns
from assay.errors import InputError

from ._calibrate import Calibration, calibrate_residuals, rolling_origin

__all__ = ["SCORE_METHODS", "ScoreFit", "fit_score"]

SCORE_METHODS = ("power-error", "log-linear", "flat", "select")
_MIN_FIT = 3


def _predict(
    method: str,
    lx: np.ndarray,
    y: np.ndarray,
    at: np.ndarray,
    floor: float,
    ceiling: float,
    window: int,
) -> np.ndarray:
    """One method fitted to per-size means (lx sorted ascending), evaluated at log x ``at``."""
    if method == "flat":
        return np.full(at.shape, y[-1])
    if method == "log-linear":
        slope, icpt = np.polyfit(lx, y, 1)
        return icpt + slope * at
    lw, yw = lx[-window:], y[-window:]
    u = np.clip((ceiling - yw) / (ceiling - floor), 1e-4, None)
    slope, icpt = np.polyfit(lw, np.log(u), 1)
    return ceiling - (ceiling - floor) * np.exp(icpt + slope * at)


@dataclass
class ScoreFit:
    """A bounded-score forecast: the method used (and why), its calibration, the sizes seen."""

    x: str
    y: str
    method: str
    requested: str
    reason: str
    floor: float
    ceiling: float
    window: int
    margin: float
    n: int
    log_x: np.ndarray
    means: np.ndarray
    calibration: Calibration
    backtest_mae: dict[str, float]
    dropped: dict[str, int]

    @property
    def bounds(self) -> tuple[float, float]:
        return (min(0.0, self.floor), max(1.0, self.ceiling))

    def predict(self, x_values: Any, level: float = 0.9) -> pd.DataFrame:
        """Score at ``x_values`` with the calibrated ``level`` interval (clipped to bounds)."""
        xs = np.atleast_1d(np.asarray(x_values, float))
        if np.any(~np.isfinite(xs)) or np.any(xs <= 0):
            raise InputError(f"{self.x} values to predict at must be positive numbers")
        pred = _predict(
            self.method, self.log_x, self.means, np.log(xs), self.floor, self.ceiling, self.window
        )
        pred = np.clip(pred, *self.bounds)
        low, high = self.calibration.interval(pred, xs, level)
        return pd.DataFrame(
            {
                self.x: xs,
                "prediction": pred,
                "low": np.clip(low, *self.bounds),
                "high": np.clip(high, *self.bounds),
            }
        )

    def to_dict(self, level: float = 0.9) -> dict[str, Any]:
        return {
            "x": self.x,
            "y": self.y,
            "method": self.method,
            "requested": self.requested,
            "reason": self.reason,
            "floor": self.floor,
            "ceiling": self.ceiling,
            "window": self.window,
            "margin": self.margin,
            "n": self.n,
            "rolling_origin_mae": self.backtest_mae,
            "interval": self.calibration.to_dict(level),
            "dropped": {"rows": int(sum(self.dropped.values())), "reasons": dict(self.dropped)},
        }


def _clean(data: pd.DataFrame, x: str, y: str) -> tuple[pd.DataFrame, dict[str, int]]:
    frame = data[[x, y]].apply(pd.to_numeric, errors="coerce")
    vals = frame.to_numpy(float)
    nan = np.isnan(vals).any(axis=1)
    inf = ~nan & np.isinf(vals).any(axis=1)
    nonpos = ~nan & ~inf & (vals[:, 0] <= 0)
    reasons = {
        "missing or NaN": int(nan.sum()),
        "infinite": int(inf.sum()),
        f"{x} zero or negative": int(nonpos.sum()),
    }
    return frame[~(nan | inf | nonpos)], {k: v for k, v in reasons.items() if v}


def fit_score(
    data: pd.DataFrame,
    *,
    x: str = "params",
    y: str = "score",
    floor: float = 0.0,
    ceiling: float = 1.0,
    method: str = "power-error",
    window: int = 3,
    margin: float | None = None,
    se: str | None = None,
) -> ScoreFit:
    """Fit a bounded-score forecast (see the module docstring for the methods).

    ``margin`` is how far above ``floor`` the largest size must score for a trend to count
    (default: 2 standard errors from column ``se`` when given, and at least 0.02)."""
    if method not in SCORE_METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(SCORE_METHODS)}")
    if not floor < ceiling:
        raise InputError(f"floor {floor:g} must be below ceiling {ceiling:g}")
    if window < 2:
        raise InputError(f"window must be at least 2 sizes; got {window}")
    require_columns(data, [x, y] + ([se] if se else []))
    frame, dropped = _clean(data, x, y)
    means = frame.groupby(x)[y].mean().sort_index()
    if len(means) < _MIN_FIT:
        raise InputError(
            f"a score forecast needs at least {_MIN_FIT} distinct {x} values; got {len(means)}"
        )
    lx, yv = np.log(means.index.to_numpy(float)), means.to_numpy(float)
    if margin is None:
        se_last = 0.0
        if se:
            sev = pd.to_numeric(data[se], errors="coerce")
            se_last = float(
                np.nanmax(sev[pd.to_numeric(data[x], errors="coerce") == means.index[-1]])
            )
        margin = max(0.02, 2 * (se_last if np.isfinite(se_last) else 0.0))

    def mae_of(m: str) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        def residuals_for(fit_mask: np.ndarray, test_mask: np.ndarray) -> np.ndarray:
            p = _predict(m, lx[fit_mask], yv[fit_mask], lx[test_mask], floor, ceiling, window)
            return yv[test_mask] - p

        res, dist, origin = rolling_origin(
            np.exp(lx), residuals_for, min_fit=_MIN_FIT, max_origins=len(lx)
        )
        return (float(np.mean(np.abs(res))) if res.size else np.inf), res, dist, origin

    candidates = ("power-error", "log-linear", "flat") if method == "select" else (method,)
    scored = {m: mae_of(m) for m in candidates}  # a handful of tiny fits per method
    chosen = min(scored, key=lambda m: scored[m][0])
    reason = "requested" if method != "select" else "smallest rolling-origin MAE"
    if yv[-1] - floor <= margin:
        chosen, reason = "flat", f"largest {x} scores within {margin:.3g} of chance: no trend"
        scored.setdefault("flat", mae_of("flat"))
    _, res, dist, origin = scored[chosen]
    if res.size == 0:
        raise InputError(f"too few sizes to backtest the {chosen} forecast inside the data")
    calibration = calibrate_residuals(
        res,
        dist,
        on=x,
        space="score",
        x_max=float(np.exp(lx[-1])),
        origin=origin,
        min_half_width=margin if chosen == "flat" else 0.0,
    )
    return ScoreFit(
        x,
        y,
        chosen,
        method,
        reason,
        float(floor),
        float(ceiling),
        window,
        float(margin),
        int(len(frame)),
        lx,
        yv,
        calibration,
        {m: v[0] for m, v in scored.items()},
        dropped,
    )
