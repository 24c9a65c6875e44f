"""Where the spread comes from: seeds, templates, few-shot draws, choice orderings vs sampling
("Quantifying Variance in Evaluation Benchmarks", Madaan et al. 2024), and monotonicity of a
score across training checkpoints (Kendall τ with a bootstrap interval)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay.core import MetricMap, require_columns
from assay.errors import InputError

from ._estimators import mean_ci, resample_counts
from ._results import ResultMixin
from ._tidy import doc_matrix, select, task_metrics

__all__ = [
    "MonotonicityResult",
    "VarianceResult",
    "kendall_tau_b",
    "monotonicity",
    "two_way_anova",
    "variance_decomposition",
]

FACTORS = ("template_id", "run_id", "repeat")
VARIANCE_COLUMNS = [
    "model",
    "task",
    "metric",
    "factor",
    "levels",
    "n",
    "mean",
    "sd_levels",
    "var_levels",
    "var_factor",
    "var_noise",
    "sampling_var",
    "ratio",
    "f_statistic",
    "p_value",
]


@dataclass
class VarianceResult(ResultMixin):
    """One row per (model, task, metric, factor) with ≥ 2 levels on shared questions.

    For the questions × levels matrix x_ic (other factors averaged): ``var_levels`` is the
    variance of the level scores (what re-running with another seed/template shows),
    ``var_factor`` = (MS_level − MS_resid)/n its systematic part, ``var_noise`` = MS_resid/n the
    question×level part, ``sampling_var`` the variance of one level's score from sampling
    questions (mean over levels of s²/n), ``ratio`` = var_levels / sampling_var, and the F-test
    of "levels do not matter" (two-way ANOVA without replication).
    """

    table: pd.DataFrame


@dataclass
class MonotonicityResult(ResultMixin):
    """Kendall τ-b of score against checkpoint step, with a bootstrap interval over questions."""

    tau: float
    ci_low: float
    ci_high: float
    pvalue: float
    n: int
    n_resamples: int
    table: pd.DataFrame
    confidence_level: float = 0.95


def two_way_anova(x: np.ndarray) -> dict[str, float]:
    """Two-way ANOVA without replication of an (n, C) matrix: rows = questions, cols = levels.

    SS_col = n Σ_c (x̄_·c − x̄)², SS_row = C Σ_i (x̄_i· − x̄)², SS_res = Σ (x − x̄_i· − x̄_·c + x̄)².
    """
    n, c = x.shape
    grand = x.mean()
    rows, cols = x.mean(axis=1), x.mean(axis=0)
    ss_col = n * np.sum((cols - grand) ** 2)
    ss_row = c * np.sum((rows - grand) ** 2)
    ss_res = np.sum((x - rows[:, None] - cols[None, :] + grand) ** 2)
    df_col, df_row, df_res = c - 1, n - 1, (n - 1) * (c - 1)
    ms_col, ms_row = ss_col / df_col, ss_row / df_row
    ms_res = ss_res / df_res if df_res > 0 else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        f = ms_col / ms_res
    p = float(sps.f.sf(f, df_col, df_res)) if np.isfinite(f) else float("nan")
    if ms_res == 0:  # no residual spread: no F-test (never a p-value from a zero error term)
        p = 1.0 if ms_col == 0 else float("nan")
    return {"ms_col": ms_col, "ms_row": ms_row, "ms_res": ms_res, "f": f, "p": p}


def variance_decomposition(
    scores: pd.DataFrame,
    *,
    model: str | Sequence[str] | None = None,
    task: str | Sequence[str] | None = None,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    factors: Sequence[str] = FACTORS,
) -> VarianceResult:
    """Decompose each model's score spread across ``factors`` against the sampling variance.

    ``factors`` are columns of ``scores``: ``template_id`` (prompt templates), ``run_id``
    (runs: few-shot draws, seeds, generation settings) and ``repeat`` (sampling repeats and
    choice orderings). Only questions seen under every level enter a factor's matrix.
    """
    require_columns(scores, ["model", "task", "doc_id", "metric", "value", *factors])
    df = select(select(scores, "model", model), "task", task)
    df = df[df["value"].notna()]
    out = []
    for t, met in task_metrics(df, metric, metrics):
        sub = df[(df["task"] == t) & (df["metric"] == met)]
        for m, rows in sub.groupby("model", sort=True):
            for factor in factors:
                levels = rows[factor].astype(str).fillna("")
                if levels.nunique() < 2:
                    continue
                wide = rows.assign(_level=levels).pivot_table(
                    index="doc_id", columns="_level", values="value", aggfunc="mean"
                )
                x = wide.dropna().to_numpy(dtype=float)
                if x.shape[0] < 2:
                    continue
                n, c = x.shape
                a = two_way_anova(x)
                sampling = float(np.mean(x.var(axis=0, ddof=1)) / n)
                var_levels = float(x.mean(axis=0).var(ddof=1))
                out.append(
                    {
                        "model": m,
                        "task": t,
                        "metric": met,
                        "factor": factor,
                        "levels": c,
                        "n": n,
                        "mean": float(x.mean()),
                        "sd_levels": var_levels**0.5,
                        "var_levels": var_levels,
                        "var_factor": max((a["ms_col"] - a["ms_res"]) / n, 0.0),
                        "var_noise": a["ms_res"] / n,
                        "sampling_var": sampling,
                        "ratio": var_levels / sampling if sampling > 0 else np.nan,
                        "f_statistic": a["f"],
                        "p_value": a["p"],
                    }
                )
    return VarianceResult(pd.DataFrame(out, columns=VARIANCE_COLUMNS))


def kendall_tau_b(steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Kendall τ-b of ``steps`` (M,) against each row of ``values`` (B, M), vectorised over B.

    τ_b = Σ_{i<j} sgn(Δt)·sgn(Δy) / √((P − T_t)(P − T_y)), P = M(M−1)/2, T = tied pairs.
    """
    values = np.atleast_2d(values)
    i, j = np.triu_indices(values.shape[1], 1)
    st = np.sign(steps[j] - steps[i])
    sy = np.sign(values[:, j] - values[:, i])
    p = i.size
    ties_t = np.sum(st == 0)
    ties_y = np.sum(sy == 0, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sy @ st) / np.sqrt((p - ties_t) * (p - ties_y))


