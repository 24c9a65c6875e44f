"""Time-series anomaly detection: PATE beside point-adjusted F1.

**PATE** (Ghorbani, Reinders, Chen & van Gemert, "PATE: Proximity-Aware Time series anomaly
Evaluation", KDD 2024) weights each predicted point by where it falls relative to the true
anomaly intervals L_k = [s_k, e_k] (n_k points, S_k = Σ_{y∈L_k} y):

* inside L_k: a true positive of weight 1;
* in the post-buffer (e_k, pe_k], pe_k = min(e_k + d, s_{k+1} − 1) (the last: T − 1): a true
  positive of weight w = 1 − (n_k·x − S_k) / (n_k·pe_k − S_k), and a false positive of 1 − w;
* in the pre-buffer [ps_k, s_k), ps_k = max(0, s_k − e, pe_{k−1} + 1): the same with
  w = 1 − (S_k − n_k·x) / (S_k − n_k·ps_k) when L_k is detected at all, else a false positive;
* anywhere else: a false positive of weight 1.

False negatives: all n_k points of an undetected interval; of a partly detected one, each
missed point p weighs 1 when p ≤ s_k + δ_k (δ_k: the length of the first detected run in
L_k, the onset allowance grows with the coverage) and otherwise
1 − ((δ_k + 1)(p − s_k) − δ_k(δ_k + 1)/2) / (n_k(n_k − 1)/2). Precision = TP / (TP + FP) and
recall = TP / (TP + FN) (0 when undefined). For continuous scores PATE is the area under the
precision–recall curve over thresholds (trapezoid from (0, 1), points where recall falls
dropped), averaged over the buffer sizes {0, e} × {0, d}; for binary predictions it is the
mean F1 over the same buffer sizes. The thresholds are those of the reference implementation
(``pate`` 0.1.1 on PyPI, whose defaults these are): the distinct scores, less those where the
count of true positives does not turn, then their 250 percentiles from 100 down to 0.

**Point-adjusted F1** (Xu et al., "Unsupervised Anomaly Detection via Variational
Auto-Encoder for Seasonal KPIs in Web Applications", WWW 2018): if any point of a true
interval is predicted, every point of it counts as predicted; then the point-wise F1. Reported,
as usual, at the best threshold — which is why it flatters (Kim et al., "Towards a Rigorous
Evaluation of Time-series Anomaly Detection", AAAI 2022: random scores reach high PA-F1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.errors import InputError

__all__ = ["anomaly_intervals", "pate", "point_adjusted_f1"]

_CELLS = 4_000_000  # thresholds × points scored at once (about 32 MB per float matrix)


def _series(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.shape != y.shape or y.size == 0:
        raise InputError(f"labels and scores: two 1-d series of one length ({y.shape}, {s.shape})")
    if not np.isin(y, (0.0, 1.0)).all():
        raise InputError("labels: 0 (normal) or 1 (anomaly) for each point")
    if not np.isfinite(s).all():
        raise InputError("scores: a finite number for each point")
    return y.astype(bool), s


def anomaly_intervals(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """The [start, end] (inclusive) of each run of 1s in ``labels``, as a (k, 2) int array."""
    y = np.asarray(labels, dtype=bool).astype(np.int8)
    edges = np.diff(np.concatenate([[0], y, [0]]))
    return np.column_stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1])


def _thresholds(y: np.ndarray, s: np.ndarray, count: int) -> np.ndarray:
    """The reference's thresholds: distinct scores (descending) where the cumulative count of
    true positives turns, then their ``count`` percentiles from 100 down to 0."""
    order = np.argsort(-s, kind="mergesort")
    sorted_s, sorted_y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(sorted_s)), s.size - 1]
    tps, thr = np.cumsum(sorted_y)[last], sorted_s[last]
    if tps.size > 2:
        keep = np.r_[True, (np.diff(tps[:-1]) != 0) | (np.diff(tps[1:]) != 0), True]
        thr = thr[keep]
    return np.percentile(thr, np.linspace(100, 0, count))


class _Zones:
    """Where each point of a series lies for buffers (early, delayed), and its weight."""

    def __init__(self, y: np.ndarray, early: int, delayed: int):
        t = y.size
        self.spans = anomaly_intervals(y)
        starts, ends = self.spans[:, 0], self.spans[:, 1]
        nxt = np.r_[starts[1:], t]
        post_end = np.minimum(ends + delayed, nxt - 1)
        after_last = np.r_[-1, post_end[:-1]] + 1  # after the previous post-buffer
        pre_start = np.maximum(np.maximum(starts - early, 0), after_last)
        n = (ends - starts + 1).astype(float)
        total = (starts + ends) * n / 2  # S_k
        x = np.arange(t)
        self.inside = y.astype(float)
        self.owner = np.full(t, -1)
        self.pre = np.zeros(t, bool)
        self.post = np.zeros(t, bool)
        self.weight = np.zeros(t)
        # every point is in at most one zone: mark zones by the interval they belong to
        for k in range(len(starts)):  # loops over intervals, not points
            pre = slice(pre_start[k], starts[k])
            post = slice(ends[k] + 1, post_end[k] + 1)
            self.owner[pre_start[k] : post_end[k] + 1] = k
            self.pre[pre], self.post[post] = True, True
            self.weight[pre] = 1 - (total[k] - n[k] * x[pre]) / (total[k] - n[k] * pre_start[k])
            self.weight[post] = 1 - (n[k] * x[post] - total[k]) / (n[k] * post_end[k] - total[k])
        self.outside = (~(y | self.pre | self.post)).astype(float)

    def precision_recall(self, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PATE's precision and recall for each row of the boolean matrix ``pred``."""
        p = pred.astype(float)
        k = len(self.spans)
        detected = np.zeros((pred.shape[0], k), bool)
        fn = np.zeros(pred.shape[0])
        for j, (start, end) in enumerate(self.spans):  # loops over intervals, not points
            hit = pred[:, start : end + 1]
            detected[:, j] = hit.any(axis=1)
            fn += _missed(hit, detected[:, j])
        det_at = np.zeros((pred.shape[0], self.owner.size), bool)
        owned = self.owner >= 0
        det_at[:, owned] = detected[:, self.owner[owned]]
        w_pre = np.where(det_at, self.weight, 0.0) * self.pre  # undetected: all false
        post = self.weight * self.post
        tp = p @ self.inside + p @ post + (p * w_pre).sum(axis=1)
        fp = p @ self.outside + p @ (self.post - post) + (p * (self.pre - w_pre)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        return precision, recall


def _missed(hit: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """PATE's false-negative weight of one interval for each row of ``hit`` (its points that
    were predicted): all of them when undetected, else each missed point's weight."""
    rows, n = hit.shape
    pos = np.arange(n)
    first = np.argmax(hit, axis=1)  # the first detected point (0 when none)
    after = (pos >= first[:, None]) & ~hit
    stop = np.where(after.any(axis=1), np.argmax(after, axis=1), n)
    delta = (stop - first)[:, None].astype(float)
    half = n * (n - 1) / 2
    far = ((delta + 1) * pos - delta * (delta + 1) / 2) / half if half > 0 else 0.0
    weight = np.where(pos <= delta, 1.0, 1.0 - far)
    partial = (weight * ~hit).sum(axis=1)
    return np.where(detected, partial, float(n))


def _auc(precision: np.ndarray, recall: np.ndarray) -> float:
    """Trapezoid area under (recall, precision) from (0, 1), keeping the points where recall
    does not fall below the last one kept (as the reference does)."""
    r, p = np.r_[0.0, recall], np.r_[1.0, precision]
    keep = r >= np.maximum.accumulate(r)
    r, p = r[keep], p[keep]
    return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2))


