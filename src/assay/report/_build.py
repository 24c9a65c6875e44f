"""Collect everything a report shows from a store into one ``ReportData`` object.

Panels come from :data:`PANEL_BUILDERS`, one function per panel taking the
:class:`ReportContext` (the store's frames read once, the comparison, the options) and
returning a :class:`Panel`. To add a panel, write such a function (its panel keeps a ``note``
naming the command that fills it when it has nothing to show, and may carry ``findings``) and
append it to the list; the report, its JSON, the findings and ``assay serve`` pick it up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from assay import stats
from assay.core import MetricMap, to_jsonable
from assay.errors import InputError
from assay.store import Store, existing_store

from . import _helm_panels as helm
from ._about import about_panel
from ._drilldown import drilldown_data
from ._findings import ranked
from ._judge_panels import judge_panel
from ._leaderboard import (
    breakdown_panel,
    compare_scores,
    leaderboard_panel,
    pairs_panel,
    task_sentence,
)
from ._panel import Finding, Panel, level_text
from ._panels import arena_panel, arena_sentence, flips_panel, position_bias_panel, variance_panel
from ._robust_panels import fairness_panel, robustness_panel
from ._scaling import scaling_panel
from ._sequential_panel import sequential_panel

#: Findings shown before the "more findings" fold.
TOP_FINDINGS = 6


@dataclass
class ReportContext:
    """What every panel builder reads: the store's frames (read once), the comparison on
    each task's headline metric, each task's chance level, the store's metric definitions
    (``metrics``, from ``Store.evidence()``), and the report's options
    (``alpha``: intervals are 1 − alpha; arena ``method`` and ``anchor`` as ``assay rank
    battles`` takes them)."""

    store: Store
    scores: pd.DataFrame
    samples: pd.DataFrame
    models: pd.DataFrame
    runs: pd.DataFrame
    battles: pd.DataFrame
    comparison: stats.Comparison
    headline: dict[str, str]
    chance: dict[str, float]
    metrics: MetricMap = field(default_factory=dict)
    alpha: float = 0.05
    bootstrap: int = 100
    seed: int = 0
    scaling_bootstrap: int = 30
    method: str = "bt"
    anchor: tuple[str, float] | None = None

    @property
    def level(self) -> str:
        return level_text(self.alpha)


PanelBuilder = Callable[[ReportContext], Panel]


def _scores_needed(build: PanelBuilder, key: str) -> PanelBuilder:
    """``build`` run only when the store has scores (else no panel at all)."""

    def wrapped(ctx: ReportContext) -> Panel | None:
        return build(ctx) if not ctx.scores.empty else None

    wrapped.__name__ = key
    return wrapped


def _arena(ctx: ReportContext) -> Panel:
    return arena_panel(
        ctx.battles, bootstrap=ctx.bootstrap, seed=ctx.seed, method=ctx.method,
        anchor=ctx.anchor, alpha=ctx.alpha,
    )  # fmt: skip


#: Every panel in display order. A builder returning None adds no panel.
PANEL_BUILDERS: list[Callable[[ReportContext], Panel | None]] = [
    lambda c: leaderboard_panel(c.comparison, c.headline, c.chance),
    lambda c: pairs_panel(c.comparison, c.headline),
    lambda c: sequential_panel(c.runs, c.level),
    _scores_needed(lambda c: flips_panel(c.scores, c.models, c.headline, alpha=c.alpha), "flips"),
    _scores_needed(lambda c: variance_panel(c.scores, c.headline), "variance"),
    lambda c: breakdown_panel(c.comparison, c.headline, c.chance),
    _scores_needed(lambda c: position_bias_panel(c.samples, c.headline), "bias"),
    _scores_needed(lambda c: robustness_panel(c.scores, metrics=c.metrics), "robustness"),
    _scores_needed(
        lambda c: helm.calibration_panel(
            c.samples, c.headline, n_resamples=200, alpha=c.alpha, seed=c.seed
        ),
        "calibration",
    ),
    _scores_needed(lambda c: helm.breakdown_panel(c.scores, c.headline, seed=c.seed), "breakdown"),
    _scores_needed(
        lambda c: helm.reliability_panel(c.scores, c.headline, c.metrics), "reliability"
    ),
    _scores_needed(lambda c: helm.efficiency_panel(c.samples, c.headline), "efficiency"),
    _scores_needed(lambda c: fairness_panel(c.scores), "fairness"),
    _arena,
    lambda c: judge_panel(c.battles, c.models, bootstrap=c.bootstrap, seed=c.seed),
    _scores_needed(
        lambda c: scaling_panel(
            c.store,
            c.models,
            c.headline,
            bootstrap=c.scaling_bootstrap,
            seed=c.seed,
            level=1 - c.alpha,
            metrics=c.metrics,
        ),
        "scaling",
    ),
    _scores_needed(
        lambda c: about_panel(c.scores, c.runs, c.models, c.headline, c.chance, c.metrics),
        "about",
    ),
]


@dataclass
class ReportData:
    """Everything the report shows. ``panels`` by key, in display order; ``findings`` every
    panel's findings ranked by surprise (most surprising first); ``summary`` the first
    sentences (which model leads each task, by how much, how sure); ``drilldown`` the answers
    per task with two models or more for the side-by-side view (at most ``max_docs``
    documents per task); ``comparison`` the ``assay.stats.compare`` result the leaderboard
    shows, on each task's ``headline`` metric; ``level`` the intervals' confidence."""

    store_path: str
    generated_at: str
    summary: list[str]
    panels: dict[str, Panel]
    drilldown: dict[str, Any]
    counts: dict[str, int]
    headline: dict[str, str] = field(default_factory=dict)
    comparison: stats.Comparison | None = None
    max_docs: int = 300
    findings: list[Finding] = field(default_factory=list)
    level: str = "95%"
    arena_options: dict[str, Any] = field(default_factory=dict)
    top_findings: int = TOP_FINDINGS

    def panel(self, key: str) -> Panel:
        return self.panels[key]

    @property
    def shown_panels(self) -> list[Panel]:
        """Panels with content, in order."""
        return [p for p in self.panels.values() if p.available]

    @property
    def empty_panels(self) -> list[Panel]:
        """Panels with nothing to show: the "what else assay can show you" box."""
        return [p for p in self.panels.values() if not p.available]

    def with_arena(
        self, battles: pd.DataFrame, *, bootstrap: int = 100, seed: int = 0
    ) -> ReportData:
        """A copy with the arena panel, its findings and the vote count recomputed from
        ``battles`` (with the report's arena method, anchor and level)."""
        arena = arena_panel(battles, bootstrap=bootstrap, seed=seed, **self.arena_options)
        panels = {**self.panels, "arena": arena}
        return replace(
            self,
            panels=panels,
            counts={**self.counts, "battles": len(battles)},
            findings=_all_findings(panels),
        )

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "store": self.store_path,
                "generated_at": self.generated_at,
                "level": self.level,
                "summary": self.summary,
                "findings": [f.to_dict() for f in self.findings],
                "headline_metrics": self.headline,
                "counts": self.counts,
                "panels": [p.to_dict() for p in self.panels.values()],
            }
        )


