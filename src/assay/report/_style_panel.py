"""The style-control panel: the arena's raw and style-controlled ranks side by side, and the
style coefficients, from the style features the store keeps with each battle."""

from __future__ import annotations

import math

import pandas as pd

from assay import rank
from assay.core import Settings
from assay.errors import AssayError

from ._panel import Panel, cell, new_panel

#: Votes × bootstrap rounds above which the panel takes sandwich intervals instead (each
#: bootstrap round refits the style model on every vote).
RESAMPLED_VOTES = 50_000_000


def _rating(value: float, low: float, high: float) -> dict:
    span = f"[{low:.0f}, {high:.0f}]" if math.isfinite(high - low) else "(unbounded)"
    return cell(f"{value:.0f} {span}", value, "num")


def _change(value: int) -> dict:
    text = f"+{value}" if value > 0 else ("0" if value == 0 else f"−{-value}")
    return cell(text, value, "num " + ("better" if value > 0 else "worse" if value < 0 else ""))


def _coefficient_rows(coefficients: pd.DataFrame) -> list[list[dict]]:
    rows = []
    for r in coefficients.itertuples(index=False):
        if not r.varies:  # a constant feature: no information
            rows.append([cell(str(r.feature)), cell("–", cls="num"), cell("no variation")])
            continue
        rows.append(
            [
                cell(str(r.feature)),
                cell(f"{r.coefficient:+.3f}", r.coefficient, "num strong"),
                cell(f"{r.ci_low:+.3f} to {r.ci_high:+.3f}", cls="num"),
            ]
        )
    return rows


def _summary(result: rank.StyleComparison, level: str) -> str:
    """The strongest determined coefficient and the models whose rank changes, in words."""
    c = result.coefficients
    c = c[c["varies"]]
    parts = []
    if len(c):
        top = c.loc[c["coefficient"].abs().idxmax()]
        sure = top["ci_low"] > 0 or top["ci_high"] < 0
        side = "more" if top["coefficient"] > 0 else "less"
        parts.append(
            f"The largest style effect is {top['feature']}: voters favour the answer with {side} "
            f"of it (β = {top['coefficient']:+.2f}, {level} CI {top['ci_low']:+.2f} to "
            f"{top['ci_high']:+.2f}; {'clear of 0' if sure else 'not distinguishable from 0'})."
        )
    moved = result.table[result.table["rank_change"] != 0]
    if moved.empty:
        parts.append("No model's rank changes when style is controlled.")
    else:
        shown = ", ".join(
            f"{r.model} {int(r.raw_rank)} → {int(r.rank)}" for r in moved.head(8).itertuples()
        )
        more = f" and {len(moved) - 8} more" if len(moved) > 8 else ""
        parts.append(f"Ranks that change under style control: {shown}{more}.")
    return " ".join(parts)


def style_panel(
    battles: pd.DataFrame,
    settings: Settings | None = None,
    *,
    anchor: tuple[str, float] | None = None,
    bootstrap: int | None = None,
) -> Panel:
    """Raw and style-controlled Bradley–Terry ranks side by side (:func:`assay.rank.
    style_comparison`, as ``assay rank battles --style-control`` at the ``settings``' level and
    seed with ``bootstrap`` rounds, default ``settings.resamples``) and the style coefficients
    with intervals (sandwich intervals instead when votes × rounds exceed
    :data:`RESAMPLED_VOTES`); ``results["style"]`` the :class:`assay.rank.StyleComparison`. Without
    battles, or battles without style features, the panel keeps a note saying so."""
    settings = settings or Settings()
    bootstrap = settings.resamples if bootstrap is None else bootstrap
    styled = rank.styled_battles(battles)
    ci = "sandwich" if len(styled) * bootstrap > RESAMPLED_VOTES else None
    how = f"bootstrap, {bootstrap:,} rounds, seed {settings.seed}" if bootstrap else "Wald"
    if ci:
        how = (
            f"sandwich (robust) intervals: {bootstrap:,} bootstrap refits of {len(styled):,} "
            "votes would take too long"
        )
    panel = new_panel("arena_style", settings, intervals=how)
    if battles.empty:
        panel.note = (
            "No battles in the store. Import votes with the answers' text or style features "
            "(`assay import battles FILE` with answer_a/answer_b or style_a/style_b) or vote in "
            "`assay serve` (the Arena page) to see ranks with style control."
        )
        return panel
    if styled.empty:
        panel.note = (
            f"The {len(battles):,} stored battles carry no style information (the answers' "
            "length, headers, lists, bold): import battle files with answer_a/answer_b or "
            "style_a/style_b, or vote in `assay serve` (the Arena page), to see ranks with "
            "style control."
        )
        return panel
    try:
        result = rank.style_comparison(
            battles,
            anchor=anchor,
            bootstrap=bootstrap,
            seed=settings.seed,
            confidence=settings.confidence_level,
            ci=ci,
        )
    except AssayError as exc:  # data an optional panel cannot use never breaks the report
        return panel.fail(exc)
    level = settings.label
    t = result.table
    rows = [
        [
            cell(str(r.model), cls="model"),
            cell(str(int(r.raw_rank)), int(r.raw_rank), "num"),
            _rating(r.raw_rating, r.raw_ci_low, r.raw_ci_high),
            cell(str(int(r.rank)), int(r.rank), "num strong"),
            _rating(r.rating, r.ci_low, r.ci_high),
            _change(int(r.rank_change)),
        ]
        for r in t.itertuples(index=False)
    ]
    why = [f"{result.n_styled:,} carry style features"] * (result.n_styled < result.n_total)
    if result.n_battles < result.n_styled:  # several groups never compared: the largest
        why.append("the largest group of models compared with each other")
    scope = f"{result.n_battles:,} of {result.n_total:,} votes" + (
        f" ({'; '.join(why)})" if why else ""
    )
    panel.table(
        [
            "model",
            "raw rank",
            f"raw rating [{level} CI]",
            "controlled rank",
            f"controlled rating [{level} CI]",
            "rank change",
        ],
        rows,
        caption=f"{len(t)} models, {scope}",
        table_id="arena-style",
        row_keys=list(t["model"].astype(str)),
    )
    panel.table(
        ["feature", "coefficient (logit per SD)", f"{level} CI"],
        _coefficient_rows(result.coefficients),
        caption="style coefficients",
        table_id="arena-style-coefficients",
    )
    note = result.controlled.info.get("note")  # too few votes: which intervals are unbounded
    if note:
        panel.text(f"{str(note)[:1].upper()}{str(note)[1:]}.")
    panel.text(_summary(result, level))
    panel.results["style"] = result
    return panel
