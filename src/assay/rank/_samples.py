"""Leaderboards from per-sample results where each model saw its own subset (ONEBench, HELM).

A *column* is one sample (task, doc_id); a cell is a model's score on it, averaged over
repeats, missing when the model never saw it.

* ``pl``: Plackett–Luce over the per-sample orderings (ONEBench, Ghosh et al. 2024), fitted by
  full rank breaking: every strictly ordered pair in a column is one comparison (a correct
  model beats each wrong one; numeric scores order all models). The pairwise likelihood of
  the broken rankings is consistent for PL (Azari Soufiani et al., 2013); its maximiser is
  the fixed point of iterative Luce spectral ranking (Maystre & Grossglauser, 2015), found here
  by Newton's method. Ratings on the Elo scale (400 per factor of 10, mean 1000).
* ``irt``: a Rasch model P(right) = σ(θ_i − b_s) with every sample's difficulty fitted jointly
  (``_rasch.fit_rasch``): a sample only one model saw still counts, where rank breaking drops
  it; for scores in [0, 1].
* ``winrate``: HELM's mean win rate: per task, the share of other models this model beats on
  the task mean (ties half, missing cells skipped); averaged over the model's tasks.
* ``mean``: the plain mean score over the model's tasks (macro), with its coverage.

Intervals: percentile bootstrap resampling samples (columns) within each task, seeded; tasks
with a single column (task-level scores, e.g. a leaderboard table) are resampled as tasks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay.core import MetricMap, headline_metric, metric_info
from assay.errors import InputError

from ._battles import PairCounts
from ._design import choose_method
from ._fit import fit_pairs
from ._pairwise import ELO_PER_LOGIT, _win_matrix
from ._rasch import fit_rasch
from ._ratings import Ratings, build_ratings
from ._sample_store import SampleMatrix, store_matrix

__all__ = ["SampleMatrix", "rank_samples", "sample_matrix"]

METHODS = ("auto", "pl", "irt", "winrate", "mean")


def sample_matrix(
    scores: pd.DataFrame, metric: str | None = None, metrics: MetricMap | None = None
) -> SampleMatrix:
    """Pivot the store's tidy scores (model, task, doc_id, metric, value) to models × samples."""
    need = ("model", "task", "doc_id", "metric", "value")
    missing = [c for c in need if c not in scores.columns]
    if missing:
        raise InputError(f"scores: missing column(s) {', '.join(missing)}")
    if scores.empty:
        raise InputError("scores: no per-sample results to rank")
    df = scores[list(need)].dropna(subset=["value"])
    if metric is not None:
        df = df[df["metric"] == metric]
        if df.empty:
            known = ", ".join(sorted(scores["metric"].astype(str).unique()))
            raise InputError(f"--metric {metric!r}: not in the scores (metrics: {known})")
        chosen = dict.fromkeys(df["task"].unique(), metric)
    else:
        per_task = df.groupby("task")["metric"].unique()
        chosen = {task: headline_metric(ms, metrics) for task, ms in per_task.items()}
        df = df[df["metric"].to_numpy() == df["task"].map(chosen).to_numpy()]
    value = df["value"].astype(float).to_numpy()
    sign = df["metric"].map(lambda m: metric_info(m, metrics).sign).to_numpy(dtype=float)
    value = value * sign  # lower-is-better metrics negated (assay.core's registry)
    cells = (
        df.assign(value=value)
        .groupby(["model", "task", "doc_id"], sort=True, observed=True)["value"]
        .mean()
        .reset_index()
    )
    model_codes, models = pd.factorize(cells["model"].astype(str), sort=True)
    col_key = cells["task"].astype(str) + "\x1f" + cells["doc_id"].astype(str)
    col_codes, col_names = pd.factorize(col_key, sort=True)
    if len(models) < 2:
        raise InputError("scores: need results of at least two models to rank")
    values = np.full((len(models), len(col_names)), np.nan)
    values[model_codes, col_codes] = cells["value"].to_numpy()
    tasks = np.empty(len(col_names), dtype=object)
    tasks[col_codes] = cells["task"].astype(str).to_numpy()
    return SampleMatrix(values, [str(m) for m in models], tasks, chosen)


