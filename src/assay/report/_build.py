"""Collect everything a report shows from a store into one ``ReportData`` object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assay.errors import InputError
from assay.store import Store

from ._drilldown import drilldown_data
from ._leaderboard import (
    Comparison,
    breakdown_panel,
    chance_levels,
    compare_scores,
    leaderboard_panel,
    pairs_panel,
    task_sentence,
)
from ._panel import Panel, jsonable
from ._panels import arena_panel, flips_panel, position_bias_panel, variance_panel
from ._scaling import scaling_panel


@dataclass
class ReportData:
    """Everything the report shows. ``panels`` are in display order; ``summary`` holds the
    first sentences (which model is better, by how much, how sure); ``drilldown`` the answers
    per task for the side-by-side view."""

    store_path: str
    generated_at: str
    summary: list[str]
    panels: list[Panel]
    drilldown: dict[str, Any]
    counts: dict[str, int]
    headline: dict[str, str] = field(default_factory=dict)
    comparison: Comparison | None = None

    def panel(self, key: str) -> Panel:
        return next(p for p in self.panels if p.key == key)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "store": self.store_path,
                "generated_at": self.generated_at,
                "summary": self.summary,
                "headline_metrics": self.headline,
                "counts": self.counts,
                "panels": [p.to_dict() for p in self.panels],
            }
        )


def _open(store: Store | str | Path) -> Store:
    if isinstance(store, Store):
        return store
    path = Path(store)
    if not path.exists():
        raise InputError(f"no store at {path} (run `assay eval` or `assay import` first)")
    return Store(path)


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
    st = _open(store)
    scores = st.scores(task=tasks)
    samples = st.samples(task=tasks)
    models = st.models()
    battles = st.battles()
    if scores.empty:
        comp = Comparison(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), "none", alpha, {})
        summary = [
            "The store has no scored samples yet: run `assay eval` or `assay import`, then "
            "`assay report` again."
        ]
    else:
        comp = compare_scores(scores, alpha=alpha)
        by_size = scores.groupby("task")["doc_id"].nunique().sort_values(ascending=False)
        chance = chance_levels(samples)
        summary = [task_sentence(comp, str(t), chance=chance.get(str(t))) for t in by_size.index]
    panels = [
        leaderboard_panel(comp),
        pairs_panel(comp),
        breakdown_panel(comp),
        arena_panel(battles, bootstrap=bootstrap, seed=seed),
    ]
    if not scores.empty:
        panels += [
            scaling_panel(st, models, comp.headline, bootstrap=scaling_bootstrap, seed=seed),
            variance_panel(scores, comp.headline),
            position_bias_panel(samples, comp.headline),
            flips_panel(scores, models, comp.headline),
        ]
        summary = [summary[0], *_scaling_sentences(panels[4]), *summary[1:]]
    if not battles.empty and scores.empty:
        summary = [_arena_sentence(panels[3])]
    return ReportData(
        store_path=str(st.path),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=summary,
        panels=panels,
        drilldown=drilldown_data(
            samples, comp.headline, max_docs=max_docs, model_order=_model_order(comp)
        ),
        counts={
            "models": int(scores["model"].nunique()) if len(scores) else 0,
            "tasks": len(comp.headline),
            "samples": len(samples),
            "battles": len(battles),
        },
        headline=comp.headline,
        comparison=comp,
    )


def _arena_sentence(panel: Panel) -> str:
    ratings = panel.data.get("ratings")
    if not ratings:
        return "The store holds arena votes but no benchmark scores."
    top = max(ratings, key=lambda r: r["rating"])
    return (
        f"From {sum(r['n'] for r in ratings) // 2:,} arena votes, {top['model']} rates highest: "
        f"{top['rating']:.0f} (95% CI {top['ci_low']:.0f} to {top['ci_high']:.0f})."
    )


def _model_order(comp: Comparison) -> list[str]:
    """Models by their mean rank over tasks (best first): the drill-down's default pair."""
    if comp.scores.empty:
        return []
    s = comp.scores
    lower = s["metric"].map(lambda m: m.lower().startswith(("perplexity", "loss", "bits")))
    signed = s["mean"].where(~lower, -s["mean"])
    rank = signed.groupby([s["task"], s["metric"]]).rank(ascending=False)
    return list(rank.groupby(s["model"]).mean().sort_values(kind="stable").index.astype(str))


def _scaling_sentences(panel: Panel) -> list[str]:
    """What a bigger model would score, with the band and the backtested error."""
    out = []
    for task, d in panel.data.items():
        f = d.get("forecast")
        if not f:
            continue
        what = "FLOPs of training compute" if f["x"] == "flops" else "parameters"
        text = (
            f"Forecast: a model trained with {f['at']:.2g} {what} should score {f['prediction']:.3f} "
            f"{f['metric']} on {task} (95% band {f['low']:.3f} to {f['high']:.3f})"
        )
        b = d.get("backtest")
        if b:
            held = "largest model" if b["n_heldout"] == 1 else f"{b['n_heldout']} largest models"
            text += (
                f"; the same fit on the smaller models predicted the {held} within "
                f"{b['mae']:.3f} on average (backtest MAE)"
            )
        out.append(text + ".")
    return out[:1]
