"""Trend checks: inverse / U-shaped scaling (McKenzie et al. 2023, "Inverse Scaling") and
accuracy-on-the-line (Miller et al. 2021): probit(OOD) linear in probit(ID), with a curvature test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtri

from assay.core import accepts_confidence
from assay.errors import InputError

__all__ = ["LineFit", "TrendResult", "accuracy_on_the_line", "detect_inverse_scaling"]


def _ols(design: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    """Weighted OLS: coefficients, standard errors, residual dof."""
    w = np.ones(len(y)) if w is None else w
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    resid = (y - design @ coef) * sw
    dof = len(y) - design.shape[1]
    sigma2 = resid @ resid / max(dof, 1)
    cov = sigma2 * np.linalg.pinv((design * w[:, None]).T @ design)
    return coef, np.sqrt(np.diag(cov)), dof


@dataclass
class TrendResult:
    """Shape of score vs log x: ``standard``, ``inverse``, ``U-shaped``, ``inverted-U`` or
    ``flat``; slope test (linear fit) and curvature test (quadratic fit), both t-tests."""

    shape: str
    slope: float
    slope_pvalue: float
    curvature: float
    curvature_pvalue: float
    vertex: float | None  # x at the quadratic's turning point
    n: int
    alpha: float

    @property
    def statistic(self) -> float:
        return self.slope

    @property
    def pvalue(self) -> float:
        return (
            self.curvature_pvalue if self.shape in ("U-shaped", "inverted-U") else self.slope_pvalue
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, pvalue=self.pvalue)


def _numbers(values: Any, name: str) -> np.ndarray:
    """Finite floats, or a one-line error naming the first value that is not one."""
    raw = pd.Series(np.asarray(values, dtype=object).ravel())
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(num)
    if bad.any():
        first = raw[bad].iloc[0]
        raise InputError(f"trend test: {name} value {first!r} is not a finite number")
    return num


@accepts_confidence()
def detect_inverse_scaling(
    x: Any,
    y: Any,
    *,
    se: Any = None,
    higher_is_better: bool = True,
    alpha: float = 0.05,
) -> TrendResult:
    """Test whether a score gets worse with scale (inverse scaling) or turns (U / inverted U).

    Linear fit y = b0 + b1·log x: one-sided t-test of b1 in the "worse" direction.
    Quadratic y = c0 + c1·log x + c2·(log x)^2: two-sided t-test of c2; a significant c2 with
    its vertex inside the data range gives a U (worse then better) or inverted U (better then
    worse). The two tests share ``alpha`` (Bonferroni: each at alpha/2), so a flat trend is
    flagged as inverse, U or inverted U at most ``alpha`` of the time. Optional ``se`` weights
    points by 1/se^2."""
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha}: must be between 0 and 1")
    x, y = _numbers(x, "x"), _numbers(y, "y")
    if len(x) != len(y):
        raise InputError(f"trend test: x has {len(x)} values and y {len(y)}")
    if len(x) < 4 or np.any(x <= 0):
        raise InputError("trend test needs at least 4 points with positive x")
    if se is not None:
        se = _numbers(se, "se")
        if np.any(se <= 0):
            raise InputError("trend test: every standard error (se) must be > 0")
    sign = 1.0 if higher_is_better else -1.0
    s = sign * y  # higher = better from here on
    lx = np.log(x)
    w = None if se is None else 1.0 / np.asarray(se, float) ** 2
    coef1, se1, dof1 = _ols(np.column_stack([np.ones_like(lx), lx]), s, w)
    t1 = coef1[1] / se1[1]
    p_worse = float(stats.t.cdf(t1, dof1))
    p_better = float(stats.t.sf(t1, dof1))
    coef2, se2, dof2 = _ols(np.column_stack([np.ones_like(lx), lx, lx**2]), s, w)
    t2 = coef2[2] / se2[2] if se2[2] > 0 else 0.0
    p_curv = float(2 * stats.t.sf(abs(t2), dof2)) if dof2 > 0 else 1.0
    vertex_lx = -coef2[1] / (2 * coef2[2]) if coef2[2] != 0 else np.nan
    inside = bool(np.isfinite(vertex_lx) and lx.min() < vertex_lx < lx.max())
    each = alpha / 2
    if p_curv < each and inside:
        shape = "U-shaped" if coef2[2] > 0 else "inverted-U"
    elif p_worse < each:
        shape = "inverse"
    elif p_better < each:
        shape = "standard"
    else:
        shape = "flat"
    return TrendResult(
        shape,
        float(sign * coef1[1]),
        min(p_worse, p_better) if shape != "inverse" else p_worse,
        float(sign * coef2[2]),
        p_curv,
        float(np.exp(vertex_lx)) if inside else None,
        len(x),
        alpha,
    )


@dataclass
class LineFit:
    """probit(OOD) = intercept + slope·probit(ID); curvature = quadratic term and its p-value."""

    slope: float
    intercept: float
    r2: float
    curvature: float
    curvature_pvalue: float
    n: int
    dropped: dict[str, int] = field(default_factory=dict)  # pairs left out, by reason

    def predict(self, id_accuracy: Any) -> np.ndarray:
        z = ndtri(np.clip(np.asarray(id_accuracy, float), 1e-6, 1 - 1e-6))
        return stats.norm.cdf(self.intercept + self.slope * z)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "dropped"}
        out["dropped"] = {"rows": int(sum(self.dropped.values())), "reasons": dict(self.dropped)}
        return out


def accuracy_on_the_line(id_accuracy: Any, ood_accuracy: Any) -> LineFit:
    """Fit the probit-linear ID -> OOD line and t-test a quadratic (curvature) term. Pairs with
    a missing (NaN) or infinite accuracy are left out and counted in ``dropped``."""
    a, b = np.asarray(id_accuracy, float), np.asarray(ood_accuracy, float)
    pair = np.column_stack([a, b])
    nan = np.isnan(pair).any(axis=1)
    inf = ~nan & np.isinf(pair).any(axis=1)
    dropped = {k: int(v.sum()) for k, v in (("missing or NaN", nan), ("infinite", inf)) if v.any()}
    a, b = a[~nan & ~inf], b[~nan & ~inf]
    if len(a) < 4:
        raise InputError(f"accuracy-on-the-line needs at least 4 models; got {len(a)}")
    za, zb = ndtri(np.clip(a, 1e-6, 1 - 1e-6)), ndtri(np.clip(b, 1e-6, 1 - 1e-6))
    if np.unique(za).size < 2:
        raise InputError(
            f"accuracy-on-the-line not fitted: all {len(a)} in-distribution accuracies are "
            f"{a[0]:.4g} (no spread: no line through them)"
        )
    res = stats.linregress(za, zb)
    coef, se, dof = _ols(np.column_stack([np.ones_like(za), za, za**2]), zb)
    p = float(2 * stats.t.sf(abs(coef[2] / se[2]), dof)) if dof > 0 and se[2] > 0 else 1.0
    return LineFit(
        float(res.slope),
        float(res.intercept),
        float(res.rvalue**2),
        float(coef[2]),
        p,
        len(a),
        dropped,
    )
