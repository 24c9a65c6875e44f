"""Leaderboard, pairwise matrix, per-task breakdown and the summary sentence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay import stats

from ._panel import (
    PREFERRED_METRICS,
    Panel,
    cell,
    fmt,
    fmt_p,
    lower_is_better,
    records,
)
from ._plots import interval_plot


@dataclass
class Comparison:
    """What the report needs from ``assay.stats.compare``: scores, pairs, groups."""

    scores: pd.DataFrame
    pairs: pd.DataFrame
    groups: pd.DataFrame
    method: str
    alpha: float = 0.05
    headline: dict[str, str] = field(default_factory=dict)  # task -> metric


def headline_metrics(scores: pd.DataFrame) -> dict[str, str]:
    """The metric each task is ranked on: the first of PREFERRED_METRICS present, else the
    alphabetically first metric."""
    out: dict[str, str] = {}
    for task, metrics in scores.groupby("task", sort=True)["metric"].unique().items():
        names = sorted(map(str, metrics))
        out[str(task)] = next((m for m in PREFERRED_METRICS if m in names), names[0])
    return out


def compare_scores(scores: pd.DataFrame, *, alpha: float = 0.05) -> Comparison:
    """Run ``assay.stats.compare`` on each task's headline metric."""
    headline = headline_metrics(scores)
    keep = scores["metric"].to_numpy() == scores["task"].map(headline).to_numpy()
    chosen = scores[keep]
    result = stats.compare(chosen, alpha=alpha, correction="holm")
    return Comparison(
        scores=pd.DataFrame(result.scores),
        pairs=pd.DataFrame(result.pairs),
        groups=pd.DataFrame(result.groups),
        method="assay.stats.compare (paired tests, Holm-corrected)",
        alpha=alpha,
        headline=headline,
    )


def _ranked(comp: Comparison, task: str) -> pd.DataFrame:
    metric = comp.headline[task]
    rows = comp.scores[(comp.scores["task"] == task) & (comp.scores["metric"] == metric)]
    return rows.sort_values("mean", ascending=lower_is_better(metric), kind="stable")


def _pair(comp: Comparison, task: str, a: str, b: str) -> dict[str, Any] | None:
    """The pair row for a vs b with the difference oriented as a − b."""
    if comp.pairs.empty:
        return None
    p = comp.pairs[(comp.pairs["task"] == task) & (comp.pairs["metric"] == comp.headline[task])]
    hit = p[(p["model_a"] == a) & (p["model_b"] == b)]
    sign = 1.0
    if hit.empty:
        hit, sign = p[(p["model_a"] == b) & (p["model_b"] == a)], -1.0
    if hit.empty:
        return None
    row = hit.iloc[0].to_dict()
    lo, hi = sign * row["ci_low"], sign * row["ci_high"]
    row.update(diff=sign * row["diff"], ci_low=min(lo, hi), ci_high=max(lo, hi))
    return row


def _groups(comp: Comparison, task: str) -> dict[str, str]:
    if comp.groups.empty or "group" not in comp.groups:
        return {}
    g = comp.groups[(comp.groups["task"] == task) & (comp.groups["metric"] == comp.headline[task])]
    return g.astype({"group": str}).groupby("model")["group"].agg("".join).to_dict()


def _ci(low: float, high: float) -> str:
    if pd.isna(low) or pd.isna(high):
        return "too few documents for an interval"
    return f"95% CI {fmt(low)} to {fmt(high)}"


def task_sentence(comp: Comparison, task: str, *, chance: float | None = None) -> str:
    """Which model is better on a task, by how much, and how sure we are (one sentence).

    With a single model, an accuracy is set against ``chance`` (guessing among the choices)
    by a two-sided z-test of mean − chance with the estimate's standard error.
    """
    metric = comp.headline[task]
    ranked = _ranked(comp, task)
    if ranked.empty:
        return f"No scores on {task}."
    top = ranked.iloc[0]
    est = f"{fmt(top['mean'])} ({_ci(top['ci_low'], top['ci_high'])}, n = {int(top['n'])})"
    if len(ranked) == 1:
        head = f"On {task} ({metric}) only {top['model']} has results: {est}"
        if chance is None or not metric.startswith("acc"):
            return head + "."
        return head + _against_chance(float(top["mean"]), float(top["stderr"]), chance, comp.alpha)
    second = ranked.iloc[1]
    pair = _pair(comp, task, str(top["model"]), str(second["model"]))
    word = "below" if lower_is_better(metric) else "above"
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
        f"{word} {second['model']} (95% CI of the difference {fmt(pair['ci_low'])} to "
        f"{fmt(pair['ci_high'])}, Holm-adjusted p {p_text} over all pairs, "
        f"n = {int(pair['n'])} paired documents): {verdict}."
    )


