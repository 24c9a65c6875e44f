"""Means with honest error bars: Wilson for 0/1 scores (with clusters, the beta-binomial score
interval of ``_cluster_score``), t (plain or clustered) otherwise, repeats, bootstrap
(percentile/BCa).

References: E. Miller, "Adding Error Bars to Evals" (2024); B. Efron, "Better bootstrap
confidence intervals" (1987); E. B. Wilson (1927); L. Kish, "Survey Sampling" (1965, design
effect); Korn & Graubard (1998, effective sample size for proportions from clustered samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._cluster_score import cluster_score_ci
from ._results import ResultMixin
from ._scipy import norm_ppf, sps

__all__ = [
    "BootstrapResult",
    "MeanEstimate",
    "bootstrap_ci",
    "cluster_wilson_ci",
    "clustered_se",
    "doc_means",
    "mean_ci",
    "wilson_ci",
]


@dataclass
class MeanEstimate(ResultMixin):
    """A benchmark mean with its standard error and interval.

    ``var_within`` is the repeats term E[σ²/K] (zero without repeats) and ``var_between`` the
    variance of the questions' true means, so ``stderr² = (var_between + var_within) / n``.
    ``n_effective``: for a Wilson interval the number of independent trials it is read on (n,
    or with clusters n / deff at the estimate, deff from the beta-binomial fit); NaN otherwise.
    """

    mean: float
    stderr: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    df: float
    n_clusters: int | None = None
    var_between: float = float("nan")
    var_within: float = 0.0
    confidence_level: float = 0.95
    n_effective: float = float("nan")

    @property
    def confidence_interval(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)


@dataclass
class BootstrapResult(ResultMixin):
    """Bootstrap estimate: ``stderr`` is the standard deviation of the resampled means."""

    estimate: float
    stderr: float
    ci_low: float
    ci_high: float
    n: int
    n_resamples: int
    method: str
    confidence_level: float = 0.95

    @property
    def confidence_interval(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)


def doc_means(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-question mean, repeat count K_i and within-question variance s_i² (ddof 1).

    ``values`` is (n,) or (n, K) with NaN for missing repeats; s_i² is NaN when K_i < 2.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        return x, np.ones(x.shape, dtype=int), np.full(x.shape, np.nan)
    k = np.sum(~np.isnan(x), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(x, axis=1) / k
        ss = np.nansum((x - mean[:, None]) ** 2, axis=1)
        var = np.where(k > 1, ss / np.maximum(k - 1, 1), np.nan)
    mean = np.where(k > 0, mean, np.nan)
    return mean, k, var


def _codes(clusters) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(clusters), use_na_sentinel=True)
    codes = np.asarray(codes)
    if (codes < 0).any():  # a missing cluster id is its own cluster
        missing = codes < 0
        codes = codes.copy()
        codes[missing] = len(uniques) + np.arange(missing.sum())
    return codes, int(codes.max()) + 1 if codes.size else 0


def clustered_se(x: np.ndarray, clusters, *, small_sample: bool = True) -> float:
    """Cluster-robust standard error of the mean (Miller 2024, eq. 4).

    SE_cl² = n⁻² Σ_c (Σ_{i∈c} (s_i − s̄))² = SE² + n⁻² Σ_c Σ_{i≠j∈c} (s_i − s̄)(s_j − s̄),
    with SE² = n⁻² Σ_i (s_i − s̄)², times G/(G − 1) for G clusters when ``small_sample``
    (the CR1 correction; with one question per cluster this is exactly s²/n, ddof 1).
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    codes, g = _codes(clusters)
    resid = x - x.mean()
    sums = np.bincount(codes, weights=resid, minlength=g)
    var = np.sum(sums**2) / n**2
    if small_sample and g > 1:
        var *= g / (g - 1)
    return float(np.sqrt(var))


