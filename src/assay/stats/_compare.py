"""``compare``: per-model scores and all pairwise comparisons, with corrected p-values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay.core import (
    MetricInfo,
    MetricMap,
    accepts_confidence,
    metric_info,
    require_columns,
    to_jsonable,
)
from assay.errors import InputError

from ._estimators import mean_ci
from ._paired import _CORRECTIONS, _METHODS, adjust_pvalues, paired_test
from ._tidy import doc_matrix, select, task_metrics

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
PAIR_COLUMNS = [
    "model_a",
    "model_b",
    "task",
    "metric",
    "n",
    "diff",
    "stderr",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "method",
]
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
        return {
            "size": self.size,
            "correction": self.correction,
            "models": self.models,
            "tasks": self.tasks,
            "statement": self.statement,
        }


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
        """What ``p_adjusted`` is adjusted over: the pairs with a p-value, all tasks at once."""
        key = _correction_key(self.correction)
        if "p_value" not in self.pairs:
            return AdjustmentFamily(0, key, 0, 0)
        tested = self.pairs[self.pairs["p_value"].notna()]
        names = set(tested["model_a"]) | set(tested["model_b"])
        return AdjustmentFamily(len(tested), key, len(names), tested["task"].nunique())

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": to_jsonable(self.scores[SCORE_COLUMNS]),
            "pairs": to_jsonable(self.pairs[PAIR_COLUMNS]),
            "groups": to_jsonable(self.groups),
        }


def compact_letters(means: Sequence[float], significant: np.ndarray) -> list[str]:
    """Compact letter display (Piepho 2004, insert-and-absorb).

    ``significant[i, j]`` says models i and j differ. Returns one string of letters per model
    such that two models share a letter iff no significant difference separates them within a
    group; letters run from the best group ("a") down.
    """
    m = len(means)
    groups: list[set[int]] = [set(range(m))]
    for i, j in zip(*np.nonzero(np.triu(significant, 1)), strict=True):
        new: list[set[int]] = []
        for g in groups:
            if i in g and j in g:
                new.extend([g - {i}, g - {j}])
            else:
                new.append(g)
        groups = [g for g in new if not any(g < h for h in new)]
        groups = [set(t) for t in {tuple(sorted(g)) for g in groups}]
    groups.sort(key=lambda g: (-max(means[k] for k in g), sorted(g)))
    letters = ["" for _ in range(m)]
    for pos, g in enumerate(groups):
        letter = chr(ord("a") + pos) if pos < 26 else f"[{pos}]"
        for k in sorted(g):
            letters[k] += letter
    return letters


def _overall_kind(info: MetricInfo) -> str:
    """Which metrics may share an "(all)" row: accuracy-like shares (higher is better, bounded
    in [0, 1], not log-scale: acc, exact_match, ...) share "accuracy"; every other metric
    (perplexities, losses, unbounded scores) is its own kind."""
    share = info.higher_is_better and info.bounds == (0.0, 1.0) and not info.log_scale
    return "accuracy" if share else info.name


def _overall_scores(scores: pd.DataFrame, alpha: float, metrics: MetricMap) -> pd.DataFrame:
    """Macro mean over tasks per model and kind of metric (:func:`_overall_kind`: unlike
    metrics are never averaged): SE = √(Σ SE_t²) / T, with a normal (1 − α) interval (on the
    log scale for a perplexity, as :func:`_scale_interval`). ``metric`` names the metrics
    averaged, e.g. "acc, exact_match"."""
    rows = []
    z = sps.norm.ppf(1 - alpha / 2)
    kinds = scores["metric"].map(lambda m: _overall_kind(metric_info(m, metrics)))
    for (_, model), sub in scores.groupby([kinds, "model"], sort=False):
        t = len(sub)
        se = float(np.sqrt(np.sum(sub["stderr"].to_numpy() ** 2)) / t)
        mean = float(sub["mean"].mean())
        names = sorted(set(sub["metric"]))
        est = _Normal(mean, se, mean - z * se, mean + z * se, "normal")
        low, high, method = _scale_interval(est, metric_info(names[0], metrics))
        rows.append(
            {"model": model, "task": OVERALL, "metric": ", ".join(names),
             "n": int(sub["n"].sum()), "mean": mean, "stderr": se, "ci_low": low,
             "ci_high": high, "method": method}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


@dataclass(frozen=True)
class _Normal:
    mean: float
    stderr: float
    ci_low: float
    ci_high: float
    method: str


@accepts_confidence()
def compare(
    scores: pd.DataFrame,
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

    ``scores`` is ``Store.evidence().scores`` (long rows). Per task the metric is ``metric`` or the
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
    require_columns(scores, ["model", "task", "doc_id", "metric", "value"])
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha}: must be in (0, 1)")
    if str(correction).lower() not in _CORRECTIONS:
        raise InputError(f"correction {correction!r}: use holm, bh or none")
    if test not in _METHODS:
        raise InputError(f"test {test!r}: use one of {', '.join(_METHODS)}")
    df = select(select(scores, "model", models), "task", tasks)
    df = df[df["value"].notna()]
    score_rows: list[dict[str, Any]] = []
    pair_rows: list[dict[str, Any]] = []
    eff_rows: list[tuple[str, str, str, float]] = []
    for task, met in task_metrics(df, metric, metrics):
        rows = df[(df["task"] == task) & (df["metric"] == met)]
        order = models or sorted(rows["model"].unique())
        order = [m for m in order if m in set(rows["model"])]
        matrix, _, clusters, names = doc_matrix(rows, order)
        for j, name in enumerate(names):
            col = matrix[:, j]
            have = ~np.isnan(col)
            est = mean_ci(
                col[have], clusters=None if clusters is None else clusters[have], alpha=alpha
            )
            low, high, method = _scale_interval(est, metric_info(met, metrics))
            eff_rows.append((name, task, met, est.n_effective))
            score_rows.append(
                {"model": name, "task": task, "metric": met, "n": est.n, "mean": est.mean,
                 "stderr": est.stderr, "ci_low": low, "ci_high": high, "method": method}
            )  # fmt: skip
        for i, j in combinations(range(len(names)), 2):
            shared = ~np.isnan(matrix[:, i]) & ~np.isnan(matrix[:, j])
            row = {"model_a": names[i], "model_b": names[j], "task": task, "metric": met}
            if shared.sum() < 2:
                pair_rows.append({**row, "n": int(shared.sum()), "method": "none"})
                continue
            res = paired_test(
                matrix[shared, i],
                matrix[shared, j],
                clusters=None if clusters is None else clusters[shared],
                method=test,
                alpha=alpha,
                seed=seed,
            )
            pair_rows.append(
                {**row, "n": res.n, "diff": res.diff, "stderr": res.stderr,
                 "ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.pvalue,
                 "method": res.method, "statistic": res.statistic, "df": res.df,
                 "correlation": res.correlation, "a_only_right": res.a_only_right,
                 "b_only_right": res.b_only_right}
            )  # fmt: skip
    score_df = pd.DataFrame(score_rows, columns=SCORE_COLUMNS)
    details = pd.DataFrame(pair_rows)
    if details.empty:
        details = pd.DataFrame(columns=PAIR_COLUMNS)
    for col in PAIR_COLUMNS:
        if col not in details:
            details[col] = np.nan
    details["p_adjusted"] = adjust_pvalues(details["p_value"].to_numpy(dtype=float), correction)
    pairs = details[PAIR_COLUMNS].reset_index(drop=True)
    used = {str(m): metric_info(m, metrics) for m in score_df["metric"].unique()}
    groups = _groups(score_df, pairs, alpha, used)
    if overall and score_df["task"].nunique() > 1:
        overall_rows = _overall_scores(score_df, alpha, used)
        score_df = pd.concat([score_df, overall_rows], ignore_index=True)
    details = details.reset_index(drop=True)
    effective = pd.DataFrame(eff_rows, columns=["model", "task", "metric", "n_effective"])
    return Comparison(score_df, pairs, groups, alpha, correction, details, used, effective)


def _correction_key(correction: str) -> str:
    key = str(correction).lower()
    return "bh" if key in ("bh", "fdr", "benjamini-hochberg") else key


def _scale_interval(est, info) -> tuple[float, float, str]:
    """The interval of ``est`` on the metric's scale: for a log-scale metric (perplexity) the
    delta method on log(mean), SE(log m) = SE/m, so mean · exp(±q · SE / mean) — positive and
    right-skewed — with the same quantile q as the symmetric interval."""
    if not info.log_scale or not (est.mean > 0 and est.stderr > 0):
        return est.ci_low, est.ci_high, est.method
    q = (est.ci_high - est.mean) / est.stderr
    spread = math.exp(q * est.stderr / est.mean)
    return est.mean / spread, est.mean * spread, f"{est.method}+log"


def _groups(
    scores: pd.DataFrame, pairs: pd.DataFrame, alpha: float, metrics: MetricMap
) -> pd.DataFrame:
    out = []
    for (task, met), sub in scores.groupby(["task", "metric"], sort=False):
        names = list(sub["model"])
        means = sub["mean"].to_numpy()
        index = {m: k for k, m in enumerate(names)}
        sig = np.zeros((len(names), len(names)), dtype=bool)
        tp = pairs[(pairs["task"] == task) & (pairs["metric"] == met)]
        for a, b, p in zip(tp["model_a"], tp["model_b"], tp["p_adjusted"], strict=True):
            if p < alpha:
                sig[index[a], index[b]] = sig[index[b], index[a]] = True
        letters = compact_letters(
            list(means * metric_info(met, metrics).sign), sig
        )  # best gets "a"
        for name, mean, letter in zip(names, means, letters, strict=True):
            out.append(
                {"task": task, "metric": met, "model": name, "mean": mean, "group": letter,
                 "tied_with_best": "a" in letter}
            )  # fmt: skip
    cols = ["task", "metric", "model", "mean", "group", "tied_with_best"]
    return pd.DataFrame(out, columns=cols)
