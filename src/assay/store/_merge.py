"""``assay store merge``: many stores (shards of one run, machines, labs) into one file.

The output is built in a temporary file next to it (a copy of the existing output, if any) in
one transaction and renamed over it at the end, so a failure or a crash leaves the output as it
was (or absent). The inputs are attached read-only. Rows are united by their keys:

* samples by ``(run_id, doc_id, repeat)``: a key stored already is kept, and must agree with the
  incoming row on every recorded value (prompt, target, prediction, log-probabilities, tokens,
  metric values...; timing and provenance, ``latency_s``, ``created_at`` and ``extra``, are not
  compared): a disagreement is one line naming the sample and nothing is written. An errored
  sample (no usable reply) gives way to a scored one. Metrics one copy lacks are added.
* runs by ``run_id`` (shards of one run have the whole run's id, so they become one run): the
  first non-null value of each field; finished when every copy is; a run id naming another
  model or task is a conflict.
* models by name: the first non-null value of each field (family, params, tokens, release date...).
* battles by ``battle_id`` (:func:`assay.store.battle_id`: one vote, one id, whoever wrote it).

An input may be a folder of Parquet files an export wrote (``assay.store._parquet``: shards on
shared storage): its database of views over the files is attached like a store file.

Merging a store again adds nothing. "First" is the existing output, then the inputs in order.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from assay.errors import InputError, StoreMissing

from ._battles import ASSAY_ID, MIGRATION_KEY, MIGRATION_VALUE, merged_battles, upsert
from ._parquet import ParquetStore, parquet_location
from ._schema import BATTLE_COLUMNS, METRIC_COLUMNS, MODEL_COLUMNS, RUN_COLUMNS, SAMPLE_COLUMNS
from ._store import Store
from ._writes import _conform, _registered

__all__ = ["merge_stores"]

KEY = ("run_id", "doc_id", "repeat")
UNCOMPARED = ("latency_s", "created_at", "extra")
"""Sample fields that record when and how fast, not what: kept from the first copy."""
COMPARED = tuple(c for c in SAMPLE_COLUMNS if c not in (*KEY, *UNCOMPARED))
TABLES = ("models", "runs", "samples", "sample_metrics", "battles")


def _q(name: str) -> str:
    return f'"{name}"'


def _cols(columns: dict[str, str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{_q(c)}" for c in columns)


def _errored(alias: str) -> str:
    return f"(json_extract_string({alias}.extra, '$.error') IS NOT NULL)"


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM main.{t}").fetchall()[0][0] for t in TABLES}


def _check_input(path: Path, attach: dict[Path, Any]) -> Path:
    """``path`` as an existing assay store of this schema (opened read-only), else one line.
    A Parquet folder (or URL) goes in ``attach``: its view database is what is attached."""
    if parquet_location(path) is not None:
        store = ParquetStore(path)  # refuses folders that hold no export
        attach[Path(store.location)] = store  # kept open (alive) until the merge ends
        return Path(store.location)
    if not path.exists():
        raise StoreMissing(f"store merge: no store at {path}")
    Store(path, read_only=True)  # refuses non-stores, damaged or newer files
    return path.resolve()


def _conflict_line(path: Path, other: str, key: tuple, what: str) -> str:
    run_id, doc_id, repeat = key
    return (
        f"store merge: {path} and {other} disagree about the sample of run {run_id}, "
        f"doc {doc_id!r}, repeat {repeat} ({what}); nothing written"
    )


class _Merger:
    """Merges attached stores into the connection's main database, one source at a time."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        sources: list[tuple[str, Path]],
        output: str,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.progress = progress  # (stores merged, stores)
        self.con = con
        self.sources = sources  # (alias, path) of the attached inputs
        self.output = output  # what holds a sample no earlier input has
        self.done: list[tuple[str, Path]] = []

    def holder(self, key: tuple) -> str:
        """The earlier source whose copy of the sample was kept (for the conflict line)."""
        for alias, path in self.done:
            found = self.con.execute(
                f'SELECT 1 FROM {alias}.samples WHERE run_id = ? AND doc_id = ? AND "repeat" = ?',
                list(key),
            ).fetchall()
            if found:
                return str(path)
        return self.output

    def check(self, alias: str, path: Path) -> None:
        """One-line InputError when ``alias`` disagrees with what is merged so far."""
        con = self.con
        run = con.execute(
            f"SELECT n.run_id, n.model, n.task, o.model, o.task FROM {alias}.runs n "
            "JOIN main.runs o USING (run_id) WHERE o.model IS DISTINCT FROM n.model "
            "OR o.task IS DISTINCT FROM n.task LIMIT 1"
        ).fetchall()
        if run:
            run_id, model, task, old_model, old_task = run[0]
            raise InputError(
                f"store merge: {path} has run {run_id} for {model!r} on {task!r}, but it is "
                f"{old_model!r} on {old_task!r} in what is merged so far; nothing written"
            )
        which = " ".join(
            f"WHEN o.{_q(c)} IS DISTINCT FROM n.{_q(c)} THEN '{c} differs'" for c in COMPARED
        )
        differs = " OR ".join(f"o.{_q(c)} IS DISTINCT FROM n.{_q(c)}" for c in COMPARED)
        row = con.execute(
            f'SELECT n.run_id, n.doc_id, n."repeat", CASE {which} END FROM {alias}.samples n '
            f'JOIN main.samples o USING (run_id, doc_id, "repeat") '
            f"WHERE NOT {_errored('o')} AND NOT {_errored('n')} AND ({differs}) "
            'ORDER BY n.run_id, n.doc_id, n."repeat" LIMIT 1'
        ).fetchall()
        if not row:
            row = con.execute(
                f"SELECT n.run_id, n.doc_id, n.\"repeat\", 'metric ' || n.metric || ' is ' || "
                f"coalesce(CAST(n.value AS VARCHAR), 'NULL') || ' here, ' || "
                f"coalesce(CAST(o.value AS VARCHAR), 'NULL') || ' there' "
                f"FROM {alias}.sample_metrics n "
                'JOIN main.sample_metrics o USING (run_id, doc_id, "repeat", metric) '
                "WHERE o.value IS DISTINCT FROM n.value "
                'ORDER BY n.run_id, n.doc_id, n."repeat", n.metric LIMIT 1'
            ).fetchall()
        if row:
            key = tuple(row[0][:3])
            raise InputError(_conflict_line(path, self.holder(key), key, row[0][3]))

    def add(self, alias: str) -> None:
        """Insert what ``alias`` has and the output lacks (after :meth:`check`)."""
        con = self.con
        keep = ", ".join(
            f"{_q(c)} = coalesce(models.{_q(c)}, excluded.{_q(c)})"
            for c in MODEL_COLUMNS
            if c != "model"
        )
        con.execute(
            f"INSERT INTO main.models SELECT {_cols(MODEL_COLUMNS)} FROM {alias}.models "
            f"ON CONFLICT (model) DO UPDATE SET {keep}"
        )
        fields = [c for c in RUN_COLUMNS if c not in ("run_id", "created_at", "finished_at")]
        keep = ", ".join(f"{_q(c)} = coalesce(runs.{_q(c)}, excluded.{_q(c)})" for c in fields)
        con.execute(
            f"INSERT INTO main.runs SELECT {_cols(RUN_COLUMNS)} FROM {alias}.runs "
            f"ON CONFLICT (run_id) DO UPDATE SET {keep}, "
            "created_at = least(runs.created_at, excluded.created_at), "
            "finished_at = CASE WHEN runs.finished_at IS NULL OR excluded.finished_at IS NULL "
            "THEN NULL ELSE greatest(runs.finished_at, excluded.finished_at) END"
        )
        # scored copies replace errored ones (the key is stored: INSERT OR REPLACE)
        con.execute(
            f"INSERT OR REPLACE INTO main.samples SELECT {_cols(SAMPLE_COLUMNS, 'n.')} "
            f'FROM {alias}.samples n JOIN main.samples o USING (run_id, doc_id, "repeat") '
            f"WHERE {_errored('o')} AND NOT {_errored('n')}"
        )
        con.execute(
            f"INSERT INTO main.samples SELECT {_cols(SAMPLE_COLUMNS, 'n.')} "
            f'FROM {alias}.samples n ANTI JOIN main.samples o USING (run_id, doc_id, "repeat")'
        )
        con.execute(
            f"INSERT INTO main.sample_metrics SELECT {_cols(METRIC_COLUMNS, 'n.')} "
            f"FROM {alias}.sample_metrics n "
            'SEMI JOIN main.samples s USING (run_id, doc_id, "repeat") '
            'ANTI JOIN main.sample_metrics o USING (run_id, doc_id, "repeat", metric)'
        )
        self.add_battles(alias)

    def add_battles(self, alias: str) -> None:
        con = self.con
        marker = con.execute(
            f"SELECT value FROM {alias}.meta WHERE key = ?", [MIGRATION_KEY]
        ).fetchall()
        if marker and marker[0][0] == MIGRATION_VALUE:
            have = {  # a store of an older schema lacks the newer columns: NULL
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_catalog = ? AND table_name = 'battles'",
                    [alias],
                ).fetchall()
            }
            cols = ", ".join(_q(c) if c in have else f"NULL AS {_q(c)}" for c in BATTLE_COLUMNS)
            rows = f"SELECT {cols} FROM {alias}.battles"
            for sql in upsert(rows):
                con.execute(sql)
            return
        # a store of an older assay, opened read-only: its battles get content ids here
        old = con.execute(f"SELECT * FROM {alias}.battles").df()
        mine = old["battle_id"].astype(str).str.fullmatch(ASSAY_ID)
        kept = [merged_battles(old[mine.to_numpy()]), old[~mine.to_numpy()]]
        frame = _conform(pd.concat(kept, ignore_index=True), BATTLE_COLUMNS)
        if len(frame):
            with _registered(con, frame, BATTLE_COLUMNS) as (new, run):
                for sql in upsert(new):
                    run(sql)

    def merge(self) -> None:
        for alias, path in self.sources:
            if self.progress is not None:
                self.progress(len(self.done), len(self.sources))
            self.check(alias, path)
            self.add(alias)
            self.done.append((alias, path))
        if self.progress is not None:
            self.progress(len(self.done), len(self.sources))


