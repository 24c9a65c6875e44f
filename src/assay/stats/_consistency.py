"""Inference on the binned calibration error by resampling outcomes at fixed confidences.

The answers' confidences p̂ (sorted, cut into contiguous equal-mass bins) are held fixed and
only the outcomes are redrawn, y* ~ Bernoulli(q), all R resamples at once as an (R, n) matrix:

* **test of calibration** (consistency resampling, Bröcker & Smith 2007): q = p̂, the model's
  own confidences. The statistic — ECE, or the unclipped debiased CE₂² — is recomputed on each
  resample and p = (1 + #{T* ≥ T}) / (1 + R), a valid Monte Carlo p-value;
* **debiased ECE**: the plug-in less its bias Σ_b w_b (E|ĝ_b + e_b| − |ĝ_b|), e_b ~ N(0, s_b²)
  the bins' noise, at gaps ĝ: the observed gaps d_b = ȳ_b − p̄_b shrunk towards a line in p̄_b
  (positive-part James–Stein on the residuals, so the gaps are as large as the data say,
  not as noisy as the raw ones);
* **intervals** (a bias-corrected parametric bootstrap): q = p̂ + ĝ_b, a world whose
  population value θ_w is known exactly; the whole estimator is recomputed on each resample
  and the bounds are θ̂ − (q_{1−α/2} − θ_w), θ̂ − (q_{α/2} − θ_w) (the basic interval with the
  world's truth; studentized for CE₂²), clipped at 0. When the test does not reject at α the
  lower bound is 0: the data are consistent with calibration.

The target is the binned calibration error of the population conditional on the confidences:
ECE = Σ_b (n_b/n)|E[y − p̂ | bin b]| and CE₂ = √(Σ_b (n_b/n) E[y − p̂ | bin b]²) over the
same equal-mass bins (benchmarks/calibration_coverage.py measures coverage).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

__all__ = ["MIN_PER_BIN", "consistency_inference", "diagram_bins"]

#: Fewest answers per reliability-diagram bin, and per bin below which intervals say "too few".
MIN_PER_BIN = 10
_CELLS = 2_000_000  # resample matrix cells per chunk
_FLOOR = 0.125  # least upper bound above the lower one, as a share of the resamples' range


def diagram_bins(n: int, n_bins: int) -> int:
    """Equal-mass bins for a reliability diagram of n answers: at most ``n_bins``, at least
    :data:`MIN_PER_BIN` answers per bin (n = 20 → 2 bins), never fewer than 1."""
    return int(max(1, min(n_bins, n // MIN_PER_BIN)))


def _bin_terms(sy: np.ndarray, cnt: np.ndarray, pbar: np.ndarray):
    """Per-bin gap d = ȳ − p̄ and its noise variance ȳ(1 − ȳ)/(n_b − 1), from (..., B) sums."""
    ybar = sy / cnt
    noise = np.where(cnt > 1, ybar * (1 - ybar) / np.maximum(cnt - 1, 1), 0.0)
    return ybar - pbar, noise


def _shrunk(d: np.ndarray, noise: np.ndarray, hat: np.ndarray) -> np.ndarray:
    """The gaps shrunk towards their least-squares fit ``d @ hat`` (a line in p̄, or a constant
    with fewer than 5 bins) by the positive-part James–Stein factor 1 − k·s̄²/Σ r_b², k the
    bins less the fit's parameters less 2 (no shrinking when k ≤ 0); vectorised over rows."""
    fit = d @ hat
    resid = d - fit
    k = d.shape[-1] - round(float(np.trace(hat))) - 2
    ss = np.sum(resid**2, axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.clip(1 - k * noise.mean(axis=-1, keepdims=True) / ss, 0, 1)
    lam = np.where((k > 0) & (ss > 0), lam, 1.0)
    return fit + lam * resid


def _abs_mean(g: np.ndarray, s: np.ndarray) -> np.ndarray:
    """E|g + s·Z| for Z ~ N(0, 1): s·√(2/π)·exp(−g²/2s²) + g·erf(g/(s√2)); |g| where s = 0."""
    safe = np.where(s > 0, s, 1.0)
    value = safe * np.sqrt(2 / np.pi) * np.exp(-0.5 * (g / safe) ** 2) + g * erf(
        g / (safe * np.sqrt(2))
    )
    return np.where(s > 0, value, np.abs(g))


def _estimates(sy: np.ndarray, cnt: np.ndarray, pbar: np.ndarray, hat: np.ndarray):
    """Plug-in ECE, debiased ECE, the unclipped debiased CE₂² and its standard error
    √(Σ w_b² (4 max(d_b² − s_b², 0) s_b² + 2 s_b⁴)), vectorised over rows.

    The debiased ECE subtracts the plug-in's bias at the shrunk gaps ĝ, Σ_b w_b (E|ĝ_b + e_b|
    − |ĝ_b|) with e_b ~ N(0, s_b²), the bins' noise — the bias of |·| is largest at a gap of
    0 and fades once |ĝ_b| is a few s_b (Kumar et al. 2019 subtract it at the raw gaps, which
    overstate |g| and so under-correct)."""
    w = cnt / cnt.sum()
    d, noise = _bin_terms(sy, cnt, pbar)
    ece = np.sum(w * np.abs(d), axis=-1)
    g = _shrunk(d, noise, hat)
    bias = np.sum(w * (_abs_mean(g, np.sqrt(noise)) - np.abs(g)), axis=-1)
    se_u = np.sqrt(np.sum(w**2 * (4 * np.clip(d**2 - noise, 0, None) * noise + 2 * noise**2), -1))
    return ece, ece - bias, np.sum(w * (d**2 - noise), axis=-1), se_u


def _hat(pbar: np.ndarray) -> np.ndarray:
    """Projection on a line in p̄ (a constant with fewer than 5 bins)."""
    x = np.column_stack([np.ones(pbar.size), pbar]) if pbar.size >= 5 else np.ones((pbar.size, 1))
    return x @ np.linalg.pinv(x)


def _resampled(rng, probs: list[np.ndarray], starts: np.ndarray, n_resamples: int):
    """Outcome sums per bin, (R, B) for each probability vector, from shared uniforms."""
    n = probs[0].size
    chunk = max(1, _CELLS // max(n, 1))
    out: list[list[np.ndarray]] = [[] for _ in probs]
    for start in range(0, n_resamples, chunk):
        u = rng.random((min(chunk, n_resamples - start), n))
        for slot, q in zip(out, probs, strict=True):
            slot.append(np.add.reduceat((u < q).astype(float), starts, axis=1))
    return [np.concatenate(slot) for slot in out]


def consistency_inference(
    c: np.ndarray,
    y: np.ndarray,
    starts: np.ndarray,
    *,
    n_resamples: int,
    alpha: float,
    rng: np.random.Generator,
) -> dict[str, float | str]:
    """Debiased ECE, intervals and p-values of ECE and CE₂ for answers sorted by confidence
    ``c`` with outcomes ``y`` in contiguous bins starting at ``starts``.

    Returns ece_debiased, ece_low, ece_high, ece_pvalue, ce2_debiased_low, ce2_debiased_high,
    ce2_debiased_pvalue and ``interval_note`` ("too few answers ..." when a bin holds fewer than
    :data:`MIN_PER_BIN` answers: the bounds are then the whole range [0, 1], never a point)."""
    cnt = np.add.reduceat(np.ones_like(c), starts)
    pbar = np.add.reduceat(c, starts) / cnt
    hat = _hat(pbar)
    sy = np.add.reduceat(y, starts)
    ece, ece_db, u, se_u = (float(v) for v in _estimates(sy, cnt, pbar, hat))
    gaps = _shrunk(*_bin_terms(sy, cnt, pbar), hat)
    world = np.clip(c + np.repeat(gaps, cnt.astype(int)), 0.0, 1.0)
    true_gap = np.add.reduceat(world, starts) / cnt - pbar
    w = cnt / cnt.sum()
    theta = {"ece": float(np.sum(w * np.abs(true_gap))), "ce2": float(np.sum(w * true_gap**2))}
    null_sums, world_sums = _resampled(rng, [c, world], starts, n_resamples)
    null_ece, _, null_u, _ = _estimates(null_sums, cnt, pbar, hat)
    _, boot_ece, boot_u, boot_se = _estimates(world_sums, cnt, pbar, hat)
    tol = 1e-12
    p_ece = (1 + np.sum(null_ece >= ece - tol)) / (1 + n_resamples)
    p_u = (1 + np.sum(null_u >= u - tol)) / (1 + n_resamples)
    out: dict[str, float | str] = {
        "ece_debiased": max(ece_db, 0.0),
        "ece_pvalue": float(p_ece),
        "ce2_debiased_pvalue": float(p_u),
        "interval_note": "",
    }
    # ECE: basic interval with the world's truth; CE₂²: studentized (its spread grows with
    # the gaps, so the resamples' t = (U* − θ_w)/se* is the steadier pivot)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_u = np.where(boot_se > 0, (boot_u - theta["ce2"]) / boot_se, 0.0)
    for name, est, pivot, scale, boot, pvalue in (
        ("ece", ece_db, boot_ece - theta["ece"], 1.0, boot_ece, p_ece),
        ("ce2_debiased", u, t_u, se_u, boot_u, p_u),
    ):
        q_lo, q_hi = np.quantile(pivot, [alpha / 2, 1 - alpha / 2])
        low, high = est - q_hi * scale, est - q_lo * scale
        # the interval falls below 0 when the estimate is far below its expectation: keep a
        # sliver of the resamples' spread above the lower bound, never a point at 0
        spread = float(np.subtract(*np.quantile(boot, [1 - alpha / 2, alpha / 2])))
        high = max(high, max(low, 0.0) + _FLOOR * spread)
        low = 0.0 if pvalue > alpha else max(low, 0.0)
        if name == "ce2_debiased":
            low, high = np.sqrt(low), np.sqrt(high)
        out[f"{name}_low"], out[f"{name}_high"] = float(low), float(min(high, 1.0))
    if cnt.min() < MIN_PER_BIN:
        out.update(ece_low=0.0, ece_high=1.0, ce2_debiased_low=0.0, ce2_debiased_high=1.0)
        out["interval_note"] = f"too few answers (< {MIN_PER_BIN} per bin) for an interval"
    return out
