"""How far to trust an LLM judge: position consistency, length-controlled win rate and the
mean pointwise rating (agreement with humans and self-preference: :mod:`._judge_agreement`).

Every interval is a percentile bootstrap over prompts (all of a prompt's battles move
together), drawn as multinomial weights on per-prompt sufficient statistics, so the replicates
are one matrix product. An interval of a proportion is never narrower than its exact
(Clopper–Pearson) interval: few outcomes that all agree give a wide interval, not [0, 0].
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaincinv, expit, ndtr  # not scipy.stats: slow to import

from assay.core import accepts_confidence, attributes
from assay.errors import InputError

__all__ = [
    "LengthControlled",
    "PositionConsistency",
    "RatingSummary",
    "lc_win_rate",
    "mean_ratings",
    "position_consistency",
]

OUTCOME = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie_bothbad": 0.5}


def cluster_weights(n: int, bootstrap: int, seed: int) -> np.ndarray:
    """(1 + B, n) times each of ``n`` clusters is drawn: row 0 the data (ones), then B
    bootstrap resamples."""
    rng = np.random.default_rng(seed)
    per_cluster = np.ones((1 + bootstrap, n))
    if bootstrap:
        drawn = rng.integers(0, n, size=(bootstrap, n)) + (np.arange(bootstrap) * n)[:, None]
        per_cluster[1:] = np.bincount(drawn.ravel(), minlength=bootstrap * n).reshape(-1, n)
    return per_cluster


def resample_weights(codes: np.ndarray, n: int, bootstrap: int, seed: int) -> np.ndarray:
    """(1 + B, n_rows) weights: :func:`cluster_weights` spread to the rows of each cluster."""
    return cluster_weights(n, bootstrap, seed)[:, codes]


def cluster_sums(codes: np.ndarray, n: int, cell: np.ndarray, k: int, values=None) -> np.ndarray:
    """(n, k) sums of ``values`` (default ones) per cluster and cell 0..k−1: what a weight
    matrix from :func:`cluster_weights` multiplies to give every replicate's cell totals."""
    return np.bincount(codes * k + cell, weights=values, minlength=n * k).reshape(n, k)


def interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """Percentile interval of bootstrap values (NaN when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def exact_interval(successes: float, n: float, alpha: float) -> tuple[float, float]:
    """Clopper–Pearson interval of a proportion: never narrower than the data allow (3 of 3
    gives [0.29, 1], not [1, 1]). ``successes`` may count ties as halves."""
    if not n > 0:
        return float("nan"), float("nan")
    low = 0.0 if successes <= 0 else float(betaincinv(successes, n - successes + 1, alpha / 2))
    high = 1.0 if successes >= n else float(betaincinv(successes + 1, n - successes, 1 - alpha / 2))
    return low, high


def at_least_exact(
    ci: tuple[float, float], successes: float, n: float, alpha: float
) -> tuple[float, float]:
    """The bootstrap interval of a proportion widened to contain its Clopper–Pearson
    interval: a percentile bootstrap of few outcomes that all agree has zero width."""
    low, high = exact_interval(successes, n, alpha)
    if not np.isfinite(ci[0]) or not np.isfinite(ci[1]):
        return low, high
    return min(ci[0], low), max(ci[1], high)


def prompt_codes(df: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Cluster codes: the prompt, or each battle alone where it has no prompt_id."""
    key = df["prompt_id"].astype(object) if "prompt_id" in df.columns else pd.Series(None, df.index)
    key = key.where(key.notna(), pd.Series("\x00row" + df.index.astype(str), index=df.index))
    codes, uniques = pd.factorize(key)
    return codes, len(uniques)


def battle_counts(df: pd.DataFrame) -> np.ndarray:
    """Battles per row as floats: a count table's ``count`` (missing: 1), else ones."""
    if "count" not in df.columns:
        return np.ones(len(df))
    return pd.to_numeric(df["count"], errors="coerce").fillna(1).to_numpy(dtype=float)


