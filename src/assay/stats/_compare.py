"""``compare``: per-model scores and all pairwise comparisons, with corrected p-values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from assay.core import (
    METRIC_FAMILIES,
    MetricInfo,
    MetricMap,
    accepts_confidence,
    attributes,
    metric_info,
    require_columns,
    to_jsonable,
)
from assay.errors import InputError

from ._estimators import mean_ci, wilson_ci
from ._intervals import metric_interval
from ._letters import compact_letters, letter_groups
from ._paired import _CORRECTIONS, _METHODS, adjust_pvalues
from ._pairs import (
    DETAIL_COLUMNS,
    TEST_COLUMNS,
    binary_columns,
    binary_scores,
    finish_pairs,
    task_pairs,
)
from ._scipy import norm_ppf
from ._tidy import check_names, doc_matrix, pick_metrics, select, task_metrics

__all__ = ["AdjustmentFamily", "Comparison", "compact_letters", "compare"]

SCORE_COLUMNS = [
    "model",
    "task",
    "metric",
    "n",
    "mean",
    "stderr",
    "ci_low",
    "ci_high",
    "method",
]
PAIR_COLUMNS = [*DETAIL_COLUMNS[:4], *TEST_COLUMNS, "p_adjusted", "method"]
OVERALL = "(all)"

#: How each correction is named in sentences.
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg", "none": "no correction"}


@dataclass(frozen=True)
class AdjustmentFamily:
    """The family of tests a multiple-testing correction adjusts over: ``size`` tests (the
    pairs with a p-value), ``correction`` (holm, bh, none), over every pair of ``models``
    models on each of ``tasks`` tasks — :func:`compare`'s family, the one ``assay compare``,
    ``assay eval`` and the report state."""

    size: int
    correction: str
    models: int
    tasks: int

    @property
    def adjusted(self) -> str:
        """How the p-values are adjusted: "Holm-adjusted", "Benjamini–Hochberg-adjusted" or
        "unadjusted"."""
        if self.correction == "none":
            return "unadjusted"
        return f"{CORRECTION_NAMES[self.correction]}-adjusted"

    @property
    def over(self) -> str:
        """E.g. "over 6 comparisons"."""
        return f"over {self.size} comparison{'s' * (self.size != 1)}"

    @property
    def statement(self) -> str:
        """E.g. "Holm-adjusted over 6 comparisons (every pair of 4 models on each of 1 task)"."""
        scope = (
            f"every pair of {self.models} models on each of {self.tasks} "
            f"task{'s' * (self.tasks != 1)}"
        )
        return f"{self.adjusted} {self.over} ({scope})"

    def to_dict(self) -> dict[str, Any]:
        return attributes(self, "size", "correction", "models", "tasks", "statement")


@dataclass
class Comparison:
    """Result of :func:`compare`.

    ``scores``: model, task, metric, n, mean, stderr, ci_low, ci_high, method (the interval:
    "wilson", "wilson-betabinomial", "clt", "clustered", "+repeats", "+log", "normal" for "(all)",
    whose ``metric`` names the metrics of one kind it averages, e.g. "acc, exact_match").
    ``pairs``: model_a, model_b, task, metric, n, diff, stderr, ci_low, ci_high, p_value,
    p_adjusted, method (diff = mean_a − mean_b on the docs both answered; p adjusted over all
    pairs; the test and its interval come from the same procedure, ``method``).
    ``groups``: task, metric, model, mean, group, tied_with_best — compact letter display:
    two models sharing a letter are not significantly different (adjusted p ≥ α); the models
    carrying letter "a" (``tied_with_best``) are indistinguishable from the best.
    ``details``: the pairs with the test used, its statistic, df, correlation and counts.
    ``metrics``: the definition of each compared metric (direction, bounds) it was read with.
    ``effective_n``: model, task, metric, n_effective — the independent trials a Wilson
    score is read on (n, or with clusters n / deff at the estimate; NaN for other intervals), what
    :func:`assay.stats.chance_tests` tests a share against guessing with.
    """

    scores: pd.DataFrame
    pairs: pd.DataFrame
    groups: pd.DataFrame
    alpha: float = 0.05
    correction: str = "holm"
    details: pd.DataFrame = field(default_factory=pd.DataFrame)
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    effective_n: pd.DataFrame = field(default_factory=pd.DataFrame)

    def metric(self, name: str) -> MetricInfo:
        """The definition ``name`` was compared with (built in when it was not compared)."""
        return metric_info(name, self.metrics)

    @property
    def family(self) -> AdjustmentFamily:
        """What ``p_adjusted`` is adjusted over: the pairs with a p-value, all tasks at once
        (worked out once per ``pairs`` and ``correction``)."""
        key = _correction_key(self.correction)
        if "p_value" not in self.pairs:
            return AdjustmentFamily(0, key, 0, 0)
        cached = self.__dict__.get("_family")
        if cached is not None and cached[0] is self.pairs and cached[1].correction == key:
            return cached[1]
        tested = self.pairs[self.pairs["p_value"].notna()]
        names = set(tested["model_a"].unique()) | set(tested["model_b"].unique())
        found = AdjustmentFamily(len(tested), key, len(names), tested["task"].nunique())
        self.__dict__["_family"] = (self.pairs, found)
        return found

    def to_dict(self, *, frames: bool = False) -> dict[str, Any]:
        """scores, pairs, groups as lists of records (with ``frames``: as DataFrames of the
        same columns, for a writer that encodes tables whole)."""
        tables = {
            "scores": self.scores[SCORE_COLUMNS],
            "pairs": self.pairs[PAIR_COLUMNS],
            "groups": self.groups,
        }
        return tables if frames else {k: to_jsonable(v) for k, v in tables.items()}


def _overall_kind(info: MetricInfo) -> str:
    """Which metrics may share an "(all)" row: accuracy-like shares (higher is better, bounded
    in [0, 1], not log-scale, a mean of per-sample values: acc, exact_match, f1, ...) share
    "accuracy"; every other metric (perplexities, losses, unbounded scores, corpus and discovery
    metrics, rankings' NDCG / MRR / recall@k, interval coverage) is its own kind."""
    ranking = info.name in _RANKING or info.name.split("@")[0] in METRIC_FAMILIES
    share = (
        info.higher_is_better
        and info.bounds == (0.0, 1.0)
        and info.interval == "clustered"
        and not ranking
    )
    return "accuracy" if share else info.name


#: Built-in ranking metrics that are not shares of right answers (the ``@k`` families too).
_RANKING = ("ndcg", "mrr")


def _overall_scores(
    scores: pd.DataFrame, alpha: float, metrics: MetricMap, effective: pd.DataFrame
) -> pd.DataFrame:
    """Macro mean over tasks per model and kind of metric (:func:`_overall_kind`: unlike
    metrics are never averaged), SE = √(Σ SE_t²) / T. ``metric`` names the metrics averaged,
    e.g. "acc, exact_match".

    The interval: for 0/1 shares whose tasks all have a Wilson interval (``effective``: their
    independent trials n_t, clusters' design effect included), Wilson's interval for the mean
    on n = T² / Σ (1 / n_t) trials — the variance of the macro mean at a common accuracy, so
    an all-right model is not certain (SE 0) and the interval stays inside [0, 1] with the
    skew of a share near its bounds; otherwise normal at (1 − α) (on the log scale for a
    perplexity, as :func:`metric_interval`)."""
    rows = []
    z = norm_ppf(1 - alpha / 2)
    kinds = scores["metric"].map(lambda m: _overall_kind(metric_info(m, metrics)))
    keys = ["model", "task", "metric"]
    trials = scores[keys].merge(effective, on=keys, how="left")["n_effective"].to_numpy(float)
    for (kind, model), sub in scores.assign(_n=trials).groupby([kinds, "model"], sort=False):
        t = len(sub)
        se = float(np.sqrt(np.sum(sub["stderr"].to_numpy() ** 2)) / t)
        mean = float(sub["mean"].mean())
        names = sorted(set(sub["metric"]))
        n_t = sub["_n"].to_numpy(float)
        if kind == "accuracy" and bool(np.all(n_t > 0)):  # (NaN: a task without Wilson)
            n_macro = t * t / float(np.sum(1 / n_t))
            low, high = wilson_ci(mean * n_macro, n_macro, alpha=alpha)
            method = "wilson-macro"
        else:
            est = _Normal(mean, se, mean - z * se, mean + z * se, "normal")
            low, high, method = metric_interval(est, metric_info(names[0], metrics))
        rows.append(
            {
                "model": model,
                "task": OVERALL,
                "metric": ", ".join(names),
                "n": int(sub["n"].sum()),
                "mean": mean,
                "stderr": se,
                "ci_low": low,
                "ci_high": high,
                "method": method,
            }
        )
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


@dataclass(frozen=True)
class _Normal:
    mean: float
    stderr: float
    ci_low: float
    ci_high: float
    method: str


_WILSON_FIELDS = ("mean", "stderr", "ci_low", "ci_high", "n")


@accepts_confidence()
def compare(
    scores: pd.DataFrame | Any,
    *,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    test: str = "auto",
    overall: bool = False,
    seed: int = 0,
) -> Comparison:
    """Scores with intervals per (model, task, metric) and every pair of models compared.

    ``scores`` is ``Store.evidence().scores`` (long rows), or the evidence itself: its
    ``metrics`` then serve when ``metrics`` is None, and a store's evidence is read as
    per-document matrices aggregated in DuckDB (``Evidence.matrices``) without loading its rows
    into pandas — the same numbers. Per task the metric is ``metric`` or the
    primary one (``acc``, else ``exact_match``, else the first). Repeats are averaged per doc
    (:func:`mean_ci`, whose interval is chosen by the data: Wilson for 0/1 scores, with clusters
    the beta-binomial score interval, t otherwise); pairs use :func:`paired_test` with
    ``test`` ("auto": McNemar's test with Tango's score interval for binary single-repeat
    unclustered scores, else paired t) and p-values are adjusted over all pairs of all tasks by
    ``correction`` ("holm", "bh", "none"). With ``overall`` the scores get extra rows
    task="(all)": macro means over tasks, with (1 − ``alpha``) intervals, one row per model
    and kind of metric (accuracy-like shares together, each perplexity or other metric alone). ``metrics`` are the
    store's metric definitions (``Store.evidence().metrics``): they pick each task's headline
    and say which way is better (the groups' best); without them, the built-in registry.
    """
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha}: must be in (0, 1)")
    if str(correction).lower() not in _CORRECTIONS:
        raise InputError(f"correction {correction!r}: use holm, bh or none")
    if test not in _METHODS:
        raise InputError(f"test {test!r}: use one of {', '.join(_METHODS)}")
    if not isinstance(scores, pd.DataFrame):  # an Evidence
        metrics = scores.metrics if metrics is None else metrics
        blocks = _evidence_blocks(scores, metric, metrics, models, tasks)
    else:
        blocks = _frame_blocks(scores, metric, metrics, models, tasks)
    score_parts: list[dict[str, np.ndarray]] = []
    chunks: list[pd.DataFrame] = []
    with threadpool_limits(1, user_api="blas"):  # many small products: one thread is faster
        _score_blocks(blocks, metrics, test, alpha, seed, score_parts, chunks)
    details = finish_pairs(chunks, alpha)
    score_df, effective = _score_frames(score_parts)
    for col in PAIR_COLUMNS:
        if col not in details:
            details[col] = np.nan
    details["p_adjusted"] = adjust_pvalues(details["p_value"].to_numpy(dtype=float), correction)
    pairs = details[PAIR_COLUMNS].reset_index(drop=True)
    used = {str(m): metric_info(m, metrics) for m in score_df["metric"].unique()}
    groups = letter_groups(score_df, pairs, alpha, used)
    if overall and score_df["task"].nunique() > 1:
        overall_rows = _overall_scores(score_df, alpha, used, effective)
        score_df = pd.concat([score_df, overall_rows], ignore_index=True)
    details = details.reset_index(drop=True)
    return Comparison(score_df, pairs, groups, alpha, correction, details, used, effective)


