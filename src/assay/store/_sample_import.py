"""``assay import samples``: per-sample files streamed into the store in one transaction.

Each file is read in chunks (:func:`~assay.store._sample_read.arrow_chunks`: JSON lines in
blocks of about 8 MiB, Parquet by record batches, CSV at most 50,000 rows), checked a column at
a time (``_sample_checks``; a chunk those checks cannot vouch for is checked row by row, which
names a bad row), and written at once inside one transaction as Arrow tables, so memory holds
one chunk, never the file. What must hold over the whole import is checked as it goes or at the
end, before the commit: a run id stored already by another source (before its first rows are
written), one (model, task) per run id, and no sample twice (a 64-bit hash per row; the files
are read a second time only to name the rows of a duplicate). Any error rolls everything back.
DuckDB holds the rows it writes to ``ASSAY_MAX_IMPORT_MEMORY`` (spilling the rest to disk) and
the primary-key indexes of the tables besides (``_import_runs.Budget``: it cannot spill them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._files import _sample_chunks, check_runs, places
from ._import_runs import Progress, Steps, bounded, count_present
from ._records import RunInfo
from ._sample_rows import KEY, Rows
from ._store import Store
from ._tables import CHUNK_BYTES, files_in

GROUP_ROWS = 50_000
"""Chunks of small files are joined up to about this many rows, or :data:`CHUNK_BYTES` of Arrow
data, whichever comes first (a folder of many small files: each chunk costs a few queries,
whatever its size; a file of long texts: memory stays one chunk's)."""


def _grouped(chunks: Iterator[Rows]) -> Iterator[Rows]:
    """``chunks`` joined up to about :data:`GROUP_ROWS` rows or :data:`CHUNK_BYTES`. A bad row found while some are
    held: those are checked and written first, so errors come in the order of the files."""
    held: list[Rows] = []
    count = size = 0
    try:
        for rows in chunks:
            held.append(rows)
            count += rows.table.num_rows
            size += rows.table.nbytes
            if count >= GROUP_ROWS or size >= CHUNK_BYTES:
                yield Rows.joined(held)
                held, count, size = [], 0, 0
    except InputError:
        if held:
            yield Rows.joined(held)
        raise
    if held:
        yield Rows.joined(held)


class _Seen:
    """The hash of every key an import has read so far, sorted (8 bytes a row)."""

    def __init__(self) -> None:
        self.sorted = np.empty(0, dtype=np.uint64)

    def add(self, hashes: np.ndarray) -> bool:
        """Add ``hashes``; True if one of them was there already (a key written again)."""
        new = np.sort(hashes)
        at = np.searchsorted(self.sorted, new)
        again = bool(len(self.sorted)) and bool(
            (self.sorted[np.minimum(at, len(self.sorted) - 1)] == new).any()
        )
        self.sorted = np.insert(self.sorted, at, new)
        return again

    def repeated(self) -> np.ndarray:
        """The hashes added more than once."""
        twice = self.sorted[1:][self.sorted[1:] == self.sorted[:-1]]
        return np.unique(twice)


def _stored(con, run_ids: list[str]) -> set[str]:
    """The runs of ``run_ids`` with samples or metric values in the store."""
    found = con.execute(
        "SELECT run_id FROM samples WHERE run_id IN (SELECT unnest($1)) UNION "
        "SELECT run_id FROM sample_metrics WHERE run_id IN (SELECT unnest($1))",
        [run_ids],
    ).fetchall()
    return {r[0] for r in found}


def _duplicate(chunks: Iterator[Rows], suspects: np.ndarray, con) -> InputError | None:
    """Read the files again, keeping only rows whose hash is a suspect, and name the first
    sample (in file order) that truly appears twice; None when the hashes only collided."""
    found = []
    for chunk in chunks:
        hit = np.isin(chunk.hashes(con), suspects)
        if hit.any():
            found.append(chunk.frame([*KEY, "model", "task"], hit))
    rows = pd.concat(found, ignore_index=True)
    dup = rows.duplicated(KEY, keep=False).to_numpy()
    if not dup.any():
        return None
    first = rows[dup].iloc[0]
    same = rows[
        (rows["run_id"] == first["run_id"])
        & (rows["doc_id"] == first["doc_id"])
        & (rows["repeat"] == first["repeat"])
    ]
    at = places(same.iloc[:2])
    return InputError(
        f"{at[1]}: sample (model {first['model']!r}, task {first['task']!r}, "
        f"doc_id {first['doc_id']!r}, repeat {first['repeat']}) appears twice "
        f"(also at {at[0]})"
    )


def import_samples(
    store: Store,
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    metrics: list[str] | None = None,
    source: str = "import",
    model: str | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Import per-sample rows from CSV / JSONL / Parquet files (a file or a folder of them).

    ``mapping`` maps assay fields to the file's columns (``{"doc_id": "id"}``); ``metrics``
    names plain columns to read as metrics (columns called ``metric.<name>`` always are);
    ``model`` sets the model of every row (over a model column or ``--map model=COL``).
    Rows without ``run_id`` get one from (model, task, source). The files are read in chunks
    and written in one transaction: memory does not grow with their size, and any bad row
    leaves the store unchanged. Importing the same files twice changes nothing: the summary's
    ``new`` counts the samples the store did not hold, ``present`` those it held already.
    ``progress(done, total)``: one step per file, then the write.
    """
    if model is not None and not model.strip():
        raise InputError("--model: empty model name")
    model = None if model is None else model.strip()
    files = files_in(Path(path))

    steps = Steps(progress)

    def chunks(report: Progress = None) -> Iterator[Rows]:
        for k, file in enumerate(files):
            if report is not None:
                report(k, len(files))
            yield from _sample_chunks(file, mapping, metrics, source, model)

    runs: dict[str, tuple[str, str]] = {}  # run id -> (model, task), in order of first row
    split: str | None = None  # the first row giving a run id a second (model, task)
    seen = _Seen()  # the keys read so far (hashes)
    stored: set[str] = set()  # the import's runs that have rows in the store already
    written = present = 0
    with bounded(store, path) as (con, budget):
        for chunk in _grouped(chunks(steps.read)):
            pairs = chunk.runs()
            new = pairs[~pairs["run_id"].isin(list(runs))].drop_duplicates("run_id")
            for row, at in zip(pairs.itertuples(index=False), places(pairs), strict=True):
                had = runs.setdefault(row.run_id, (row.model, row.task))
                if had != (row.model, row.task) and split is None:
                    split = (
                        f"{at}, field 'run_id': run {row.run_id!r} is used for more than one "
                        "(model, task)"
                    )
            if len(new):  # before the first rows of these runs are written
                check_runs(store, new, source, con=con)
                stored |= _stored(con, new["run_id"].tolist())
            hashes = chunk.hashes(con)
            twice = seen.add(hashes)  # a key this import wrote already: an error, later
            chunk = chunk.last_of_each(hashes)
            again = not stored.isdisjoint(pairs["run_id"])
            if again:  # a fresh run holds no sample yet
                present += count_present(con, chunk.table)
            budget.before(chunk.keys())
            written += chunk.write(store, con, replace=again or twice)
        suspects = seen.repeated()
        if len(suspects):
            error = _duplicate(chunks(), suspects, con)
            if error is not None:
                raise error
        if split is not None:
            raise InputError(split)
        existing = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
        models = dict.fromkeys(m for m, _ in runs.values())
        store.upsert_models([{"model": m} for m in models], con=con)
        new_runs = [
            RunInfo(run_id=run_id, model=m, task=t, source=source)
            for run_id, (m, t) in runs.items()
            if run_id not in existing
        ]
        if new_runs:  # one statement for all of them (one per run took 0.1 s each)
            store.upsert_run(new_runs, con=con)
    steps.written()
    return {
        "source": str(path),
        "samples": written,
        "new": written - present,
        "present": present,
        "runs": len(runs),
        "models": sorted({m for m, _ in runs.values()}),
        "tasks": sorted({t for _, t in runs.values()}),
    }
