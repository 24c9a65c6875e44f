"""Raw and style-controlled arena ratings side by side, from battles that carry style features
(a battle file's ``style_a`` / ``style_b`` or ``answer_a`` / ``answer_b``, or the store's
``style_a`` / ``style_b`` columns, which ``Store.battles()`` returns)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._battles import aggregate_battles, model_codes
from ._pairwise import ARENA_BOOTSTRAP, fit_battles
from ._ratings import Ratings
from ._style import style_design

__all__ = ["StyleComparison", "style_comparison", "styled_battles"]

NO_STYLE = (
    "the battles carry no style information (style_a/style_b or answer_a/answer_b); "
    "import a battle file with them or vote in `assay serve`'s arena"
)


def styled_battles(battles: pd.DataFrame) -> pd.DataFrame:
    """The battles with style features for both answers: ``style_a`` and ``style_b`` both
    given (the store's columns, or a file's dicts), else ``answer_a`` or ``answer_b`` given
    (their text is counted); no rows when the battles have neither."""
    cols = set(battles.columns)
    if {"style_a", "style_b"} <= cols:
        keep = battles["style_a"].notna() & battles["style_b"].notna()
        if keep.any():
            return battles[keep.to_numpy()].drop(columns=["answer_a", "answer_b"], errors="ignore")
    if {"answer_a", "answer_b"} <= cols:
        keep = battles["answer_a"].notna() | battles["answer_b"].notna()
        return battles[keep.to_numpy()].drop(columns=["style_a", "style_b"], errors="ignore")
    return battles.iloc[:0]


@dataclass
class StyleComparison:
    """Plain Bradley–Terry (``raw``) and style-controlled (``controlled``) ratings of the same
    battles, the largest connected group of models among the battles with style features.

    ``table``: per model (best controlled first) raw_rank, raw_rating, raw_ci_low, raw_ci_high,
    rank, rating, ci_low, ci_high (controlled) and rank_change = raw_rank − rank (positive: the
    model moves up once style is controlled); ranks are 1 + the models surely better, as in
    every ratings table. ``coefficients``: feature, coefficient (logit per standard deviation
    of the normalised difference), ci_low, ci_high, varies (False: one value over these battles,
    so the coefficient says nothing). ``n_battles`` votes fitted, of
    ``n_total`` given (``n_styled`` of them with style features)."""

    raw: Ratings
    controlled: Ratings
    table: pd.DataFrame
    coefficients: pd.DataFrame
    n_battles: int
    n_styled: int
    n_total: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_battles": self.n_battles,
            "n_styled": self.n_styled,
            "n_total": self.n_total,
            "ci_method": self.controlled.info.get("ci_method"),
            "confidence_level": self.controlled.confidence_level,
            "models": self.table.to_dict(orient="records"),
            "style_coefficients": self.controlled.info["style_coefficients"],
            "style_intervals": self.controlled.info["style_intervals"],
        }


def _largest_group(battles: pd.DataFrame) -> pd.DataFrame:
    """The battles of the largest connected group of models (ties: first model name)."""
    groups = aggregate_battles(battles).components()
    if len(groups) == 1:
        return battles
    group = min(groups, key=lambda g: (-len(g), sorted(g)[0]))
    a, _, names = model_codes(battles)
    return battles[np.isin(np.asarray(names)[a], group)]


def style_comparison(
    battles: pd.DataFrame,
    *,
    anchor: tuple[str, float] | None = None,
    bootstrap: int = ARENA_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
    ci: str | None = None,
) -> StyleComparison:
    """Raw and style-controlled Bradley–Terry ratings with intervals of the battles that carry
    style features (:func:`styled_battles`; the largest connected group of their models), as
    ``assay rank battles --style-control`` fits them: the controlled ratings and coefficients
    are :func:`fit_battles` with ``style_control=True`` and the same ``anchor`` (when its model
    is in the group), ``bootstrap``, ``seed``, ``confidence`` and ``ci``; the raw ones the plain
    fit of the same battles. An :class:`InputError` when no battle has style features."""
    styled = styled_battles(battles)
    if styled.empty:
        raise InputError(NO_STYLE)
    group = _largest_group(styled)
    models = set(group["model_a"].astype(str).str.strip()) | set(
        group["model_b"].astype(str).str.strip()
    )
    pin = anchor if anchor is not None and anchor[0] in models else None
    options = {"anchor": pin, "bootstrap": bootstrap, "seed": seed, "confidence": confidence}
    raw = fit_battles(group, method="bt", ci=ci, **options)
    controlled = fit_battles(group, method="bt", ci=ci, style_control=True, **options)
    before = raw.table.set_index("model")
    after = controlled.table
    table = pd.DataFrame(
        {
            "model": after["model"].astype(str).to_numpy(),
            "raw_rank": before.loc[after["model"], "rank"].to_numpy(dtype=np.int64),
            "raw_rating": before.loc[after["model"], "rating"].to_numpy(float),
            "raw_ci_low": before.loc[after["model"], "ci_low"].to_numpy(float),
            "raw_ci_high": before.loc[after["model"], "ci_high"].to_numpy(float),
            "rank": after["rank"].to_numpy(dtype=np.int64),
            "rating": after["rating"].to_numpy(float),
            "ci_low": after["ci_low"].to_numpy(float),
            "ci_high": after["ci_high"].to_numpy(float),
        }
    )
    table["rank_change"] = table["raw_rank"] - table["rank"]
    coef = controlled.info["style_coefficients"]
    spans = controlled.info["style_intervals"]
    varies = style_design(group).ne(0.0).any(axis=0)  # a constant feature: no information
    coefficients = pd.DataFrame(
        {
            "feature": list(coef),
            "coefficient": [float(v) for v in coef.values()],
            "ci_low": [float(spans[f][0]) for f in coef],
            "ci_high": [float(spans[f][1]) for f in coef],
            "varies": [bool(varies[f]) for f in coef],
        }
    )
    return StyleComparison(
        raw=raw,
        controlled=controlled,
        table=table,
        coefficients=coefficients,
        n_battles=int(controlled.info.get("n_battles", len(group))),
        n_styled=int(_votes(styled)),
        n_total=int(_votes(battles)),
    )


def _votes(battles: pd.DataFrame) -> int:
    if "count" in battles.columns:
        return int(pd.to_numeric(battles["count"]).sum())
    return len(battles)
