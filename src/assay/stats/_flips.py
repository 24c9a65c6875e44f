"""Update compatibility of a new model version (MUSCLE, Echterhoff et al. 2024): which
questions did the old model get right that the new one gets wrong?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from assay.core import accepts_confidence, require_columns
from assay.errors import InputError

from ._estimators import wilson_ci
from ._results import ResultMixin
from ._tidy import doc_matrix, select

__all__ = ["FlipResult", "flips"]

FLIP_COLUMNS = [
    "task",
    "n",
    "old_acc",
    "new_acc",
    "negative_flips",
    "positive_flips",
    "new_errors",
    "nfr",
    "nfr_low",
    "nfr_high",
    "pfr",
    "pfr_low",
    "pfr_high",
    "nfi",
    "nfi_low",
    "nfi_high",
]


@dataclass
class FlipResult(ResultMixin):
    """Flips from ``old`` to ``new`` per task (and a pooled "(all)" row with several tasks).

    NFR = #(old right, new wrong)/n, PFR = #(old wrong, new right)/n, NFI = negative flips /
    new model's errors; each with a Wilson interval. ``flipped`` lists every flipped question
    (task, doc_id, kind "negative"/"positive"); ``flipped_doc_ids`` the negative ones' doc_ids.
    """

    old: str
    new: str
    metric: str
    table: pd.DataFrame
    flipped: pd.DataFrame
    flipped_doc_ids: list[str]
    confidence_level: float = 0.95

    SHOWN: ClassVar[tuple[str, ...]] = tuple(
        c for c in FLIP_COLUMNS if c != "new_errors" and not c.endswith(("_low", "_high"))
    )
    """The columns of ``table`` a reader is shown (the intervals are in the JSON)."""


def _row(task: str, old: np.ndarray, new: np.ndarray, alpha: float) -> dict:
    n = old.size
    neg = int(np.sum(old & ~new))
    pos = int(np.sum(~old & new))
    errors = int(np.sum(~new))
    (nl, nh), (pl, ph), (il, ih) = (
        wilson_ci(neg, n, alpha=alpha),
        wilson_ci(pos, n, alpha=alpha),
        wilson_ci(neg, errors, alpha=alpha) if errors else (np.nan, np.nan),
    )
    return {
        "task": task,
        "n": n,
        "old_acc": float(old.mean()),
        "new_acc": float(new.mean()),
        "negative_flips": neg,
        "positive_flips": pos,
        "new_errors": errors,
        "nfr": neg / n,
        "nfr_low": nl,
        "nfr_high": nh,
        "pfr": pos / n,
        "pfr_low": pl,
        "pfr_high": ph,
        "nfi": neg / errors if errors else np.nan,
        "nfi_low": il,
        "nfi_high": ih,
    }


@accepts_confidence()
def flips(
    scores: pd.DataFrame,
    old: str,
    new: str,
    *,
    task: str | list[str] | None = None,
    metric: str = "acc",
    alpha: float = 0.05,
) -> FlipResult:
    """Negative/positive flip rates and NFI of ``new`` against ``old`` on shared questions.

    A question counts as right when its score averaged over repeats is above 0.5.
    """
    require_columns(scores, ["model", "task", "doc_id", "metric", "value"])
    if old == new:
        raise InputError(f"old and new are the same model ({old!r}): compare two versions")
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha}: must be in (0, 1)")
    df = select(select(scores, "model", [old, new]), "task", task)
    df = select(df, "metric", metric)
    table, flipped = [], []
    all_old, all_new = [], []
    for t, rows in df.groupby("task", sort=True):
        x, docs, _, _ = doc_matrix(rows, [old, new])
        both = ~np.isnan(x).any(axis=1)
        if not both.any():
            continue
        right = x[both] > 0.5
        o, w = right[:, 0], right[:, 1]
        table.append(_row(str(t), o, w, alpha))
        ids = np.asarray(docs, dtype=object)[both]
        kinds = np.where(o & ~w, "negative", np.where(~o & w, "positive", ""))
        keep = kinds != ""
        flipped.append(pd.DataFrame({"task": t, "doc_id": ids[keep], "kind": kinds[keep]}))
        all_old.append(o)
        all_new.append(w)
    if not table:
        raise InputError(f"{old} and {new} share no scored docs for metric {metric!r}")
    if len(table) > 1:
        table.append(_row("(all)", np.concatenate(all_old), np.concatenate(all_new), alpha))
    flipped_df = pd.concat(flipped, ignore_index=True)
    neg_ids = flipped_df.loc[flipped_df["kind"] == "negative", "doc_id"].astype(str).tolist()
    return FlipResult(
        old, new, metric, pd.DataFrame(table, columns=FLIP_COLUMNS), flipped_df, neg_ids, 1 - alpha
    )
