"""Forecasting abilities that look emergent: PassUntil and COD.

- PassUntil (Hu et al. 2024, "Unlock Predictable Scaling from Emergent Abilities"): sample each
  item repeatedly (until it passes) so tiny pass rates become measurable; the pass rate follows
  log(-log P(N)) = c + gamma·log N.
- COD (Xu et al. 2025, "Unveiling Downstream Performance Scaling of LLMs: A Clustering-Based
  Perspective"): cluster items by their pass-rate profile across small models, drop clusters that
  do not emerge or do not extrapolate, fit each remaining cluster, then map the predictable
  subset's accuracy to the full benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from assay.core import accepts_confidence, attributes, require_columns
from assay.errors import InputError

from ._sigmoid import Sigmoid, fit_sigmoid

__all__ = ["CodForecast", "PassUntilFit", "cod_forecast", "pass_until"]


@dataclass
class PassUntilFit:
    """log(-log P) = intercept + slope·log N, from pooled pass rates per model size."""

    intercept: float
    slope: float
    ci: dict[str, tuple[float, float]]
    table: pd.DataFrame  # params, successes, trials, pass_rate, low, high
    n_items: int
    draws: np.ndarray  # (B, 2): intercept, slope
    level: float = 0.95  # of ``ci`` and the table's low/high

    def predict(self, params: Any, level: float = 0.9) -> pd.DataFrame:
        n = np.atleast_1d(np.asarray(params, float))
        ln = np.log(n)
        point = np.exp(-np.exp(self.intercept + self.slope * ln))
        sims = np.exp(-np.exp(self.draws[:, :1] + self.draws[:, 1:] * ln[None, :]))
        low, high = np.quantile(sims, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return pd.DataFrame({"params": n, "prediction": point, "low": low, "high": high})

    def interval_dict(self, level: float | None = None) -> dict[str, Any]:
        return {
            "level": self.level if level is None else level,
            "method": "percentile bootstrap over items (the line refitted per draw)",
            "n_draws": len(self.draws),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": "passuntil",
            "params": {"intercept": self.intercept, "slope": self.slope},
            "ci": {k: list(v) for k, v in self.ci.items()},
            "interval": self.interval_dict(),
            "n": self.n_items,
            "table": self.table.to_dict(orient="records"),
        }


def _loglog_line(rates: np.ndarray, ln: np.ndarray) -> np.ndarray:
    """Row-wise OLS of log(-log rate) on ln: rates (B, M) -> (B, 2) intercept, slope."""
    z = np.log(-np.log(np.clip(rates, 1e-300, 1 - 1e-12)))
    xc = ln - ln.mean()
    slope = (z - z.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    return np.column_stack([z.mean(axis=1) - slope * ln.mean(), slope])


@accepts_confidence("level")
def pass_until(
    data: pd.DataFrame,
    *,
    params: str = "params",
    item: str = "item",
    successes: str = "successes",
    trials: str = "trials",
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> PassUntilFit:
    """Fit PassUntil's law to repeated-sampling counts (one row per model size and item).

    The pass rate of a model is the pooled estimate sum(successes)/sum(trials) over items (the
    maximum-likelihood rate for "sample until K passes"); intervals resample items."""
    require_columns(data, [params, item, successes, trials])
    data = _checked_counts(data, params, item, successes, trials)
    succ = data.pivot_table(index=item, columns=params, values=successes, aggfunc="sum")
    tri = data.pivot_table(index=item, columns=params, values=trials, aggfunc="sum")
    if succ.shape[1] < 4:
        raise InputError(
            f"PassUntil's line has 2 parameters and needs at least 4 model sizes (parameters "
            f"+ 2); got {succ.shape[1]}"
        )
    s, t = succ.fillna(0).to_numpy(float), tri.fillna(0).to_numpy(float)
    sizes = succ.columns.to_numpy(float)
    ln = np.log(sizes)
    rate = s.sum(axis=0) / t.sum(axis=0)
    if np.any(rate <= 0) or np.any(rate >= 1):
        raise InputError("every model size needs 0 < pass rate < 1: sample more (until a pass)")
    point = _loglog_line(rate[None, :], ln)[0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, s.shape[0], size=(bootstrap, s.shape[0]))
    boot_rates = s[idx].sum(axis=1) / np.maximum(t[idx].sum(axis=1), 1)
    draws = _loglog_line(boot_rates, ln)
    q = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = np.nanquantile(draws, q, axis=0)
    rlo, rhi = np.nanquantile(boot_rates, q, axis=0)
    table = pd.DataFrame(
        {
            "params": sizes,  # as given (not rebuilt through exp(log N))
            "successes": s.sum(0),
            "trials": t.sum(0),
            "pass_rate": rate,
            "low": rlo,
            "high": rhi,
        }
    )
    ci = {"intercept": (float(lo[0]), float(hi[0])), "slope": (float(lo[1]), float(hi[1]))}
    return PassUntilFit(float(point[0]), float(point[1]), ci, table, s.shape[0], draws, level)


def _numeric_columns(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``data`` with ``columns`` as numbers (a missing value stays missing); text that is no
    number is a one-line :class:`InputError` naming the data row (1-based, header not counted)
    — it was averaged away or filled with the chance score, silently."""
    num = data[columns].apply(pd.to_numeric, errors="coerce")
    bad = (num.isna() & data[columns].notna()).to_numpy()
    if bad.any():
        k, j = (int(v) for v in np.argwhere(bad)[0])
        text = str(data[columns[j]].iloc[k])
        raise InputError(f"data row {k + 1}: {columns[j]} {text!r} is not a number")
    return data.assign(**{c: num[c] for c in columns})