def monotonicity(
    scores: pd.DataFrame,
    checkpoints: Sequence[str],
    *,
    steps: Sequence[float] | None = None,
    task: str | None = None,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    n_resamples: int = 2_000,
    alpha: float = 0.05,
    seed: int = 0,
) -> MonotonicityResult:
    """Does the score rise with training? Kendall τ-b of checkpoint means against ``steps``
    (default: the order of ``checkpoints``); the interval resamples questions (percentile
    bootstrap on the docs all checkpoints answered); ``pvalue`` is scipy's τ test on the means.
    """
    if len(checkpoints) < 3:
        raise InputError("monotonicity needs at least 3 checkpoints")
    steps_arr = np.asarray(steps if steps is not None else np.arange(len(checkpoints)), float)
    if steps_arr.size != len(checkpoints):
        raise InputError("steps must have one value per checkpoint")
    df = select(select(scores, "model", list(checkpoints)), "task", task)
    pairs = task_metrics(df, metric, metrics)
    if len(pairs) != 1:
        raise InputError(f"pick one task: {', '.join(t for t, _ in pairs)}")
    t, met = pairs[0]
    rows = df[(df["task"] == t) & (df["metric"] == met)]
    x, _, _, names = doc_matrix(rows, list(checkpoints))
    x = x[~np.isnan(x).any(axis=1)]
    n = x.shape[0]
    if n < 2:
        raise InputError(f"the checkpoints share {n} docs on {t}")
    means = x.mean(axis=0)
    tau = float(kendall_tau_b(steps_arr, means[None, :])[0])
    rng = np.random.default_rng(seed)
    boots = []
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_resamples, chunk):
        counts = resample_counts(rng, n, min(chunk, n_resamples - start))
        boots.append(kendall_tau_b(steps_arr, counts @ x / n))
    boot = np.concatenate(boots)
    lo, hi = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2])
    pvalue = float(sps.kendalltau(steps_arr, means).pvalue)
    ests = [mean_ci(x[:, k], alpha=alpha) for k in range(len(names))]
    table = pd.DataFrame(
        {
            "model": names,
            "step": steps_arr,
            "mean": means,
            "stderr": [e.stderr for e in ests],
            "n": n,
            "task": t,
            "metric": met,
        }
    )
    return MonotonicityResult(tau, float(lo), float(hi), pvalue, n, n_resamples, table, 1 - alpha)
