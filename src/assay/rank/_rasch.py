"""Rasch ranking of sparse per-sample results: abilities and item difficulties fitted jointly.

P(model i right on sample s) = σ(θ_i − b_s), scores in [0, 1] (repeats averaged; a fractional
score is a quasi-binomial response). Item difficulties get a normal prior b ~ N(0, τ²) whose
variance τ² is re-estimated from the fit (empirical Bayes: τ² = mean(b̂² + 1/h_b)), so a sample
only one model saw still tells how hard the other samples that model saw were; abilities get a
weak N(0, 10²) prior that keeps a model that is always right finite. Maximised by alternating
one-dimensional Newton steps on θ and b (the Hessian of each block is diagonal), vectorised over
the observed cells and over bootstrap replicates at once (column weights (B, S)).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["fit_rasch"]

_THETA_PRECISION = 1e-2


def _sums(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per-replicate bincount: (B, N) values summed by ``index`` (N,) into (B, size)."""
    reps = values.shape[0]
    flat = (np.arange(reps)[:, None] * size + index[None, :]).ravel()
    return np.bincount(flat, weights=values.ravel(), minlength=reps * size).reshape(reps, size)


def fit_rasch(
    values: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    max_iter: int = 500,
    tol: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """Abilities θ (B, K) and difficulties b (B, S) of a (K × S) score matrix with NaN for
    missing cells; ``weights`` (B, S) are column multiplicities (bootstrap), default one fit
    with unit weights. θ is centred to mean 0 per replicate."""
    k, s = values.shape
    mi, ci = np.nonzero(~np.isnan(values))
    y = values[mi, ci]
    w = np.ones((1, s)) if weights is None else np.asarray(weights, dtype=float)
    wo = w[:, ci]  # (B, N) weight of each observed cell
    reps = w.shape[0]
    n_model = np.maximum(_sums(mi, wo, k), 1e-12)
    rate = (_sums(mi, wo * y[None, :], k) + 0.5) / (n_model + 1)
    theta = np.log(rate / (1 - rate))
    b = np.zeros((reps, s))
    tau2 = np.ones((reps, 1))
    for _ in range(max_iter):
        p = expit(theta[:, mi] - b[:, ci])
        grad = _sums(mi, wo * (y - p), k) - _THETA_PRECISION * theta
        hess = _sums(mi, wo * p * (1 - p), k) + _THETA_PRECISION
        step_t = np.clip(grad / hess, -1, 1)
        theta = theta + step_t
        p = expit(theta[:, mi] - b[:, ci])
        grad = -_sums(ci, wo * (y - p), s) - b / tau2
        hess = _sums(ci, wo * p * (1 - p), s) + 1 / tau2
        step_b = np.clip(grad / hess, -1, 1)
        b = b + step_b
        tau2 = np.maximum(np.mean(b**2 + 1 / hess, axis=1, keepdims=True), 1e-2)
        if max(np.abs(step_t).max(), np.abs(step_b).max()) < tol:
            break
    return theta - theta.mean(axis=1, keepdims=True), b
