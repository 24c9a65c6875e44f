"""The LLM-judge panel: how far to trust each judge whose verdicts are in the store."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay import rank
from assay.core import Settings
from assay.errors import AssayError

from ._panel import Panel, cell, fmt, fmt_p, new_panel

__all__ = ["judge_panel"]

COLUMNS = [
    "judge",
    "battles",
    "swap agreement",
    "first shown wins",
    "p (position)",
    "κ vs humans",
    "votes matched",
    "self-preference excess",
]


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
    settings: Settings | None = None,
) -> Panel:
    """The judge panel from the store's battles (and its models table, for families): one row
    per judge with the position-swap check, κ against human votes and self-preference, each
    shown when its data exist, at the ``settings``' level, resamples and seed (as the `assay
    judge` commands compute them). Without judged battles the panel keeps a note."""
    settings = settings or Settings()
    boot = {
        "bootstrap": settings.resamples,
        "seed": settings.seed,
        "confidence": settings.confidence_level,
    }
    panel = new_panel("judges", settings)
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
                position = rank.position_consistency(judged, **boot)
            kappa = _try(rank.judge_agreement, battles, name, **boot)
            selfish = _try(rank.self_preference, battles, name, families, **boot)
            for what, result in (
                ("position", position),
                ("agreement", kappa),
                ("self_preference", selfish),
            ):
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
    panel.table(
        COLUMNS, rows, caption=f"judges in the store ({settings.label} intervals)", row_keys=judges
    )
    return panel
