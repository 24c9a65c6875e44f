"""Multi-start fit of log y = logsumexp(a_j - alpha_j * log X_j, e) under a summed Huber loss.

This is the estimator of Hoffmann et al. (2022, Approach 3) as refitted by Epoch AI (Besiroglu
et al. 2024): L(N, D) = E + A/N^alpha + B/D^beta written in log space, Huber loss with
delta = 1e-3 summed over points, L-BFGS-B from a grid of starting points, best optimum kept.

Running L-BFGS-B from all ~4,500 starts one by one is slow (≈2 min). Here all starts descend
together as one vectorised batch (Adam on an (S, n) residual matrix), the batch is pruned by
objective value in stages (successive halving), and only the best few distinct end points are
polished with scipy's L-BFGS-B. ``benchmarks/forecast_speed.py`` checks that this reaches the
same optimum as the exhaustive loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

__all__ = [
    "LseFit",
    "epoch_grid",
    "fit_lse",
    "huber_objective",
    "lse_bounds",
    "lse_objective",
    "lse_predict",
    "multistart",
    "polish",
]

Progress = Callable[[float], None]
ValueGrad = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def epoch_grid(n_terms: int = 2) -> np.ndarray:
    """Hoffmann et al.'s start grid: a_j in {0, 5, ..., 25}, alpha_j in {0, 0.5, ..., 2},
    e in {-1, -0.5, ..., 1}. With two terms: 6·6·5·5·5 = 4,500 starts.

    Columns are (a_1..a_k, alpha_1..alpha_k, e)."""
    a = np.arange(0.0, 30.0, 5.0)
    alpha = np.arange(0.0, 2.5, 0.5)
    e = np.arange(-1.0, 1.5, 0.5)
    axes = [a] * n_terms + [alpha] * n_terms + [e]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def lse_predict(theta: np.ndarray, log_x: np.ndarray) -> np.ndarray:
    """log y-hat for parameter rows ``theta`` (S, 2k+1) and points ``log_x`` (n, k) -> (S, n)."""
    theta = np.atleast_2d(theta)
    k = log_x.shape[1]
    a, alpha, e = theta[:, :k], theta[:, k : 2 * k], theta[:, 2 * k]
    terms = a[:, :, None] - alpha[:, :, None] * log_x.T[None, :, :]  # (S, k, n)
    floor = np.broadcast_to(e[:, None, None], (len(theta), 1, log_x.shape[0]))
    return logsumexp(np.concatenate([terms, floor], axis=1), axis=1)


def _value_and_grad(
    theta: np.ndarray, log_x: np.ndarray, log_y: np.ndarray, delta: float, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Summed Huber objective and its gradient for every row of ``theta`` at once."""
    k = log_x.shape[1]
    e = theta[:, 2 * k][:, None]
    z = [theta[:, j][:, None] - theta[:, k + j][:, None] * log_x[None, :, j] for j in range(k)]
    top = e
    for zj in z:
        top = np.maximum(top, zj)
    ez = [np.exp(zj - top) for zj in z]
    ee = np.exp(e - top)
    total = ee + sum(ez)
    pred = top + np.log(total)
    r = pred - log_y[None, :]
    absr = np.abs(r)
    loss = np.where(absr <= delta, 0.5 * r * r, delta * (absr - 0.5 * delta))
    value = loss @ weights
    g = np.clip(r, -delta, delta) * weights / total  # dloss/dpred * 1/total, (S, n)
    grad = np.empty_like(theta)
    for j in range(k):  # loop over the k law terms, not over points
        gj = g * ez[j]  # dloss/dz_j
        grad[:, j] = gj.sum(axis=1)
        grad[:, k + j] = -(gj @ log_x[:, j])
    grad[:, 2 * k] = (g * ee).sum(axis=1)
    return value, grad


def huber_objective(
    theta: np.ndarray, log_x: np.ndarray, log_y: np.ndarray, delta: float = 1e-3
) -> np.ndarray:
    """Summed Huber loss of the residuals log y-hat - log y for each parameter row."""
    w = np.ones(len(log_y))
    return _value_and_grad(np.atleast_2d(theta), log_x, log_y, delta, w)[0]


def _adam(vg, theta, steps, lr, lower, upper):
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    b1, b2 = 0.9, 0.999
    best = theta.copy()
    best_val = np.full(len(theta), np.inf)
    for t in range(1, steps + 1):
        val, grad = vg(theta)
        improved = val < best_val
        best[improved] = theta[improved]
        best_val[improved] = val[improved]
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        step = lr * (0.5 * (1 + np.cos(np.pi * t / steps)) + 0.02)  # cosine decay
        theta = theta - step * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + 1e-12)
        theta = np.clip(theta, lower, upper)
    val = vg(theta)[0]
    improved = val < best_val
    best[improved] = theta[improved]
    best_val[improved] = val[improved]
    return best, best_val


@dataclass
class LseFit:
    """Best parameter row, its objective, and the polished optima (best first)."""

    theta: np.ndarray
    objective: float
    candidates: np.ndarray
    candidate_objectives: np.ndarray
    n_starts: int


def polish(vg: ValueGrad, theta0: np.ndarray, lower, upper) -> tuple[np.ndarray, float]:
    """L-BFGS-B from one start with the analytic gradient.

    BLAS is held to one thread: scipy's L-BFGS-B makes many tiny BLAS calls, and on a busy
    machine a multi-threaded BLAS spends ~20x longer waking its threads than computing."""

    def fun(t):
        val, grad = vg(t[None, :])
        return float(val[0]), grad[0]

    with threadpool_limits(1, user_api="blas"):
        res = minimize(
            fun,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(lower, upper, strict=True)),
            options={"gtol": 1e-10, "ftol": 1e-13, "maxiter": 2000},
        )
    return res.x, float(res.fun)


