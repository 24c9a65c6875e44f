"""Robustness to perturbed inputs (HELM's robustness column; Liang et al. 2022, §4.5).

A perturbed task is stored as ``TASK+NAME`` with the clean task's ``doc_id``s
(``assay eval --perturb``). For each model, task and perturbation p the paired difference to
the clean score is

    Δ_p = mean_i (x_i^p − x_i^clean)

over the documents both answered, with a paired interval and p-value (:func:`paired_test`).
The worst case takes, per document, the worst score over the clean input and every
perturbation (min, or max for lower-is-better metrics), as HELM does:

    worst = mean_i min(x_i^clean, x_i^p1, ..., x_i^pK)

reported with a t interval and its drop from the clean score (paired).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from assay.core import (
    MetricMap,
    accepts_confidence,
    lower_is_better,
    metric_info,
    require_columns,
)
from assay.errors import InputError

from ._intervals import metric_mean_ci
from ._paired import paired_test
from ._results import ResultMixin
from ._tidy import primary_metric, select

__all__ = ["Robustness", "robustness", "split_perturbed"]

PERTURBATION_SEPARATOR = "+"


def split_perturbed(task: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``TASK+NAME`` → (``TASK``, ``NAME``); a clean task's perturbation is ``""``."""
    parts = task.astype(str).str.split(PERTURBATION_SEPARATOR, n=1, expand=True)
    if parts.shape[1] == 1:
        parts[1] = None
    return parts[0], parts[1].fillna("")


@dataclass
class Robustness(ResultMixin):
    """Paired differences to the clean score and the worst case over perturbations.

    ``table``: one row per (model, task, metric, perturbation) with n, clean, perturbed, diff,
    stderr, ci_low, ci_high, pvalue, method. ``worst``: one row per (model, task, metric) with
    n, clean, worst (mean of the per-document worst case), ci_low, ci_high, drop (clean − worst,
    positive = worse, in the metric's better direction), drop_ci_low, drop_ci_high,
    perturbations (how many).
    """

    table: pd.DataFrame
    worst: pd.DataFrame
    confidence_level: float

    SHOWN: ClassVar[tuple[str, ...]] = (
        "model",
        "task",
        "metric",
        "perturbation",
        "n",
        "clean",
        "perturbed",
        "diff",
        "ci_low",
        "ci_high",
        "pvalue",
    )
    """The columns of ``table`` a reader is shown (the CLI's and the report's table)."""


def _doc_wide(rows: pd.DataFrame) -> pd.DataFrame:
    """docs × perturbation ("" = clean) of per-document means (repeats averaged)."""
    return rows.groupby(["doc_id", "perturbation"])["value"].mean().unstack("perturbation")


@accepts_confidence()
def robustness(
    scores: pd.DataFrame,
    *,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    models: str | Sequence[str] | None = None,
    tasks: str | Sequence[str] | None = None,
    alpha: float = 0.05,
) -> Robustness:
    """Robustness of every (model, task) that has a clean run and perturbed runs.

    ``scores`` is the store's tidy frame (model, task, doc_id, metric, value); ``tasks`` names
    clean tasks; ``metric`` defaults to each task's headline metric.
    """
    require_columns(scores, ["model", "task", "doc_id", "metric", "value"], name="scores")
    base, perturbation = split_perturbed(scores["task"])
    df = scores.assign(base=base.to_numpy(), perturbation=perturbation.to_numpy())
    df = select(df, "model", models)
    if tasks is not None:
        wanted = [tasks] if isinstance(tasks, str) else list(tasks)
        missing = [t for t in wanted if t not in set(df["base"])]
        if missing:
            available = ", ".join(sorted(set(df["base"])))
            raise InputError(f"unknown task {missing[0]!r}; available: {available}")
        df = df[df["base"].isin(wanted)]
    perturbed_bases = set(df.loc[df["perturbation"] != "", "base"])
    clean_bases = set(df.loc[df["perturbation"] == "", "base"])
    usable = sorted(perturbed_bases & clean_bases)
    if not usable:
        raise InputError(
            "no task has both clean and perturbed runs "
            "(run `assay eval --perturb typos,casing ...` first)"
        )
    rows, worst_rows = [], []
    for (model, task), sub in df[df["base"].isin(usable)].groupby(["model", "base"], sort=True):
        if metric is not None and metric not in set(sub["metric"]):
            raise InputError(f"task {task!r} has no metric {metric!r}")
        name = metric or primary_metric(sub["metric"].unique(), metrics)
        wide = _doc_wide(sub[sub["metric"] == name])
        if "" not in wide or wide.shape[1] < 2:
            continue
        clean = wide[""].to_numpy(float)
        names = [c for c in wide.columns if c != ""]
        for p in names:
            res = paired_test(wide[p].to_numpy(float), clean, alpha=alpha)
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "metric": name,
                    "perturbation": p,
                    "n": res.n,
                    "clean": res.mean_b,
                    "perturbed": res.mean_a,
                    "diff": res.diff,
                    "stderr": res.stderr,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                    "pvalue": res.pvalue,
                    "method": res.method,
                }
            )
        full = wide.dropna()  # documents answered clean and under every perturbation
        if len(full) < 2:
            continue
        values = full.to_numpy(float)
        worst = values.max(axis=1) if lower_is_better(name, metrics) else values.min(axis=1)
        estimate = metric_mean_ci(worst, metric_info(name, metrics), alpha=alpha)
        sign = -1.0 if lower_is_better(name, metrics) else 1.0
        drop = paired_test(sign * full[""].to_numpy(float), sign * worst, method="t", alpha=alpha)
        worst_rows.append(
            {
                "model": model,
                "task": task,
                "metric": name,
                "n": len(full),
                "clean": float(full[""].mean()),
                "worst": estimate.mean,
                "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high,
                "drop": drop.diff,
                "drop_ci_low": drop.ci_low,
                "drop_ci_high": drop.ci_high,
                "perturbations": len(names),
            }
        )
    return Robustness(pd.DataFrame(rows), pd.DataFrame(worst_rows), 1 - alpha)
