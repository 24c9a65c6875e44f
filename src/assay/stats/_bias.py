"""Label and position bias of multiple-choice answers ("Questioning the Survey Responses of
Large Language Models", Dominguez-Olmedo et al. 2024)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats as sps

from assay.core import accepts_confidence, require_columns
from assay.errors import InputError

from ._estimators import mean_ci, wilson_ci
from ._results import ResultMixin
from ._tidy import select

__all__ = ["PositionBias", "position_bias"]


@dataclass
class PositionBias(ResultMixin):
    """Where a model's answers land.

    ``table`` has one row per shown position: chosen (count), expected (under uniform choice),
    share, gold (questions whose right answer was shown there), accuracy with a Wilson
    interval (accuracy when the right answer sat at that position). ``chi2``/``pvalue`` test
    the chosen positions against uniform. ``accuracy`` is the plain mean over all orderings
    shown; ``permutation_accuracy`` averages each question over its orderings first (the
    ordering-corrected accuracy) with its SE; ``original_accuracy`` uses only the original
    order (choice_order = 0..k−1) when present.
    """

    table: pd.DataFrame
    chi2: float
    pvalue: float
    df: int
    n: int
    n_docs: int
    accuracy: float
    permutation_accuracy: float
    permutation_stderr: float
    original_accuracy: float
    orderings_per_doc: float


def _lists_to_matrix(lists: pd.Series) -> np.ndarray:
    """Ragged list column → (rows, max_len) float matrix padded with NaN (via Arrow offsets)."""
    arr = pa.array(lists.astype(object), type=pa.list_(pa.float64()), from_pandas=True)
    lengths = arr.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    out = np.full((len(arr), max(int(lengths.max(initial=0)), 1)), np.nan)
    mask = np.arange(out.shape[1])[None, :] < lengths[:, None]
    out[mask] = arr.flatten().to_numpy(zero_copy_only=False)
    return out


def _extra_field(extra: pd.Series, key: str) -> np.ndarray:
    """An integer field of the ``extra`` column (JSON text as stored, or dicts) as floats."""
    if pd.api.types.infer_dtype(extra, skipna=True) in ("string", "empty"):
        pattern = rf'"{re.escape(key)}"\s*:\s*(-?\d+)'
        found = extra.astype("string").str.extract(pattern)[0]
    else:  # dicts (a frame built by hand)
        found = extra.astype(object).str.get(key)
    return pd.to_numeric(found, errors="coerce").to_numpy(dtype=float)


def _gold_positions(
    df: pd.DataFrame,
    chosen: np.ndarray,
    correct: np.ndarray,
    n_choices: np.ndarray,
    orders: np.ndarray,
) -> np.ndarray:
    """Shown position of the right answer, from what the store recorded.

    In order: a ``gold_position`` or ``target_position`` column, else ``extra.target_position``
    (the runner stores it per sample); else an integer ``target`` in [0, k) (imported results,
    where it may be the gold index) looked up in the row's ``choice_order`` (``orders``, NaN
    padded; the index itself without one), when that agrees with every scored row (chosen ==
    gold exactly when right); else, only when every wrong answer's gold is known, the chosen
    position of a right one. ``target`` of assay's own runs is the answer *text*, never an
    index, so it is not read as one.
    """
    gold = np.full(len(df), np.nan)
    for name in ("gold_position", "target_position"):
        if name in df:
            gold = np.where(
                np.isnan(gold), pd.to_numeric(df[name], errors="coerce").to_numpy(float), gold
            )
    if "extra" in df:
        gold = np.where(np.isnan(gold), _extra_field(df["extra"], "target_position"), gold)
    if "target" in df:
        target = pd.to_numeric(df["target"], errors="coerce").to_numpy(dtype=float)
        # an original index: where the shown order put it (choice_order[p] == target), or
        # itself where no order was recorded
        match = orders == target[:, None]
        shown_at = np.where(match.any(axis=1), match.argmax(axis=1), np.nan)
        candidate = np.where(np.isnan(orders).all(axis=1), target, shown_at)
        usable = (
            np.isnan(gold)
            & (target == np.round(target))
            & (target >= 0)
            & (target < n_choices)
            & ~np.isnan(candidate)
        )
        right, wrong = correct == 1, correct == 0
        agrees = np.all(~usable | ~(right | wrong) | ((chosen == candidate) == right))
        if usable.any() and agrees:
            gold = np.where(usable, candidate, gold)
    if np.isnan(gold[correct == 0]).any():
        return gold  # (a right answer's position alone would make every position's accuracy 1)
    return np.where(np.isnan(gold) & (correct == 1), chosen, gold)


@accepts_confidence()
def position_bias(
    samples: pd.DataFrame,
    *,
    model: str | None = None,
    task: str | None = None,
    metric: str = "acc",
    alpha: float = 0.05,
) -> PositionBias:
    """Chosen-position distribution vs uniform, accuracy by gold position, and accuracy averaged
    over permuted orderings, from ``Store.samples()`` rows (chosen_position — else the argmax
    of choice_logprobs —, choice_order or
    choice_logprobs, ``metric.<metric>``).

    Expected counts allow different numbers of choices: E_p = Σ_s 1[p < k_s] / k_s; the
    chi-square statistic Σ (O_p − E_p)² / E_p has (positions − 1) degrees of freedom.
    """
    col = f"metric.{metric}"
    require_columns(samples, ["model", "task", "doc_id", "chosen_position", col], name="samples")
    df = select(select(samples, "model", model), "task", task)
    if df["model"].nunique() > 1 or df["task"].nunique() > 1:
        raise InputError(
            "position bias is per model and task: pass model and task "
            f"(models: {', '.join(sorted(df['model'].unique()))}; "
            f"tasks: {', '.join(sorted(df['task'].unique()))})"
        )
    df = df.reset_index(drop=True)
    if "choice_logprobs" in df:  # imported results (lm-eval) carry log-likelihoods only
        logprobs = _lists_to_matrix(df["choice_logprobs"])
        has = ~np.isnan(logprobs).all(axis=1)
        argmax = np.argmax(np.where(np.isnan(logprobs), -np.inf, logprobs), axis=1)
        df["chosen_position"] = df["chosen_position"].fillna(
            pd.Series(np.where(has, argmax, np.nan), index=df.index)
        )
    df = df[df["chosen_position"].notna() & df[col].notna()].reset_index(drop=True)
    if df.empty:
        raise InputError(
            f"no multiple-choice samples with chosen_position (or choice_logprobs) and {col}"
        )
    chosen = df["chosen_position"].to_numpy(dtype=int)
    correct = df[col].to_numpy(dtype=float)
    orders = _lists_to_matrix(
        df["choice_order"]
        if "choice_order" in df
        else pd.Series(None, index=df.index, dtype=object)
    )
    if "choice_logprobs" in df:
        k = _lists_to_matrix(df["choice_logprobs"])
        n_choices = np.sum(~np.isnan(k), axis=1)
    else:
        n_choices = np.sum(~np.isnan(orders), axis=1)
    n_choices = np.where(n_choices > 0, n_choices, chosen.max() + 1)
    positions = int(max(n_choices.max(), chosen.max() + 1))
    pos = np.arange(positions)
    observed = np.bincount(chosen, minlength=positions).astype(float)
    expected = np.sum((pos[None, :] < n_choices[:, None]) / n_choices[:, None], axis=0)
    used = expected > 0
    chi2 = float(np.sum((observed[used] - expected[used]) ** 2 / expected[used]))
    dof = int(used.sum() - 1)
    pvalue = float(sps.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
    gold = _gold_positions(df, chosen, correct, n_choices, orders)
    has_gold = ~np.isnan(gold)
    gold_i = gold[has_gold].astype(int)
    gold_n = np.bincount(gold_i, minlength=positions)[:positions].astype(float)
    gold_right = np.bincount(gold_i, weights=correct[has_gold], minlength=positions)[:positions]
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_pos = gold_right / gold_n
    lo, hi = wilson_ci(gold_right, gold_n, alpha=alpha)
    table = pd.DataFrame(
        {
            "position": pos,
            "chosen": observed.astype(int),
            "expected": expected,
            "share": observed / observed.sum(),
            "gold": gold_n.astype(int),
            "accuracy": acc_pos,
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    per_doc = pd.Series(correct).groupby(df["doc_id"].to_numpy()).agg(["mean", "size"])
    est = mean_ci(per_doc["mean"].to_numpy(), alpha=alpha)
    identity = np.all(
        (orders == np.arange(orders.shape[1])[None, :]) | np.isnan(orders), axis=1
    ) & ~np.isnan(orders).all(axis=1)
    original = float(correct[identity].mean()) if identity.any() else float("nan")
    return PositionBias(
        table=table,
        chi2=chi2,
        pvalue=pvalue,
        df=dof,
        n=int(len(df)),
        n_docs=int(len(per_doc)),
        accuracy=float(correct.mean()),
        permutation_accuracy=est.mean,
        permutation_stderr=est.stderr,
        original_accuracy=original,
        orderings_per_doc=float(per_doc["size"].mean()),
    )
