"""Static SVG plots (matplotlib, Agg backend) returned as strings to inline in HTML."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from assay.core import visible  # noqa: E402

__all__ = ["interval_plot", "plain_text", "scaling_plot", "svg_string"]

_STYLE = {
    "svg.fonttype": "none",  # keep text as text: smaller files, selectable labels
    "svg.hashsalt": "assay",  # deterministic ids
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "text.usetex": False,  # labels come from data: never TeX
}
ACCENT = "#2563eb"
MUTED = "#94a3b8"
HELD_OUT = "#dc2626"
_SVG_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S)


def plain_text(text: object) -> str:
    """``text`` as a literal matplotlib label: every ``$`` escaped, so a name like ``$x$``
    is shown as typed instead of being parsed as mathtext (which can raise on bad input);
    control and bidirectional override characters made visible (:func:`assay.core.visible`)."""
    return visible(str(text)).replace("$", r"\$")


def svg_string(fig: plt.Figure) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no fixed pixel size)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # matplotlib's <style> rule is global once inlined in HTML (and needs a CSP nonce):
    # style.css carries it, scoped to figures.
    text = _SVG_STYLE.sub("", text, count=1)
    # Let CSS size the plot: drop width/height, keep the viewBox.
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)


def interval_plot(
    labels: Sequence[str],
    estimate: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    *,
    xlabel: str,
    highlight: Sequence[bool] | None = None,
    title: str | None = None,
    bounds: tuple[float, float] | None = None,
    chance: float | None = None,
) -> str:
    """Horizontal dot-and-whisker plot: one row per label, estimate with its interval.

    ``bounds`` fixes the x axis to the metric's range (finite ends only, so plots of one
    metric share their axis); ``chance`` draws the score of guessing as a dashed line."""
    est = np.asarray(estimate, dtype=float)
    lo = np.asarray(low, dtype=float)
    hi = np.asarray(high, dtype=float)
    finite = np.concatenate([v[np.isfinite(v)] for v in (est, lo, hi)])
    if finite.size and not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        # an unbounded interval (too few votes) runs to past the plotted data
        reach = max(float(np.ptp(finite)), 1.0)
        lo = np.where(np.isneginf(lo), finite.min() - reach, lo)
        hi = np.where(np.isposinf(hi), finite.max() + reach, hi)
    n = len(labels)
    colors = np.where(np.asarray(highlight if highlight is not None else [True] * n), ACCENT, MUTED)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 0.42 * n + 0.9))
        y = np.arange(n)[::-1]
        err = np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)])
        err = np.nan_to_num(err)
        for color in np.unique(colors):
            m = colors == color
            ax.errorbar(
                est[m], y[m], xerr=err[:, m], fmt="o", color=color, ecolor=color, capsize=3, ms=5
            )
        ax.set_yticks(y, [plain_text(label) for label in labels])
        ax.set_xlabel(plain_text(xlabel))
        ax.grid(axis="y", visible=False)
        ax.set_ylim(-0.7, n - 0.3)
        if bounds is not None:
            low_end, high_end = (float(v) for v in bounds)
            pad = 0.02 * (high_end - low_end) if np.isfinite(high_end - low_end) else 0.0
            ax.set_xlim(
                low_end - pad if np.isfinite(low_end) else None,
                high_end + pad if np.isfinite(high_end) else None,
            )
        if chance is not None and np.isfinite(chance):
            ax.axvline(chance, color=HELD_OUT, ls="--", lw=1, label=f"chance {chance:.3g}")
            ax.legend(frameon=False, fontsize=8, loc="lower right")
        if title:
            ax.set_title(plain_text(title), loc="left", fontsize=10)
        return svg_string(fig)  # inside the style: svg.fonttype applies when saving


def scaling_plot(
    points: pd.DataFrame,
    curve: pd.DataFrame | None,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
) -> str:
    """Scaling plot on a log x axis.

    ``points``: x, y, label, held_out (bool). ``curve``: x, prediction, low, high (the fitted law
    and its band; the part beyond the largest fitted x is drawn dashed as the forecast).
    """
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        if curve is not None and len(curve):
            fit_max = points.loc[~points["held_out"], "x"].max()
            ax.fill_between(
                curve["x"],
                curve["low"],
                curve["high"],
                color=ACCENT,
                alpha=0.15,
                lw=0,
                label="95% band",
            )
            inside = curve["x"] <= fit_max
            ax.plot(curve["x"][inside], curve["prediction"][inside], color=ACCENT, label="fit")
            ax.plot(
                curve["x"][~inside | (curve["x"] == curve["x"][inside].max())],
                curve["prediction"][~inside | (curve["x"] == curve["x"][inside].max())],
                color=ACCENT,
                ls="--",
                label="forecast",
            )
        fitted = points[~points["held_out"]]
        held = points[points["held_out"]]
        ax.scatter(fitted["x"], fitted["y"], color="#111827", s=22, zorder=3, label="fitted on")
        if len(held):
            ax.scatter(
                held["x"], held["y"], color=HELD_OUT, marker="D", s=26, zorder=3, label="held out"
            )
        for row in points.itertuples(index=False):
            ax.annotate(
                plain_text(row.label),
                (row.x, row.y),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
                color="#475569",
            )
        ax.set_xscale("log")
        ax.set_xlabel(plain_text(xlabel))
        ax.set_ylabel(plain_text(ylabel))
        ax.legend(frameon=False, fontsize=8, loc="best")
        if title:
            ax.set_title(plain_text(title), loc="left", fontsize=10)
        return svg_string(fig)  # inside the style: svg.fonttype applies when saving
