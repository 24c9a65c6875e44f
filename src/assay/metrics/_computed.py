"""Metrics assay computes per sample from other fields of the sample, by name.

``assay import samples --metric NAME`` reads a column called NAME as the metric; when the file
has no such column and NAME is one of :data:`COMPUTED`, the metric is computed from the fields
it names instead (``tree_edit_distance`` from ``prediction`` and ``target``). A task file that
declares one of them under ``metrics:`` has the runner compute it for each answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InputError

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


@dataclass(frozen=True)
class Computed:
    """A metric computed from a sample's ``fields``: ``compute`` maps each field's column (a
    sequence, one item per sample) to one value per sample."""

    name: str
    fields: tuple[str, ...]
    compute: Callable[[Mapping[str, Sequence[Any]]], np.ndarray]


#: name -> how to compute it from a sample's fields.
COMPUTED: dict[str, Computed] = {
    c.name: c for c in (Computed("tree_edit_distance", ("prediction", "target"), _equations),)
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
