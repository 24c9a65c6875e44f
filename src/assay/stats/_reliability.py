"""Reliability over variants of the same question (Dynamic Intelligence Assessment).

Tihanyi et al. (2024), "Dynamic Intelligence Assessment: Benchmarking LLMs on the Road to AGI
with a Focus on Model Confidence", ask each question template in k variants and score a model
by whether it is right on *every* variant, not by its mean. For each question q with k_q
variants of which r_q are right, w_q wrong and s_q skipped (no score):

* task success rate TSR = Σ r_q / Σ k_q (the usual mean, here averaged per question first);
* confidence index CI = #{q : r_q = k_q} / Q, the share of questions right in every variant
  (DIA reports the count; both are given);
* near miss NM = #{q : r_q = k_q − 1} / Q, right in all but one variant;
* reliability score RS = Σ_q (r_q − 2 w_q) / k_q (+1 right, −2 wrong, 0 skipped), and
  RS / Q per question, in [−2, 1]: a model that guesses is punished, one that abstains is not.

A variant is any row of the same question for the same model and task: another template (a run
with ``template_id``), choice ordering or sample (``repeat``). The question is ``doc_id`` or,
with ``by="cluster"``, ``cluster_id`` (docs generated from one template). Intervals: Wilson for
CI and NM; for TSR, a share, Wilson on the design-effect number of variants (inside [0, 1]);
:func:`assay.stats.mean_ci` for RS/Q (clipped to [−2, 1]; clustered when grouping by doc and
clusters exist); two models are compared on the all-right indicator with
:func:`assay.stats.paired_test` (McNemar).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.core import MetricMap, accepts_confidence, lower_is_better
from assay.errors import InputError

from ._estimators import _codes, cluster_wilson_ci, mean_ci, wilson_ci
from ._paired import adjust_pvalues, paired_test
from ._results import ResultMixin
from ._tidy import select, task_metrics

__all__ = ["ReliabilityResult", "reliability"]


@dataclass
class ReliabilityResult(ResultMixin):
    """``table`` per (task, metric, model): questions, variants (mean k), mean (TSR) with
    interval, all_right (CI share) and all_right_count with Wilson bounds, near_miss, rs (total
    reliability score) and rs_mean (per question) with interval, skipped.
    ``pairs``: per task and model pair the paired difference in all_right (McNemar)."""

    by: str
    threshold: float
    table: pd.DataFrame
    pairs: pd.DataFrame
    correction: str
    confidence_level: float


@accepts_confidence()
def reliability(
    scores: pd.DataFrame,
    *,
    by: str = "doc",
    metric: str | None = None,
    metrics: MetricMap | None = None,
    threshold: float = 1.0,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    min_variants: int = 2,
    alpha: float = 0.05,
    correction: str = "holm",
) -> ReliabilityResult:
    """DIA's confidence index, near miss and reliability score next to the mean, from
    ``Store.scores()`` rows. A variant is right when its score ≥ ``threshold`` (1 for 0/1
    metrics); questions with fewer than ``min_variants`` variants are left out."""
    if by not in ("doc", "cluster"):
        raise InputError(
            f"by {by!r}: use doc (variants of a document) or cluster (docs of a template)"
        )
    if not isinstance(min_variants, int | np.integer) or min_variants < 1:
        raise InputError(f"min_variants {min_variants!r}: must be a whole number >= 1")
    df = select(select(scores, "model", models), "task", tasks)
    key = "doc_id" if by == "doc" else "cluster_id"
    if by == "cluster" and ("cluster_id" not in df or df["cluster_id"].isna().all()):
        raise InputError("no cluster_id in these scores: group variants by doc instead")
    rows, pair_rows = [], []
    for task, met in task_metrics(df, metric, metrics):
        if lower_is_better(met, metrics):
            if metric is not None:
                raise InputError(
                    f"metric {met!r} is lower-is-better: reliability needs a success score"
                )
            continue  # a perplexity task's headline: no right or wrong to count
        sub = df[(df["task"] == task) & (df["metric"] == met) & df[key].notna()]
        value = sub["value"].to_numpy(float)
        sub = sub.assign(
            _right=(value >= threshold).astype(float),
            _wrong=((value < threshold) & ~np.isnan(value)).astype(float),
            _skip=np.isnan(value).astype(float),
        )
        per = sub.groupby(["model", key], sort=True).agg(
            k=("_right", "size"),
            right=("_right", "sum"),
            wrong=("_wrong", "sum"),
            skipped=("_skip", "sum"),
        )
        if by == "doc" and "cluster_id" in sub and sub["cluster_id"].notna().any():
            per["cluster"] = sub.groupby(["model", key], sort=True)["cluster_id"].first()
        per = per[per["k"] >= min_variants]
        if per.empty:
            continue
        per["all_right"] = (per["right"] == per["k"]).astype(float)
        per["near_miss"] = (per["right"] == per["k"] - 1).astype(float)
        per["tsr"] = per["right"] / per["k"]
        per["rs"] = (per["right"] - 2 * per["wrong"]) / per["k"]
        for model, g in per.groupby(level="model", sort=True):
            q = len(g)
            clusters = g["cluster"].to_numpy(dtype=object) if "cluster" in g else None
            tsr = mean_ci(g["tsr"].to_numpy(), clusters=clusters, alpha=alpha, method="t")
            rs = mean_ci(g["rs"].to_numpy(), clusters=clusters, alpha=alpha, method="t")
            t_low, t_high = _share_interval(tsr, g["k"].to_numpy(float), clusters, alpha)
            n_all, n_near = int(g["all_right"].sum()), int(g["near_miss"].sum())
            lo, hi = wilson_ci(n_all, q, alpha=alpha)
            nlo, nhi = wilson_ci(n_near, q, alpha=alpha)
            rows.append(
                {
                    "task": task,
                    "metric": met,
                    "model": model,
                    "questions": q,
                    "variants": float(g["k"].mean()),
                    "mean": tsr.mean,
                    "mean_low": t_low,
                    "mean_high": t_high,
                    "all_right": n_all / q,
                    "all_right_low": lo,
                    "all_right_high": hi,
                    "all_right_count": n_all,
                    "near_miss": n_near / q,
                    "near_miss_low": nlo,
                    "near_miss_high": nhi,
                    "rs": float(g["rs"].sum()),
                    "rs_mean": rs.mean,
                    "rs_low": max(rs.ci_low, -2.0),
                    "rs_high": min(rs.ci_high, 1.0),
                    "skipped": int(g["skipped"].sum()),
                }
            )
        wide = per["all_right"].unstack("model")
        names = list(wide.columns)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                both = wide[[a, b]].dropna()
                if len(both) < 2:
                    continue
                r = paired_test(both[a].to_numpy(), both[b].to_numpy(), alpha=alpha)
                pair_rows.append(
                    {
                        "task": task,
                        "metric": met,
                        "model_a": a,
                        "model_b": b,
                        "n": r.n,
                        "all_right_a": r.mean_a,
                        "all_right_b": r.mean_b,
                        "diff": r.diff,
                        "ci_low": r.ci_low,
                        "ci_high": r.ci_high,
                        "pvalue": r.pvalue,
                        "method": r.method,
                    }
                )
    if not rows:
        raise InputError(
            f"no question has {min_variants} or more variants: run with --repeats, "
            "--permute-choices or several templates (or pass --min-variants 1)"
        )
    pairs = pd.DataFrame(
        pair_rows,
        columns=[
            "task",
            "metric",
            "model_a",
            "model_b",
            "n",
            "all_right_a",
            "all_right_b",
            "diff",
            "ci_low",
            "ci_high",
            "pvalue",
            "method",
        ],
    )
    pairs["p_adjusted"] = adjust_pvalues(pairs["pvalue"].to_numpy(float), correction)
    return ReliabilityResult(
        by=by,
        threshold=float(threshold),
        table=pd.DataFrame(rows),
        pairs=pairs,
        correction=correction,
        confidence_level=1 - alpha,
    )


def _share_interval(tsr, k: np.ndarray, clusters, alpha: float) -> tuple[float, float]:
    """The TSR's interval, inside [0, 1]: Wilson on the design-effect number of variants
    (:func:`cluster_wilson_ci`): n = Σ k_q variants, the clustered variance of the mean of
    the per-question shares (``tsr.stderr``², questions — or their clusters — the units), and
    deff at most Σ n_u² / n for n_u variants per unit (every variant of a unit alike)."""
    units = _codes(clusters)[0] if clusters is not None else np.arange(k.size)
    per_unit = np.bincount(units, weights=k)
    n = float(k.sum())
    if not np.isfinite(tsr.mean) or n <= 0:
        return float("nan"), float("nan")
    var = tsr.stderr**2 if np.isfinite(tsr.stderr) else 0.0
    low, high, _ = cluster_wilson_ci(tsr.mean, n, var, float(np.sum(per_unit**2) / n), alpha=alpha)
    return float(low), float(high)
