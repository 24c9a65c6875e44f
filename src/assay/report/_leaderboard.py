"""Leaderboard, pairwise matrix, per-task breakdown and the summary sentence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from assay import stats
from assay.core import MetricMap, Settings, fixed, headline_metric, with_corpus_metrics
from assay.store import Evidence

from ._findings import chance_findings, pair_findings
from ._panel import Panel, cell, fmt, fmt_p, level_text, new_panel
from ._plots import interval_plot

#: Tasks with an interval plot (tasks panel) and with a pairwise table (pairs panel): the first
#: ones by name; a store of hundreds of tasks would otherwise spend minutes drawing them.
MAX_TASK_PLOTS = 20
MAX_PAIR_TABLES = 20

#: How the report compares models (shown in the leaderboard and by ``assay serve``).
COMPARE_METHOD = "assay.stats.compare (paired tests, Holm-corrected)"


def headline_metrics(scores: pd.DataFrame, metrics: MetricMap | None = None) -> dict[str, str]:
    """The metric each task is ranked on: ``assay.core.headline_metric`` of its metrics by the
    store's definitions ``metrics`` (a rolling task's corpus ``word_perplexity`` once
    :func:`compare_scores` added it)."""
    per_task = scores.groupby("task", sort=True)["metric"].unique()
    return {str(task): headline_metric(names, metrics) for task, names in per_task.items()}


def compare_scores(
    scores: pd.DataFrame,
    settings: Settings | None = None,
    *,
    metrics: MetricMap | None = None,
) -> tuple[stats.Comparison, dict[str, str]]:
    """``assay.stats.compare`` (Holm-corrected, at the ``settings``' level, as `assay compare`) on each task's headline metric: the comparison and the headline metric
    per task (:func:`headline_metrics`); rolling tasks get their corpus perplexities first
    (``assay.core.with_corpus_metrics``). ``metrics``: the store's metric definitions
    (``Store.evidence().metrics``). No scores, no rows."""
    settings = settings or Settings()
    alpha = settings.alpha
    if scores.empty:
        empty = pd.DataFrame()
        return stats.Comparison(empty, empty, empty, alpha=alpha), {}
    scores = with_corpus_metrics(scores)
    headline = headline_metrics(scores, metrics)
    keep = scores["metric"].to_numpy() == scores["task"].map(headline).to_numpy()
    comp = stats.compare(
        scores[keep], confidence=settings.confidence_level, correction="holm", metrics=metrics
    )
    return comp, headline


def compare_evidence(
    evidence: Evidence, settings: Settings | None = None
) -> tuple[stats.Comparison, dict[str, str]]:
    """:func:`compare_scores` of a store's evidence: with per-document ``matrices`` (see
    ``assay.store.Evidence``) each task's headline metric comes from the metric names the
    store lists and ``assay.stats.compare`` reads the matrices in DuckDB (the same numbers,
    no rows loaded); otherwise from its rows."""
    source = evidence.matrices
    if source is None or evidence.empty:
        return compare_scores(evidence.scores, settings, metrics=evidence.metrics)
    settings = settings or Settings()
    metrics = evidence.metrics
    headline = {
        str(t): headline_metric(names, metrics) for t, names in source.task_metric_names().items()
    }
    comp = stats.compare(
        evidence, confidence=settings.confidence_level, correction="holm", metrics=metrics
    )
    return comp, headline


def _ranked(comp: stats.Comparison, task: str, metric: str) -> pd.DataFrame:
    rows = comp.scores[(comp.scores["task"] == task) & (comp.scores["metric"] == metric)]
    return rows.sort_values("mean", ascending=comp.metric(metric).lower_is_better, kind="stable")


def _pair_index(rows: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    """The pair rows of one task and metric by (model_a, model_b) (the first of each)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for a, b, row in zip(rows["model_a"], rows["model_b"], rows.to_dict("records"), strict=True):
        out.setdefault((str(a), str(b)), row)
    return out


