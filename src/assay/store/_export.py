"""``assay export``: every sample with its metrics, as files other tools read directly.

Exported samples are one row per sample with its metrics as ``metric.<name>`` columns,
partitioned Hive-style as ``model=<m>/task=<t>/data_0.<ext>`` (Spark, Ray, Polars and DuckDB
read the folder directly); the partition columns are also kept inside each file, so a single
file can be imported on its own. A Parquet export also writes the store's other tables beside
them, in the hidden folder ``.assay/`` as ``meta.pq``, ``models.pq``, ``runs.pq``, ``battles.pq``
and ``null_metrics.pq`` (the (sample, metric) pairs whose value is NULL, which the wide columns
cannot tell from a missing metric): with them the folder is a read-only store of its own
(``--store DIR``, ``assay.store._parquet``). Their names do not end in ``.parquet``, so a
``**/*.parquet`` glob over the folder reads the samples alone, as before.

An export never deletes what it did not write. It refuses a folder that is not empty unless
``overwrite``; then it replaces only the partition files a previous export listed in the
folder's ``.assay-export`` marker, and refuses to replace any other file. Files are written to a
hidden staging folder first and moved into place once all of them are complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import suppress
from pathlib import Path, PurePosixPath

import duckdb

from assay.errors import InputError

from ._battles import BATTLES_IN_ORDER
from ._schema import SAMPLE_COLUMNS
from ._store import Store

FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "json"}
MARKER = ".assay-export"
METRIC_PREFIX = "metric."
SIDECAR = ".assay"
"""The hidden folder of a Parquet export holding the store's tables other than the samples."""
SIDE_TABLES = ("meta", "models", "runs", "battles", "null_metrics")
SIDE_SUFFIX = ".pq"
_SIDE_QUERIES = {
    "meta": "SELECT key, value FROM meta ORDER BY key",
    "models": "SELECT * FROM models ORDER BY model",
    "runs": "SELECT * FROM runs ORDER BY run_id",
    "battles": BATTLES_IN_ORDER,
    "null_metrics": 'SELECT run_id, doc_id, "repeat", metric FROM sample_metrics '
    'SEMI JOIN samples USING (run_id, doc_id, "repeat") WHERE value IS NULL '
    'ORDER BY run_id, doc_id, "repeat", metric',
}


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_partition_file(rel: str) -> bool:
    """``model=<m>/task=<t>/<file>`` and ``.assay/<table>.pq``: the only paths an export
    writes (and may replace)."""
    parts = PurePosixPath(rel).parts
    if len(parts) == 2 and parts[0] == SIDECAR:
        return parts[1] in {t + SIDE_SUFFIX for t in SIDE_TABLES}
    return (
        len(parts) == 3
        and parts[0].startswith("model=")
        and parts[1].startswith("task=")
        and not any(p in ("", ".", "..") for p in parts)
        and not PurePosixPath(rel).is_absolute()
    )


def _previous_files(out: Path) -> set[str]:
    """Partition files listed by an earlier export's marker (nothing if it is absent or odd)."""
    marker = out / MARKER
    if not marker.is_file() or marker.is_symlink():
        return set()
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        files = data["files"] if isinstance(data, dict) else []
    except (OSError, ValueError, KeyError):
        return set()
    return {f for f in files if isinstance(f, str) and _is_partition_file(f)}


