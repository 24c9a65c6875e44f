"""The result object of every ranking method: ratings with intervals, ranks and win odds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TABLE_COLUMNS = ["model", "rating", "ci_low", "ci_high", "rank", "rank_low", "rank_high", "n"]


def rank_intervals(ci_low: np.ndarray, ci_high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks from confidence intervals (Chatbot Arena's rule).

    best rank  = 1 + #{j : ci_low_j > ci_high_i}   (models surely better than i)
    worst rank = K - #{j : ci_high_j < ci_low_i}   (all but the models surely worse than i)
    """
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    best = 1 + (lo[None, :] > hi[:, None]).sum(axis=1)
    worst = len(lo) - (hi[None, :] < lo[:, None]).sum(axis=1)
    return best.astype(int), worst.astype(int)


def rank_distribution(models: list[str], samples: np.ndarray) -> pd.DataFrame:
    """P(model has rank r) over bootstrap replicates: rows models, columns ranks 1..K.

    ``samples`` has shape (B, K) with higher = better; ties share the best rank.
    """
    samples = np.asarray(samples, dtype=float)
    n_rep, k = samples.shape
    if n_rep == 0:
        return pd.DataFrame(index=models, columns=range(1, k + 1), dtype=float)
    # rank of model i in replicate b = 1 + number of models strictly better
    ranks = 1 + (samples[:, None, :] > samples[:, :, None]).sum(axis=2)  # (B, K)
    cell = np.tile(np.arange(k), n_rep) * k + ranks.ravel() - 1
    onehot = np.bincount(cell, minlength=k * k).reshape(k, k)
    return pd.DataFrame(
        onehot / n_rep, index=pd.Index(models, name="model"), columns=range(1, k + 1)
    )


@dataclass
class Ratings:
    """Ratings of models with uncertainty, in the style of a scipy.stats result.

    ``table`` has exactly the columns model, rating, ci_low, ci_high, rank, rank_low, rank_high,
    n, sorted best first (rank from the intervals: 1 + number of models whose lower bound is
    above this model's upper bound; rank_low..rank_high is the range of ranks the intervals
    allow). ``win_probability`` is the predicted P(row beats column) (ties counted half).
    ``bootstrap`` holds the (B, K) replicate ratings in ``models`` order (empty without
    bootstrap); ``details`` has method-specific per-model columns (e.g. coverage).
    """

    table: pd.DataFrame
    win_probability: pd.DataFrame
    method: str
    scale: str
    confidence_level: float = 0.95
    bootstrap: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)
    details: pd.DataFrame | None = field(default=None, repr=False)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        """Models in the order of ``bootstrap``'s columns and ``win_probability``."""
        return list(self.win_probability.index)

    @property
    def rating(self) -> pd.Series:
        """Ratings indexed by model, best first."""
        return self.table.set_index("model")["rating"]

    def rank_distribution(self) -> pd.DataFrame:
        """Bootstrap distribution of each model's rank (rows models, columns ranks)."""
        return rank_distribution(self.models, self.bootstrap)

    def to_dict(self) -> dict[str, Any]:
        """``{"ratings": [{model, rating, ci_low, ci_high, rank, rank_low, rank_high, n}], ...}``."""
        rows = []
        for rec in self.table.to_dict(orient="records"):
            rows.append(
                {
                    "model": str(rec["model"]),
                    **{k: float(rec[k]) for k in ("rating", "ci_low", "ci_high")},
                    **{k: int(rec[k]) for k in ("rank", "rank_low", "rank_high", "n")},
                }
            )
        out: dict[str, Any] = {
            "ratings": rows,
            "method": self.method,
            "scale": self.scale,
            "confidence_level": self.confidence_level,
            "bootstrap_rounds": int(self.bootstrap.shape[0]),
            **self.info,
        }
        if self.details is not None:
            out["details"] = self.details.reset_index().to_dict(orient="records")
        return out


def build_ratings(
    models: list[str],
    rating: np.ndarray,
    ci_low: np.ndarray,
    ci_high: np.ndarray,
    n: np.ndarray,
    win_probability: np.ndarray,
    *,
    method: str,
    scale: str,
    confidence_level: float,
    bootstrap: np.ndarray,
    details: pd.DataFrame | None = None,
    info: dict[str, Any] | None = None,
    rank_bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> Ratings:
    """Assemble a :class:`Ratings` (ranks from the intervals, table sorted best first).

    ``rank_bounds`` are the intervals ranks come from when they differ from the shown ones
    (an anchored model has a zero-width interval; ranks use the anchor-free intervals)."""
    best, worst = rank_intervals(*(rank_bounds or (ci_low, ci_high)))
    table = pd.DataFrame(
        {
            "model": models,
            "rating": np.asarray(rating, dtype=float),
            "ci_low": np.asarray(ci_low, dtype=float),
            "ci_high": np.asarray(ci_high, dtype=float),
            "rank": best,
            "rank_low": best,
            "rank_high": worst,
            "n": np.asarray(n, dtype=np.int64),
        }
    )
    table = table.sort_values(["rating", "model"], ascending=[False, True], kind="stable")
    return Ratings(
        table=table.reset_index(drop=True)[TABLE_COLUMNS],
        win_probability=pd.DataFrame(
            win_probability,
            index=pd.Index(models, name="model"),
            columns=pd.Index(models, name="opponent"),
        ),
        method=method,
        scale=scale,
        confidence_level=confidence_level,
        bootstrap=np.asarray(bootstrap, dtype=float),
        details=details,
        info=info or {},
    )
