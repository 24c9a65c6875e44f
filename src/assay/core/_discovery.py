"""Discovery metrics: a regression model used as a classifier of a thresholded target, as
Matbench Discovery scores stability prediction (Riebesell et al. 2025, "A framework to evaluate
machine learning crystal stability predictions", Nature Machine Intelligence 7; a material is
stable when its energy above the convex hull is ≤ 0).

With predicted values p_i, true values t_i and threshold θ, a document is a predicted positive
when p_i ≤ θ (s_i = 1), a true positive class member when t_i ≤ θ (y_i = 1), a hit when both
(h_i = s_i·y_i). Over n documents:

* precision = Σh / Σs, recall = Σh / Σy, F1 = 2Σh / (Σs + Σy);
* prevalence = Σy / n; discovery acceleration factor DAF = precision / prevalence — how many
  times more often a candidate the model calls positive is positive than one drawn at random
  (random selection: DAF = 1; a perfect model: 1 / prevalence). :func:`discovery_acceleration`
  with ``k`` takes the k documents of lowest prediction instead: DAF@k = (hits among them / k) /
  prevalence.

These are corpus values, not means of per-document ones. :func:`discovery_pseudo_values` gives
each document the delta-method pseudo-value of each — the value plus the metric's influence,
e.g. for precision P = h̄ / s̄: v_i = P + (h_i − P·s_i) / s̄; for DAF D = h̄ / (s̄·ȳ):
v_i = D + (h_i − h̄)/(s̄·ȳ) − D·(s_i − s̄)/s̄ − D·(y_i − ȳ)/ȳ — whose mean is the corpus value
exactly and whose standard error is the delta-method one, so assay's clustered intervals and
paired tests apply to them as to accuracy (as for corpus perplexity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.errors import InputError

__all__ = [
    "DISCOVERY_METRICS",
    "discovery_acceleration",
    "discovery_metrics",
    "discovery_pseudo_values",
    "with_discovery_metrics",
]

#: The corpus discovery metrics, computed from the per-document pieces ``discovery_pred`` and
#: ``discovery_true`` (:func:`with_discovery_metrics`; threshold 0).
DISCOVERY_METRICS = ("disc_precision", "disc_recall", "disc_f1", "daf")
PIECES = ("discovery_pred", "discovery_true")


def _indicators(predicted, true, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=float).ravel()
    t = np.asarray(true, dtype=float).ravel()
    if p.shape != t.shape or p.size == 0:
        raise InputError(f"discovery: {p.size} predictions for {t.size} true values")
    if np.isnan(p).any() or np.isnan(t).any():
        raise InputError("discovery: a prediction or a true value is not a number")
    return (p <= threshold).astype(float), (t <= threshold).astype(float)


def discovery_metrics(predicted, true, threshold: float = 0.0) -> dict[str, float]:
    """Precision, recall, F1, prevalence and DAF (= precision / prevalence) of calling a document
    positive when its prediction is ≤ ``threshold``, the truth being true ≤ ``threshold``. A ratio
    whose denominator is 0 (nothing predicted or nothing truly positive) is NaN."""
    s, y = _indicators(predicted, true, threshold)
    hits, called, real = (s * y).sum(), s.sum(), y.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.float64(hits) / called
        prevalence = real / y.size
        return {
            "precision": float(precision),
            "recall": float(np.float64(hits) / real),
            "f1": float(np.float64(2 * hits) / (called + real)),
            "prevalence": float(prevalence),
            "daf": float(precision / prevalence),
        }


def discovery_acceleration(predicted, true, k: int | None = None, threshold: float = 0.0) -> float:
    """DAF: the hit rate among the selected documents over the prevalence. ``k`` None selects
    the predicted positives (prediction ≤ ``threshold``, Matbench Discovery's headline DAF);
    a whole ``k`` ≥ 1 selects the k documents of lowest prediction (ties: the first)."""
    if k is None:
        return discovery_metrics(predicted, true, threshold)["daf"]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"discovery: k must be a whole number >= 1, got {k!r}")
    _, y = _indicators(predicted, true, threshold)
    top = np.argsort(np.asarray(predicted, dtype=float).ravel(), kind="stable")[: int(k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(y[top].mean() / y.mean())


def discovery_pseudo_values(predicted, true, threshold: float = 0.0) -> dict[str, np.ndarray]:
    """Per-document delta-method pseudo-values of each of :data:`DISCOVERY_METRICS`; the mean
    of each is the corpus value (NaN throughout when its denominator is 0)."""
    s, y = _indicators(predicted, true, threshold)
    return _pseudo(s, y, *(np.full(s.size, x.mean()) for x in (s, y, s * y)))


def _pseudo(s, y, s_bar, y_bar, h_bar) -> dict[str, np.ndarray]:
    """Pseudo-values from the indicators and the means of s, y and h = s·y over each
    document's group (arrays of one length)."""
    h = s * y
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = h_bar / s_bar
        recall = h_bar / y_bar
        f1 = 2 * h_bar / (s_bar + y_bar)
        daf = h_bar / (s_bar * y_bar)
        return {
            "disc_precision": precision + (h - precision * s) / s_bar,
            "disc_recall": recall + (h - recall * y) / y_bar,
            "disc_f1": f1 + (2 * h - f1 * (s + y)) / (s_bar + y_bar),
            "daf": daf
            + (h - h_bar) / (s_bar * y_bar)
            - daf * (s - s_bar) / s_bar
            - daf * (y - y_bar) / y_bar,
        }


def with_discovery_metrics(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` plus :data:`DISCOVERY_METRICS` of every (model, task) whose documents carry
    the pieces ``discovery_pred`` and ``discovery_true`` (averaged over repeats and runs;
    threshold 0), as per-document pseudo-value rows (:func:`discovery_pseudo_values`) whose mean
    is the corpus value. Tasks that already carry one of the metrics keep theirs."""
    need = {"model", "task", "doc_id", "metric", "value"}
    if scores.empty or not need <= set(scores.columns):
        return scores
    present = scores.loc[scores["metric"].isin(list(DISCOVERY_METRICS)), "task"].unique()
    pieces = scores[scores["metric"].isin(PIECES) & ~scores["task"].isin(present)]
    if pieces.empty:
        return scores
    keys = ["model", "task", "doc_id"]
    wide = pieces.pivot_table(index=keys, columns="metric", values="value", aggfunc="mean")
    if not set(PIECES) <= set(wide.columns):
        return scores
    wide = wide.dropna(subset=list(PIECES)).reset_index()
    s = (wide["discovery_pred"].to_numpy(float) <= 0).astype(float)
    y = (wide["discovery_true"].to_numpy(float) <= 0).astype(float)
    means = (
        pd.DataFrame({"s": s, "y": y, "h": s * y, "model": wide["model"], "task": wide["task"]})
        .groupby(["model", "task"], sort=False)
        .transform("mean")
    )
    values = _pseudo(s, y, *(means[c].to_numpy() for c in ("s", "y", "h")))
    frames = [wide[keys].assign(metric=name, value=v) for name, v in values.items()]
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[np.isfinite(rows["value"].to_numpy(float))]
    return append_corpus_rows(scores, pieces, rows)


def append_corpus_rows(
    scores: pd.DataFrame, pieces: pd.DataFrame, rows: pd.DataFrame
) -> pd.DataFrame:
    """``scores`` with the per-document ``rows`` of a corpus metric appended, in its columns:
    each row takes its document's ``cluster_id`` and ``difficulty`` from the ``pieces`` it was
    computed from, and repeat 0."""
    for col in ("cluster_id", "difficulty"):
        if col in scores.columns:
            first = pieces.groupby(["task", "doc_id"], sort=False)[col].first()
            rows[col] = first.reindex(pd.MultiIndex.from_frame(rows[["task", "doc_id"]])).values
    if "repeat" in scores.columns:
        rows["repeat"] = 0
    rows = rows.reindex(columns=list(scores.columns))
    return pd.concat([scores, rows], ignore_index=True)