def leaderboard_panel(comp: Comparison) -> Panel:
    panel = Panel(
        "leaderboard",
        "Leaderboard",
        intro=(
            "Each task is ranked on its headline metric. Intervals are 95%; models that share a "
            "group letter are not significantly different from each other "
            f"(α = {comp.alpha}, Holm-corrected). Method: {comp.method}."
        ),
    )
    for task in comp.headline:
        ranked = _ranked(comp, task)
        if ranked.empty:
            continue
        groups = _groups(comp, task)
        rows, keys = [], []
        for rank, r in enumerate(ranked.itertuples(index=False), start=1):
            rows.append(
                [
                    cell(str(rank)),
                    cell(str(r.model), cls="model"),
                    cell(fmt(r.mean), r.mean, "num strong"),
                    cell(f"{fmt(r.ci_low)} – {fmt(r.ci_high)}", cls="num"),
                    cell(fmt(r.stderr), r.stderr, "num"),
                    cell(fmt(int(r.n)), int(r.n), "num"),
                    cell(groups.get(str(r.model), "—"), cls="group"),
                ]
            )
            keys.append(str(r.model))
        panel.table(
            ["#", "model", comp.headline[task], "95% CI", "std. error", "n", "group"],
            rows,
            caption=f"{task} — {comp.headline[task]}",
            table_id=f"leaderboard-{task}",
            row_keys=keys,
        )
    panel.data = {"scores": records(comp.scores), "groups": records(comp.groups)}
    if not panel.items:
        panel.note = "The store has no scored samples yet: run `assay eval` or `assay import`."
    return panel


def pairs_panel(comp: Comparison) -> Panel:
    panel = Panel(
        "pairs",
        "Pairwise differences",
        intro=(
            "Row model minus column model on the documents both answered, with the "
            "Holm-adjusted p-value. Coloured cells are significant at α = "
            f"{comp.alpha}: green where the row model is better, red where it is worse."
        ),
    )
    if comp.pairs.empty:
        panel.note = (
            "Paired tests need assay.stats and at least two models on the same task."
            if len(comp.scores)
            else "No scores yet."
        )
        return panel
    for task, metric in comp.headline.items():
        models = list(_ranked(comp, task)["model"].astype(str))
        if len(models) < 2:
            continue
        lower = lower_is_better(metric)
        rows = []
        for a in models:
            row = [cell(a, cls="model")]
            for b in models:
                pair = None if a == b else _pair(comp, task, a, b)
                if pair is None:
                    row.append(cell("·", cls="diag"))
                    continue
                p = pair.get("p_adjusted", pair.get("p_value"))
                better = (pair["diff"] < 0) if lower else (pair["diff"] > 0)
                sig = p is not None and float(p) < comp.alpha
                cls = ("better" if better else "worse") if sig else "ns"
                row.append(
                    cell(
                        f"{pair['diff']:+.3f}<br><small>p {fmt_p(p)}</small>",
                        pair["diff"],
                        cls,
                        title=f"{a} − {b}: CI {fmt(pair['ci_low'])} to {fmt(pair['ci_high'])}, "
                        f"n = {int(pair['n'])}",
                    )
                )
            rows.append(row)
        panel.table(["", *models], rows, caption=f"{task} — {metric}", table_id=f"pairs-{task}")
    panel.data = {"pairs": records(comp.pairs)}
    return panel


def breakdown_panel(comp: Comparison) -> Panel:
    panel = Panel(
        "tasks",
        "Per-task breakdown",
        intro="Every model on every task (headline metric, 95% interval); blue marks the leader.",
    )
    if comp.scores.empty:
        panel.note = "No scores yet."
        return panel
    models = sorted(comp.scores["model"].astype(str).unique())
    if len(comp.headline) > 1:
        wide = comp.scores.pivot_table(index="model", columns="task", values="mean").reindex(models)
        lo = comp.scores.pivot_table(index="model", columns="task", values="ci_low")
        hi = comp.scores.pivot_table(index="model", columns="task", values="ci_high")
        rows = [
            [cell(m, cls="model")]
            + [
                cell(
                    f"{fmt(wide.at[m, t])} <small>[{fmt(lo.at[m, t])}, {fmt(hi.at[m, t])}]</small>"
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
            ["model", *[f"{t} ({comp.headline[t]})" for t in wide.columns]],
            rows,
            table_id="breakdown",
        )
    for task, metric in comp.headline.items():
        ranked = _ranked(comp, task)
        if ranked.empty:
            continue
        panel.svg(
            interval_plot(
                list(ranked["model"].astype(str)),
                ranked["mean"],
                ranked["ci_low"],
                ranked["ci_high"],
                xlabel=f"{metric} (95% CI)",
                highlight=[i == 0 for i in range(len(ranked))],
                title=task,
            ),
            caption=f"{task}: {metric} with 95% intervals",
        )
    return panel


def _against_chance(mean: float, stderr: float, chance: float, alpha: float) -> str:
    gap = mean - chance
    if not np.isfinite(stderr) or stderr <= 0:
        return f", {fmt(abs(gap))} {'above' if gap >= 0 else 'below'} chance ({fmt(chance)})."
    p = float(2 * sps.norm.sf(abs(gap) / stderr))
    p_text = fmt_p(p) if fmt_p(p).startswith("<") else f"= {fmt_p(p)}"
    if p >= alpha:
        verdict = "not distinguishable from guessing"
    elif gap > 0:
        verdict = "better than guessing"
    else:
        verdict = "worse than guessing: the model is drawn to wrong answers"
    direction = "above" if gap >= 0 else "below"
    return f", {fmt(abs(gap))} {direction} chance ({fmt(chance)}, p {p_text}): {verdict}."


def chance_levels(samples: pd.DataFrame) -> dict[str, float]:
    """Per task, the accuracy of guessing uniformly: mean of 1 / number of choices."""
    if samples.empty or "choice_logprobs" not in samples:
        return {}
    sizes = samples["choice_logprobs"].map(
        lambda c: len(c) if isinstance(c, list | tuple | np.ndarray) and len(c) else np.nan
    )
    frame = pd.DataFrame({"task": samples["task"], "inv": 1.0 / sizes}).dropna()
    frame = frame[np.isfinite(frame["inv"])]
    return frame.groupby("task")["inv"].mean().to_dict()