def _wilson(p, n, z) -> tuple[np.ndarray, np.ndarray]:
    """Wilson bounds for proportion ``p`` out of (possibly effective, non-integer) ``n``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(np.maximum(p * (1 - p), 0) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def cluster_wilson_ci(p, n, var_cl, deff_max, *, alpha: float = 0.05):
    """Wilson interval on the effective sample size n_eff = n / deff (vectorised).

    deff = var_cl / (p̂(1 − p̂)/(n − 1)) is the design effect: the clustered variance of the mean
    (CR1, :func:`clustered_se` squared) over the simple-random-sampling one. It is clipped to
    [1, deff_max] with deff_max = Σ n_c² / n (every question of a cluster alike; 5 for clusters
    of 5), and taken as deff_max when p̂ is 0 or 1 (no spread to estimate it from).
    Returns (low, high, n_eff).
    """
    p, n, var_cl = (np.asarray(v, dtype=float) for v in (p, n, var_cl))
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = var_cl / (p * (1 - p) / (n - 1))
    deff = np.where(np.isfinite(deff), np.clip(deff, 1.0, deff_max), deff_max)
    n_eff = n / deff
    low, high = _wilson(p, n_eff, sps.norm.ppf(1 - alpha / 2))
    return np.where(p == 0, 0.0, low), np.where(p == 1, 1.0, high), n_eff


def _clustered_binary_ci(x: np.ndarray, clusters, alpha: float) -> tuple[float, float, float]:
    """:func:`cluster_score_ci` for one data set of 0/1 scores and their cluster ids."""
    codes = _codes(clusters)[0]
    sizes = np.bincount(codes)
    right = np.bincount(codes, weights=x).round().astype(int)
    kinds, counts = np.unique(np.stack([sizes, right]), axis=1, return_counts=True)
    low, high, n_eff = cluster_score_ci(kinds[0], kinds[1], counts[None, :], alpha=alpha)
    return float(low[0]), float(high[0]), float(n_eff[0])


def _is_binary(x: np.ndarray) -> bool:
    return bool(x.size) and bool(np.all((x == 0) | (x == 1)))


def mean_ci(
    values,
    *,
    clusters=None,
    alpha: float = 0.05,
    small_sample: bool = True,
    method: str = "auto",
) -> MeanEstimate:
    """Mean, standard error and (1 − α) interval of per-question scores.

    ``values`` is (n,) or (n, K) for K repeats per question (NaN for a missing repeat). Repeats
    are averaged per question; the SE uses the spread of those averages, which estimates
    Var(s̄) = (Var(x) + E[σ²]/K) / n and so already carries the within-question term; the two
    terms are reported separately. With ``clusters`` (one id per question) the SE is clustered
    (:func:`clustered_se`). ``method="auto"`` picks the interval by the data: 0/1 scores with
    one repeat get Wilson's score interval ("wilson"), or with clusters the score interval
    whose design effect is re-estimated by beta-binomial likelihood at each candidate accuracy
    ("wilson-betabinomial", ``_cluster_score.cluster_score_ci``; ``n_effective`` is n / deff
    at the estimate; since issue 32, which found Wilson on n / deff with deff estimated once
    at p̂ covering 88% for 20 clusters of 50 near 5% or 95%); other scores a
    t-interval on n − 1 ("clt") or G − 1 ("clustered") degrees of freedom. ``method="t"``
    forces the t-interval.
    """
    if method not in ("auto", "t"):
        raise InputError(f"method {method!r}: use auto or t")
    xbar, k, s2 = doc_means(values)
    keep = ~np.isnan(xbar)
    xbar, k, s2 = xbar[keep], k[keep], s2[keep]
    n = int(xbar.size)
    if n == 0:
        nan = float("nan")
        return MeanEstimate(nan, nan, nan, nan, 0, "empty", nan)
    mean = float(xbar.mean())
    var_x = float(xbar.var(ddof=1)) if n > 1 else float("nan")
    has_rep = np.any(k > 1)
    var_within = float(np.nanmean(np.where(k > 1, s2 / k, np.nan))) if has_rep else 0.0
    n_clusters = None
    if clusters is not None and not pd.isna(pd.Series(clusters)).all():
        clusters = np.asarray(clusters, dtype=object)[keep]
        se = clustered_se(xbar, clusters, small_sample=small_sample)
        n_clusters = _codes(clusters)[1]
        df: float = max(n_clusters - 1, 1)
        kind = "clustered"
    else:
        se = float(np.sqrt(var_x / n)) if n > 1 else float("nan")
        df = max(n - 1, 1)
        kind = "clt"
    q = sps.t.ppf(1 - alpha / 2, df)
    ci_low, ci_high = mean - q * se, mean + q * se
    n_eff = float("nan")
    if method == "auto" and not has_rep and _is_binary(xbar):
        df = float("inf")
        if n_clusters is None:
            kind = "wilson"
            ci_low, ci_high = wilson_ci(xbar.sum(), n, alpha=alpha)
            n_eff = float(n)
        else:
            kind = "wilson-betabinomial"
            ci_low, ci_high, n_eff = _clustered_binary_ci(xbar, clusters, alpha)
    if has_rep:
        kind += "+repeats"
    return MeanEstimate(
        mean=mean,
        stderr=se,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        n=n,
        method=kind,
        df=float(df),
        n_clusters=n_clusters,
        var_between=max(var_x - var_within, 0.0) if n > 1 else float("nan"),
        var_within=var_within,
        confidence_level=1 - alpha,
        n_effective=float(n_eff),
    )


def wilson_ci(successes, n, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (vectorised).

    centre = (p̂ + z²/2n) / (1 + z²/n), half = z √(p̂(1−p̂)/n + z²/4n²) / (1 + z²/n).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = _wilson(k / n, n, norm_ppf(1 - alpha / 2))
    low = np.where(k == 0, 0.0, low)
    high = np.where(k == n, 1.0, high)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def resample_counts(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """(size, n) counts of how often each of n items is drawn in each bootstrap resample."""
    idx = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=size * n).reshape(size, n)


_BINNED_FROM = 20_000  # index resampling below this many values, binned sums from here on
_BINS = 256


def _binned_means(x: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Resampled means of many distinct values, cost B·(bins) instead of B·n.

    The sorted values are cut into equal-count bins; a resample draws multinomial counts c_b
    per bin, and the sum of c_b draws from bin b (mean μ_b, variance σ_b²) is taken as
    c_b μ_b + √(c_b σ_b²)·N(0, 1): exact in mean and variance, and normal to within Monte
    Carlo error since each bin holds n/bins ≥ 78 values and the bins are narrow.
    """
    n = x.size
    bins = np.array_split(np.sort(x), _BINS)
    size = np.array([b.size for b in bins], dtype=float)
    mu = np.array([b.mean() for b in bins])
    var = np.array([b.var() for b in bins])
    out = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // _BINS)
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        c = rng.multinomial(n, size / n, size=b).astype(float)
        noise = np.sqrt(c @ var) * rng.standard_normal(b)
        out[start : start + b] = (c @ mu + noise) / n
    return out


