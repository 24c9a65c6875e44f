"""A generate task whose target is a number can be scored as discovery (docs/metrics.md): when
the task names a discovery metric under ``metrics:`` (``daf``, ``disc_precision``,
``disc_recall``, ``disc_f1``), each document stores the pieces ``discovery_pred`` (the number the
model answered) and ``discovery_true`` (the target), and the store forms the corpus metrics from
them (:func:`assay.core.with_discovery_metrics`; ≤ 0 is positive). An answer without a number
counts as a predicted negative (``discovery_pred`` = 1.0): a model is not flattered by leaving
out the documents it failed to answer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from assay.core import DISCOVERY_METRICS


def _number(text: str) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def discovery_pieces(
    prediction: str, target: str, declared: Mapping[str, Any] | None
) -> dict[str, float]:
    """``discovery_pred`` and ``discovery_true`` of one document when ``declared`` names a
    discovery metric and the target is a number; else nothing."""
    if not declared or not any(name in DISCOVERY_METRICS for name in declared):
        return {}
    true = _number(target)
    if true is None:
        return {}
    pred = _number(prediction)
    return {"discovery_pred": 1.0 if pred is None else pred, "discovery_true": true}
