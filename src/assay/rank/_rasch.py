"""Rasch ranking of sparse per-sample results: abilities and item difficulties fitted jointly.

P(model i right on sample s) = σ(θ_i − b_s), scores in [0, 1] (repeats averaged; a fractional
score is a quasi-binomial response). Item difficulties get a normal prior b_s ~ N(μ_g, τ²)
around the mean difficulty μ_g of the sample's group g (its task), with μ_g and τ² re-estimated
from the fit (empirical Bayes, EM: μ_g = mean of b̂ over the group, τ² = mean((b̂ − μ_g)² +
1/h_b)), so a sample only one model saw still tells how hard the other samples that model saw
were — and a sample is shrunk toward its own task's difficulty, not toward that of every task
(with one prior mean for all, a model that saw only hard tasks has its hard samples pulled
toward average difficulty and its ability pulled down). Abilities get a weak N(0, 10²) prior
that keeps a model that is always right finite. Maximised by alternating
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


#: Replicates × observed cells fitted at once (each array of that size is 8 bytes a cell):
#: more replicates are fitted in blocks, each block to its own convergence.
_MAX_CELLS = 20_000_000


def fit_rasch(
    values: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    max_iter: int = 500,
    tol: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """Abilities θ (B, K) and difficulties b (B, S) of a (K × S) score matrix with NaN for
    missing cells; ``weights`` (B, S) are column multiplicities (bootstrap: a column drawn w
    times counts as w samples, each with its own difficulty), default one fit
    with unit weights. ``groups`` (S,) integer codes 0..G−1 give each column's prior group
    (default one group: b ~ N(μ, τ²)). θ is centred to mean 0 per replicate. Replicates are
    fitted in blocks of at most :data:`_MAX_CELLS` replicate-cells (bounded memory; a
    problem that fits in one block is fitted as one)."""
    cells = max(int(np.count_nonzero(~np.isnan(values))), 1)
    block = max(1, _MAX_CELLS // cells)
    if weights is None or len(weights) <= block:
        return _fit(values, weights, groups, max_iter, tol)
    fits = [
        _fit(values, weights[i : i + block], groups, max_iter, tol)
        for i in range(0, len(weights), block)
    ]
    return np.concatenate([f[0] for f in fits]), np.concatenate([f[1] for f in fits])


def _fit(values, weights, groups, max_iter: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_rasch` of one block of replicates."""
    k, s = values.shape
    g_of = np.zeros(s, dtype=int) if groups is None else np.asarray(groups, dtype=int)
    n_groups = int(g_of.max()) + 1 if s else 1
    mi, ci = np.nonzero(~np.isnan(values))
    y = values[mi, ci]
    w = np.ones((1, s)) if weights is None else np.asarray(weights, dtype=float)
    wo = w[:, ci]  # (B, N) weight of each observed cell
    # a column drawn w times is w new samples with the same answers: its data and its prior
    # both count w times, so its difficulty is that of one copy (a resample does not shrink it
    # less), and its copies' information on the abilities adds up; w = 0 leaves it at the prior
    copies = np.where(w > 0, w, 1.0)
    reps = w.shape[0]
    n_model = np.maximum(_sums(mi, wo, k), 1e-12)
    rate = (_sums(mi, wo * y[None, :], k) + 0.5) / (n_model + 1)
    theta = np.log(rate / (1 - rate))
    b = np.zeros((reps, s))
    mu = np.zeros((reps, n_groups))
    tau2 = np.ones((reps, 1))
    for _ in range(max_iter):
        p = expit(theta[:, mi] - b[:, ci])
        grad = _sums(mi, wo * (y - p), k) - _THETA_PRECISION * theta
        hess = _sums(mi, wo * p * (1 - p), k) + _THETA_PRECISION
        step_t = np.clip(grad / hess, -1, 1)
        theta = theta + step_t
        p = expit(theta[:, mi] - b[:, ci])
        grad = -_sums(ci, wo * (y - p), s) - copies * (b - mu[:, g_of]) / tau2
        hess = _sums(ci, wo * p * (1 - p), s) + copies / tau2
        step_b = np.clip(grad / hess, -1, 1)
        b = b + step_b
        if groups is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                mu = np.nan_to_num(_sums(g_of, w * b, n_groups) / _sums(g_of, w, n_groups))
        spread = np.sum(w * ((b - mu[:, g_of]) ** 2 + copies / hess), axis=1, keepdims=True)
        tau2 = np.maximum(spread / np.maximum(w.sum(axis=1, keepdims=True), 1e-12), 1e-2)
        if max(np.abs(step_t).max(), np.abs(step_b).max()) < tol:
            break
    return theta - theta.mean(axis=1, keepdims=True), b
