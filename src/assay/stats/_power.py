"""Power analysis for paired model comparisons with repeats (Miller 2024, section 5).

Per question the difference of the two models' repeat-averaged scores has variance
ω² + σ_A²/K_A + σ_B²/K_B, where ω² is the variance of the true per-question difference and
σ² the within-question (resampling) variance. With n questions, a two-sided level-α z-test
detects δ with power 1 − β when n = (z_{α/2} + z_β)² (ω² + σ_A²/K_A + σ_B²/K_B) / δ².
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay.core import MetricMap
from assay.errors import InputError

from ._estimators import doc_means
from ._results import ResultMixin
from ._tidy import primary_metric, repeat_matrix, select

__all__ = [
    "PowerResult",
    "VarianceComponents",
    "estimate_components",
    "minimum_detectable_effect",
    "power",
    "power_analysis",
    "power_from_scores",
    "sample_size",
]


@dataclass
class VarianceComponents(ResultMixin):
    """ω², σ_A², σ_B² of a paired comparison, estimated from data (see :func:`estimate_components`)."""

    omega2: float
    sigma2_a: float
    sigma2_b: float
    k_a: float
    k_b: float
    n: int
    diff: float


@dataclass
class PowerResult(ResultMixin):
    """Power, minimum detectable effect and sample size for one design (``n`` a whole number
    of questions when it was solved for, rounded up); ``estimated_from``
    holds the variance components when they were estimated from scores
    (:func:`power_from_scores`)."""

    n: int | float
    delta: float
    power: float
    alpha: float
    variance_per_question: float
    omega2: float
    sigma2_a: float
    sigma2_b: float
    k_a: int
    k_b: int
    estimated_from: VarianceComponents | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.estimated_from is None:
            del out["estimated_from"]
        return out


class Components(TypedDict, total=False):
    """The variance components of a design, as keywords of :func:`sample_size`,
    :func:`minimum_detectable_effect`, :func:`power` and :func:`power_analysis`; any left out
    takes its default: ω² = 0.5 (the worst case for two independent binary scores at p = 0.5),
    σ_A² = σ_B² = 0 and K_A = K_B = 1 repeat."""

    omega2: float
    sigma2_a: float
    sigma2_b: float
    k_a: int
    k_b: int


_DEFAULT_COMPONENTS: Components = {
    "omega2": 0.5,
    "sigma2_a": 0.0,
    "sigma2_b": 0.0,
    "k_a": 1,
    "k_b": 1,
}


def _components(given: Components, function: str) -> Components:
    """``given`` with the defaults filled in; an unknown keyword is a TypeError, as Python's."""
    unknown = sorted(set(given) - set(_DEFAULT_COMPONENTS))
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    return {**_DEFAULT_COMPONENTS, **given}


def _per_question_variance(components: Components) -> float:
    c = components
    if min(c["k_a"], c["k_b"]) < 1:
        raise InputError("repeats k_a and k_b must be at least 1")
    v = c["omega2"] + c["sigma2_a"] / c["k_a"] + c["sigma2_b"] / c["k_b"]
    if not v > 0:
        raise InputError("the per-question variance ω² + σ_A²/K_A + σ_B²/K_B must be positive")
    return float(v)


def _variance_and_z(
    components: Components, function: str, alpha: float, power: float
) -> tuple[float, float]:
    """The per-question variance V and z_{α/2} + z_β."""
    v = _per_question_variance(_components(components, function))
    return v, sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)


def sample_size(
    delta: float, *, alpha: float = 0.05, power: float = 0.8, **components: Unpack[Components]
) -> float:
    """Questions needed: n = (z_{α/2} + z_β)² (ω² + σ_A²/K_A + σ_B²/K_B) / δ²."""
    v, z = _variance_and_z(components, "sample_size", alpha, power)
    return float(z**2 * v / delta**2)


def minimum_detectable_effect(
    n: float, *, alpha: float = 0.05, power: float = 0.8, **components: Unpack[Components]
) -> float:
    """Smallest δ detected with the given power: δ = (z_{α/2} + z_β) √(V / n)."""
    v, z = _variance_and_z(components, "minimum_detectable_effect", alpha, power)
    return float(z * np.sqrt(v / n))


def power(
    delta: float, n: float, *, alpha: float = 0.05, **components: Unpack[Components]
) -> float:
    """Power of the two-sided z-test: Φ(|δ|/SE − z_{α/2}) + Φ(−|δ|/SE − z_{α/2}), SE = √(V/n)."""
    v = _per_question_variance(_components(components, "power"))
    shift = abs(delta) / np.sqrt(v / n)
    z = sps.norm.ppf(1 - alpha / 2)
    return float(sps.norm.cdf(shift - z) + sps.norm.cdf(-shift - z))


