"""Collect everything a report shows from a store into one ``ReportData`` object.

Panels come from :data:`PANEL_BUILDERS`, one function per key of the panel registry
(``_panel.PANELS``, which holds every panel's title and intro in display order), taking the
:class:`ReportContext` (the store's frames read once, the comparison, the options) and
returning a :class:`Panel`. To add a panel, put its key, title and intro in ``PANELS``,
what to conclude from it in one sentence in ``_panel.TAKEAWAYS``, and its builder here (its panel is made by ``new_panel``, keeps a ``note`` naming the
command that fills it when it has nothing to show, and may carry ``findings``); the report,
its JSON, the findings and ``assay serve`` pick it up. Every builder receives the level
through ``ctx.settings`` (:class:`assay.core.Settings`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from assay import stats
from assay.core import DEFAULT_RESAMPLES, MetricMap, Settings, resolve_confidence, to_jsonable
from assay.errors import InputError
from assay.rank import ELO_BOOTSTRAP
from assay.store import Store, existing_store

from . import _helm_panels as helm
from ._about import about_panel
from ._drilldown import drilldown_data
from ._findings import ranked
from ._judge_panels import judge_panel
from ._leaderboard import (
    compare_evidence,
    leaderboard_panel,
    pairs_panel,
    task_sentence,
    tasks_panel,
)
from ._panel import PANELS, Finding, Panel
from ._panels import arena_panel, arena_sentence, flips_panel, position_bias_panel, variance_panel
from ._reads import ReportReads
from ._robust_panels import fairness_panel, robustness_panel
from ._scaling import scaling_panel
from ._sequential_panel import sequential_panel
from ._style_panel import style_panel
from ._verdict import VerdictBlock, verdict_block

#: Answers (tasks × models × documents) the side-by-side view embeds at most: a store of 200
#: tasks × 50 models would otherwise put 3 million answers in the HTML; fewer documents per
#: task then (never fewer than MIN_DRILL_DOCS).
MAX_DRILL_ANSWERS = 250_000
MIN_DRILL_DOCS = 20

#: Findings shown before the "more findings" fold, and listed in it at most (a store of 200
#: tasks x 50 models has 245,000 pairs, each a finding: 100 MB of HTML; the JSON keeps all).
TOP_FINDINGS = 6
MAX_LISTED_FINDINGS = 1000


@dataclass
class ReportContext:
    """What every panel builder reads: the store's reads (``reads``: aggregates in DuckDB, rows
    only where a panel shows them; ``scores`` / ``samples`` every row, loaded once when asked
    for), its small tables, the comparison on
    each task's headline metric, each task's chance level, the store's metric definitions
    (``metrics``, from ``Store.evidence()``), and the report's options: ``settings`` (the one
    confidence level of every interval and test, the resamples of every bootstrap and the
    seed), ``arena_bootstrap`` (the arena's rounds, as ``assay rank battles`` uses them),
    ``scaling_bootstrap`` and the arena ``method`` and ``anchor``."""

    store: Store
    reads: ReportReads
    models: pd.DataFrame
    runs: pd.DataFrame
    battles: pd.DataFrame
    comparison: stats.Comparison
    headline: dict[str, str]
    chance: dict[str, float]
    metrics: MetricMap = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)
    arena_bootstrap: int = DEFAULT_RESAMPLES
    scaling_bootstrap: int = 30
    method: str = "bt"
    anchor: tuple[str, float] | None = None

    @property
    def level(self) -> str:
        return self.settings.label

    @property
    def scores(self) -> pd.DataFrame:
        return self.reads.scores

    @property
    def samples(self) -> pd.DataFrame:
        return self.reads.samples


PanelBuilder = Callable[[ReportContext], Panel | None]


def _scores_needed(build: Callable[[ReportContext], Panel]) -> PanelBuilder:
    """``build`` run only when the store has scores (else no panel at all)."""

    def wrapped(ctx: ReportContext) -> Panel | None:
        return build(ctx) if not ctx.reads.empty else None

    return wrapped


def _scaling(c: ReportContext) -> Panel:
    return scaling_panel(
        c.store,
        c.models,
        c.headline,
        c.settings,
        bootstrap=c.scaling_bootstrap,
        metrics=c.metrics,
    )


#: The builder of every panel of the report, by its key in ``PANELS`` (shown in that order).
#: A builder returning None adds no panel.
PANEL_BUILDERS: dict[str, PanelBuilder] = {
    "leaderboard": lambda c: leaderboard_panel(c.comparison, c.headline, c.chance, c.settings),
    "pairs": lambda c: pairs_panel(c.comparison, c.headline, c.settings),
    "sequential": lambda c: sequential_panel(c.runs, c.settings),
    "flips": _scores_needed(
        lambda c: flips_panel(c.reads.parent_scores(c.models), c.models, c.headline, c.settings)
    ),
    "variance": _scores_needed(
        lambda c: variance_panel(c.reads.scores_for("varied", c.headline), c.headline, c.settings)
    ),
    "tasks": lambda c: tasks_panel(c.comparison, c.headline, c.chance, c.settings),
    "bias": _scores_needed(
        lambda c: position_bias_panel(c.reads.samples_for("positions"), c.headline, c.settings)
    ),
    "robustness": _scores_needed(
        lambda c: robustness_panel(
            c.reads.scores_for("perturbed"), metrics=c.metrics, settings=c.settings
        )
    ),
    "calibration": _scores_needed(
        lambda c: helm.calibration_panel(c.reads.samples_for("choices"), c.headline, c.settings)
    ),
    "breakdown": _scores_needed(
        lambda c: helm.breakdown_panel(c.reads.scores_for("difficulty"), c.headline, c.settings)
    ),
    "reliability": _scores_needed(
        lambda c: helm.reliability_panel(
            c.reads.scores_for("varied", c.headline), c.headline, c.metrics, c.settings
        )
    ),
    "efficiency": _scores_needed(
        lambda c: helm.efficiency_panel(
            c.reads.samples_for("latency"),
            c.headline,
            c.settings,
            untimed=c.reads.untimed(c.headline),
        )
    ),
    "fairness": _scores_needed(
        lambda c: fairness_panel(c.reads.scores_for("probes"), settings=c.settings)
    ),
    "arena": lambda c: arena_panel(
        c.battles, c.settings, method=c.method, anchor=c.anchor, bootstrap=c.arena_bootstrap
    ),
    "arena_style": lambda c: style_panel(
        c.battles, c.settings, anchor=c.anchor, bootstrap=c.arena_bootstrap
    ),
    "judges": lambda c: judge_panel(c.battles, c.models, c.settings),
    "scaling": _scores_needed(_scaling),
    "about": _scores_needed(
        lambda c: about_panel(
            c.reads.facts, c.runs, c.models, c.headline, c.chance, c.metrics, c.settings
        )
    ),
}


@dataclass
class ReportData:
    """Everything the report shows. ``panels`` by key, in display order; ``findings`` every
    panel's findings ranked by surprise (most surprising first); ``summary`` the first
    sentences (which model leads each task, by how much, how sure); ``drilldown`` the answers
    per task with two models or more for the side-by-side view (at most ``max_docs``
    documents per task); ``comparison`` the ``assay.stats.compare`` result the leaderboard
    shows, on each task's ``headline`` metric; ``settings`` the level, resamples and seed
    of every panel and ``level`` that level as text ('95%')."""

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
    settings: Settings = field(default_factory=Settings)
    arena_options: dict[str, Any] = field(default_factory=dict)
    top_findings: int = TOP_FINDINGS
    max_findings: int = MAX_LISTED_FINDINGS
    verdict: VerdictBlock | None = None

    @property
    def model_names(self) -> list[str]:
        """The models with scores (the baseline selector's choices)."""
        comp = self.comparison
        if comp is None or comp.scores.empty:
            return []
        return sorted(map(str, comp.scores["model"].unique()))

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

    def with_arena(self, battles: pd.DataFrame) -> ReportData:
        """A copy with the arena panels (ratings, style control), their findings and the vote
        count recomputed from ``battles`` (with the report's settings and arena method, anchor
        and rounds)."""
        arena = arena_panel(battles, self.settings, **self.arena_options)
        options = {k: self.arena_options.get(k) for k in ("anchor", "bootstrap")}
        styled = style_panel(battles, self.settings, **options)
        panels = {**self.panels, "arena": arena, "arena_style": styled}
        return replace(
            self,
            panels=panels,
            counts={**self.counts, "battles": len(battles)},
            findings=_all_findings(panels),
        )

    def with_baseline(self, store: Store, baseline: str | None) -> ReportData:
        """A copy whose verdict puts every model against ``baseline`` (None: the one-change
        pairs), recomputed from ``store`` on the report's comparison; other panels are kept."""
        if self.comparison is None:
            return self
        tasks = list(self.headline) or None
        block = verdict_block(
            self.comparison,
            self.headline,
            reads=ReportReads(store, store.evidence(task=tasks), tasks),
            models=store.models(),
            runs=store.runs(),
            baseline=baseline,
        )
        return replace(self, verdict=block)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "store": self.store_path,
                "generated_at": self.generated_at,
                "level": self.level,
                "confidence_level": self.settings.confidence_level,
                "settings": {
                    **self.settings.to_dict(),
                    "arena_bootstrap": self.arena_options.get("bootstrap"),
                },
                "verdict": self.verdict.to_dict() if self.verdict is not None else None,
                "summary": self.summary,
                "findings": [f.to_dict() for f in self.findings],
                "headline_metrics": self.headline,
                "counts": self.counts,
                "panels": [p.to_dict() for p in self.panels.values()],
            }
        )


