"""Stability of a model order across checkpoints (BOSE): Kendall τ between the rankings of
model families at successive checkpoints.

A metric that tracks ability should order the models the same way at checkpoint t and t+1;
blank-ppl is proposed because multiple-choice accuracy of base models flips order early in
training. For checkpoints c_1 < ... < c_T and the families present at both c_t and c_{t+1},
τ_t = Kendall τ-b(score(·, c_t), score(·, c_{t+1})); the stability is mean_t τ_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from assay.core import MetricMap, lower_is_better, require_columns
from assay.errors import InputError

from ._results import ResultMixin

__all__ = ["OrderStability", "checkpoint_scores", "order_stability"]


@dataclass
class OrderStability(ResultMixin):
    """``pairs``: one row per successive (checkpoint, next) with tau, pvalue, n_models;
    ``mean_tau`` their mean (NaN with no pair); ``scores`` the family × checkpoint table."""

    pairs: pd.DataFrame
    mean_tau: float
    scores: pd.DataFrame


def order_stability(table: pd.DataFrame, *, value: str = "value") -> OrderStability:
    """Kendall τ-b of the model order between successive checkpoints.

    ``table`` has columns ``model`` (a family or series), ``checkpoint`` (sortable) and
    ``value`` (higher = better; negate lower-is-better scores first).
    """
    require_columns(table, ["model", "checkpoint", value], name="checkpoint table")
    wide = table.pivot_table(index="model", columns="checkpoint", values=value, aggfunc="mean")
    wide = wide.reindex(columns=sorted(wide.columns))
    if wide.shape[1] < 2:
        raise InputError("order stability needs scores at two or more checkpoints")
    rows = []
    for a, b in zip(wide.columns[:-1], wide.columns[1:], strict=True):
        both = wide[[a, b]].dropna()
        if len(both) < 2:
            continue
        res = kendalltau(both[a].to_numpy(), both[b].to_numpy())
        rows.append(
            {
                "checkpoint": a,
                "next": b,
                "tau": float(res.statistic),
                "pvalue": float(res.pvalue),
                "n_models": len(both),
            }
        )
    pairs = pd.DataFrame(rows, columns=["checkpoint", "next", "tau", "pvalue", "n_models"])
    mean_tau = float(np.nanmean(pairs["tau"])) if len(pairs) else float("nan")
    return OrderStability(pairs, mean_tau, wide.reset_index())


def checkpoint_scores(
    scores: pd.DataFrame,
    models: pd.DataFrame,
    *,
    task: str,
    metric: str,
    metrics: MetricMap | None = None,
) -> pd.DataFrame:
    """(model = family, checkpoint = k-th step of the family, value) from the store's tidy
    scores and its models table (``family``, ``step``): each checkpoint's mean of ``metric`` on
    ``task``, sign-flipped when lower is better (by ``metrics``, the store's definitions). Families are aligned by checkpoint order, so
    families saved at different steps still pair up."""
    require_columns(models, ["model", "family", "step"], name="models table")
    sub = scores[(scores["task"] == task) & (scores["metric"] == metric)]
    if sub.empty:
        raise InputError(f"no scores for task {task!r} and metric {metric!r}")
    means = sub.groupby(["model", "doc_id"])["value"].mean().groupby("model").mean()
    info = models.dropna(subset=["family", "step"]).set_index("model")
    info = info.loc[info.index.intersection(means.index)]
    if info.empty:
        raise InputError("no scored model has a family and a step (set them with the models table)")
    out = pd.DataFrame(
        {
            "model": info["family"].astype(str),
            "checkpoint": info.groupby("family")["step"].rank(method="first").astype(int),
            "value": means.reindex(info.index).to_numpy()
            * (-1.0 if lower_is_better(metric, metrics) else 1.0),
        }
    )
    return out.reset_index(drop=True)