def _temporary(output: Path) -> Path:
    return output.parent / f".{output.name}.merge-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        with suppress(OSError):
            leftover.unlink()


def merge_stores(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Merge the stores ``inputs`` into ``output`` (created, or merged into when it exists).

    Returns ``{"output", "inputs", "added": rows per table, "total": rows per table}``. Any
    problem (a missing or non-store input, an input that is the output, a conflict) is one
    :class:`InputError` line and the output is left byte for byte as it was.
    ``progress(done, total)`` counts the input stores merged.
    """
    out = Path(output)
    if not inputs:
        raise InputError("store merge: give at least one input store")
    if out.is_dir():
        raise InputError(
            f"store merge: -o {out} is a folder, not a store file (a folder of Parquet files "
            "is read-only: merge into a .duckdb file, then `assay export` it)"
        )
    target = out.resolve()
    sources: list[Path] = []
    parquet: dict[Path, Any] = {}
    for raw in inputs:
        resolved = _check_input(Path(raw), parquet)
        if resolved == target:
            raise InputError(
                f"store merge: {raw} is also the output: inputs are never modified "
                "(leave it out: an existing -o is merged into)"
            )
        if resolved not in sources:  # the same store twice adds nothing
            sources.append(resolved)
    if out.exists():
        Store(out, read_only=True)  # an existing output must be an assay store
        if out.with_name(out.name + ".wal").exists():
            raise InputError(
                f"store merge: {out} has a write-ahead log ({out.name}.wal): another process "
                "is writing it, or one stopped mid-write; open it once (assay store info) first"
            )
    folder = out.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"store merge: cannot write in {folder} (not a writable folder)")
    tmp = _temporary(out)
    existed = out.exists()
    lock = None
    try:
        if existed:  # a read-only connection keeps other writers out until the rename
            lock = duckdb.connect(str(out), read_only=True)
            shutil.copyfile(out, tmp)
        store = Store(tmp)  # a new store, or the copy migrated to this schema
        with store.connect(read_only=False) as con:
            before = _counts(con)
            aliases = []
            for i, path in enumerate(sources):
                held = parquet[path].database if path in parquet else path
                con.execute(f"ATTACH {_literal(held)} AS src{i} (READ_ONLY)")
                aliases.append((f"src{i}", path))
            con.execute("BEGIN TRANSACTION")
            try:
                _Merger(con, aliases, f"{out} (the output)", progress).merge()
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            after = _counts(con)
            for alias, _ in aliases:
                con.execute(f"DETACH {alias}")
            con.execute("CHECKPOINT")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except duckdb.Error as exc:
        raise InputError(f"store merge: {str(exc).strip().splitlines()[0]}") from None
    finally:
        if lock is not None:
            lock.close()
        _remove(tmp)
    return {
        "output": str(out),
        "inputs": [str(p) for p in sources],
        "added": {t: after[t] - before[t] for t in TABLES},
        "total": after,
    }
