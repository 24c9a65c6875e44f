"""Interval for the accuracy of 0/1 scores in clusters: a score interval whose design effect
is re-estimated, by beta-binomial likelihood, at each candidate accuracy.

Why: the Wilson interval on the design-effect n (deff estimated once, at p̂) covers 88–89%
for 20 clusters of 50 questions at an accuracy near 5% or 95% (ICC 0.2). In that design a
few "hot" clusters carry most of the right answers; a sample that happens to hold none of them
shows a low p̂ *and* a low spread, so the design effect estimated at p̂ is far too small and the
interval too short on exactly the side the truth lies. Re-estimating the nuisance under each
null value (a score test with the constrained estimate, as in Rao's score test) asks instead:
"if the accuracy were μ₀, how clustered must the questions be to produce these clusters?" —
an accuracy far above p̂ is only compatible with strong clustering, which widens the interval
there. With ρ̃ = 0 (no clustering) the test is Wilson's, and with one question per cluster the
interval is Wilson's interval exactly.

For candidate accuracy μ: ρ̃(μ) maximises the beta-binomial log-likelihood of the clusters'
(size, right answers) over the intra-class correlation ρ ∈ [0, 0.99]; the design effect of the
question-weighted mean is deff(μ) = 1 + (Σ n_c²/n − 1) ρ̃(μ); μ is in the interval when
n (p̂ − μ)² / (μ (1 − μ) deff(μ)) ≤ z²_{1−α/2}. Since deff ≤ Σ n_c²/n, the interval lies
inside Wilson's on n / (Σ n_c²/n) (each cluster one question), which bounds the search grid.

References: D. A. Williams (1975, the beta-binomial model for litters); C. R. Rao (1948, score
tests); L. Kish (1965, design effect); E. B. Wilson (1927).
"""

from __future__ import annotations

import numpy as np

from ._scipy import norm_ppf, special

__all__: list[str] = []

_RHO_MAX = 0.99
_N_RHO = 81  # ρ = t², t on an even grid over [0, √0.99], refined by a parabola
_PAD = 0.5  # logit units added outside the outer (each cluster one question) bounds


def _wilson(p, n, z):
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _loglik(sizes, right, mu, rho) -> np.ndarray:
    """(patterns, μ, ρ) beta-binomial log-likelihoods, without the binomial coefficient."""
    m = sizes[:, None, None].astype(float)
    y = right[:, None, None].astype(float)
    mu = mu[None, :, None]
    r = rho[None, None, 1:]
    kappa = (1 - r) / r
    a, b = mu * kappa, (1 - mu) * kappa
    gammaln = special.gammaln
    bb = (
        gammaln(y + a)
        - gammaln(a)
        + gammaln(m - y + b)
        - gammaln(b)
        - gammaln(m + kappa)
        + gammaln(kappa)
    )
    binom = y * np.log(mu) + (m - y) * np.log1p(-mu)  # ρ = 0
    return np.concatenate([binom, bb], axis=2)


def _loglik_of(sizes, right, mu, rho):
    """A function of (S, U) cluster counts giving the (S, μ·ρ) log-likelihoods. Clusters of at
    most 2U questions use the product form Σ_{j<y} log(μ + jϑ) + Σ_{j<m−y} log(1 − μ + jϑ) −
    Σ_{j<m} log(1 + jϑ), ϑ = ρ/(1 − ρ), summed over clusters as counts of y > j, m − y > j,
    m > j (cost ∝ the largest cluster); larger ones the log-gamma table (cost ∝ U)."""
    m_max = int(sizes.max())
    if m_max > 2 * sizes.size:
        table = _loglik(sizes, right, mu, rho).reshape(sizes.size, -1)
        return lambda counts: counts @ table
    j = np.arange(m_max, dtype=float)[:, None, None]
    theta = (rho / (1 - rho))[None, None, :]
    shape = (m_max, mu.size, rho.size)
    logs = [
        np.log(mu[None, :, None] + j * theta),
        np.log(1 - mu[None, :, None] + j * theta),
        np.broadcast_to(np.log(1 + j * theta), shape),
    ]
    logs = [v.reshape(m_max, -1) for v in logs]
    steps = np.arange(m_max)[None, :]
    ind = [(right[:, None] > steps), ((sizes - right)[:, None] > steps), (sizes[:, None] > steps)]

    def loglik(counts):
        a, b, c = (counts @ i.astype(float) for i in ind)
        return a @ logs[0] + b @ logs[1] - c @ logs[2]

    return loglik


