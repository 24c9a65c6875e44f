"""A benchmark group's score over its subtasks' questions (lm-eval's ``mmlu`` over its 57)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from assay.core import MetricMap, metric_info

from ._estimators import MeanEstimate
from ._intervals import metric_mean_ci

__all__ = ["pooled_mean"]


def pooled_mean(
    scores: pd.DataFrame,
    tasks: Sequence[str],
    metric: str,
    *,
    alpha: float = 0.05,
    metrics: MetricMap | None = None,
) -> MeanEstimate | None:
    """The mean of ``metric`` over every question of ``tasks`` (each question weighs the same,
    as lm-eval's size-weighted group aggregate), with an interval clustered by task: questions of
    one subtask share a source, so the subtasks are the independent units (Wilson on the
    design-effect n for 0/1 scores, cluster-robust t otherwise — :func:`mean_ci`), on the
    metric's scale and inside its bounds (``metrics``: a store's declarations, else the built-in
    registry). ``scores`` is ``Store.evidence().scores``; repeated rows of a question are
    averaged first. None without rows."""
    rows = scores[scores["task"].isin(list(tasks)) & (scores["metric"] == metric)]
    if rows.empty:
        return None
    per_doc = rows.groupby(["task", "doc_id"], sort=True)["value"].mean().reset_index()
    clusters = per_doc["task"] if per_doc["task"].nunique() > 1 else None
    info = metric_info(metric, metrics)
    return metric_mean_ci(per_doc["value"].to_numpy(float), info, clusters=clusters, alpha=alpha)
