"""A multiple-choice task whose documents grade every choice (a ``relevance`` field) is also a
ranking task: the model ranks the choices by log-likelihood, and each document gets the
per-query retrieval metrics of :mod:`assay.core` (``ndcg``, ``mrr`` and every ``ndcg@k`` /
``recall@k`` the task names under ``metrics:``) — per-sample values, so they get the clustered
intervals and paired tests of accuracy (docs/metrics.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from assay.core import ndcg, recall_at_k, reciprocal_rank
from assay.errors import InputError


def choice_relevance(value: Any, count: int, where: str) -> tuple[float, ...] | None:
    """A document's ``relevance`` field — one grade ≥ 0 per choice, in the choices' order — as
    a tuple (None when the document has none); anything else is one InputError."""
    if value is None:
        return None
    ok = isinstance(value, list | tuple) and len(value) == count
    grades = []
    for item in value if ok else ():
        if isinstance(item, bool) or not isinstance(item, int | float):
            ok = False
            break
        grades.append(float(item))
    if not ok or not all(math.isfinite(g) and g >= 0 for g in grades):
        raise InputError(
            f"{where}: field 'relevance' must list one grade >= 0 per choice ({count} choices)"
        )
    return tuple(grades)


def ranking_metrics(
    relevance: list[float], logprobs: list[float], declared: Mapping[str, Any] | None
) -> dict[str, float]:
    """``ndcg`` and ``mrr`` of the choices ranked by ``logprobs`` (relevance in the same,
    shown, order), plus each ``ndcg@k`` and ``recall@k`` named in ``declared``."""
    rel, score = np.asarray([relevance], float), np.asarray([logprobs], float)
    out = {"ndcg": float(ndcg(rel, score)[0]), "mrr": float(reciprocal_rank(rel, score)[0])}
    for name in declared or {}:
        family, sep, k = str(name).partition("@")
        if sep and family in ("ndcg", "recall") and k.isdigit() and int(k) > 0:
            fn = ndcg if family == "ndcg" else recall_at_k
            out[str(name)] = float(fn(rel, score, k=int(k))[0])
    return out
