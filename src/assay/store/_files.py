"""Per-sample files into the store (Parquet, CSV, JSONL, e.g. an ``assay export``) and model
metadata tables.

Files are read and checked in chunks (:func:`iter_table`) that one transaction writes as they
come (``_sample_import``): a bad row is one :class:`InputError` naming the file, line and field,
and the store is left unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from assay.errors import InputError
from assay.metrics import COMPUTED, compute_metric

from ._derived import derivable, derive
from ._records import ModelInfo, make_run_id
from ._sample_checks import (
    FLOAT_COLUMNS,
    INT_COLUMNS,
    LIST_COLUMNS,
    METRIC_PREFIX,
    TEXT_COLUMNS,
    checked,
    run_ids,
)
from ._sample_read import arrow_chunks
from ._sample_rows import Rows
from ._store import Store
from ._tables import (
    EXTENSIONS,
    INT32_MAX,
    files_in,
    numbers,
    present,
    read_table,
    texts,
    where,
)


def _parse_list(value: Any) -> list | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return json.loads(text, parse_constant=str)
    if isinstance(value, dict | bool | int | float):
        raise TypeError("not a list")
    return list(value)


def _list_item(value: Any, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError("not a number")
    number = float(value)
    if integer:
        if not (number.is_integer() and 0 <= number <= INT32_MAX):
            raise ValueError("not a whole number in range")
        return int(number)
    if math.isnan(number) or number == math.inf:
        raise ValueError("not finite")
    return number


def _lists(df: pd.DataFrame, path: Path, field: str) -> list[list | None]:
    """A list column (JSON text in CSV/JSONL cells, arrays in Parquet) checked item by item."""
    integer = field == "choice_order"
    kind = "whole numbers >= 0" if integer else "numbers (not NaN or +inf)"
    parsed = []
    for i, value in enumerate(df[field].tolist()):
        try:
            item = _parse_list(value)
            if item is not None:
                item = [_list_item(x, integer) for x in item]
        except (ValueError, TypeError, RecursionError):
            raise InputError(
                f"{where(df, path, i)}, field '{field}': not a list of {kind}"
            ) from None
        parsed.append(item)
    return parsed


def _coerce(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Validate and convert a mapped samples frame; raise naming the first bad row and field."""
    if df.empty:
        raise InputError(f"{path}: no rows")
    for field in ("model", "task", "doc_id"):
        if field not in df:
            raise InputError(
                f"{path}: required field '{field}' is missing (map it with --map {field}=COLUMN)"
            )
        df[field] = texts(df, path, field, strip=True)
        missing = df[field].isna().to_numpy()
        if missing.any():
            raise InputError(f"{where(df, path, missing)}, field '{field}': empty")
    if "run_id" in df:
        df["run_id"] = texts(df, path, "run_id", strip=True)
    for field in TEXT_COLUMNS:
        if field in df:
            df[field] = texts(df, path, field)
    for field in INT_COLUMNS:
        if field in df:
            values = numbers(df, path, field, integer=True, low=0, high=INT32_MAX)
            df[field] = values.astype("Int64")
    for field, low in FLOAT_COLUMNS.items():
        if field in df:
            df[field] = numbers(df, path, field, low=low)
    if "created_at" in df:
        raw = df["created_at"]
        stamps = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
        bad = present(raw) & stamps.isna().to_numpy()
        if bad.any():
            raise InputError(f"{where(df, path, bad)}, field 'created_at': not a date and time")
        df["created_at"] = stamps.dt.tz_localize(None)
    for field in LIST_COLUMNS:
        if field in df:
            df[field] = _lists(df, path, field)
    metric_cols = [c for c in df.columns if c.startswith(METRIC_PREFIX)]
    if not metric_cols:
        raise InputError(
            f"{path}: no metric columns (name them metric.<name> or pass --metric COLUMN)"
        )
    if METRIC_PREFIX in metric_cols:
        raise InputError(f"{path}: column '{METRIC_PREFIX}' has no metric name after the dot")
    for name in metric_cols:  # NaN: no value
        df[name] = numbers(df, path, name).to_numpy()
    return df


def places(rows: pd.DataFrame) -> list[str]:
    """``<file>: line N`` for each row, from ``_at`` or from ``_file`` and ``_row``."""
    if "_at" in rows:
        return rows["_at"].tolist()
    return [
        f"{f}: {'record' if EXTENSIONS.get(Path(f).suffix.lower()) == 'parquet' else 'line'} {n}"
        for f, n in zip(rows["_file"], rows["_row"], strict=True)
    ]


