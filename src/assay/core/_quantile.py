"""Scores of quantile forecasts: pinball loss, weighted interval score, central-interval coverage,
and two repairs of crossing quantiles (sorting, isotonic regression) that can only lower them.

A forecast of one number y is a row of quantiles q_1..q_L at levels τ_1 < ... < τ_L (columns of
a 2-d array, one row per forecast); every function is vectorised over the rows and returns one
value per forecast, so a task's mean of them gets assay's clustered interval and paired tests.

* Pinball (quantile) loss of one quantile, ρ_τ(q, y) = (1{y < q} − τ)(q − y) (Koenker & Bassett
  1978); ``pinball_loss`` is its mean over the levels.
* Weighted interval score (Bracher, Ray, Gneiting & Reich 2021, "Evaluating epidemic forecasts
  in an interval format", PLoS Comput Biol 17(2) e1008618): for the median m and K central
  (1 − α_k) intervals [l_k, u_k],
  WIS = 1/(K + ½) · (½·|y − m| + Σ_k (α_k/2) · IS_{α_k}), with the interval score
  IS_α = (u − l) + (2/α)(l − y)·1{y < l} + (2/α)(y − u)·1{y > u}. Equivalently
  WIS = 2 · (mean pinball loss over the 2K + 1 levels) — the test checks both forms agree.
* Crossing quantiles (q_j > q_{j+1} for τ_j < τ_{j+1}) are repaired by sorting each row
  (rearrangement; Chernozhukov, Fernández-Val & Galichon 2010) or by isotonic regression of the
  row on its level order; Fakoor, Kim, Mueller, Smola & Tibshirani (2023), "Flexible model
  aggregation for quantile regression" (JMLR 24), use both and show neither can increase the
  (equally weighted) sum of pinball losses, for every y. For isotonic regression: each pooled
  block B with mean m̄ keeps Σ_B |q − y| ≥ |B|·|m̄ − y| (convexity) and every prefix of a
  pooled block has mean ≥ m̄, so Σ_B (q_j − m̄)·τ_j ≤ 0 (Abel summation) — both parts of
  ρ_τ(q, y) = ½|q − y| + (½ − τ)(q − y) can only fall. So both repairs can only lower WIS.
"""

from __future__ import annotations

import numpy as np

from assay.errors import InputError


def _check(quantiles, levels, observed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = np.atleast_2d(np.asarray(quantiles, dtype=float))
    tau = np.asarray(levels, dtype=float).ravel()
    y = np.asarray(observed, dtype=float).ravel()
    if q.shape[1] != tau.size or q.shape[0] != y.size:
        raise InputError(
            f"quantile forecasts: {q.shape[0]}×{q.shape[1]} quantiles for {y.size} observations "
            f"and {tau.size} levels"
        )
    if not (np.all((tau > 0) & (tau < 1)) and np.all(np.diff(tau) > 0)):
        raise InputError("quantile levels must be increasing and inside (0, 1)")
    if not (np.isfinite(q).all() and np.isfinite(y).all()):
        raise InputError("quantile forecasts: a quantile or an observation is not a finite number")
    return q, tau, y


def pinball_loss(quantiles, levels, observed) -> np.ndarray:
    """Mean pinball loss of each forecast over its levels: (1/L) Σ_j (1{y < q_j} − τ_j)(q_j − y).

    ``quantiles``: (n, L) predictions; ``levels``: the L increasing levels τ in (0, 1);
    ``observed``: the n true values. One value ≥ 0 per forecast (lower is better)."""
    q, tau, y = _check(quantiles, levels, observed)
    diff = q - y[:, None]
    return (((diff > 0) - tau[None, :]) * diff).mean(axis=1)


def central_levels(levels) -> tuple[np.ndarray, np.ndarray, int]:
    """(α_k of each central interval, the column index pairs (lower, upper), the median's
    column) of ``levels``, which must be symmetric about 0.5 and contain it (as WIS needs)."""
    tau = np.asarray(levels, dtype=float).ravel()
    mid = np.flatnonzero(np.isclose(tau, 0.5))
    if mid.size != 1 or not np.allclose(tau + tau[::-1], 1.0):
        raise InputError(
            "the weighted interval score needs levels symmetric about 0.5 that include 0.5, "
            f"got {', '.join(f'{t:g}' for t in tau)}"
        )
    lower = np.arange(mid[0])
    return 2.0 * tau[lower], np.stack([lower, tau.size - 1 - lower]), int(mid[0])


def weighted_interval_score(quantiles, levels, observed) -> np.ndarray:
    """WIS of each forecast (Bracher et al. 2021):
    1/(K + ½) · (½|y − m| + Σ_k (α_k/2) · IS_{α_k}(l_k, u_k; y)), with
    IS_α(l, u; y) = (u − l) + (2/α)(l − y)·1{y < l} + (2/α)(y − u)·1{y > u}.

    ``levels`` must be symmetric about 0.5 and include it (e.g. 0.05, 0.25, 0.5, 0.75, 0.95:
    the median and the 90% and 50% intervals). Lower is better; 0 only for a point mass at y."""
    q, tau, y = _check(quantiles, levels, observed)
    alpha, (lo, hi), mid = central_levels(tau)
    low, up, yy = q[:, lo], q[:, hi], y[:, None]
    score = (up - low) + (2.0 / alpha) * (
        np.clip(low - yy, 0.0, None) + np.clip(yy - up, 0.0, None)
    )
    total = 0.5 * np.abs(y - q[:, mid]) + (score * (alpha / 2.0)).sum(axis=1)
    return total / (alpha.size + 0.5)


def interval_coverage(quantiles, levels, observed, central: float) -> np.ndarray:
    """1 where y lies in the forecast's central ``central`` interval [q_{α/2}, q_{1−α/2}]
    (α = 1 − central, both ends included), else 0. Its mean over forecasts is the empirical
    coverage, which a calibrated forecaster makes ≈ ``central``."""
    q, tau, y = _check(quantiles, levels, observed)
    alpha = 1.0 - float(central)
    lo = np.flatnonzero(np.isclose(tau, alpha / 2))
    hi = np.flatnonzero(np.isclose(tau, 1 - alpha / 2))
    if not 0 < alpha < 1 or lo.size != 1 or hi.size != 1:
        raise InputError(
            f"coverage of the central {central:g} interval needs the levels {alpha / 2:g} and "
            f"{1 - alpha / 2:g}"
        )
    return ((q[:, lo[0]] <= y) & (y <= q[:, hi[0]])).astype(float)


def sort_quantiles(quantiles) -> np.ndarray:
    """Each forecast's quantiles sorted ascending (rearrangement): no crossing remains and no
    forecast's pinball loss or WIS rises."""
    return np.sort(np.atleast_2d(np.asarray(quantiles, dtype=float)), axis=1)


def isotonic_quantiles(quantiles) -> np.ndarray:
    """Each forecast's quantiles replaced by their (unweighted, least-squares) isotonic
    regression on the level order — what pool-adjacent-violators gives — by the min–max
    formula q̂_j = max_{i ≤ j} min_{k ≥ j} mean(q_i..q_k), vectorised over forecasts (the loop
    runs over the L levels only). No forecast's pinball loss or WIS rises."""
    q = np.atleast_2d(np.asarray(quantiles, dtype=float))
    n, size = q.shape
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(q, axis=1)], axis=1)
    i, k = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (csum[:, k + 1] - csum[:, i]) / (k - i + 1)  # (n, i, k); i ≤ k used only
    out = np.empty_like(q)
    for j in range(size):
        out[:, j] = means[:, : j + 1, j:].min(axis=2).max(axis=1)
    return out