def _all_findings(panels: dict[str, Panel]) -> list[Finding]:
    return ranked(f for p in panels.values() for f in p.findings)


def _checked(
    max_docs: int, bootstrap: int, scaling_bootstrap: int, alpha: float, method: str
) -> None:
    for name, value in (
        ("max_docs", max_docs), ("bootstrap", bootstrap), ("scaling_bootstrap", scaling_bootstrap)
    ):  # fmt: skip
        if int(value) != value or value < 0:
            raise InputError(f"{name} must be a whole number >= 0, got {value!r}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha!r}")
    if method not in ("bt", "davidson", "elo"):
        raise InputError(f"method {method!r}: use bt, davidson or elo")


def build_report(
    store: Store | str | Path,
    *,
    tasks: list[str] | None = None,
    alpha: float = 0.05,
    bootstrap: int = 100,
    seed: int = 0,
    max_docs: int = 300,
    scaling_bootstrap: int = 30,
    method: str = "bt",
    anchor: tuple[str, float] | None = None,
) -> ReportData:
    """Read the store and compute every panel of :data:`PANEL_BUILDERS` (each degrades to a
    note naming the command that fills it).

    Intervals are (1 − ``alpha``) everywhere; ``bootstrap`` rounds go to the arena ratings
    (``method`` bt / davidson / elo, ``anchor`` = (model, rating) pins its group's scale, as
    in ``assay rank battles``), ``scaling_bootstrap`` refits to the scaling band; ``max_docs``
    caps the documents per task embedded for the drill-down (disagreements first).
    """
    _checked(max_docs, bootstrap, scaling_bootstrap, alpha, method)
    st = store if isinstance(store, Store) else existing_store(store)
    evidence = st.evidence(task=tasks)
    scores, metrics = evidence.scores, evidence.metrics
    samples = st.samples(task=tasks)
    comp, headline = compare_scores(scores, alpha=alpha, metrics=metrics)
    ctx = ReportContext(
        store=st, scores=scores, samples=samples, models=st.models(), runs=st.runs(),
        battles=st.battles(), comparison=comp, headline=headline, metrics=metrics,
        chance=stats.headline_chance(headline, samples, metrics), alpha=alpha, bootstrap=bootstrap, seed=seed,
        scaling_bootstrap=scaling_bootstrap, method=method, anchor=anchor,
    )  # fmt: skip
    panels: dict[str, Panel] = {}
    _check_anchor(anchor, ctx.battles)
    for build in PANEL_BUILDERS:
        panel = build(ctx)
        if panel is not None:
            panels[panel.key] = panel
    findings = _all_findings(panels)
    if "scaling" in panels:
        findings += [
            Finding(f.sentence(task), 0.0, "forecast")
            for task, f in panels["scaling"].results.items()
        ]
    drill = drilldown_data(samples, headline, max_docs=max_docs, model_order=_model_order(comp))
    return ReportData(
        store_path=str(st.path),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=_summary(ctx, panels),
        panels=panels,
        drilldown={t: d for t, d in drill.items() if len(d["models"]) >= 2},
        counts={
            "models": int(scores["model"].nunique()) if len(scores) else 0,
            "tasks": len(headline),
            "samples": len(samples),
            "battles": len(ctx.battles),
        },
        headline=headline,
        comparison=comp,
        max_docs=max_docs,
        findings=findings,
        level=ctx.level,
        arena_options={"method": method, "anchor": anchor, "alpha": alpha},
    )


