"""Style control: Bradley–Terry with style covariates, as LMArena computes it.

For every battle and style feature f (answer length, markdown headers, list items, bold
spans), the covariate is the normalised difference (a − b) / (a + b + 1) of the two answers'
values, standardised over the battles (mean 0, population standard deviation 1). The model is

    logit P(a beats b) = θ_a − θ_b + Σ_f β_f z_f,      ties as half a win each,

fitted by maximum likelihood (Newton's method on the per-battle likelihood; a ridge of 1e-6
only keeps an unbeaten model finite). θ are the style-adjusted strengths (reported on the Elo
scale); β (logit scale) says how much one standard deviation of a style difference moves the
odds of winning. Intervals: percentile bootstrap over resampled battles, the Wald interval
(inverse Hessian) or the sandwich (robust) covariance H⁻¹ M H⁻¹ with M the sum of the battles'
score outer products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from assay.core import style_values, text_style
from assay.errors import InputError

__all__ = [
    "StyleFit",
    "fit_style",
    "standardise",
    "style_design",
    "style_differences",
    "text_style",
]


#: Column name prefix of style differences computed already (one column per feature).
DIFF_PREFIX = "style_diff:"


def style_differences(battles: pd.DataFrame) -> pd.DataFrame:
    """Per battle and feature, (a − b) / (a + b + 1) of the two answers' values: from
    ``style_a`` / ``style_b`` (dicts feature → value; the features both sides give) or,
    without them, from ``answer_a`` / ``answer_b`` text (:data:`TEXT_FEATURES`); or the
    differences given already, as columns ``DIFF_PREFIX + feature`` (a file read a block at a
    time: :class:`assay.rank._battle_stream.CompactBattles`)."""
    given = [c for c in battles.columns if str(c).startswith(DIFF_PREFIX)]
    if given:
        diff = battles[given].to_numpy(float)
        return pd.DataFrame(
            diff, columns=[c[len(DIFF_PREFIX) :] for c in given], index=battles.index
        )
    side_a, side_b = style_values(battles)
    a, b = side_a.to_numpy(float), side_b.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = (a - b) / (a + b + 1.0)
    if not np.isfinite(diff).all():
        raise InputError("battles: style values must be numbers >= 0")
    return pd.DataFrame(diff, columns=[str(c) for c in side_a.columns], index=battles.index)


def standardise(diff: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Columns centred and divided by their population SD over the battles (``weights``:
    battles per row); a constant column stays 0."""
    w = np.ones(len(diff)) if weights is None else np.asarray(weights, dtype=float)
    mean = w @ diff / w.sum()
    sd = np.sqrt(w @ (diff - mean) ** 2 / w.sum())
    return (diff - mean) / np.where(sd > 0, sd, 1.0)


def style_design(battles: pd.DataFrame) -> pd.DataFrame:
    """Standardised style covariates, one column per feature, one row per battle: each
    :func:`style_differences` column centred and divided by its population standard
    deviation over the battles, as LMArena does (a constant column stays 0)."""
    diff = style_differences(battles)
    return pd.DataFrame(standardise(diff.to_numpy()), columns=diff.columns, index=diff.index)


@dataclass
class StyleFit:
    """Strengths θ (K,) centred to mean 0, style coefficients β (F,), the covariance of
    (θ, β) for the sum-zero θ (model-based, i.e. inverse Hessian, or sandwich), iterations."""

    theta: np.ndarray
    beta: np.ndarray
    covariance: np.ndarray
    iterations: int


def _hessian(a, b, z, v, k):
    """Σ v x xᵀ for x = (e_a − e_b, z): the (K + F)² matrix, assembled per pair and feature."""
    f = z.shape[1]
    h = np.zeros((k + f, k + f))
    pair = np.bincount(a * k + b, v, k * k).reshape(k, k)
    h[:k, :k] = -(pair + pair.T)
    diag = np.arange(k)
    h[diag, diag] = pair.sum(axis=1) + pair.sum(axis=0)
    vz = v[:, None] * z
    for col in range(f):  # features, not battles
        cross = np.bincount(a, vz[:, col], k) - np.bincount(b, vz[:, col], k)
        h[:k, k + col] = cross
        h[k + col, :k] = cross
    h[k:, k:] = z.T @ vz
    return h


def _nll(theta, beta, a, b, z, y, w, l2):
    d = theta[a] - theta[b] + z @ beta
    # y log σ(d) + (1 − y) log σ(−d), with log σ(−d) = log σ(d) − d
    ll = w @ (log_expit(d) - (1 - y) * d)
    return -ll + 0.5 * l2 * (theta @ theta + beta @ beta)


def fit_style(
    a: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    k: int,
    *,
    weights: np.ndarray | None = None,
    l2: float = 1e-6,
    tol: float = 1e-10,
    max_iter: int = 100,
    sandwich: bool = False,
    start: StyleFit | None = None,
) -> StyleFit:
    """Maximum likelihood of θ and β (module docstring) by damped Newton with the exact
    Hessian; ``y`` is 1 (a won), 0 (b won) or 0.5 (tie); ``weights`` repeat battles."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    y, z = np.asarray(y, dtype=float), np.asarray(z, dtype=float).reshape(len(a), -1)
    w = np.ones(len(a)) if weights is None else np.asarray(weights, dtype=float)
    f = z.shape[1]
    theta = np.zeros(k) if start is None else start.theta.copy()
    beta = np.zeros(f) if start is None else start.beta.copy()
    gauge = np.zeros((k + f, k + f))
    gauge[:k, :k] = 1.0  # θ + c·1 is the same model; the 1ᵀ step stays 0
    ridge = l2 * np.eye(k + f)
    value = _nll(theta, beta, a, b, z, y, w, l2)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (returned below)
        p = expit(theta[a] - theta[b] + z @ beta)
        r = w * (y - p)
        grad = np.concatenate(
            [np.bincount(a, r, k) - np.bincount(b, r, k) - l2 * theta, z.T @ r - l2 * beta]
        )
        hess = _hessian(a, b, z, w * p * (1 - p), k) + ridge + gauge
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        for _ in range(40):  # halve the step while the objective goes up
            t_new, b_new = theta + scale * step[:k], beta + scale * step[k:]
            new = _nll(t_new, b_new, a, b, z, y, w, l2)
            if new <= value + 1e-12 * abs(value):
                break
            scale *= 0.5
        theta, beta, value = t_new - t_new.mean(), b_new, new
        if np.max(np.abs(scale * step)) < tol:
            break
    p = expit(theta[a] - theta[b] + z @ beta)
    bread = np.linalg.inv(_hessian(a, b, z, w * p * (1 - p), k) + ridge + gauge)
    bread[:k, :k] -= 1.0 / k**2  # the pseudo-inverse: covariance of the sum-zero θ
    cov = bread
    if sandwich:
        cov = bread @ _hessian(a, b, z, w * (y - p) ** 2, k) @ bread
    return StyleFit(theta=theta, beta=beta, covariance=cov, iterations=it)
