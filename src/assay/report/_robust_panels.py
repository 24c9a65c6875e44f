"""Optional panels for robustness (perturbed inputs), fairness (counterfactual probes, LLMBI)
and the stability of the model order across checkpoints. Each builder returns a
:class:`Panel` that is empty, with a note saying how to get the data, when the store has none."""

from __future__ import annotations

import pandas as pd

from assay import stats
from assay.core import MetricMap, Settings, plot_label
from assay.errors import AssayError

from ._panel import Panel, cell, fmt, fmt_p, new_panel
from ._plots import interval_plot

__all__ = ["fairness_panel", "order_stability_panel", "robustness_panel"]


def _num(value) -> dict:
    return cell(fmt(value), value, "num")


def _table(panel: Panel, df: pd.DataFrame, columns: list[str], caption: str) -> None:
    rows = []
    for record in df[columns].to_dict(orient="records"):
        row = []
        for c in columns:
            v = record[c]
            if c == "pvalue":
                row.append(cell(fmt_p(v), v, "num"))
            elif isinstance(v, int | float) and not isinstance(v, bool):
                row.append(_num(v))
            else:
                row.append(cell(str(v)))
        rows.append(row)
    panel.table(columns, rows, caption=caption)


def robustness_panel(
    scores: pd.DataFrame,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    settings: Settings | None = None,
) -> Panel:
    settings = settings or Settings()
    panel = new_panel("robustness", settings)
    if not scores["task"].astype(str).str.contains("+", regex=False).any():
        panel.note = "No perturbed runs. Run `assay eval --perturb typos,casing -t TASK`."
        return panel
    try:
        result = stats.robustness(
            scores, metric=metric, metrics=metrics, confidence=settings.confidence_level
        )
    except AssayError as exc:
        return panel.fail(exc)
    table = result.table
    labels = [
        plot_label(f"{m} · {t} · {p}")
        for m, t, p in zip(table["model"], table["task"], table["perturbation"], strict=True)
    ]
    panel.svg(
        interval_plot(
            labels,
            table["diff"],
            table["ci_low"],
            table["ci_high"],
            xlabel=f"perturbed − clean ({settings.label} interval)",
            highlight=list(table["ci_high"] < 0),
        ),
        caption="highlighted: the interval lies below zero (a significant loss)",
    )
    _table(
        panel,
        table,
        list(result.SHOWN),
        f"perturbed − clean ({settings.label} intervals)",
    )
    if not result.worst.empty:
        _table(
            panel,
            result.worst,
            ["model", "task", "metric", "n", "clean", "worst", "ci_low", "ci_high", "drop"],
            f"worst case over perturbations ({settings.label} intervals)",
        )
    panel.results["robustness"] = result
    return panel


def fairness_panel(
    scores: pd.DataFrame, metric: str = "p_correct", settings: Settings | None = None
) -> Panel:
    settings = settings or Settings()
    panel = new_panel("fairness", settings)
    probes = scores["doc_id"].astype(str).str.count("/") == 2
    if not probes.any():
        panel.note = "No fairness probes. Run `assay fairness-probes probes.yaml` and evaluate it."
        return panel
    try:
        result = stats.fairness(
            scores[probes.to_numpy()], metric=metric, confidence=settings.confidence_level
        )
    except AssayError as exc:
        return panel.fail(exc)
    _table(
        panel,
        result.index,
        ["model", "llmbi", "bias", "diversity_penalty", "sentiment"],
        "LLMBI = Σ w·gap(qa) + γ(1 − D) + λ·Σ w·gap(sentiment); "
        f"γ = {result.diversity_weight}, λ = {result.sentiment_weight}",
    )
    _table(
        panel,
        result.axes,
        ["model", "axis", "kind", "groups", "n", "gap", "f_statistic", "pvalue"],
        f"{metric}: gap between groups",
    )
    _table(
        panel,
        result.groups,
        ["model", "axis", "kind", "group", "n", "mean", "diff", "ci_low", "ci_high", "pvalue"],
        f"group minus the other groups ({settings.label} intervals)",
    )
    panel.results["fairness"] = result
    return panel


def order_stability_panel(
    scores: pd.DataFrame,
    models: pd.DataFrame,
    *,
    task: str,
    metric: str,
    metrics: MetricMap | None = None,
) -> Panel:
    panel = new_panel("order_stability")
    try:
        result = stats.order_stability(
            stats.checkpoint_scores(scores, models, task=task, metric=metric, metrics=metrics)
        )
    except AssayError as exc:
        panel.note = f"No checkpoint order for {task} / {metric}: {exc}"
        return panel
    if result.pairs.empty:
        panel.note = "No two successive checkpoints share two model families."
        return panel
    panel.kv({"mean τ": fmt(result.mean_tau), "task": task, "metric": metric})
    _table(
        panel,
        result.pairs,
        ["checkpoint", "next", "tau", "pvalue", "n_models"],
        "Kendall τ-b between successive checkpoints",
    )
    panel.results["order_stability"] = result
    return panel
