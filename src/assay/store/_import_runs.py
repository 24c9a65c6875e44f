"""The last step of every log importer (lm-eval, inspect_ai, lighteval): their runs and
samples, read a chunk at a time, written in one transaction (:func:`write_parts`).

An import adds or replaces only what the new files hold complete: a sample without any score is
skipped (and counted), a run left without samples is not touched, and no stored row is removed
because the new files lack it (a re-imported sample's metrics are merged into the stored ones).
Memory holds one chunk of samples, never a file: the rows go to the store as they are read (DuckDB
spills them to disk past ``ASSAY_MAX_IMPORT_MEMORY``), and any error rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from assay.core import limit, limit_message
from assay.errors import InputError

from ._files import check_runs
from ._records import ModelInfo, RunInfo, SampleRecord
from ._store import Store


@dataclass
class ImportSummary:
    """What an import wrote: counts per table, and the (model, task) pairs touched; ``errored``
    and ``unscored`` count the samples it skipped (errored in the source, or without a score)."""

    source: str
    runs: int
    samples: int
    models: list[str]
    tasks: list[str]
    errored: int = 0  # samples that errored in the source and were left out (inspect)
    unscored: int = 0  # samples without any score in the source, left out (stored rows kept)
    present: int = 0  # of ``samples``, those the store held already (same run, doc, repeat)

    @property
    def new(self) -> int:
        """Samples the store did not hold before this import."""
        return self.samples - self.present

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "new": self.new}


Progress = Callable[[int, int], None] | None
"""``progress(done, total)``: how far a read (files) or an import (files, then the write) is."""


class Steps:
    """An import's ``progress``: one step per file read (:meth:`read`, a reader's own
    ``progress``), then one for the write (:meth:`written`)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.total = 1

    def read(self, done: int, files: int) -> None:
        self.total = files + 1
        if self.progress is not None:
            self.progress(done, self.total)

    def written(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def count_present(con: Any, frame: Any) -> int:
    """How many distinct ``(run_id, doc_id, repeat)`` keys of ``frame`` (a DataFrame or an
    Arrow table) the store's samples table holds already (run inside the import's
    transaction, before it writes)."""
    if not len(frame):
        return 0
    if isinstance(frame, pd.DataFrame):
        keys = pd.DataFrame(
            {
                "run_id": frame["run_id"].astype(str).to_numpy(),
                "doc_id": frame["doc_id"].astype(str).to_numpy(),
                "repeat": (
                    frame["repeat"].fillna(0).astype("int64").to_numpy() if "repeat" in frame else 0
                ),
            }
        )
        rel = con.from_df(keys)
    else:
        rel = con.from_arrow(frame.select(["run_id", "doc_id", "repeat"]))
    found = rel.query(
        "_keys",
        'SELECT count(*) FROM (SELECT DISTINCT run_id, doc_id, CAST("repeat" AS INTEGER) AS r '
        'FROM _keys) k SEMI JOIN (SELECT run_id, doc_id, "repeat" FROM samples WHERE run_id IN '
        "(SELECT run_id FROM _keys)) s "
        'ON k.run_id = s.run_id AND k.doc_id = s.doc_id AND k.r = s."repeat"',
    ).fetchall()
    return int(found[0][0])


def given_model(model: str | None) -> str | None:
    """``--model NAME`` of an import, checked: without spaces around it; blank is an error
    (never the names in the files instead)."""
    if model is None:
        return None
    if not isinstance(model, str) or not model.strip():
        raise InputError("--model: empty model name")
    return model.strip()


CHUNK_SAMPLES = 1_000  # samples an importer holds before it writes them ...
CHUNK_CHARS = 4 * 2**20  # ... or about this many characters of their text, whichever comes first


def _chars(record: SampleRecord | None) -> int:
    if record is None:
        return 100
    texts = (record.prompt, record.prediction, record.target)
    return 200 + sum(len(t) for t in texts if t) + 20 * len(record.metrics)


def chunked(
    items: Iterable[tuple[SampleRecord | None, str]],
    rows: int | None = None,
    chars: int | None = None,
) -> Iterator[list[tuple[SampleRecord | None, str]]]:
    """``(record, label)`` pairs in lists of at most ``rows`` (:data:`CHUNK_SAMPLES`) or about
    ``chars`` (:data:`CHUNK_CHARS`) characters."""
    rows = CHUNK_SAMPLES if rows is None else rows
    chars = CHUNK_CHARS if chars is None else chars
    chunk: list[tuple[SampleRecord | None, str]] = []
    held = 0
    for item in items:
        chunk.append(item)
        held += _chars(item[0])
        if len(chunk) >= rows or held >= chars:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


@dataclass
class Part:
    """One run an importer reads: its model, its run and its samples, in chunks of
    ``(record, label)`` (:func:`chunked`); a record of None is a sample that errored in the
    source, a label says where a record is (for errors). ``run.extra`` may be completed while
    the chunks are read: the run is written after its last chunk."""

    model: ModelInfo
    run: RunInfo
    chunks: Iterable[list[tuple[SampleRecord | None, str]]]


Twice = Callable[[str, int, str, str], str]
"""``twice(doc_id, repeat, label, first_label)``: the error for a sample read twice."""


INDEX_KEY_BYTES = 256
"""Room made for each key an import is about to write to a primary-key index (DuckDB's ART
indexes stay in memory; it takes about 100 bytes for a sample's or a metric value's key)."""


class Budget:
    """DuckDB's memory for one import: ``ASSAY_MAX_IMPORT_MEMORY`` for the rows it holds (it
    spills them to disk past it), plus what the tables' primary-key indexes hold, which DuckDB
    cannot spill (:meth:`before` makes room for them as they grow)."""

    def __init__(self, con) -> None:
        self.con = con
        self.base = limit("IMPORT_MEMORY")
        self.before(0)

    def before(self, keys: int) -> None:
        """Room for the indexes as they are now and for ``keys`` more keys."""
        held = self.con.execute(
            "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
            "WHERE tag = 'ART_INDEX'"
        ).fetchall()[0][0]
        room = self.base + int(held) + keys * INDEX_KEY_BYTES
        self.con.execute(f"SET memory_limit = '{max(room // 2**20, 1)}MiB'")


@contextmanager
def bounded(store: Store, path: str | Path) -> Iterator[tuple[Any, Budget]]:
    """``(con, budget)``: a transaction of ``store``, DuckDB's memory held to
    ``ASSAY_MAX_IMPORT_MEMORY`` besides its indexes (:class:`Budget`: it spills the rows it
    writes to disk; unbounded, it keeps a transaction's rows in memory until COMMIT). Past it,
    while writing or committing: one InputError naming the limit, and nothing is written."""
    try:
        with store.transaction() as con:
            yield con, Budget(con)
    except duckdb.OutOfMemoryException:
        raise InputError(limit_message(f"{path}: the import", "IMPORT_MEMORY")) from None
    except duckdb.TransactionException as exc:
        # past the limit while it writes a chunk out, DuckDB aborts the transaction without an
        # error of its own: the next statement is the first to fail; or COMMIT finds no room
        text = str(exc).lower()
        aborted = "transaction is aborted" in text
        if not (aborted or ("failed to commit" in text and "memory" in text)):
            raise
        raise InputError(limit_message(f"{path}: the import", "IMPORT_MEMORY")) from None


class _Keys:
    """Every sample key an import reads, with its label, in a temporary DuckDB table (on disk
    past the memory limit), to find a sample read twice once all are read."""

    def __init__(self, con) -> None:
        self.con = con
        self.count = 0
        con.execute(
            "CREATE TEMP TABLE _import_keys (run_id VARCHAR, doc_id VARCHAR, "
            '"repeat" BIGINT, label VARCHAR, ord BIGINT)'
        )

    def add(self, records: list[SampleRecord], labels: list[str]) -> None:
        frame = pd.DataFrame(
            {
                "run_id": [r.run_id for r in records],
                "doc_id": [r.doc_id for r in records],
                "repeat": np.array([r.repeat for r in records], dtype=np.int64),
                "label": labels,
                "ord": np.arange(self.count, self.count + len(records), dtype=np.int64),
            }
        )
        self.count += len(records)
        self.con.from_df(frame).query("_k", "INSERT INTO _import_keys SELECT * FROM _k")

    def first_twice(self, twice: Twice) -> str | None:
        """The error for the first sample (in reading order) read a second time, or None."""
        found = self.con.execute(
            'SELECT doc_id, "repeat", label, first FROM (SELECT *, row_number() OVER w AS k, '
            "first_value(label) OVER w AS first FROM _import_keys "
            'WINDOW w AS (PARTITION BY run_id, doc_id, "repeat" ORDER BY ord)) '
            "WHERE k = 2 ORDER BY ord LIMIT 1"
        ).fetchall()
        return twice(*found[0]) if found else None


def write_parts(
    store: Store,
    path: str | Path,
    source: str,
    parts: Iterable[Part],
    *,
    empty: Callable[[int], str],
    twice: Twice | None = None,
    steps: Steps | None = None,
) -> ImportSummary:
    """Write each part's samples as they are read, then its run, all in one transaction.

    A run id another source (or an eval) made is refused before its first sample is written;
    samples without a score, or that errored (None), are skipped and counted, and a run left
    without samples is not written. ``twice``: check that no (run, doc, repeat) is read twice.
    No sample at all: ``empty(errored)`` is the error; none scored: an error too. Any error
    rolls everything back.
    """
    models: dict[str, ModelInfo] = {}
    runs: list[RunInfo] = []
    read = written = errored = unscored = present = 0
    with bounded(store, path) as (con, budget):
        keys = _Keys(con) if twice is not None else None
        for part in parts:
            checked = False
            kept = 0
            for chunk in part.chunks:
                records = [r for r, _ in chunk if r is not None]
                errored += len(chunk) - len(records)
                read += len(records)
                if keys is not None and records:
                    keys.add(records, [label for r, label in chunk if r is not None])
                scored = [r for r in records if r.metrics]
                unscored += len(records) - len(scored)
                if not scored:
                    continue
                if not checked:  # before the run's first rows are written
                    check_runs(store, _owner(part.run, path), source, con=con)
                    checked = True
                frame = pd.DataFrame(
                    {
                        "run_id": [s.run_id for s in scored],
                        "doc_id": [s.doc_id for s in scored],
                        "repeat": [s.repeat for s in scored],
                    }
                )
                present += count_present(con, frame)
                budget.before(len(scored) + sum(len(s.metrics) for s in scored))
                store.write_samples(scored, con=con, keep_metrics=True)
                kept += len(scored)
            if kept:
                store.upsert_run(part.run, con=con)
                models[part.model.model] = part.model
                runs.append(part.run)
                written += kept
        error = keys.first_twice(twice) if keys is not None and twice is not None else None
        if error is not None:
            raise InputError(error)
        if not read:
            raise InputError(empty(errored))
        if not written:
            skipped = [
                f"{n} {why}" for n, why in ((errored, "errored"), (unscored, "without a score"))
            ]
            why = ", ".join(k for k in skipped if not k.startswith("0 "))
            raise InputError(f"{path}: no scored samples to import" + (f" ({why})" if why else ""))
        store.upsert_models(list(models.values()), con=con)
    if steps is not None:
        steps.written()
    return ImportSummary(
        source=str(path),
        runs=len({r.run_id for r in runs}),
        samples=written,
        models=sorted(models),
        tasks=sorted({r.task for r in runs}),
        errored=errored,
        unscored=unscored,
        present=present,
    )


def _owner(run: RunInfo, path: str | Path) -> pd.DataFrame:
    at = str((run.extra or {}).get("file", path))
    return pd.DataFrame(
        {"run_id": [run.run_id], "model": [run.model], "task": [run.task], "_at": [at]}
    )
