"""Intervals calibrated for extrapolation: rolling-origin backtests inside the fitting data.

For every origin k (fit on the rows with the k smallest values of the cut column, predict the
rows above) the method's own out-of-sample residuals r and the distance d = log x − log x_max(fit)
of each target beyond the data are collected. An error-growth model s(d) = s0 + s1·d (least
squares of |r| on d, s0, s1 ≥ 0) scales them, and the interval half-width is q·s(d) with q the
split-conformal quantile of |r|/s(d) (Vovk et al.; rank ⌈(n+1)·level⌉ of n). With too few
residuals for that rank, q is the Student-t quantile (n degrees of freedom) times the RMS of
|r|/s(d): the fitted error-growth model, stated as such in ``to_dict``. The interval must hold
at every origin: q is the largest of the pooled quantile and each origin's own conformal
quantile (origins with enough residuals for one), as a worst case over folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from assay.errors import AssayError, InputError

__all__ = [
    "Calibration",
    "calibrate_residuals",
    "interval_score",
    "origin_cuts",
    "rolling_origin",
]


@dataclass
class Calibration:
    """Interval half-width q(level)·(s0 + s1·d) at distance d (log units beyond ``x_max``).

    ``space`` is where residuals live: ``log`` (y/ŷ for positive losses) or ``score``
    (y − ŷ for bounded scores)."""

    on: str
    space: str
    x_max: float
    s0: float
    s1: float
    normalised: np.ndarray = field(repr=False)
    n_origins: int = 0
    min_half_width: float = 0.0
    origin: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_errors(self) -> int:
        return int(self.normalised.size)

    def method(self, level: float) -> str:
        n = self.n_errors
        return "split-conformal" if np.ceil((n + 1) * level) <= n else "student-t error growth"

    def multiplier(self, level: float) -> float:
        """q: the conformal quantile of |r|/s(d) (pooled, and the largest per-origin one), or
        t_n·RMS when n is too small for a conformal rank."""
        z, n = self.normalised, self.n_errors
        if int(np.ceil((n + 1) * level)) > n:
            return float(stats.t.ppf((1 + level) / 2, max(n, 1)) * np.sqrt(np.mean(z**2)))
        groups = (
            [z]
            if self.origin is None
            else [z, *(z[self.origin == o] for o in np.unique(self.origin))]
        )
        return max(_conformal(g, level) for g in groups)

    def distance(self, x_values: Any) -> np.ndarray:
        """log(x / x_max), 0 inside the fitted range."""
        x = np.asarray(x_values, float)
        return np.maximum(np.log(x) - np.log(self.x_max), 0.0)

    def half_width(self, x_values: Any, level: float) -> np.ndarray:
        scale = self.s0 + self.s1 * self.distance(x_values)
        return np.maximum(self.multiplier(level) * scale, self.min_half_width)

    def interval(self, prediction: Any, x_values: Any, level: float) -> tuple[Any, Any]:
        """(low, high) around ``prediction`` at ``x_values``."""
        pred, hw = np.asarray(prediction, float), self.half_width(x_values, level)
        if self.space == "log":
            return pred * np.exp(-hw), pred * np.exp(hw)
        return pred - hw, pred + hw

    def to_dict(self, level: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "calibration": "rolling-origin backtests inside the fitting data",
            "on": self.on,
            "space": self.space,
            "error_growth": "s(d) = s0 + s1*d, d = log(x / x_max) beyond the fitted data",
            "s0": self.s0,
            "s1": self.s1,
            "x_max": self.x_max,
            "n_origins": self.n_origins,
            "n_errors": self.n_errors,
        }
        if level is not None:
            out.update(level=level, method=self.method(level), multiplier=self.multiplier(level))
        return out


def _conformal(z: np.ndarray, level: float) -> float:
    """The ⌈(n+1)·level⌉-th smallest of z, or 0 when n is too small for that rank."""
    rank = int(np.ceil((len(z) + 1) * level))
    return float(np.sort(z)[rank - 1]) if rank <= len(z) else 0.0


def origin_cuts(values: np.ndarray, min_fit: int, max_origins: int = 6) -> np.ndarray:
    """Cut values for rolling origins: distinct values v with ≥ ``min_fit`` rows ≤ v and ≥ 1 row
    above, at most ``max_origins`` of them spread evenly over that range."""
    v = np.sort(np.asarray(values, float))
    distinct = np.unique(v)
    n_le = np.searchsorted(v, distinct, side="right")
    ok = distinct[(n_le >= min_fit) & (n_le < len(v))]
    if len(ok) <= max_origins:
        return ok
    return ok[np.unique(np.round(np.linspace(0, len(ok) - 1, max_origins)).astype(int))]


def rolling_origin(
    on_values: np.ndarray,
    residuals_for: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    min_fit: int,
    max_origins: int = 6,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(residuals, distances, origin index of each): ``residuals_for(fit_mask, test_mask)`` fits
    on the rows of ``fit_mask`` and returns actual − predicted for the rows of ``test_mask``.
    Origins whose fit fails (too little spread, say) are skipped. ``progress(done, total)`` is
    called before the first origin and after each."""
    on_values = np.asarray(on_values, float)
    res, dist, used = [], [], 0
    origin = []
    cuts = origin_cuts(on_values, min_fit, max_origins)
    report = progress or (lambda _done, _total: None)
    report(0, len(cuts))
    for k, cut in enumerate(cuts):  # one refit per origin
        fit_mask, test_mask = on_values <= cut, on_values > cut
        try:
            r = np.asarray(residuals_for(fit_mask, test_mask), float)
        except (AssayError, ValueError, np.linalg.LinAlgError):
            report(k + 1, len(cuts))
            continue
        report(k + 1, len(cuts))
        keep = np.isfinite(r)
        res.append(r[keep])
        dist.append(np.log(on_values[test_mask][keep]) - np.log(on_values[fit_mask].max()))
        origin.append(np.full(int(keep.sum()), used))
        used += 1
    if not res:
        return np.zeros(0), np.zeros(0), np.zeros(0, int)
    return np.concatenate(res), np.concatenate(dist), np.concatenate(origin)


