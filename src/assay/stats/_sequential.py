"""Anytime-valid confidence sequences for the mean of bounded values (paired differences of two
models, question by question) and the stop-when-decided rule built on them.

The interval is the predictable plug-in empirical-Bernstein confidence sequence (PrPl-EB) of
Waudby-Smith & Ramdas, *Estimating means of bounded random variables by betting* (JRSS-B 2023,
Theorem 2), written here from the paper's formulas for values rescaled to [0, 1]:

    μ̂_t  = (1/2 + Σ_{i≤t} x_i) / (t + 1),      σ̂²_t = (1/4 + Σ_{i≤t} (x_i − μ̂_i)²) / (t + 1)
    λ_t  = min( √(2 log(2/α) / (σ̂²_{t−1} · t · log(1 + t))), c )        (c = 1/2)
    v_i  = 4 (x_i − μ̂_{i−1})²,                 ψ_E(λ) = (−log(1 − λ) − λ) / 4
    C_t  = Σλ_i x_i / Σλ_i  ±  (log(2/α) + Σ v_i ψ_E(λ_i)) / Σλ_i

P(the mean lies in C_t for every t at once) ≥ 1 − α, so the interval may be looked at after
every question and a comparison stopped the first time it decides, without inflating the
error rate (a t-interval looked at repeatedly does inflate it: benchmarks/sequential.py). The
running intersection of the C_t is reported (also valid, and never wider later).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.errors import InputError

from ._results import ResultMixin

__all__ = [
    "DECISIONS",
    "ConfidenceSequence",
    "SequentialResult",
    "confidence_sequence",
    "sequential_test",
]

TRUNCATION = 0.5
"""The bets' cap c (the paper suggests 1/2 or 3/4)."""

DECISIONS = ("A better", "B better", "equivalent", "undecided")
"""Outcomes of :func:`sequential_test`, by code 0..3."""


@dataclass
class ConfidenceSequence(ResultMixin):
    """A confidence sequence over the first t = 1..n values (along the last axis).

    ``estimate[..., t-1]`` is the running mean of the first t values, ``lower``/``upper`` the
    running intersection of the PrPl-EB intervals up to t (clipped to ``bounds``); every one
    of them holds the true mean, at every t at once, with probability ≥ ``confidence``."""

    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float
    bounds: tuple[float, float]
    method: str = "PrPl-EB (Waudby-Smith & Ramdas 2023)"

    @property
    def n(self) -> int:
        return int(self.estimate.shape[-1])


@dataclass
class SequentialResult(ResultMixin):
    """Stop-when-decided comparison (:func:`sequential_test`), like scipy's results.

    ``decision`` is one of :data:`DECISIONS`: "A better" (the confidence sequence of the mean
    difference a − b lies above 0), "B better" (below 0), "equivalent" (inside (−delta, delta))
    or "undecided" (the values ran out first). ``stopped_at`` is how many values were used (n
    when undecided), ``reason`` says why in words; ``estimate``/``lower``/``upper`` are the mean
    and the interval there; ``looks`` are the counts at which the rule looked, and
    ``lower_path``/``upper_path`` the whole sequence (for plots). With 2-D input (runs × values)
    ``decision``, ``stopped_at``, ``estimate``, ``lower``, ``upper`` are arrays, one per run."""

    decision: str | np.ndarray
    stopped_at: int | np.ndarray
    estimate: float | np.ndarray
    lower: float | np.ndarray
    upper: float | np.ndarray
    n: int
    delta: float
    confidence: float
    reason: str | np.ndarray
    looks: np.ndarray
    lower_path: np.ndarray
    upper_path: np.ndarray
    method: str = "PrPl-EB (Waudby-Smith & Ramdas 2023)"

    @property
    def decided(self) -> bool | np.ndarray:
        out = np.asarray(self.decision) != "undecided"
        return bool(out) if out.ndim == 0 else out


