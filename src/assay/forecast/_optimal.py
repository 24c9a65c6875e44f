"""Compute-optimal allocation N_opt(C), D_opt(C) under a fitted L(N, D) with C = 6·N·D."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.core import accepts_confidence, attributes
from assay.errors import InputError

from ._laws import LawFit, _log_predict

__all__ = ["ComputeOptimal", "compute_optimal"]


@dataclass
class ComputeOptimal:
    """Compute-optimal parameters, tokens, tokens per parameter and loss, with intervals."""

    table: pd.DataFrame  # flops, params_opt(+low/high), tokens_opt(...), tokens_per_param(...)
    law: str
    level: float
    n_draws: int
    exponents: dict[str, float] = field(default_factory=dict)  # N_opt ∝ C^a, D_opt ∝ C^b

    def to_dict(self) -> dict[str, Any]:
        return {
            **attributes(self, "law", "level", "n_draws", "exponents"),
            "rows": self.table.to_dict(orient="records"),
        }


def _optimal_log_n(law: str, params: np.ndarray, log_c: np.ndarray) -> np.ndarray:
    """log N_opt for parameter rows (S, p) and budgets (m,) -> (S, m).

    Chinchilla closed form (Hoffmann et al. eq. 4): N_opt = G·(C/6)^(beta/(alpha+beta)),
    G = (alpha·A / (beta·B))^(1/(alpha+beta)). Other laws: minimise L(N, C/(6N)) over a grid of
    log N (vectorised) refined by a parabola through the best three grid points."""
    params = np.atleast_2d(params)
    if law == "chinchilla":
        _, a_, b_, al, be = (params[:, i][:, None] for i in range(5))
        log_g = (np.log(al * a_) - np.log(be * b_)) / (al + be)
        return log_g + be / (al + be) * (log_c[None, :] - np.log(6.0))
    grid = np.linspace(np.log(1e3), np.log(1e16), 1300)
    step = grid[1] - grid[0]
    log_n = np.broadcast_to(grid[None, :], (len(log_c), len(grid)))
    log_d = log_c[:, None] - np.log(6.0) - log_n
    pts = np.stack([log_n.ravel(), log_d.ravel()], axis=1)
    loss = _log_predict(law, params, pts).reshape(len(params), len(log_c), len(grid))
    i = np.clip(loss.argmin(axis=2), 1, len(grid) - 2)
    take = np.take_along_axis
    l0, l1, l2 = (take(loss, (i + d)[..., None], axis=2)[..., 0] for d in (-1, 0, 1))
    denom = l0 - 2 * l1 + l2
    shift = np.where(denom > 0, 0.5 * (l0 - l2) / np.where(denom > 0, denom, 1), 0.0)
    return grid[i] + step * np.clip(shift, -1, 1)


@accepts_confidence("level")
def compute_optimal(fit: LawFit, flops: Any, *, level: float = 0.9) -> ComputeOptimal:
    """N_opt(C), D_opt(C) = C/(6·N_opt), tokens per parameter and the loss there, for each
    budget C in ``flops``, with percentile intervals over the fit's bootstrap draws."""
    if fit.law not in ("chinchilla", "kaplan"):
        raise InputError("compute-optimal allocation needs an L(N, D) law (chinchilla or kaplan)")
    c = np.atleast_1d(np.asarray(flops, dtype=float))
    if np.any(~np.isfinite(c)) or np.any(c <= 0):
        raise InputError("compute budgets must be positive numbers of FLOPs")
    log_c = np.log(c)
    draws = fit.ensure_draws()
    point = _optimal_log_n(fit.law, fit.param_vector, log_c)[0]
    sims = _optimal_log_n(fit.law, draws, log_c)
    q = [(1 - level) / 2, (1 + level) / 2]
    out = pd.DataFrame({"flops": c})
    for name, pt, sm in (
        ("params_opt", point, sims),
        ("tokens_opt", log_c - np.log(6) - point, log_c[None, :] - np.log(6) - sims),
        ("tokens_per_param", log_c - np.log(6) - 2 * point, log_c - np.log(6) - 2 * sims),
    ):
        out[name] = np.exp(pt)
        out[f"{name}_low"], out[f"{name}_high"] = np.exp(np.quantile(sm, q, axis=0))
    at_opt = pd.DataFrame({fit.inputs[0]: out["params_opt"], fit.inputs[1]: out["tokens_opt"]})
    loss = fit.predict(at_opt, level=level)
    out["loss_opt"], out["loss_opt_low"], out["loss_opt_high"] = (
        loss["prediction"].to_numpy(),
        loss["low"].to_numpy(),
        loss["high"].to_numpy(),
    )
    slope = np.polyfit(
        np.log([1e20, 1e26]), _optimal_log_n(fit.law, fit.param_vector, np.log([1e20, 1e26]))[0], 1
    )[0]
    return ComputeOptimal(
        out, fit.law, level, len(draws), {"params": float(slope), "tokens": float(1 - slope)}
    )
