"""Schema 3: battles without a primary-key index. A store of schema 2 (battle_id PRIMARY KEY)
migrates when opened (DuckDB's memory bounded meanwhile) and keeps its rows, in order; ids
stay unique: every writer adds only ids not stored, and an import refuses two of its votes
with one id."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.rank import import_battles
from assay.store import _battle_import as writer_module
from assay.store import _schema, open_store
from assay.store._schema import _V1, BATTLE_COLUMNS, SCHEMA_VERSION, _table

VOTES = [
    {"model_a": "x", "model_b": "y", "winner": "tie", "prompt_id": "p1"},
    {"model_a": "y", "model_b": "z", "winner": "model_a", "prompt_id": "p2"},
]


def _v2_store(path) -> pd.DataFrame:
    """A store as assay wrote it at schema 2 (the key an index), with two votes."""
    keyed = {**BATTLE_COLUMNS, "battle_id": "VARCHAR PRIMARY KEY"}
    con = duckdb.connect(str(path))
    for ddl in _V1:
        con.execute(_table("battles", keyed) if "TABLE IF NOT EXISTS battles" in ddl else ddl)
    con.execute("INSERT INTO meta VALUES ('schema_version', '2'), ('battle_ids', 'content-v1')")
    con.close()
    scratch = open_store(path.with_name("scratch.duckdb"))
    scratch.add_battles([{**v, "source": "old", "style_a": {"length": 3}} for v in VOTES])
    rows = scratch.battles()
    con = duckdb.connect(str(path))
    con.register("rows", rows)
    con.execute("INSERT INTO battles SELECT * FROM rows")
    assert con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'battles' "
        "AND constraint_type = 'PRIMARY KEY'"
    ).fetchone() == (1,)
    con.close()
    return rows


def _keys(path) -> int:
    con = duckdb.connect(str(path))
    try:
        return con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'battles' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchone()[0]
    finally:
        con.close()


def test_a_schema_2_store_migrates_and_keeps_its_battles(tmp_path):
    path = tmp_path / "old.duckdb"
    before = _v2_store(path)
    st = open_store(path)
    assert st.schema_version == SCHEMA_VERSION == 3
    assert _keys(path) == 0
    pd.testing.assert_frame_equal(st.battles(), before)
    # the same votes again, from every writer: nothing new
    st.add_battles(VOTES)
    vid, new = st.add_vote(VOTES[0])
    assert not new and vid in set(before["battle_id"])
    file = tmp_path / "votes.jsonl"
    file.write_text("".join(json.dumps(v) + "\n" for v in VOTES))
    import_battles(st, file)
    after = st.battles()
    assert len(after) == 2 and list(after["source"]) == ["old", "old"]
    # a new vote is one more row; the next occurrence of a stored one too
    st.add_vote({**VOTES[0], "winner": "model_b"})
    st.add_vote(VOTES[0], again=True)
    ids = st.battles()["battle_id"]
    assert len(ids) == 4 and ids.is_unique


def test_importing_a_file_twice_adds_nothing(tmp_path):
    st = open_store(tmp_path / "s.duckdb")
    file = tmp_path / "votes.jsonl"
    file.write_text("".join(json.dumps(v) + "\n" for v in [*VOTES, VOTES[0]]))
    assert import_battles(st, file) == 3
    first = st.battles()
    assert import_battles(st, file) == 3
    pd.testing.assert_frame_equal(st.battles(), first)
    assert len(first) == 3 and first["battle_id"].is_unique


def test_two_votes_of_an_import_with_one_id_are_refused(tmp_path, monkeypatch):
    st = open_store(tmp_path / "s.duckdb")
    st.add_battles([VOTES[0]])
    before = st.battles()
    real = writer_module._keys_at

    def colliding(*args):
        row, keys = real(*args)
        return row, np.zeros_like(keys)  # every vote the same 64-bit id

    monkeypatch.setattr(writer_module, "_keys_at", colliding)
    file = tmp_path / "votes.jsonl"
    file.write_text("".join(json.dumps(v) + "\n" for v in VOTES))
    with pytest.raises(InputError, match="same battle id b0000000000000000"):
        import_battles(st, file)
    pd.testing.assert_frame_equal(st.battles(), before)


def test_a_migration_runs_with_duckdbs_memory_bounded_and_keeps_every_row(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    _v2_store(path)
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO battles (battle_id, model_a, model_b, winner, extra) "
        "SELECT 'c' || i, 'm' || (i % 7), 'n' || (i % 5), 'tie', repeat('x', i % 50) "
        "FROM range(200000) r(i)"
    )
    before = con.execute("SELECT * FROM battles").df()  # in the order stored
    default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.close()
    seen = "CREATE TEMP TABLE _seen AS SELECT current_setting('memory_limit') AS m"
    monkeypatch.setitem(_schema.MIGRATIONS, 2, [*_schema.MIGRATIONS[2], seen])
    con = duckdb.connect(str(path))
    assert _schema.ensure_schema(con) == SCHEMA_VERSION
    limit = con.execute("SELECT m FROM _seen").fetchone()[0]  # 64 MB: "61.0 MiB"
    assert limit.endswith(" MiB") and float(limit.split()[0]) <= 64
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == (default,)
    con.close()
    st = open_store(path)
    assert st.schema_version == SCHEMA_VERSION and _keys(path) == 0
    after = st.sql("SELECT * FROM battles")
    pd.testing.assert_frame_equal(after, before)


def test_a_value_too_large_for_the_bound_is_migrated_without_it(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    _v2_store(path)
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO battles (battle_id, model_a, model_b, winner, extra) "
        "VALUES ('big', 'x', 'y', 'tie', repeat('x', 8000000))"
    )
    before = con.execute("SELECT * FROM battles").df()
    con.close()
    monkeypatch.setattr(_schema, "_MIGRATION_MEMORY", "2MB")
    st = open_store(path)
    assert st.schema_version == SCHEMA_VERSION and _keys(path) == 0
    pd.testing.assert_frame_equal(st.sql("SELECT * FROM battles"), before)
