"""The bottom layer: primitives every part shares, each defined once.

Hashing (:func:`stable_hash`), JSON-ready values (:func:`to_jsonable`), strict text readers
(:func:`read_text`, :func:`decode_text`, :func:`iter_jsonl`, :func:`read_csv_rows`) and column
checks (:func:`require_columns`). It imports nothing from the other parts of assay.
"""

from ._columns import require_columns
from ._hashing import stable_hash
from ._json import to_jsonable
from ._labels import plot_label
from ._readers import decode_text, iter_jsonl, read_csv_rows, read_text

__all__ = [
    "decode_text",
    "iter_jsonl",
    "plot_label",
    "read_csv_rows",
    "read_text",
    "require_columns",
    "stable_hash",
    "to_jsonable",
]
