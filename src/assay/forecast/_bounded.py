"""Bounded, higher-is-better scores (accuracy) of bigger models from smaller ones.

Methods (x is model size; per-size mean scores; floor = chance, ceiling = 1):

- ``power-error`` (default): the error above chance u = (ceiling − y)/(ceiling − floor) is a
  power law in x, log u = a − b·log x, fitted on the ``window`` (4) largest sizes (the local
  trend the next sizes continue; cf. Gadre et al. 2024, Owen 2024 on error-rate power laws).
- ``log-linear``: y = a + b·log x on every size (a naive baseline).
- ``flat``: the largest size's score (the "last value" naive baseline).
- ``family-mean``: the mean over the sizes seen (a naive baseline).
- ``select``: whichever of power-error, log-linear, flat had the smallest rolling-origin MAE.

Every method is a weighted line on its working scale (:mod:`._noisy`): the interval carries the
evaluation noise of each observed score (binomial over ``n_items``, or given standard errors),
the parameters' uncertainty and the extra scatter, with Welch–Satterthwaite degrees of freedom
for the part estimated from the k − p residuals; a method refuses, in one line, fewer sizes
than its parameters + 2.

Near chance (the largest size within ``margin`` of the floor) the data cannot show a trend:
the forecast is ``flat`` whatever the method, so pure-chance data never forecasts emergence.
Intervals are clipped to [min(0, floor), max(1, ceiling)].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import require_columns
from assay.errors import InputError

from ._calibrate import rolling_origin
from ._noisy import GROWTH, NoisyLine, binomial_se, fit_noisy_line, need_points

__all__ = ["BASELINES", "SCORE_METHODS", "ScoreFit", "fit_score"]

SCORE_METHODS = ("power-error", "log-linear", "flat", "family-mean", "select")
BASELINES = ("flat", "log-linear", "family-mean")
_PARAMS = {"power-error": 2, "log-linear": 2, "flat": 1, "family-mean": 1}


@dataclass
class _Method:
    """One method fitted to per-size means: a :class:`NoisyLine` on its working scale z
    (power-error: log of the error above chance; otherwise the score itself)."""

    name: str
    line: NoisyLine
    floor: float
    ceiling: float

    def _mean_z(self, t: np.ndarray) -> np.ndarray:
        return self.line.mean(t) if self.name != "flat" else np.full(np.shape(t), self.line.coef[0])

    def _to_score(self, z: np.ndarray) -> np.ndarray:
        if self.name == "power-error":
            return self.ceiling - (self.ceiling - self.floor) * np.exp(z)
        return z

    def predict(self, at: np.ndarray, level: float, n_items: float | None):
        """(prediction, low, high) at log x ``at``; the new score's binomial noise is carried
        to the working scale by the delta method."""
        z = self._mean_z(at)
        pred = self._to_score(z)
        se_new = binomial_se(np.clip(pred, 0, 1), n_items)
        slope = (self.ceiling - pred) if self.name == "power-error" else 1.0
        v_new = (se_new / np.maximum(np.abs(slope), 1e-4)) ** 2
        h_new = _shape(pred, slope) if self.line.shaped else 1.0
        hw = self.line.half_width(at, level, v_new, h_new)
        a, b = self._to_score(z - hw), self._to_score(z + hw)
        return pred, np.minimum(a, b), np.maximum(a, b)


def _shape(y: np.ndarray, slope: np.ndarray | float) -> np.ndarray:
    """The binomial variance shape p(1 − p) of scores ``y`` on the working scale (÷ slope²):
    the relative scatter when the evaluation noise is unknown (quasi-binomial)."""
    p = np.clip(np.asarray(y, float), 0.01, 0.99)
    return p * (1 - p) / np.maximum(np.abs(slope), 1e-4) ** 2


def _fit_method(
    method: str,
    lx: np.ndarray,
    y: np.ndarray,
    se: np.ndarray,
    floor: float,
    ceiling: float,
    window: int,
    growth: float,
) -> _Method:
    """Fit one method to per-size means (lx ascending) with their standard errors ``se``;
    refuses (one line) with fewer sizes than its parameters + 2."""
    what = f"a {method} forecast"
    need_points(_PARAMS[method], len(y), what)
    if method == "flat":  # the largest size's score; the steps between sizes as its scatter
        steps = np.diff(y)
        tau2 = max(0.0, float(np.mean(steps**2) - 2 * np.mean(se**2)))
        cov = np.array([[se[-1] ** 2]])  # the last score's own noise: known, no df cost
        line = NoisyLine(np.array([y[-1]]), cov, tau2, 1.0, len(y) - 1, float(lx[-1]), growth)
        line.share = 0.0
        return _Method(method, line, floor, ceiling)
    unknown = not np.any(se > 0)  # no noise given: a new score scatters by the binomial shape
    if method == "family-mean":
        h = _shape(y, 1.0) if unknown else None
        line = fit_noisy_line(lx, y, se**2, slope=False, growth=growth, what=what, shape=h)
        return _Method(method, line, floor, ceiling)
    if method == "log-linear":
        h = _shape(y, 1.0) if unknown else None
        line = fit_noisy_line(lx, y, se**2, growth=growth, what=what, shape=h)
        return _Method(method, line, floor, ceiling)
    lw, yw, sw = lx[-window:], y[-window:], se[-window:]
    gap = np.clip(ceiling - yw, 1e-4 * (ceiling - floor), None)
    z = np.log(gap / (ceiling - floor))
    h = _shape(yw, gap) if unknown else None
    line = fit_noisy_line(lw, z, (sw / gap) ** 2, growth=growth, what=what, shape=h)
    return _Method(method, line, floor, ceiling)


@dataclass
class ScoreFit:
    """A bounded-score forecast: the method used (and why), its fitted line, the sizes seen."""

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
    fitted: _Method
    backtest_mae: dict[str, float]
    dropped: dict[str, int]
    n_items: float | None = None
    se: np.ndarray | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        return (min(0.0, self.floor), max(1.0, self.ceiling))

    def predict(self, x_values: Any, level: float = 0.9) -> pd.DataFrame:
        """Score at ``x_values`` with its ``level`` prediction interval (clipped to bounds):
        parameters, scatter and the evaluation noise of the observed and the new score."""
        xs = np.atleast_1d(np.asarray(x_values, float))
        if np.any(~np.isfinite(xs)) or np.any(xs <= 0):
            raise InputError(f"{self.x} values to predict at must be positive numbers")
        pred, low, high = self.fitted.predict(np.log(xs), level, self.n_items)
        pred = np.clip(pred, *self.bounds)
        if self.method == "flat":
            low, high = np.minimum(low, pred - self.margin), np.maximum(high, pred + self.margin)
        return pd.DataFrame(
            {
                self.x: xs,
                "prediction": pred,
                "low": np.clip(low, *self.bounds),
                "high": np.clip(high, *self.bounds),
            }
        )

    def interval(self, level: float = 0.9) -> dict[str, Any]:
        """How the interval is made (the JSON's ``interval``)."""
        return {
            "interval": "noise-aware Student-t: parameters + scatter + evaluation noise",
            "method": "noise-aware",
            "level": level,
            "evaluation_noise": "binomial over n items"
            if self.n_items is not None
            else (
                "given standard errors"
                if self.se is not None and self.se.any()
                else "in the scatter"
            ),
            "n_items": self.n_items,
            **self.fitted.line.to_dict(),
        }

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
            "interval": self.interval(level),
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
    window: int = 4,
    margin: float | None = None,
    se: str | None = None,
    n_items: float | None = None,
    growth: float = GROWTH,
) -> ScoreFit:
    """Fit a bounded-score forecast (see the module docstring for the methods).

    ``n_items`` (the benchmark's size) gives each mean score its binomial standard error; ``se``
    names a column of standard errors instead. ``margin`` is how far above ``floor`` the largest
    size must score for a trend to count (default: 2 standard errors, and at least 0.02).
    Fewer distinct sizes than the method's parameters + 2 are refused in one line."""
    if method not in SCORE_METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(SCORE_METHODS)}")
    if not floor < ceiling:
        raise InputError(f"floor {floor:g} must be below ceiling {ceiling:g}")
    if window < 4:
        raise InputError(f"window must be at least 4 sizes (2 parameters + 2); got {window}")
    if n_items is not None and not (np.isfinite(n_items) and n_items >= 1):
        raise InputError(f"n_items must be a count of at least 1; got {n_items!r}")
    require_columns(data, [x, y] + ([se] if se else []))
    frame, dropped = _clean(data, x, y)
    grouped = frame.groupby(x)[y]
    means = grouped.mean().sort_index()
    count = grouped.size().reindex(means.index).to_numpy(float)
    lx, yv = np.log(means.index.to_numpy(float)), means.to_numpy(float)
    sev = binomial_se(yv, None if n_items is None else n_items * count)
    if se:
        given = pd.to_numeric(data[se], errors="coerce")
        per = given.groupby(pd.to_numeric(data[x], errors="coerce")).mean()
        per = per.reindex(means.index).to_numpy(float) / np.sqrt(count)
        sev = np.where(np.isfinite(per) & (per > 0), per, sev)
    if margin is None:
        margin = max(0.02, 2 * float(sev[-1]) if len(sev) else 0.0)
    near_chance = len(yv) and yv[-1] - floor <= margin
    first = "flat" if near_chance else ("power-error" if method == "select" else method)
    need_points(_PARAMS[first], len(yv), f"a {first} forecast of {y} from distinct {x} values")

    def mae_of(m: str) -> float:
        def residuals_for(fit_mask: np.ndarray, test_mask: np.ndarray) -> np.ndarray:
            args = (lx[fit_mask], yv[fit_mask], sev[fit_mask], floor, ceiling, window, growth)
            return yv[test_mask] - _fit_method(m, *args).predict(lx[test_mask], 0.9, None)[0]

        res, _, _ = rolling_origin(
            np.exp(lx), residuals_for, min_fit=_PARAMS[m] + 2, max_origins=len(lx)
        )
        return float(np.mean(np.abs(res))) if res.size else np.inf

    candidates = ("power-error", "log-linear", "flat") if method == "select" else (method,)
    scored = {m: mae_of(m) for m in candidates}  # a handful of tiny fits per method
    chosen = min(scored, key=lambda m: scored[m]) if method == "select" else method
    reason = "requested" if method != "select" else "smallest rolling-origin MAE"
    if near_chance:
        chosen, reason = "flat", f"largest {x} scores within {margin:.3g} of chance: no trend"
        scored.setdefault("flat", mae_of("flat"))
    fitted = _fit_method(chosen, lx, yv, sev, floor, ceiling, window, growth)
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
        fitted,
        scored,
        dropped,
        n_items,
        sev,
    )
