"""Documents, their deterministic order, choice orderings and sampling seeds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import limit, limit_message, stable_hash
from assay.errors import InputError

from ._sandbox import weight


@dataclass
class Doc:
    """One document: a stable ``doc_id``, its fields (template variables) and item metadata."""

    doc_id: str
    fields: dict[str, Any]
    difficulty: float | None = None
    cluster_id: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    @property
    def doc_hash(self) -> str:
        return stable_hash(self.fields)


def make_docs(
    records: list[dict[str, Any]],
    *,
    id_field: str | None = "doc_id",
    difficulty_field: str | None = "difficulty",
    cluster_field: str | None = "cluster_id",
    prefix: str = "",
) -> list[Doc]:
    """Docs from plain records; ``doc_id`` defaults to the row number (as a string). A record
    with more text than ``ASSAY_MAX_DOCUMENT_CHARS`` is an InputError naming it."""
    docs = []
    cap = limit("DOCUMENT_CHARS")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(f"row {i}: expected a mapping of fields, got {record!r:.60}")
        if weight(record, cap) > cap:
            name = record.get(id_field) if id_field else None
            what = f"doc_id {name!r}" if name not in (None, "") else f"row {i}"
            raise InputError(limit_message(f"{what}: the document", "DOCUMENT_CHARS"))
        fields = dict(record)
        raw_id = fields.pop(id_field, None) if id_field else None
        difficulty = fields.pop(difficulty_field, None) if difficulty_field else None
        cluster = fields.pop(cluster_field, None) if cluster_field else None
        doc_id = f"{prefix}{i}" if raw_id in (None, "") else str(raw_id)
        docs.append(
            Doc(
                doc_id=doc_id,
                fields=fields,
                difficulty=_difficulty(difficulty, doc_id, difficulty_field),
                cluster_id=None if cluster in (None, "") else str(cluster),
            )
        )
    return docs


def _difficulty(value: Any, doc_id: str, field_name: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"doc_id {doc_id!r}: {field_name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"doc_id {doc_id!r}: {field_name} {value!r} is not a finite number")
    return number


def spread_order(difficulty: list[float | None]) -> np.ndarray:
    """Indices that interleave difficulty levels: the first k items cover every level evenly.

    Items are ranked within their level by position; the order sorts by (rank, level).
    """
    level = pd.Series([np.nan if d is None else d for d in difficulty], dtype=float)
    level = level.fillna(-np.inf)
    rank = level.groupby(level, sort=False).cumcount().to_numpy()
    return np.lexsort((np.arange(len(level)), level.to_numpy(), rank))


def sampling_seed(seed: int, repeat: int) -> int:
    """Seed of a sampled generation: a fixed function of (seed, repeat)."""
    return (seed * 1_000_003 + repeat) % (2**31 - 1)


def choice_orders(
    n_choices: int, permute_choices: int, seed: int, doc_hash: str
) -> list[list[int]]:
    """Choice orderings of one question: the original order when ``permute_choices`` is 0.

    Otherwise ``permute_choices`` seeded orderings: cyclic shifts of a random base
    permutation (a fresh base every ``n_choices`` orderings), so with ``n`` ≤ ``n_choices``
    orderings each original choice is shown at ``n`` different positions.
    """
    if permute_choices <= 0:
        return [list(range(n_choices))]
    rng = np.random.default_rng([seed, int(doc_hash[:12], 16), 7919])
    orders = []
    for ordering in range(permute_choices):
        if ordering % n_choices == 0:
            base = rng.permutation(n_choices)
        orders.append(np.roll(base, -(ordering % n_choices)).tolist())
    return orders
