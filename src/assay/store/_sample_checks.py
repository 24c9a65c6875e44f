"""The checks of ``_files._coerce`` on an Arrow chunk, a column at a time (Arrow compute and
numpy, no Python per row).

:func:`checked` proves a chunk valid and converts it, or returns None: then the chunk goes
through the strict path (``_files``), which names the first bad row and field exactly. So it
answers None for anything unusual, not only for what is wrong (a number written as text, a
NaN, an object where text belongs, a computed metric, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._records import make_run_id
from ._tables import INT32_MAX

METRIC_PREFIX = "metric."
TEXT_COLUMNS = (
    "template_id",
    "prompt",
    "prompt_hash",
    "doc_hash",
    "target",
    "prediction",
    "cluster_id",
)
INT_COLUMNS = ("repeat", "chosen_position", "input_tokens", "output_tokens")
FLOAT_COLUMNS: dict[str, float | None] = {"latency_s": 0.0, "difficulty": None}
LIST_COLUMNS = {"choice_logprobs": False, "choice_order": True}  # name: whole numbers
# what str.strip() strips (Arrow's own white space differs in a few characters)
_SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


def _text(col: Any, strip: bool) -> Any:
    """Text (None where empty after ``strip``); None (the function's answer) if not text."""
    if pa.types.is_null(col.type):
        return col.cast(pa.string())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return None
    col = col.cast(pa.string())
    if not strip:
        return col
    trimmed = pc.utf8_trim(col, _SPACE)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _floats(col: Any) -> np.ndarray | None:
    """A numeric column as floats (NaN where empty), or None: not numbers, or a NaN or
    infinity stored as a value (the strict path names it)."""
    if pa.types.is_null(col.type):
        return np.full(len(col), np.nan)
    if pa.types.is_decimal(col.type):
        col = col.cast(pa.float64())
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        return None
    values = col.to_numpy(zero_copy_only=False).astype(float, copy=False)
    if pa.types.is_floating(col.type) and not np.isfinite(values[~np.isnan(values)]).all():
        return None
    if pa.types.is_floating(col.type) and col.null_count != int(np.isnan(values).sum()):
        return None  # a NaN stored as a value, not an empty cell
    return values


def _number(col: Any, integer: bool, low: float | None, high: float | None) -> Any:
    values = _floats(col)
    if values is None:
        return None
    ok = ~np.isnan(values)
    seen = values[ok]
    if integer and (np.mod(seen, 1) != 0).any():
        return None
    if (low is not None and (seen < low).any()) or (high is not None and (seen > high).any()):
        return None
    return pa.array(values, type=pa.float64(), from_pandas=True).cast(
        pa.int64() if integer else pa.float64()
    )


def _list(col: Any, integer: bool) -> Any:
    if pa.types.is_null(col.type):
        return col.cast(pa.list_(pa.int64() if integer else pa.float64()))
    if not pa.types.is_list(col.type):
        return None
    items = pc.list_flatten(col)
    if items.null_count:
        return None
    values = _floats(items)
    if values is None:
        return None
    if integer:
        if ((np.mod(values, 1) != 0) | (values < 0) | (values > INT32_MAX)).any():
            return None
    elif (values == np.inf).any():
        return None
    return col.cast(pa.list_(pa.int64() if integer else pa.float64()))


def _stamps(col: Any) -> Any:
    """Date-times as naive UTC; text in ISO form too; None for anything else."""
    if pa.types.is_null(col.type):
        return col.cast(pa.timestamp("us"))
    if pa.types.is_timestamp(col.type):
        return col.cast(pa.timestamp(col.type.unit))  # Arrow holds UTC: dropping the zone
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return None
    for kind in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        try:
            return pc.cast(col, kind).cast(pa.timestamp("us"))
        except pa.ArrowException:
            continue
    return None


def _columns(
    table: Any, mapping: Mapping[str, str] | None, metrics: list[str] | None, model: str | None
) -> dict[str, Any] | None:
    """The chunk's columns by field name after ``--map``, ``--metric`` and ``--model``, or
    None where the strict path decides (a column missing or named twice, a computed metric)."""
    names = list(table.column_names)
    if mapping:
        if any(col not in names for col in mapping.values()):
            return None
        back = {col: field for field, col in mapping.items()}
        names = [back.get(n, n) for n in names]
    for name in metrics or []:
        if name not in names:
            return None
        names[names.index(name)] = METRIC_PREFIX + name
    if len(set(names)) != len(names):
        return None
    columns = dict(zip(names, table.columns, strict=True))
    if model is not None:
        columns["model"] = pa.array(np.full(table.num_rows, model, dtype=object), pa.string())
    return columns


def checked(
    table: Any,
    mapping: Mapping[str, str] | None,
    metrics: list[str] | None,
    model: str | None,
    run_ids: Callable[[dict[str, Any]], Any],
) -> Any:
    """The chunk as the store's columns (text, int64, float64, lists, ``metric.<name>``
    float64), run ids included (``run_ids(columns)``), or None: let the strict path decide."""
    if table.num_rows == 0:
        return None
    given = _columns(table, mapping, metrics, model)
    if given is None:
        return None
    out: dict[str, Any] = {}
    steps: list[tuple[tuple[str, ...], Callable[[Any], Any]]] = [
        (("model", "task", "doc_id", "run_id"), lambda c: _text(c, strip=True)),
        ((*TEXT_COLUMNS, "extra"), lambda c: _text(c, strip=False)),
        (INT_COLUMNS, lambda c: _number(c, True, 0, INT32_MAX)),
        *[
            ((f,), lambda c, low=low: _number(c, False, low, None))
            for f, low in FLOAT_COLUMNS.items()
        ],
        (("created_at",), _stamps),
        *[((f,), lambda c, i=i: _list(c, i)) for f, i in LIST_COLUMNS.items()],
    ]
    for fields, convert in steps:
        for field in fields:
            if field in given:
                out[field] = convert(given[field])
                if out[field] is None:
                    return None
    if any(f not in out or out[f].null_count for f in ("model", "task", "doc_id")):
        return None
    metric_cols = [c for c in given if c.startswith(METRIC_PREFIX)]
    if not metric_cols or METRIC_PREFIX in metric_cols:
        return None
    for name in metric_cols:
        out[name] = _number(given[name], False, None, None)
        if out[name] is None:
            return None
    out["run_id"] = run_ids(out)
    repeat = out.get("repeat")
    out["repeat"] = pa.array(np.zeros(table.num_rows, np.int64)) if repeat is None else repeat
    out["repeat"] = pc.fill_null(out["repeat"], 0)
    return pa.table(out)


def _per_pair(a: Any, b: Any, make: Callable[[str, str], str]) -> Any:
    """``make(x, y)`` for each row's pair of text ``(a, b)``, called once per distinct pair;
    null where either is null."""
    a, b = (c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in (a, b))
    da, db = pc.dictionary_encode(a), pc.dictionary_encode(b)
    ia = pc.fill_null(da.indices, -1).to_numpy().astype(np.int64)
    ib = pc.fill_null(db.indices, -1).to_numpy().astype(np.int64)
    valid = (ia >= 0) & (ib >= 0)
    width = len(db.dictionary) + 1
    distinct, inverse = np.unique((ia * width + ib)[valid], return_inverse=True)
    xs, ys = da.dictionary.to_pylist(), db.dictionary.to_pylist()
    made = [make(xs[code // width], ys[code % width]) for code in distinct.tolist()]
    index = np.full(len(a), -1, dtype=np.int64)
    index[valid] = inverse.ravel()
    codes = pa.array(index, mask=index < 0)
    return pa.DictionaryArray.from_arrays(codes, pa.array(made, pa.string())).cast(pa.string())


def run_ids(columns: dict[str, Any], source: str, model: str | None) -> Any:
    """The run id of each row, as ``_files._mapped`` gives it: the file's own (with
    ``--model``, one derived from it), else one made from (model, task, source)."""
    given = columns.get("run_id")
    if model is not None and given is not None and given.null_count < len(given):
        given = _per_pair(
            given,
            columns["task"],
            lambda r, t: make_run_id(model, t, settings={"source": source, "run_id": r}),
        )
    if given is None or given.null_count:
        made = _per_pair(
            columns["model"],
            columns["task"],
            lambda m, t: make_run_id(m, t, settings={"source": source}),
        )
        given = made if given is None else pc.coalesce(given, made)
    return given
