"""Kaplan et al. (2020) joint law L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D.

Fitted in log space with the same summed Huber loss and batched multi-start descent as the
Chinchilla law. Parameters theta = (ln N_c, ln D_c, alpha_N, alpha_D).
"""

from __future__ import annotations

import numpy as np

from ._lse import ValueGrad

__all__ = ["kaplan_bounds", "kaplan_log_predict", "kaplan_objective", "kaplan_starts"]


def _parts(theta: np.ndarray, log_x: np.ndarray):
    ln_nc, ln_dc = theta[:, 0][:, None], theta[:, 1][:, None]
    alpha_n, alpha_d = theta[:, 2][:, None], theta[:, 3][:, None]
    rho = alpha_n / alpha_d
    p1 = rho * (ln_nc - log_x[None, :, 0])
    p2 = ln_dc - log_x[None, :, 1]
    top = np.maximum(p1, p2)
    e1, e2 = np.exp(p1 - top), np.exp(p2 - top)
    s = top + np.log(e1 + e2)
    return s, e1 / (e1 + e2), e2 / (e1 + e2), ln_nc, alpha_n, alpha_d, rho


def kaplan_log_predict(theta: np.ndarray, log_x: np.ndarray) -> np.ndarray:
    """log L for parameter rows (S, 4) at points (n, 2) of (log N, log D) -> (S, n)."""
    theta = np.atleast_2d(theta)
    s, *_, alpha_d, _ = _parts(theta, log_x)
    return alpha_d * s


def kaplan_objective(
    log_x: np.ndarray, log_y: np.ndarray, delta: float = 1e-3, weights: np.ndarray | None = None
) -> ValueGrad:
    """Batched summed Huber loss of log L-hat - log L, with its analytic gradient."""
    w = np.ones(len(log_y)) if weights is None else np.asarray(weights, dtype=float)

    def vg(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, w1, w2, ln_nc, alpha_n, alpha_d, rho = _parts(theta, log_x)
        r = alpha_d * s - log_y[None, :]
        absr = np.abs(r)
        loss = np.where(absr <= delta, 0.5 * r * r, delta * (absr - 0.5 * delta))
        g = np.clip(r, -delta, delta) * w
        centred = ln_nc - log_x[None, :, 0]
        grad = np.stack(
            [
                (g * alpha_n * w1).sum(axis=1),
                (g * alpha_d * w2).sum(axis=1),
                (g * w1 * centred).sum(axis=1),
                (g * (s - rho * w1 * centred)).sum(axis=1),
            ],
            axis=1,
        )
        return loss @ w, grad

    return vg


def kaplan_starts(log_x: np.ndarray) -> np.ndarray:
    """A grid of 5·5·4·4 = 400 starts around the data's range."""
    n_hi, d_hi = log_x[:, 0].max(), log_x[:, 1].max()
    alphas = np.array([0.05, 0.1, 0.2, 0.4, 0.8])
    ln_nc = n_hi + np.array([0.0, 5.0, 10.0, 20.0])
    ln_dc = d_hi + np.array([0.0, 5.0, 10.0, 20.0])
    mesh = np.meshgrid(ln_nc, ln_dc, alphas, alphas, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def kaplan_bounds() -> tuple[np.ndarray, np.ndarray]:
    return np.array([-50.0, -50.0, 1e-3, 1e-2]), np.array([120.0, 120.0, 5.0, 5.0])
