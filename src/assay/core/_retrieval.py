"""Per-query retrieval and ranking metrics with graded relevance: NDCG@k, reciprocal rank
(MRR is its mean) and recall@k.

A query is a list of candidates with graded relevance g ≥ 0 (0: not relevant) and, optionally,
the system's score of each (higher ranks first; ties keep the candidates' order); without scores
the list is already in ranked order. Queries of different lengths are rows of a 2-d array padded
with NaN (:func:`pad_lists`). Every function is vectorised over queries and returns one value
per query, so a task's mean gets assay's clustered interval and paired tests.

* DCG@k = Σ_{i ≤ k} g_(i) / log2(i + 1), g_(i) the grade at rank i (linear gain, as
  ``sklearn.metrics.ndcg_score``); NDCG@k = DCG@k / IDCG@k, IDCG@k the DCG@k of the grades
  sorted descending (Järvelin & Kekäläinen 2002, "Cumulated gain-based evaluation of IR
  techniques", ACM TOIS 20(4)). A query with no relevant candidate scores 0 (as sklearn).
* Reciprocal rank = 1 / (rank of the first candidate with g > 0), 0 if none (Voorhees 1999,
  TREC-8 question answering); MRR is its mean over queries.
* Recall@k = |relevant in the top k| / |relevant|, relevant meaning g > 0; 0 if none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.errors import InputError

__all__ = ["ndcg", "pad_lists", "ranked_relevance", "recall_at_k", "reciprocal_rank"]


def pad_lists(lists: Sequence[Sequence[float]]) -> np.ndarray:
    """Ragged lists of numbers as one (n, max length) float array padded with NaN."""
    lengths = np.fromiter((len(x) for x in lists), dtype=int, count=len(lists))
    out = np.full((len(lists), int(lengths.max(initial=0))), np.nan)
    if lengths.sum():
        flat = np.concatenate([np.asarray(x, dtype=float).ravel() for x in lists if len(x)])
        rows = np.repeat(np.arange(len(lists)), lengths)
        cols = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, cols] = flat
    return out


def ranked_relevance(relevance, scores=None) -> np.ndarray:
    """The grades of each query in ranked order (by ``scores`` descending, ties in candidate
    order; without ``scores`` as given), NaN padding last. Grades must be finite and ≥ 0."""
    rel = np.atleast_2d(np.asarray(relevance, dtype=float))
    pad = np.isnan(rel)
    if (rel[~pad] < 0).any() or np.isinf(rel).any():
        raise InputError("relevance grades must be finite numbers >= 0")
    if scores is None:
        return np.take_along_axis(rel, np.argsort(pad, axis=1, kind="stable"), axis=1)
    score = np.atleast_2d(np.asarray(scores, dtype=float))
    if score.shape != rel.shape:
        raise InputError(f"scores {score.shape} and relevance {rel.shape} differ in shape")
    if (np.isnan(score) != pad).any():
        raise InputError("every candidate with a relevance grade needs a score, and only those")
    key = np.where(pad, np.inf, -score)  # padding ranks last
    return np.take_along_axis(rel, np.argsort(key, axis=1, kind="stable"), axis=1)


def _cutoff(k: int | None, width: int) -> int:
    if k is None:
        return width
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"the cutoff k must be a whole number >= 1, got {k!r}")
    return min(int(k), width)


def ndcg(relevance, scores=None, k: int | None = None) -> np.ndarray:
    """NDCG@k of each query (all ranks when ``k`` is None): DCG@k / IDCG@k with linear gain
    and discount 1 / log2(rank + 1); 0 for a query without a relevant candidate."""
    ranked = np.nan_to_num(ranked_relevance(relevance, scores))
    top = _cutoff(k, ranked.shape[1])
    discount = 1.0 / np.log2(np.arange(2, top + 2))
    gain = ranked[:, :top] @ discount
    ideal = -np.sort(-ranked, axis=1)[:, :top] @ discount
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ideal > 0, gain / ideal, 0.0)


def reciprocal_rank(relevance, scores=None) -> np.ndarray:
    """1 / rank of the first relevant (grade > 0) candidate of each query, 0 if there is none;
    the mean over queries is the MRR."""
    hit = np.nan_to_num(ranked_relevance(relevance, scores)) > 0
    first = hit.argmax(axis=1)
    return np.where(hit.any(axis=1), 1.0 / (first + 1.0), 0.0)


def recall_at_k(relevance, scores=None, k: int = 10) -> np.ndarray:
    """Share of each query's relevant (grade > 0) candidates ranked in the top ``k``; 0 for a
    query without a relevant candidate."""
    hit = np.nan_to_num(ranked_relevance(relevance, scores)) > 0
    top = _cutoff(k, hit.shape[1])
    total = hit.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, hit[:, :top].sum(axis=1) / total, 0.0)