def _sample_chunks(
    file: Path,
    mapping: Mapping[str, str] | None,
    metrics: list[str] | None,
    source: str,
    model: str | None = None,
) -> Iterator[Rows]:
    """One file's rows in chunks (:func:`~assay.store._sample_read.arrow_chunks`), mapped,
    checked and with run ids. A chunk the Arrow checks cannot vouch for
    (:func:`~assay.store._sample_checks.checked`) is read and checked row by row
    (:func:`_mapped`), which names a bad row exactly. The first chunk fixes the file's columns:
    a later chunk (of a JSON-lines file) without one of them has it empty."""
    columns: list[str] | None = None
    empty: pd.DataFrame | None = None  # a chunk without rows: an error if no chunk has any
    for chunk in arrow_chunks(file):
        table = chunk.table
        if table is not None:
            columns = columns or list(table.column_names)
            for name in columns:
                if name not in table.column_names:
                    table = table.append_column(name, pa.nulls(table.num_rows))
            fast = checked(
                table, mapping, metrics, model, lambda cols: run_ids(cols, source, model)
            )
            if fast is not None:
                yield Rows(fast, str(file), chunk.rows)
                continue
        df = chunk.frame()
        if df.empty:
            empty = df if empty is None and columns is None else empty
            continue
        if columns is None:
            columns = list(df.columns)
        else:
            attrs = dict(df.attrs)
            df = df.assign(**{c: None for c in columns if c not in df.columns})
            df.attrs.update(attrs)
        yield Rows.from_frame(_mapped(df, file, mapping, metrics, source, model))
    if columns is None:
        _mapped(
            empty if empty is not None else pd.DataFrame(), file, mapping, metrics, source, model
        )


def _computed(df: pd.DataFrame, file: Path, name: str) -> np.ndarray:
    """Metric ``name`` computed from the chunk's fields (:data:`assay.metrics.COMPUTED`)."""
    fields = {f: df[f].tolist() for f in COMPUTED[name].fields if f in df.columns}
    try:
        return compute_metric(name, fields)
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None


def _mapped(
    df: pd.DataFrame,
    file: Path,
    mapping: Mapping[str, str] | None,
    metrics: list[str] | None,
    source: str,
    model: str | None,
) -> pd.DataFrame:
    """One chunk of a file, mapped, checked and with run ids."""
    attrs = dict(df.attrs)
    if mapping:
        absent = [col for col in mapping.values() if col not in df.columns]
        if absent:
            raise InputError(
                f"{file}: column '{absent[0]}' named in the mapping is not in the file"
            )
        df = df.rename(columns={col: field for field, col in mapping.items()})
    for name in metrics or []:
        if name not in df.columns and name in COMPUTED:
            df[METRIC_PREFIX + name] = _computed(df, file, name)
            continue
        if name not in df.columns and derivable(name):  # computed from the row (_derived)
            for piece, values in derive(df, file, name).items():
                df[METRIC_PREFIX + piece] = values
            continue
        if name not in df.columns:
            raise InputError(f"{file}: metric column '{name}' is not in the file")
        df = df.rename(columns={name: METRIC_PREFIX + name})
    if df.columns.duplicated().any():
        twice = df.columns[df.columns.duplicated()][0]
        raise InputError(f"{file}: two columns map to field '{twice}'")
    if model is not None:
        df["model"] = model
    df.attrs.update(attrs)
    df = _coerce(df, file)
    df.attrs.update(attrs)
    if model is not None and "run_id" in df and df["run_id"].notna().any():
        # a renamed model's runs are new runs: derive their ids from the original ones
        pairs = df[["run_id", "task"]].dropna().drop_duplicates()
        ids = np.array(
            [
                make_run_id(model, t, settings={"source": source, "run_id": r})
                for r, t in pairs.itertuples(index=False)
            ]
            + [None],
            dtype=object,
        )
        keys = [df["run_id"].to_numpy(object), df["task"].to_numpy(object)]
        at = pd.MultiIndex.from_frame(pairs).get_indexer(pd.MultiIndex.from_arrays(keys))
        df["run_id"] = ids[at]  # -1 (no run id in the row): the None at the end
    if "run_id" not in df or df["run_id"].isna().any():
        ids = {
            (m, t): make_run_id(m, t, settings={"source": source})
            for m, t in df[["model", "task"]].drop_duplicates().itertuples(index=False)
        }
        generated = pd.Series(
            [ids[(m, t)] for m, t in zip(df["model"], df["task"], strict=True)], index=df.index
        )
        df["run_id"] = df["run_id"].fillna(generated) if "run_id" in df else generated
    df["repeat"] = df["repeat"].fillna(0).astype(int) if "repeat" in df else 0
    rows = df.attrs.get("rows")
    df["_row"] = rows if rows is not None else np.arange(1, len(df) + 1)
    df["_file"] = str(file)
    df.attrs.clear()  # the row numbers are in _row now (and arrays upset pd.concat)
    return df


