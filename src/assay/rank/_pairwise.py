"""Ratings from pairwise battles: Bradley–Terry, Davidson, online Elo, with bootstrap CIs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._battles import PairCounts, aggregate_battles
from ._elo import _codes, bootstrap_elo, elo_waves
from ._fit import PairFit, fit_pairs, replicate_block, sandwich_covariance
from ._intervals import (
    CI_METHODS,
    ELO_PER_LOGIT,
    _to_scale,
    _win_matrix,
    ci_method,
    fit_info,
    fitted_ratings,
)
from ._ratings import Ratings
from ._styled import fit_style_battles

__all__ = [
    "ARENA_BOOTSTRAP",
    "ELO_BOOTSTRAP",
    "CI_METHODS",
    "ELO_PER_LOGIT",
    "ci_method",
    "fit_battles",
    "fit_counts",
    "resample_counts",
]

METHODS = ("bt", "davidson", "elo")
#: Bootstrap rounds of arena intervals by default (percentile intervals; 100 rounds covered
#: 93 % for 95 %, see benchmarks/arena_coverage.py).
ARENA_BOOTSTRAP = 1000
#: Bootstrap rounds of online Elo by default (each round replays every battle in order).
ELO_BOOTSTRAP = 100
#: resample by drawing battles while there are at most this many per (pair, outcome) cell
_DIRECT_PER_CELL = 7
_DRAWS_PER_BLOCK = 4_000_000
#: Poisson draws made at a time (their integers are copied into the float rounds)
_POISSON_DRAWS = 1 << 20


def resample_counts(
    counts: np.ndarray, rounds: int, rng: np.random.Generator, dtype=float
) -> np.ndarray:
    """Bootstrap replicates of a (P, 3) count table. Shape (B, P, 3), of ``dtype``.

    With few battles per (pair, outcome) cell, resampling the battles exactly (a multinomial
    draw of all battles over the cells with the observed proportions: uniform indices into
    the list of battles, counted per cell; blocks of replicates). Else the Poisson bootstrap
    (Hanley & MacGibbon 2006): each battle weighted by an independent Poisson(1) count, so a
    cell of n battles draws Poisson(n) — one draw per cell instead of per battle or per
    conditional binomial (half the time of the exact two-stage multinomial on an arena of
    1.67 million battles); the total varies by about √N around N, which moves no interval."""
    counts = np.asarray(counts, dtype=float)
    total = int(round(counts.sum()))
    if total <= _DIRECT_PER_CELL * counts.size:
        cells = counts.size
        battle_cell = np.repeat(np.arange(cells), counts.ravel().astype(np.int64))
        out = np.empty((rounds, cells), dtype=dtype)
        block = max(1, _DRAWS_PER_BLOCK // max(total, 1))
        for first in range(0, rounds, block):
            size = min(block, rounds - first)
            drawn = battle_cell[rng.integers(0, total, size=(size, total))]
            drawn += np.arange(size)[:, None] * cells
            out[first : first + size] = np.bincount(drawn.ravel(), minlength=size * cells).reshape(
                size, cells
            )
        return out.reshape(rounds, *counts.shape)
    # a few rounds at a time into the float array: the same draws, in the same order, as one
    # call, without a second (integer) copy of all the rounds
    out = np.empty((rounds, *counts.shape), dtype=dtype)
    step = max(1, _POISSON_DRAWS // max(counts.size, 1))
    for first in range(0, rounds, step):
        size = min(step, rounds - first)
        out[first : first + size] = rng.poisson(counts, size=(size, *counts.shape))
    return out


def _bootstrap_theta(
    pairs: PairCounts, rounds: int, seed: int, start: PairFit, davidson: bool, l2: float
) -> np.ndarray:
    """θ (rounds, K) of bootstrap replicates (:func:`resample_counts`), warm-started at
    ``start`` and fitted in blocks of replicates while a second thread draws the next block's
    counts; block i draws from its own stream (``SeedSequence(seed).spawn``), so the result
    depends on the seed alone and the counts of all rounds are never held at once."""
    k = len(pairs.models)
    block = replicate_block(k + int(davidson))
    firsts = range(0, rounds, block)
    streams = np.random.SeedSequence(seed).spawn(len(firsts))
    # whole counts below 2^24 are exact in float32: half the memory of the two blocks held (the
    # fit takes them as float64 and keeps only its own sums)
    exact = np.float32 if pairs.counts.sum() < 2**22 else float

    def draw(i: int) -> np.ndarray:
        size = min(block, rounds - firsts[i])
        return resample_counts(pairs.counts, size, np.random.default_rng(streams[i]), exact)

    out = np.empty((rounds, k))
    with ThreadPoolExecutor(max_workers=1) as pool:
        drawn = pool.submit(draw, 0)
        for i, first in enumerate(firsts):
            counts = drawn.result()
            if i + 1 < len(firsts):
                drawn = pool.submit(draw, i + 1)
            fit = fit_pairs(
                pairs.pair_i, pairs.pair_j, counts, k, davidson=davidson, l2=l2, start=start
            )
            out[first : first + len(counts)] = fit.theta
    return out


def fit_counts(
    pairs: PairCounts,
    *,
    method: str = "bt",
    anchor: tuple[str, float] | None = None,
    bootstrap: int = ARENA_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
    l2: float = 1e-6,
    ci: str | None = None,
) -> Ratings:
    """Bradley–Terry / Davidson ratings from aggregated pair counts (see :func:`fit_battles`)."""
    how = ci_method(ci, bootstrap, method)
    if method not in ("bt", "davidson"):
        raise InputError(f"method {method!r}: use bt or davidson for count tables")
    pairs.require_connected()
    davidson = method == "davidson"
    models = pairs.models
    fit = fit_pairs(pairs.pair_i, pairs.pair_j, pairs.counts, len(models), davidson=davidson, l2=l2)
    theta = fit.theta[0]
    boot = np.empty((0, len(models)))
    cov = fit.covariance
    if how == "sandwich":
        cov = sandwich_covariance(pairs.pair_i, pairs.pair_j, pairs.counts, len(models), fit)
    elif bootstrap > 0:
        boot = _to_scale(
            _bootstrap_theta(pairs, bootstrap, seed, fit, davidson, l2), models, anchor
        )
    info = fit_info(pairs, how)
    if davidson:
        info["tie_parameter"] = float(np.exp(fit.eta[0]))
    return fitted_ratings(
        pairs,
        models,
        _to_scale(theta, models, anchor),
        boot,
        cov,
        _win_matrix(theta, fit.eta[0] if davidson else None),
        method=method,
        info=info,
        confidence=confidence,
        anchor=anchor,
    )


def fit_battles(
    battles: pd.DataFrame,
    *,
    method: str = "bt",
    anchor: tuple[str, float] | None = None,
    bootstrap: int | None = None,
    seed: int = 0,
    confidence: float = 0.95,
    k: float = 4.0,
    ci: str | None = None,
    style_control: bool = False,
) -> Ratings:
    """Ratings on the Elo scale from battles (rows model_a, model_b, winner).

    method ``bt``: Bradley–Terry MLE on the aggregated (a, b, outcome) counts, ties as half
    wins (Chatbot Arena). ``davidson``: Davidson's (1970) tie model,
    P(tie) ∝ ν √(π_i π_j). ``elo``: online Elo with factor ``k`` in row order (Chatbot Arena's
    first leaderboard; order dependent). Ratings are 400 points per factor of 10 in the odds,
    mean 1000 or ``anchor=(model, rating)``. Intervals: percentile bootstrap over ``bootstrap``
    multinomial resamples of the counts (for ``elo``: resampled, reshuffled battles), seeded;
    by default :data:`ARENA_BOOTSTRAP` (1,000) rounds, :data:`ELO_BOOTSTRAP` (100) for elo;
    with ``bootstrap=0``, Wald intervals from the Hessian (bt/davidson only). ``info`` says
    which interval was used and ``to_dict()`` the rounds. ``ci="sandwich"``: Wald intervals
    from the sandwich (robust) covariance instead of the bootstrap (``info["ci_method"]``).
    ``style_control=True`` (bt): Bradley–Terry with style covariates from ``style_a`` /
    ``style_b`` or ``answer_a`` / ``answer_b`` (:func:`assay.rank.fit_style_battles`).
    """
    if bootstrap is None:
        bootstrap = ELO_BOOTSTRAP if method == "elo" else ARENA_BOOTSTRAP
    if method not in METHODS:
        raise InputError(f"method {method!r}: use one of {', '.join(METHODS)}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence {confidence}: must be between 0 and 1")
    if bootstrap < 0:
        raise InputError(f"bootstrap {bootstrap}: must be >= 0")
    if style_control:
        if method != "bt":
            raise InputError(f"--style-control: method {method!r} is not supported; use bt")
        how = ci_method(ci, bootstrap)
        plain = fit_counts(  # the plain fit with the same intervals, for side-by-side ranks
            aggregate_battles(battles),
            anchor=anchor,
            bootstrap=bootstrap if how == "bootstrap" else 0,
            seed=seed,
            confidence=confidence,
            ci="sandwich" if how == "sandwich" else None,
        )
        return fit_style_battles(
            battles,
            anchor=anchor,
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
            ci=ci,
            plain=plain.table,
        )
    pairs = aggregate_battles(battles)
    if method != "elo":
        return fit_counts(
            pairs,
            method=method,
            anchor=anchor,
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
            ci=ci,
        )
    ci_method(ci, bootstrap, method)
    pairs.require_connected()
    models = pairs.models
    a, b, score = _codes(battles, models)
    elo = elo_waves(a, b, score, len(models), k=k)
    if anchor is not None:
        elo = _to_scale(elo / ELO_PER_LOGIT, models, anchor)
    boot = np.empty((0, len(models)))
    if bootstrap > 0:
        boot = bootstrap_elo(a, b, score, len(models), bootstrap, np.random.default_rng(seed), k=k)
        if anchor is not None:
            boot = _to_scale(boot / ELO_PER_LOGIT, models, anchor)
    info = {
        "n_battles": pairs.n_battles,
        "k": k,
        "interval": "bootstrap percentile",
        "ci_method": "bootstrap" if bootstrap >= 2 else "none",
    }
    win = _win_matrix(elo / ELO_PER_LOGIT, None)
    return fitted_ratings(
        pairs, models, elo, boot, None, win, method="elo", info=info, confidence=confidence
    )
