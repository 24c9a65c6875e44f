"""The sample-level rankings' models × samples matrix read in DuckDB from a store's evidence,
without loading its rows into pandas (``assay.store.sample_cells``): the same matrix
``_samples.sample_matrix`` pivots from the loaded rows — each task's chosen metric (``metric``
or its headline), NULL and NaN values left out, repeats and runs averaged, lower-is-better
metrics negated, models and (task, doc_id) columns in sorted order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.core import MetricMap, headline_metric, metric_info
from assay.errors import InputError
from assay.store import sample_cells, valid_metrics

__all__ = ["SampleMatrix", "store_matrix"]


class SampleMatrix:
    """Models × columns score matrix (NaN where a model has no result)."""

    def __init__(self, values: np.ndarray, models: list[str], tasks: np.ndarray, metrics: dict):
        self.values = values
        self.models = models
        self.tasks = tasks  # task of each column
        self.metrics = metrics  # task -> metric used

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.values)


def _chosen(
    names: dict[str, list[str]], metric: str | None, metrics: MetricMap | None
) -> dict[str, str]:
    """task -> the metric ranked on it."""
    if not names:
        raise InputError("scores: no per-sample results to rank")
    if metric is None:
        return {t: headline_metric(ms, metrics) for t, ms in names.items()}
    chosen = {t: metric for t, ms in names.items() if metric in ms}
    if not chosen:
        known = ", ".join(sorted({m for ms in names.values() for m in ms}))
        raise InputError(f"--metric {metric!r}: not in the scores (metrics: {known})")
    return chosen


def store_matrix(
    evidence: Any,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    models: Sequence[str] | None = None,
    unit_interval: bool = False,
) -> tuple[SampleMatrix, list[str]]:
    """The :class:`SampleMatrix` of ``evidence`` (a store's, with ``matrices``) over ``models``
    (default all), and the tasks left out: with ``unit_interval`` (the Rasch fit without a
    ``metric``) the tasks whose headline is not a success score in [0, 1] (unless that leaves
    none, as ``_samples._unit_interval_tasks``)."""
    store = evidence.matrices.store
    chosen = _chosen(valid_metrics(store, models), metric, metrics)
    cells = sample_cells(store, chosen, models)
    skipped: list[str] = []
    if unit_interval:
        n_tasks = len(cells.tasks)
        low = np.full(n_tasks, np.inf)
        high = np.full(n_tasks, -np.inf)
        np.minimum.at(low, cells.task, cells.low)
        np.maximum.at(high, cells.task, cells.high)
        keep = [
            t
            for k, t in enumerate(cells.tasks)
            if low[k] >= 0 and high[k] <= 1 and not metric_info(chosen[t], metrics).lower_is_better
        ]
        skipped = sorted(set(chosen) - set(keep))
        if keep and skipped:
            chosen = {t: chosen[t] for t in keep}
            cells = sample_cells(store, chosen, models)
        else:
            skipped = []
    if len(cells.models) < 2:
        raise InputError("scores: need results of at least two models to rank")
    sign = np.array([metric_info(chosen[t], metrics).sign for t in cells.tasks], dtype=float)
    values = np.full((len(cells.models), len(cells.docs)), np.nan)
    values[cells.model, cells.doc] = cells.value * sign[cells.task]
    tasks = np.empty(len(cells.docs), dtype=object)
    tasks[cells.doc] = np.asarray(cells.tasks, dtype=object)[cells.task]
    return SampleMatrix(values, cells.models, tasks, dict(sorted(chosen.items()))), skipped
