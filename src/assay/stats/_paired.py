"""Paired comparison of two models on the same questions, and multiple-testing corrections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.errors import InputError

from ._estimators import _codes, clustered_se, doc_means
from ._results import ResultMixin
from ._scipy import norm_ppf, norm_sf, sps

__all__ = [
    "PairedResult",
    "adjust_pvalues",
    "benjamini_hochberg",
    "holm",
    "mcnemar_clustered",
    "mcnemar_score",
    "paired_test",
]

_METHODS = ("auto", "t", "mcnemar", "mcnemar-clustered", "mcnemar-exact", "permutation")
_UNBOUNDED = "mcnemar-clustered (too few clusters: interval unbounded, clipped to [-1, 1])"
_CORRECTIONS = ("holm", "bh", "fdr", "benjamini-hochberg", "none")


@dataclass
class PairedResult(ResultMixin):
    """Mean difference mean_a − mean_b on the questions both models answered.

    ``method`` names the procedure behind ``pvalue`` and the interval: "t" (paired t; clustered
    Wald-t with G − 1 degrees of freedom when clustered), "mcnemar" (McNemar's score test with
    Tango's interval), "mcnemar-clustered" (Durkalski's cluster-adjusted McNemar test and the
    interval that inverts it, :func:`mcnemar_clustered`; "... (too few clusters ...)" when that
    interval is unbounded and clipped to [−1, 1]), "mcnemar-exact" (binomial on the discordant
    pairs; Tango's interval settled by it) or "permutation" (sign flips of the per-question — or per-cluster — differences).
    "sign-test": the t-test was asked for but every difference is the same nonzero value
    (SE 0): the exact two-sided sign test over the questions (clusters), 2 · 0.5^units. 0/1
    scores without spread (SE 0) get Tango's interval on one question per cluster
    (:func:`_without_spread`), never a zero-width one.
    """

    n: int
    mean_a: float
    mean_b: float
    diff: float
    stderr: float
    ci_low: float
    ci_high: float
    statistic: float
    pvalue: float
    method: str
    df: float
    correlation: float
    n_clusters: int | None = None
    a_only_right: int | None = None
    b_only_right: int | None = None
    confidence_level: float = 0.95

    @property
    def confidence_interval(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def _tango_stat(b, c, n, delta):
    """Tango's (1998) score statistic for δ = p(a right, b wrong) − p(a wrong, b right), with
    the restricted MLE of the discordant cell; at δ = 0 it is McNemar's (b − c)/√(b + c)."""
    qa = 2 * n
    qb = -b - c + (2 * n - b + c) * delta
    qc = -c * delta * (1 - delta)
    p21 = (-qb + np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0))) / (2 * qa)
    var = n * (2 * p21 + delta * (1 - delta))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, (b - c - n * delta) / np.sqrt(np.maximum(var, 1e-300)), 0.0)


class _Tango:
    """:func:`_tango_stat` at many δ for the same counts: the parts free of δ worked out once
    (the same floating-point operations in the same order, so the same values)."""

    def __init__(self, b, c, n) -> None:
        self.n, self.diff, self.neg_c = n, b - c, -c
        self.q0, self.q1 = -b - c, 2 * n - b + c  # qb = q0 + q1 δ
        qa = 2 * n
        self.qa2, self.qa4 = 2 * qa, 4 * qa

    def __call__(self, delta):
        rest = 1 - delta
        qb = self.q0 + self.q1 * delta
        qc = self.neg_c * delta * rest
        root = qb * qb
        root -= self.qa4 * qc
        np.sqrt(np.maximum(root, 0, out=root), out=root)
        root -= qb  # −qb + √(...)
        root /= self.qa2  # p21
        var = 2 * root
        var += delta * rest
        var *= self.n
        stat = self.diff - self.n * delta
        stat /= np.sqrt(np.maximum(var, 1e-300))
        stat[~(var > 0)] = 0.0  # (a NaN variance too, as np.where(var > 0, ..., 0))
        return stat


