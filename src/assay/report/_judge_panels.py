"""The LLM-judge panel: how far to trust each judge whose verdicts are in the store."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay import rank
from assay.errors import AssayError

from ._panel import Panel, cell, fmt, fmt_p

__all__ = ["JUDGE_PANEL", "judge_panel"]

#: Key, title and intro of the panel (the lead adds it to the report's panel list).
JUDGE_PANEL = (
    "judges",
    "LLM judges",
    "Each judge's verdicts, checked: how often its two verdicts on a pair (one per answer "
    "order) agree and how often the answer shown first wins (0.5 = no position bias; MT-Bench); "
    "Cohen's κ against human votes on the same prompt and pair; and its self-preference, the "
    "excess win rate it gives its own model family over the human votes on the same pairs. "
    "Intervals are 95% bootstrap over prompts ({bootstrap} rounds, seed {seed}).",
)

COLUMNS = [
    "judge", "battles", "swap agreement", "first shown wins", "p (position)",
    "κ vs humans", "votes matched", "self-preference excess",
]  # fmt: skip


def _judges(battles: pd.DataFrame) -> list[str]:
    if battles.empty or "judge" not in battles.columns:
        return []
    names = battles["judge"].dropna().astype(str)
    names = names[~names.str.strip().str.lower().isin(["", "human", "humans", "none"])]
    return sorted(names.unique())


def _ci(value: float, ci: tuple[float, float], digits: int = 3) -> dict[str, Any]:
    if value is None or not np.isfinite(value):
        return cell("")
    return cell(f"{fmt(value, digits)} [{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]", value, "num")


def _try(call, *args, **kwargs) -> Any:
    """A check's result, or None when the data do not allow it (no votes, no family, ...)."""
    try:
        return call(*args, **kwargs)
    except AssayError:
        return None


def judge_panel(
    battles: pd.DataFrame,
    models: pd.DataFrame | None = None,
    *,
    bootstrap: int = 100,
    seed: int = 0,
) -> Panel:
    """The judge panel from the store's battles (and its models table, for families): one row
    per judge with the position-swap check, κ against human votes and self-preference, each
    shown when its data exist. Without judged battles the panel keeps a note."""
    key, title, intro = JUDGE_PANEL
    panel = Panel(key, title, intro=intro.format(bootstrap=bootstrap, seed=seed))
    judges = _judges(battles)
    if not judges:
        panel.note = (
            "No battles from an LLM judge. Run `assay judge pairwise OUTPUTS --judge MODEL` "
            "(or `assay judge pointwise`) to judge generated answers."
        )
        return panel
    families = (
        models.set_index("model")["family"]
        if models is not None and len(models) and "family" in models.columns
        else pd.Series(dtype=object)
    )
    rows = []
    try:
        for name in judges:
            judged = rank.judged_from_battles(battles, name)
            position = None
            if judged["verdict_ba"].notna().any():
                position = rank.position_consistency(judged, bootstrap=bootstrap, seed=seed)
            kappa = _try(rank.judge_agreement, battles, name, bootstrap=bootstrap, seed=seed)
            selfish = _try(
                rank.self_preference, battles, name, families, bootstrap=bootstrap, seed=seed
            )
            for what, result in (
                ("position", position), ("agreement", kappa), ("self_preference", selfish)
            ):  # fmt: skip
                if result is not None:
                    panel.results[f"{name}: {what}"] = result
            rows.append(
                [
                    cell(name),
                    cell(fmt(len(judged)), len(judged), "num"),
                    _ci(position.agreement, position.agreement_ci) if position else cell(""),
                    _ci(position.first_rate, position.first_ci) if position else cell(""),
                    cell(fmt_p(position.pvalue), position.pvalue, "num") if position else cell(""),
                    _ci(kappa.kappa, kappa.ci) if kappa else cell(""),
                    cell(fmt(kappa.n), kappa.n, "num") if kappa else cell(""),
                    _ci(selfish.excess, selfish.excess_ci) if selfish else cell(""),
                ]
            )
    except AssayError as exc:  # data an optional panel cannot use never breaks the report
        return panel.fail(exc)
    panel.table(COLUMNS, rows, caption="judges in the store", row_keys=judges)
    return panel
