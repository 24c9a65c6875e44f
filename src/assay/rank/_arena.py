"""Arena summaries of stored battles: Bradley–Terry ratings and win/tie/loss counts per model,
rated per connected group of the comparison graph (models never compared, directly or through
others, have no common scale)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._battles import aggregate_battles, battle_weights, model_codes
from ._pairwise import ARENA_BOOTSTRAP, fit_battles
from ._ratings import Ratings

__all__ = ["arena_groups", "arena_ratings", "battle_counts"]

COUNT_COLUMNS = ["model", "battles", "wins", "losses", "ties", "win_rate"]


def arena_ratings(
    battles: pd.DataFrame, *, bootstrap: int = ARENA_BOOTSTRAP, seed: int = 0
) -> Ratings | None:
    """:func:`fit_battles` (Bradley–Terry, bootstrap intervals); None without battles."""
    if battles.empty:
        return None
    return fit_battles(battles, method="bt", bootstrap=bootstrap, seed=seed)


def arena_groups(
    battles: pd.DataFrame,
    *,
    method: str = "bt",
    anchor: tuple[str, float] | None = None,
    bootstrap: int | None = None,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[Ratings]:
    """Ratings of each connected group of models (the connected components of the graph whose
    edges are the compared pairs), largest group first (ties by first model name); each is
    :func:`fit_battles` on that group's battles alone, so a vote between two new models adds a
    second group and leaves the first group's ratings exactly as they were. ``anchor`` pins its
    model's group; the other groups keep mean 1000. No battles, no groups."""
    if battles.empty:
        return []
    groups = aggregate_battles(battles).components()
    if anchor is not None and not any(anchor[0] in g for g in groups):
        raise InputError(f"--anchor: model {anchor[0]!r} is not among the rated models")
    groups = sorted(groups, key=lambda g: (-len(g), sorted(g)[0]))
    a, _, names = model_codes(battles)
    side_a = np.asarray(names)[a]
    out = []
    for group in groups:
        rows = np.isin(side_a, group)  # both sides of a battle lie in one group
        pin = anchor if anchor is not None and anchor[0] in group else None
        out.append(
            fit_battles(
                battles[rows],
                method=method,
                anchor=pin,
                bootstrap=bootstrap,
                seed=seed,
                confidence=confidence,
            )
        )
    return out


def battle_counts(battles: pd.DataFrame) -> pd.DataFrame:
    """Per model: battles, wins, losses, ties (both-bad included) and the win rate with ties
    counted half, best first. Names and winners are compared without surrounding spaces, as
    the importers store them; a ``count`` column weights its rows."""
    a, b, models = model_codes(battles)
    codes, uniques = pd.factorize(battles["winner"])
    winner = pd.Index(uniques).astype(str).str.strip()
    # code -1 (a missing winner) picks the appended False: neither side won
    won_a = np.append(winner == "model_a", False)[codes]
    won_b = np.append(winner == "model_b", False)[codes]
    weight = battle_weights(battles)
    k = len(models)

    def per_model(as_a: np.ndarray, as_b: np.ndarray) -> np.ndarray:
        return (np.bincount(a, weight * as_a, k) + np.bincount(b, weight * as_b, k)).astype(
            np.int64
        )

    both = np.ones(len(battles), dtype=bool)
    out = pd.DataFrame(
        {
            "model": [str(m) for m in models],
            "battles": per_model(both, both),
            "wins": per_model(won_a, won_b),
            "losses": per_model(won_b, won_a),
        }
    )
    out["ties"] = out["battles"] - out["wins"] - out["losses"]
    out["win_rate"] = (out["wins"] + 0.5 * out["ties"]) / out["battles"]
    out = out.sort_values("win_rate", ascending=False, kind="stable")
    return out.reset_index(drop=True)[COUNT_COLUMNS]
