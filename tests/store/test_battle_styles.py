"""Schema 2: battles keep their answers' style features. A store of schema 1 (battles without
the columns) migrates when opened and merges as an input."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from assay import rank
from assay.errors import InputError
from assay.store import merge_stores, open_store
from assay.store._schema import _V1, BATTLE_COLUMNS, SCHEMA_VERSION, _table

VOTE = {"model_a": "x", "model_b": "y", "winner": "tie"}


def _v1_store(path: Path) -> str:
    """A store as assay wrote it at schema 1, with one vote; returns the vote's id."""
    old_battles = {k: v for k, v in BATTLE_COLUMNS.items() if not k.startswith("style_")}
    old_battles["battle_id"] = "VARCHAR PRIMARY KEY"  # as schema 1 had it
    con = duckdb.connect(str(path))
    for ddl in _V1:
        con.execute(_table("battles", old_battles) if "TABLE IF NOT EXISTS battles" in ddl else ddl)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('battle_ids', 'content-v1')")
    vid = str(rank.battle_ids(pd.DataFrame([VOTE]))[0])
    con.execute(
        "INSERT INTO battles (battle_id, model_a, model_b, winner, source) "
        "VALUES (?, 'x', 'y', 'tie', 'old')",
        [vid],
    )
    assert "style_a" not in {r[0] for r in con.execute("DESCRIBE battles").fetchall()}
    con.close()
    return vid


def test_an_old_store_migrates_and_keeps_its_battles(tmp_path):
    path = tmp_path / "old.duckdb"
    vid = _v1_store(path)
    st = open_store(path)
    assert st.schema_version == SCHEMA_VERSION == 3
    before = st.battles()
    assert list(before["battle_id"]) == [vid] and before.at[0, "source"] == "old"
    assert pd.isna(before.at[0, "style_a"]) and pd.isna(before.at[0, "style_b"])
    with pytest.raises(InputError, match="no style information"):
        rank.style_comparison(before)
    # the same vote again, now with its answers: still one row, its features filled in
    st.add_battles([{**VOTE, "answer_a": "one two", "answer_b": "- three"}])
    after = st.battles()
    assert list(after["battle_id"]) == [vid] and after.at[0, "source"] == "old"
    assert json.loads(after.at[0, "style_a"])["length"] == 2.0
    assert json.loads(after.at[0, "style_b"])["list_count"] == 1.0
    con = duckdb.connect(str(path))
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
    con.close()


def test_an_old_store_merges_as_an_input_unchanged(tmp_path):
    old = tmp_path / "old.duckdb"
    vid = _v1_store(old)
    before = old.read_bytes()
    new = open_store(tmp_path / "new.duckdb")
    new.add_battles([{"model_a": "x", "model_b": "z", "winner": "model_a", "answer_a": "a b"}])
    out = tmp_path / "out.duckdb"
    merge_stores([old, new.path], out)
    assert old.read_bytes() == before  # inputs are never modified (nor migrated)
    merged = open_store(out).battles().set_index("battle_id")
    assert len(merged) == 2 and pd.isna(merged.at[vid, "style_a"])
    styled = merged.drop(index=vid).iloc[0]
    assert json.loads(styled["style_a"])["length"] == 2.0


def test_stored_json_reads_back_as_the_given_values():
    """The store's JSON text parses (pyarrow, all rows at once) to the values given, and text
    the fast reader cannot take goes the careful way, with the same checks."""
    from assay.core import style_json, style_values

    dicts = pd.DataFrame(
        {
            "style_a": [{"tokens": 3, "bold": 0.1}, {"tokens": 10, "bold": 2}],
            "style_b": [{"tokens": 7, "bold": 1}, {"tokens": 1, "bold": 1 / 3}],
        }
    )
    stored = style_json(dicts)
    assert stored["style_a"].map(type).eq(str).all()
    for ours, given in zip(style_values(stored), style_values(dicts), strict=True):
        pd.testing.assert_frame_equal(ours, given, rtol=1e-14)
    nested = pd.DataFrame(
        {"style_a": ['{"h": {"h1": 1, "h2": 2}}'], "style_b": ['{"h": {"h1": 0}}']}
    )  # per-level counts, as JSON text: summed by the careful path
    side_a, side_b = style_values(nested)
    assert (side_a.at[0, "h"], side_b.at[0, "h"]) == (3.0, 0.0)
    ragged = pd.DataFrame({"style_a": ['{"t": 1}', '{"u": 2}'], "style_b": ['{"t": 1}'] * 2})
    with pytest.raises(InputError, match="feature 't' must be a number"):
        style_values(ragged)
