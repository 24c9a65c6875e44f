"""Online Elo (Chatbot Arena's first leaderboard), computed in dependency waves.

Elo is sequential: after battle t, r_a += K (s − E), r_b −= K (s − E) with
E = 1 / (1 + 10^((r_b − r_a) / 400)) and s = 1, 0, ½ for a win of a, of b, a tie. A battle only
depends on the earlier battles of its own two models, so we process it as soon as it is the
next unplayed battle of both of its models: each wave updates many battles (no model twice) in
one vectorised step, and the result equals the sequential loop exactly. Bootstrap replicates
run side by side as disjoint copies of the model set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._battles import aggregate_battles, battle_weights, model_codes

__all__ = ["online_elo"]

_SCORE = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie_bothbad": 0.5, "tie (bothbad)": 0.5}


def elo_waves(
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    n_models: int,
    *,
    k: float = 4.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> np.ndarray:
    """Final online-Elo ratings for battles (a[t], b[t], score[t]) in order t = 0, 1, ..."""
    n = len(a)
    rating = np.full(n_models, float(initial))
    if n == 0:
        return rating
    ev_battle = np.concatenate([np.arange(n), np.arange(n)])
    ev_model = np.concatenate([a, b])
    order = np.lexsort((ev_battle, ev_model))
    queue = ev_battle[order]  # each model's battles in time order, models one after another
    start = np.searchsorted(ev_model[order], np.arange(n_models))
    end = np.searchsorted(ev_model[order], np.arange(n_models), side="right")
    ptr = start.copy()
    factor = np.log(base) / scale
    sentinel = n  # "no battle left"
    while True:
        live = ptr < end
        if not live.any():
            break
        nxt = np.full(n_models, sentinel)
        nxt[live] = queue[ptr[live]]
        models = np.flatnonzero(live)
        cand = nxt[models]
        # a battle is ready when it is the next one of both its models; keep it once (via a)
        ready = cand[(a[cand] == models) & (nxt[b[cand]] == cand)]
        ra, rb = rating[a[ready]], rating[b[ready]]
        expected = 1.0 / (1.0 + np.exp(factor * (rb - ra)))
        delta = k * (score[ready] - expected)
        rating[a[ready]] = ra + delta
        rating[b[ready]] = rb - delta
        ptr[a[ready]] += 1
        ptr[b[ready]] += 1
    return rating


def _codes(battles: pd.DataFrame, models: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model indices into ``models`` and scores of a, one entry per battle (rows of a count
    table repeated ``count`` times, as integer codes only)."""
    a, b, names = model_codes(battles)
    index = pd.Index(models)
    a, b = index.get_indexer(names)[a], index.get_indexer(names)[b]
    score = battles["winner"].astype(str).str.strip().map(_SCORE).to_numpy(dtype=float)
    if "count" in battles.columns:
        reps = battle_weights(battles)
        a, b, score = np.repeat(a, reps), np.repeat(b, reps), np.repeat(score, reps)
    return a, b, score


def online_elo(
    battles: pd.DataFrame,
    *,
    k: float = 4.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> pd.Series:
    """Online Elo ratings after playing ``battles`` in their row order (sort by time first).

    K = 4, 1000 start, 400 points per factor of 10 are Chatbot Arena's settings. Returns a
    Series indexed by model, best first. The result depends on the order of the battles; that
    is why Bradley–Terry (:func:`fit_battles`) is the default.
    """
    models = aggregate_battles(battles).models
    a, b, score = _codes(battles, models)
    rating = elo_waves(a, b, score, len(models), k=k, initial=initial, scale=scale, base=base)
    return pd.Series(rating, index=pd.Index(models, name="model"), name="elo").sort_values(
        ascending=False
    )


def bootstrap_elo(
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    n_models: int,
    rounds: int,
    rng: np.random.Generator,
    *,
    k: float = 4.0,
    initial: float = 1000.0,
    chunk_battles: int = 4_000_000,
) -> np.ndarray:
    """(rounds, K) online Elo on battles resampled with replacement in random order
    (Chatbot Arena's ``battles.sample(frac=1, replace=True)``), replicates run together."""
    n = len(a)
    per_chunk = max(1, chunk_battles // max(n, 1))
    out = np.empty((rounds, n_models))
    for first in range(0, rounds, per_chunk):
        reps = min(per_chunk, rounds - first)
        idx = rng.integers(0, n, size=(reps, n))
        offset = (np.arange(reps) * n_models)[:, None]
        # interleave replicates so each wave advances all of them
        aa = (a[idx] + offset).T.ravel()
        bb = (b[idx] + offset).T.ravel()
        ss = score[idx].T.ravel()
        flat = elo_waves(aa, bb, ss, reps * n_models, k=k, initial=initial)
        out[first : first + reps] = flat.reshape(reps, n_models)
    return out
