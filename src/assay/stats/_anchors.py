"""tinyBenchmarks-style anchors (Polo et al. 2024): choose k representative questions by
clustering, then estimate a new model's full-benchmark score from its answers on those k."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from assay.core import MetricMap, to_jsonable
from assay.errors import InputError

from ._items import IRT2PL, estimate_ability, fit_irt_2pl, item_analysis, response_matrix
from ._results import ResultMixin

__all__ = [
    "AnchorEstimate",
    "AnchorPoints",
    "ItemReport",
    "anchor_points",
    "estimate_from_anchors",
    "item_report",
    "kmeans",
]


def _sq_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n, k) squared distances ‖x‖² − 2x·c + ‖c‖² without an (n, k, d) temporary."""
    d = (
        np.sum(points**2, axis=1)[:, None]
        - 2 * points @ centres.T
        + np.sum(centres**2, axis=1)[None, :]
    )
    return np.maximum(d, 0)


def kmeans(
    points: np.ndarray, k: int, *, seed: int = 0, n_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding; returns (labels, centres)."""
    rng = np.random.default_rng(seed)
    n = points.shape[0]
    centres = [points[rng.integers(n)]]
    d2 = np.sum((points - centres[0]) ** 2, axis=1)
    for _ in range(1, k):
        probs = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1 / n)
        centres.append(points[rng.choice(n, p=probs)])
        d2 = np.minimum(d2, np.sum((points - centres[-1]) ** 2, axis=1))
    c = np.array(centres)
    labels = np.zeros(n, dtype=int)
    for it in range(n_iter):
        new = _sq_distances(points, c).argmin(axis=1)
        if it and np.array_equal(new, labels):
            break
        labels = new
        sums = np.zeros_like(c)
        np.add.at(sums, labels, points)
        counts = np.bincount(labels, minlength=k)
        filled = counts > 0
        c[filled] = sums[filled] / counts[filled, None]
    return labels, c


@dataclass
class AnchorPoints(ResultMixin):
    """k anchor questions, their weights (cluster share) and the fitted IRT model.

    ``validation`` holds each estimator's error on held-out training models (mae, rmse, bias,
    n): how far a k-question estimate falls from the full-benchmark score, with a
    ``random_<k>`` row for the mean of k random items (the baseline). ``recommended`` is the
    estimator to report (``pirt``).
    """

    doc_ids: list[str]
    weights: np.ndarray
    labels: pd.Series
    irt: IRT2PL
    embedding: str
    validation: pd.DataFrame
    recommended: str = "pirt"


@dataclass
class AnchorEstimate(ResultMixin):
    """Full-benchmark score estimates per model from the anchors: ``anchor`` (cluster-weighted
    mean of the anchor answers), ``irt`` (mean predicted P(right) over all items at the fitted
    θ) and ``pirt`` (observed anchors + predicted rest, weighted by their share), each with a
    model-based standard error (θ uncertainty by the delta method + Bernoulli noise of the
    unseen items)."""

    table: pd.DataFrame


def _estimates(anchors: AnchorPoints, y: np.ndarray) -> pd.DataFrame:
    """Vectorised over models: y is (models × k) answers on the anchors (in anchor order)."""
    a = anchors.irt.discrimination.to_numpy()
    b = anchors.irt.difficulty.to_numpy()
    pos = anchors.irt.discrimination.index.astype(str).get_indexer(anchors.doc_ids)
    n = a.size
    theta, se_theta = estimate_ability(y, a[pos], b[pos])
    p = expit(a[None, :] * (theta[:, None] - b[None, :]))
    slope = p * (1 - p) * a[None, :]
    bern = p * (1 - p)
    seen = np.zeros(n, dtype=bool)
    seen[pos] = True
    w = anchors.weights
    anchor = np.nansum(y * w[None, :], axis=1) / np.sum(w[None, :] * ~np.isnan(y), axis=1)
    anchor_se = np.sqrt(np.sum(w[None, :] ** 2 * bern[:, pos], axis=1))
    irt = p.mean(axis=1)
    irt_se = np.sqrt((slope.sum(axis=1) * se_theta) ** 2 + bern.sum(axis=1)) / n
    lam = seen.sum() / n
    pirt = lam * np.nanmean(y, axis=1) + (1 - lam) * p[:, ~seen].mean(axis=1)
    pirt_se = (
        np.sqrt((slope[:, ~seen].sum(axis=1) * se_theta) ** 2 + bern[:, ~seen].sum(axis=1)) / n
    )
    return pd.DataFrame(
        {
            "ability": theta,
            "ability_se": se_theta,
            "anchor": anchor,
            "anchor_se": anchor_se,
            "irt": irt,
            "irt_se": irt_se,
            "pirt": pirt,
            "pirt_se": pirt_se,
        }
    )


EMBEDDINGS = ("information", "irt", "correctness")


def _pick(
    y: np.ndarray, irt: IRT2PL, k: int, embedding: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(anchor item positions, their weights, each item's cluster) for a training (models ×
    items) matrix."""
    n = y.shape[1]
    a, b = irt.discrimination.to_numpy(), irt.difficulty.to_numpy()
    if embedding == "information":  # k equal-count strata of difficulty, most informative item
        p = irt.probabilities(irt.ability.to_numpy())
        info = (a**2 * p * (1 - p)).mean(axis=0)  # Fisher information at the training θ
        stratum = np.empty(n, dtype=int)
        stratum[np.argsort(b, kind="stable")] = np.arange(n) * k // n
        order = np.lexsort((-info, stratum))  # by stratum, most informative first
        first = np.r_[True, stratum[order][1:] != stratum[order][:-1]]
        return order[first], np.bincount(stratum, minlength=k) / n, stratum
    pts = np.column_stack([a, b]) if embedding == "irt" else np.nan_to_num(y.T, nan=0.5)
    sd = pts.std(axis=0)
    pts = (pts - pts.mean(axis=0)) / np.where(sd > 0, sd, 1)
    labels, centres = kmeans(pts, k, seed=seed)
    dist = _sq_distances(pts, centres)
    dist = np.where(labels[:, None] == np.arange(k)[None, :], dist, np.inf)
    used = np.bincount(labels, minlength=k) > 0
    weights = (np.bincount(labels, minlength=k)[used] / n).astype(float)
    return dist.argmin(axis=0)[used], weights, labels


