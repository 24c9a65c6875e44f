"""Where the report's panels get their rows: aggregates read in DuckDB, and rows only for what a
panel shows.

A store whose evidence has per-document ``matrices`` (``assay.store.Evidence``: every sample's
run in ``runs``, no cluster ids, no corpus metrics) is read in SQL: the comparison from the
per-document matrices, the counts, documents per task and run, metric names, chance levels and
which optional panels have anything to show from :func:`assay.store.score_facts`; an optional
panel's rows are loaded only when the store holds what it shows (perturbed tasks, recorded
positions, ...), and then only the rows it uses, filtered in SQL (:meth:`ReportReads.scores_for`,
:meth:`ReportReads.samples_for`): the perturbed tasks and their clean ones, the fairness probes'
documents, the samples with a difficulty, the headline rows of the tasks with repeats /
templates / several runs of a (model, task), the runs with recorded positions or choice
log-likelihoods, and the (model, task)s with timed samples (the untimed ones' token counts
summed in DuckDB, :meth:`ReportReads.untimed`); the flips of a version pair only for its two
models, the verdict's flipped questions and the side-by-side view only for the documents they
list (:func:`assay.store.drill_docs`). Any other store is loaded into pandas once, as before;
both give the same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from assay import stats
from assay.core import MetricMap
from assay.store import SCORE_FEATURES as FEATURES
from assay.store import Evidence, ScoreFacts, Store, bounded_sql, drill_docs, score_facts

__all__ = ["ReportReads"]

#: A sample is timed (the efficiency panel measures its (model, task)) when it has a latency or
#: its ``extra`` may hold a batch's seconds (what ``assay.stats.efficiency`` fits runtimes on).
_TIMED = "latency_s IS NOT NULL OR coalesce(extra, '') LIKE '%\"batch_seconds\"%'"
#: The runs an optional panel of samples reads: those with a sample that carries its input.
_SAMPLE_FEATURES = {
    "positions": "chosen_position IS NOT NULL",
    "choices": "choice_logprobs IS NOT NULL",
}
#: The score rows the fairness and breakdown panels read: probes' documents (AXIS/PROBE/GROUP),
#: samples with a difficulty.
_SCORE_FEATURES = {
    "probes": "doc_id LIKE '%/%/%' AND doc_id NOT LIKE '%/%/%/%'",  # two slashes
    "difficulty": "difficulty IS NOT NULL",
}
#: Score rows as ``Store.scores`` orders them.
_SCORE_ORDER = 'ORDER BY model, task, metric, doc_id, "repeat"'
#: (model, task)s with more than one answer to a document (a superset of the variance and
#: reliability panels' varied ones).
_VARIED = (
    "SELECT DISTINCT task FROM samples WHERE {where} GROUP BY model, task HAVING "
    'count(DISTINCT run_id) > 1 OR count(DISTINCT "repeat") > 1 '
    "OR count(DISTINCT template_id) > 1"
)


def _among(column: str, values: Sequence[str] | None, params: list) -> str:
    """``column IN (values)`` (TRUE for None), its values appended to ``params``."""
    if values is None:
        return "TRUE"
    params.extend(values)
    return f"{column} IN ({', '.join('?' * len(values))})" if values else "FALSE"


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
        self._rows: dict[str, pd.DataFrame] = {}
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

    def scores_for(self, feature: str, headline: dict[str, str] | None = None) -> pd.DataFrame:
        """The score rows the panel of ``feature`` (one of ``FEATURES``) reads when the store
        holds it (every row when loaded; else the module docstring's, ``headline``: task ->
        metric for ``varied``), else none (the panel's note)."""
        if not self._has(feature):
            return self.store.sql("SELECT * FROM scores LIMIT 0")
        if not self.sql:
            return self.scores
        if feature not in self._rows:
            self._rows[feature] = self._feature_scores(feature, headline or {})
        return self._rows[feature]

    def _feature_scores(self, feature: str, headline: dict[str, str]) -> pd.DataFrame:
        params: list = []
        tasks = [str(t) for t in self.facts.docs_by_task.index]
        if feature == "perturbed":  # the perturbed tasks and their clean ones
            bases = {t.split("+", 1)[0] for t in tasks if "+" in t}
            where = _among("task", [t for t in tasks if "+" in t or t in bases], params)
        elif feature == "varied":  # the headline rows of the tasks with a varied model
            where = _among("task", self.tasks, params)
            varied = bounded_sql(self.store, _VARIED.format(where=where), params)["task"]
            pairs = [(t, headline[t]) for t in sorted(set(varied.astype(str)) & set(headline))]
            params = [x for pair in pairs for x in pair]
            where = " OR ".join(["(task = ? AND metric = ?)"] * len(pairs)) or "FALSE"
        else:
            where = f"{_SCORE_FEATURES[feature]} AND {_among('task', self.tasks, params)}"
        return bounded_sql(self.store, f"SELECT * FROM scores WHERE {where} {_SCORE_ORDER}", params)

    def samples_for(self, feature: str) -> pd.DataFrame:
        """The sample rows the panel of ``feature`` reads when the store holds it (every row
        when loaded; else the samples of the runs with a sample that carries it, for
        ``latency`` of the timed (model, task)s), else none."""
        if not self._has(feature):
            return self.store.sql("SELECT * FROM samples LIMIT 0")
        if not self.sql:
            return self.samples
        params: list = []
        where = _among("task", self.tasks, params)
        if feature == "latency":
            per_run = self._per_run()
            runs = list(per_run.loc[per_run["timed"], "run_id"])
        else:
            runs = list(
                bounded_sql(
                    self.store,
                    f"SELECT DISTINCT run_id FROM samples WHERE {where} AND "
                    f"{_SAMPLE_FEATURES[feature]} ORDER BY run_id",
                    params,
                )["run_id"]
            )
        if not runs:
            return self.store.sql("SELECT * FROM samples LIMIT 0")
        return self.store.samples(run_id=runs)

    def _per_run(self) -> pd.DataFrame:
        """Per run: model, task, whether its (model, task) has a timed sample, samples and the
        sums and counts of their input and output tokens (one scan, in DuckDB)."""
        if "runs" not in self._rows:
            params: list = []
            where = _among("task", self.tasks, params)
            got = bounded_sql(
                self.store,
                f"SELECT run_id, model, task, bool_or({_TIMED}) AS timed, count(*) AS n, "
                "sum(input_tokens) AS ps, count(input_tokens) AS pc, sum(output_tokens) AS os, "
                f"count(output_tokens) AS oc FROM samples WHERE {where} GROUP BY ALL "
                "ORDER BY run_id",
                params,
            )
            got["timed"] = got.groupby(["model", "task"])["timed"].transform("any").astype(bool)
            self._rows["runs"] = got
        return self._rows["runs"]

    def untimed(self, headline: dict[str, str]) -> pd.DataFrame | None:
        """Per untimed (model, task) of ``headline``'s tasks, what the efficiency panel shows of
        it (n and the input and output tokens' means and totals, from SQL aggregates); None
        when the panel reads every sample (loaded, or the store holds no latency)."""
        if not self.sql or not self._has("latency"):
            return None
        per_run = self._per_run()
        rows = per_run[~per_run["timed"] & per_run["task"].isin(list(headline))]
        sums = rows.groupby(["model", "task"], sort=True)[["n", "ps", "pc", "os", "oc"]].sum()
        out = sums.reset_index()[["model", "task"]]
        out["n"] = sums["n"].to_numpy(np.int64)
        for name, total, count in (("prompt", "ps", "pc"), ("output", "os", "oc")):
            totals = sums[total].to_numpy(float)
            counts = sums[count].to_numpy(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"{name}_tokens"] = np.where(counts > 0, totals / counts, np.nan)
            out[f"{name}_tokens_total"] = totals
        return out

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
        got = bounded_sql(
            self.store,
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
