"""Paired comparison of two models on the same questions, and multiple-testing corrections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from assay.errors import InputError

from ._estimators import _codes, clustered_se, doc_means
from ._results import ResultMixin

__all__ = ["PairedResult", "adjust_pvalues", "benjamini_hochberg", "holm", "paired_test"]

_METHODS = ("auto", "t", "mcnemar", "permutation")
_CORRECTIONS = ("holm", "bh", "fdr", "benjamini-hochberg", "none")


@dataclass
class PairedResult(ResultMixin):
    """Mean difference mean_a − mean_b on the questions both models answered.

    ``method`` names the test behind ``pvalue``: "t" (paired t; clustered Wald-t with G − 1
    degrees of freedom when clustered), "mcnemar" (exact, binomial on the discordant pairs) or
    "permutation" (sign flips of the per-question — or per-cluster — differences).
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


def _permutation_pvalue(d: np.ndarray, n_permutations: int, seed: int) -> float:
    """Two-sided sign-flip p-value (1 + #{|Σ ε·d| ≥ |Σ d|}) / (P + 1)."""
    rng = np.random.default_rng(seed)
    observed = abs(d.sum()) * (1 - 1e-12)
    hits = 0
    chunk = max(1, 4_000_000 // d.size)
    for start in range(0, n_permutations, chunk):
        b = min(chunk, n_permutations - start)
        signs = rng.integers(0, 2, size=(b, d.size), dtype=np.int8) * 2 - 1
        hits += int(np.sum(np.abs(signs @ d) >= observed))
    return (1 + hits) / (n_permutations + 1)


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
    """Compare two models question by question.

    ``a`` and ``b`` are aligned per-question scores, (n,) or (n, K) with repeats (NaN allowed);
    questions either model lacks are dropped. d_i = ā_i − b̄_i, diff = mean(d),
    SE = sd(d)/√n (clustered on ``clusters`` when given), CI = diff ± t_{df, 1−α/2}·SE.
    ``method="auto"`` picks exact McNemar for single-repeat binary scores without clusters and
    the paired t otherwise. ``correlation`` is Pearson's r between the two models' scores.
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
    q = sps.t.ppf(1 - alpha / 2, df)
    single = bool(np.all(ka[keep] == 1) and np.all(kb[keep] == 1))
    binary = single and _is_binary(x) and _is_binary(y)
    if method == "auto":
        method = "mcnemar" if binary and clusters is None else "t"
    a_only = int(np.sum((x == 1) & (y == 0))) if binary else None
    b_only = int(np.sum((x == 0) & (y == 1))) if binary else None
    if method == "mcnemar":
        if not binary:
            raise InputError("McNemar's test needs binary scores with one repeat per question")
        discordant = a_only + b_only
        statistic = float(a_only)
        pvalue = 1.0 if discordant == 0 else sps.binomtest(a_only, discordant, 0.5).pvalue
    elif method == "permutation":
        units = d if codes is None else np.bincount(codes, weights=d)
        statistic = diff
        pvalue = _permutation_pvalue(units, n_permutations, seed)
    else:
        if se > 0:
            statistic = diff / se
            pvalue = float(2 * sps.t.sf(abs(statistic), df))
        else:
            statistic = 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
            pvalue = 1.0 if diff == 0 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
    return PairedResult(
        n=n,
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        diff=diff,
        stderr=se,
        ci_low=float(diff - q * se),
        ci_high=float(diff + q * se),
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
