"""``variant_differences``: each variant of a job against the reference (first) variant, per
task — :func:`compare`'s pairs, oriented, with compare's adjusted p-values and family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import accepts_confidence, to_jsonable
from assay.errors import InputError

from ._compare import AdjustmentFamily, Comparison, compare
from ._pairs import TEST_COLUMNS

__all__ = ["VariantDifferences", "variant_differences"]

DIFFERENCE_COLUMNS = ["task", "metric", "variant", "reference", *TEST_COLUMNS, "p_adjusted"]
DIFFERENCE_COLUMNS += ["method", "variant_only_right", "reference_only_right"]


@dataclass
class VariantDifferences:
    """Result of :func:`variant_differences`.

    ``table``: per task and variant (after the reference, in the order given): task, metric
    (the task's headline), variant, reference, n (documents both answered), diff = variant −
    reference, stderr, ci_low, ci_high (the (1 − ``alpha``) interval of the difference),
    p_value, p_adjusted, method (the paired test), variant_only_right and
    reference_only_right (answers that flipped: right for one of the two only; binary scores).
    ``p_adjusted`` is :func:`compare`'s, adjusted over ``family`` — every pair of models on
    every task, not only the pairs shown — so it equals ``assay compare``'s and the report's.
    ``scores``: compare's per-model scores (headline metric, interval, n).
    """

    table: pd.DataFrame
    reference: str
    family: AdjustmentFamily
    scores: pd.DataFrame
    alpha: float = 0.05

    @property
    def headline(self) -> dict[str, str]:
        """The metric each task is compared on."""
        if self.scores.empty:
            return {}
        return dict(zip(self.scores["task"], self.scores["metric"], strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "family": self.family.to_dict(),
            "alpha": self.alpha,
            "differences": to_jsonable(self.table[DIFFERENCE_COLUMNS]),
        }

    @classmethod
    def from_comparison(cls, comp: Comparison, reference: str | None = None) -> VariantDifferences:
        """The pairs of ``comp`` that involve ``reference`` (default: the first model of
        ``comp.scores``), oriented as variant − reference."""
        models = list(pd.unique(comp.scores["model"])) if len(comp.scores) else []
        if reference is None:
            reference = models[0] if models else ""
        elif reference not in models:
            raise InputError(
                f"unknown reference {reference!r}; available: {', '.join(map(str, models))}"
            )
        pairs = comp.details if len(comp.details) else comp.pairs
        if "model_a" not in pairs:
            pairs = pd.DataFrame(columns=["model_a", "model_b", "task", "metric", "n", "method"])
        pairs = pairs[pairs["model_a"].eq(reference) | pairs["model_b"].eq(reference)]
        table = _oriented(pairs, reference)
        rank = {m: k for k, m in enumerate(models)}
        tasks = {t: k for k, t in enumerate(pd.unique(comp.scores.get("task", pd.Series())))}
        order = np.lexsort(
            (table["variant"].map(rank).to_numpy(), table["task"].map(tasks).to_numpy())
        )
        table = table.iloc[order].reset_index(drop=True)
        return cls(table, reference, comp.family, comp.scores, comp.alpha)


def _oriented(pairs: pd.DataFrame, reference: str) -> pd.DataFrame:
    """``pairs`` (compare's columns) as variant − reference rows."""
    swap = pairs["model_a"].eq(reference).to_numpy()  # reference is "a": flip the sign
    sign = np.where(swap, -1.0, 1.0)

    def col(name: str) -> np.ndarray:
        return pairs[name].to_numpy(dtype=float) if name in pairs else np.full(len(pairs), np.nan)

    def pick(when_b: np.ndarray, when_a: np.ndarray) -> np.ndarray:
        return np.where(swap, when_a, when_b)

    low, high = col("ci_low"), col("ci_high")
    a_only, b_only = col("a_only_right"), col("b_only_right")
    return pd.DataFrame(
        {
            "task": pairs["task"].to_numpy(),
            "metric": pairs["metric"].to_numpy(),
            "variant": pick(pairs["model_a"].to_numpy(), pairs["model_b"].to_numpy()),
            "reference": reference,
            "n": pairs["n"].to_numpy(),
            "diff": sign * col("diff") + 0.0,
            "stderr": col("stderr"),
            "ci_low": pick(low, -high) + 0.0,
            "ci_high": pick(high, -low) + 0.0,
            "p_value": col("p_value"),
            "p_adjusted": col("p_adjusted"),
            "method": pairs["method"].to_numpy(),
            "variant_only_right": pick(a_only, b_only),
            "reference_only_right": pick(b_only, a_only),
        },
        columns=DIFFERENCE_COLUMNS,
    )


@accepts_confidence()
def variant_differences(
    scores: pd.DataFrame,
    *,
    reference: str | None = None,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    metric: str | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    test: str = "auto",
    seed: int = 0,
    metrics: Any = None,
) -> VariantDifferences:
    """Each variant's paired difference to ``reference`` on every task.

    ``scores`` is ``Store.evidence().scores`` and ``metrics`` its ``.metrics``; the arguments are :func:`compare`'s, which does
    every test: the differences are its pairs that involve ``reference`` (default: the first
    of ``models``, else the first model by name), with its intervals and its p-values
    adjusted over its family (every pair of models on every task, stated in
    ``result.family``), so they equal ``assay compare``'s and the report's for the same scores.
    """
    if reference is None and models:
        reference = models[0]
    elif reference is not None and models is not None and reference not in models:
        models = [reference, *models]
    comp = compare(
        scores,
        metric=metric,
        models=models,
        tasks=tasks,
        alpha=alpha,
        correction=correction,
        test=test,
        seed=seed,
        metrics=metrics,
    )
    return VariantDifferences.from_comparison(comp, reference)
