"""JSON-ready values from numpy, pandas, pyarrow and dataclass values; attributes as a dict."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pandas as pd


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON values: DataFrames become lists of records, a Series with a
    default index a list (else a dict), dataclasses dicts of their fields, numpy/pyarrow scalars
    and arrays Python values, dates ISO text; NaN, ±inf, ``pd.NA`` and ``NaT`` become None."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, pd.DataFrame):
        return _records(value)
    if isinstance(value, pd.Series):
        if isinstance(value.index, pd.RangeIndex):
            return to_jsonable(value.tolist())
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, dt.date | dt.datetime | dt.time | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic | np.ndarray):
        return to_jsonable(value.tolist())
    if hasattr(value, "as_py"):  # a pyarrow scalar
        return to_jsonable(value.as_py())
    if hasattr(value, "tolist") and not isinstance(value, bytes):  # pyarrow arrays and the like
        return to_jsonable(value.tolist())
    return value


def _column(series: pd.Series) -> list[Any]:
    """A column's values as :func:`to_jsonable` gives them, whole columns at once where the
    dtype allows (float: NaN/±inf as None; int, bool; plain strings)."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
    if kind == "f":
        values = series.to_numpy()
        out = values.astype(object)
        out[~np.isfinite(values)] = None
        return out.tolist()
    if kind in "iub" and kind:
        return series.to_numpy().tolist()
    values = series.tolist()
    if set(map(type, values)) <= {str}:  # (all plain text: the types gathered in C)
        return values
    return [to_jsonable(v) for v in values]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict(orient="records")`` with each value made JSON-ready."""
    names = [str(c) for c in frame.columns]
    if frame.columns.has_duplicates or len(frame.columns) == 0:
        return [to_jsonable(r) for r in frame.to_dict(orient="records")]
    columns = [_column(frame.iloc[:, k]) for k in range(len(names))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def attributes(obj: Any, *names: str) -> dict[str, Any]:
    """``{name: obj.name}`` for each of ``names``, in that order (values as they are): the
    plain part of a result's ``to_dict``."""
    return {name: getattr(obj, name) for name in names}
