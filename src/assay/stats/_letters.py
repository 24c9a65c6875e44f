"""Compact letter display of :func:`assay.stats.compare`'s groups: models sharing a letter are
not significantly different (Piepho 2004), from the maximal cliques of "not significantly
different" (runs in mean order when they are, else Bron–Kerbosch on bit masks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from assay.core import MetricMap, metric_info

__all__ = ["compact_letters", "letter_groups"]


def compact_letters(means: Sequence[float], significant: np.ndarray) -> list[str]:
    """Compact letter display (Piepho 2004, insert-and-absorb).

    ``significant[i, j]`` says models i and j differ. Returns one string of letters per model
    such that two models share a letter iff no significant difference separates them within a
    group; letters run from the best group ("a") down.
    """
    m = len(means)
    if m == 0:
        return []
    apart = np.triu(np.asarray(significant, dtype=bool), 1)
    apart = apart | apart.T
    # the groups insert-and-absorb ends with are the maximal sets holding no significant pair
    # (the maximal cliques of "not significantly different"), enumerated on bit masks
    close = ~apart
    groups = _interval_cliques(close, means)
    if groups is None:
        np.fill_diagonal(close, False)
        packed = np.packbits(close, axis=1, bitorder="little")  # row i: bit j near i
        near = [int.from_bytes(row.tobytes(), "little") for row in packed]
        groups = [set(_bits(g)) for g in _maximal_cliques(near, m)]
    groups.sort(key=lambda g: (-max(means[k] for k in g), sorted(g)))
    letters = ["" for _ in range(m)]
    for pos, g in enumerate(groups):
        letter = chr(ord("a") + pos) if pos < 26 else f"[{pos}]"
        for k in sorted(g):
            letters[k] += letter
    return letters


def _interval_cliques(close: np.ndarray, means: Sequence[float]) -> list[set[int]] | None:
    """The maximal cliques of ``close`` (symmetric, diagonal True) when, models ordered by
    mean (best first), each model is close to a run of those after it that reaches no less
    far than the previous model's (the usual case: significance grows with the gap in means):
    then they are the runs that reach further than the one before. None otherwise."""
    m = len(means)
    order = np.argsort(-np.asarray(means, dtype=float), kind="stable")
    near = close[np.ix_(order, order)]
    after = np.arange(m)[None, :] > np.arange(m)[:, None]
    reach = np.where(~near & after, np.arange(m)[None, :], m).min(axis=1) - 1
    runs = (np.arange(m)[None, :] <= reach[:, None]) & ~after.T
    if not (np.array_equal(np.triu(near), np.triu(runs)) and np.all(np.diff(reach) >= 0)):
        return None
    starts = np.flatnonzero(np.concatenate([[True], np.diff(reach) > 0]))
    return [{int(k) for k in order[i : reach[i] + 1]} for i in starts]


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _maximal_cliques(near: list[int], m: int) -> list[int]:
    """Every maximal clique of the graph whose node i neighbours the bits of ``near[i]``
    (Bron–Kerbosch with Tomita's pivot, on bit masks); one empty clique without nodes."""
    found: list[int] = []

    def expand(clique: int, pool: int, done: int) -> None:
        if not pool:
            if not done:
                found.append(clique)
            return
        best, pivot, rest = -1, 0, pool | done
        while rest:  # the pivot: the node with the most neighbours in the pool
            low = rest & -rest
            count = (pool & near[low.bit_length() - 1]).bit_count()
            if count > best:
                best, pivot = count, low.bit_length() - 1
            rest ^= low
        branch = pool & ~near[pivot]
        while branch:
            low = branch & -branch
            v = low.bit_length() - 1
            expand(clique | low, pool & near[v], done & near[v])
            pool &= ~low
            done |= low
            branch ^= low

    expand(0, (1 << m) - 1, 0)
    return found


def letter_groups(
    scores: pd.DataFrame, pairs: pd.DataFrame, alpha: float, metrics: MetricMap
) -> pd.DataFrame:
    """task, metric, model, mean, group, tied_with_best of each row of ``scores``, a (task,
    metric) after the other in the order they first come (its rows in theirs): the compact
    letters (:func:`compact_letters`) of the significant pairs (``p_adjusted`` < ``alpha``)."""
    cols = ["task", "metric", "model", "mean", "group", "tied_with_best"]
    at = pairs.groupby(["task", "metric"], sort=False).indices if len(pairs) else {}
    model_a = pairs["model_a"].to_numpy(dtype=object)
    model_b = pairs["model_b"].to_numpy(dtype=object)
    apart = pairs["p_adjusted"].to_numpy(dtype=float) < alpha
    blocks = scores.groupby(["task", "metric"], sort=False).indices if len(scores) else {}
    model = scores["model"].to_numpy(dtype=object)
    mean = scores["mean"].to_numpy(dtype=float)
    order, letters = [], []
    for (task, met), where in blocks.items():
        index = {m: k for k, m in enumerate(model[where])}
        sig = np.zeros((len(index), len(index)), dtype=bool)
        rows = at.get((task, met), np.zeros(0, dtype=int))
        rows = rows[apart[rows]]
        ia = np.array([index[a] for a in model_a[rows]], dtype=int)
        ib = np.array([index[b] for b in model_b[rows]], dtype=int)
        sig[ia, ib] = sig[ib, ia] = True
        sign = metric_info(met, metrics).sign
        letters += compact_letters(list(mean[where] * sign), sig)  # best gets "a"
        order.append(where)
    rows = np.concatenate(order) if order else np.zeros(0, dtype=int)
    group = np.array(letters, dtype=object)
    return pd.DataFrame(
        {
            "task": scores["task"].to_numpy(dtype=object)[rows],
            "metric": scores["metric"].to_numpy(dtype=object)[rows],
            "model": model[rows],
            "mean": mean[rows],
            "group": group,
            "tied_with_best": np.array(["a" in g for g in letters], dtype=bool),
        },
        columns=cols,
    )