def _refined_rho(ll: np.ndarray, t: np.ndarray) -> np.ndarray:
    """ρ̃ per (data set, μ) from (S, μ, ρ) log-likelihoods: the grid maximum, moved to the
    vertex of the parabola through it and its two neighbours (in t = √ρ)."""
    j = ll.argmax(axis=-1)
    inner = np.clip(j, 1, t.size - 2)
    take = np.take_along_axis
    lm, l0, lp = (take(ll, (inner + d)[..., None], axis=-1)[..., 0] for d in (-1, 0, 1))
    curv = lm - 2 * l0 + lp
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(curv < 0, 0.5 * (lm - lp) / curv, 0.0)
    h = t[1] - t[0]
    best = np.where((j == inner), t[inner] + np.clip(shift, -0.5, 0.5) * h, t[j])
    return np.clip(best, 0, t[-1]) ** 2


def _crossing(x0, x1, s0, s1, z):
    """Where the statistic crosses z between grid points (logit x0 with s0 > z, x1 with s1 ≤ z)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(np.isfinite(s0) & (s0 != s1), (s0 - z) / (s0 - s1), 0.0)
    return x0 + np.clip(w, 0, 1) * (x1 - x0)


def cluster_score_ci(sizes, right, counts, *, alpha: float = 0.05, n_grid: int = 200):
    """Score interval for the question-weighted accuracy of clustered 0/1 scores (vectorised
    over data sets).

    ``sizes`` and ``right`` (U,) list the distinct (questions, right answers) of a cluster;
    ``counts`` (S, U) how many clusters of each kind each of S data sets holds. Returns
    (low, high, n_eff), each (S,): the bounds, inside [0, 1] (0 when p̂ = 0, 1 when p̂ = 1),
    and n / deff(p̂), the independent trials the data are worth at the estimate.
    """
    sizes = np.asarray(sizes, dtype=float)
    right = np.asarray(right, dtype=float)
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    n = counts @ sizes
    phat = (counts @ right) / n
    n_clusters = counts.sum(axis=1)
    deff_max = (counts @ sizes**2) / n
    z = float(norm_ppf(1 - alpha / 2))
    # the bounds lie between Wilson's on n (ρ = 0) and on n / deff_max (each cluster one
    # question); the grid spans those (on the logit scale) for every data set
    lo_in, hi_in = _wilson(phat, n, z)
    lo_out, hi_out = _wilson(phat, n / deff_max, z)
    first = np.where(phat > 0, lo_out, hi_in).min()
    last = np.where(phat < 1, hi_out, lo_in).max()
    ends = np.clip([first, last], 1e-12, 1 - 1e-12)
    ends = np.log(ends) - np.log1p(-ends)
    x = np.linspace(ends[0] - _PAD, ends[1] + _PAD, n_grid)
    mu = 1 / (1 + np.exp(-x))
    t = np.linspace(0, np.sqrt(_RHO_MAX), _N_RHO)
    loglik = _loglik_of(sizes, right, mu, t**2)
    s = counts.shape[0]
    low, high, n_eff = np.empty(s), np.empty(s), np.empty(s)
    step = max(1, 4_000_000 // (n_grid * _N_RHO))
    idx = np.arange(n_grid)
    for start in range(0, s, step):
        sl = slice(start, min(start + step, s))
        ll = loglik(counts[sl]).reshape(-1, n_grid, _N_RHO)
        rho = _refined_rho(ll, t)
        rho = np.where(n_clusters[sl, None] < 2, 1.0, rho)  # one cluster: nothing to see ρ by
        deff = 1 + (deff_max[sl, None] - 1) * rho
        p = phat[sl, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = n[sl, None] * (p - mu) ** 2 / (mu * (1 - mu) * deff)
        stat = np.sqrt(stat)  # |p̂ − μ| / SE(μ): nearly linear in logit μ near the bounds
        out = stat > z
        below = mu[None, :] < p
        i_lo = np.where(out & below, idx, -1).max(axis=1)  # last rejected point below p̂
        i_hi = np.where(out & ~below, idx, n_grid).min(axis=1)  # first rejected above p̂
        rows = np.arange(stat.shape[0])
        a, b = np.clip(i_lo, 0, n_grid - 2), np.clip(i_hi, 1, n_grid - 1)
        lo_x = _crossing(x[a], x[a + 1], stat[rows, a], stat[rows, a + 1], z)
        hi_x = _crossing(x[b], x[b - 1], stat[rows, b], stat[rows, b - 1], z)
        low[sl] = np.where(i_lo < 0, 0.0, 1 / (1 + np.exp(-lo_x)))
        high[sl] = np.where(i_hi >= n_grid, 1.0, 1 / (1 + np.exp(-hi_x)))
        at_p = np.abs(mu[None, :] - p).argmin(axis=1)  # ρ̃ at the grid point nearest p̂
        n_eff[sl] = n[sl] / deff[rows, at_p]
    low = np.where(phat <= 0, 0.0, np.minimum(low, phat))
    high = np.where(phat >= 1, 1.0, np.maximum(high, phat))
    return low, high, n_eff