def _oriented(index: dict[tuple[str, str], dict[str, Any]], a: str, b: str) -> dict | None:
    """The pair row for a vs b in ``index`` with the difference oriented as a − b."""
    row, sign = index.get((a, b)), 1.0
    if row is None:
        row, sign = index.get((b, a)), -1.0
    if row is None:
        return None
    row = dict(row)
    lo, hi = sign * row["ci_low"], sign * row["ci_high"]
    row.update(diff=sign * row["diff"], ci_low=min(lo, hi), ci_high=max(lo, hi))
    return row


def _task_pairs(comp: stats.Comparison, task: str, metric: str) -> pd.DataFrame:
    p = comp.pairs
    return p[(p["task"] == task) & (p["metric"] == metric)]


def _pair(comp: stats.Comparison, task: str, metric: str, a: str, b: str) -> dict[str, Any] | None:
    """The pair row for a vs b with the difference oriented as a − b."""
    if comp.pairs.empty:
        return None
    return _oriented(_pair_index(_task_pairs(comp, task, metric)), a, b)


def _groups(comp: stats.Comparison, task: str, metric: str) -> dict[str, str]:
    if comp.groups.empty or "group" not in comp.groups:
        return {}
    g = comp.groups[(comp.groups["task"] == task) & (comp.groups["metric"] == metric)]
    return g.astype({"group": str}).groupby("model")["group"].agg("".join).to_dict()


def _ci(low: float, high: float, level: str = "95%") -> str:
    if pd.isna(low) or pd.isna(high):
        return "too few documents for an interval"
    return f"{level} CI {fmt(low)} to {fmt(high)}"


def distinguishing(groups: dict[str, str]) -> bool:
    """Whether compact letters say anything: some two models carry different letters."""
    return len(set(groups.values())) > 1


def task_sentence(
    comp: stats.Comparison, task: str, metric: str, *, chance: float | None = None
) -> str:
    """Which model is better on ``task`` (ranked on ``metric``), by how much, and how sure we
    are (one sentence).

    With a single model, an accuracy is set against ``chance`` (guessing among the choices)
    by :func:`assay.stats.chance_test` (exact binomial for a 0/1 score).
    """
    ranked = _ranked(comp, task, metric)
    if ranked.empty:
        return f"No scores on {task}."
    top = ranked.iloc[0]
    level = level_text(comp.alpha)
    est = f"{fmt(top['mean'])} ({_ci(top['ci_low'], top['ci_high'], level)}, n = {int(top['n'])})"
    if len(ranked) == 1:
        head = f"On {task} ({metric}) only {top['model']} has results: {est}"
        if chance is None or not metric.startswith("acc"):
            return head + "."
        return head + _against_chance(comp, task, metric, chance)
    second = ranked.iloc[1]
    pair = _pair(comp, task, metric, str(top["model"]), str(second["model"]))
    word = "below" if comp.metric(metric).lower_is_better else "above"
    if pair is None:
        gap = abs(top["mean"] - second["mean"])
        return (
            f"On {task} ({metric}), {top['model']} leads with {est}, {fmt(gap)} {word} "
            f"{second['model']}; no paired test is available, so whether the gap is real is "
            "not established."
        )
    p = pair.get("p_adjusted", pair.get("p_value"))
    if p is None or pd.isna(p) or pd.isna(pair["ci_low"]):
        return (
            f"On {task} ({metric}), {top['model']} leads with {est}, "
            f"{fmt(abs(top['mean'] - second['mean']))} {word} {second['model']}; with "
            f"n = {int(pair['n'])} shared documents there is too little data to test the gap."
        )
    significant = float(p) < comp.alpha
    verdict = (
        f"{top['model']} is better with high confidence"
        if significant
        else "the difference is not statistically significant: the data cannot separate them"
    )
    p_text = fmt_p(p) if fmt_p(p).startswith("<") else f"= {fmt_p(p)}"
    return (
        f"On {task} ({metric}), {top['model']} leads with {est}, {fmt(abs(pair['diff']))} "
        f"{word} {second['model']} ({level} CI of the difference {fmt(pair['ci_low'])} to "
        f"{fmt(pair['ci_high'])}, {comp.family.adjusted} p {p_text} {comp.family.over}, "
        f"n = {int(pair['n'])} paired documents): {verdict}."
    )


