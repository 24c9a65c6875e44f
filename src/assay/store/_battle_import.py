"""Battles written a chunk at a time in one transaction (``assay import battles``, ``assay rank
battles FILE``, :func:`assay.rank.store_battles`): memory holds a chunk, never the file.

Each chunk's votes get their content ids numbered after the earlier chunks' (:class:`Occurrences`:
the ids :func:`battle_ids` gives the whole file), their answers' style features (the text itself
is not kept) and are written by a second thread while the caller reads the next chunk (DuckDB
works outside Python's lock). Nothing is committed until the caller's block ends without an
error: any failure, or a kill, leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from assay.core import style_json

from ._battles import Occurrences, _ids_at, chunk_parts, normalised
from ._import_runs import Budget, bounded
from ._store import Store

#: Votes written to the store at once (a chunk's rows are held until this many, or the end).
STORE_ROWS = 200_000


class BattleWriter:
    """Writes battles (names and winners are stored as :func:`normalised` makes them; the
    fields are checked already, as :func:`assay.rank.read_battles` checks them) chunk by chunk
    on ``con``, inside the caller's transaction. A store without battles before the import gets plain inserts; otherwise a vote
    stored already is upserted (:meth:`Store._insert_battles`)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: str | None, budget: Budget | None = None
    ) -> None:
        self.con = con
        self.budget = budget
        self.source = source
        self.seen = Occurrences()
        self.fresh = not con.execute("SELECT EXISTS (SELECT 1 FROM battles)").fetchall()[0][0]
        self.held: list[pd.DataFrame] = []
        self.rows = 0
        self.written = 0
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.writing: Future | None = None

    def add(self, battles: pd.DataFrame) -> int:
        """Add one chunk (a count table's rows stand for ``count`` votes each); returns its
        votes."""
        rows = style_json(battles)
        if self.source is not None:
            rows = rows.assign(source=self.source)
        hashes, counts, first = chunk_parts(rows, self.seen)
        total = int(counts.sum())
        plain = rows.drop(columns=["count"], errors="ignore")
        for start in range(0, total, STORE_ROWS):
            row, ids = _ids_at(hashes, counts, first, start, min(total, start + STORE_ROWS), True)
            self.held.append(normalised(plain.iloc[row].assign(battle_id=ids)))
            self.rows += len(row)
            if self.rows >= STORE_ROWS:
                self._flush()
        self.written += total
        return total

    def _flush(self) -> None:
        if not self.held:
            return
        frame = pd.concat(self.held, ignore_index=True) if len(self.held) > 1 else self.held[0]
        self.held, self.rows = [], 0
        self._wait()
        if self.budget is not None:  # room for the primary-key index the rows will add
            self.budget.before(len(frame))
        self.writing = self.pool.submit(Store._insert_battles, self.con, frame, fresh=self.fresh)

    def _wait(self) -> None:
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.result()

    def finish(self) -> int:
        """Write what is held and wait for the writes; returns the votes written."""
        self._flush()
        self._wait()
        return self.written

    def close(self) -> None:
        """Wait for a write under way (its error is the caller's to see through :meth:`finish`)."""
        if self.writing is not None:
            self.writing.exception()
        self.pool.shutdown()


@contextmanager
def battle_writer(
    store: Store, *, source: str | None = None, path: str | Path | None = None
) -> Iterator[BattleWriter]:
    """A :class:`BattleWriter` in one transaction of ``store``, committed when the block ends
    without an error (after the last write), else rolled back; DuckDB's memory held to
    ``ASSAY_MAX_IMPORT_MEMORY`` (past it: one line naming ``path``)."""
    with bounded(store, path or store.path) as (con, budget):
        writer = BattleWriter(con, source, budget)
        try:
            yield writer
            writer.finish()
        finally:
            writer.close()