def _score_blocks(blocks, metrics, test, alpha, seed, score_parts, chunks) -> None:
    """Each block's score columns and its pairs (pending McNemar), appended to the lists."""
    for task, met, matrix, clusters, names in blocks:
        part = _block_scores(matrix, clusters, alpha)
        info = metric_info(met, metrics)
        if info.log_scale:  # per model: the delta method where it applies
            fields = ("mean", "stderr", "ci_low", "ci_high", "method")
            rows = zip(*map(part.get, fields), strict=True)
            scaled = [metric_interval(_Normal(*v), info) for v in rows]
            part["ci_low"], part["ci_high"], method = map(np.array, zip(*scaled, strict=True))
            part["method"] = method.astype(object)
        elif info.bounds is not None:  # as max(low, bound) and min(high, bound)
            low, high = part["ci_low"], part["ci_high"]
            part["ci_low"] = np.where(info.bounds[0] > low, info.bounds[0], low)
            part["ci_high"] = np.where(info.bounds[1] < high, info.bounds[1], high)
        part["model"] = np.asarray(names, dtype=object)
        part["task"] = np.full(len(names), task, dtype=object)
        part["metric"] = np.full(len(names), met, dtype=object)
        score_parts.append(part)
        chunks.append(
            task_pairs(task, met, matrix, clusters, names, test=test, alpha=alpha, seed=seed)
        )