def multistart(
    vg: ValueGrad,
    starts: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    keep: tuple[int, ...] = (400, 40),
    steps: tuple[int, ...] = (40, 250),
    lr: float = 0.05,
    n_polish: int = 5,
    progress: Progress | None = None,
    coarse: ValueGrad | None = None,
) -> LseFit:
    """Minimise a batched objective ``vg(theta (S, p)) -> (values (S,), grads (S, p))`` from
    every start; return the best optimum.

    Stages: all starts take ``steps[0]`` Adam steps together, the best ``keep[0]`` continue for
    ``steps[1]`` steps, ...; then the ``n_polish`` best distinct end points (and the best
    raw start) are refined by L-BFGS-B. ``keep=()`` runs the exhaustive per-start L-BFGS-B.
    ``coarse`` (e.g. the same objective in float32) replaces ``vg`` in the first, widest stage,
    which only prunes; later stages and the polish use ``vg``.
    """
    n_starts = len(starts)
    report = progress or (lambda _f: None)
    if not keep:  # exhaustive reference: L-BFGS-B from every start
        out = np.empty_like(starts)
        vals = np.empty(n_starts)
        for i, s in enumerate(starts):  # reference path only (benchmarks)
            out[i], vals[i] = polish(vg, s, lower, upper)
            report((i + 1) / n_starts)
        order = np.argsort(vals)
        return LseFit(out[order[0]], float(vals[order[0]]), out[order], vals[order], n_starts)

    with threadpool_limits(1, user_api="blas"):  # see polish(): tiny BLAS calls
        return _staged(vg, starts, lower, upper, keep, steps, lr, n_polish, report, coarse)


def _staged(vg, starts, lower, upper, keep, steps, lr, n_polish, report, coarse) -> LseFit:
    n_starts = len(starts)
    theta = np.clip(starts, lower, upper)
    raw_best = theta[np.argsort(vg(theta)[0])[:1]]
    sizes = [n_starts, *keep[:-1]]
    total_work = sum(s * min(z, n_starts) for s, z in zip(steps, sizes, strict=False))
    done = 0.0
    for stage, (n_keep, n_steps) in enumerate(zip(keep, steps, strict=True)):
        stage_vg = coarse if (stage == 0 and coarse is not None) else vg
        theta, val = _adam(stage_vg, theta.astype(float), n_steps, lr, lower, upper)
        done += n_steps * len(theta)
        report(0.9 * done / total_work)
        theta = theta[np.argsort(val)[:n_keep]]
    theta = theta[np.argsort(vg(theta)[0])]
    _, first = np.unique(np.round(theta, 2), axis=0, return_index=True)  # distinct end points
    chosen = np.vstack([theta[np.sort(first)][:n_polish], raw_best])
    polished = [polish(vg, s, lower, upper) for s in chosen]
    cands = np.array([p[0] for p in polished])
    cvals = np.array([p[1] for p in polished])
    order = np.argsort(cvals)
    report(1.0)
    return LseFit(cands[order[0]], float(cvals[order[0]]), cands[order], cvals[order], n_starts)


def lse_bounds(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds for (a_1..a_k, alpha_1..alpha_k, e): alpha >= 0 keeps the law decreasing."""
    lower = np.r_[np.full(k, -50.0), np.zeros(k), -20.0]
    upper = np.r_[np.full(k, 80.0), np.full(k, 10.0), 20.0]
    return lower, upper


def lse_objective(
    log_x: np.ndarray, log_y: np.ndarray, delta: float = 1e-3, weights: np.ndarray | None = None
) -> ValueGrad:
    """The batched Huber objective for the log-sum-exp law on these points."""
    log_x = np.asarray(log_x, dtype=float)
    log_x = log_x[:, None] if log_x.ndim == 1 else log_x
    log_y = np.asarray(log_y, dtype=float)
    w = np.ones(len(log_y)) if weights is None else np.asarray(weights, dtype=float)
    return lambda theta: _value_and_grad(theta, log_x, log_y, delta, w)


def lse_objective32(
    log_x: np.ndarray, log_y: np.ndarray, delta: float = 1e-3, weights: np.ndarray | None = None
) -> ValueGrad:
    """The same objective in float32 (about 1.7x faster; used only to prune starts)."""
    log_x = np.asarray(log_x, dtype=np.float32)
    log_x = log_x[:, None] if log_x.ndim == 1 else log_x
    log_y = np.asarray(log_y, dtype=np.float32)
    w = np.ones(len(log_y), np.float32) if weights is None else np.asarray(weights, np.float32)
    d = np.float32(delta)
    return lambda theta: _value_and_grad(theta.astype(np.float32), log_x, log_y, d, w)


def fit_lse(
    log_x: np.ndarray,
    log_y: np.ndarray,
    *,
    starts: np.ndarray | None = None,
    delta: float = 1e-3,
    weights: np.ndarray | None = None,
    progress: Progress | None = None,
    **options,
) -> LseFit:
    """Fit log y = logsumexp(a_j - alpha_j log X_j, e) by :func:`multistart` (Epoch's grid by
    default)."""
    log_x = np.asarray(log_x, dtype=float)
    log_x = log_x[:, None] if log_x.ndim == 1 else log_x
    k = log_x.shape[1]
    starts = epoch_grid(k) if starts is None else np.atleast_2d(np.asarray(starts, dtype=float))
    lower, upper = lse_bounds(k)
    vg = lse_objective(log_x, log_y, delta, weights)
    options.setdefault("coarse", lse_objective32(log_x, log_y, delta, weights))
    return multistart(vg, starts, lower, upper, progress=progress, **options)