def mcnemar_score(b, c, n, *, alpha: float = 0.05):
    """McNemar's test and Tango's score interval for a paired difference of proportions
    (vectorised over arrays of discordant counts b, c out of n pairs).

    The interval is {δ : |T(δ)| ≤ z} for Tango's score statistic T, found by bisection; as
    T(0) is McNemar's statistic, the interval excludes 0 exactly when p < α.
    Returns (low, high, statistic, p_value).
    """
    b, c, n = (np.asarray(v, dtype=float) for v in (b, c, n))
    z = norm_ppf(1 - alpha / 2)
    est = (b - c) / n
    # both bounds at once: row 0 the lower (T = z, towards −1), row 1 the upper (T = −z)
    bb, cc, nn = (np.broadcast_to(v, est.shape) for v in (b, c, n))
    inside = np.stack([est, est])
    outside = np.stack([np.full_like(est, -1.0), np.full_like(est, 1.0)])
    sign = np.array([1.0, -1.0]).reshape((2,) + (1,) * est.ndim)
    tango, mid = _Tango(bb, cc, nn), np.empty_like(inside)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(52):  # T(δ) is monotone: bisect between the estimate and ±1
            np.add(inside, outside, out=mid)
            mid /= 2
            stat = tango(mid)
            stat *= sign
            ok = stat <= z
            np.copyto(inside, mid, where=ok)
            np.copyto(outside, mid, where=~ok)
    stat = _tango_stat(b, c, n, 0.0)
    pvalue = np.where(b + c > 0, 2 * norm_sf(np.abs(stat)), 1.0)
    return inside[0], inside[1], stat, pvalue


def mcnemar_clustered(s, n, sum_d2, sum_n2, sum_dn, *, alpha: float = 0.05):
    """Cluster-adjusted McNemar test (Durkalski et al. 2003) and the interval that inverts it,
    vectorised over arrays of per-data-set sums of the cluster discordances
    d_k = Σ_{i∈k}(a_i − b_i) and cluster sizes n_k: s = Σ d_k, n = Σ n_k, sum_d2 = Σ d_k²,
    sum_n2 = Σ n_k², sum_dn = Σ d_k n_k.

    X² = s² / Σ d_k² ~ χ²₁ under H0 (with one question per cluster it is McNemar's); ``statistic``
    is the signed root s / √Σ d_k². The interval is {Δ : (s − Δn)² ≤ z² Σ (d_k − Δ n_k)²}, i.e.
    AΔ² − 2BΔ + C ≤ 0 with A = n² − z² Σn_k², B = n s − z² Σ d_k n_k, C = s² − z² Σ d_k²; C > 0
    exactly when p < α, so it excludes 0 exactly then. No discordance at all (every d_k = 0,
    p = 1) would give a zero-width interval: Tango's interval for b = c = 0 on n_eff = n² / Σn_k²
    questions (each cluster one question) is used instead. A ≤ 0 (n²/Σn_k² ≤ z²: 3 or fewer
    equal clusters at α = 0.05): the set is unbounded; the part holding the estimate, clipped
    to [−1, 1], is returned (widened to 0 when p ≥ α) and ``unbounded`` is True.
    Returns (low, high, statistic, p_value, unbounded).
    """
    s, n, sum_d2, sum_n2, sum_dn = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (s, n, sum_d2, sum_n2, sum_dn))
    )
    z2 = sps.norm.ppf(1 - alpha / 2) ** 2
    est = s / n
    disc_any = sum_d2 > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(disc_any, s / np.sqrt(np.where(disc_any, sum_d2, 1.0)), 0.0)
        pvalue = np.where(disc_any, sps.chi2.sf(stat * stat, 1), 1.0)
        qa = n * n - z2 * sum_n2
        qb = n * s - z2 * sum_dn
        qc = s * s - z2 * sum_d2
        root = np.sqrt(np.maximum(qb * qb - qa * qc, 0.0))
        bounded = qa > 0
        # A > 0: the roots (B ± √(B² − AC)) / A bracket the estimate (f(est) ≤ 0 always)
        lo = np.where(bounded, (qb - root) / np.where(bounded, qa, 1.0), -1.0)
        hi = np.where(bounded, (qb + root) / np.where(bounded, qa, 1.0), 1.0)
        # A ≤ 0: accepted outside (r1, r2); keep the ray holding the estimate
        qa_neg = np.minimum(qa, -1e-300)
        r1, r2 = (qb + root) / qa_neg, (qb - root) / qa_neg
        gap = ~bounded & (qb * qb - qa * qc > 0)
        upper_ray = est >= (r1 + r2) / 2
        lo = np.where(gap & upper_ray, r2, lo)
        hi = np.where(gap & ~upper_ray, r1, hi)
    t_lo, t_hi, _, _ = mcnemar_score(0.0, 0.0, np.maximum(n * n / sum_n2, 1.0), alpha=alpha)
    lo, hi = np.where(disc_any, lo, t_lo), np.where(disc_any, hi, t_hi)
    # settle Δ = 0 by the test itself, so float error in the roots never splits them
    reject = pvalue < alpha
    lo = np.where(reject | (lo <= 0), lo, 0.0)
    hi = np.where(reject | (hi >= 0), hi, 0.0)
    straddle = reject & (lo <= 0) & (hi >= 0)
    lo = np.where(straddle & (est > 0), 1e-300, lo)
    hi = np.where(straddle & (est < 0), -1e-300, hi)
    unbounded = ~bounded & disc_any
    return np.clip(lo, -1.0, 1.0), np.clip(hi, -1.0, 1.0), stat, pvalue, unbounded