def estimate_components(
    scores: pd.DataFrame, model_a: str, model_b: str, *, task: str, metric: str
) -> VarianceComponents:
    """Estimate ω², σ_A², σ_B² from stored scores of two models on one task.

    σ² is the mean within-question variance over repeats (0 without repeats); ω² is the
    variance of the per-question differences minus σ_A²/K_A + σ_B²/K_B (floored at 0).
    """
    rows = select(select(scores, "task", task), "metric", metric)
    mats = {}
    for m in (model_a, model_b):
        x, docs = repeat_matrix(select(rows, "model", m))
        mats[m] = pd.DataFrame(x, index=docs)
    shared = mats[model_a].index.intersection(mats[model_b].index)
    if len(shared) < 2:
        raise InputError(f"{model_a} and {model_b} share {len(shared)} docs on {task}")
    ma, ka, va = doc_means(mats[model_a].loc[shared].to_numpy())
    mb, kb, vb = doc_means(mats[model_b].loc[shared].to_numpy())
    s2a = float(np.nanmean(va)) if np.any(ka > 1) else 0.0
    s2b = float(np.nanmean(vb)) if np.any(kb > 1) else 0.0
    d = ma - mb
    k_a, k_b = float(ka.mean()), float(kb.mean())
    omega2 = max(float(d.var(ddof=1)) - s2a / k_a - s2b / k_b, 0.0)
    return VarianceComponents(omega2, s2a, s2b, k_a, k_b, int(d.size), float(d.mean()))


def _check_design(delta, n, alpha, target_power, comps) -> None:
    """One-line errors for impossible designs (before any arithmetic)."""
    for name, value in {"delta": delta, "n": n, **comps}.items():
        if value is not None and not np.isfinite(value):
            raise InputError(f"{name} {value}: must be a finite number")
    for name, value in {"alpha": alpha, "power": target_power}.items():
        if not 0 < value < 1:
            raise InputError(f"{name} {value}: must be between 0 and 1")
    for name in ("omega2", "sigma2_a", "sigma2_b"):
        if comps[name] < 0:
            raise InputError(f"{name} {comps[name]}: a variance must be >= 0")


def power_analysis(
    *,
    delta: float | None = None,
    n: float | None = None,
    alpha: float = 0.05,
    target_power: float = 0.8,
    **components: Unpack[Components],
) -> PowerResult:
    """Fill in the missing one of (δ, n): with both, the power; with n, the minimum detectable
    effect at ``target_power``; with δ, the questions needed for ``target_power``, rounded up
    to a whole number (:func:`sample_size` is the fractional solution), with its power."""
    comps = _components(components, "power_analysis")
    _check_design(delta, n, alpha, target_power, comps)
    if delta is None and n is None:
        raise InputError("give the effect size (delta), the number of questions (n), or both")
    if delta is not None and delta == 0:
        raise InputError("delta must be non-zero")
    if n is not None and n < 2:
        raise InputError("n must be at least 2")
    if delta is None:
        delta = minimum_detectable_effect(n, alpha=alpha, power=target_power, **comps)
    elif n is None:  # questions are whole: round up, so the power is at least the target
        n = math.ceil(sample_size(delta, alpha=alpha, power=target_power, **comps) - 1e-9)
    pw = power(delta, n, alpha=alpha, **comps)
    v = _per_question_variance(comps)
    n = int(n) if float(n).is_integer() else float(n)
    return PowerResult(n, float(abs(delta)), pw, alpha, v, **comps)


def power_from_scores(
    scores: pd.DataFrame,
    model_a: str,
    model_b: str,
    *,
    task: str,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    delta: float | None = None,
    n: float | None = None,
    alpha: float = 0.05,
    target_power: float = 0.8,
    omega2: float | None = None,
    k_a: int | None = None,
    k_b: int | None = None,
) -> PowerResult:
    """:func:`power_analysis` of a design like two models' stored comparison on one task.

    σ_A², σ_B² come from :func:`estimate_components` on ``scores`` (``metric`` defaults to the
    task's primary metric: acc, else exact_match, else the first); so do ω², K_A, K_B (the
    mean repeats, rounded) unless given, and n (the shared questions) when neither ``delta`` nor
    ``n`` is. The estimate is kept in ``estimated_from``.
    """
    met = metric or primary_metric(select(scores, "task", task)["metric"].unique(), metrics)
    comps = estimate_components(scores, model_a, model_b, task=task, metric=met)
    if n is None and delta is None:
        n = comps.n
    result = power_analysis(
        delta=delta,
        n=n,
        alpha=alpha,
        target_power=target_power,
        omega2=comps.omega2 if omega2 is None else omega2,
        sigma2_a=comps.sigma2_a,
        sigma2_b=comps.sigma2_b,
        k_a=max(1, round(comps.k_a)) if k_a is None else k_a,
        k_b=max(1, round(comps.k_b)) if k_b is None else k_b,
    )
    result.estimated_from = comps
    return result
