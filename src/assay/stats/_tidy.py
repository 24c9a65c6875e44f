"""Turning the store's tidy frames into per-question arrays, and friendly input errors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from assay.core import MetricMap, headline_metric
from assay.errors import InputError


def _names(values) -> str:
    return ", ".join(sorted(map(str, pd.unique(pd.Series(values).dropna())))) or "(none)"


def check_names(column: str, names: str | Sequence[str] | None, present: Sequence[str]) -> None:
    """An unknown name among ``names`` is an error naming the choices, ``present``."""
    if names is None:
        return
    wanted = [names] if isinstance(names, str) else list(names)
    unknown = [w for w in wanted if w not in set(present)]
    if unknown:
        raise InputError(
            f"unknown {column} {', '.join(map(repr, unknown))}; available: {_names(present)}"
        )


def select(df: pd.DataFrame, column: str, names: str | Sequence[str] | None) -> pd.DataFrame:
    """Rows whose ``column`` is in ``names``; an unknown name is an error naming the choices."""
    if names is None:
        return df
    wanted = [names] if isinstance(names, str) else list(names)
    check_names(column, wanted, list(df[column].dropna().astype(str).unique()))
    return df[df[column].astype(str).isin(wanted)]


def primary_metric(names: Sequence[str], metrics: MetricMap | None = None) -> str:
    """The headline of ``names`` by the metric registry (``assay.core.headline_metric``:
    corpus perplexity, then ``acc``, ``exact_match``, ...; counts last) and ``metrics``, the
    store's definitions (``Store.evidence().metrics``)."""
    return headline_metric(names, metrics)


def task_metrics(
    scores: pd.DataFrame, metric: str | None, metrics: MetricMap | None = None
) -> list[tuple[str, str]]:
    """(task, metric) pairs to analyse: the given metric, or each task's primary metric (by
    the store's definitions ``metrics``)."""
    by_task = {str(t): sub["metric"].unique() for t, sub in scores.groupby("task", sort=True)}
    return pick_metrics(by_task, metric, metrics)


def pick_metrics(
    by_task: dict[str, Sequence[str]], metric: str | None, metrics: MetricMap | None = None
) -> list[tuple[str, str]]:
    """(task, metric) pairs from each task's metric names ``by_task`` (in task order): the
    given metric where a task has it, else each task's primary one."""
    pairs = []
    for task, names in by_task.items():
        if metric is None:
            pairs.append((task, primary_metric(names, metrics)))
        elif metric in set(names):
            pairs.append((task, metric))
    if metric is not None and not pairs:
        every = [m for names in by_task.values() for m in names]
        raise InputError(f"unknown metric {metric!r}; available: {_names(every)}")
    return pairs


def doc_matrix(
    rows: pd.DataFrame, models: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str], np.ndarray | None, list[str]]:
    """Per-question means (docs × models; NaN where a model lacks the doc).

    ``rows`` holds one task and metric. Repeats (and several runs of the same model, e.g.
    templates) are averaged per question. Returns (matrix, doc_ids, clusters or None, models).
    """
    grouped = rows.groupby(["doc_id", "model"], sort=True)["value"].mean()
    wide = grouped.unstack("model")
    if models is not None:
        wide = wide.reindex(columns=list(models))
    clusters = None
    if "cluster_id" in rows and rows["cluster_id"].notna().any():
        first = rows.dropna(subset=["cluster_id"]).groupby("doc_id")["cluster_id"].first()
        clusters = first.reindex(wide.index).to_numpy(dtype=object)
    return wide.to_numpy(dtype=float), list(map(str, wide.index)), clusters, list(wide.columns)


def repeat_matrix(rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(docs × repeats) values of one model, task and metric; NaN for missing repeats.

    Several runs of the same doc (templates, few-shot seeds) count as further repeats.
    """
    keyed = rows.assign(_r=rows.groupby("doc_id").cumcount())
    wide = keyed.pivot_table(index="doc_id", columns="_r", values="value", aggfunc="first")
    return wide.to_numpy(dtype=float), list(map(str, wide.index))