def pate(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    early: int = 100,
    delayed: int = 100,
    *,
    binary: bool = False,
    thresholds: int = 250,
) -> float:
    """PATE of ``scores`` (one per point; higher is more anomalous) against ``labels`` (0/1
    per point): the buffer-weighted PR-AUC averaged over buffer sizes {0, early} × {0,
    delayed}; with ``binary`` the scores are 0/1 predictions and PATE is the mean F1 over the
    same buffers. In [0, 1], higher is better (the module docstring has the weights)."""
    y, s = _series(labels, scores)
    if not y.any():
        raise InputError("labels: PATE needs at least one anomaly")
    if early < 0 or delayed < 0:
        raise InputError("buffer sizes must be >= 0")
    values = []
    cut = (s > 0)[None, :] if binary else None
    thr = None if binary else _thresholds(y, s, thresholds)
    for e in (0, int(early)):
        for d in (0, int(delayed)):
            zones = _Zones(y, e, d)
            if binary:
                p, r = zones.precision_recall(cut)
                values.append(float(2 * p[0] * r[0] / (p[0] + r[0])) if p[0] + r[0] > 0 else 0.0)
                continue
            block = max(1, _CELLS // s.size)
            parts = [
                zones.precision_recall(s[None, :] >= thr[i : i + block, None])
                for i in range(0, thr.size, block)
            ]
            precision = np.concatenate([a for a, _ in parts])
            recall = np.concatenate([b for _, b in parts])
            values.append(_auc(precision, recall))
    return float(np.mean(values))


def point_adjusted_f1(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    threshold: float | None = None,
) -> float:
    """Point-adjusted F1 of ``scores`` against ``labels``: a point is predicted when its score
    is ≥ ``threshold``, every point of a true interval with one predicted point counts as
    predicted, then F1 over points. Without ``threshold``: the best F1 over every distinct
    score as threshold (the usual report). In [0, 1], higher is better."""
    y, s = _series(labels, scores)
    if not y.any():
        raise InputError("labels: point-adjusted F1 needs at least one anomaly")
    cuts = np.unique(s)[::-1] if threshold is None else np.array([float(threshold)])
    spans = anomaly_intervals(y)
    # an interval counts once its highest score passes the threshold
    top = np.array([s[a : b + 1].max() for a, b in spans])  # loops over intervals
    sizes = spans[:, 1] - spans[:, 0] + 1
    normal = np.sort(s[~y])
    by_top = np.argsort(top)
    ranked, cum = top[by_top], np.r_[0, np.cumsum(sizes[by_top][::-1])]  # from the highest
    tp = cum[ranked.size - np.searchsorted(ranked, cuts, side="left")]  # sizes with top ≥ cut
    fp = normal.size - np.searchsorted(normal, cuts, side="left")
    fn = y.sum() - tp
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    return float(f1.max())