def _writable_folder(out: Path) -> None:
    """Raise unless ``out`` is, or can be created as, a writable folder."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file, not a folder: give a folder to export into")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{out}: cannot create the folder: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "folder is not writable" if existing == out else f"{existing} is not writable"
        raise InputError(f"{out}: cannot export there: {what}")


def _check_target(out: Path, overwrite: bool) -> set[str]:
    """Validate the export folder; returns the files a previous export wrote there."""
    _writable_folder(out)
    if not out.is_dir():
        return set()
    try:
        empty = next(out.iterdir(), None) is None
    except OSError as exc:
        raise InputError(f"{out}: cannot list the folder ({exc.strerror or exc})") from None
    if not empty and not overwrite:
        raise InputError(
            f"{out}: folder is not empty; pass --overwrite to replace the files of an earlier "
            "assay export there (every other file is kept)"
        )
    return _previous_files(out)


def _query(con: duckdb.DuckDBPyConnection) -> str:
    names = [
        r[0]
        for r in con.execute("SELECT DISTINCT metric FROM sample_metrics ORDER BY 1").fetchall()
    ]
    columns = [f"{METRIC_PREFIX}{n.replace(chr(34), '')}" for n in names]
    pivots = "".join(
        f', max(value) FILTER (WHERE metric = {_sql_string(n)}) AS "{c}"'
        for n, c in zip(names, columns, strict=True)
    )
    cols = ", ".join(f's."{c}"' for c in SAMPLE_COLUMNS)
    metric_cols = "".join(f', w."{c}"' for c in columns)
    return (
        f'WITH w AS (SELECT run_id, doc_id, "repeat"{pivots} FROM sample_metrics GROUP BY ALL) '
        f"SELECT {cols}{metric_cols} FROM samples s LEFT JOIN w "
        'USING (run_id, doc_id, "repeat") '
        'ORDER BY s.model, s.task, s.run_id, s.doc_id, s."repeat"'
    )


def _write_marker(out: Path, fmt: str, files: list[str]) -> None:
    tmp = out / f"{MARKER}.tmp"
    tmp.write_text(json.dumps({"assay_export": 1, "format": fmt, "files": files}, indent=1))
    os.replace(tmp, out / MARKER)


def _install(out: Path, staging: Path, written: list[str], previous: set[str], fmt: str) -> None:
    """Move the staged files into ``out``, replacing only files a previous export wrote."""
    for rel in written:
        target = out / rel
        for node in (out / PurePosixPath(rel).parts[0], target.parent):
            if node.exists() and not node.is_dir():
                raise InputError(f"{node}: is in the way of the export (not written by assay)")
        if (target.exists() or target.is_symlink()) and rel not in previous:
            raise InputError(
                f"{target}: already exists and was not written by an assay export; "
                "move it away or export to another folder"
            )
    # the marker first lists both, so an interrupted export leaves every file accounted for
    _write_marker(out, fmt, sorted(previous | set(written)))
    for rel in sorted(previous - set(written)):
        stale = out / rel
        if stale.is_file() and not stale.is_symlink():
            stale.unlink()
        for folder in (stale.parent, stale.parent.parent):
            if folder == out:
                break
            try:
                folder.rmdir()  # only if now empty
            except OSError:
                break
    for rel in written:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, target)
    _write_marker(out, fmt, written)


def _copy_tables(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """The store's tables other than the samples, one Parquet file each, into ``folder``."""
    folder.mkdir()
    for table in SIDE_TABLES:
        target = _sql_string(str(folder / f"{table}{SIDE_SUFFIX}"))
        con.execute(f"COPY ({_SIDE_QUERIES[table]}) TO {target} (FORMAT parquet)")


def export_samples(
    store: Store, directory: str | Path, *, fmt: str = "parquet", overwrite: bool = False
) -> int:
    """Write every sample with its metrics to ``directory``, partitioned by model and task.

    ``directory`` must be new or empty, or (with ``overwrite``) hold only files that are not
    in the way; see the module docstring. Returns the number of samples written.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = Path(directory)
    previous = _check_target(out, overwrite)
    with store.connect() as con:
        count = int(con.execute("SELECT count(*) FROM samples").fetchall()[0][0])
        created = not out.exists()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None
        tables = fmt == "parquet"  # the other tables: the folder is a store of its own
        if count == 0 and not tables:
            return 0
        staging = Path(tempfile.mkdtemp(prefix=".assay-export-", dir=out))
        try:
            options = (
                f"FORMAT {FORMATS[fmt]}, PARTITION_BY (model, task), WRITE_PARTITION_COLUMNS true"
            )
            if fmt == "csv":
                options += ", HEADER true"
            try:
                if count:
                    con.execute(f"COPY ({_query(con)}) TO {_sql_string(str(staging))} ({options})")
                if tables:
                    _copy_tables(con, staging / SIDECAR)
            except duckdb.IOException as exc:
                first = str(exc).strip().splitlines()[0]
                raise InputError(f"{out}: export failed: {first}") from None
            written = sorted(
                p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()
            )
            _install(out, staging, written, previous, fmt)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if created:
                with suppress(OSError):
                    out.rmdir()  # only if still empty
            raise
        shutil.rmtree(staging, ignore_errors=True)
    return count
