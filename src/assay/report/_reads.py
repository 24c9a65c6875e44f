"""Where the report's panels get their rows: aggregates read in DuckDB, and rows only for what a
panel shows.

A store whose evidence has per-document ``matrices`` (``assay.store.Evidence``: every sample's
run in ``runs``, no cluster ids, no corpus metrics) is read in SQL: the comparison from the
per-document matrices, the counts, documents per task and run, metric names, chance levels and
which optional panels have anything to show from :func:`assay.store.score_facts`; an optional
panel's rows are loaded only when the store holds what it shows (perturbed tasks, recorded
positions, ...), the flips of a version pair only for its two models, the verdict's flipped
questions and the side-by-side view only for the documents they list
(:func:`assay.store.drill_docs`). Any other store is loaded into pandas once, as before; both
give the same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from assay import stats
from assay.core import MetricMap
from assay.store import SCORE_FEATURES as FEATURES
from assay.store import Evidence, ScoreFacts, Store, drill_docs, score_facts

__all__ = ["ReportReads"]


def _frame_facts(scores: pd.DataFrame, samples: pd.DataFrame) -> ScoreFacts:
    """The :class:`ScoreFacts` of loaded rows (every optional panel gets them)."""
    if scores.empty:
        empty = pd.Series(dtype=int)
        return ScoreFacts(empty, empty, (), (), len(samples), frozenset(FEATURES))
    runs = scores.groupby("run_id")["doc_id"].nunique() if "run_id" in scores else None
    return ScoreFacts(
        docs_by_task=scores.groupby("task")["doc_id"].nunique(),
        docs_by_run=runs,
        metric_names=tuple(sorted(set(scores["metric"].astype(str)))),
        models=tuple(sorted(set(scores["model"].astype(str)))),
        n_samples=len(samples),
        features=frozenset(FEATURES),
    )


class ReportReads:
    """The report's reads of ``store`` under ``tasks`` (see the module docstring)."""

    def __init__(self, store: Store, evidence: Evidence, tasks: Sequence[str] | None) -> None:
        self.store, self.evidence = store, evidence
        self.tasks = None if tasks is None else list(tasks)
        self.sql = evidence.matrices is not None
        self._samples: pd.DataFrame | None = None
        if self.sql:
            self.facts = score_facts(store, self.tasks)
        else:
            self.facts = _frame_facts(evidence.scores, self.samples)

    @property
    def scores(self) -> pd.DataFrame:
        """Every score row (loaded the first time)."""
        return self.evidence.scores

    @property
    def samples(self) -> pd.DataFrame:
        """Every sample row with its metrics (loaded the first time)."""
        if self._samples is None:
            self._samples = self.store.samples(task=self.tasks)
        return self._samples

    @property
    def empty(self) -> bool:
        """No score rows."""
        return self.facts.docs_by_task.empty

    def _has(self, feature: str) -> bool:
        return not self.sql or feature in self.facts.features

    def scores_for(self, feature: str) -> pd.DataFrame:
        """The score rows when the store holds ``feature`` (one of ``FEATURES``; the panel then
        shows something), else none (the panel's note)."""
        if self._has(feature):
            return self.scores
        return self.store.sql("SELECT * FROM scores LIMIT 0")

    def samples_for(self, feature: str) -> pd.DataFrame:
        """The sample rows when the store holds ``feature``, else none."""
        if self._has(feature):
            return self.samples
        return self.store.sql("SELECT * FROM samples LIMIT 0")

    def model_scores(self, models: Sequence[str]) -> pd.DataFrame:
        """The score rows of ``models``."""
        if not self.sql:
            return self.scores[self.scores["model"].isin(list(models))]
        return self.store.evidence(task=self.tasks, model=list(models)).scores

    def parent_scores(self, models: pd.DataFrame) -> pd.DataFrame:
        """The score rows of the models that name a parent with scores, and of those parents
        (what the flips panel compares); none when there is no such pair."""
        if not self.sql:
            return self.scores
        present = set(self.facts.models)
        named = set()
        if not models.empty and "parent" in models:
            pairs = models[models["parent"].notna()][["model", "parent"]].astype(str)
            for new, old in pairs.itertuples(index=False):
                if new in present and old in present:
                    named |= {new, old}
        if not named:
            return self.store.sql("SELECT * FROM scores LIMIT 0")
        return self.model_scores(sorted(named))

    def answers(self, models: Sequence[str], task: str, docs: Sequence[str]) -> pd.DataFrame:
        """The sample rows of ``models`` on ``task``'s documents ``docs``."""
        if not self.sql:
            s = self.samples
            return s[s["model"].isin(list(models)) & (s["task"] == task)]
        return self.store.samples(model=list(models), task=task, doc_id=list(docs))

    def binary(self, task: str, metric: str) -> bool:
        """Whether ``task``'s ``metric`` has values and every one is 0 or 1."""
        if not self.sql:
            s = self.scores
            values = s.loc[(s["task"] == task) & (s["metric"] == metric), "value"].dropna()
            return not values.empty and bool(values.isin([0.0, 1.0]).all())
        got = self.store.sql(
            "SELECT count(m.value) AS n, coalesce(bool_and(m.value IN (0, 1)), FALSE) AS ok "
            "FROM sample_metrics m JOIN runs r USING (run_id) WHERE r.task = ? AND m.metric = ? "
            "AND m.value IS NOT NULL AND NOT isnan(m.value)",
            [task, metric],
        )
        return bool(got["n"].iloc[0] > 0 and got["ok"].iloc[0])

    def chance(self, headline: dict[str, str], metrics: MetricMap | None) -> dict[str, float]:
        """``assay.stats.headline_chance`` of the store's samples."""
        if not self.sql:
            return stats.headline_chance(headline, self.samples, metrics)
        inverse = self.facts.choice_inverse
        by_choices: dict[str, float] = {}
        if inverse is not None and not inverse.empty:  # as ``stats.chance_levels``
            by_choices = {
                str(k): float(v) for k, v in inverse.groupby("task")["inv"].mean().items()
            }
        return stats.headline_chance(headline, pd.DataFrame(), metrics, levels=by_choices)

    def drill_rows(
        self, headline: dict[str, str], max_docs: int
    ) -> tuple[pd.DataFrame, dict[str, tuple[int, int, list[str]]]]:
        """The sample rows the side-by-side view needs, and per task (documents, disputed,
        models) when they are a selection (empty: the rows are every sample)."""
        if not self.sql:
            return self.samples, {}
        picked = drill_docs(self.store, headline, max_docs)
        pairs = [(t, d) for t, (docs, *_) in picked.items() for d in docs]
        counts = {t: tuple(rest) for t, (_, *rest) in picked.items()}
        if not pairs:
            return self.store.sql("SELECT * FROM samples LIMIT 0"), counts
        return self.store.samples(task=list(picked), docs=pairs), counts

    def to_dict(self) -> dict[str, Any]:
        return {"sql": self.sql, "features": sorted(self.facts.features)}