def counted_weights(
    df: pd.DataFrame, counts: np.ndarray, bootstrap: int, seed: int
) -> tuple[np.ndarray, int]:
    """(1 + B, n_rows) weights and the number of clusters, as :func:`resample_weights` gives
    the rows repeated ``counts`` times (the same draws; each row's weight is the sum of its
    copies'): the copies of a row with a prompt share its cluster, those of a row without
    one are clusters of their own."""
    key = df["prompt_id"].astype(object) if "prompt_id" in df.columns else pd.Series(None, df.index)
    has = key.notna().to_numpy()
    code, _ = pd.factorize(key)
    first_row = np.flatnonzero(has & ~key.duplicated().to_numpy())  # in order of first sight
    new = np.where(has, 0, counts).astype(np.int64)  # clusters each row opens
    new[first_row] = 1
    start = np.cumsum(new) - new
    first_of_code = np.empty(len(first_row), dtype=np.int64)
    first_of_code[code[first_row]] = first_row
    if has.any():  # a prompt's rows: the cluster its first row opened
        start[has] = start[first_of_code[code[has]]]
    n = int(new.sum())
    per_cluster = np.cumsum(cluster_weights(n, bootstrap, seed), axis=1)
    per_cluster = np.concatenate([np.zeros((len(per_cluster), 1)), per_cluster], axis=1)
    single = per_cluster[:, start + 1] - per_cluster[:, start]
    spread = per_cluster[:, start + np.where(has, 0, new)] - per_cluster[:, start]
    return np.where(has, single * counts, spread), n


# -- position ---------------------------------------------------------------------------------


@dataclass
class PositionConsistency:
    """The two verdicts of each pair (one per answer order), compared.

    ``agreement``: share of pairs whose verdicts name the same answer (or both tie).
    ``first_rate``: share of the decisive verdicts that pick the answer shown first (0.5 for a
    judge without position bias, whatever the answers' quality, since each pair is shown in
    both orders); ``pvalue`` tests it against 0.5 with a cluster-robust (by prompt) z.
    ``same_position``: pairs whose two verdicts chose the same position (A, A or B, B).
    """

    n_pairs: int
    agreement: float
    agreement_ci: tuple[float, float]
    first_rate: float
    first_ci: tuple[float, float]
    pvalue: float
    same_position: float
    tie_rate: float
    confidence_level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {  # every field, the intervals as lists
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }


@accepts_confidence()
def position_consistency(
    judged: pd.DataFrame, *, bootstrap: int = 200, seed: int = 0, alpha: float = 0.05
) -> PositionConsistency:
    """Position-swap analysis of pairs judged in both orders (columns verdict_ab, verdict_ba
    in {A, B, tie}; MT-Bench's consistency, Zheng et al. 2023; Shi et al. 2024)."""
    if "verdict_ba" not in judged.columns:
        raise InputError("judged pairs: no 'verdict_ba' column; judge with both positions")
    both = judged[judged["verdict_ab"].notna() & judged["verdict_ba"].notna()]
    if both.empty:
        raise InputError("judged pairs: no pair was judged in both positions")
    ab = both["verdict_ab"].to_numpy(dtype=object)
    ba = both["verdict_ba"].to_numpy(dtype=object)
    agree = (
        ((ab == "A") & (ba == "B")) | ((ab == "B") & (ba == "A")) | ((ab == "tie") & (ba == "tie"))
    )
    first = (ab == "A").astype(float) + (ba == "A")
    decisive = np.isin(ab, ["A", "B"]).astype(float) + np.isin(ba, ["A", "B"])
    same = ((ab == "A") & (ba == "A")) | ((ab == "B") & (ba == "B"))
    codes, n = prompt_codes(both)
    stats = np.stack([agree, np.ones(len(agree)), first, decisive], axis=1)
    sums = np.stack([np.bincount(codes, col, minlength=n) for col in stats.T], axis=1)
    totals = cluster_weights(n, bootstrap, seed) @ sums
    agreement = totals[:, 0] / totals[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        first_rate = totals[:, 2] / totals[:, 3]
    # ratio estimator's cluster-robust SE: Σ_c (f_c − r d_c)² / (Σ d)², times n / (n − 1)
    r = first_rate[0]
    resid = np.bincount(codes, first - r * decisive, minlength=n)
    total = decisive.sum()
    se = np.sqrt(n / max(n - 1, 1) * (resid**2).sum()) / total if total else np.nan
    if se and np.isfinite(se):
        pvalue = float(2 * ndtr(-abs(r - 0.5) / se))
    elif total:  # every prompt's verdicts agree: no spread to estimate; the exact binomial test
        from scipy.stats import binomtest

        pvalue = float(binomtest(int(first.sum()), int(total), 0.5).pvalue)
    else:
        pvalue = float("nan")
    return PositionConsistency(
        n_pairs=int(len(both)),
        agreement=float(agreement[0]),
        agreement_ci=at_least_exact(
            interval(agreement[1:], alpha), float(agree.sum()), len(agree), alpha
        ),
        first_rate=float(r),
        first_ci=at_least_exact(interval(first_rate[1:], alpha), first.sum(), total, alpha),
        pvalue=pvalue,
        same_position=float(same.mean()),
        tie_rate=float(((ab == "tie").sum() + (ba == "tie").sum()) / (2 * len(both))),
        confidence_level=1 - alpha,
    )


# -- length control ---------------------------------------------------------------------------


@dataclass
class LengthControlled:
    """Win rates against ``baseline``, raw and length-controlled (AlpacaEval-LC)."""

    baseline: str
    table: pd.DataFrame
    length_scale: float
    confidence_level: float = 0.95
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **attributes(self, "baseline", "length_scale", "confidence_level"),
            "win_rates": self.table.to_dict(orient="records"),
            **self.info,
        }