def _check_anchor(anchor: tuple[str, float] | None, battles: pd.DataFrame) -> None:
    """``anchor`` must name a model with votes (when there are votes to rate)."""
    if anchor is None or battles.empty:
        return
    rated = set(battles["model_a"].astype(str).str.strip()) | set(
        battles["model_b"].astype(str).str.strip()
    )
    if anchor[0] not in rated:
        raise InputError(
            f"--anchor: model {anchor[0]!r} has no arena votes (rated: {', '.join(sorted(rated))})"
        )


def _summary(ctx: ReportContext, panels: dict[str, Panel]) -> list[str]:
    """One sentence per task (largest first), a forecast after the first; with votes but no
    scores, the arena's leader."""
    if ctx.scores.empty:
        if not ctx.battles.empty:
            return [arena_sentence(panels["arena"].results.get("ratings"))]
        return [
            "The store has no scored samples yet: run `assay eval` or `assay import`, then "
            "`assay report` again."
        ]
    by_size = ctx.scores.groupby("task")["doc_id"].nunique().sort_values(ascending=False)
    summary = [
        task_sentence(ctx.comparison, str(t), ctx.headline[str(t)], chance=ctx.chance.get(str(t)))
        for t in by_size.index
    ]
    if "scaling" in panels:
        forecasts = [f.sentence(task) for task, f in panels["scaling"].results.items()]
        summary = [summary[0], *forecasts[:1], *summary[1:]]
    return summary


def _model_order(comp: stats.Comparison) -> list[str]:
    """Models by their mean rank over tasks (best first): the drill-down's default pair."""
    if comp.scores.empty:
        return []
    s = comp.scores
    lower = s["metric"].map(lambda m: comp.metric(m).lower_is_better).astype(bool)
    signed = s["mean"].where(~lower, -s["mean"])
    rank = signed.groupby([s["task"], s["metric"]]).rank(ascending=False)
    return list(rank.groupby(s["model"]).mean().sort_values(kind="stable").index.astype(str))
