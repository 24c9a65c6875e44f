"""A store that is a folder of Parquet files: what ``assay export --format parquet`` writes.

``--store DIR`` (or ``$ASSAY_STORE``, or :func:`open_store`) on a folder — or an object-store
URL DuckDB reads (``s3://``, ``gs://``, ``https://``... with DuckDB's ``httpfs`` extension) —
opens a :class:`ParquetStore`: a small DuckDB database in a temporary folder whose tables are
views over the folder's files, with the names and column types of a store file, opened
read-only. Every read (``Store.evidence``, ``samples``, ``scores``, SQL typed by a user, an
export, a merge that takes the folder as an input) runs unchanged on it:

* ``samples``: ``model=*/task=*/*.parquet`` read with Hive partitioning (a filter on model or
  task skips the other folders; files with different columns are read by name), cast to the
  store's column types;
* ``sample_metrics`` and ``scores``: the ``metric.<name>`` columns unpivoted, one SELECT per
  metric column (a NULL cell is no metric; a query on one metric reads that column alone), plus
  the NULL-valued metrics the export listed in ``.assay/null_metrics.pq``;
* ``models``, ``runs``, ``battles``, ``meta``: the export's ``.assay/<table>.pq``. An export of
  an older assay has none: its runs and models are then the (run_id, model, task) and models of
  its samples, with no metadata, and it holds no battles.

Writing is refused with one line (:func:`read_only_line`): a Parquet folder is written by
``assay export`` and read by many; shards and machines write ``.duckdb`` stores and
``assay store merge`` unites them (it takes Parquet folders as inputs too).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import duckdb

from assay.errors import InputError, StoreMissing

from ._export import METRIC_PREFIX, SIDE_SUFFIX, SIDE_TABLES, SIDECAR
from ._file_checks import _first_line
from ._schema import (
    BATTLE_COLUMNS,
    METRIC_COLUMNS,
    MODEL_COLUMNS,
    RUN_COLUMNS,
    SAME_COLUMNS_SINCE,
    SAMPLE_COLUMNS,
    SCHEMA_VERSION,
)
from ._store import Store, default_store_path
from ._store import existing_store as _existing_file_store
from ._store import open_store as _open_file_store

__all__ = ["ParquetStore", "existing_store", "open_store", "parquet_location", "read_only_line"]

_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "azure", "abfss", "r2", "http", "https", "hf")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/+(.*)$")
_NEEDED = ("run_id", "model", "task", "doc_id", "repeat")
_IDENTITY = ("model", "task", "run_id", "doc_id", "repeat", "template_id", "cluster_id")
_IDENTITY += ("difficulty",)  # the columns of the scores view before metric, value


def parquet_location(path: str | os.PathLike[str]) -> str | None:
    """Where a Parquet store at ``path`` is read from (an absolute folder, or a URL with
    ``scheme://`` restored after ``pathlib`` folded it), or None when ``path`` is not one."""
    text = os.fspath(path)
    url = _URL.match(text)
    if url and url.group(1).lower() in _SCHEMES:
        return f"{url.group(1)}://{url.group(2)}"
    folder = Path(text)
    return str(folder.resolve()) if folder.is_dir() else None


def read_only_line(name: str) -> str:
    """The one-line refusal of a write to a Parquet store."""
    return (
        f"{name}: a folder of Parquet files is a read-only store: write to a .duckdb store "
        "(--store FILE.duckdb), then unite stores with `assay store merge` (it reads Parquet "
        "folders too) or write a folder with `assay export --format parquet`"
    )


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _kind(sql_type: str) -> str:
    return sql_type.split()[0]


def _casts(columns: dict[str, str], present) -> str:
    """``columns`` in order, cast to the store's types; NULL where the files lack one."""
    return ", ".join(
        f"CAST({_q(c) if c in present else 'NULL'} AS {_kind(t)}) AS {_q(c)}"
        for c, t in columns.items()
    )


def _empty(columns: dict[str, str]) -> str:
    return f"SELECT {_casts(columns, ())} WHERE false"


class _Layout:
    """What a Parquet store's folder holds, read once when it is opened, and its views."""

    def __init__(self, location: str, name: str) -> None:
        self.location = location.rstrip("/")
        self.name = name
        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            (self.files,) = con.execute("SELECT count(*) FROM glob(?)", [self.data_glob]).fetchone()
            tables = con.execute("SELECT file FROM glob(?)", [self.side(None)]).fetchall()
            found = {PurePosixPath(f).name for (f,) in tables}
            self.tables = {t for t in SIDE_TABLES if t + SIDE_SUFFIX in found}
            if not self.files and not self.tables:
                what = "holds" if "://" in location else "is a folder with"
                raise InputError(
                    f"{name}: {what} no model=<m>/task=<t>/*.parquet files, so it is neither a "
                    "store file nor a Parquet store (what `assay export --format parquet` writes)"
                )
            self.columns: dict[str, str] = {}
            self.uniform = True  # every file has the same columns: no union by name needed
            if self.files:
                self.uniform = self._uniform(con)
                described = con.execute(f"DESCRIBE SELECT * FROM {self.reader}").fetchall()
                self.columns = {row[0]: row[1] for row in described}
            self.meta = self._meta(con)
            self.has_null_metrics = "null_metrics" in self.tables and bool(
                con.execute(f"SELECT count(*) FROM {self.table('null_metrics')}").fetchall()[0][0]
            )
        except duckdb.Error as exc:
            raise InputError(f"{name}: cannot read the Parquet store: {_first_line(exc)}") from None
        finally:
            con.close()
        missing = [c for c in _NEEDED if c not in self.columns] if self.files else []
        if missing:
            raise InputError(
                f"{name}: not an assay Parquet store: its Parquet files have no column "
                f"{', '.join(missing)} (a folder written by `assay export --format parquet`)"
            )
        self.metrics = [c for c in self.columns if c.startswith(METRIC_PREFIX)]

    @property
    def data_glob(self) -> str:
        return f"{self.location}/model=*/task=*/*.parquet"

    @property
    def reader(self) -> str:
        return (
            f"read_parquet({_lit(self.data_glob)}, hive_partitioning = true, union_by_name = "
            f"{str(not self.uniform).lower()}, hive_types = {{'model': VARCHAR, 'task': VARCHAR}})"
        )

    def _uniform(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Whether all files have the same columns and types (what one export writes): then
        every query reads them without ``union_by_name``, which reads every file's footer."""
        (schemas,) = con.execute(
            "SELECT count(DISTINCT columns) FROM (SELECT file_name, string_agg(name || ':' || "
            "coalesce(type, '') || ':' || coalesce(logical_type, ''), chr(31) ORDER BY name) "
            "AS columns FROM parquet_schema(?) GROUP BY file_name)",
            [self.data_glob],
        ).fetchone()
        return schemas <= 1

    def side(self, table: str | None) -> str:
        return f"{self.location}/{SIDECAR}/{table or '*'}{SIDE_SUFFIX}"

    def table(self, table: str) -> str:
        return f"read_parquet({_lit(self.side(table))})"

    def _meta(self, con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
        rows = [("schema_version", str(SCHEMA_VERSION))]
        if "meta" in self.tables:
            rows = con.execute(f"SELECT key, value FROM {self.table('meta')}").fetchall()
        version = dict(rows).get("schema_version")
        if version is None or not str(version).strip().isdigit():
            raise InputError(f"{self.name}: not a usable Parquet store: no schema_version in meta")
        if int(version) > SCHEMA_VERSION:
            raise InputError(
                f"{self.name}: store schema version {version} is newer than this assay "
                f"({SCHEMA_VERSION}): upgrade assay"
            )
        if int(version) < SAME_COLUMNS_SINCE:
            raise InputError(
                f"{self.name}: store schema version {version}: export it again from its store"
            )
        return [(str(k), str(v)) for k, v in rows]

    # -- the views ---------------------------------------------------------------------
    def _samples(self) -> str:
        if not self.files:
            return _empty(SAMPLE_COLUMNS)
        return f"SELECT {_casts(SAMPLE_COLUMNS, self.columns)} FROM {self.reader}"

    def _unpivoted(self, keep: tuple[str, ...]) -> str:
        """(``keep`` columns, metric, value) for every non-NULL ``metric.<name>`` cell: one
        SELECT per metric column, so a query on some metrics reads only their columns (a
        filter on ``metric`` leaves the other SELECTs out) and one metric is a plain scan."""
        types = {**SAMPLE_COLUMNS, "metric": "VARCHAR", "value": "DOUBLE"}
        if not self.metrics:
            return _empty({c: types[c] for c in (*keep, "metric", "value")})
        ids = ", ".join(
            f"CAST({_q(c) if c in self.columns else 'NULL'} AS {_kind(types[c])}) AS {_q(c)}"
            for c in keep
        )
        return " UNION ALL ".join(
            f"SELECT {ids}, {_lit(m[len(METRIC_PREFIX) :])}::VARCHAR AS metric, "
            f"CAST({_q(m)} AS DOUBLE) AS value FROM {self.reader} WHERE {_q(m)} IS NOT NULL"
            for m in self.metrics
        )

    def _nulls(self, keep: tuple[str, ...]) -> str:
        """The NULL-valued metrics, with the sample's ``keep`` columns."""
        cols = ", ".join(f"s.{_q(c)}" for c in keep)
        return (
            f" UNION ALL SELECT {cols}, CAST(n.metric AS VARCHAR), CAST(NULL AS DOUBLE) "
            f"FROM samples s JOIN (SELECT CAST(run_id AS VARCHAR) AS run_id, CAST(doc_id AS "
            f'VARCHAR) AS doc_id, CAST("repeat" AS INTEGER) AS "repeat", metric FROM '
            f'{self.table("null_metrics")}) n USING (run_id, doc_id, "repeat")'
        )

    def _side_or(self, table: str, columns: dict[str, str], otherwise: str) -> str:
        if table in self.tables:
            return f"SELECT {_casts(columns, columns)} FROM {self.table(table)}"
        return otherwise

    def views(self) -> list[str]:
        """The DDL of the database standing for the folder."""
        keys = ("run_id", "doc_id", "repeat")
        nulls = self.has_null_metrics
        derived_runs = (
            "SELECT run_id, model, task, NULL AS task_version, any_value(template_id) AS "
            "template_id, NULL AS num_fewshot, NULL AS fewshot_seed, NULL AS settings, "
            "NULL AS source, min(created_at) AS created_at, NULL AS finished_at, NULL AS extra "
            "FROM samples GROUP BY run_id, model, task"
        )
        runs = f"SELECT {_casts(RUN_COLUMNS, RUN_COLUMNS)} FROM ({derived_runs})"
        models = (
            f"SELECT {_casts(MODEL_COLUMNS, ('model',))} FROM (SELECT DISTINCT model FROM samples)"
        )
        metric_cols = ", ".join(_q(c) for c in METRIC_COLUMNS)
        return [
            "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
            f"CREATE VIEW samples AS {self._samples()}",
            f"CREATE VIEW sample_metrics AS SELECT {metric_cols} FROM ({self._unpivoted(keys)}"
            + (self._nulls(keys) if nulls else "")
            + ")",
            f"CREATE VIEW scores AS {self._unpivoted(_IDENTITY)}"
            + (self._nulls(_IDENTITY) if nulls else ""),
            f"CREATE VIEW runs AS {self._side_or('runs', RUN_COLUMNS, runs)}",
            f"CREATE VIEW models AS {self._side_or('models', MODEL_COLUMNS, models)}",
            f"CREATE VIEW battles AS "
            f"{self._side_or('battles', BATTLE_COLUMNS, _empty(BATTLE_COLUMNS))}",
        ]


_lock = threading.Lock()
_databases: dict[tuple[str, ...], Path] = {}
_folder: list[Path] = []


def _database(layout: _Layout) -> Path:
    """A DuckDB file holding ``layout``'s views (one per distinct layout in a process; the
    temporary folder goes at exit)."""
    ddl = layout.views()
    key = (*ddl, *(f"{k}={v}" for k, v in layout.meta))
    with _lock:
        if key in _databases:
            return _databases[key]
        if not _folder:
            _folder.append(Path(tempfile.mkdtemp(prefix="assay-parquet-")))
            atexit.register(shutil.rmtree, _folder[0], True)
        path = _folder[0] / f"views-{len(_databases)}.duckdb"
        con = duckdb.connect(str(path))
        try:
            con.execute("BEGIN TRANSACTION")
            for statement in ddl:
                con.execute(statement)
            con.executemany("INSERT INTO meta VALUES (?, ?)", layout.meta)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            raise InputError(
                f"{layout.name}: cannot read the Parquet store: {_first_line(exc)}"
            ) from None
        finally:
            con.close()
        _databases[key] = path
        return path


class ParquetStore(Store):
    """A read-only store over a folder (or URL) of Parquet files; see the module docstring.
    ``database``: the DuckDB file of views standing for it (what ``store merge`` attaches)."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = True) -> None:
        location = parquet_location(path)
        if location is None:
            raise StoreMissing(f"no Parquet store at {os.fspath(path)}")
        self.path = Path(path)
        self.location = location
        self.read_only = True
        self._checked = True
        self.database = _database(_Layout(location, self._name))
        self.schema_version = SCHEMA_VERSION

    @property
    def _name(self) -> str:
        return self.location if "://" in self.location else str(self.path)

    def __repr__(self) -> str:
        return f"ParquetStore({self._name!r})"

    @contextmanager
    def connect(self, read_only: bool | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the views; asking for a writable one is refused."""
        if read_only is False:
            raise InputError(read_only_line(self._name))
        con = duckdb.connect(str(self.database), read_only=True)
        con.execute("SET enable_progress_bar = false")
        try:
            yield con
        except duckdb.Error as exc:
            text = _first_line(exc)
            if "read-only mode" in text:
                raise InputError(read_only_line(self._name)) from None
            if isinstance(exc, duckdb.IOException | duckdb.HTTPException):
                raise InputError(f"{self._name}: cannot read the Parquet store: {text}") from None
            raise
        finally:
            con.close()

    def transaction(self):  # noqa: D102 - every write comes here: refused
        raise InputError(read_only_line(self._name))


def open_store(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    for_writing: bool = False,
) -> Store:
    """The store at ``path`` (``$ASSAY_STORE``, else ``./assay.duckdb``): a DuckDB file (created
    if needed), or a folder or URL of Parquet files (:class:`ParquetStore`, read-only;
    ``for_writing`` refuses it at once, in one line, before any work)."""
    resolved = path if path is not None else default_store_path()
    if parquet_location(resolved) is not None:
        if for_writing:
            raise InputError(read_only_line(os.fspath(resolved)))
        return ParquetStore(resolved)
    return _open_file_store(resolved, read_only=read_only)


def existing_store(
    path: str | os.PathLike[str] | None = None, *, read_only: bool = False, hint: str = ""
) -> Store:
    """As :func:`assay.store._store.existing_store` (a missing store is one
    :class:`StoreMissing` line, nothing is created), and a Parquet folder or URL opens as a
    :class:`ParquetStore`."""
    resolved = path if path is not None else default_store_path()
    if parquet_location(resolved) is not None:
        return ParquetStore(resolved)
    return _existing_file_store(resolved, read_only=read_only, hint=hint)
