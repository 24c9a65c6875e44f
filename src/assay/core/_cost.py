"""Inference cost model: runtime = a + b·prompt_tokens + c·output_tokens, by least squares.

Narayanan et al. (2023), "Cheaply Evaluating Inference Efficiency Metrics for Autoregressive
Transformer APIs": a query's runtime is close to linear in its prompt and output tokens. Timings
are recorded per batch (``n`` samples, ``P`` prompt tokens, ``O`` output tokens, ``T`` seconds of
wall time), so the per-sample model summed over a batch gives the regression
``T = a·n + b·P + c·O``, fitted by ordinary least squares with classical standard errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass
class CostFit:
    """Fitted per-sample runtime model (seconds). ``nan`` where a term cannot be identified
    (e.g. ``c`` when no sample produced output tokens, or a standard error with too few batches).
    """

    runtime: str
    a: float
    b: float
    c: float
    a_stderr: float
    b_stderr: float
    c_stderr: float
    r_squared: float
    n_batches: int
    n_samples: int
    total_seconds: float

    def predict(self, prompt_tokens, output_tokens=0):
        """Predicted seconds per sample (``nan`` terms count as zero)."""
        coef = np.nan_to_num([self.a, self.b, self.c])
        return coef[0] + coef[1] * np.asarray(prompt_tokens) + coef[2] * np.asarray(output_tokens)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        def term(v, s, unit):
            if np.isnan(v):
                return f"(not identifiable){unit}"
            err = f" ± {s * 1e3:.3g}" if np.isfinite(s) else ""
            return f"{v * 1e3:.3g}{err} ms{unit}"

        return (
            f"runtime ≈ {term(self.a, self.a_stderr, '')} + {term(self.b, self.b_stderr, '/prompt token')}"
            f" + {term(self.c, self.c_stderr, '/output token')}  "
            f"(R² {self.r_squared:.3f}, {self.n_batches} batches, {self.n_samples} samples, {self.runtime})"
        )


def fit_cost(batches: pd.DataFrame, runtime: str = "unknown") -> CostFit | None:
    """Fit ``seconds = a·n + b·prompt_tokens + c·output_tokens`` over batch rows.

    ``batches`` has columns n, prompt_tokens, output_tokens, seconds (one row per batch).
    Returns ``None`` without any timed batch.
    """
    df = batches.dropna(subset=["n", "prompt_tokens", "output_tokens", "seconds"])
    df = df[df["n"] > 0]
    if df.empty:
        return None
    X = df[["n", "prompt_tokens", "output_tokens"]].to_numpy(float)
    y = df["seconds"].to_numpy(float)
    identifiable = np.flatnonzero(np.abs(X).sum(axis=0) > 0)
    Xi = X[:, identifiable]
    coef_i, *_ = np.linalg.lstsq(Xi, y, rcond=None)
    # keep the model physical: a negative slope means that term is not resolved; drop it
    while (coef_i < 0).any() and len(identifiable) > 1:
        identifiable = identifiable[coef_i >= 0] if (coef_i >= 0).any() else identifiable[:1]
        Xi = X[:, identifiable]
        coef_i, *_ = np.linalg.lstsq(Xi, y, rcond=None)
    coef = np.full(3, np.nan)
    coef[identifiable] = coef_i
    resid = y - Xi @ coef_i
    dof = len(y) - len(identifiable)
    stderr = np.full(3, np.nan)
    if dof > 0:
        sigma2 = resid @ resid / dof
        cov = sigma2 * np.linalg.pinv(Xi.T @ Xi)
        stderr[identifiable] = np.sqrt(np.clip(np.diag(cov), 0, None))
    ss_tot = ((y - y.mean()) ** 2).sum()
    r2 = float(1 - (resid @ resid) / ss_tot) if ss_tot > 0 else float("nan")
    return CostFit(
        runtime=runtime,
        a=float(coef[0]),
        b=float(coef[1]),
        c=float(coef[2]),
        a_stderr=float(stderr[0]),
        b_stderr=float(stderr[1]),
        c_stderr=float(stderr[2]),
        r_squared=r2,
        n_batches=len(y),
        n_samples=int(X[:, 0].sum()),
        total_seconds=float(y.sum()),
    )