def _block_scores(matrix: np.ndarray, clusters, alpha: float) -> dict[str, np.ndarray]:
    """:func:`mean_ci` of each column of ``matrix`` (documents × models): the 0/1 columns
    without clusters at once (:func:`binary_scores`), the others one by one."""
    binary = binary_columns(matrix) if clusters is None else np.zeros(matrix.shape[1], bool)
    k = matrix.shape[1]
    part = {key: np.full(k, np.nan) for key in (*_WILSON_FIELDS[:4], "n_effective")}
    part["n"] = np.zeros(k, dtype=np.int64)
    part["method"] = np.full(k, "wilson", dtype=object)
    if binary.any():
        counted = binary_scores(matrix[:, binary], alpha)
        for key in _WILSON_FIELDS:
            part[key][binary] = counted[key]
        part["n_effective"][binary] = counted["n"]
    for j in np.flatnonzero(~binary):
        have = ~np.isnan(matrix[:, j])
        est = mean_ci(
            matrix[have, j], clusters=None if clusters is None else clusters[have], alpha=alpha
        )
        for key in (*_WILSON_FIELDS, "n_effective", "method"):
            part[key][j] = getattr(est, key)
    return part


def _score_frames(parts: list[dict[str, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scores (:data:`SCORE_COLUMNS`) and effective n of the blocks' columns."""
    eff_columns = ["model", "task", "metric", "n_effective"]
    if not parts:
        return pd.DataFrame(columns=SCORE_COLUMNS), pd.DataFrame(columns=eff_columns)
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    frame = pd.DataFrame({key: cols[key] for key in SCORE_COLUMNS})
    return frame, pd.DataFrame({key: cols[key] for key in eff_columns})


def _frame_blocks(scores, metric, metrics, models, tasks):
    """(task, metric, documents × models matrix, clusters, model names) of the loaded rows."""
    require_columns(scores, ["model", "task", "doc_id", "metric", "value"])
    df = select(select(scores, "model", models), "task", tasks)
    df = df[df["value"].notna()]
    for task, met in task_metrics(df, metric, metrics):
        rows = df[(df["task"] == task) & (df["metric"] == met)]
        order = models or sorted(rows["model"].unique())
        order = [m for m in order if m in set(rows["model"])]
        matrix, _, clusters, names = doc_matrix(rows, order)
        yield task, met, matrix, clusters, names


def _evidence_blocks(ev, metric, metrics, models, tasks):
    """The same blocks from a store's evidence: read as matrices in DuckDB when its
    ``matrices`` can (``assay.store`` evidence), else from its rows."""
    source = getattr(ev, "matrices", None)
    if source is None:
        yield from _frame_blocks(ev.scores, metric, metrics, models, tasks)
        return
    check_names("model", models, ev.models)
    check_names("task", tasks, ev.tasks)
    by_task = source.task_metric_names()
    if tasks is not None:
        by_task = {t: v for t, v in by_task.items() if t in set(tasks)}
    wanted = pick_metrics(by_task, metric, metrics)
    for task, met, matrix, names in source.doc_matrices(wanted, models):
        yield task, met, matrix, None, names


def _correction_key(correction: str) -> str:
    key = str(correction).lower()
    return "bh" if key in ("bh", "fdr", "benjamini-hochberg") else key
