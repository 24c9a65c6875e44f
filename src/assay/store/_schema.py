"""DDL for the store and the migrations between schema versions."""

from __future__ import annotations

import contextlib

import duckdb

from assay.errors import InputError

SCHEMA_VERSION = 3
#: The oldest schema version whose tables have today's columns (3 only dropped the primary key
#: of battles): a Parquet export of it reads as today's.
SAME_COLUMNS_SINCE = 2
#: DuckDB's memory limit while a migration runs: copying a table of any size then holds about
#: this much (without it, 10^7 battles took 500 MB more), spilling to disk beyond it
_MIGRATION_MEMORY = "64MB"

SAMPLE_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR NOT NULL",
    "model": "VARCHAR NOT NULL",
    "task": "VARCHAR NOT NULL",
    "doc_id": "VARCHAR NOT NULL",
    "repeat": "INTEGER NOT NULL",
    "template_id": "VARCHAR",
    "prompt": "VARCHAR",
    "prompt_hash": "VARCHAR",
    "doc_hash": "VARCHAR",
    "target": "VARCHAR",
    "prediction": "VARCHAR",
    "choice_logprobs": "DOUBLE[]",
    "choice_order": "INTEGER[]",
    "chosen_position": "INTEGER",
    "input_tokens": "INTEGER",
    "output_tokens": "INTEGER",
    "latency_s": "DOUBLE",
    "cluster_id": "VARCHAR",
    "difficulty": "DOUBLE",
    "extra": "VARCHAR",
    "created_at": "TIMESTAMP",
}

MODEL_COLUMNS: dict[str, str] = {
    "model": "VARCHAR PRIMARY KEY",
    "family": "VARCHAR",
    "params": "DOUBLE",
    "tokens": "DOUBLE",
    "flops": "DOUBLE",
    "step": "BIGINT",
    "release_date": "DATE",
    "parent": "VARCHAR",
    "spec": "VARCHAR",
    "extra": "VARCHAR",
}

RUN_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR PRIMARY KEY",
    "model": "VARCHAR NOT NULL",
    "task": "VARCHAR NOT NULL",
    "task_version": "VARCHAR",
    "template_id": "VARCHAR",
    "num_fewshot": "INTEGER",
    "fewshot_seed": "BIGINT",
    "settings": "VARCHAR",
    "source": "VARCHAR",
    "created_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "extra": "VARCHAR",
}

#: ``battle_id`` is unique without an index (an index made an arena import a third slower and
#: its commit six times longer): each writer adds only ids not stored (an anti-join), one
#: writer at a time (DuckDB's file lock; :meth:`Store.add_vote` holds a lock in the process),
#: and an import refuses two votes of its own with one id (:class:`BattleWriter`).
BATTLE_COLUMNS: dict[str, str] = {
    "battle_id": "VARCHAR NOT NULL",
    "prompt_id": "VARCHAR",
    "model_a": "VARCHAR NOT NULL",
    "model_b": "VARCHAR NOT NULL",
    "winner": "VARCHAR NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie', 'tie_bothbad'))",
    "judge": "VARCHAR",
    "time": "TIMESTAMP",
    "source": "VARCHAR",
    "extra": "VARCHAR",
    # style features of the two answers (JSON text {feature: value}; assay.core.style_json)
    "style_a": "VARCHAR",
    "style_b": "VARCHAR",
}

METRIC_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR NOT NULL",
    "doc_id": "VARCHAR NOT NULL",
    "repeat": "INTEGER NOT NULL",
    "metric": "VARCHAR NOT NULL",
    "value": "DOUBLE",
}


def _table(name: str, columns: dict[str, str], key: str | None = None) -> str:
    body = ",\n  ".join(f'"{c}" {t}' for c, t in columns.items())
    if key:
        body += f",\n  PRIMARY KEY ({key})"
    return f"CREATE TABLE IF NOT EXISTS {name} (\n  {body}\n)"


_V1 = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    _table("models", MODEL_COLUMNS),
    _table("runs", RUN_COLUMNS),
    _table("samples", SAMPLE_COLUMNS, 'run_id, doc_id, "repeat"'),
    _table("sample_metrics", METRIC_COLUMNS, 'run_id, doc_id, "repeat", metric'),
    _table("battles", BATTLE_COLUMNS),
    # One row per (sample, metric) with the sample's identity: what stats/rank read.
    """CREATE OR REPLACE VIEW scores AS
       SELECT s.model, s.task, s.run_id, s.doc_id, s."repeat", s.template_id, s.cluster_id,
              s.difficulty, m.metric, m.value
       FROM samples s JOIN sample_metrics m USING (run_id, doc_id, "repeat")""",
]

