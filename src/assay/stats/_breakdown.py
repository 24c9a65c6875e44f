"""Disaggregated scores: by difficulty level or by any document field, with an interval per
group, a test that the groups really differ, and paired model differences inside each group.

Eureka (Balachandran et al. 2024, "Eureka: Evaluating and Understanding Large Foundation
Models") and "Accuracy on the Curve" report scores per difficulty and subgroup rather than one
mean. Here each group's mean has the interval of :func:`assay.stats.mean_ci` (Wilson for 0/1
scores, clustered when ``cluster_id`` exists), on the metric's scale and inside its bounds
(``_intervals.metric_mean_ci``). Whether the groups differ is a permutation test
of the between-group sum of squares S = Σ_g n_g (x̄_g − x̄)² over per-document means: group
labels are shuffled over documents (over whole clusters when every cluster sits in one group),
p = (1 + #{S* ≥ S}) / (P + 1). The gap best − worst group has the MOVER interval built
from the two groups' own intervals (:func:`_mover`; bounded scores stay bounded). p-values are adjusted over all (task, model) tests (Holm by
default); with ``pair`` the two models' paired difference (:func:`assay.stats.paired_test`) is
given per group, adjusted over groups and tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.core import (
    CORPUS_METRICS,
    DISCOVERY_METRICS,
    MetricMap,
    accepts_confidence,
    metric_info,
    require_columns,
    with_corpus_metrics,
)
from assay.errors import InputError

from ._efficiency import extra_field
from ._estimators import _codes
from ._intervals import metric_mean_ci
from ._paired import adjust_pvalues, paired_test
from ._results import ResultMixin
from ._tidy import doc_matrix, select, task_metrics

__all__ = ["BreakdownResult", "breakdown", "document_groups", "read_groups"]

_SCORE_FIELDS = ("difficulty", "template_id", "cluster_id", "run_id")


@dataclass
class BreakdownResult(ResultMixin):
    """``groups``: (task, metric, model, group, n, mean, stderr, ci_low, ci_high, method).
    ``tests``: per (task, metric, model): levels, statistic S, pvalue, p_adjusted, method, the
    best and worst group and their gap with its interval. ``pairs`` (with ``pair``): per (task,
    group) the paired difference a − b, interval, p and p_adjusted."""

    by: str
    groups: pd.DataFrame
    tests: pd.DataFrame
    pairs: pd.DataFrame | None
    correction: str
    n_permutations: int
    confidence_level: float


def _levels(values: pd.Series, n_bins: int) -> pd.Series:
    """Group labels: a few distinct values (≤ n_bins, or ≤ 10 whole numbers) as themselves,
    other numbers in equal-count bins '[low, high]', text as it is."""
    numeric = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and numeric[values.notna()].notna().all():
        distinct = np.sort(numeric.dropna().unique())
        whole = np.all(distinct == np.round(distinct))
        if len(distinct) <= n_bins or (whole and len(distinct) <= 10):
            return numeric.map({v: f"{v:g}" for v in distinct}).astype(object)
        cut = pd.qcut(numeric, n_bins, duplicates="drop")
        labels = {iv: f"[{iv.left:.3g}, {iv.right:.3g}]" for iv in cut.cat.categories}
        return cut.map(labels).astype(object)
    return values.astype(str).where(values.notna(), None).astype(object)


def read_groups(path, column: str, *, doc_column: str = "doc_id") -> pd.DataFrame:
    """A user's grouping: a CSV with a ``doc_id`` column (and optionally ``task``) and the
    group ``column``. Returns (task?, doc_id, group)."""
    from assay.store import read_table

    df = read_table(path)
    require_columns(df, [doc_column, column], name=str(path))
    out = pd.DataFrame({"doc_id": df[doc_column].astype(str), "group": df[column]})
    if "task" in df:
        out.insert(0, "task", df["task"].astype(str))
    if out.duplicated([c for c in ("task", "doc_id") if c in out]).any():
        raise InputError(f"{path}: a doc_id is listed twice (one group per document)")
    return out


def document_groups(samples: pd.DataFrame, by: str) -> pd.DataFrame:
    """(task, doc_id, group) from a ``Store.samples()`` column or a top-level field of the
    samples' ``extra`` JSON (the first value per document)."""
    require_columns(samples, ["task", "doc_id"], name="samples")
    if by in samples and by != "extra":
        values = samples[by]
    elif "extra" in samples:
        values = extra_field(samples["extra"], by)
    else:
        values = pd.Series(np.nan, index=samples.index)
    out = pd.DataFrame(
        {
            "task": samples["task"].astype(str),
            "doc_id": samples["doc_id"].astype(str),
            "group": values.to_numpy(),
        }
    ).dropna(subset=["group"])
    if out.empty:
        raise InputError(
            f"no document has a field {by!r} (not a sample column nor a key of the samples' "
            "extra JSON); pass a CSV mapping doc_id to a group"
        )
    return out.drop_duplicates(["task", "doc_id"])


