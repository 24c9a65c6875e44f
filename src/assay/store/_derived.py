"""Metrics ``assay import samples --metric NAME`` computes from a row's own columns when the file
has no column ``NAME`` (docs/metrics.md): the per-forecast scores of quantile forecasts, which
read ``quantile.<level>`` columns and the observed value in ``target``; the per-query retrieval
metrics, which read the list ``relevance`` (graded, ≥ 0) and optionally the list ``scores``;
and the discovery metrics (``daf``, ``disc_precision``, ``disc_recall``, ``disc_f1``), corpus
values whose per-document pieces ``discovery_pred`` and ``discovery_true`` are read from the
numbers in ``prediction`` and ``target`` (≤ 0: positive), the corpus values being formed when the
store is read (:func:`assay.core.with_discovery_metrics`).

Each is a per-sample value (so its task mean gets the clustered interval and paired tests of
any metric); the formulas are those of :mod:`assay.core` (``weighted_interval_score``, ...).
A missing or bad input is one InputError naming the file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from assay.core import (
    DISCOVERY_METRICS,
    interval_coverage,
    isotonic_quantiles,
    ndcg,
    pad_lists,
    pinball_loss,
    recall_at_k,
    reciprocal_rank,
    sort_quantiles,
    weighted_interval_score,
)
from assay.errors import InputError

from ._tables import numbers, present, where

QUANTILE_PREFIX = "quantile."
_QUANTILE = ("wis", "wis_sorted", "wis_isotonic", "pinball")


_RETRIEVAL = ("ndcg", "mrr")


def derivable(name: str) -> bool:
    """True when ``name`` is a metric assay can compute from a row's columns."""
    family, sep, k = name.partition("@")
    if name in _QUANTILE or name in _RETRIEVAL or name in DISCOVERY_METRICS:
        return True
    if family == "coverage" and sep:
        return _number(k)
    return family in ("ndcg", "recall") and sep == "@" and k.isdigit() and int(k) > 0


def _number_lists(df: pd.DataFrame, path: Path, field: str, what: str) -> np.ndarray:
    """Column ``field`` of lists of numbers (JSON text in CSV cells, arrays in JSONL and
    Parquet) as one NaN-padded array; a row that is not such a list is an error naming it."""
    if field not in df:
        raise InputError(f"{path}: {what} needs a column '{field}'")
    parsed = []
    for i, value in enumerate(df[field].tolist()):
        try:
            items = json.loads(value) if isinstance(value, str) else value
            row = [float(x) for x in items if not isinstance(x, bool | str)]
            if len(row) != len(items) or not np.isfinite(row).all():
                raise ValueError
        except (TypeError, ValueError, RecursionError):
            raise InputError(
                f"{where(df, path, i)}, field '{field}': not a list of numbers ({what} needs it)"
            ) from None
        parsed.append(row)
    return pad_lists(parsed)


def _retrieval(df: pd.DataFrame, path: Path, name: str) -> np.ndarray:
    what = f"metric '{name}'"
    relevance = _number_lists(df, path, "relevance", what)
    scores = _number_lists(df, path, "scores", what) if "scores" in df else None
    family, _, k = name.partition("@")
    try:
        if name == "mrr":
            return reciprocal_rank(relevance, scores)
        if family == "recall":
            return recall_at_k(relevance, scores, int(k))
        return ndcg(relevance, scores, int(k) if k else None)
    except InputError as exc:
        raise InputError(f"{path}: {what}: {exc}") from None


def _number(text: str) -> bool:
    try:
        return 0 < float(text) < 100
    except ValueError:
        return False


def _required(df: pd.DataFrame, path: Path, field: str, what: str) -> np.ndarray:
    """Column ``field`` as finite floats, every row filled (one error naming the first gap)."""
    if field not in df:
        raise InputError(f"{path}: {what} needs a column '{field}'")
    values = numbers(df, path, field).to_numpy(float)
    gap = ~present(df[field]) | ~np.isfinite(values)
    if gap.any():
        raise InputError(f"{where(df, path, gap)}, field '{field}': empty ({what} needs it)")
    return values


def _quantiles(df: pd.DataFrame, path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(levels, the (n, L) quantiles) from the ``quantile.<level>`` columns, in level order."""
    columns = [c for c in df.columns if str(c).startswith(QUANTILE_PREFIX)]
    levels = []
    for column in columns:
        try:
            level = float(column[len(QUANTILE_PREFIX) :])
        except ValueError:
            level = np.nan
        if not 0 < level < 1:
            raise InputError(
                f"{path}: column '{column}': the level after the dot must be in (0, 1)"
            )
        levels.append(level)
    if not columns:
        raise InputError(f"{path}: metric '{name}' needs quantile.<level> columns")
    order = np.argsort(levels)
    values = np.column_stack([_required(df, path, columns[i], f"metric '{name}'") for i in order])
    return np.asarray(levels)[order], values


def derive(df: pd.DataFrame, path: Path, name: str) -> dict[str, np.ndarray]:
    """The per-row metric values the derivable metric ``name`` (:func:`derivable`) needs:
    ``{name: values}``, or for a discovery metric its two pieces."""
    if name in DISCOVERY_METRICS:
        what = f"metric '{name}'"
        return {
            "discovery_pred": _required(df, path, "prediction", what),
            "discovery_true": _required(df, path, "target", what),
        }
    if name.partition("@")[0] in ("ndcg", "recall", "mrr"):
        return {name: _retrieval(df, path, name)}
    return {name: _quantile(df, path, name)}


def _quantile(df: pd.DataFrame, path: Path, name: str) -> np.ndarray:
    levels, q = _quantiles(df, path, name)
    y = _required(df, path, "target", f"metric '{name}'")
    try:
        if name.startswith("coverage@"):
            return interval_coverage(q, levels, y, float(name.partition("@")[2]) / 100)
        if name == "pinball":
            return pinball_loss(q, levels, y)
        repair = {"wis_sorted": sort_quantiles, "wis_isotonic": isotonic_quantiles}
        fixed = repair[name](q) if name in repair else q
        return weighted_interval_score(fixed, levels, y)
    except InputError as exc:
        raise InputError(f"{path}: metric '{name}': {exc}") from None
