"""The building blocks of a report: panels holding tables, plots, text and the typed results
they show, and number formats."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.core import Settings, format_number, level_label, to_jsonable


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell: fixed decimals, scientific when tiny or huge, '' for NaN."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return format_number(x, digits)


def fmt_p(p: Any) -> str:
    """A p-value: '< 0.001' below a thousandth."""
    try:
        x = float(p)
    except (TypeError, ValueError):
        return ""
    if math.isnan(x):
        return ""
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def p_text(p: Any) -> str:
    """A p-value after "p " in a sentence: "= 0.012", or "< 0.001" (never "p = < 0.001")."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def cell(text: str, value: Any = None, cls: str = "", title: str = "") -> dict[str, Any]:
    """A table cell with display text, the raw value (data-value attribute) and a CSS class."""
    raw = None
    if value is not None:
        try:
            raw = float(value)
            raw = None if math.isnan(raw) else raw
        except (TypeError, ValueError):
            raw = str(value)
    return {"text": text, "value": raw, "cls": cls, "title": title}


#: Every panel by key, in the report's display order: its title and intro. An intro's
#: ``{level}`` (the confidence level, '95%'), ``{alpha}`` (1 − it), ``{resamples}`` and
#: ``{seed}`` come from the report's :class:`~assay.core.Settings`, other fields from the
#: builder (:func:`new_panel`). The one registry: every panel is made by :func:`new_panel`.
PANELS: dict[str, tuple[str, str]] = {
    "leaderboard": (
        "Leaderboard",
        "Each task is ranked on its headline metric, beside the score of guessing (chance). "
        "Intervals are {level}; where the group column appears, models that share a letter "
        "are not significantly different from each other (α = {alpha}, Holm-corrected). "
        "Method: {method}.",
    ),
    "pairs": (
        "Pairwise differences",
        "Row model minus column model on the documents both answered, with the "
        "Holm-adjusted p-value. Coloured cells are significant at α = "
        "{alpha}: green where the row model is better, red where it is worse.",
    ),
    "sequential": (
        "Stopped comparisons",
        "Comparisons run with `assay eval --until-decided`: questions asked in a random order, "
        "stopped once the anytime-valid confidence sequence of the difference A − B decided "
        "(above 0: A better; below 0: B better; inside ±δ: equivalent). The band is the "
        "interval after each batch; the dotted line marks where it stopped.",
    ),
    "flips": (
        "Version flips",
        "For each model with a parent (an older version): negative flips (parent right, "
        "new model wrong) as a rate of all documents (NFR) and of the new model's errors (NFI), "
        "and positive flips (PFR), with Wilson {level} intervals (MUSCLE).",
    ),
    "variance": (
        "Variance",
        "How much of the spread comes from seeds, templates and choice orderings, against "
        "the sampling variance of the documents: ratio = variance of the level scores / "
        "sampling variance of one score; above 1, re-running with another level moves the "
        "score more than drawing other documents would.",
    ),
    "tasks": (
        "Per-task breakdown",
        "Every model on every task (headline metric, {level} interval) on the metric's own "
        "range, with the chance level as a dashed line; blue marks the leader.",
    ),
    "bias": (
        "Position bias",
        "Share of answers at each shown position against a uniform spread (chi-square "
        "test; p-values below α = {alpha} marked), and the accuracy averaged over each "
        "question's orderings (ordering-corrected).",
    ),
    "robustness": (
        "Robustness",
        "Each perturbation's paired difference to the clean score over the same documents "
        "({level} intervals), and the worst case over perturbations per document (HELM).",
    ),
    "calibration": (
        "Calibration",
        "Confidence is the softmax of the choices' log-likelihoods at the chosen answer. ECE "
        "over {bins} equal-mass bins (debiased, with a bias-corrected {level} interval) and the "
        "debiased L2 error CE₂ (Kumar et al. 2019), each with the p-value of a test of "
        "calibration (outcomes resampled at the model's own confidences, Bröcker & Smith 2007); "
        "MCE, the Brier score with its Murphy decomposition (reliability − resolution + "
        "uncertainty) and the area under the risk–coverage curve (lower is better for all). "
        "{resamples} resamples, seed {seed}. Reliability diagrams use at least 10 answers per "
        "bin.",
    ),
    "breakdown": (
        "Scores by difficulty",
        "Each task's headline metric per difficulty level with {level} intervals; the test asks "
        "whether the levels differ (permutation test, Holm-adjusted over tasks and models, "
        "α = {alpha}).",
    ),
    "reliability": (
        "Reliability over variants",
        "Share of questions right in every variant (templates, choice orderings, samples) — "
        "the confidence index of the Dynamic Intelligence Assessment — next to the mean, with "
        "Wilson {level} intervals, and the reliability score (+1 right, −2 wrong per variant).",
    ),
    "efficiency": (
        "Efficiency",
        "Throughput, latency percentiles (with order-statistic {level} intervals), tokens and "
        "cost per sample; the runtime model runtime = a + b·prompt + c·output fitted on the "
        "batch timings (Narayanan et al. 2023).",
    ),
    "fairness": (
        "Fairness",
        "Counterfactual probes asked once per group with only the demographic term swapped: "
        "each group minus the others (paired over probes, {level} intervals), the gap per axis "
        "with a repeated-measures F test, and the LLM Bias Index. Position and label bias of "
        "the answers are in the Position bias panel.",
    ),
    "arena": (
        "Arena ratings",
        "{method} ratings on the Elo scale from pairwise votes, with bootstrap {level} "
        "intervals ({bootstrap} rounds, seed {seed}) and the range of ranks each model could "
        "hold; {scale}. Models never compared with each other, directly or through others, "
        "have no common scale: each connected group is rated separately.",
    ),
    "arena_style": (
        "Arena ratings with style control",
        "The same votes rated twice by Bradley–Terry: raw, and with style covariates as "
        "LMArena's style control (the normalised differences (a − b)/(a + b + 1) between the "
        "two answers in length, markdown headers, list items and bold spans, or the features "
        "the votes carry, standardised over the votes). {level} intervals ({intervals}); rank "
        "= 1 + the models surely better. A coefficient is the change in the log-odds of "
        "winning per standard deviation of that difference.",
    ),
    "judges": (
        "LLM judges",
        "Each judge's verdicts, checked: how often its two verdicts on a pair (one per answer "
        "order) agree and how often the answer shown first wins (0.5 = no position bias; "
        "MT-Bench); Cohen's κ against human votes on the same prompt and pair; and its "
        "self-preference, the excess win rate it gives its own model family over the human "
        "votes on the same pairs. Intervals are {level} bootstrap over prompts ({resamples} "
        "rounds, seed {seed}).",
    ),
    "scaling": (
        "Scaling and forecast",
        "Score against training compute (or parameters) with the fitted law and its {level} "
        "band; the largest models are held out, predicted from the smaller ones, and the "
        "backtested error says how far to trust the forecast.",
    ),
    "about": (
        "What was run",
        "The tasks, what each metric measures, the models and each run's settings as the "
        "store records them.",
    ),
    "order_stability": (
        "Order stability across checkpoints",
        "Kendall τ between the order of model families at successive checkpoints (1 = same order).",
    ),
}


