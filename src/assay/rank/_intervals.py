"""Shared by the arena fits: the Elo scale, interval methods and honest intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, ndtri  # not scipy.stats: slow to import

from assay.errors import InputError

from ._battles import PairCounts
from ._ratings import Ratings, build_ratings

__all__ = [
    "CI_METHODS",
    "ELO_PER_LOGIT",
    "INTERVAL_NAMES",
    "ci_method",
    "fit_info",
    "fitted_ratings",
    "interval_table",
]

#: Elo points per unit of log-strength: 400 points per factor of 10 in the odds.
ELO_PER_LOGIT = 400.0 / np.log(10.0)
#: Interval methods of ``ci=``: percentile bootstrap, or the sandwich (robust) covariance.
CI_METHODS = ("bootstrap", "sandwich")


def _to_scale(theta: np.ndarray, models: list[str], anchor: tuple[str, float] | None) -> np.ndarray:
    """Log-strengths (..., K) to Elo points: mean 1000, or ``anchor`` = (model, its rating)."""
    elo = ELO_PER_LOGIT * np.asarray(theta, dtype=float)
    if anchor is None:
        return elo - elo.mean(axis=-1, keepdims=True) + 1000.0
    model, value = anchor
    if model not in models:
        raise InputError(f"--anchor: model {model!r} is not among the ranked models")
    i = models.index(model)
    return elo - elo[..., i : i + 1] + float(value)


def _win_matrix(theta: np.ndarray, eta: float | None) -> np.ndarray:
    """P(row beats column), ties counted half."""
    d = theta[:, None] - theta[None, :]
    if eta is None:
        p = expit(d)
    else:
        log_d = np.logaddexp(np.logaddexp(0.5 * d, -0.5 * d), eta)
        p = np.exp(0.5 * d - log_d) + 0.5 * np.exp(eta - log_d)
    np.fill_diagonal(p, np.nan)
    return p


def _intervals(point, boot, confidence, cov=None, anchor_index=None):
    """Percentile bootstrap interval, or Wald (from the inverse Hessian) without bootstrap."""
    alpha = 1.0 - confidence
    if boot.shape[0] >= 2:
        lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
        return lo, hi
    if cov is None:
        return np.full_like(point, np.nan), np.full_like(point, np.nan)
    k = len(point)
    c = cov[:k, :k]
    if anchor_index is None:
        # rating_i − mean(rating): var = c_ii (θ already sum-zero)
        var = np.diag(c)
    else:
        m = anchor_index
        var = np.diag(c) + c[m, m] - 2 * c[:, m]
    se = ELO_PER_LOGIT * np.sqrt(np.clip(var, 0, None))
    z = ndtri(1 - alpha / 2)
    return point - z * se, point + z * se


def ci_method(ci: str | None, bootstrap: int, method: str = "bt") -> str:
    """The interval method used: ``ci`` checked, or by default the percentile bootstrap with
    two rounds or more and the Wald interval (inverse Hessian) without."""
    if ci is None:
        return "bootstrap" if bootstrap >= 2 else "wald"
    if ci not in CI_METHODS:
        raise InputError(f"--ci {ci!r}: use bootstrap or sandwich")
    if ci == "bootstrap" and bootstrap < 2:
        raise InputError(f"--ci bootstrap needs --bootstrap 2 or more (got {bootstrap})")
    if ci == "sandwich" and method == "elo":
        raise InputError("--ci sandwich: online Elo has no likelihood; use bt or davidson")
    return ci


INTERVAL_NAMES = {
    "bootstrap": "bootstrap percentile",
    "wald": "Wald (inverse Hessian)",
    "sandwich": "Wald with the sandwich (robust) covariance",
}


def unidentified(pairs: PairCounts) -> np.ndarray:
    """Models whose rating the battles do not pin down: those outside the largest group of
    models that all scored (won or tied) against each other, directly or through others.
    The Bradley–Terry likelihood has a finite maximum only on such a group (Zermelo 1929;
    Ford 1957): a model that never lost to the rest could be rated arbitrarily high, one that
    never won arbitrarily low. With one vote between two models, both are unidentified."""
    k = len(pairs.models)
    c = pairs.counts
    scored_i, scored_j = c[:, 0] + c[:, 2] > 0, c[:, 1] + c[:, 2] > 0
    rows = np.concatenate([pairs.pair_i[scored_i], pairs.pair_j[scored_j]])
    cols = np.concatenate([pairs.pair_j[scored_i], pairs.pair_i[scored_j]])
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(k, k))
    _, label = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(label)
    core = int(np.argmax(sizes))
    return np.ones(k, dtype=bool) if sizes[core] < 2 else label != core


def _honest(lo, hi, loose: np.ndarray, fallback=None, keep=None):
    """Intervals that do not claim more than the data hold: unbounded for unidentified
    models; where the bootstrap replicates all agree (a zero-width interval from a few
    votes), the Wald interval (``fallback``), or unbounded without one. ``keep``: the anchor."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    flat = ~(hi - lo > 1e-6)
    if keep is not None:
        flat[keep] = False
    if fallback is not None:
        lo, hi = np.where(flat, fallback[0], lo), np.where(flat, fallback[1], hi)
        flat &= ~(fallback[1] - fallback[0] > 1e-6)
    wide = loose | flat
    if keep is not None:
        wide[keep] = False
    return np.where(wide, -np.inf, lo), np.where(wide, np.inf, hi)