def _validation(anchors: AnchorPoints, y: np.ndarray, picks: np.ndarray, seed: int) -> pd.DataFrame:
    """Each estimator's error on held-out models (rows of y), beside the mean of k random
    items (200 seeded draws, the baseline a subset must beat)."""
    k, n = len(picks), y.shape[1]
    est = _estimates(anchors, y[:, picks])
    truth = np.nanmean(y, axis=1)
    rng = np.random.default_rng(seed + 1)
    draws = np.argsort(rng.random((200, n)), axis=1)[:, :k]  # (200, k) without replacement
    errs = {name: est[name].to_numpy() - truth for name in ("anchor", "irt", "pirt")}
    rand = np.nanmean(y[:, draws], axis=2) - truth[:, None]  # (models, draws)
    rows = [
        {
            "estimator": name,
            "mae": np.mean(np.abs(e)),
            "rmse": np.sqrt(np.mean(e**2)),
            "bias": np.mean(e),
            "n": len(y),
        }
        for name, e in errs.items()
    ]
    rows.append(
        {
            "estimator": f"random_{k}",
            "mae": np.mean(np.abs(rand)),
            "rmse": np.sqrt(np.mean(rand**2)),
            "bias": np.mean(rand),
            "n": len(y),
        }
    )
    return pd.DataFrame(rows)