# MIGRATIONS[v] upgrades a store at schema version v to v + 1. Append, never edit.
MIGRATIONS: dict[int, list[str]] = {
    # 1 -> 2: the battles keep the style features of their two answers (style control)
    1: [
        "ALTER TABLE battles ADD COLUMN IF NOT EXISTS style_a VARCHAR",
        "ALTER TABLE battles ADD COLUMN IF NOT EXISTS style_b VARCHAR",
    ],
    # 2 -> 3: battles without the primary-key index on battle_id (the table made again, its
    # rows kept in their order)
    2: [
        """CREATE TABLE battles_v3 (
  "battle_id" VARCHAR NOT NULL, "prompt_id" VARCHAR, "model_a" VARCHAR NOT NULL,
  "model_b" VARCHAR NOT NULL,
  "winner" VARCHAR NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie', 'tie_bothbad')),
  "judge" VARCHAR, "time" TIMESTAMP, "source" VARCHAR, "extra" VARCHAR, "style_a" VARCHAR,
  "style_b" VARCHAR
)""",
        'INSERT INTO battles_v3 SELECT "battle_id", "prompt_id", "model_a", "model_b", "winner", '
        '"judge", "time", "source", "extra", "style_a", "style_b" FROM battles',
        "DROP TABLE battles",
        "ALTER TABLE battles_v3 RENAME TO battles",
    ],
}


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def read_schema_version(con: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """The store's schema version; None for an empty database (a new store). A database that
    is not an assay store, has no or a bad version row, or is newer than this assay is an
    :class:`InputError` naming ``name``; nothing is written."""
    tables = _tables(con)
    if "meta" not in tables:
        if tables:
            raise InputError(
                f"{name}: a DuckDB database but not an assay store (it has no 'meta' table)"
            )
        return None
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    if not rows:
        raise InputError(f"{name}: not a usable assay store: table meta has no schema_version row")
    try:
        version = int(str(rows[0][0]).strip())
    except ValueError:
        raise InputError(
            f"{name}: not a usable assay store: schema_version {str(rows[0][0])[:40]!r} "
            "is not a number"
        ) from None
    if version > SCHEMA_VERSION:
        raise InputError(
            f"{name}: store schema version {version} is newer than this assay "
            f"({SCHEMA_VERSION}): upgrade assay"
        )
    if version < 1 or any(v not in MIGRATIONS for v in range(version, SCHEMA_VERSION)):
        raise InputError(f"{name}: unknown store schema version {version}")
    return version


def ensure_schema(con: duckdb.DuckDBPyConnection, name: str = "store") -> int:
    """Create the tables of a new store or migrate an old one; returns the schema version.

    Only an empty database gets tables: any other file that is not an assay store of a known
    version is refused (see :func:`read_schema_version`) before anything is written.
    """
    version = read_schema_version(con, name)
    if version is None:
        con.execute("BEGIN TRANSACTION")
        for ddl in _V1:
            con.execute(ddl)
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
        return SCHEMA_VERSION
    while version < SCHEMA_VERSION:
        _migrate(con, version)
        version += 1
    return version


def _migrate(con: duckdb.DuckDBPyConnection, version: int) -> None:
    """Run ``MIGRATIONS[version]`` in one transaction with DuckDB's memory bounded
    (:data:`_MIGRATION_MEMORY`); a value too large for it (DuckDB cannot spill a single one)
    is migrated again without the bound rather than leave the store unopenable. The limit is
    reset after (the store's connections start with DuckDB's default)."""
    for bounded in (True, False):
        if bounded:
            con.execute(f"SET memory_limit = '{_MIGRATION_MEMORY}'")
        con.execute("BEGIN TRANSACTION")
        try:
            for ddl in MIGRATIONS[version]:
                con.execute(ddl)
            con.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version + 1)]
            )
            con.execute("COMMIT")
            return
        except duckdb.OutOfMemoryException:
            _rollback(con)
            if not bounded:
                raise
        except BaseException:
            _rollback(con)
            raise
        finally:
            if bounded:
                con.execute("RESET memory_limit")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Undo the open transaction (none is left if its COMMIT failed)."""
    with contextlib.suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")