def _attach(scores: pd.DataFrame, by: str, groups: pd.DataFrame | None) -> pd.DataFrame:
    if groups is not None:
        require_columns(groups, ["doc_id", "group"], name="groups")
        keys = ["task", "doc_id"] if "task" in groups else ["doc_id"]
        g = groups.assign(doc_id=groups["doc_id"].astype(str))[[*keys, "group"]]
        out = scores.assign(doc_id=scores["doc_id"].astype(str)).merge(g, on=keys, how="left")
    elif by in scores:
        out = scores.assign(group=scores[by])
    else:
        raise InputError(
            f"--by {by!r}: not a score column ({', '.join(_SCORE_FIELDS)}); give the samples "
            "or a CSV mapping doc_id to a group"
        )
    out = out[out["group"].notna()]
    if out.empty:
        raise InputError(f"no scored document has a {by!r} value")
    return out


def _permutation(x, codes, g, clusters, n_permutations, rng):
    """Between-group sum of squares and its permutation p-value (doc or cluster level)."""
    n = x.size
    m = x.mean()

    def stat(c: np.ndarray) -> np.ndarray:  # c: (P, n) group codes
        p = c.shape[0]
        flat = (c + g * np.arange(p)[:, None]).ravel()
        sums = np.bincount(flat, weights=np.tile(x, p), minlength=p * g).reshape(p, g)
        cnt = np.bincount(flat, minlength=p * g).reshape(p, g)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nansum(np.where(cnt > 0, (sums / cnt - m) ** 2 * cnt, 0.0), axis=1)

    observed = float(stat(codes[None, :])[0])
    method = "permutation (documents)"
    unit = None
    if clusters is not None:
        ucodes, n_units = _codes(clusters)
        per_unit = np.full(n_units, -1)
        per_unit[ucodes] = codes
        if np.all(per_unit[ucodes] == codes) and n_units > g:  # every cluster in one group
            unit, method = (ucodes, per_unit), "permutation (clusters)"
    exceed = 0
    chunk = max(1, 2_000_000 // max(n, 1))
    for start in range(0, n_permutations, chunk):
        size = min(chunk, n_permutations - start)
        if unit is None:
            perm = rng.permuted(np.tile(codes, (size, 1)), axis=1)
        else:
            ucodes, per_unit = unit
            perm = rng.permuted(np.tile(per_unit, (size, 1)), axis=1)[:, ucodes]
        exceed += int(np.sum(stat(perm) >= observed * (1 - 1e-12)))
    return observed, (1 + exceed) / (n_permutations + 1), method


@accepts_confidence()
def breakdown(
    scores: pd.DataFrame,
    by: str = "difficulty",
    *,
    groups: pd.DataFrame | None = None,
    n_bins: int = 5,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    pair: tuple[str, str] | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    n_permutations: int = 5000,
    seed: int = 0,
) -> BreakdownResult:
    """Scores per group of documents for every task (headline metric unless ``metric``) and
    model; ``groups`` maps doc_id (and task) to a group (:func:`document_groups`,
    :func:`read_groups`), else the score column ``by`` is used (difficulty, template_id...)."""
    if not isinstance(n_bins, int | np.integer) or n_bins < 2:
        raise InputError(f"n_bins {n_bins!r}: must be a whole number >= 2")
    if not isinstance(n_permutations, int | np.integer) or n_permutations < 1:
        raise InputError(f"n_permutations {n_permutations!r}: must be a whole number >= 1")
    df = select(select(scores, "model", models), "task", tasks)
    if pair is not None:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise InputError(f"pair {','.join(map(str, pair))}: give two different models a,b")
        df = select(df, "model", list(pair))
    df = _attach(df, by, groups)
    rng = np.random.default_rng(seed)
    group_rows, test_rows, pair_rows = [], [], []
    for task, met in task_metrics(df, metric, metrics):
        rows = df[(df["task"] == task) & (df["metric"] == met)]
        level = _levels(rows.drop_duplicates("doc_id").set_index("doc_id")["group"], n_bins)
        matrix, docs, clusters, names = doc_matrix(rows)
        labels = level.reindex(docs).to_numpy(dtype=object)
        codes, uniques = pd.factorize(pd.Series(labels), sort=True)
        order = sorted(range(len(uniques)), key=lambda i: _sort_key(uniques[i]))
        info = metric_info(met, metrics)
        parts = _group_parts(df, task, met, matrix, docs, clusters, names, codes, order)
        for j, model in enumerate(names):
            x = matrix[:, j]
            have = ~np.isnan(x) & (codes >= 0)
            per = []
            for gi, (g_matrix, g_clusters) in parts.items():
                xg = g_matrix[:, j]
                sel = ~np.isnan(xg)
                if not sel.any():
                    continue
                est = metric_mean_ci(
                    xg[sel],
                    info,
                    clusters=None if g_clusters is None else g_clusters[sel],
                    alpha=alpha,
                )
                low, high, how = est.ci_low, est.ci_high, est.method
                per.append((uniques[gi], est))
                group_rows.append(
                    {
                        "task": task,
                        "metric": met,
                        "model": model,
                        "group": uniques[gi],
                        "n": est.n,
                        "mean": est.mean,
                        "stderr": est.stderr,
                        "ci_low": low,
                        "ci_high": high,
                        "method": how,
                    }
                )
            if len(per) < 2:
                continue
            sub_codes = pd.factorize(codes[have])[0]
            stat, p, method = _permutation(
                x[have],
                sub_codes,
                int(sub_codes.max()) + 1,
                None if clusters is None else clusters[have],
                n_permutations,
                rng,
            )
            best = max(per, key=lambda t: info.sign * t[1].mean)  # lower is better: the lowest
            worst = min(per, key=lambda t: info.sign * t[1].mean)
            gap = best[1].mean - worst[1].mean
            gap_low, gap_high = _mover(best[1], worst[1])
            test_rows.append(
                {
                    "task": task,
                    "metric": met,
                    "model": model,
                    "levels": len(per),
                    "n": int(have.sum()),
                    "statistic": stat,
                    "pvalue": p,
                    "method": method,
                    "best_group": best[0],
                    "worst_group": worst[0],
                    "gap": gap,
                    "gap_low": gap_low,
                    "gap_high": gap_high,
                }
            )
        if pair is not None and all(m in names for m in pair):
            for gi, (g_matrix, g_clusters) in parts.items():
                a, b = (g_matrix[:, names.index(m)] for m in pair)
                sel = ~np.isnan(a) & ~np.isnan(b)
                if sel.sum() < 2:
                    continue
                r = paired_test(
                    a[sel],
                    b[sel],
                    clusters=None if g_clusters is None else g_clusters[sel],
                    alpha=alpha,
                )
                pair_rows.append(
                    {
                        "task": task,
                        "metric": met,
                        "group": uniques[gi],
                        "n": r.n,
                        "mean_a": r.mean_a,
                        "mean_b": r.mean_b,
                        "diff": r.diff,
                        "ci_low": r.ci_low,
                        "ci_high": r.ci_high,
                        "pvalue": r.pvalue,
                        "method": r.method,
                    }
                )
    if not group_rows:
        raise InputError(f"no scored document has a {by!r} group")
    tests = pd.DataFrame(
        test_rows,
        columns=[
            "task",
            "metric",
            "model",
            "levels",
            "n",
            "statistic",
            "pvalue",
            "method",
            "best_group",
            "worst_group",
            "gap",
            "gap_low",
            "gap_high",
        ],
    )
    tests.insert(7, "p_adjusted", adjust_pvalues(tests["pvalue"].to_numpy(float), correction))
    pairs = None
    if pair is not None:
        pairs = pd.DataFrame(
            pair_rows,
            columns=[
                "task",
                "metric",
                "group",
                "n",
                "mean_a",
                "mean_b",
                "diff",
                "ci_low",
                "ci_high",
                "pvalue",
                "method",
            ],
        )
        pairs.insert(10, "p_adjusted", adjust_pvalues(pairs["pvalue"].to_numpy(float), correction))
    return BreakdownResult(
        by=by,
        groups=pd.DataFrame(group_rows),
        tests=tests,
        pairs=pairs,
        correction=correction,
        n_permutations=n_permutations,
        confidence_level=1 - alpha,
    )


def _group_parts(df, task, met, matrix, docs, clusters, names, codes, order) -> dict:
    """Per group code (in display order): its (docs × models) values and clusters. A corpus
    metric (word perplexity...) is computed on the group itself — its documents' pooled
    log-likelihood over their pooled words or bytes, linearised at the group's own value by
    :func:`assay.core.with_corpus_metrics` — never a mean of per-document values linearised at
    the whole task's value (which can be negative); other metrics are the rows of ``matrix``."""
    pieces = ["logprob", "words", "bytes"]
    if met in DISCOVERY_METRICS:  # DAF, precision, ... of the group's own documents, the same way
        pieces = ["discovery_pred", "discovery_true"]
    raw = df[(df["task"] == task) & df["metric"].isin(pieces)]
    corpus = (met in CORPUS_METRICS or met in DISCOVERY_METRICS) and set(pieces) <= set(
        raw["metric"]
    )
    parts = {}
    doc_ids = np.asarray(docs, dtype=object)
    for gi in order:
        sel = codes == gi
        if not corpus:
            parts[gi] = (matrix[sel], None if clusters is None else clusters[sel])
            continue
        in_group = raw[raw["doc_id"].astype(str).isin(set(doc_ids[sel]))]
        pseudo = with_corpus_metrics(in_group.drop(columns="group"))
        pseudo = pseudo[(pseudo["metric"] == met) & pseudo["value"].notna()]
        if pseudo.empty:
            parts[gi] = (np.full((0, len(names)), np.nan), None)
            continue
        g_matrix, _, g_clusters, _ = doc_matrix(pseudo, names)
        parts[gi] = (g_matrix, g_clusters)
    return parts


def _sort_key(label: object) -> tuple:
    """Numbers and bins '[a, b]' by their value, then text."""
    text = str(label)
    head = text[1:].split(",")[0] if text.startswith("[") else text
    try:
        return (0, float(head), text)
    except ValueError:
        return (1, 0.0, text)


def _mover(a, b) -> tuple[float, float]:
    """Interval of the difference of two independent means from their own intervals (MOVER,
    Newcombe 1998 / Zou & Donner 2008): d − √((a − l_a)² + (u_b − b)²), d + √((u_a − a)² +
    (b − l_b)²). With Wilson intervals for 0/1 scores it stays inside [−1, 1], where the Wald
    gap ± z·SE does not."""
    d = a.mean - b.mean
    low = d - np.sqrt((a.mean - a.ci_low) ** 2 + (b.ci_high - b.mean) ** 2)
    high = d + np.sqrt((a.ci_high - a.mean) ** 2 + (b.mean - b.ci_low) ** 2)
    return float(low), float(high)
