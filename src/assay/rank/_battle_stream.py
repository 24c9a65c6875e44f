"""What a fit needs of each battle, collected a block of the file at a time: model codes, the
outcome, the count, the style differences and the vote id, as compact arrays (no answer text,
no prompt ids). ``assay rank battles FILE`` reads its file once: each block goes to the store's
writer and to this; the fit then runs on :meth:`CompactBattles.frame`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.errors import InputError
from assay.store import WINNERS

from ._style import DIFF_PREFIX, style_differences

__all__ = ["CompactBattles"]


class CompactBattles:
    """Validated blocks of battles (:func:`assay.rank.battle_blocks`) kept as codes: a frame
    the fits take as they take :func:`assay.rank.read_battles`' (categorical names and winner,
    ``count`` of a count table, ``vote_id`` with ``ids``, style differences with ``styles``)."""

    def __init__(self, *, styles: bool = False, ids: bool = False) -> None:
        self.styles, self.ids = styles, ids
        self.names: dict[str, int] = {}
        keys = ("a", "b", "winner", "count", "id", "style", "time")
        self.parts: dict[str, list] = {k: [] for k in keys}

    def _codes(self, col: pd.Series) -> np.ndarray:
        codes, uniques = pd.factorize(col)
        known = [self.names.setdefault(str(u), len(self.names)) for u in uniques]
        return np.asarray(known, dtype=np.int32)[codes]

    def add(self, block: pd.DataFrame) -> None:
        parts = self.parts
        parts["a"].append(self._codes(block["model_a"]))
        parts["b"].append(self._codes(block["model_b"]))
        winner = pd.Categorical(block["winner"], categories=WINNERS).codes.astype(np.int8)
        parts["winner"].append(winner)
        if "count" in block.columns:
            parts["count"].append(block["count"].to_numpy(dtype=np.int64))
        if self.ids:
            parts["id"].append(pd.array(block["vote_id"].astype(str), dtype="string[pyarrow]"))
        if self.styles:
            parts["style"].append(style_differences(block).reset_index(drop=True))
        if "time" in block.columns:
            parts["time"].append(block["time"].to_numpy("datetime64[us]"))
        else:
            parts["time"].append(np.full(len(block), np.datetime64("NaT"), "datetime64[us]"))

    def frame(self) -> pd.DataFrame:
        """The battles so far, one row each (a count table: one row per (row, outcome))."""
        parts = self.parts
        names = pd.Index(list(self.names))
        model = {
            side: pd.Categorical.from_codes(np.concatenate(parts[key]), categories=names)
            for side, key in (("model_a", "a"), ("model_b", "b"))
        }
        out = pd.DataFrame(
            {
                **model,
                "winner": pd.Categorical.from_codes(
                    np.concatenate(parts["winner"]), categories=list(WINNERS)
                ),
            }
        )
        if parts["count"]:
            out["count"] = np.concatenate(parts["count"])
        if parts["id"]:
            out["vote_id"] = pd.concat([pd.Series(x) for x in parts["id"]], ignore_index=True)
        if parts["style"]:
            diff = pd.concat(parts["style"], ignore_index=True)
            missing = diff.columns[diff.isna().any()]
            if len(missing):
                raise InputError(
                    f"battles: style feature {missing[0]!r} is missing from some battles "
                    "(give every battle the same style features)"
                )
            for name in diff.columns:
                out[DIFF_PREFIX + name] = diff[name].to_numpy(float)
        return _in_time_order(out, np.concatenate(parts["time"]) if parts["time"] else None)


def _in_time_order(out: pd.DataFrame, time: np.ndarray | None) -> pd.DataFrame:
    """The battles in time order, those without a time last, file order among equal times:
    the order :meth:`assay.store.Store.battles` gives them once stored (online Elo depends
    on it; the other fits do not)."""
    if time is None or len(time) != len(out) or np.isnat(time).all():
        return out
    order = np.argsort(time, kind="stable")  # (NaT sorts last)
    if (order == np.arange(len(order))).all():
        return out
    return out.iloc[order].reset_index(drop=True)