def _bootstrap_means(
    x: np.ndarray, codes: np.ndarray | None, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Resampled means. Without clusters, when x has few distinct values the resample is drawn
    as multinomial counts over those values: the same distribution as index resampling (a
    mean depends only on how often each value is drawn), at a cost of B·u instead of B·n."""
    n = x.size
    if codes is not None:  # resample whole clusters: ratio of resampled sums to sizes
        g = int(codes.max()) + 1
        sums = np.bincount(codes, weights=x, minlength=g)
        sizes = np.bincount(codes, minlength=g).astype(float)
        out = np.empty(n_resamples)
        chunk = max(1, 2_000_000 // g)
        for start in range(0, n_resamples, chunk):
            c = resample_counts(rng, g, min(chunk, n_resamples - start))
            out[start : start + len(c)] = (c @ sums) / (c @ sizes)
        return out
    values, inverse = np.unique(x, return_inverse=True)
    if values.size * 8 <= n:
        freq = np.bincount(inverse, minlength=values.size) / n
        counts = rng.multinomial(n, freq, size=n_resamples)
        return counts @ values / n
    if n >= _BINNED_FROM:
        return _binned_means(values[inverse], n_resamples, rng)
    out = np.empty(n_resamples)
    chunk = max(1, 4_000_000 // n)
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        out[start : start + b] = x[rng.integers(0, n, size=(b, n))].mean(axis=1)
    return out


def bootstrap_ci(
    x,
    y=None,
    *,
    clusters=None,
    method: str = "bca",
    n_resamples: int = 10_000,
    alpha: float = 0.05,
    seed: int = 0,
) -> BootstrapResult:
    """Bootstrap interval for a mean, or a paired mean difference mean(x − y).

    ``method`` is "percentile" or "bca" (bias-corrected and accelerated, Efron 1987:
    z₀ = Φ⁻¹(#{θ* < θ̂}/B), a = Σ(θ̄ − θ₍ᵢ₎)³ / (6 (Σ(θ̄ − θ₍ᵢ₎)²)^{3/2}) from the jackknife,
    level α₁ = Φ(z₀ + (z₀ + z_α)/(1 − a(z₀ + z_α)))). With ``clusters`` whole clusters are
    resampled (and left out in the jackknife). ``x``/``y`` may be (n, K) with repeats.
    """
    if method not in ("percentile", "bca"):
        raise InputError(f"method must be 'percentile' or 'bca', not {method!r}")
    if not n_resamples >= 2:
        raise InputError(f"n_resamples {n_resamples}: must be at least 2")
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha}: must be in (0, 1)")
    d = doc_means(x)[0]
    if y is not None:
        d = d - doc_means(y)[0]
    keep = ~np.isnan(d)
    d = d[keep]
    n = d.size
    if n < 2:
        raise InputError("bootstrap needs at least 2 values")
    rng = np.random.default_rng(seed)
    codes = None
    if clusters is not None:
        codes = _codes(np.asarray(clusters, dtype=object)[keep])[0]
    theta = float(d.mean())
    boot = _bootstrap_means(d, codes, n_resamples, rng)
    lo_q, hi_q = alpha / 2, 1 - alpha / 2
    if method == "bca":
        prop = (np.sum(boot < theta) + 0.5 * np.sum(boot == theta)) / n_resamples
        z0 = sps.norm.ppf(np.clip(prop, 1 / (2 * n_resamples), 1 - 1 / (2 * n_resamples)))
        if codes is None:
            jack = (d.sum() - d) / (n - 1)
        else:
            g = int(codes.max()) + 1
            sums = np.bincount(codes, weights=d, minlength=g)
            sizes = np.bincount(codes, minlength=g)
            jack = (d.sum() - sums) / (n - sizes)
        dev = jack.mean() - jack
        denom = 6 * np.sum(dev**2) ** 1.5
        a = float(np.sum(dev**3) / denom) if denom > 0 else 0.0
        z = sps.norm.ppf([lo_q, hi_q])
        lo_q, hi_q = sps.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    ci_low, ci_high = np.quantile(boot, [lo_q, hi_q])
    return BootstrapResult(
        estimate=theta,
        stderr=float(boot.std(ddof=1)),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        n=int(n),
        n_resamples=n_resamples,
        method=method,
        confidence_level=1 - alpha,
    )
