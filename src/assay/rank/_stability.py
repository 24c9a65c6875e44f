"""How stable is a ranking: Kendall τ between rankings and the subsampling curve."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import MetricMap
from assay.errors import InputError

from ._battles import battle_weights
from ._pairwise import fit_battles
from ._ratings import Ratings
from ._samples import rank_samples

__all__ = ["KendallTau", "kendall_tau", "subsample_curve"]


@dataclass
class KendallTau:
    """Kendall's τ-b between two rankings over their ``n_models`` common models."""

    statistic: float
    pvalue: float
    n_models: int

    def __float__(self) -> float:
        return float(self.statistic)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_scores(ranking: Ratings | pd.Series | Sequence[str] | dict) -> pd.Series:
    """Higher = better scores per model from Ratings, a Series/dict, or names best first."""
    if isinstance(ranking, Ratings):
        return ranking.rating
    if isinstance(ranking, pd.Series):
        return ranking.astype(float)
    if isinstance(ranking, dict):
        return pd.Series(ranking, dtype=float)
    names = list(ranking)
    return pd.Series(-np.arange(len(names), dtype=float), index=names)


def kendall_tau(
    a: Ratings | pd.Series | Sequence[str], b: Ratings | pd.Series | Sequence[str]
) -> KendallTau:
    """Kendall τ-b between two rankings (Ratings, model → score Series, or names best first),
    over the models both contain."""
    sa, sb = _as_scores(a), _as_scores(b)
    common = sa.index.intersection(sb.index)
    if len(common) < 2:
        raise InputError("kendall_tau: the rankings share fewer than two models")
    from scipy.stats import kendalltau  # slow to import: only when used

    res = kendalltau(sa.loc[common].to_numpy(), sb.loc[common].to_numpy())
    return KendallTau(float(res.statistic), float(res.pvalue), int(len(common)))


def subsample_curve(
    data: pd.DataFrame,
    *,
    fractions: Sequence[float] = (0.5, 0.25, 0.1, 0.05),
    repeats: int = 5,
    method: str | None = None,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    seed: int = 0,
    thin: str = "cells",
) -> pd.DataFrame:
    """τ against the full-data ranking when only a fraction of the measurements is kept.

    ``data`` is either battles (model_a, model_b, winner: battles are dropped) or the tidy
    per-sample scores (model, task, doc_id, metric, value). Per-sample scores are thinned per
    model with ``thin="cells"`` (each model keeps its own random ``fraction`` of its samples,
    as when every model is run on a different subset) or with ``thin="samples"`` by dropping
    whole samples for every model at once. For
    each kept fraction, ``repeats`` seeded subsamples are ranked (no bootstrap) and compared to
    the full ranking (``metrics``: the store's metric definitions). Returns fraction_kept, tau_mean, tau_min, tau_max, tau_sd, repeats.
    """
    if repeats < 1:
        raise InputError(f"repeats {repeats}: must be >= 1")
    if not len(fractions):
        raise InputError("fractions: give at least one fraction in (0, 1]")
    rng = np.random.default_rng(seed)
    battles = "model_a" in data.columns
    weighted = battles and "count" in data.columns
    if battles:
        method = method or "bt"

        def rank(df):
            return fit_battles(df, method=method, bootstrap=0)

        counts = battle_weights(data) if weighted else None
        n_units = int(counts.sum()) if weighted else len(data)
    else:
        method = method or "pl"

        def rank(df):
            return rank_samples(df, method=method, metric=metric, metrics=metrics, bootstrap=0)

        if thin not in ("cells", "samples"):
            raise InputError(f"thin {thin!r}: use 'cells' or 'samples'")
        key = data["task"].astype(str) + "\x1f" + data["doc_id"].astype(str)
        if thin == "cells":
            key = data["model"].astype(str) + "\x1f" + key
        unit_of_row, uniq = pd.factorize(key)
        n_units = len(uniq)
        unit_model = np.zeros(n_units, dtype=int)
        unit_model[unit_of_row] = pd.factorize(data["model"].astype(str))[0]
        per_model = np.bincount(unit_model)
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise InputError(f"fraction {fraction}: must be in (0, 1]")
    full = rank(data)
    rows = []
    for fraction in fractions:  # a handful of fractions × repeats
        taus = []
        for _ in range(repeats):
            size = max(1, int(round(fraction * n_units)))
            if weighted:  # keep `size` of the battles: a draw without replacement over counts
                kept = rng.multivariate_hypergeometric(counts, size)
                sub = data.assign(count=kept)[kept > 0]
            elif not battles and thin == "cells":  # each model keeps its own random share
                order = np.lexsort((rng.random(n_units), unit_model))
                place = np.empty(n_units, dtype=int)
                starts = np.r_[0, np.cumsum(per_model)[:-1]]
                place[order] = np.arange(n_units) - starts[unit_model[order]]
                quota = np.maximum(1, np.round(fraction * per_model)).astype(int)
                sub = data[(place < quota[unit_model])[unit_of_row]]
            else:
                keep = rng.choice(n_units, size=size, replace=False)
                mask = np.zeros(n_units, dtype=bool)
                mask[keep] = True
                sub = data[mask] if battles else data[mask[unit_of_row]]
            try:
                taus.append(kendall_tau(rank(sub), full).statistic)
            except InputError:
                taus.append(np.nan)  # too little data left to rank two models
        t = np.asarray(taus)
        rows.append(
            {
                "fraction_kept": float(fraction),
                "tau_mean": float(np.nanmean(t)) if np.isfinite(t).any() else np.nan,
                "tau_min": float(np.nanmin(t)) if np.isfinite(t).any() else np.nan,
                "tau_max": float(np.nanmax(t)) if np.isfinite(t).any() else np.nan,
                "tau_sd": float(np.nanstd(t, ddof=1)) if np.isfinite(t).sum() > 1 else np.nan,
                "repeats": int(np.isfinite(t).sum()),
            }
        )
    return pd.DataFrame(rows)