def pairwise_wins(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """wins[i, j] = Σ_s w_s · 1[x_is > x_js] over samples both models have (ties and missing
    cells count nothing). ``weights`` (B, S) gives one matrix per replicate, shape (B, K, K);
    without, unit weights and shape (K, K). Loops over models only: each step compares one
    model with all later ones on all samples and weights them with one matrix product."""
    k, s = values.shape
    w = np.ones((s, 1), np.float32) if weights is None else weights.T.astype(np.float32)
    out = np.zeros((w.shape[1], k, k))
    for i in range(k - 1):
        other = values[i + 1 :]
        out[:, i, i + 1 :] = ((values[i] > other).astype(np.float32) @ w).T
        out[:, i + 1 :, i] = ((values[i] < other).astype(np.float32) @ w).T
    return out[0] if weights is None else out


def _strata(tasks: np.ndarray) -> list[np.ndarray]:
    """Column groups the bootstrap resamples within: each task with several samples on its
    own; tasks with a single column (task-level scores) pooled, so they resample as tasks."""
    names, inverse, sizes = np.unique(tasks, return_inverse=True, return_counts=True)
    single = sizes[inverse] == 1
    groups = [np.flatnonzero((inverse == t) & ~single) for t in range(len(names)) if sizes[t] > 1]
    return groups + ([np.flatnonzero(single)] if single.any() else [])


def _column_weights(tasks: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """(B, S) bootstrap multiplicities, resampling columns within each stratum."""
    s = len(tasks)
    weights = np.zeros((rounds, s))
    for cols in _strata(tasks):  # a handful of strata
        picks = cols[rng.integers(0, len(cols), size=(rounds, len(cols)))]
        flat = (np.arange(rounds)[:, None] * s + picks).ravel()
        weights += np.bincount(flat, minlength=rounds * s).reshape(rounds, s)
    return weights


def _task_means(mat: SampleMatrix, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, K, T) weighted per-task means (NaN where a model has no sample of the task) and
    (B, 1, T) task weights: 1, or the multiplicity of a single-column task."""
    x = np.nan_to_num(mat.values)
    p = mat.present.astype(float)
    tasks = np.unique(mat.tasks)
    out = np.empty((weights.shape[0], len(mat.models), len(tasks)))
    task_weight = np.ones((weights.shape[0], 1, len(tasks)))
    for t, task in enumerate(tasks):
        cols = mat.tasks == task
        w = weights[:, cols]
        if cols.sum() == 1:
            task_weight[:, 0, t] = w[:, 0]
            w = np.ones_like(w)
        num, den = w @ (x[:, cols] * p[:, cols]).T, w @ p[:, cols].T
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, :, t] = np.where(den > 0, num / den, np.nan)
    return out, task_weight


def _mean_win_rate(means: np.ndarray, task_weight: np.ndarray) -> np.ndarray:
    """(B, K) HELM mean win rate from (B, K, T) task means."""
    here = ~np.isnan(means)
    gt = means[:, :, None, :] > means[:, None, :, :]
    eq = (means[:, :, None, :] == means[:, None, :, :]) & here[:, :, None, :] & here[:, None, :, :]
    k = means.shape[1]
    eq[:, np.arange(k), np.arange(k), :] = False
    others = here.sum(axis=1, keepdims=True) - 1  # (B, 1, T) opponents per task
    wins = gt.sum(axis=2) + 0.5 * eq.sum(axis=2)  # (B, K, T)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(here & (others > 0), wins / np.maximum(others, 1), np.nan)
    return _weighted_nanmean(rate, task_weight)


def _macro_mean(means: np.ndarray, task_weight: np.ndarray) -> np.ndarray:
    """(B, K) mean over each model's tasks."""
    return _weighted_nanmean(means, task_weight)


def _weighted_nanmean(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Σ w·x / Σ w over the last axis, skipping NaN; NaN (no warning) where nothing is left."""
    w = np.where(np.isnan(x), 0.0, np.broadcast_to(weight, x.shape))
    total, count = (w * np.nan_to_num(x)).sum(axis=-1), w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


def _empirical_win_matrix(values: np.ndarray) -> np.ndarray:
    """P(row beats column on a sample both saw), ties half; from the comparison counts."""
    p = (~np.isnan(values)).astype(float)
    wins = pairwise_wins(values)
    both = p @ p.T
    ties = both - wins - wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (wins + 0.5 * ties) / both
    np.fill_diagonal(out, np.nan)
    return out


def _pl(mat: SampleMatrix, weights: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Point and bootstrap log-strengths from the broken rankings."""
    k = len(mat.models)
    full = pairwise_wins(mat.values)
    iu, ju = np.triu_indices(k, 1)
    used = (full[iu, ju] + full[ju, iu]) > 0
    if not used.any():
        raise InputError("scores: no sample orders any two models (all ties); nothing to rank")
    pi, pj = iu[used], ju[used]
    PairCounts(mat.models, pi, pj, np.ones((len(pi), 3))).require_connected("scores")

    def counts(c: np.ndarray) -> np.ndarray:
        return np.stack([c[:, pi, pj], c[:, pj, pi], np.zeros((len(c), len(pi)))], axis=-1)

    full_fit = fit_pairs(pi, pj, counts(full[None]), k, l2=l2)
    boot = np.empty((0, k))
    if len(weights):
        boot = fit_pairs(
            pi, pj, counts(pairwise_wins(mat.values, weights)), k, l2=l2, start=full_fit
        ).theta
    theta = full_fit.theta[0]
    return theta, boot


def _irt(mat: SampleMatrix, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point and bootstrap abilities of the Rasch model (scores must lie in [0, 1])."""
    x = mat.values[mat.present]
    if x.min() < 0 or x.max() > 1:
        raise InputError("method irt needs scores in [0, 1] (accuracy-like); use --method pl")
    pi, pj = _shared_pairs(mat)
    PairCounts(mat.models, pi, pj, np.ones((len(pi), 3))).require_connected("scores")
    groups = _prior_groups(mat.tasks)
    theta = fit_rasch(mat.values, groups=groups)[0][0]
    boot = (
        fit_rasch(mat.values, weights, groups=groups)[0]
        if len(weights)
        else np.empty((0, len(theta)))
    )
    return theta, boot


def _pl_connected(mat: SampleMatrix) -> bool:
    """Whether the samples' orderings (the comparisons ``pl`` uses) link every model."""
    wins = pairwise_wins(mat.values)
    iu, ju = np.triu_indices(len(mat.models), 1)
    used = (wins[iu, ju] + wins[ju, iu]) > 0
    return (
        len(PairCounts(mat.models, iu[used], ju[used], np.ones((used.sum(), 3))).components()) == 1
    )


def _prior_groups(tasks: np.ndarray) -> np.ndarray:
    """Each column's difficulty-prior group: its task, with the tasks that hold a single column
    (task-level scores) pooled into one group, as the bootstrap pools them."""
    strata = _strata(tasks)
    groups = np.empty(len(tasks), dtype=int)
    for g, cols in enumerate(strata):
        groups[cols] = g
    return groups


def _shared_pairs(mat: SampleMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of models that share at least one sample."""
    p = mat.present.astype(np.float32)
    iu, ju = np.triu_indices(len(mat.models), 1)
    shared = (p @ p.T)[iu, ju] > 0
    return iu[shared], ju[shared]


def _matrix(
    scores: Any,
    method: str,
    metric: str | None,
    metrics: MetricMap | None,
    models: list[str] | None = None,
) -> tuple[SampleMatrix, list[str]]:
    """The matrix to rank and the tasks left out: from the loaded rows (a frame, or evidence
    without ``matrices``), else read in DuckDB (``_sample_store.store_matrix``)."""
    unit = method == "irt" and metric is None
    if isinstance(scores, pd.DataFrame) or getattr(scores, "matrices", None) is None:
        frame = scores if isinstance(scores, pd.DataFrame) else scores.scores
        if models is not None:
            frame = frame[np.isin(frame["model"].astype(str).to_numpy(), models)]
        skipped: list[str] = []
        if unit:
            frame, skipped = _unit_interval_tasks(frame, metrics)
        return sample_matrix(frame, metric, metrics), skipped
    return store_matrix(scores, metric, metrics, models, unit_interval=unit)


def rank_samples(
    scores: pd.DataFrame | Any,
    *,
    method: str = "auto",
    metric: str | None = None,
    metrics: MetricMap | None = None,
    bootstrap: int = 100,
    seed: int = 0,
    confidence: float = 0.95,
    l2: float = 1e-4,
    models: list[str] | None = None,
) -> Ratings:
    """Rank models from per-sample results (the store's tidy ``Store.evidence().scores`` frame,
    or the evidence itself: a store's is then read in DuckDB, the same numbers; ``models``: only
    these).

    ``method``: ``auto`` (the default: ``irt`` or ``pl`` by the data's design,
    ``_design.choose_method``; ``info["chosen_by"]`` holds the evidence), ``pl`` (Plackett–Luce
    by rank breaking, Elo scale), ``irt`` (Rasch abilities with item difficulties fitted jointly,
    each around its task's mean difficulty, Elo scale; scores in [0, 1]; closer to the truth
    than ``pl`` on sparse matrices when each model's samples of a task are a random share of
    it, see benchmarks/sparse_ranking.py and benchmarks/sparse_design.py), ``winrate`` (HELM
    mean win rate in [0, 1]) or ``mean`` (macro mean score; ``details`` has the coverage: the
    share of all samples the model has). Without ``metric`` each task uses its headline metric
    (``assay.core.headline_metric``); lower-is-better metrics (perplexity, latency, ...) are
    negated. ``metrics``: the store's metric definitions (``Store.evidence().metrics``). ``n`` is the number of samples a model has.
    """
    if method not in METHODS:
        raise InputError(f"method {method!r}: use one of {', '.join(METHODS)}")
    if bootstrap < 0:
        raise InputError(f"bootstrap {bootstrap}: must be >= 0")
    if metrics is None and not isinstance(scores, pd.DataFrame):
        metrics = scores.metrics
    mat, skipped = _matrix(scores, method, metric, metrics, models)
    chosen_by: dict[str, Any] = {}
    if method == "auto":
        method, chosen_by = choose_method(mat.values, _prior_groups(mat.tasks))
        if method == "pl" and "confounded" in chosen_by["reason"] and not _pl_connected(mat):
            reason = "; but no chain of decided comparisons links every model (pl cannot rank"
            method, chosen_by = (
                "irt",
                {**chosen_by, "reason": chosen_by["reason"] + reason + " them), so irt"},
            )
    rng = np.random.default_rng(seed)
    weights = _column_weights(mat.tasks, bootstrap, rng) if bootstrap else np.empty((0, 0))
    n = mat.present.sum(axis=1)
    alpha = 1 - confidence
    if method in ("pl", "irt"):
        theta, boot_theta = _pl(mat, weights, l2) if method == "pl" else _irt(mat, weights)
        rating = ELO_PER_LOGIT * theta + 1000.0
        boot = ELO_PER_LOGIT * boot_theta + 1000.0
        win = _win_matrix(theta, None)
        scale = "elo"
    else:
        point_w = np.ones((1, mat.values.shape[1]))
        stat = _mean_win_rate if method == "winrate" else _macro_mean
        rating = stat(*_task_means(mat, point_w))[0]
        boot = stat(*_task_means(mat, weights)) if bootstrap else np.empty((0, len(mat.models)))
        win = _empirical_win_matrix(mat.values)
        scale = "win rate" if method == "winrate" else "mean score"
    if boot.shape[0] >= 2:
        lo, hi = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    else:
        lo = hi = np.full(len(rating), np.nan)
    details = pd.DataFrame(
        {
            "coverage": n / mat.values.shape[1],
            "tasks": [
                int(len(np.unique(mat.tasks[row]))) for row in mat.present
            ],  # one row per model
        },
        index=pd.Index(mat.models, name="model"),
    )
    return build_ratings(
        mat.models,
        rating,
        lo,
        hi,
        n,
        win,
        method=method,
        scale=scale,
        confidence_level=confidence,
        bootstrap=boot,
        details=details,
        info={
            "n_samples": int(mat.values.shape[1]),
            "n_tasks": int(len(np.unique(mat.tasks))),
            "metrics": {str(k): str(v) for k, v in mat.metrics.items()},
            **({"skipped_tasks": ", ".join(skipped)} if skipped else {}),
            **({"chosen_by": {"method": method, **chosen_by}} if chosen_by else {}),
        },
    )


def _unit_interval_tasks(
    scores: pd.DataFrame, metrics: MetricMap | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """The scores of the tasks whose headline metric is a success score in [0, 1] (what the
    Rasch model needs), and the tasks left out (perplexities, unbounded scores). With none
    left, the scores as they are (:func:`rank_samples` then names the problem)."""
    values = scores.dropna(subset=["value"])
    per_task = values.groupby("task")["metric"].unique()
    head = {task: headline_metric(ms, metrics) for task, ms in per_task.items()}
    rows = values[values["metric"].to_numpy() == values["task"].map(head).to_numpy()]
    span = rows.groupby("task")["value"].agg(["min", "max"])
    fits = (span["min"] >= 0) & (span["max"] <= 1)
    keep = [t for t in span.index[fits] if not metric_info(head[t], metrics).lower_is_better]
    skipped = sorted(set(head) - set(keep))
    if not keep or not skipped:
        return scores, []
    return scores[scores["task"].isin(keep)], skipped


def sample_groups(
    scores: pd.DataFrame, metric: str | None = None, metrics: MetricMap | None = None
) -> list[list[str]]:
    """Connected groups of models: two models are linked when they share a sample (the same
    task, document and repeat), and groups are the connected components of those links,
    largest first (ties by first name). Models in different groups share no scale."""
    return _groups(sample_matrix(scores, metric, metrics))


def _groups(mat: SampleMatrix) -> list[list[str]]:
    pi, pj = _shared_pairs(mat)
    groups = PairCounts(mat.models, pi, pj, np.ones((len(pi), 3))).components()
    return sorted((sorted(g) for g in groups), key=lambda g: (-len(g), g[0]))


def rank_sample_groups(
    scores: pd.DataFrame | Any,
    *,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    **options: Any,
) -> tuple[list[Ratings], list[str]]:
    """:func:`rank_samples` on each connected group of models (:func:`sample_groups`) with at
    least two models, on that group's samples alone; and the models that share no sample with
    any other (nothing to rank them against). One group gives exactly :func:`rank_samples`.
    ``scores``: as :func:`rank_samples` (a store's evidence is read in DuckDB)."""
    if metrics is None and not isinstance(scores, pd.DataFrame):
        metrics = scores.metrics
    groups = _groups(_matrix(scores, "", metric, metrics)[0])
    every = sum(len(g) for g in groups)
    rated = [
        rank_samples(
            scores, metric=metric, metrics=metrics, models=None if len(g) == every else g, **options
        )
        for g in groups
        if len(g) > 1
    ]
    alone = sorted(g[0] for g in groups if len(g) == 1)
    return rated, alone
