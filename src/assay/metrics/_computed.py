"""Metrics assay computes per sample from other fields of the sample, by name.

``assay import samples --metric NAME`` reads a column called NAME as the metric; when the file
has no such column and NAME is one of :data:`COMPUTED`, the metric is computed from the fields
it names instead (``tree_edit_distance`` from ``prediction`` and ``target``; ``pate`` and
``pa_f1`` from one time series per sample, ``anomaly_labels`` and ``anomaly_scores``). A
generate task that declares ``tree_edit_distance`` under ``metrics:`` has the runner compute
it for each answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InputError

from ._anomaly import pate, point_adjusted_f1
from ._equations import tree_edit_distance

__all__ = ["COMPUTED", "Computed", "compute_metric"]


def _texts(values: Sequence[Any]) -> list[str | None]:
    return [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values]


def _equations(fields: Mapping[str, Sequence[Any]]) -> np.ndarray:
    preds, targets = _texts(fields["prediction"]), _texts(fields["target"])
    if any(t is None for t in targets):
        raise InputError("tree_edit_distance: a sample has no target equation")
    # no prediction is as far from the target as possible
    return tree_edit_distance(["" if p is None else p for p in preds], targets)


def _series(value: Any, field: str, row: int) -> np.ndarray:
    """One sample's series: a list, an array or JSON text of one."""
    try:
        if isinstance(value, str):
            value = json.loads(value)
        out = np.asarray(value, dtype=float)
    except (TypeError, ValueError, RecursionError):
        out = np.empty((0, 0))
    if out.ndim != 1 or out.size == 0:
        raise InputError(f"sample {row + 1}, field '{field}': not a list of numbers")
    return out


def _per_series(score: Callable[[np.ndarray, np.ndarray], float]):
    def compute(fields: Mapping[str, Sequence[Any]]) -> np.ndarray:
        out = []
        for row, (labels, scores) in enumerate(  # one series per sample
            zip(fields["anomaly_labels"], fields["anomaly_scores"], strict=True)
        ):
            y, s = _series(labels, "anomaly_labels", row), _series(scores, "anomaly_scores", row)
            try:
                out.append(score(y, s))
            except InputError as exc:
                raise InputError(f"sample {row + 1}: {exc}") from None
        return np.array(out, dtype=float)

    return compute


@dataclass(frozen=True)
class Computed:
    """A metric computed from a sample's ``fields``: ``compute`` maps each field's column (a
    sequence, one item per sample) to one value per sample."""

    name: str
    fields: tuple[str, ...]
    compute: Callable[[Mapping[str, Sequence[Any]]], np.ndarray]


_SERIES = ("anomaly_labels", "anomaly_scores")
#: name -> how to compute it from a sample's fields.
COMPUTED: dict[str, Computed] = {
    c.name: c
    for c in (
        Computed("tree_edit_distance", ("prediction", "target"), _equations),
        Computed("pate", _SERIES, _per_series(pate)),
        Computed("pa_f1", _SERIES, _per_series(point_adjusted_f1)),
    )
}


def compute_metric(name: str, fields: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """The values of computed metric ``name`` for the samples whose fields are ``fields``
    (field name -> one item per sample); a one-line :class:`InputError` when a field is
    missing or a value cannot be scored."""
    if name not in COMPUTED:
        raise InputError(f"{name!r} is not a metric assay computes ({', '.join(COMPUTED)})")
    spec = COMPUTED[name]
    missing = [f for f in spec.fields if f not in fields]
    if missing:
        raise InputError(f"{name} is computed from field(s) {', '.join(missing)}: not given")
    return np.asarray(spec.compute(fields), dtype=float)
