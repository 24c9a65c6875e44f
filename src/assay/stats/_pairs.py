"""Every pair of models on one task at once: :func:`paired_test` vectorised over the pairs where
it reduces to counts — binary scores without clusters under McNemar's test — and called pair
by pair elsewhere.

For 0/1 scores on the questions two models share, McNemar's test, its interval and the paired
SE depend only on the counts n (shared), b (a right, b wrong) and c (a wrong, b right); the
correlation on n, the two sums and the both-right count. These come for all pairs from a few
products of the documents × models indicator matrices, so 50 models (1,225 pairs) on 1,000
documents cost one small matrix product instead of 1,225 calls; the test itself
(:func:`mcnemar_score`) runs once over the pairs of every task (:func:`finish_pairs`). The
per-model scores of 0/1 columns likewise come at once (:func:`binary_scores`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._estimators import wilson_ci
from ._paired import mcnemar_score, paired_test

#: what every table of paired differences gives of each pair (compare's pairs and details,
#: variant_differences' table), in this order
TEST_COLUMNS = ["n", "diff", "stderr", "ci_low", "ci_high", "p_value"]
#: details columns, in the order :func:`assay.stats.compare` has always given them
DETAIL_COLUMNS = ["model_a", "model_b", "task", "metric", *TEST_COLUMNS, "method"]
DETAIL_COLUMNS += ["statistic", "df", "correlation", "a_only_right", "b_only_right"]
_NUMBERS = DETAIL_COLUMNS[5:10] + DETAIL_COLUMNS[11:]
_PENDING = "mcnemar (pending)"


def _products(matrix: np.ndarray, i: np.ndarray, j: np.ndarray) -> dict[str, np.ndarray]:
    """Per pair (i, j): shared n, whether both are 0/1 there, b, c, both-right, sums. Counts
    are sums of 0/1 products, exact in float32 below 2**24 documents (half the work of float64);
    with only 0/1 values (the usual case) three products give them all."""
    have = ~np.isnan(matrix)
    is_one = matrix == 1
    other = have & ~is_one & (matrix != 0)
    kind = np.float32 if len(matrix) < 2**24 else np.float64
    h, one = have.astype(kind), is_one.astype(kind)
    gram = (h.T @ h).astype(float)
    one_have = (one.T @ h).astype(float)  # [a, b]: a right where b answered
    both = (one.T @ one).astype(float)
    if other.any():
        zero = (matrix == 0).astype(float)
        odd = other.astype(float).T @ have.astype(float)
        binary = (odd[i, j] + odd[j, i]) == 0
        b = (one.astype(float).T @ zero)[i, j]
        c = (zero.T @ one.astype(float))[i, j]
    else:  # a wrong where both answered = b answered minus a right
        binary = np.ones(i.size, dtype=bool)
        b = one_have[i, j] - both[i, j]
        c = one_have[j, i] - both[i, j]
    return {
        "n": gram[i, j],
        "binary": binary,
        "b": b,
        "c": c,
        "both": both[i, j],
        "sum_a": one_have[i, j],
        "sum_b": one_have[j, i],
    }


def task_pairs(
    task: str,
    metric: str,
    matrix: np.ndarray,
    clusters: np.ndarray | None,
    names: list[str],
    *,
    test: str,
    alpha: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """The details columns of every pair of ``names`` (columns of ``matrix``, documents × models)
    on one task, in :func:`itertools.combinations` order; McNemar rows left pending for
    :func:`finish_pairs`."""
    k = len(names)
    i, j = np.triu_indices(k, 1)
    out: dict[str, np.ndarray] = {
        "model_a": np.asarray(names, dtype=object)[i],
        "model_b": np.asarray(names, dtype=object)[j],
        "task": np.full(i.size, task, dtype=object),
        "metric": np.full(i.size, metric, dtype=object),
    }
    have = ~np.isnan(matrix)
    columns: dict[str, Any] = {c: np.full(i.size, np.nan) for c in _NUMBERS}
    method = np.full(i.size, "none", dtype=object)
    counted = clusters is None and test in ("auto", "mcnemar")
    if counted:
        got = _products(matrix, i, j)
        n = got["n"]
        fast = got["binary"] & (n >= 2)
        b, c = got["b"], got["c"]
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = (b - c) / n
            ss = b * (1 - diff) ** 2 + c * (1 + diff) ** 2 + (n - b - c) * diff**2
            se = np.sqrt(ss / (n - 1)) / np.sqrt(n)
            sa, sb = got["sum_a"], got["sum_b"]
            var_a, var_b = n * sa - sa * sa, n * sb - sb * sb
            corr = (n * got["both"] - sa * sb) / np.sqrt(var_a * var_b)
            corr = np.where((var_a > 0) & (var_b > 0), corr, np.nan)
        for name, value in (
            ("diff", diff),
            ("stderr", se),
            ("correlation", corr),
            ("a_only_right", b),
            ("b_only_right", c),
            ("df", n - 1),
        ):
            columns[name] = np.where(fast, value, np.nan)
        method[fast] = _PENDING
    else:
        n = (have.astype(float).T @ have.astype(float))[i, j]
        fast = np.zeros(i.size, dtype=bool)
    for p in np.flatnonzero(~fast & (n >= 2)):
        a, b_ = i[p], j[p]
        shared = have[:, a] & have[:, b_]
        res = paired_test(
            matrix[shared, a],
            matrix[shared, b_],
            clusters=None if clusters is None else clusters[shared],
            method=test,
            alpha=alpha,
            seed=seed,
        )
        for name, value in (
            ("diff", res.diff),
            ("stderr", res.stderr),
            ("ci_low", res.ci_low),
            ("ci_high", res.ci_high),
            ("p_value", res.pvalue),
            ("statistic", res.statistic),
            ("df", res.df),
            ("correlation", res.correlation),
            ("a_only_right", res.a_only_right),
            ("b_only_right", res.b_only_right),
        ):
            columns[name][p] = np.nan if value is None else value
        method[p] = res.method
    out["n"] = n.astype(np.int64)
    for name in DETAIL_COLUMNS[5:10]:
        out[name] = columns[name]
    out["method"] = method
    for name in DETAIL_COLUMNS[11:]:
        out[name] = columns[name]
    return out


def _solve_mcnemar(b: np.ndarray, c: np.ndarray, n: np.ndarray, alpha: float):
    """:func:`mcnemar_score` of each pair, each distinct (b, c, n) solved once (pairs share
    counts)."""
    top = int(n.max()) + 1 if n.size else 1
    if top**3 < 2**62:
        key = (b.astype(np.int64) * top + c.astype(np.int64)) * top + n.astype(np.int64)
        first, inverse = np.unique(key, return_index=True, return_inverse=True)[1:]
        solved = mcnemar_score(b[first], c[first], n[first], alpha=alpha)
        return tuple(v[inverse.reshape(-1)] for v in solved)
    return mcnemar_score(b, c, n, alpha=alpha)


def finish_pairs(chunks: list[dict[str, np.ndarray]], alpha: float) -> pd.DataFrame:
    """The tasks' details in one frame, with McNemar's test run once over every pending pair;
    the counts are integers when every tested pair has them."""
    if not chunks:
        return pd.DataFrame(columns=DETAIL_COLUMNS)
    cols = {name: np.concatenate([chunk[name] for chunk in chunks]) for name in DETAIL_COLUMNS}
    pending = cols["method"] == _PENDING
    if pending.any():
        b, c = cols["a_only_right"][pending], cols["b_only_right"][pending]
        solved = _solve_mcnemar(b, c, cols["n"][pending].astype(float), alpha)
        for name, value in zip(("ci_low", "ci_high", "statistic", "p_value"), solved, strict=True):
            cols[name][pending] = value
        cols["method"][pending] = "mcnemar"
    for name in ("a_only_right", "b_only_right"):
        if len(cols[name]) and not np.isnan(cols[name]).any():
            cols[name] = cols[name].astype(np.int64)
    return pd.DataFrame(cols)


def binary_columns(matrix: np.ndarray) -> np.ndarray:
    """Which columns of ``matrix`` hold only 0/1 (and NaN): those :func:`binary_scores`
    summarises without a call per model."""
    return np.all((matrix == 0) | (matrix == 1) | np.isnan(matrix), axis=0)


def binary_scores(matrix: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """:func:`mean_ci` of each 0/1 column of ``matrix`` (documents × models) without clusters,
    for all columns at once: the mean, SE = sd/√n (NaN for n = 1) and Wilson's interval, whose
    effective n is n."""
    have = ~np.isnan(matrix)
    n = have.sum(axis=0).astype(float)
    k = np.where(have, matrix, 0.0).sum(axis=0)
    mean = k / n
    with np.errstate(invalid="ignore", divide="ignore"):
        ss = k * (1 - mean) ** 2 + (n - k) * mean**2
        se = np.where(n > 1, np.sqrt(ss / (n - 1) / n), np.nan)
    low, high = wilson_ci(k, n, alpha=alpha)
    return {
        "n": n.astype(np.int64),
        "mean": mean,
        "stderr": se,
        "ci_low": np.asarray(low),
        "ci_high": np.asarray(high),
    }
