"""The "Stopped comparisons" panel: every ``assay eval --until-decided`` comparison the store's
runs record (``extra["sequential"]``), with its anytime-valid interval over the questions."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from assay.core import Settings

from ._panel import Panel, cell, fmt, new_panel
from ._plots import _STYLE, ACCENT, HELD_OUT, MUTED, plain_text, plt, svg_string

__all__ = ["sequence_plot", "sequential_panel", "stopped_comparisons"]

MAX_PLOTS = 6
"""Comparisons drawn (the table lists them all)."""


def stopped_comparisons(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """The stopping records on the A side of each comparison (one per comparison), in the
    runs' order; records without the interval's path are skipped."""
    out = []
    if "extra" not in runs.columns:
        return out
    for extra in runs["extra"].dropna():
        try:
            found = json.loads(extra).get("sequential") if isinstance(extra, str) else None
        except ValueError:
            continue
        for rec in (found or {}).values() if isinstance(found, dict) else ():
            if isinstance(rec, dict) and rec.get("side") == "A" and rec.get("looks"):
                out.append(rec)
    return out


def sequence_plot(rec: dict[str, Any]) -> str:
    """The interval for A − B after each look, 0 and ±δ marked, and where it stopped."""
    looks = np.asarray(rec["looks"], dtype=float)
    low = np.asarray(rec["lower_at_looks"], dtype=float)
    high = np.asarray(rec["upper_at_looks"], dtype=float)
    delta = float(rec.get("delta") or 0.0)
    a, b = (plain_text(m) for m in rec["models"])
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 2.6))
        ax.fill_between(looks, low, high, step="post", color=ACCENT, alpha=0.25, lw=0)
        ax.step(looks, low, where="post", color=ACCENT, lw=1)
        ax.step(looks, high, where="post", color=ACCENT, lw=1)
        ax.axhline(0, color="black", lw=0.8)
        if delta > 0:
            for y in (-delta, delta):
                ax.axhline(y, color=MUTED, ls="--", lw=0.8)
        ax.axvline(float(rec["stopped_at"]), color=HELD_OUT, ls=":", lw=1)
        ax.set_xlabel("questions answered by both")
        ax.set_ylabel(plain_text(f"{rec['metric']}: {a} − {b}"))
        ax.set_xlim(0, max(float(rec.get("n_available") or looks[-1]), float(looks[-1])))
        ax.set_title(plain_text(f"{rec.get('task', '')} {a} vs {b}").strip(), loc="left")
        return svg_string(fig)


def sequential_panel(runs: pd.DataFrame, settings: Settings | None = None) -> Panel | None:
    """The panel, or None when no run records a stopped comparison."""
    records = stopped_comparisons(runs)
    if not records:
        return None
    panel = new_panel("sequential", settings)
    rows = []
    for rec in records:
        a, b = rec["models"]
        used = rec["stopped_at"] / max(rec.get("n_available") or 1, 1)
        rows.append(
            [
                cell(str(rec.get("task", ""))),
                cell(str(a)),
                cell(str(b)),
                cell(str(rec.get("metric", ""))),
                cell(str(rec["decision"])),
                cell(
                    f"{rec['stopped_at']:,} of {rec.get('n_available', 0):,} ({used:.0%})",
                    rec["stopped_at"],
                    "num",
                ),
                cell(
                    f"{fmt(rec['estimate'])} [{fmt(rec['lower'])}, {fmt(rec['upper'])}]",
                    rec["estimate"],
                    "num",
                ),
                cell(fmt(rec.get("delta")), rec.get("delta"), "num"),
                cell(f"{float(rec.get('confidence', 0.95)):.0%}"),
            ]
        )
    panel.table(
        [
            "task",
            "A",
            "B",
            "metric",
            "decision",
            "questions used",
            "A − B [interval]",
            "δ",
            "confidence",
        ],
        rows,
    )
    for rec in records[:MAX_PLOTS]:
        panel.svg(sequence_plot(rec), caption=str(rec.get("reason", "")))
    panel.results["sequential"] = pd.DataFrame(records)
    return panel