def calibrate_residuals(
    residuals: np.ndarray,
    distances: np.ndarray,
    *,
    on: str,
    space: str,
    x_max: float,
    origin: np.ndarray,
    min_half_width: float = 0.0,
) -> Calibration:
    """Fit s(d) = s0 + s1·d to |r| (non-negative least squares) and keep |r|/s(d)."""
    r, d = np.abs(np.asarray(residuals, float)), np.maximum(np.asarray(distances, float), 0)
    if r.size == 0:
        raise InputError(
            "no rolling-origin backtest could be fitted inside the data to calibrate the interval"
        )
    design = np.column_stack([np.ones_like(d), d])
    (s0, s1), *_ = np.linalg.lstsq(design, r, rcond=None)
    if s1 < 0 or not np.isfinite(s1):
        s0, s1 = float(r.mean()), 0.0
    if s0 < 0:
        s0, s1 = 0.0, float(np.sum(r * d) / max(np.sum(d * d), 1e-300))
    near = r[d <= np.median(d)]
    tiny = max(1e-9, 0.5 * float(np.median(near)))
    s0 = max(float(s0), tiny)  # at least half the typical near error: no zero-width interval
    z = r / (s0 + s1 * d)
    origin = np.asarray(origin)
    n_origins = int(np.unique(origin).size)
    return Calibration(on, space, float(x_max), s0, float(s1), z, n_origins, min_half_width, origin)


def interval_score(
    actual: np.ndarray, median: np.ndarray, bounds: dict[float, tuple[Any, Any]]
) -> np.ndarray:
    """Weighted interval score per point (Gneiting & Raftery 2007; Bracher et al. 2021):
    WIS = (|y − m|/2 + Σ_k α_k/2·IS_α_k) / (K + 1/2), IS_α = (u − l) + 2/α·[(l − y)+ + (y − u)+].
    ``bounds`` maps central level 1 − α to (low, high); crossing bounds are sorted first (sorting
    quantiles can only lower the score)."""
    y, m = np.asarray(actual, float), np.asarray(median, float)
    levels = sorted(bounds)
    lows = np.array([np.asarray(bounds[lv][0], float) for lv in levels])
    highs = np.array([np.asarray(bounds[lv][1], float) for lv in levels])
    quantiles = np.sort(np.concatenate([lows, m[None, :], highs]), axis=0)
    k = len(levels)
    lows, m, highs = quantiles[:k], quantiles[k], quantiles[k + 1 :][::-1]  # widest first
    total = np.abs(y - m) / 2
    for j, lv in enumerate(levels[::-1]):  # widest level first, like lows and highs
        alpha, lo, hi = 1 - lv, lows[j], highs[j]
        width = hi - lo + 2 / alpha * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
        total = total + alpha / 2 * width
    return total / (k + 0.5)