def _all_findings(panels: dict[str, Panel]) -> list[Finding]:
    return ranked(f for p in panels.values() for f in p.findings)


def _checked(max_docs: int, scaling_bootstrap: int, method: str) -> None:
    for name, value in (("max_docs", max_docs), ("scaling_bootstrap", scaling_bootstrap)):
        if int(value) != value or value < 0:
            raise InputError(f"{name} must be a whole number >= 0, got {value!r}")
    if method not in ("bt", "davidson", "elo"):
        raise InputError(f"method {method!r}: use bt, davidson or elo")


def report_settings(
    settings: Settings | None = None,
    *,
    confidence: float | None = None,
    alpha: float | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
) -> Settings:
    """``settings``, or the settings made of ``confidence`` (``alpha`` = 1 − confidence, the
    old name, kept working), ``bootstrap`` resamples and ``seed``; not both."""
    loose = (confidence, alpha, bootstrap, seed)
    if settings is not None:
        if any(v is not None for v in loose):
            raise InputError("pass settings or confidence/alpha/bootstrap/seed, not both")
        return settings
    return Settings(
        confidence_level=resolve_confidence(confidence, alpha=("alpha", alpha)),
        resamples=DEFAULT_RESAMPLES if bootstrap is None else bootstrap,
        seed=0 if seed is None else seed,
    )


