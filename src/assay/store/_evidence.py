"""Evidence: the one read of a store every analysis starts from — its scores with the corpus
metrics of rolling tasks, the metric definitions that store declares, and where they came from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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

__all__ = ["Evidence", "read_evidence"]


@dataclass(frozen=True, eq=False)
class Evidence:
    """What a store holds for an analysis. ``scores``: ``Store.scores()`` rows plus the corpus
    metrics of rolling tasks (:func:`assay.core.with_corpus_metrics`); ``metrics``: name ->
    :class:`assay.core.MetricInfo` for every metric in the scores and every one the store's runs
    declare (declared, else built in), resolved for this store alone; ``store`` (its path),
    ``run_ids``, ``models`` and ``tasks`` the scores cover. Pass ``metrics`` on to every
    analysis (``stats.compare(ev.scores, metrics=ev.metrics)``)."""

    scores: pd.DataFrame
    metrics: Mapping[str, MetricInfo]
    store: str
    run_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()

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


def read_evidence(store: Any, **filters: str | Sequence[str] | None) -> Evidence:
    """``store``'s (a ``Store``) evidence under ``filters`` (``model``, ``task``, ``metric`` as
    ``Store.scores``). A ``metric`` filter applies after the corpus metrics are added, so
    ``metric="word_perplexity"`` finds a rolling task's corpus perplexity."""
    metric = filters.pop("metric", None)
    scores = with_corpus_metrics(store.scores(**filters))
    if metric is not None and not scores.empty:
        wanted = [metric] if isinstance(metric, str) else list(metric)
        scores = scores[scores["metric"].isin(wanted)].reset_index(drop=True)
    run_ids = _names(scores, "run_id")
    runs = store.runs()
    if "run_id" in runs.columns:
        runs = runs[runs["run_id"].astype(str).isin(run_ids)]
    declared = declared_metrics(runs)
    names = scores["metric"].dropna().unique() if "metric" in scores.columns else ()
    return Evidence(
        scores=scores,
        metrics=MappingProxyType(resolve_metrics(names, declared)),
        store=str(store.path),
        run_ids=run_ids,
        models=_names(scores, "model"),
        tasks=_names(scores, "task"),
    )
