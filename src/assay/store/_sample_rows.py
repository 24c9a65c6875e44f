"""A checked chunk of an ``assay import samples`` (:class:`Rows`: an Arrow table and where each
row is) and what the import does with it a column at a time: key hashes, its runs, the write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._sample_checks import FLOAT_COLUMNS, INT_COLUMNS, LIST_COLUMNS, METRIC_PREFIX
from ._schema import SAMPLE_COLUMNS
from ._store import Store
from ._writes import _json_or_none

KEY = ["run_id", "doc_id", "repeat"]
_TYPES: dict[str, Any] = {
    **{c: pa.string() for c, t in SAMPLE_COLUMNS.items() if t.startswith("VARCHAR")},
    **{c: pa.int64() for c in INT_COLUMNS},
    **{c: pa.float64() for c in FLOAT_COLUMNS},
    **{c: pa.list_(pa.int64() if whole else pa.float64()) for c, whole in LIST_COLUMNS.items()},
    "created_at": None,  # as pandas has it
}


@dataclass
class Rows:
    """Checked samples: ``table`` holds the store's columns (``repeat`` and ``run_id`` always)
    and one ``metric.<name>`` float column per metric (null: no value); ``rows`` the line or
    record number in ``file`` of each row (``file``: one name, or one per row)."""

    table: Any
    file: Any
    rows: np.ndarray

    @classmethod
    def joined(cls, parts: list[Rows]) -> Rows:
        """The rows of ``parts`` (of one file or several) as one Rows."""
        if len(parts) == 1:
            return parts[0]
        table = pa.concat_tables([p.table for p in parts], promote_options="permissive")
        files = [np.full(p.table.num_rows, p.file, dtype=object) for p in parts]
        rows = np.concatenate([p.rows for p in parts])
        return cls(table, np.concatenate(files), rows)

    def _files(self, at: Any) -> Any:
        return self.file if isinstance(self.file, str) else self.file[at]

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Rows:
        """A frame checked by ``_files._mapped`` (with ``_file`` and ``_row``) as Rows."""
        columns = {}
        for name in df.columns:
            if name.startswith(METRIC_PREFIX):
                kind = pa.float64()
            elif name in _TYPES:
                kind = _TYPES[name]
            else:
                continue
            values = df[name].map(_json_or_none) if name == "extra" else df[name]
            columns[name] = pa.array(values, type=kind, from_pandas=True)
        rows = df["_row"].to_numpy(np.int64) if len(df) else np.empty(0, np.int64)
        return cls(pa.table(columns), df["_file"].to_numpy(object) if len(df) else "", rows)

    def frame(self, columns: list[str], at: np.ndarray | None = None) -> pd.DataFrame:
        """``columns`` of the rows ``at`` (a mask; all by default) with ``_file`` and ``_row``
        (for ``_files.places``)."""
        table = self.table.select(columns)
        rows, files = self.rows, self.file
        if at is not None:
            table, rows, files = table.filter(pa.array(at)), rows[at], self._files(at)
        out = table.to_pandas()
        out["_file"], out["_row"] = files, rows
        return out

    def hashes(self, con) -> np.ndarray:
        """A 64-bit hash of each row's (run_id, doc_id, repeat)."""
        rel = con.from_arrow(self.table.select(KEY))
        found = rel.query("_k", 'SELECT hash(run_id, doc_id, "repeat") AS h FROM _k').fetchnumpy()
        return np.asarray(found["h"], dtype=np.uint64)

    def runs(self) -> pd.DataFrame:
        """The (run_id, model, task) of the rows, each once, in the order of their first row,
        with ``_file`` and ``_row`` of that row."""
        order = pa.array(np.arange(self.table.num_rows))
        firsts = (
            self.table.select(["run_id", "model", "task"])
            .append_column("_i", order)
            .group_by(["run_id", "model", "task"], use_threads=False)
            .aggregate([("_i", "min")])
            .sort_by("_i_min")
        )
        out = firsts.drop_columns(["_i_min"]).to_pandas()
        first = firsts["_i_min"].to_numpy()
        out["_file"], out["_row"] = self._files(first), self.rows[first]
        return out

    def last_of_each(self, hashes: np.ndarray) -> Rows:
        """The rows without a later row of the same key (a store holds a key once)."""
        ordered = np.sort(hashes)
        if not (ordered[1:] == ordered[:-1]).any():
            return self
        keys = self.table.select(KEY).to_pandas()
        keep = ~keys.duplicated(KEY, keep="last").to_numpy()
        return Rows(self.table.filter(pa.array(keep)), self._files(keep), self.rows[keep])

    def keys(self) -> int:
        """The index keys a write adds at most: one per sample and one per metric value."""
        names = [c for c in self.table.column_names if c.startswith(METRIC_PREFIX)]
        return self.table.num_rows * (1 + len(names))

    def write(self, store: Store, con, replace: bool) -> int:
        """Insert the samples and their metric values; ``replace``: some may be stored
        already (the samples are replaced, their metrics merged into the stored ones)."""
        names = [c for c in self.table.column_names if c.startswith(METRIC_PREFIX)]
        samples = self.table.drop_columns(names)
        if "created_at" not in samples.column_names:
            now = np.datetime64(pd.Timestamp.now(tz="UTC").tz_localize(None).to_datetime64(), "us")
            samples = samples.append_column(
                "created_at", pa.array(np.full(samples.num_rows, now), pa.timestamp("us"))
            )
        keys = self.table.select(KEY)
        parts = []
        for name in names:
            given = pc.is_valid(self.table[name])
            part = keys.filter(given)
            metric = pa.repeat(pa.scalar(name[len(METRIC_PREFIX) :]), part.num_rows)
            value = self.table[name].filter(given)
            parts.append(part.append_column("metric", metric).append_column("value", value))
        metrics = pa.concat_tables(parts)
        return store.write_sample_tables(samples, metrics, con=con, keep=True, replace=replace)