def build_report(
    store: Store | str | Path,
    *,
    tasks: list[str] | None = None,
    settings: Settings | None = None,
    confidence: float | None = None,
    alpha: float | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
    max_docs: int = 300,
    scaling_bootstrap: int = 30,
    method: str = "bt",
    anchor: tuple[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    baseline: str | None = None,
) -> ReportData:
    """Read the store and compute every panel of :data:`PANEL_BUILDERS` (each degrades to a
    note naming the command that fills it); ``progress(done, total)`` counts the panels.

    ``settings`` (or ``confidence``, ``bootstrap`` resamples and ``seed``, see
    :func:`report_settings`) hold the one confidence level of every interval and test
    (default 95%) and the resamples of every bootstrap (default 1,000, as the commands): each
    panel equals its command at the same ``--confidence``, ``--bootstrap`` and ``--seed``.
    The arena ratings (``method`` bt / davidson / elo, ``anchor`` = (model, rating) pins its
    group's scale) use the resamples too, except elo with none chosen: 100 rounds, as
    ``assay rank battles``. ``scaling_bootstrap`` refits go to the scaling band; ``max_docs``
    caps the documents per task embedded for the drill-down (disagreements first;
    fewer when tasks × models × documents would pass :data:`MAX_DRILL_ANSWERS`).
    The report opens with the verdict (``assay.stats.verdict``): each pair of models that
    differ by one change, or with ``baseline`` every model against it, its table sorted
    regressions first and the flipped questions listed.
    """
    _checked(max_docs, scaling_bootstrap, method)
    chosen = settings is not None or bootstrap is not None
    settings = report_settings(
        settings, confidence=confidence, alpha=alpha, bootstrap=bootstrap, seed=seed
    )
    arena_bootstrap = settings.resamples if chosen or method != "elo" else ELO_BOOTSTRAP
    st = store if isinstance(store, Store) else existing_store(store)
    evidence = st.evidence(task=tasks)
    metrics = evidence.metrics
    reads = ReportReads(st, evidence, tasks)
    comp, headline = compare_evidence(evidence, settings)
    ctx = ReportContext(
        store=st,
        reads=reads,
        models=st.models(),
        runs=st.runs(),
        battles=st.battles(),
        comparison=comp,
        headline=headline,
        metrics=metrics,
        chance=reads.chance(headline, metrics),
        settings=settings,
        arena_bootstrap=arena_bootstrap,
        scaling_bootstrap=scaling_bootstrap,
        method=method,
        anchor=anchor,
    )
    panels: dict[str, Panel] = {}
    _check_anchor(anchor, ctx.battles)
    for done, key in enumerate(PANELS):
        if progress is not None:
            progress(done, len(PANELS))
        build = PANEL_BUILDERS.get(key)
        panel = build(ctx) if build is not None else None
        if panel is not None:
            panels[panel.key] = panel
    if progress is not None:
        progress(len(PANELS), len(PANELS))
    findings = _all_findings(panels)
    if "scaling" in panels:
        findings += [
            Finding(f.sentence(task), 0.0, "forecast")
            for task, f in panels["scaling"].results.items()
        ]
    block = verdict_block(
        comp,
        headline,
        reads=reads,
        models=ctx.models,
        runs=ctx.runs,
        settings=settings,
        baseline=baseline,
    )
    per_task = _drill_docs(max_docs, len(headline), len(reads.facts.models))
    rows, shown = reads.drill_rows(headline, per_task)
    drill = drilldown_data(
        rows, headline, max_docs=per_task, model_order=_model_order(comp), counts=shown or None
    )
    return ReportData(
        store_path=str(st.path),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=_summary(ctx, panels),
        panels=panels,
        drilldown={t: d for t, d in drill.items() if len(d["models"]) >= 2},
        counts={
            "models": len(reads.facts.models),
            "tasks": len(headline),
            "samples": reads.facts.n_samples,
            "battles": len(ctx.battles),
        },
        headline=headline,
        comparison=comp,
        max_docs=per_task,
        findings=findings,
        level=ctx.level,
        settings=settings,
        arena_options={"method": method, "anchor": anchor, "bootstrap": arena_bootstrap},
        verdict=block,
    )


def _drill_docs(max_docs: int, tasks: int, models: int) -> int:
    """Documents per task of the side-by-side view: ``max_docs``, fewer (at least
    :data:`MIN_DRILL_DOCS`) when tasks × models × documents would pass
    :data:`MAX_DRILL_ANSWERS`."""
    cells = max(tasks * models, 1)
    if max_docs * cells <= MAX_DRILL_ANSWERS:
        return max_docs
    return min(max_docs, max(MIN_DRILL_DOCS, MAX_DRILL_ANSWERS // cells))


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
    if ctx.reads.empty:
        if not ctx.battles.empty:
            return [arena_sentence(panels["arena"].results.get("ratings"))]
        return [
            "The store has no scored samples yet: run `assay eval` or `assay import`, then "
            "`assay report` again."
        ]
    by_size = ctx.reads.facts.docs_by_task.sort_values(ascending=False)
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