def _settings(comp: stats.Comparison, settings: Settings | None) -> Settings:
    """The report's settings, else those of the comparison's level."""
    return settings or Settings.from_alpha(comp.alpha)


def leaderboard_panel(
    comp: stats.Comparison,
    headline: dict[str, str],
    chance: dict[str, float] | None = None,
    settings: Settings | None = None,
) -> Panel:
    """One table per task: rank, model, score, interval, SE, n, chance and (when letters
    distinguish models) the compact-letter group; findings: each score against chance."""
    settings = _settings(comp, settings)
    level = settings.label
    chance = chance or {}
    panel = new_panel("leaderboard", settings, method=COMPARE_METHOD if headline else "none")
    for task, metric in headline.items():
        ranked = _ranked(comp, task, metric)
        if ranked.empty:
            continue
        groups = _groups(comp, task, metric)
        show_groups = distinguishing(groups)
        guess = chance.get(task)
        rows, keys = [], []
        for rank, r in enumerate(ranked.itertuples(index=False), start=1):
            row = [
                cell(str(rank)),
                cell(str(r.model), cls="model"),
                cell(fmt(r.mean), r.mean, "num strong"),
                cell(f"{fmt(r.ci_low)} – {fmt(r.ci_high)}", cls="num"),
                cell(fmt(r.stderr), r.stderr, "num"),
                cell(fmt(int(r.n)), int(r.n), "num"),
                cell(fmt(guess) if guess is not None else "—", guess, "num chance"),
            ]
            if show_groups:
                row.append(cell(groups.get(str(r.model), "—"), cls="group"))
            rows.append(row)
            keys.append(str(r.model))
        panel.table(
            ["#", "model", metric, f"{level} CI", "std. error", "n", "chance"]
            + (["group"] if show_groups else []),
            rows,
            caption=f"{task} — {metric}"
            + (" (lower is better)" if comp.metric(metric).lower_is_better else ""),
            table_id=f"leaderboard-{task}",
            row_keys=keys,
        )
    panel.results = {"scores": comp.scores, "groups": comp.groups}
    panel.findings = chance_findings(comp, headline, chance, level)
    if not panel.items:
        panel.note = "The store has no scored samples yet: run `assay eval` or `assay import`."
    return panel


def pairs_panel(
    comp: stats.Comparison, headline: dict[str, str], settings: Settings | None = None
) -> Panel:
    settings = _settings(comp, settings)
    panel = new_panel("pairs", settings)
    if comp.pairs.empty:
        panel.note = (
            "Paired differences need two models on the same task: evaluate a second one, "
            "e.g. `assay eval -m MODEL`."
            if len(comp.scores)
            else "No scores yet."
        )
        return panel
    by_task = dict(iter(comp.pairs.groupby(["task", "metric"], sort=False)))
    if len(headline) > MAX_PAIR_TABLES:
        panel.text(
            f"Tables of the first {MAX_PAIR_TABLES} of {len(headline):,} tasks (by name); every "
            "pair of every task is in the report's JSON and in `assay compare --json`."
        )
    for task, metric in list(headline.items())[:MAX_PAIR_TABLES]:
        models = list(_ranked(comp, task, metric)["model"].astype(str))
        if len(models) < 2:
            continue
        lower = comp.metric(metric).lower_is_better
        index = _pair_index(by_task.get((task, metric), comp.pairs.iloc[:0]))
        rows = []
        for a in models:
            row = [cell(a, cls="model")]
            for b in models:
                pair = None if a == b else _oriented(index, a, b)
                if pair is None:
                    row.append(cell("·", cls="diag"))
                    continue
                if pair["diff"] is None or not np.isfinite(pair["diff"]):  # < 2 shared documents
                    row.append(cell("—", None, "ns", title=f"n = {int(pair['n'])}: too few"))
                    continue
                p = pair.get("p_adjusted", pair.get("p_value"))
                better = (pair["diff"] < 0) if lower else (pair["diff"] > 0)
                sig = p is not None and float(p) < comp.alpha
                cls = ("better" if better else "worse") if sig else "ns"
                row.append(
                    cell(
                        Markup(
                            f"{fixed(pair['diff'], 3, sign=True)}<br><small>p {fmt_p(p)}</small>"
                        ),
                        pair["diff"],
                        cls,
                        title=f"{a} − {b}: CI {fmt(pair['ci_low'])} to {fmt(pair['ci_high'])}, "
                        f"n = {int(pair['n'])}",
                    )
                )
            rows.append(row)
        panel.table(
            ["", *models],
            rows,
            caption=f"{task} — {metric}; p {comp.family.statement}",
            table_id=f"pairs-{task}",
        )
    panel.results = {"pairs": comp.pairs, "family": comp.family}
    panel.findings = pair_findings(comp, headline, settings.label)
    return panel


