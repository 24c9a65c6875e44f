"""The "what was run" panel: task descriptions, metric definitions in words, the models and
each run's settings, from the store's runs, models and samples tables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from assay.core import MetricMap, Settings, metric_info
from assay.store import ScoreFacts

from ._panel import Panel, cell, fmt, new_panel

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _task_info(name: str) -> tuple[str, int | None]:
    """A built-in or registered task's one-line description and size ('' and None for a task
    assay does not know, e.g. an imported one). Only plain names are looked up, never files."""
    if not _PLAIN_NAME.match(name) or Path(name).exists():
        return "", None
    from assay.tasks import load_task

    try:
        task = load_task(name)
    except Exception:  # an imported task's name: nothing to describe  # noqa: BLE001
        return "", None
    about = task.metadata.get("about") if isinstance(task.metadata, dict) else None
    return str(about or task.description or ""), len(task.docs)


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        out = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _range(name: str, metrics: MetricMap | None) -> str:
    bounds = metric_info(name, metrics).bounds
    return "unbounded" if bounds is None else f"{fmt(bounds[0], 2)} to {fmt(bounds[1], 2)}"


def about_panel(
    facts: ScoreFacts,
    runs: pd.DataFrame,
    models: pd.DataFrame,
    headline: dict[str, str],
    chance: dict[str, float],
    metrics: MetricMap | None = None,
    settings: Settings | None = None,
) -> Panel:
    """Tables: tasks (description, documents scored of the task's size, headline, chance),
    metrics (direction, range, definition), models (parent, size, spec) and runs (template,
    n-shot, seed, repeats, choice orderings, backend, dtype / quantization, documents);
    ``metrics``: the store's metric definitions; ``settings`` the report's (its level);
    ``facts``: the scores' aggregates (``assay.store.score_facts``)."""
    panel = new_panel("about", settings)
    if facts.docs_by_task.empty:
        panel.note = "Nothing was run yet: `assay eval` evaluates the bundled model."
        return panel
    docs = facts.docs_by_task
    rows = []
    for task in sorted(headline):
        about, size = _task_info(task)
        scored = int(docs.get(task, 0))
        rows.append(
            [
                cell(task),
                cell(about or "—"),
                cell(
                    f"{scored:,}" + (f" of {size:,}" if size and size != scored else ""),
                    scored,
                    "num",
                ),
                cell(headline[task]),
                cell(fmt(chance[task]) if task in chance else "—", chance.get(task), "num"),
            ]
        )
    panel.table(
        ["task", "what it asks", "documents", "headline metric", "chance"],
        rows,
        table_id="about-tasks",
    )
    names = list(facts.metric_names)
    panel.table(
        ["metric", "better", "range", "definition"],
        [
            [
                cell(m),
                cell("lower" if metric_info(m, metrics).lower_is_better else "higher"),
                cell(_range(m, metrics)),
                cell(metric_info(m, metrics).description or "—"),
            ]
            for m in names
        ],
        table_id="about-metrics",
    )
    _models_table(panel, models, set(facts.models))
    _runs_table(panel, runs, facts.docs_by_run)
    return panel


def _models_table(panel: Panel, models: pd.DataFrame, present: set[str]) -> None:
    if models.empty:
        return
    m = models[models["model"].isin(present)]
    if m.empty:
        return
    rows = []
    for r in m.itertuples(index=False):
        extra = _json(getattr(r, "extra", None))
        detail = ", ".join(f"{k} {v}" for k, v in extra.items() if isinstance(v, str | int | float))
        rows.append(
            [
                cell(str(r.model), cls="model"),
                cell(str(r.parent) if pd.notna(r.parent) else "—"),
                cell(fmt(r.params) if pd.notna(r.params) else "—", r.params, "num"),
                cell(str(r.spec) if pd.notna(r.spec) else "—"),
                cell(detail or "—"),
            ]
        )
    panel.table(["model", "parent", "parameters", "spec", "details"], rows, table_id="about-models")


def _runs_table(panel: Panel, runs: pd.DataFrame, docs: pd.Series | None) -> None:
    """``docs``: documents scored per run_id (None: the scores name no runs, all are shown)."""
    runs = runs[runs["run_id"].isin(set(docs.index))] if docs is not None else runs
    if runs.empty:
        return
    docs = pd.Series() if docs is None else docs
    rows = []
    for r in runs.sort_values(["model", "task", "template_id"], kind="stable").itertuples():
        settings = _json(r.settings)
        orderings = settings.get("permute_choices")
        rows.append(
            [
                cell(str(r.model), cls="model"),
                cell(str(r.task)),
                cell(str(r.template_id) if pd.notna(r.template_id) else "—"),
                cell(str(int(r.num_fewshot)) if pd.notna(r.num_fewshot) else "—", cls="num"),
                cell(str(int(r.fewshot_seed)) if pd.notna(r.fewshot_seed) else "—", cls="num"),
                cell(str(settings.get("repeats", "—")), cls="num"),
                cell(str(max(int(orderings), 1)) if isinstance(orderings, int) else "—", cls="num"),
                cell(str(settings.get("backend") or r.source or "—")),
                cell(
                    " / ".join(
                        str(settings[k]) for k in ("dtype", "quantization") if settings.get(k)
                    )
                    or "—"
                ),
                cell(fmt(int(docs.get(r.run_id, 0))), int(docs.get(r.run_id, 0)), "num"),
            ]
        )
    panel.table(
        [
            "model",
            "task",
            "template",
            "n-shot",
            "seed",
            "repeats",
            "orderings",
            "backend",
            "dtype / quantization",
            "documents",
        ],
        rows,
        caption="Runs (documents: scored per run; fewer than the task holds means --limit)",
        table_id="about-runs",
    )