#: What to conclude from each panel of :data:`PANELS`, in one sentence (shown under its intro).
TAKEAWAYS: dict[str, str] = {
    "leaderboard": "One model is ahead of another on a task only where they share no group "
    "letter (or, without letters, where the pairwise test says so); otherwise the order may be "
    "noise.",
    "pairs": "A coloured cell is a difference these questions establish; a plain cell means "
    "they cannot tell the two models apart, not that the models are equal.",
    "sequential": "A stopped comparison's decision holds at its stated confidence although it "
    "stopped early; 'equivalent' means the difference lies within ±δ.",
    "flips": "A high negative flip rate means answers that used to be right turn wrong for "
    "users of the new version, even when its overall score rose.",
    "variance": "A ratio above 1 means the score depends more on how the model was prompted or "
    "sampled than on which questions were drawn: report it over several settings, not one.",
    "tasks": "A model whose interval reaches the dashed chance line is not shown to beat "
    "guessing on that task.",
    "bias": "A p-value below α means the model prefers some answer positions whatever the "
    "content; then trust the ordering-corrected accuracy over the raw one.",
    "robustness": "A perturbation whose interval lies below 0 costs the model accuracy; the "
    "worst case is what an unlucky phrasing costs.",
    "calibration": "Where ECE is small and the calibration p-value is above α, the model's "
    "confidence can be read as its chance of being right; otherwise it cannot.",
    "breakdown": "A p-value below α means the score changes with difficulty: read the "
    "per-level scores, not the average.",
    "reliability": "The gap between the mean and the share right in every variant is how often "
    "the model is right only under some wordings or orderings.",
    "efficiency": "Weigh a score gain against the cost and latency columns: a slightly better "
    "model that is several times slower or dearer may not be worth it.",
    "fairness": "A group difference whose interval excludes 0 means swapping only the "
    "demographic term changes the answers.",
    "arena": "Models whose rating intervals and rank ranges overlap are not reliably ordered "
    "by these votes.",
    "arena_style": "A model that climbs under style control wins on substance more than its "
    "raw rank shows, one that drops was carried by its style, and a coefficient whose interval "
    "excludes 0 is a style voters reward whatever the model.",
    "judges": "Trust a judge alone only if its two orderings agree, its first-shown win rate "
    "is near 0.5 and it does not favour its own family.",
    "scaling": "Trust the forecast only as far as the backtested error: a large one means the "
    "law does not extrapolate here.",
    "about": "Check here that the compared models ran with the same settings before reading a "
    "difference as the models'.",
    "order_stability": "τ near 1 means the families keep their order through training, so an "
    "early checkpoint predicts the final ranking.",
}