def _fit_logistic(
    y: np.ndarray, x: np.ndarray, starts: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per group (rows sorted by group, group g from ``starts[g]``) and weight row: logit
    P(y) = α + β x by Newton (fractional y allowed; a 1e-3 ridge keeps separable groups
    finite). Row 0 (the data) is fitted first and starts the bootstrap rows. Returns α, β of
    shape (R, n_groups)."""
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(y))))
    ridge = 1e-3

    def newton(w: np.ndarray, alpha: np.ndarray, beta: np.ndarray):
        for _ in range(50):
            p = expit(alpha[:, group] + beta[:, group] * x)
            v = w * p * (1 - p)
            r = w * (y - p)
            vx = v * x
            g_a = np.add.reduceat(r, starts, axis=1) - ridge * alpha
            g_b = np.add.reduceat(r * x, starts, axis=1) - ridge * beta
            h_aa = np.add.reduceat(v, starts, axis=1) + ridge
            h_ab = np.add.reduceat(vx, starts, axis=1)
            h_bb = np.add.reduceat(vx * x, starts, axis=1) + ridge
            det = h_aa * h_bb - h_ab**2
            step_a = (h_bb * g_a - h_ab * g_b) / det
            step_b = (h_aa * g_b - h_ab * g_a) / det
            alpha = np.clip(alpha + step_a, -15, 15)
            beta = np.clip(beta + step_b, -15, 15)
            if max(np.abs(step_a).max(), np.abs(step_b).max()) < 1e-7:
                break
        return alpha, beta

    zero = np.zeros((1, len(starts)))
    alpha0, beta0 = newton(w[:1], zero, zero)
    alphas, betas = [alpha0], [beta0]
    block = max(1, 2_000_000 // max(len(y), 1))  # replicates per block: arrays stay small
    for first in range(1, len(w), block):
        rows = w[first : first + block]
        a, b = newton(rows, np.repeat(alphas[0], len(rows), 0), np.repeat(betas[0], len(rows), 0))
        alphas.append(a)
        betas.append(b)
    return np.vstack(alphas), np.vstack(betas)


@accepts_confidence()
def lc_win_rate(
    judged: pd.DataFrame,
    baseline: str,
    *,
    length_scale: float | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> LengthControlled:
    """Length-controlled win rate against ``baseline`` (Dubois et al. 2024, AlpacaEval-LC).

    For each model m, the outcome y ∈ {1, ½, 0} (win, tie, loss against the baseline) is
    regressed by a logistic GLM  logit E[y] = α_m + β_m·tanh(Δ / s), Δ = len_m − len_baseline
    in characters and s = ``length_scale`` (default: the standard deviation of Δ over all
    models). The length-controlled win rate is the prediction at Δ = 0, σ(α_m); β_m is how
    much the judge rewards length. Intervals: bootstrap over prompts (paired across models).
    AlpacaEval's instruction-difficulty term is left out.
    """
    for name in ("model_a", "model_b", "winner", "len_a", "len_b"):
        if name not in judged.columns:
            raise InputError(f"judged pairs: missing column {name!r} (lengths are needed)")
    rows = judged[(judged["model_a"] == baseline) ^ (judged["model_b"] == baseline)]
    rows = rows[rows["len_a"].notna() & rows["len_b"].notna()].reset_index(drop=True)
    if rows.empty:
        raise InputError(f"no judged pair with lengths has {baseline!r} on one side")
    a_is_model = (rows["model_b"] == baseline).to_numpy()
    model = np.where(a_is_model, rows["model_a"], rows["model_b"])
    score_a = rows["winner"].map(OUTCOME).to_numpy(dtype=float)
    if np.isnan(score_a).any():
        raise InputError("judged pairs: a winner other than model_a, model_b or tie")
    y = np.where(a_is_model, score_a, 1 - score_a)
    cnt = battle_counts(rows)
    len_a, len_b = rows["len_a"].to_numpy(dtype=float), rows["len_b"].to_numpy(dtype=float)
    delta = np.where(a_is_model, len_a - len_b, len_b - len_a)
    spread = np.sqrt(np.average((delta - np.average(delta, weights=cnt)) ** 2, weights=cnt))
    scale = float(length_scale) if length_scale else float(spread)
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    x = np.tanh(delta / scale)
    group, models = pd.factorize(model, sort=True)
    order = np.argsort(group, kind="stable")
    rows, y, x, group, delta = rows.iloc[order], y[order], x[order], group[order], delta[order]
    cnt = cnt[order]
    w, n = counted_weights(rows, cnt, bootstrap, seed)
    starts = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=len(models)))[:-1]])
    counts = np.bincount(group, cnt, minlength=len(models))  # battles per model
    a, b = _fit_logistic(y, x, starts, w)
    lc = expit(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.add.reduceat(w * y, starts, axis=1) / np.add.reduceat(w, starts, axis=1)
    mean_delta = np.bincount(group, delta * cnt, minlength=len(models)) / counts
    table = []
    for m, name in enumerate(models):
        wins = float((y * cnt)[group == m].sum())
        raw_ci = at_least_exact(interval(raw[1:, m], alpha), wins, counts[m], alpha)
        lc_ci = interval(lc[1:, m], alpha)
        if np.ptp(y[group == m]) == 0:  # outcomes that all agree: nothing to resample
            lc_ci = at_least_exact(lc_ci, wins, counts[m], alpha)
        table.append(
            {
                "model": str(name),
                "n": int(counts[m]),
                "win_rate": float(raw[0, m]),
                "win_low": raw_ci[0],
                "win_high": raw_ci[1],
                "lc_win_rate": float(lc[0, m]),
                "lc_low": lc_ci[0],
                "lc_high": lc_ci[1],
                "length_coef": float(b[0, m]),
                "mean_length_diff": float(mean_delta[m]),
            }
        )
    frame = pd.DataFrame(table).sort_values("lc_win_rate", ascending=False, ignore_index=True)
    return LengthControlled(baseline, frame, scale, 1 - alpha, {"n_prompts": n})


# -- pointwise ratings --------------------------------------------------------------------------


@dataclass
class RatingSummary:
    """Mean pointwise rating per model with bootstrap intervals over prompts."""

    table: pd.DataFrame
    judge: str
    confidence_level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {
            **attributes(self, "judge", "confidence_level"),
            "ratings": self.table.to_dict(orient="records"),
        }


@accepts_confidence()
def mean_ratings(
    rated: pd.DataFrame, *, bootstrap: int = 200, seed: int = 0, alpha: float = 0.05
) -> RatingSummary:
    """Per model: answers rated, unparsed (NaN) ratings, mean rating and its interval (one
    bootstrap over prompts shared by all models, so the intervals are paired), best first."""
    for name in ("prompt_id", "model", "rating"):
        if name not in rated.columns:
            raise InputError(f"ratings: missing column {name!r}")
    ok = rated[rated["rating"].notna()].reset_index(drop=True)
    if ok.empty:
        raise InputError("ratings: no answer got a rating")
    group, models = pd.factorize(ok["model"], sort=True)
    codes, n = prompt_codes(ok)
    w = cluster_weights(n, bootstrap, seed)
    y = ok["rating"].to_numpy(dtype=float)
    k = len(models)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (w @ cluster_sums(codes, n, group, k, y)) / (w @ cluster_sums(codes, n, group, k))
    unparsed = rated["rating"].isna().groupby(rated["model"]).sum()
    rows = []
    for m, name in enumerate(models):
        low, high = interval(means[1:, m], alpha)
        rows.append(
            {
                "model": str(name),
                "n": int((group == m).sum()),
                "unparsed": int(unparsed.get(name, 0)),
                "mean": float(means[0, m]),
                "ci_low": low,
                "ci_high": high,
            }
        )
    table = pd.DataFrame(rows).sort_values("mean", ascending=False, ignore_index=True)
    judge = str(rated["judge"].iloc[0]) if "judge" in rated.columns and len(rated) else ""
    return RatingSummary(table, judge, 1 - alpha)
