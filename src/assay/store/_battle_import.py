"""Battles written a chunk at a time in one transaction (``assay import battles``, ``assay rank
battles FILE``, :func:`assay.rank.store_battles`): memory holds a chunk, never the file.

Each chunk's votes get their answers' style features (the text itself is not kept), then, on a
second thread while the caller reads on, their content ids numbered after the earlier chunks'
(:class:`Occurrences`: the ids :func:`battle_ids` gives the whole file), and are written (DuckDB
works outside Python's lock). Nothing is committed until the caller's block ends without an
error: any failure, or a kill, leaves the store as it was.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from assay.core import style_json
from assay.errors import InputError

from ._battles import Occurrences, _hex_ids, _keys_at, _weights, chunk_parts, normalised
from ._import_runs import Budget, bounded
from ._store import Store

#: Votes written to the store at once (a chunk's rows are held until this many, or the end).
STORE_ROWS = 200_000


class BattleWriter:
    """Writes battles (names and winners are stored as :func:`normalised` makes them; the
    fields are checked already, as :func:`assay.rank.read_battles` checks them) chunk by chunk
    on ``con``, inside the caller's transaction. A store without battles before the import gets
    plain inserts; otherwise a vote stored already is upserted (:meth:`Store._insert_battles`).

    :meth:`add` only drops the answers' text (their style features are kept) and queues the
    chunk: a second thread gives its votes their ids and writes them, in order. At most
    ``ahead`` chunks wait (None: no bound); more let a caller with other work go on while the
    writes catch up (``assay rank battles FILE`` fits meanwhile). After a failed write the
    queued chunks are dropped and the error is raised by the next :meth:`add` or
    :meth:`finish`, which also refuses two votes of the import with one id."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str | None,
        budget: Budget | None = None,
        ahead: int | None = 1,
    ) -> None:
        self.con = con
        self.budget = budget  # battles have no index to make room for (Budget.before)
        self.source = source
        self.ahead = ahead
        self.seen = Occurrences()
        self.fresh = not con.execute("SELECT EXISTS (SELECT 1 FROM battles)").fetchall()[0][0]
        self.held: list[pd.DataFrame] = []
        self.rows = 0
        self.written = 0
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.queued: deque[Future] = deque()
        self.failed = self.finished = False
        self.keys: list[np.ndarray] = []  # the ids written, as numbers (:meth:`_unique`)

    def add(self, battles: pd.DataFrame) -> int:
        """Queue one chunk (a count table's rows stand for ``count`` votes each); returns its
        votes."""
        rows = style_json(battles)
        if self.source is not None:
            rows = rows.assign(source=self.source)
        total = int(_weights(rows).sum())
        self._submit(self._numbered, rows)
        self.written += total
        return total

    def _submit(self, work, *args) -> None:
        most = 1 << 62 if self.ahead is None else self.ahead
        while self.queued and (self.queued[0].done() or len(self.queued) > most):
            self.queued.popleft().result()  # a failed write raises here
        self.queued.append(self.pool.submit(self._guarded, work, *args))

    def _guarded(self, work, *args) -> None:
        if self.failed:  # an earlier write failed: nothing more is written
            return
        try:
            work(*args)
        except BaseException:
            self.failed = True
            raise

    def _numbered(self, rows: pd.DataFrame) -> None:
        """(the writing thread) The chunk's votes with their ids, written a store chunk
        (:data:`STORE_ROWS`) at a time."""
        hashes, counts, first = chunk_parts(rows, self.seen)
        total = int(counts.sum())
        plain = rows.drop(columns=["count"], errors="ignore")
        for start in range(0, total, STORE_ROWS):
            row, keys = _keys_at(hashes, counts, first, start, min(total, start + STORE_ROWS))
            self.keys.append(keys)
            ids = _hex_ids(keys, as_arrow=True)
            self.held.append(normalised(plain.iloc[row].assign(battle_id=ids)))
            self.rows += len(row)
            if self.rows >= STORE_ROWS:
                self._flush()

    def _flush(self) -> None:
        """(the writing thread) Write the chunks held."""
        if not self.held:
            return
        frame = pd.concat(self.held, ignore_index=True) if len(self.held) > 1 else self.held[0]
        self.held, self.rows = [], 0
        Store._insert_battles(self.con, frame, fresh=self.fresh)

    def _unique(self) -> None:
        """(the writing thread) Refuse two votes of this import with one id (different votes
        whose 64-bit ids collide): the table has no index to refuse them."""
        keys = np.sort(np.concatenate(self.keys)) if self.keys else np.empty(0, np.uint64)
        twice = np.flatnonzero(keys[1:] == keys[:-1])
        if len(twice):
            raise InputError(
                f"two different votes have the same battle id {_hex_ids(keys[twice[:1]])[0]} "
                "(a 64-bit hash collision); nothing was stored"
            )

    def finish(self) -> int:
        """Write what is held, wait for the writes and check the ids; returns the votes
        written."""
        if not self.finished:
            self._submit(self._flush)
            self._submit(self._unique)
        while self.queued:
            self.queued.popleft().result()
        self.finished = True
        return self.written

    def close(self) -> None:
        """Drop the chunks not begun and wait for a write under way (its error is the caller's
        to see through :meth:`finish`)."""
        self.failed = True
        self.pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def battle_writer(
    store: Store,
    *,
    source: str | None = None,
    path: str | Path | None = None,
    ahead: int | None = 1,
) -> Iterator[BattleWriter]:
    """A :class:`BattleWriter` (``ahead``: chunks queued at most) in one transaction of
    ``store``, committed when the block ends without an error (after the last write), else
    rolled back; DuckDB's memory held to ``ASSAY_MAX_IMPORT_MEMORY`` (past it: one line naming
    ``path``)."""
    with bounded(store, path or store.path) as (con, budget):
        writer = BattleWriter(con, source, budget, ahead)
        try:
            yield writer
            writer.finish()
        finally:
            writer.close()
