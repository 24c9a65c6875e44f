"""The building blocks of a report: panels holding tables, plots, text and the typed results
they show, and number formats."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.core import to_jsonable


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
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 10 ** (-digits)):
        return f"{x:.{max(digits - 1, 1)}e}"
    return f"{x:.{digits}f}"


def fmt_p(p: Any) -> str:
    """A p-value: '< 0.001' below a thousandth."""
    try:
        x = float(p)
    except (TypeError, ValueError):
        return ""
    if math.isnan(x):
        return ""
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


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


#: Every panel by key, in display order: its title and intro (``{fields}`` filled in by
#: :func:`new_panel`).
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
    "tasks": (
        "Per-task breakdown",
        "Every model on every task (headline metric, {level} interval) on the metric's own "
        "range, with the chance level as a dashed line; blue marks the leader.",
    ),
    "arena": (
        "Arena ratings",
        "{method} ratings on the Elo scale from pairwise votes, with bootstrap {level} "
        "intervals ({bootstrap} rounds, seed {seed}) and the range of ranks each model could "
        "hold; {scale}. Models never compared with each other, directly or through others, "
        "have no common scale: each connected group is rated separately.",
    ),
    "scaling": (
        "Scaling and forecast",
        "Score against training compute (or parameters) with the fitted law and its 95% "
        "band; the largest models are held out, predicted from the smaller ones, and the "
        "backtested error says how far to trust the forecast.",
    ),
    "variance": (
        "Variance",
        "How much of the spread comes from seeds, templates and choice orderings, against "
        "the sampling variance of the documents: ratio = variance of the level scores / "
        "sampling variance of one score; above 1, re-running with another level moves the "
        "score more than drawing other documents would.",
    ),
    "about": (
        "What was run",
        "The tasks, what each metric measures, the models and each run's settings as the "
        "store records them.",
    ),
    "bias": (
        "Position bias",
        "Share of answers at each shown position against a uniform spread (chi-square "
        "test), and the accuracy averaged over each question's orderings (ordering-corrected).",
    ),
    "flips": (
        "Version flips",
        "For each model with a parent (an older version): negative flips (parent right, "
        "new model wrong) as a rate of all documents (NFR) and of the new model's errors (NFI), "
        "and positive flips (PFR), with Wilson {level} intervals (MUSCLE).",
    ),
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

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "surprise": self.surprise, "kind": self.kind,
                "p_value": self.p_value}  # fmt: skip


def surprise(p_value: float | None) -> float:
    """−log10 p, capped at 300 (p = 0 from a huge z); 0 without a p-value."""
    if p_value is None or not math.isfinite(float(p_value)):
        return 0.0
    return float(min(300.0, -math.log10(max(float(p_value), 1e-300))))


def level_text(alpha: float) -> str:
    """The confidence level of (1 − alpha) intervals: '95%', '99%', '99.9%'."""
    level = 100 * (1 - alpha)
    return f"{level:.0f}%" if abs(level - round(level)) < 1e-9 else f"{level:.3g}%"


@dataclass
class Panel:
    """One section of the report. ``items`` are dicts with ``kind`` table | svg | text | kv;
    ``results`` the typed results shown (``assay.stats`` / ``rank`` / ``forecast`` objects or
    DataFrames), by name (a task, a model pair, ...).

    A panel without data keeps a ``note`` that says why and the command that fills it (the
    report gathers such panels into one "what else assay can show you" box); ``findings`` are
    its sentences for the findings list at the top of the report.
    """

    key: str
    title: str
    intro: str = ""
    note: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

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
            "findings": [f.to_dict() for f in self.findings],
            "data": to_jsonable({k: _plain(v) for k, v in self.results.items()}),
        }


def new_panel(key: str, *, level: str = "95%", **fields: Any) -> Panel:
    """The empty panel ``key`` of :data:`PANELS`, its intro filled with ``level`` and
    ``fields``."""
    title, intro = PANELS[key]
    return Panel(key, title, intro=intro.format(level=level, **fields))


def _plain(result: Any) -> Any:
    """A result object as its ``to_dict()``; tables and plain values as they are."""
    if isinstance(result, pd.DataFrame | pd.Series) or not hasattr(result, "to_dict"):
        return result
    return result.to_dict()