def anchor_points(
    responses: pd.DataFrame,
    k: int,
    *,
    embedding: str = "information",
    holdout: float = 0.2,
    seed: int = 0,
) -> AnchorPoints:
    """Pick k anchors from a (models × items) 0/1 matrix of known models.

    The IRT model and the anchors come from a random (1 − ``holdout``) of the models. By
    default (``embedding="information"``) the items are cut into k equal-count strata of IRT
    difficulty b_j and each stratum's anchor is its most informative item (largest mean Fisher
    information a_j² p(1 − p) over the training models), weighted by the stratum's share; the
    2PL fit then uses a tighter discrimination prior (a ~ N(1, 0.5²)) so that picking the
    largest a does not pick noise. ``embedding="irt"`` clusters items by k-means on (a_j, b_j),
    standardised, and ``"correctness"`` on their columns of answers (tinyBenchmarks), keeping
    the item nearest each centre. The held-out models measure each estimator's error beside
    the mean of k random items (``validation``); ``recommended`` names the estimator to use
    (p-IRT).
    """
    if embedding not in EMBEDDINGS:
        raise InputError(f"embedding must be one of {', '.join(map(repr, EMBEDDINGS))}")
    y = responses.astype(float)
    m, n = y.shape
    if not 1 <= k < n:
        raise InputError(f"k must be between 1 and the number of items - 1 ({n - 1})")
    rng = np.random.default_rng(seed)
    n_hold = int(round(holdout * m)) if m >= 10 else 0
    order = rng.permutation(m)
    held, train = order[:n_hold], order[n_hold:]
    irt = fit_irt_2pl(y.iloc[train], prior_sd_a=0.5 if embedding == "information" else 1.0)
    picks, weights, labels = _pick(y.iloc[train].to_numpy(), irt, k, embedding, seed)
    docs = [str(c) for c in y.columns]
    anchors = AnchorPoints(
        doc_ids=[docs[j] for j in picks],
        weights=weights,
        labels=pd.Series(labels, index=docs, name="cluster"),
        irt=irt,
        embedding=embedding,
        validation=pd.DataFrame(),
    )
    if n_hold:
        anchors.validation = _validation(anchors, y.iloc[held].to_numpy(), picks, seed)
    return anchors


def estimate_from_anchors(
    anchors: AnchorPoints, responses: pd.DataFrame | pd.Series
) -> AnchorEstimate:
    """Estimate full-benchmark scores of new models from their answers on the anchors.

    ``responses``: models × doc_ids (columns must include ``anchors.doc_ids``; other columns are
    ignored), or a Series for one model.
    """
    frame = responses.to_frame().T if isinstance(responses, pd.Series) else responses
    frame = frame.rename(columns=str)
    missing = [d for d in anchors.doc_ids if d not in frame.columns]
    if missing:
        raise InputError(f"responses lack anchor doc_ids: {', '.join(missing[:5])}")
    est = _estimates(anchors, frame[anchors.doc_ids].to_numpy(dtype=float))
    est.insert(0, "model", list(frame.index))
    return AnchorEstimate(est)


@dataclass
class ItemReport(ResultMixin):
    """One task's items: the :func:`~assay.stats.item_analysis` table (with ``irt_a``, the 2PL
    discrimination, and ``irt_b``, its difficulty, when IRT was fitted) and the picked
    ``anchors``, if any."""

    task: str
    metric: str
    table: pd.DataFrame
    anchors: AnchorPoints | None = None

    @property
    def flagged(self) -> pd.DataFrame:
        """The rows flagged as broken-looking."""
        return self.table[self.table["flags"] != ""]

    def to_dict(self, *, flagged_only: bool = False) -> dict[str, Any]:
        """task, metric, anchors (doc_id, weight) and anchor_validation when picked, and the
        items (only the flagged ones with ``flagged_only``)."""
        out: dict[str, Any] = {"task": self.task, "metric": self.metric}
        if self.anchors is not None:
            out["anchors"] = [
                {"doc_id": d, "weight": float(w)}
                for d, w in zip(self.anchors.doc_ids, self.anchors.weights, strict=True)
            ]
            out["anchor_validation"] = to_jsonable(self.anchors.validation)
            out["anchor_estimator"] = self.anchors.recommended
        out["items"] = to_jsonable(self.flagged if flagged_only else self.table)
        return out


def item_report(
    scores: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    models: list[str] | None = None,
    irt: bool = False,
    anchors: int | None = None,
    seed: int = 0,
) -> ItemReport:
    """:func:`~assay.stats.item_analysis` of one task's questions, with ``irt`` a 2PL fit of
    the same (models × items) responses merged in as ``irt_a``/``irt_b`` columns, and with
    ``anchors`` k tinyBenchmarks anchor items picked by :func:`anchor_points` (``seed``)."""
    result = item_analysis(scores, task=task, metric=metric, metrics=metrics, models=models)
    table, picked = result.table, None
    if irt or anchors:
        resp = response_matrix(scores, task=result.task, metric=result.metric, models=models)
        if irt:
            fit = fit_irt_2pl(resp)
            table = table.assign(
                irt_a=fit.discrimination.reindex(table["doc_id"]).to_numpy(),
                irt_b=fit.difficulty.reindex(table["doc_id"]).to_numpy(),
            )
        if anchors:
            picked = anchor_points(resp, anchors, seed=seed)
    return ItemReport(result.task, result.metric, table, picked)