def check_runs(store: Store, data: pd.DataFrame, source: str, *, con=None) -> None:
    """Refuse run ids that already exist in the store unless this import source made them for
    the same (model, task): an import never modifies rows it did not create. ``con``: ask
    inside that transaction (before it writes these runs' rows)."""
    runs = data.drop_duplicates("run_id")
    ids = runs["run_id"].tolist()
    query = (
        "SELECT run_id, model, task, source FROM runs WHERE run_id IN (SELECT unnest(?)) "
        "UNION ALL SELECT DISTINCT run_id, model, task, NULL FROM samples "
        "WHERE run_id IN (SELECT unnest(?)) AND run_id NOT IN (SELECT run_id FROM runs)"
    )
    args = [ids, ids]
    existing = store.sql(query, args) if con is None else con.execute(query, args).df()
    if existing.empty:
        return
    ours = runs.assign(_at=places(runs)).set_index("run_id")
    for row in existing.itertuples(index=False):
        mine = ours.loc[row.run_id]
        if row.source == source and (row.model, row.task) == (mine["model"], mine["task"]):
            continue
        made = f"by {row.source!r}" if row.source is not None else "outside an import"
        raise InputError(
            f"{mine['_at']}, field 'run_id': run {row.run_id!r} already exists in the store "
            f"(created {made} for {row.model!r} × {row.task!r}); an import never changes "
            "runs it did not create"
        )


_META_ALIASES = {
    "name": "model",
    "parameters": "params",
    "n_params": "params",
    "num_params": "params",
    "training_tokens": "tokens",
    "data": "tokens",
    "compute": "flops",
    "training_flops": "flops",
    "date": "release_date",
    "checkpoint_step": "step",
    "parent_model": "parent",
}
_META_NUMERIC: dict[str, dict[str, Any]] = {
    "params": {"low": 0.0, "low_open": True},
    "tokens": {"low": 0.0},
    "flops": {"low": 0.0},
    "step": {"integer": True, "low": 0, "high": 1e18},
}


def read_model_meta(path: str | Path) -> list[ModelInfo]:
    """Read a model metadata table (model, params, tokens, flops, family, date, step, parent).

    params must be > 0; tokens and flops >= 0; step a whole number >= 0; each model once.
    """
    path = Path(path)
    files_in(path)
    df = read_table(path)
    attrs = dict(df.attrs)
    df = df.rename(
        columns={c: _META_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in df.columns}
    )
    if df.columns.duplicated().any():
        twice = df.columns[df.columns.duplicated()][0]
        raise InputError(f"{path}: two columns mean '{twice}'")
    df.attrs.update(attrs)
    if "model" not in df:
        raise InputError(f"{path}: required column 'model' is missing")
    if df.empty:
        raise InputError(f"{path}: no rows")
    df["model"] = texts(df, path, "model", strip=True)
    missing = df["model"].isna().to_numpy()
    if missing.any():
        raise InputError(f"{where(df, path, missing)}, field 'model': empty")
    twice = df["model"].duplicated().to_numpy()
    if twice.any():
        name = df["model"].iloc[int(np.flatnonzero(twice)[0])]
        raise InputError(f"{where(df, path, twice)}, field 'model': {name!r} appears twice")
    for field, rule in _META_NUMERIC.items():
        if field in df:
            df[field] = numbers(df, path, field, **rule)
    for field in ("family", "parent", "spec"):
        if field in df:
            df[field] = texts(df, path, field, strip=True)
    if "release_date" in df:
        raw = df["release_date"]
        dates = pd.to_datetime(raw, errors="coerce", format="mixed")
        bad = present(raw) & dates.isna().to_numpy()
        if bad.any():
            raise InputError(f"{where(df, path, bad)}, field 'release_date': not a date")
        df["release_date"] = dates.dt.strftime("%Y-%m-%d").where(dates.notna(), None)
    known = set(ModelInfo.__dataclass_fields__) - {"extra"}
    extra_cols = [c for c in df.columns if c not in known]
    for col in extra_cols:
        if df[col].dtype == object:
            df[col] = texts(df, path, col)
    out = []
    for row in df.to_dict(orient="records"):
        fields = {k: (None if _isnull(v) else v) for k, v in row.items() if k in known}
        if fields.get("step") is not None:
            fields["step"] = int(fields["step"])
        extra = {k: row[k] for k in extra_cols if not _isnull(row[k])}
        out.append(ModelInfo(**fields, extra=extra or None))
    return out


def _isnull(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def set_model_meta(store: Store, path: str | Path) -> int:
    """Read a metadata table and upsert it into the store's models table."""
    return store.upsert_models(read_model_meta(path))
