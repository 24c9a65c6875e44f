"""Calibration of multiple-choice answers from the stored per-choice log-likelihoods.

The confidence of an answer is the softmax of the choices' log-likelihoods at the chosen choice,
p̂ = exp(ℓ_chosen) / Σ_j exp(ℓ_j) (HELM, Liang et al. 2022; Guo et al. 2017, "On Calibration of
Modern Neural Networks"), and its outcome y the stored correctness metric (``acc``). So imported
lm-eval runs, which carry the log-likelihoods, are calibrated the same way as assay's own.

* ECE with equal-mass bins (B bins of ≈ n/B answers; Nixon et al. 2019, Roelofs et al. 2022):
  ECE = Σ_b (n_b/n) |ȳ_b − p̄_b|; MCE = max_b |ȳ_b − p̄_b|.
* Debiased L2 calibration error (Kumar, Liang & Ma 2019, "Verified Uncertainty Calibration"):
  CE₂² = Σ_b (n_b/n) [(ȳ_b − p̄_b)² − ȳ_b(1 − ȳ_b)/(n_b − 1)], clipped at 0; the plug-in
  Σ_b (n_b/n)(ȳ_b − p̄_b)² overstates the error by the bins' sampling noise.
* Brier score of the top label, BS = mean (p̂ − y)², with Murphy's (1973) decomposition
  BS = REL − RES + UNC + WB over the same bins: REL = Σ (n_b/n)(p̄_b − ȳ_b)²,
  RES = Σ (n_b/n)(ȳ_b − ȳ)², UNC = ȳ(1 − ȳ), and WB the within-bin term (variance minus
  covariance of p̂ inside bins; Stephenson et al. 2008) that makes the sum exact.
* Selective prediction (El-Yaniv & Wiener 2010; Geifman & El-Yaniv 2017): answers sorted by
  confidence, risk(k) = errors among the k most confident / k; AURC = (1/n) Σ_k risk(k) and
  E-AURC = AURC − AURC* (AURC* of the oracle order, errors last).

Inference on ECE and CE₂ (:mod:`._consistency`): p-values of a test of calibration by
consistency resampling (Bröcker & Smith 2007), a debiased ECE and bias-corrected parametric
bootstrap intervals that cover the population's binned error (0 for a calibrated model).
The other measures: bootstrap over documents (over clusters when ``cluster_id`` exists) with
the bins of the full sample — basic interval for the MCE (:func:`_intervals`), percentile for
the rest; paired differences between two models use the same resampled documents for both
(:func:`_paired_interval`; the ECE compared debiased, see :data:`COMPARE_NOTE`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import digamma

from assay.core import accepts_confidence, require_columns
from assay.errors import InputError

from ._bias import _lists_to_matrix
from ._consistency import (
    _bin_terms,
    _estimates,
    _hat,
    _resampled,
    _shrunk,
    consistency_inference,
    diagram_bins,
)
from ._estimators import _codes, resample_counts, wilson_ci
from ._results import ResultMixin
from ._tidy import select

__all__ = [
    "CalibrationComparison",
    "CalibrationResult",
    "calibration",
    "calibration_points",
    "calibration_scores",
    "compare_calibration",
]

#: The scalar measures with bootstrap intervals, in table order.
MEASURES = ("ece", "mce", "ce2_debiased", "brier", "aurc", "e_aurc")
#: What the paired ECE interval covers (docs/stats.md: an audit's simulation, 200 runs each).
COMPARE_NOTE = (
    "ece_debiased: difference of debiased ECEs (plug-in ECEs are biased differently per model); "
    "its nominal 95% interval covered 88% at a true difference of 0.06 and 92% at 0 (600 docs): "
    "below its level; ce2_debiased covered 95% and 100%, so test a difference on ce2_debiased"
)
COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass
class CalibrationResult(ResultMixin):
    """Calibration per model and task.

    ``table``: one row per (model, task) with n, accuracy, confidence (mean p̂), ece, mce,
    ce2 (plug-in L2), ce2_debiased, brier, reliability, resolution, uncertainty, within_bin,
    aurc, e_aurc, and with resamples ``<measure>_low`` / ``<measure>_high`` bounds, the
    debiased ``ece_debiased``, ``ece_pvalue`` / ``ce2_debiased_pvalue`` (test of calibration)
    and ``interval_note`` ("too few answers ..." when the ECE / CE₂ bounds are [0, 1]).
    ``bins``: (model, task, bin, n, confidence, accuracy, gap, acc_low, acc_high) — the
    reliability diagram, in equal-mass bins of at least 10 answers (at most ``n_bins``).
    ``risk_coverage``: (model, task, coverage, selective_accuracy, risk).
    """

    table: pd.DataFrame
    bins: pd.DataFrame
    risk_coverage: pd.DataFrame
    n_bins: int
    n_resamples: int
    confidence_level: float


@dataclass
class CalibrationComparison(ResultMixin):
    """model_a − model_b on each measure, on the documents both answered: ``table`` has
    measure (ece_debiased in place of the plug-in ece), a, b, diff, ci_low, ci_high, pvalue
    (paired bootstrap, 2·min of (1 + #)/(1 + R) either side); ``interval_note`` says what the
    ECE interval covers."""

    model_a: str
    model_b: str
    task: str
    n_docs: int
    table: pd.DataFrame
    confidence_level: float
    interval_note: str = COMPARE_NOTE


def calibration_points(samples: pd.DataFrame, *, metric: str = "acc") -> pd.DataFrame:
    """One row per scored multiple-choice sample: model, task, doc_id, cluster_id, confidence
    (softmax of ``choice_logprobs`` at the chosen position — ``chosen_position``, else the
    argmax) and correct (``metric.<metric>``). Rows without log-likelihoods are dropped."""
    col = f"metric.{metric}"
    require_columns(samples, ["model", "task", "doc_id", "choice_logprobs"], name="samples")
    if col not in samples:
        raise InputError(f"samples have no {col} column (metric {metric!r} was not scored)")
    df = samples.reset_index(drop=True)
    ll = _lists_to_matrix(df["choice_logprobs"])
    has = ~np.isnan(ll).all(axis=1)
    filled = np.where(np.isnan(ll), -np.inf, ll)
    argmax = np.argmax(filled, axis=1).astype(float)
    chosen = (
        pd.to_numeric(df["chosen_position"], errors="coerce").to_numpy(float)
        if "chosen_position" in df
        else np.full(len(df), np.nan)
    )
    chosen = np.where(np.isnan(chosen), argmax, chosen)
    valid = has & (chosen >= 0) & (chosen < ll.shape[1])
    top = np.where(has, filled.max(axis=1), 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        probs = np.exp(filled - top[:, None])
        probs /= probs.sum(axis=1, keepdims=True)
    idx = np.where(valid, chosen, 0).astype(int)
    confidence = np.where(valid, probs[np.arange(len(df)), idx], np.nan)
    correct = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    keep = valid & ~np.isnan(confidence) & ~np.isnan(correct)
    out = pd.DataFrame(
        {
            "model": df["model"].astype(str),
            "task": df["task"].astype(str),
            "doc_id": df["doc_id"].astype(str),
            "cluster_id": df.get("cluster_id"),
            "confidence": confidence,
            "correct": correct,
        }
    )[keep]
    if len(out) and not np.isin(out["correct"].to_numpy(), (0.0, 1.0)).all():
        raise InputError(f"calibration needs a 0/1 correctness metric; {col} is not binary")
    return out.reset_index(drop=True)


def _from_bin_sums(cnt, sc, sy, total_sq):
    """The binned measures from per-bin sums, vectorised over leading (resample) axes.

    cnt, sc, sy: (..., B) counts and sums of p̂ and y per bin; total_sq = Σ (p̂ − y)².
    Returns a dict of arrays (...,)."""
    n = cnt.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = cnt / n[..., None]
        pbar = np.where(cnt > 0, sc / cnt, 0.0)
        ybar = np.where(cnt > 0, sy / cnt, 0.0)
        gap = np.abs(ybar - pbar)
        noise = np.where(cnt > 1, ybar * (1 - ybar) / np.maximum(cnt - 1, 1), 0.0)
        yall = sy.sum(axis=-1) / n
        rel = np.sum(w * (pbar - ybar) ** 2, axis=-1)
        res = np.sum(w * (ybar - yall[..., None]) ** 2, axis=-1)
        unc = yall * (1 - yall)
        brier = total_sq / n
    return {
        "ece": np.sum(w * gap, axis=-1),
        "mce": np.max(np.where(cnt > 0, gap, 0.0), axis=-1),
        "ce2": np.sqrt(rel),
        "ce2_debiased": np.sqrt(
            np.clip(np.sum(w * ((ybar - pbar) ** 2 - noise), axis=-1), 0, None)
        ),
        "brier": brier,
        "reliability": rel,
        "resolution": res,
        "uncertainty": unc,
        "within_bin": brier - (rel - res + unc),
        "accuracy": yall,
        "confidence": sc.sum(axis=-1) / n,
    }


def _aurc(weights: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """AURC of rows sorted by decreasing confidence, for (R, n) row weights w (how often each
    row is drawn), counting each copy at its own coverage: a row with W_prev copies and E_prev
    errors before it adds Σ_{j=1..w} (E_prev + j·e)/(W_prev + j) =
    e·w + (E_prev − e·W_prev)(H(W_prev + w) − H(W_prev)), H the harmonic numbers
    (H(a + w) − H(a) = ψ(a + w + 1) − ψ(a + 1)). With w = 1 it is (1/n) Σ_k risk(k)."""
    cum_w = np.cumsum(weights, axis=-1) - weights
    cum_e = np.cumsum(weights * errors, axis=-1) - weights * errors
    harmonic = digamma(cum_w + weights + 1) - digamma(cum_w + 1)
    total = errors * weights + (cum_e - errors * cum_w) * harmonic
    return total.sum(axis=-1) / weights.sum(axis=-1)


def _oracle_aurc(right: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """AURC of the oracle order (R right answers, then m wrong ones):
    (1/W) Σ_{k=1..m} k/(R + k) = (m − R(ψ(R + m + 1) − ψ(R + 1))) / (R + m)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (wrong - right * (digamma(right + wrong + 1) - digamma(right + 1))) / (right + wrong)


class _Prepared:
    """One model–task's answers sorted by increasing confidence, so the equal-mass bins are
    contiguous blocks (B bins of ⌊n/B⌋ or ⌈n/B⌉ answers, ties kept in input order) and the
    reverse order is the one the risk–coverage curve needs; plus the resampling units."""

    def __init__(self, pts: pd.DataFrame, n_bins: int, units: np.ndarray | None = None):
        confidence = pts["confidence"].to_numpy(float)
        asc = np.argsort(confidence, kind="stable")
        self.c = confidence[asc]
        self.y = pts["correct"].to_numpy(float)[asc]
        n = self.c.size
        self.n_bins = min(n_bins, n)
        self.bin = np.arange(n) * self.n_bins // max(n, 1)
        self.starts = np.flatnonzero(np.diff(self.bin, prepend=-1))
        if units is None:  # resample clusters when there are any, else documents
            clusters = pts["cluster_id"]
            use = clusters if clusters.notna().any() else pts["doc_id"]
            units = use.where(use.notna(), pts["doc_id"]).astype(str).to_numpy(dtype=object)
            unit, self.n_units = _codes(units)
        else:  # codes into a unit list shared with another model (paired comparison)
            unit, self.n_units = np.asarray(units, dtype=int), int(np.max(units)) + 1
        self.unit = unit[asc]

    def measures(self, row_w: np.ndarray) -> dict[str, np.ndarray]:
        """All measures for (R, n) row weights (R resamples; a row of ones is the sample)."""
        cnt = np.add.reduceat(row_w, self.starts, axis=1)
        sc = np.add.reduceat(row_w * self.c, self.starts, axis=1)
        sy = np.add.reduceat(row_w * self.y, self.starts, axis=1)
        out = _from_bin_sums(cnt, sc, sy, row_w @ (self.c - self.y) ** 2)
        out["aurc"] = _aurc(row_w[:, ::-1], 1.0 - self.y[::-1])
        right = row_w @ self.y
        out["e_aurc"] = out["aurc"] - _oracle_aurc(right, row_w.sum(axis=1) - right)
        return out

    def boot(self, rng: np.random.Generator, n_resamples: int, unit_counts=None):
        """Measures over ``n_resamples`` resamples of the units (or the given unit counts)."""
        chunk = max(1, 2_000_000 // max(self.c.size, 1))
        parts = []
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            counts = (
                resample_counts(rng, self.n_units, size)
                if unit_counts is None
                else unit_counts[start : start + size]
            )
            parts.append(self.measures(counts[:, self.unit].astype(float)))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _intervals(est: dict, boot: dict, alpha: float) -> dict[str, float]:
    """``<measure>_low`` / ``_high``: percentile bootstrap, except the ECE and MCE, whose
    plug-ins are biased upwards by the bins' noise (so are their resamples, about as much):
    the basic interval [2θ̂ − q_{1−α/2}, 2θ̂ − q_{α/2}], clipped at 0, corrects that bias to
    first order. The ECE and CE₂ bounds are then replaced by :func:`consistency_inference`'s."""
    out = {}
    for k in MEASURES:
        lo, hi = (float(v) for v in np.quantile(boot[k], [alpha / 2, 1 - alpha / 2]))
        if k in ("ece", "mce"):
            lo, hi = max(2 * est[k] - hi, 0.0), max(2 * est[k] - lo, 0.0)
        out[f"{k}_low"], out[f"{k}_high"] = lo, hi
    return out


def _inference(prep: _Prepared, est: dict, n_resamples: int, alpha: float, seed: int) -> dict:
    """Bootstrap bounds of every measure, then the ECE and CE₂ bounds, the debiased ECE and
    the calibration p-values from outcome resampling (:func:`consistency_inference`)."""
    out = _intervals(est, prep.boot(np.random.default_rng(seed), n_resamples), alpha)
    rng = np.random.default_rng([seed, 1])
    out.update(
        consistency_inference(
            prep.c, prep.y, prep.starts, n_resamples=n_resamples, alpha=alpha, rng=rng
        )
    )
    return out


def _check(n_bins: int, n_resamples: int, alpha: float) -> None:
    if not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise InputError(f"n_bins {n_bins!r}: must be a whole number >= 1")
    if not isinstance(n_resamples, int | np.integer) or n_resamples < 0:
        raise InputError(f"n_resamples {n_resamples!r}: must be a whole number >= 0")
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha}: must be in (0, 1)")


def calibration_scores(
    confidence,
    correct,
    *,
    n_bins: int = 15,
    n_resamples: int = 0,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float]:
    """The measures (and with ``n_resamples`` their bootstrap bounds) of plain arrays."""
    _check(n_bins, n_resamples, alpha)
    c, y = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if c.shape != y.shape or c.ndim != 1 or c.size == 0:
        raise InputError("confidence and correct must be 1-d arrays of the same, non-zero length")
    pts = pd.DataFrame({"confidence": c, "correct": y, "doc_id": np.arange(c.size).astype(str)})
    pts["cluster_id"] = None
    prep = _Prepared(pts, n_bins)
    est = {k: float(v[0]) for k, v in prep.measures(np.ones((1, c.size))).items()}
    if n_resamples:
        est.update(_inference(prep, est, n_resamples, alpha, seed))
    return est


@accepts_confidence()
def calibration(
    samples: pd.DataFrame,
    *,
    model: str | None = None,
    task: str | None = None,
    metric: str = "acc",
    n_bins: int = 15,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> CalibrationResult:
    """ECE (equal-mass bins), MCE, debiased L2 error, Brier decomposition, reliability diagram
    bins and the risk–coverage curve per model and task, from ``Store.samples()`` rows."""
    _check(n_bins, n_resamples, alpha)
    df = select(select(samples, "model", model), "task", task)
    pts = calibration_points(df, metric=metric)
    if pts.empty:
        raise InputError(
            f"no multiple-choice samples with choice_logprobs and metric.{metric} to calibrate"
        )
    rows, bins, curves = [], [], []
    for (m, t), group in pts.groupby(["model", "task"], sort=True):
        prep = _Prepared(group, n_bins)
        est = {k: float(v[0]) for k, v in prep.measures(np.ones((1, prep.c.size))).items()}
        row = {"model": m, "task": t, "n": int(prep.c.size), "n_units": prep.n_units, **est}
        if n_resamples:
            row.update(_inference(prep, est, n_resamples, alpha, seed))
        rows.append(row)
        n_diagram = diagram_bins(prep.c.size, n_bins)
        in_bin = np.arange(prep.c.size) * n_diagram // prep.c.size
        cnt = np.bincount(in_bin, minlength=n_diagram).astype(float)
        right = np.bincount(in_bin, weights=prep.y, minlength=n_diagram)
        conf = np.bincount(in_bin, weights=prep.c, minlength=n_diagram) / cnt
        lo, hi = wilson_ci(right, cnt, alpha=alpha)
        bins.append(
            pd.DataFrame(
                {
                    "model": m,
                    "task": t,
                    "bin": np.arange(n_diagram),
                    "n": cnt.astype(int),
                    "confidence": conf,
                    "accuracy": right / cnt,
                    "gap": right / cnt - conf,
                    "acc_low": lo,
                    "acc_high": hi,
                }
            )
        )
        k = np.maximum(np.ceil(np.asarray(COVERAGES) * prep.c.size).astype(int), 1)
        cum_right = np.cumsum(prep.y[::-1])[k - 1]
        curves.append(
            pd.DataFrame(
                {
                    "model": m,
                    "task": t,
                    "coverage": COVERAGES,
                    "n": k,
                    "selective_accuracy": cum_right / k,
                    "risk": 1 - cum_right / k,
                }
            )
        )
    return CalibrationResult(
        table=pd.DataFrame(rows),
        bins=pd.concat(bins, ignore_index=True),
        risk_coverage=pd.concat(curves, ignore_index=True),
        n_bins=n_bins,
        n_resamples=n_resamples,
        confidence_level=1 - alpha,
    )


@accepts_confidence()
def compare_calibration(
    samples: pd.DataFrame,
    model_a: str,
    model_b: str,
    *,
    task: str | None = None,
    metric: str = "acc",
    n_bins: int = 15,
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> CalibrationComparison:
    """Paired bootstrap of model_a − model_b on every measure: the documents (or clusters)
    both models answered are resampled once per round and used for both models."""
    _check(n_bins, n_resamples, alpha)
    if n_resamples < 2:
        raise InputError("a paired comparison needs n_resamples >= 2")
    if model_a == model_b:
        raise InputError(f"compare {model_a},{model_b}: give two different models a,b")
    pts = calibration_points(select(samples, "task", task), metric=metric)
    tasks = pts["task"].unique()
    if len(tasks) != 1:
        raise InputError(f"compare calibration on one task: pass task ({', '.join(sorted(tasks))})")
    sides = [pts[pts["model"] == name] for name in (model_a, model_b)]
    for name, side in zip((model_a, model_b), sides, strict=True):
        if side.empty:
            raise InputError(
                f"unknown model {name!r}; available: {', '.join(sorted(pts['model'].unique()))}"
            )
    shared = np.intersect1d(sides[0]["doc_id"].unique(), sides[1]["doc_id"].unique())
    if shared.size < 2:
        raise InputError(f"{model_a} and {model_b} share {shared.size} documents; need 2")
    sides = [s[s["doc_id"].isin(shared)] for s in sides]
    clusters = pd.concat(sides).drop_duplicates("doc_id").set_index("doc_id")["cluster_id"]
    unit_of = clusters.where(clusters.notna(), clusters.index.to_series()).astype(str)
    unit_names = pd.Index(sorted(unit_of.unique()))
    counts = resample_counts(np.random.default_rng(seed), unit_names.size, n_resamples)
    results, preps = [], []
    for side in sides:
        units = side["doc_id"].map(unit_of)
        prep = _Prepared(side, n_bins, units=unit_names.get_indexer(units))
        preps.append(prep)
        est = {k: float(v[0]) for k, v in prep.measures(np.ones((1, prep.c.size))).items()}
        results.append((est, prep.boot(np.random.default_rng(seed), n_resamples, counts)))
    rows = []
    for k in MEASURES:
        d = results[0][1][k] - results[1][1][k]
        a, b = results[0][0][k], results[1][0][k]
        world = a - b if k == "mce" else None  # basic interval, as for one model's MCE
        if k == "ece":  # the plug-ins' biases differ between models: compare debiased ECEs
            rng = np.random.default_rng([seed, 1])
            (a, piv_a), (b, piv_b) = (_ece_pivot(pr, n_resamples, rng) for pr in preps)
            # resamples whose world holds a − b, so the interval is Δ̂ − q(piv_a − piv_b)
            k, d, world = "ece_debiased", (a - b) + (piv_a - piv_b), a - b
        lo, hi, p = _paired_interval(d, a - b, world, alpha)
        rows.append(
            {
                "measure": k,
                "a": a,
                "b": b,
                "diff": a - b,
                "ci_low": float(lo),
                "ci_high": float(hi),
                "pvalue": float(p),
            }
        )
    return CalibrationComparison(
        model_a=model_a,
        model_b=model_b,
        task=str(tasks[0]),
        n_docs=int(shared.size),
        table=pd.DataFrame(rows),
        confidence_level=1 - alpha,
    )


def _ece_pivot(prep: _Prepared, n_resamples: int, rng: np.random.Generator):
    """The unclipped debiased ECE and its pivots θ̂* − θ_w from :mod:`._consistency`'s world
    y* ~ Bernoulli(p̂ + ĝ_b) (whose binned ECE θ_w is known), the bias-corrected parametric
    bootstrap of one model's ECE interval."""
    cnt = np.diff(prep.starts, append=prep.c.size).astype(float)
    pbar = np.add.reduceat(prep.c, prep.starts) / cnt
    hat = _hat(pbar)
    sy = np.add.reduceat(prep.y, prep.starts)
    est = float(_estimates(sy, cnt, pbar, hat)[1])
    gaps = _shrunk(*_bin_terms(sy, cnt, pbar), hat)
    world = np.clip(prep.c + np.repeat(gaps, cnt.astype(int)), 0.0, 1.0)
    theta = np.sum(cnt / cnt.sum() * np.abs(np.add.reduceat(world, prep.starts) / cnt - pbar))
    (sums,) = _resampled(rng, [world], prep.starts, n_resamples)
    return est, _estimates(sums, cnt, pbar, hat)[1] - theta


def _paired_interval(d: np.ndarray, est: float, world: float | None, alpha: float):
    """Interval and p-value of a paired difference from its resamples ``d``: percentile, or
    with ``world`` (the difference the resampled population holds exactly) the basic interval
    est − (q − world); p = 2·min of (1 + #)/(1 + R) on either side, never 0."""
    shift = d if world is None else est - (d - world)
    lo, hi = np.quantile(shift, [alpha / 2, 1 - alpha / 2])
    tail = min(np.sum(shift <= 0), np.sum(shift >= 0))
    return float(lo), float(hi), min(1.0, 2 * (1 + tail) / (1 + d.size))