def tasks_panel(
    comp: stats.Comparison,
    headline: dict[str, str],
    chance: dict[str, float] | None = None,
    settings: Settings | None = None,
) -> Panel:
    """The per-task panel: a models × tasks table (with several tasks) and one interval plot
    per task on the metric's natural range (``comp.metric(m).bounds``) with its chance line."""
    settings = _settings(comp, settings)
    level = settings.label
    chance = chance or {}
    panel = new_panel("tasks", settings)
    if comp.scores.empty:
        panel.note = "No scores yet."
        return panel
    models = sorted(comp.scores["model"].astype(str).unique())
    if len(headline) > 1:
        wide = comp.scores.pivot_table(index="model", columns="task", values="mean").reindex(models)
        lo = comp.scores.pivot_table(index="model", columns="task", values="ci_low")
        hi = comp.scores.pivot_table(index="model", columns="task", values="ci_high")
        rows = [
            [cell(m, cls="model")]
            + [
                cell(
                    Markup(
                        f"{fmt(wide.at[m, t])} <small>[{fmt(lo.at[m, t])}, {fmt(hi.at[m, t])}]</small>"
                    )
                    if pd.notna(wide.at[m, t])
                    else "—",
                    wide.at[m, t],
                    "num",
                )
                for t in wide.columns
            ]
            for m in models
        ]
        panel.table(
            ["model", *[f"{t} ({headline[t]})" for t in wide.columns]],
            rows,
            table_id="breakdown",
        )
    plotted = list(headline.items())[:MAX_TASK_PLOTS]
    if len(headline) > MAX_TASK_PLOTS:
        panel.text(
            f"Interval plots of the first {MAX_TASK_PLOTS} of {len(headline):,} tasks (by name); "
            "the table above holds every task."
        )
    for task, metric in plotted:
        ranked = _ranked(comp, task, metric)
        if ranked.empty:
            continue
        panel.svg(
            interval_plot(
                list(ranked["model"].astype(str)),
                ranked["mean"],
                ranked["ci_low"],
                ranked["ci_high"],
                xlabel=f"{metric} ({level} CI)",
                highlight=[i == 0 for i in range(len(ranked))],
                title=task,
                bounds=comp.metric(metric).bounds,
                chance=chance.get(task),
            ),
            caption=f"{task}: {metric} with {level} intervals"
            + (f"; chance {fmt(chance[task])} dashed" if task in chance else ""),
        )
    return panel


def _against_chance(comp: stats.Comparison, task: str, metric: str, chance: float) -> str:
    row = stats.chance_tests(comp, {task: chance}, {task: metric}).iloc[0]
    p, test, alpha = float(row["p_value"]), str(row["test"]), comp.alpha
    gap = float(row["mean"]) - chance
    if not np.isfinite(p):
        return f", {fmt(abs(gap))} {'above' if gap >= 0 else 'below'} chance ({fmt(chance)})."
    p_text = fmt_p(p) if fmt_p(p).startswith("<") else f"= {fmt_p(p)}"
    if p >= alpha:
        verdict = "not distinguishable from guessing"
    elif gap > 0:
        verdict = "better than guessing"
    else:
        verdict = "worse than guessing: the model is drawn to wrong answers"
    direction = "above" if gap >= 0 else "below"
    return f", {fmt(abs(gap))} {direction} chance ({fmt(chance)}, {test} p {p_text}): {verdict}."
