"""Writing frames into the store's tables: rows conformed to a table's columns, a frame seen
by DuckDB as a cast SELECT, and the battles upsert."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ._battles import upsert
from ._schema import BATTLE_COLUMNS
from ._tables import as_arrow


def _json_or_none(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


#: Battle fields the upsert overwrites, and those it fills in only when missing.
_UPDATED = ("prompt_id", "model_a", "model_b", "winner", "judge")
_FILLED = ("time", "source", "extra")
_REPLACED = ("style_a", "style_b")  # the upsert takes new style features over stored ones


def _as_rows(items: Iterable[Any] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(items, pd.DataFrame):
        return items.copy()
    rows = [asdict(x) if is_dataclass(x) else dict(x) for x in items]
    return pd.DataFrame(rows)


def _conform(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Columns in table order; missing ones as NULL; ``extra``/``settings`` as JSON text."""
    out = pd.DataFrame(index=df.index)
    for name in columns:
        if name in df.columns:
            col = df[name]
            if name in ("extra", "settings"):
                col = col.map(_json_or_none)
            out[name] = col
        else:
            out[name] = None
    return out.reset_index(drop=True)


@contextmanager
def _registered(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, columns: dict[str, str]
) -> Iterator[tuple[str, Callable[[str], Any]]]:
    """(a SELECT casting ``frame`` to the table's types, run(sql)): ``run`` sees ``frame`` (as
    Arrow, :func:`as_arrow`; or an Arrow table as it is, its missing columns NULL) as
    ``_frame``; a registered view would keep it until COMMIT."""
    data = as_arrow(frame) if isinstance(frame, pd.DataFrame) else frame
    rel = con.from_df(data) if isinstance(data, pd.DataFrame) else con.from_arrow(data)
    has = set(data.columns) if isinstance(data, pd.DataFrame) else set(data.column_names)
    given = {c: f'"{c}"' if c in has else "NULL" for c in columns}
    casts = ", ".join(f'CAST({given[c]} AS {t.split()[0]}) AS "{c}"' for c, t in columns.items())
    yield f"SELECT {casts} FROM _frame", lambda sql: rel.query("_frame", sql)


def insert_battles(
    con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, *, fresh: bool = False
) -> None:
    """The upsert (:func:`upsert`) of ``rows`` (unique ids): votes stored already are updated
    where it changes them (a re-import finds every vote stored and unchanged and writes
    nothing); new votes are inserted. ``fresh``: no vote of ``rows`` is stored (the import
    began on a store without battles): one insert."""
    changed = " OR ".join(
        [f'n."{c}" IS DISTINCT FROM b."{c}"' for c in _UPDATED]
        + [f'(b."{c}" IS NULL AND n."{c}" IS NOT NULL)' for c in _FILLED]
        + [f'(n."{c}" IS NOT NULL AND n."{c}" IS DISTINCT FROM b."{c}")' for c in _REPLACED]
    )
    with _registered(con, _conform(rows, BATTLE_COLUMNS), BATTLE_COLUMNS) as (new, run):
        if fresh:
            run(f"INSERT INTO battles {new}")
            return
        for sql in upsert(new, changed):
            run(sql)