def _checked_counts(
    data: pd.DataFrame, params: str, item: str, successes: str, trials: str
) -> pd.DataFrame:
    """``data`` with numeric sizes and counts; a one-line :class:`InputError` naming the first
    bad row (data row k, 1-based, header not counted) otherwise: a size that is not a positive
    number, a count that is missing, not a number, negative, or successes above trials."""
    cols = [params, successes, trials]
    raw = data[cols]
    num = raw.apply(pd.to_numeric, errors="coerce")
    values = num.to_numpy(float)
    checks = [
        (~np.isfinite(values).all(axis=1), "is not a finite number"),
        (values[:, 0] <= 0, "needs a positive model size"),
        ((values[:, 1:] < 0).any(axis=1), "has a negative count"),
        (values[:, 1] > values[:, 2], "has more successes than trials"),
    ]
    for bad, why in checks:
        if bad.any():
            k = int(np.argmax(bad))
            shown = ", ".join(f"{c}={raw[c].iloc[k]}" for c in cols)
            what = f"{why} ({shown})"
            if why == "is not a finite number":
                col = cols[int(np.argmax(~np.isfinite(values[k])))]
                what = f"{col} {str(raw[col].iloc[k])!r} is not a finite number"
            raise InputError(f"data row {k + 1} (item {str(data[item].iloc[k])!r}): {what}")
    return data.assign(**{c: num[c] for c in cols})


COD_INTERVAL_NOTE = (
    "only the sampling of items inside the kept clusters; it leaves out the choice of clusters, "
    "the items outside them, and the error of extrapolating the cluster curves and the "
    "subset-to-full line beyond the small models, so it is far narrower than the forecast error "
    "(in the simulations of docs/forecast.md a 90% interval held the true score 0-38% of the "
    "time): not a forecast "
    "error interval"
)


@dataclass
class CodForecast:
    """COD's forecast of the full benchmark score at ``target_x``, with its pieces."""

    target_x: float
    prediction: float
    low: float
    high: float
    subset_prediction: float
    clusters: pd.DataFrame  # cluster, n_items, emerges, extrapolates, kept, prediction
    mapping: tuple[float, float]  # full = slope·subset + intercept over the small models
    n_items: int
    n_models: int
    level: float = 0.9
    n_draws: int = 0  # bootstrap draws behind low/high

    def to_dict(self) -> dict[str, Any]:
        return {
            **attributes(self, "target_x", "prediction", "low", "high", "subset_prediction"),
            "interval": {
                "level": self.level,
                "method": "percentile bootstrap: items resampled within each kept cluster",
                "n_draws": self.n_draws,
                "note": COD_INTERVAL_NOTE,
            },
            "mapping": {"slope": self.mapping[0], "intercept": self.mapping[1]},
            "clusters": self.clusters.to_dict(orient="records"),
            **attributes(self, "n_items", "n_models"),
        }


def _kmeans(points: np.ndarray, k: int, seed: int, n_init: int = 10) -> np.ndarray:
    """k-means++ (scipy) restarted ``n_init`` times; labels of the lowest within-cluster SS."""
    rng = np.random.default_rng(seed)
    best, best_ss = None, np.inf
    for _ in range(n_init):  # a handful of restarts
        centres, labels = kmeans2(points, k, minit="++", seed=rng)
        ss = float(((points - centres[labels]) ** 2).sum())
        if ss < best_ss:
            best, best_ss = labels, ss
    return best


def _cluster_curve(lx: np.ndarray, acc: np.ndarray, chance: float) -> Sigmoid:
    return fit_sigmoid(lx, acc, floor=chance, ceiling=1.0)