@dataclass(frozen=True)
class Finding:
    """One sentence of the findings, with numbers and its interval or level. ``surprise``
    ranks them: −log10 of the test's p-value (0 for what is expected, such as a model
    above chance); ``kind`` names the analysis (pair, flips, variance, bias, chance, arena)."""

    text: str
    surprise: float
    kind: str
    p_value: float | None = None

    @classmethod
    def tested(cls, text: str, kind: str, p_value: float | None) -> Finding:
        """The finding of a test: ranked by its p-value's :func:`surprise`."""
        p = None if p_value is None else float(p_value)
        return cls(text, surprise(p), kind, p)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def surprise(p_value: float | None) -> float:
    """−log10 p, capped at 300 (p = 0 from a huge z); 0 without a p-value."""
    if p_value is None or not math.isfinite(float(p_value)):
        return 0.0
    return float(min(300.0, -math.log10(max(float(p_value), 1e-300))))


def level_text(alpha: float) -> str:
    """The confidence level of (1 − alpha) intervals: '95%', '99%', '99.9%'."""
    return level_label(1 - alpha)


@dataclass
class Panel:
    """One section of the report. ``items`` are dicts with ``kind`` table | svg | text | kv;
    ``results`` the typed results shown (``assay.stats`` / ``rank`` / ``forecast`` objects or
    DataFrames), by name (a task, a model pair, ...).

    A panel without data keeps a ``note`` that says why and the command that fills it (the
    report gathers such panels into one "what else assay can show you" box); ``findings`` are
    its sentences for the findings list at the top of the report; ``level`` the confidence
    level of its intervals and tests ("95%", from the report's settings).
    """

    key: str
    title: str
    intro: str = ""
    note: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    level: str = ""
    takeaway: str = ""

    @property
    def available(self) -> bool:
        return bool(self.items)

    def table(
        self,
        columns: list[str],
        rows: list[list[Any]],
        *,
        caption: str = "",
        table_id: str = "",
        row_keys: list[str] | None = None,
    ) -> None:
        wrapped = [[c if isinstance(c, dict) else cell(str(c)) for c in r] for r in rows]
        self.items.append(
            {
                "kind": "table",
                "caption": caption,
                "columns": columns,
                "rows": wrapped,
                "id": table_id,
                "row_keys": row_keys or [""] * len(rows),
            }
        )

    def svg(self, svg: str, caption: str = "") -> None:
        self.items.append({"kind": "svg", "svg": svg, "caption": caption})

    def text(self, text: str) -> None:
        self.items.append({"kind": "text", "text": text})

    def kv(self, pairs: dict[str, str], caption: str = "") -> None:
        self.items.append({"kind": "kv", "pairs": pairs, "caption": caption})

    def fail(self, exc: Exception) -> Panel:
        """This panel with its content replaced by a note naming ``exc``."""
        self.items.clear()
        self.findings.clear()
        self.note = f"Could not compute this panel: {type(exc).__name__}: {exc}"
        return self

    def to_dict(self) -> dict[str, Any]:
        """Key, title, availability, note and ``data``: each result's ``to_dict()`` (tables
        as records), JSON-ready."""
        return {
            "key": self.key,
            "title": self.title,
            "available": self.available,
            "note": self.note,
            "level": self.level,
            "findings": [f.to_dict() for f in self.findings],
            "data": to_jsonable({k: _plain(v) for k, v in self.results.items()}),
        }


def new_panel(key: str, settings: Settings | None = None, **fields: Any) -> Panel:
    """The empty panel ``key`` of :data:`PANELS`, its intro filled from ``settings`` (the
    level, α, resamples and seed; default :class:`~assay.core.Settings`) and ``fields``."""
    s = settings or Settings()
    title, intro = PANELS[key]
    values = {
        "level": s.label,
        "alpha": f"{s.alpha:.4g}",
        "resamples": f"{s.resamples:,}",
        "seed": s.seed,
        **fields,
    }
    return Panel(
        key, title, intro=intro.format(**values), level=s.label, takeaway=TAKEAWAYS.get(key, "")
    )


def _plain(result: Any) -> Any:
    """A result object as its ``to_dict()``; tables and plain values as they are."""
    if isinstance(result, pd.DataFrame | pd.Series) or not hasattr(result, "to_dict"):
        return result
    return result.to_dict()