def _too_few(models: list[str], loose: np.ndarray, info: dict) -> None:
    """Say in words which models the votes do not rate."""
    if loose.any():
        names = [m for m, x in zip(models, loose, strict=True) if x]
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        info["unidentified"] = names
        info["note"] = (
            f"too few votes to rate {shown}: a model that never lost (or never won) against "
            "the others, directly or through others, or whose few votes all agree, has an "
            "unbounded interval"
        )


def interval_table(rating, boot, confidence, cov, anchor_index, loose):
    """Shown intervals (anchored) and the anchor-free intervals ranks come from, both made
    honest (:func:`_honest`): bootstrap percentiles when ``boot`` has rounds, else Wald from
    ``cov``."""
    none = np.empty((0, len(rating)))
    lo, hi = _honest(
        *_intervals(rating, boot, confidence, cov, anchor_index),
        loose,
        _intervals(rating, none, confidence, cov, anchor_index),
        anchor_index,
    )
    # ranks do not depend on the anchor: take them from the mean-centred intervals
    free = boot - boot.mean(axis=1, keepdims=True) if len(boot) else boot
    centred = rating - rating.mean()
    bounds = _honest(
        *_intervals(centred, free, confidence, cov, None),
        loose,
        _intervals(centred, none, confidence, cov, None),
    )
    return lo, hi, bounds


def fit_info(pairs: PairCounts, how: str) -> dict[str, Any]:
    """What a likelihood fit reports in ``info``: its battles, compared pairs and interval
    method (``how``)."""
    return {
        "n_battles": pairs.n_battles,
        "n_pairs": len(pairs.pair_i),
        "interval": INTERVAL_NAMES[how],
        "ci_method": how,
    }


def fitted_ratings(
    pairs: PairCounts,
    models: list[str],
    rating: np.ndarray,
    boot: np.ndarray,
    cov: np.ndarray | None,
    win_probability: np.ndarray,
    *,
    method: str,
    info: dict[str, Any],
    confidence: float,
    anchor: tuple[str, float] | None = None,
) -> Ratings:
    """The last step of every arena fit: ratings on the Elo scale with honest intervals, and
    in ``info`` a note on the models the votes do not rate, as a :class:`Ratings`. A
    likelihood fit passes its covariance ``cov``: :func:`interval_table` (bootstrap or Wald,
    the ``anchor`` kept exact, ranks from the anchor-free intervals); online Elo has none:
    the percentiles of its replays, ranks from them."""
    loose = unidentified(pairs)
    bounds = None
    if cov is None:
        lo, hi = _honest(*_intervals(rating, boot, confidence), loose)
    else:
        anchor_index = models.index(anchor[0]) if anchor else None
        lo, hi, bounds = interval_table(rating, boot, confidence, cov, anchor_index, loose)
    _too_few(models, loose | ~np.isfinite(hi - lo), info)
    return build_ratings(
        models,
        rating,
        lo,
        hi,
        pairs.per_model(),
        win_probability,
        method=method,
        scale="elo",
        confidence_level=confidence,
        bootstrap=boot,
        info=info,
        rank_bounds=bounds,
    )
