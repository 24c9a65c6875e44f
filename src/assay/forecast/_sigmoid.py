"""The floored/ceilinged sigmoid link and target transforms (accuracy, logit, log p(correct))."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit, logit

from assay.errors import InputError

from ._noisy import need_points

__all__ = ["TARGETS", "Sigmoid", "fit_sigmoid", "to_target"]

TARGETS = ("accuracy", "logit", "logp")


def to_target(y: np.ndarray, target: str, floor: float = 0.0, ceiling: float = 1.0) -> np.ndarray:
    """Accuracy as is; ``logit``: logit((y - floor)/(ceiling - floor)), clipped; ``logp``:
    y is already mean log p(correct) (Schaeffer et al. 2023: smooth where accuracy jumps)."""
    y = np.asarray(y, dtype=float)
    if target == "accuracy" or target == "logp":
        return y
    if target == "logit":
        frac = np.clip((y - floor) / (ceiling - floor), 1e-4, 1 - 1e-4)
        return logit(frac)
    raise InputError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")


@dataclass
class Sigmoid:
    """y = floor + (ceiling - floor) · expit(slope · (x - midpoint))."""

    floor: float
    ceiling: float
    slope: float
    midpoint: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return self.floor + (self.ceiling - self.floor) * expit(self.slope * (x - self.midpoint))

    def inverse(self, y: np.ndarray) -> np.ndarray:
        frac = np.clip(
            (np.asarray(y, float) - self.floor) / (self.ceiling - self.floor), 1e-9, 1 - 1e-9
        )
        return self.midpoint + logit(frac) / self.slope


def fit_sigmoid(
    x: np.ndarray,
    y: np.ndarray,
    *,
    floor: float | None = None,
    ceiling: float | None = 1.0,
    weights: np.ndarray | None = None,
) -> Sigmoid:
    """Least-squares sigmoid; ``floor``/``ceiling`` fixed when given (e.g. chance and 1), else
    fitted. Started from a logit-linear fit, then ``scipy.optimize.least_squares``. Fewer
    points than its parameters + 2 (4 with both bounds fixed) are refused in one line."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    need_points(2 + (floor is None) + (ceiling is None), len(y), "a sigmoid fit")
    w = np.ones_like(y) if weights is None else np.sqrt(np.asarray(weights, float))
    lo0 = float(min(y.min(), floor if floor is not None else y.min()))
    hi0 = float(ceiling if ceiling is not None else max(y.max(), lo0 + 1e-3))
    lo0 = floor if floor is not None else lo0 - 0.05 * (hi0 - lo0)
    z = logit(np.clip((y - lo0) / (hi0 - lo0), 0.02, 0.98))
    slope0, icpt0 = np.polyfit(x, z, 1) if np.ptp(x) > 0 else (1.0, 0.0)
    slope0 = slope0 if abs(slope0) > 1e-6 else 1.0
    start = [slope0, -icpt0 / slope0]
    free = [floor is None, ceiling is None]
    start += [v for v, f in zip((lo0, hi0), free, strict=True) if f]

    def unpack(p):
        it = iter(p[2:])
        lo = next(it) if free[0] else floor
        hi = next(it) if free[1] else ceiling
        return lo, hi, p[0], p[1]

    def resid(p):
        lo, hi, k, m = unpack(p)
        return w * (lo + (hi - lo) * expit(k * (x - m)) - y)

    res = least_squares(
        resid, np.array(start, float), method="lm" if len(y) > len(start) else "trf"
    )
    lo, hi, k, m = unpack(res.x)
    return Sigmoid(float(lo), float(hi), float(k), float(m))
