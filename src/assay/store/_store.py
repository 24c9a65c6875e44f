"""The result store: one DuckDB file holding models, runs, samples, metrics and battles.

Connections are short-lived: every call opens the file, does its work in one transaction and
closes it, so a second process (a reader, or ``assay compare`` while ``assay eval`` runs) can
get in between batches. Opening retries while another process holds DuckDB's file lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from assay.core import style_json
from assay.errors import InputError, StoreMissing

from . import _file_checks
from ._battles import BATTLES_IN_ORDER, migrate_battle_ids, next_vote_id, normalised
from ._evidence import Evidence, read_evidence
from ._file_checks import _FILE_FAULTS, _describe, _first_line, _is_lock_error, check_store_file
from ._integrity import damaged
from ._records import Battle, ModelInfo, RunInfo, SampleRecord
from ._schema import (
    METRIC_COLUMNS,
    MODEL_COLUMNS,
    RUN_COLUMNS,
    SAMPLE_COLUMNS,
    SCHEMA_VERSION,
    ensure_schema,
    read_schema_version,
)
from ._writes import _as_rows, _conform, _registered, insert_battles

DEFAULT_STORE = "assay.duckdb"
_LOCK_WAIT_S = 60.0
#: One :meth:`Store.add_vote` at a time in this process (its threads share the database, and
#: the battles' ids are unique without an index: the check and the insert go together).
_VOTES = threading.Lock()

#: A sample stored again (same run, document, repeat) takes the new values, but keeps the
#: earlier ``created_at``: a re-import of the same file stamped every stored row anew.
_REPLACING = ' ON CONFLICT (run_id, doc_id, "repeat") DO UPDATE SET ' + ", ".join(
    [
        f'"{c}" = excluded."{c}"'
        for c in SAMPLE_COLUMNS
        if c not in ("run_id", "doc_id", "repeat", "created_at")
    ]
    + ["created_at = least(samples.created_at, excluded.created_at)"]
)


def default_store_path() -> Path:
    """``$ASSAY_STORE`` if set, else ``./assay.duckdb``."""
    return Path(os.environ.get("ASSAY_STORE") or DEFAULT_STORE)


class Store:
    """A DuckDB results store. Use :func:`open_store` to get one."""

    _held: tuple[duckdb.DuckDBPyConnection, bool] | None = None  # a :meth:`session`'s, and ro

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.path = Path(path) if path is not None else default_store_path()
        self.read_only = read_only
        self._checked = False
        if read_only:
            if not self.path.exists():
                raise StoreMissing(f"no store at {self.path}")
            with self.connect() as con:
                version = read_schema_version(con, str(self.path))
            if version is None:
                raise InputError(f"{self.path}: an empty DuckDB database, not an assay store")
            self.schema_version = version  # an older one is read as it is, not migrated
        else:
            check_store_file(self.path)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(
                    f"{self.path}: cannot create the store's folder ({exc.strerror or exc})"
                ) from None
            with self.connect() as con:
                if _file_checks.opening_writes(con, str(self.path)):
                    self._check_blocks()  # a write follows: every block checked first
                self.schema_version = ensure_schema(con, str(self.path))
                migrate_battle_ids(con, self._insert_battles)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- connections -----------------------------------------------------------------------
    @contextmanager
    def connect(self, read_only: bool | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the file, retrying for up to a minute while another process holds it.

        A file that cannot be opened, or turns out damaged while in use, is an
        :class:`InputError` naming it (DuckDB never gets to write into a file that is not one).
        """
        ro = self.read_only if read_only is None else read_only
        if self._held is not None and self._held[1] == bool(ro):
            if read_only is False and not self._checked:
                self._check_blocks()
            yield self._held[0]  # inside a session: its connection, closed when it ends
            return
        check_store_file(self.path)
        deadline = time.monotonic() + _LOCK_WAIT_S
        delay = 0.01
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=ro)
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    raise InputError(f"{self.path}: {_describe(exc)}") from None
                if time.monotonic() > deadline:
                    raise InputError(
                        f"{self.path}: still locked by another process after "
                        f"{_LOCK_WAIT_S:.0f} s: {_first_line(exc)}"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        if not self._checked:  # while our connection keeps writers out
            self._check_blocks(reading=read_only is not False, con=con)
        con.execute("SET enable_progress_bar = false")  # DuckDB's bar would break --json
        try:
            yield con
        except duckdb.Error as exc:
            if any(fault in str(exc).lower() for fault in _FILE_FAULTS):
                raise InputError(f"{self.path}: {_describe(exc)}") from None
            raise
        finally:
            con.close()

    def _check_blocks(self, *, reading: bool = False, con=None) -> None:
        """Refuse a damaged file (``con`` closed then): a large one only before a write (a store
        created or migrated, ``read_only=False``); reads leave it to DuckDB's block checks."""
        problem = damaged(self.path, reading=reading)
        if problem:
            if con is not None:
                con.close()
            raise InputError(f"{self.path}: the store file is damaged: {problem}")
        self._checked = not reading

    def discard_if_empty(self) -> bool:
        """Remove this store's file (and its WAL) when it holds no model, run, sample, metric
        value or battle: the store a failed command created. True when removed. Our connection
        keeps other processes out until the file is gone."""
        tables = ("models", "runs", "samples", "sample_metrics", "battles")
        rows = " + ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        with self.connect(read_only=False) as con:
            if con.execute(f"SELECT {rows}").fetchall()[0][0]:
                return False
            for path in (self.path, self.path.with_name(self.path.name + ".wal")):
                path.unlink(missing_ok=True)
        return True

    @contextmanager
    def session(self) -> Iterator[Store]:
        """This store with one connection for every read inside (``connect`` gives it and
        leaves it open): a command's reads open the file once."""
        if self._held is not None:
            yield self
            return
        with self.connect() as con:
            self._held = (con, bool(self.read_only))
            try:
                yield self
            finally:
                self._held = None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside BEGIN ... COMMIT; any exception rolls everything back."""
        with self.connect(read_only=False) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def sql(
        self, query: str, params: Sequence[Any] | None = None, *, read_only: bool | None = None
    ) -> pd.DataFrame:
        """Run any SQL against the store and return a DataFrame (``read_only=True``: a
        connection that cannot write, for SQL typed by a user)."""
        with self.connect(read_only) as con:
            return con.execute(query, params or []).df()

    # -- writes ----------------------------------------------------------------------------
    def _in_transaction(self, con, write: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Run ``write`` on ``con`` (the caller's transaction) or in a transaction of its own."""
        if con is not None:
            write(con)
            return
        with self.transaction() as tx:
            write(tx)

    def write_samples(
        self,
        records: Iterable[SampleRecord | dict[str, Any]] | pd.DataFrame,
        *,
        con: duckdb.DuckDBPyConnection | None = None,
        keep_metrics: bool = False,
    ) -> int:
        """Insert or replace samples keyed by (run_id, doc_id, repeat), in one transaction (``con``
        joins a larger one). ``metrics``, a dict per record, replace a sample's stored metrics
        (``keep_metrics``: are merged into them, as imports do)."""
        df = _as_rows(records)
        if df.empty:
            return 0
        df["doc_id"] = df["doc_id"].astype(str)
        df["repeat"] = df["repeat"].fillna(0).astype("int64") if "repeat" in df else 0
        df = df.drop_duplicates(["run_id", "doc_id", "repeat"], keep="last")
        if "created_at" not in df:
            df["created_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
        samples = _conform(df, SAMPLE_COLUMNS)
        return self.write_sample_tables(samples, self._metric_rows(df), con=con, keep=keep_metrics)

    def write_sample_tables(
        self, samples: Any, metrics: Any, *, con=None, keep=False, replace: bool | None = None
    ) -> int:
        """:meth:`write_samples` of ready tables (DataFrames or Arrow tables): ``samples`` with
        (some of) the samples columns, each key once; ``metrics`` one row per (sample, metric).
        ``keep``: the metrics are merged into the stored ones (else they replace them);
        ``replace=False``: the caller knows none of these samples is stored (plain inserts)."""

        def write(c: duckdb.DuckDBPyConnection) -> None:
            with _registered(c, samples, SAMPLE_COLUMNS) as (new, run):
                runs = f"SELECT DISTINCT run_id FROM ({new})"
                stored = (
                    replace is not False
                    and run(  # none: plain inserts
                        f"SELECT (SELECT count(*) FROM samples WHERE run_id IN ({runs})) + "
                        f"(SELECT count(*) FROM sample_metrics WHERE run_id IN ({runs}))"
                    ).fetchall()[0][0]
                )
                run(f"INSERT INTO samples {new}{_REPLACING if stored else ''}")
                if stored and not keep:
                    run(
                        'DELETE FROM sample_metrics WHERE (run_id, doc_id, "repeat") IN '
                        f'(SELECT run_id, doc_id, "repeat" FROM ({new}))'
                    )
            if len(metrics):
                with _registered(c, metrics, METRIC_COLUMNS) as (new, run):
                    merge = "OR REPLACE " if stored and keep else ""
                    run(f"INSERT {merge}INTO sample_metrics {new}")

        self._in_transaction(con, write)
        return len(samples)

    @staticmethod
    def _metric_rows(df: pd.DataFrame) -> pd.DataFrame:
        keys = df[["run_id", "doc_id", "repeat"]].reset_index(drop=True)
        if "metrics" not in df:
            return pd.DataFrame(columns=list(METRIC_COLUMNS))
        dicts = df["metrics"].reset_index(drop=True)
        lengths = dicts.map(lambda d: len(d) if isinstance(d, dict) else 0).to_numpy()
        idx = np.repeat(np.arange(len(keys)), lengths)
        names = [k for d in dicts if isinstance(d, dict) for k in d]
        values = [v for d in dicts if isinstance(d, dict) for v in d.values()]
        out = keys.iloc[idx].reset_index(drop=True)
        out["metric"] = pd.Series(names, dtype=object)
        out["value"] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)
        return out

    def upsert_run(self, run: RunInfo | dict[str, Any] | list, *, con=None) -> None:
        """Insert a run row (or a list of them), or update its settings, source and extra."""
        df = _as_rows(run if isinstance(run, list) else [run])
        df["created_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
        rows = _conform(df, RUN_COLUMNS)

        def write(c: duckdb.DuckDBPyConnection) -> None:
            with _registered(c, rows, RUN_COLUMNS) as (new, run):
                run(
                    f"INSERT INTO runs {new} ON CONFLICT (run_id) DO UPDATE SET "
                    "settings = excluded.settings, extra = excluded.extra, source = excluded.source"
                )

        self._in_transaction(con, write)

    def finish_run(self, run_id: str, *, con=None) -> None:
        """Stamp a run's ``finished_at``."""
        self._in_transaction(
            con,
            lambda c: c.execute(
                "UPDATE runs SET finished_at = now()::TIMESTAMP WHERE run_id = ?", [run_id]
            ),
        )

    def upsert_models(
        self, models: Iterable[ModelInfo | dict[str, Any]] | pd.DataFrame, *, con=None
    ) -> int:
        """Insert models or update the metadata fields given (non-null values win)."""
        df = _as_rows(models)
        if df.empty:
            return 0
        rows = _conform(df.drop_duplicates("model", keep="last"), MODEL_COLUMNS)
        sets = ", ".join(
            f'"{c}" = coalesce(excluded."{c}", models."{c}")' for c in MODEL_COLUMNS if c != "model"
        )

        def write(c: duckdb.DuckDBPyConnection) -> None:
            with _registered(c, rows, MODEL_COLUMNS) as (new, run):
                run(f"INSERT INTO models {new} ON CONFLICT (model) DO UPDATE SET {sets}")

        self._in_transaction(con, write)
        return len(rows)

    def add_battles(
        self, battles: Iterable[Battle | dict[str, Any]] | pd.DataFrame, *, con=None
    ) -> int:
        """Store battles; a row without a ``battle_id`` gets its content id
        (:func:`assay.store.battle_ids`: identical votes of one call are occurrences 0, 1, ...,
        so re-adding them is a no-op). A vote stored already keeps its time and source.
        ``style_a`` / ``style_b`` (dicts feature -> value) or ``answer_a`` / ``answer_b`` (the
        answers' text) become the stored style features (:func:`assay.core.style_json`)."""
        df = _as_rows(battles)
        if df.empty:
            return 0
        rows = normalised(style_json(df)).drop_duplicates("battle_id", keep="last")
        self._in_transaction(con, lambda c: self._insert_battles(c, rows))
        return len(rows)

    def add_vote(self, vote: dict[str, Any], *, again: bool = False) -> tuple[str, bool]:
        """Store one vote under its content id, in one transaction; returns (id, stored).
        ``again=False``: a vote stored already is not stored twice (stored False);
        ``again=True``: a new vote, the next occurrence of identical ones."""
        with _VOTES, self.transaction() as con:
            vid, new = next_vote_id(con, vote, again=again)
            if new:
                row = style_json(pd.DataFrame([{**vote, "battle_id": vid}]))
                self._insert_battles(con, normalised(row))
        return vid, new

    @staticmethod
    def _insert_battles(
        con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, *, fresh: bool = False
    ) -> None:
        """:func:`insert_battles` (kept here: the writers and the id migration call it)."""
        insert_battles(con, rows, fresh=fresh)

    # -- reads -----------------------------------------------------------------------------
    @staticmethod
    def _where(**filters: Any) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in filters.items():
            if value is None:
                continue
            if isinstance(value, str | int | float):
                value = [value]
            value = list(value)
            clauses.append(f'"{column}" IN ({", ".join("?" * len(value))})')
            params.extend(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def samples(
        self,
        model: str | Sequence[str] | None = None,
        task: str | Sequence[str] | None = None,
        run_id: str | Sequence[str] | None = None,
        *,
        with_metrics: bool = True,
        doc_id: Sequence[str] | None = None,
        docs: Sequence[tuple[str, str]] | None = None,
    ) -> pd.DataFrame:
        """Per-sample rows; with ``with_metrics`` one ``metric.<name>`` column per metric.
        ``doc_id`` / ``docs``: only these documents / (task, doc_id) pairs."""
        where, params = self._where(model=model, task=task, run_id=run_id, doc_id=doc_id)
        with self.connect() as con:
            if docs is not None:
                con.execute(
                    "CREATE TEMP TABLE _docs AS SELECT unnest(?::VARCHAR[]) AS task, "
                    "unnest(?::VARCHAR[]) AS doc_id",
                    [[t for t, _ in docs], [d for _, d in docs]],
                )
                where += (" AND " if where else " WHERE ") + (
                    "EXISTS (SELECT 1 FROM _docs d WHERE d.task = samples.task "
                    "AND d.doc_id = samples.doc_id)"
                )
            df = con.execute(
                f'SELECT * FROM samples{where} ORDER BY model, task, run_id, doc_id, "repeat"',
                params,
            ).df()
            if not with_metrics or df.empty:
                return df
            metrics = con.execute(
                'SELECT m.* FROM sample_metrics m SEMI JOIN (SELECT run_id, doc_id, "repeat" '
                f'FROM samples{where}) s USING (run_id, doc_id, "repeat")',
                params,
            ).df()
        if metrics.empty:
            return df
        wide = metrics.pivot_table(
            index=["run_id", "doc_id", "repeat"], columns="metric", values="value", aggfunc="first"
        )
        wide.columns = [f"metric.{c}" for c in wide.columns]
        return df.merge(wide.reset_index(), on=["run_id", "doc_id", "repeat"], how="left")

    def scores(
        self,
        model: str | Sequence[str] | None = None,
        task: str | Sequence[str] | None = None,
        metric: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Tidy long rows: model, task, run_id, doc_id, repeat, template_id, cluster_id,
        difficulty, metric, value — the input of ``assay.stats`` and ``assay.rank``."""
        where, params = self._where(model=model, task=task, metric=metric)
        return self.sql(
            f'SELECT * FROM scores{where} ORDER BY model, task, metric, doc_id, "repeat"', params
        )

    def evidence(self, **filters: str | Sequence[str] | None) -> Evidence:
        """The one read every analysis starts from: scores, metric definitions, provenance."""
        return read_evidence(self, **filters)

    def analysis_scores(self, **filters: str | Sequence[str] | None) -> pd.DataFrame:
        return self.evidence(**filters).scores  # the scores of the one read, evidence()

    def models(self) -> pd.DataFrame:
        return self.sql("SELECT * FROM models ORDER BY model")

    def runs(self, model: str | None = None, task: str | None = None) -> pd.DataFrame:
        where, params = self._where(model=model, task=task)
        return self.sql(f"SELECT * FROM runs{where} ORDER BY created_at, run_id", params)

    def battles(self) -> pd.DataFrame:
        return self.sql(BATTLES_IN_ORDER)

    def completed_keys(self, run_id: str) -> set[tuple[str, int]]:
        """(doc_id, repeat) pairs stored for a run, not errored: what a resumed run skips."""
        with self.connect() as con:
            ok = "json_extract_string(extra, '$.error') IS NULL"
            sql = f'SELECT doc_id, "repeat" FROM samples WHERE run_id = ? AND {ok}'
            rows = con.execute(sql, [run_id]).fetchall()
        return {(d, int(r)) for d, r in rows}

    def info(self) -> dict[str, Any]:
        """What is in the store: counts, and one row per (model, task) with samples and metrics."""
        with self.connect() as con:
            counts = {
                table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                for table in ("models", "runs", "samples", "sample_metrics", "battles")
            }
            # linear: per-(model, task) counts, and the metrics of the runs behind each pair,
            # each one grouped scan (a correlated subquery per pair took minutes on 10^7 rows)
            per = con.execute(
                """WITH per_run AS (SELECT model, task, run_id, count(*) AS n
                                     FROM samples GROUP BY model, task, run_id),
                        named AS (SELECT DISTINCT run_id, metric FROM sample_metrics),
                        pairs AS (SELECT model, task, count(*) AS runs,
                                         sum(n)::BIGINT AS samples
                                    FROM per_run GROUP BY model, task),
                        metrics AS (SELECT p.model, p.task,
                                           string_agg(DISTINCT n.metric, ',' ORDER BY n.metric)
                                             AS metrics
                                      FROM per_run p JOIN named n USING (run_id)
                                     GROUP BY p.model, p.task)
                   SELECT p.model, p.task, p.runs, p.samples, m.metrics
                     FROM pairs p LEFT JOIN metrics m USING (model, task)
                    ORDER BY p.model, p.task"""
            )
            names = [column[0] for column in per.description]
            tasks = [dict(zip(names, row, strict=True)) for row in per.fetchall()]
        return {
            "path": str(self.path),
            "schema_version": SCHEMA_VERSION,
            "counts": counts,
            "tasks": tasks,
        }


def open_store(path: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> Store:
    """Open (creating if needed) the store at ``path``, ``$ASSAY_STORE`` or ``./assay.duckdb``."""
    return Store(path, read_only=read_only)


def existing_store(
    path: str | os.PathLike[str] | None = None, *, read_only: bool = False, hint: str = ""
) -> Store:
    """The store at ``path`` (default as :func:`open_store`) that must already exist: a missing
    file is one :class:`~assay.errors.StoreMissing` line, and nothing is created.

    ``hint`` adds a way out to the message (the CLI: ``", or pass --store"``)."""
    resolved = Path(path) if path is not None else default_store_path()
    if not resolved.exists():
        raise StoreMissing(
            f"no store at {resolved} (run `assay eval` or `assay import` first{hint})"
        )
    return Store(resolved, read_only=read_only)