def _check(x, confidence: float, bounds) -> tuple[np.ndarray, float, float, float]:
    if not isinstance(confidence, float | int) or not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InputError(f"bounds must be two numbers (low, high), got {bounds!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"bounds must be finite with low < high, got {bounds!r}")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise InputError("values must be numbers") from None
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise InputError(
            f"values must be a non-empty 1-D (or runs × values) array, got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError("values must be finite (no NaN or inf)")
    if arr.min() < lo or arr.max() > hi:
        raise InputError(f"values must lie in [{lo:g}, {hi:g}], got [{arr.min():g}, {arr.max():g}]")
    return arr, float(confidence), lo, hi


def _prpl_eb(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running mean and the PrPl-EB interval C_t (unintersected) for x in [0, 1], last axis."""
    t = np.arange(1, x.shape[-1] + 1, dtype=float)
    mu = (0.5 + np.cumsum(x, axis=-1)) / (t + 1)  # μ̂_t, t = 1..n
    var = (0.25 + np.cumsum((x - mu) ** 2, axis=-1)) / (t + 1)  # σ̂²_t
    first = np.full(x.shape[:-1] + (1,), 0.25)
    var_prev = np.concatenate([first, var[..., :-1]], axis=-1)  # σ̂²_{t−1}, σ̂²_0 = 1/4
    mu_prev = np.concatenate([first * 2, mu[..., :-1]], axis=-1)  # μ̂_{t−1}, μ̂_0 = 1/2
    log_term = np.log(2 / alpha)
    lam = np.minimum(np.sqrt(2 * log_term / (var_prev * t * np.log1p(t))), TRUNCATION)
    psi = (-np.log1p(-lam) - lam) / 4
    v = 4 * (x - mu_prev) ** 2
    sum_lam = np.cumsum(lam, axis=-1)
    centre = np.cumsum(lam * x, axis=-1) / sum_lam
    half = (log_term + np.cumsum(v * psi, axis=-1)) / sum_lam
    return np.cumsum(x, axis=-1) / t, centre - half, centre + half


def confidence_sequence(
    values, *, confidence: float = 0.95, bounds: tuple[float, float] = (-1.0, 1.0)
) -> ConfidenceSequence:
    """Anytime-valid confidence sequence for the mean of ``values`` (taken in the given order,
    each in ``bounds``; paired differences a − b of scores in [0, 1] are in the default
    [−1, 1]). A 2-D array is many independent sequences (rows), computed at once."""
    arr, confidence, lo, hi = _check(values, confidence, bounds)
    scale = hi - lo
    mean, low, high = _prpl_eb((arr - lo) / scale, 1 - confidence)
    low = np.maximum.accumulate(np.clip(low, 0, 1), axis=-1)
    high = np.minimum.accumulate(np.clip(high, 0, 1), axis=-1)
    high = np.maximum(high, low)  # an empty intersection (probability ≤ α) shrinks to a point
    return ConfidenceSequence(
        estimate=lo + scale * mean,
        lower=lo + scale * low,
        upper=lo + scale * high,
        confidence=confidence,
        bounds=(lo, hi),
    )


def _looks(n: int, every: int | None, looks) -> np.ndarray:
    if looks is not None:
        idx = np.unique(np.asarray(looks, dtype=int))
        if idx.size == 0 or idx[0] < 1 or idx[-1] > n:
            raise InputError(f"looks must be counts in [1, {n}]")
        return idx
    if every is None:
        every = 1
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise InputError(f"every must be an integer >= 1, got {every!r}")
    return np.unique(np.append(np.arange(every, n + 1, every), n))


def decide(lower, upper, delta: float) -> np.ndarray:
    """Decision codes (indices into :data:`DECISIONS`) of intervals [lower, upper]: 0 when
    above 0, 1 below 0, 2 inside (−delta, delta) (a sign, once known, wins), else 3."""
    lower, upper = np.asarray(lower), np.asarray(upper)
    return np.select(
        [lower > 0, upper < 0, (lower > -delta) & (upper < delta)], [0, 1, 2], default=3
    )


def _reason(code: int, at: int, n: int, lo: float, hi: float, delta: float) -> str:
    interval = f"[{lo:+.4f}, {hi:+.4f}]"
    if code == 0:
        return f"after {at} of {n}: the interval {interval} is above 0"
    if code == 1:
        return f"after {at} of {n}: the interval {interval} is below 0"
    if code == 2:
        return f"after {at} of {n}: the interval {interval} is inside ±{delta:g}"
    return f"ran out after {n}: the interval {interval} still holds 0 and reaches ±{delta:g}"


def sequential_test(
    values,
    *,
    delta: float = 0.0,
    confidence: float = 0.95,
    every: int | None = None,
    looks=None,
    bounds: tuple[float, float] = (-1.0, 1.0),
) -> SequentialResult:
    """Stop when decided: look at the confidence sequence of the mean of ``values`` (paired
    differences a − b, in question order) after every ``every`` values (or at the counts
    ``looks``; always at the end) and stop at the first look where it lies above 0 ("A
    better"), below 0 ("B better") or inside (−delta, delta) ("equivalent"; delta = 0 never
    decides equivalence). Each of these is wrong with probability ≤ 1 − ``confidence``
    however the looks are placed. A 2-D array (runs × values) gives one decision per run."""
    if not isinstance(delta, float | int) or not 0 <= delta < np.inf:
        raise InputError(f"delta must be a number >= 0, got {delta!r}")
    cs = confidence_sequence(values, confidence=confidence, bounds=bounds)
    n = cs.n
    idx = _looks(n, every, looks) - 1
    codes = decide(cs.lower[..., idx], cs.upper[..., idx], float(delta))  # (..., looks)
    decided = codes < 3
    first = np.where(decided.any(axis=-1), decided.argmax(axis=-1), idx.size - 1)
    at = idx[first]  # 0-based position of the stop
    code = np.take_along_axis(codes, np.expand_dims(first, -1), -1)[..., 0]
    take = np.expand_dims(at, -1) if cs.estimate.ndim > 1 else at

    def pick(path):
        got = np.take_along_axis(path, take, -1)[..., 0] if path.ndim > 1 else path[take]
        return got

    est, low, high = pick(cs.estimate), pick(cs.lower), pick(cs.upper)
    names = np.asarray(DECISIONS)[code]
    reasons = np.vectorize(_reason, otypes=[object])(code, at + 1, n, low, high, float(delta))
    one = cs.estimate.ndim == 1
    return SequentialResult(
        decision=str(names) if one else names,
        stopped_at=int(at) + 1 if one else at + 1,
        estimate=float(est) if one else est,
        lower=float(low) if one else low,
        upper=float(high) if one else high,
        n=n,
        delta=float(delta),
        confidence=cs.confidence,
        reason=str(reasons) if one else reasons,
        looks=idx + 1,
        lower_path=cs.lower,
        upper_path=cs.upper,
    )