@accepts_confidence("level")
def cod_forecast(
    data: pd.DataFrame,
    target_x: float,
    *,
    x: str = "flops",
    model: str = "model",
    item: str = "item",
    score: str = "score",
    n_clusters: int | None = None,
    chance: float = 0.0,
    min_gain: float = 0.05,
    tolerance: float = 0.05,
    bootstrap: int = 100,
    seed: int = 0,
    level: float = 0.9,
) -> CodForecast:
    """COD: item-level scores of small models (one row per model and item, with ``x``) ->
    forecast of the benchmark mean at ``target_x``.

    A cluster *emerges* when its mean score on the largest small model beats ``chance`` by
    ``min_gain``; it *extrapolates* when a sigmoid fitted without the largest model predicts that
    model within ``tolerance``. Kept clusters are fitted on all models and averaged (weighted by
    size) at ``target_x``; the subset -> full mapping is a line fitted over the small models.
    The interval resamples items within clusters."""
    ok = isinstance(target_x, int | float) and not isinstance(target_x, bool)
    if not ok or not np.isfinite(target_x) or target_x <= 0:
        raise InputError(f"target x {target_x!r}: must be a finite number > 0 (a compute-like x)")
    require_columns(data, [x, model, item, score])
    data = _numeric_columns(data, [x, score])
    mat = data.pivot_table(index=item, columns=model, values=score, aggfunc="mean")
    xs = data.groupby(model)[x].first().reindex(mat.columns).to_numpy(float)
    order = np.argsort(xs)
    mat, lx = mat.iloc[:, order].fillna(chance), np.log(xs[order])
    if mat.shape[1] < 5:
        raise InputError(
            f"COD needs at least 5 small models (a sigmoid's 2 parameters + 2, one more held out "
            f"to check it extrapolates); got {mat.shape[1]}"
        )
    scores = mat.to_numpy(float)
    k = n_clusters or int(np.clip(scores.shape[0] // 25, 2, 12))
    labels = _kmeans(scores, k, seed)
    full = scores.mean(axis=0)
    rng = np.random.default_rng(seed)
    rows, kept_items = [], np.zeros(len(scores), bool)
    curves: dict[int, Sigmoid] = {}
    for c in range(k):  # loop over clusters
        members = labels == c
        acc = scores[members].mean(axis=0)
        emerges = bool(acc[-1] - chance >= min_gain and acc[-1] > acc[0])
        extrapolates = False
        pred = np.nan
        if emerges:
            try:
                held = _cluster_curve(lx[:-1], acc[:-1], chance)
                extrapolates = bool(abs(held(lx[-1]) - acc[-1]) <= tolerance)
                curves[c] = _cluster_curve(lx, acc, chance)
                pred = float(curves[c](np.log(target_x)))
            except (RuntimeError, ValueError):
                extrapolates = False
        kept = emerges and extrapolates
        kept_items |= members if kept else False
        rows.append(
            {
                "cluster": c,
                "n_items": int(members.sum()),
                "emerges": emerges,
                "extrapolates": extrapolates,
                "kept": kept,
                "prediction": pred,
            }
        )
    table = pd.DataFrame(rows)
    if not table["kept"].any():
        raise InputError("COD: no cluster both emerges and extrapolates; cannot forecast")
    keep = table[table["kept"]]
    subset_pred = float(np.average(keep["prediction"], weights=keep["n_items"]))
    subset_hist = scores[kept_items].mean(axis=0)
    slope, icpt = np.polyfit(subset_hist, full, 1)
    prediction = float(slope * subset_pred + icpt)
    sims = []
    for _ in range(bootstrap):  # loop over bootstrap replicates
        preds, weights, sub_rows = [], [], []
        for c in keep["cluster"]:
            members = np.flatnonzero(labels == c)
            pick = rng.choice(members, size=len(members))
            try:
                curve = _cluster_curve(lx, scores[pick].mean(axis=0), chance)
            except (RuntimeError, ValueError):
                continue
            preds.append(curve(np.log(target_x)))
            weights.append(len(members))
            sub_rows.append(pick)
        if not preds:
            continue
        sub = scores[np.concatenate(sub_rows)].mean(axis=0)
        b_slope, b_icpt = np.polyfit(sub, full, 1)
        sims.append(b_slope * np.average(preds, weights=weights) + b_icpt)
    low, high = np.quantile(sims, [(1 - level) / 2, (1 + level) / 2]) if sims else (np.nan, np.nan)
    return CodForecast(
        float(target_x),
        prediction,
        float(low),
        float(high),
        subset_pred,
        table,
        (float(slope), float(icpt)),
        len(scores),
        scores.shape[1],
        level,
        len(sims),
    )
