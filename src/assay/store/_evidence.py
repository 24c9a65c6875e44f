"""Evidence: the one read of a store every analysis starts from — its scores with the corpus
metrics of rolling tasks, the metric definitions that store declares, and where they came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import pandas as pd

from assay.core import (
    MetricInfo,
    declared_metrics,
    headline_metric,
    metric_info,
    resolve_metrics,
    with_corpus_metrics,
)

from ._matrices import MatrixSource, scan_store

__all__ = ["Evidence", "read_evidence"]


class Evidence:
    """What a store holds for an analysis. ``scores``: ``Store.scores()`` rows plus the corpus
    metrics of rolling tasks (:func:`assay.core.with_corpus_metrics`), read from the store the
    first time they are asked for; ``metrics``: name -> :class:`assay.core.MetricInfo` for
    every metric in the scores and every one the store's runs declare (declared, else built
    in), resolved for this store alone; ``store`` (its path), ``run_ids``, ``models`` and
    ``tasks`` the scores cover. Pass ``metrics`` on to every analysis (``stats.compare(ev.scores,
    metrics=ev.metrics)``), or the evidence itself to :func:`assay.stats.compare`, which then
    reads per-document matrices in DuckDB (``matrices``) instead of the rows when it can.
    ``matrices``: a :class:`MatrixSource` when the store's rows need nothing done in Python
    (no cluster ids, no corpus metrics; see ``assay.store._matrices``), else None."""

    def __init__(
        self,
        scores: pd.DataFrame | Callable[[], pd.DataFrame],
        metrics: Mapping[str, MetricInfo],
        store: str,
        run_ids: tuple[str, ...] = (),
        models: tuple[str, ...] = (),
        tasks: tuple[str, ...] = (),
        matrices: MatrixSource | None = None,
    ) -> None:
        self._scores = scores
        self.metrics = metrics
        self.store = store
        self.run_ids = run_ids
        self.models = models
        self.tasks = tasks
        self.matrices = matrices

    @property
    def scores(self) -> pd.DataFrame:
        if callable(self._scores):
            self._scores = self._scores()
        return self._scores

    def loaded(self) -> Evidence:
        """This evidence with its rows read now and no ``matrices``: what outlives its store
        (a temporary one)."""
        scores = self.scores
        return Evidence(scores, self.metrics, self.store, self.run_ids, self.models, self.tasks)

    @property
    def empty(self) -> bool:
        """No scored sample (without reading the rows)."""
        return (
            not self.run_ids if not isinstance(self._scores, pd.DataFrame) else (self._scores.empty)
        )

    def metric(self, name: str) -> MetricInfo:
        """The definition of ``name`` for this store."""
        return metric_info(name, self.metrics)

    def headline(self, names: Sequence[str]) -> str:
        """The headline among ``names`` by this store's definitions."""
        return headline_metric(names, self.metrics)

    def to_dict(self) -> dict[str, Any]:
        """Provenance and metric definitions (not the rows)."""
        return {
            "store": self.store,
            "run_ids": list(self.run_ids),
            "models": list(self.models),
            "tasks": list(self.tasks),
            "metrics": {name: info.to_dict() for name, info in self.metrics.items()},
        }


def _names(frame: pd.DataFrame, column: str) -> tuple[str, ...]:
    if column not in frame.columns:
        return ()
    return tuple(sorted(map(str, frame[column].dropna().unique())))


def _loaded(store: Any, metric, filters) -> pd.DataFrame:
    scores = with_corpus_metrics(store.scores(**filters))
    if metric is not None and not scores.empty:
        wanted = [metric] if isinstance(metric, str) else list(metric)
        scores = scores[scores["metric"].isin(wanted)].reset_index(drop=True)
    return scores


def read_evidence(store: Any, **filters: str | Sequence[str] | None) -> Evidence:
    """``store``'s (a ``Store``) evidence under ``filters`` (``model``, ``task``, ``metric`` as
    ``Store.scores``). A ``metric`` filter applies after the corpus metrics are added, so
    ``metric="word_perplexity"`` finds a rolling task's corpus perplexity. When the store needs
    no work in Python (:func:`scan_store`), the runs, models, tasks and metrics are read in
    SQL and the rows only when ``scores`` is first asked for."""
    metric = filters.pop("metric", None)
    source = scan_store(store, metric=metric, **filters)
    if source is not None:
        run_ids = tuple(sorted(r for r, _, _ in source.runs))
        names = sorted({m for ms in source.metrics_by_run.values() for m in ms})
        scores: Any = lambda: _loaded(store, metric, filters)  # noqa: E731
        models = tuple(sorted({m for _, m, _ in source.runs}))
        tasks = tuple(sorted({t for _, _, t in source.runs}))
    else:
        scores = _loaded(store, metric, filters)
        run_ids = _names(scores, "run_id")
        names = scores["metric"].dropna().unique() if "metric" in scores.columns else ()
        models, tasks = _names(scores, "model"), _names(scores, "task")
    runs = store.runs()
    if "run_id" in runs.columns:
        runs = runs[runs["run_id"].astype(str).isin(run_ids)]
    declared = declared_metrics(runs)
    return Evidence(
        scores=scores,
        metrics=MappingProxyType(resolve_metrics(names, declared)),
        store=str(store.path),
        run_ids=run_ids,
        models=models,
        tasks=tasks,
        matrices=source,
    )