def _exact_mcnemar(b: int, c: int, n: int, alpha: float) -> tuple[float, float, float]:
    """Exact McNemar p-value (the binomial test on the b + c discordant pairs) with Tango's score
    interval (:func:`mcnemar_score`), settled by the exact test (:func:`_settled`). (A
    Clopper–Pearson bound on b / (b + c) mapped through the observed (b + c) / n ignores the
    spread of b + c: it ended at the estimate when c = 0, covering about 54 % at n = 60.)"""
    pvalue = float(sps.binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    lo, hi, _, _ = mcnemar_score(b, c, n, alpha=alpha)
    return (*_settled(float(lo), float(hi), (b - c) / n, pvalue, alpha), pvalue)


def _settled(lo: float, hi: float, est: float, pvalue: float, alpha: float) -> tuple[float, float]:
    """``(lo, hi)`` made to agree with the test behind ``pvalue``: widened to 0 when it does
    not reject, cut just short of 0 (on the estimate's side) when it does."""
    if pvalue >= alpha:
        return min(lo, 0.0), max(hi, 0.0)
    if lo <= 0.0 <= hi:
        return (max(lo, 1e-300), hi) if est > 0 else (lo, min(hi, -1e-300))
    return lo, hi


def _without_spread(
    a_only: int, b_only: int, n: int, codes: np.ndarray | None, alpha: float, pvalue: float
) -> tuple[float, float]:
    """The interval of paired 0/1 scores whose differences are all alike (SE 0, e.g. two models
    that never disagree): nothing to scale a t or a permutation interval by, so Tango's score
    interval on the discordant counts, scaled to n_eff = n² / Σ n_k² questions (each cluster
    one question, as :func:`mcnemar_clustered` does for no discordance; n without clusters),
    settled by ``pvalue`` (:func:`_settled`)."""
    n_eff = float(n) if codes is None else n * n / float(np.sum(np.bincount(codes) ** 2.0))
    scale = n_eff / n
    lo, hi, _, _ = mcnemar_score(a_only * scale, b_only * scale, n_eff, alpha=alpha)
    return _settled(float(lo), float(hi), (a_only - b_only) / n, pvalue, alpha)


def _permutation(
    units: np.ndarray, sizes: np.ndarray, n_permutations: int, seed: int, alpha: float
) -> tuple[float, float, float]:
    """Sign-flip p-value (1 + #{|Σ ε·d| ≥ |Σ d|}) / (P + 1) over per-question (or per-cluster)
    sums ``units``, and the interval that inverts it: the δ whose shifted sums Σ ε(d − δ·size)
    are not rejected, found by bisection over the same sign draws (CI ∌ 0 ⇔ p < α)."""
    rng = np.random.default_rng(seed)
    u, v = np.empty(n_permutations), np.empty(n_permutations)
    chunk = max(1, 4_000_000 // units.size)
    for start in range(0, n_permutations, chunk):
        b = min(chunk, n_permutations - start)
        signs = (rng.integers(0, 2, size=(b, units.size), dtype=np.int8) * 2 - 1).astype(float)
        u[start : start + b], v[start : start + b] = signs @ units, signs @ sizes
    total, n = float(units.sum()), float(sizes.sum())

    def pvalue(delta: float) -> float:
        observed = abs(total - delta * n) * (1 - 1e-12)
        return (1 + int(np.sum(np.abs(u - delta * v) >= observed))) / (n_permutations + 1)

    est = total / n
    spread = max(float(np.abs(units / sizes - est).max()), 1e-12)
    bounds = []
    for edge in (est - 4 * spread, est + 4 * spread):
        inside, outside = est, edge
        for _ in range(50):
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if pvalue(mid) >= alpha else (inside, mid)
        bounds.append(inside)
    p0 = pvalue(0.0)
    # discrete d makes p(δ) ragged near 0: settle δ = 0 by the test itself
    return (*_settled(bounds[0], bounds[1], est, p0, alpha), p0)


def paired_test(
    a,
    b,
    *,
    clusters=None,
    method: str = "auto",
    alpha: float = 0.05,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> PairedResult:
    """Compare two models question by question; the p-value and the interval come from the
    same procedure, so the interval excludes 0 exactly when p < α.

    ``a`` and ``b`` are aligned per-question scores, (n,) or (n, K) with repeats (NaN allowed);
    questions either model lacks are dropped. d_i = ā_i − b̄_i, diff = mean(d),
    SE = sd(d)/√n (clustered on ``clusters`` when given). ``method``: "t" (CI = diff ±
    t_{df, 1−α/2}·SE, df = n − 1 or G − 1), "mcnemar" (McNemar's test and Tango's score
    interval, :func:`mcnemar_score`), "mcnemar-clustered" (Durkalski's cluster-adjusted McNemar
    test and the interval inverting it, :func:`mcnemar_clustered`; without ``clusters`` each
    question is its own cluster), "mcnemar-exact" (exact binomial test, conservative) or
    "permutation" (sign flips, interval by inverting them). "auto" picks "mcnemar" for
    single-repeat binary scores without clusters, "t" (clustered) for them with clusters,
    and "t" otherwise. ``correlation`` is Pearson's r between the two models' scores.
    """
    if method not in _METHODS:
        raise InputError(f"method must be one of {', '.join(_METHODS)}, not {method!r}")
    a_mean, ka, _ = doc_means(a)
    b_mean, kb, _ = doc_means(b)
    keep = ~np.isnan(a_mean) & ~np.isnan(b_mean)
    x, y = a_mean[keep], b_mean[keep]
    d = x - y
    n = int(d.size)
    if n < 2:
        raise InputError(f"paired comparison needs at least 2 shared questions, got {n}")
    diff = float(d.mean())
    n_clusters = None
    codes = None
    if clusters is not None:
        cl = np.asarray(clusters, dtype=object)[keep]
        codes, n_clusters = _codes(cl)
        se = clustered_se(d, cl)
        df = max(n_clusters - 1, 1)
    else:
        se = float(d.std(ddof=1) / np.sqrt(n))
        df = n - 1
    single = bool(np.all(ka[keep] == 1) and np.all(kb[keep] == 1))
    binary = single and _is_binary(x) and _is_binary(y)
    if method == "auto":
        # clustered binary pairs: the clustered t covers 95 +- 1.5 % at 20-400 clusters; the
        # cluster-adjusted McNemar test over-covers under the null at 20 clusters (97.5 %)
        method = "mcnemar" if binary and clusters is None else "t"
    a_only = int(np.sum((x == 1) & (y == 0))) if binary else None
    b_only = int(np.sum((x == 0) & (y == 1))) if binary else None
    if method in ("mcnemar", "mcnemar-clustered", "mcnemar-exact"):
        if not binary or a_only is None or b_only is None:
            raise InputError("McNemar's test needs binary scores with one repeat per question")
        if method == "mcnemar-clustered":
            dk = d if codes is None else np.bincount(codes, weights=d)
            nk = np.ones(n) if codes is None else np.bincount(codes).astype(float)
            lo, hi, stat, p, unbounded = mcnemar_clustered(
                dk.sum(), nk.sum(), dk @ dk, nk @ nk, dk @ nk, alpha=alpha
            )
            ci_low, ci_high, statistic, pvalue = float(lo), float(hi), float(stat), float(p)
            method = _UNBOUNDED if unbounded else method
        elif method == "mcnemar":
            lo, hi, stat, p = mcnemar_score(a_only, b_only, n, alpha=alpha)
            ci_low, ci_high, statistic, pvalue = float(lo), float(hi), float(stat), float(p)
        else:
            ci_low, ci_high, pvalue = _exact_mcnemar(a_only, b_only, n, alpha)
            statistic = float(a_only)
    elif method == "permutation":
        units = d if codes is None else np.bincount(codes, weights=d)
        sizes = np.ones(n) if codes is None else np.bincount(codes).astype(float)
        statistic = diff
        ci_low, ci_high, pvalue = _permutation(units, sizes, n_permutations, seed, alpha)
    else:
        q = sps.t.ppf(1 - alpha / 2, df)
        ci_low, ci_high = diff - q * se, diff + q * se
        if se > 0:
            statistic = diff / se
            pvalue = float(2 * sps.t.sf(abs(statistic), df))
        elif diff == 0:
            statistic, pvalue = 0.0, 1.0
        else:  # every difference alike (SE 0): no t; the exact sign test over the units
            units = n if n_clusters is None else n_clusters
            statistic = float(units)
            pvalue = float(sps.binomtest(units, units, 0.5).pvalue)
            method = "sign-test"
    if binary and se == 0 and method in ("t", "sign-test", "permutation"):
        assert a_only is not None and b_only is not None
        ci_low, ci_high = _without_spread(a_only, b_only, n, codes, alpha, pvalue)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
    return PairedResult(
        n=n,
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        diff=diff,
        stderr=se,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        statistic=float(statistic),
        pvalue=float(pvalue),
        method=method,
        df=float(df),
        correlation=corr,
        n_clusters=n_clusters,
        a_only_right=a_only,
        b_only_right=b_only,
        confidence_level=1 - alpha,
    )


def _step_adjusted(pvalues, step) -> np.ndarray:
    """``step(sorted_p, m)`` applied to the non-NaN p-values in ascending order, put back in
    the original order; NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m:
        order = np.argsort(p[ok], kind="stable")
        vals = np.empty(m)
        vals[order] = step(p[ok][order], m)
        out[ok] = vals
    return out


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values: p̃₍ᵢ₎ = max_{j≤i} min(1, (m − j + 1) p₍ⱼ₎). NaN stays."""
    return _step_adjusted(
        pvalues, lambda p, m: np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p))
    )


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values: p̃₍ᵢ₎ = min_{j≥i} min(1, m p₍ⱼ₎ / j). NaN stays."""
    return _step_adjusted(
        pvalues,
        lambda p, m: np.minimum(
            1.0, np.minimum.accumulate((m * p / np.arange(1, m + 1))[::-1])[::-1]
        ),
    )


def adjust_pvalues(pvalues, correction: str = "holm") -> np.ndarray:
    """Apply ``correction``: "holm", "bh" (Benjamini–Hochberg) or "none"."""
    key = correction.lower()
    if key == "holm":
        return holm(pvalues)
    if key in ("bh", "fdr", "benjamini-hochberg"):
        return benjamini_hochberg(pvalues)
    if key == "none":
        return np.asarray(pvalues, dtype=float)
    raise InputError(f"correction must be 'holm', 'bh' or 'none', not {correction!r}")
