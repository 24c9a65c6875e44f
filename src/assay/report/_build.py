"""Collect everything a report shows from a store into one ``ReportData`` object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from assay import stats
from assay.core import lower_is_better, to_jsonable
from assay.errors import InputError
from assay.store import Store, existing_store

from ._drilldown import drilldown_data
from ._leaderboard import (
    breakdown_panel,
    chance_levels,
    compare_scores,
    leaderboard_panel,
    pairs_panel,
    task_sentence,
)
from ._panel import Panel
from ._panels import arena_panel, arena_sentence, flips_panel, position_bias_panel, variance_panel
from ._scaling import scaling_panel


@dataclass
class ReportData:
    """Everything the report shows. ``panels`` by key, in display order; ``summary`` holds
    the first sentences (which model is better, by how much, how sure); ``drilldown`` the
    answers per task for the side-by-side view (at most ``max_docs`` documents per task);
    ``comparison`` the ``assay.stats.compare`` result the leaderboard shows, on each task's
    ``headline`` metric."""

    store_path: str
    generated_at: str
    summary: list[str]
    panels: dict[str, Panel]
    drilldown: dict[str, Any]
    counts: dict[str, int]
    headline: dict[str, str] = field(default_factory=dict)
    comparison: stats.Comparison | None = None
    max_docs: int = 300

    def panel(self, key: str) -> Panel:
        return self.panels[key]

    def with_arena(
        self, battles: pd.DataFrame, *, bootstrap: int = 100, seed: int = 0
    ) -> ReportData:
        """A copy with the arena panel and the vote count recomputed from ``battles``."""
        panels = {**self.panels, "arena": arena_panel(battles, bootstrap=bootstrap, seed=seed)}
        return replace(self, panels=panels, counts={**self.counts, "battles": len(battles)})

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "store": self.store_path,
                "generated_at": self.generated_at,
                "summary": self.summary,
                "headline_metrics": self.headline,
                "counts": self.counts,
                "panels": [p.to_dict() for p in self.panels.values()],
            }
        )


def build_report(
    store: Store | str | Path,
    *,
    tasks: list[str] | None = None,
    alpha: float = 0.05,
    bootstrap: int = 100,
    seed: int = 0,
    max_docs: int = 300,
    scaling_bootstrap: int = 30,
) -> ReportData:
    """Read the store and compute every panel (each degrades to a note when it has no data).

    ``bootstrap`` rounds go to the arena ratings, ``scaling_bootstrap`` refits to the scaling
    band; ``max_docs`` caps the documents per task embedded for the drill-down (disagreements
    first).
    """
    for name, value in (
        ("max_docs", max_docs), ("bootstrap", bootstrap), ("scaling_bootstrap", scaling_bootstrap)
    ):  # fmt: skip
        if int(value) != value or value < 0:
            raise InputError(f"{name} must be a whole number >= 0, got {value!r}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha!r}")
    st = store if isinstance(store, Store) else existing_store(store)
    scores = st.analysis_scores(task=tasks)
    samples = st.samples(task=tasks)
    models = st.models()
    battles = st.battles()
    comp, headline = compare_scores(scores, alpha=alpha)
    if scores.empty:
        summary = [
            "The store has no scored samples yet: run `assay eval` or `assay import`, then "
            "`assay report` again."
        ]
    else:
        by_size = scores.groupby("task")["doc_id"].nunique().sort_values(ascending=False)
        chance = chance_levels(samples)
        summary = [
            task_sentence(comp, str(t), headline[str(t)], chance=chance.get(str(t)))
            for t in by_size.index
        ]
    shown = [
        leaderboard_panel(comp, headline),
        pairs_panel(comp, headline),
        breakdown_panel(comp, headline),
        arena_panel(battles, bootstrap=bootstrap, seed=seed),
    ]
    if not scores.empty:
        shown += [
            scaling_panel(st, models, headline, bootstrap=scaling_bootstrap, seed=seed),
            variance_panel(scores, headline),
            position_bias_panel(samples, headline),
            flips_panel(scores, models, headline),
        ]
    panels = {p.key: p for p in shown}
    if "scaling" in panels:
        forecasts = [f.sentence(task) for task, f in panels["scaling"].results.items()]
        summary = [summary[0], *forecasts[:1], *summary[1:]]
    if not battles.empty and scores.empty:
        summary = [arena_sentence(panels["arena"].results.get("ratings"))]
    return ReportData(
        store_path=str(st.path),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=summary,
        panels=panels,
        drilldown=drilldown_data(
            samples, headline, max_docs=max_docs, model_order=_model_order(comp)
        ),
        counts={
            "models": int(scores["model"].nunique()) if len(scores) else 0,
            "tasks": len(headline),
            "samples": len(samples),
            "battles": len(battles),
        },
        headline=headline,
        comparison=comp,
        max_docs=max_docs,
    )


def _model_order(comp: stats.Comparison) -> list[str]:
    """Models by their mean rank over tasks (best first): the drill-down's default pair."""
    if comp.scores.empty:
        return []
    s = comp.scores
    signed = s["mean"].where(~s["metric"].map(lower_is_better).astype(bool), -s["mean"])
    rank = signed.groupby([s["task"], s["metric"]]).rank(ascending=False)
    return list(rank.groupby(s["model"]).mean().sort_values(kind="stable").index.astype(str))
