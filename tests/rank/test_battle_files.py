"""Battle files: formats, count tables, store import, one-line errors, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.rank import battle_ids, fit_battles, import_battles, read_battles
from assay.store import open_store

ROWS = [
    {
        "model_a": "x",
        "model_b": "y",
        "winner": "model_a",
        "question_id": "q1",
        "judge": "alice",
        "tstamp": 1700000000.5,
    },
    {
        "model_a": "y",
        "model_b": "z",
        "winner": "tie (bothbad)",
        "question_id": "q2",
        "judge": "bob",
        "tstamp": 1700000001.0,
    },
    {
        "model_a": "z",
        "model_b": "x",
        "winner": "tie",
        "question_id": "q3",
        "judge": None,
        "tstamp": 1700000002.0,
    },
    {
        "model_a": "x",
        "model_b": "z",
        "winner": "model_b",
        "question_id": "q4",
        "judge": "alice",
        "tstamp": 1700000003.0,
    },
    {
        "model_a": "x",
        "model_b": "y",
        "winner": "model_a",
        "question_id": "q1",
        "judge": "alice",
        "tstamp": 1700000000.5,
    },
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_reads_arena_jsonl_csv_and_json(tmp_path):
    df = read_battles(write_jsonl(tmp_path / "b.jsonl", ROWS))
    assert list(df.columns) == ["model_a", "model_b", "winner", "prompt_id", "judge", "time"]
    assert df["winner"].tolist() == ["model_a", "tie_bothbad", "tie", "model_b", "model_a"]
    assert df["prompt_id"].tolist() == ["q1", "q2", "q3", "q4", "q1"]
    assert pd.isna(df["judge"].iloc[2])
    assert df["time"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20.5")
    pd.DataFrame(ROWS).to_csv(tmp_path / "b.csv", index=False)
    from_csv = read_battles(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(
        from_csv[["model_a", "model_b", "winner"]], df[["model_a", "model_b", "winner"]]
    )
    (tmp_path / "b.json").write_text(json.dumps(ROWS))
    assert read_battles(tmp_path / "b.json")["winner"].tolist() == df["winner"].tolist()


def test_count_tables_are_weights_not_repeated_rows(tmp_path):
    pd.DataFrame(
        {
            "model_a": ["x", "x"],
            "model_b": ["y", "z"],
            "wins_a": [3, 0],
            "wins_b": [1, 2],
            "ties": [2, 1],
        }
    ).to_csv(tmp_path / "wide.csv", index=False)
    wide = read_battles(tmp_path / "wide.csv")
    assert len(wide) == 5  # one row per non-zero cell, not one per battle
    assert wide["count"].sum() == 3 + 1 + 2 + 0 + 2 + 1
    cell = wide[(wide["model_b"] == "y") & (wide["winner"] == "model_a")]
    assert cell["count"].tolist() == [3]
    assert wide.loc[(wide["model_b"] == "z") & (wide["winner"] == "tie"), "count"].tolist() == [1]
    write_jsonl(
        tmp_path / "long.jsonl",
        [
            {"model_a": "x", "model_b": "y", "winner": "model_a", "count": 3},
            {"model_a": "x", "model_b": "y", "winner": "tie", "count": 2},
            {"model_a": "x", "model_b": "y", "winner": "model_b", "count": 1},
        ],
    )
    long = read_battles(tmp_path / "long.jsonl")
    assert dict(zip(long["winner"], long["count"], strict=True)) == {
        "model_a": 3,
        "tie": 2,
        "model_b": 1,
    }
    # the same counts give the same ratings, weighted or as repeated rows
    a = fit_battles(long, bootstrap=0).rating
    b = fit_battles(wide[wide["model_b"] == "y"], bootstrap=0).rating
    pd.testing.assert_series_equal(a, b)
    repeated = long.loc[long.index.repeat(long["count"])].drop(columns="count")
    pd.testing.assert_series_equal(a, fit_battles(repeated, bootstrap=0).rating)
    # stored as one row per battle, with the ids the repeated rows would get
    store = open_store(tmp_path / "s.duckdb")
    assert import_battles(store, tmp_path / "long.jsonl") == 6
    stored = store.battles()
    assert stored["winner"].value_counts().to_dict() == {"model_a": 3, "tie": 2, "model_b": 1}
    expected = battle_ids(repeated.assign(source="long.jsonl"))
    assert sorted(stored["battle_id"]) == sorted(expected)
    assert import_battles(store, tmp_path / "long.jsonl") == 6  # again: a no-op
    assert len(store.battles()) == 6


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "b.jsonl",
            '{"model_a": "x", "model_b": "y", "winner": "model_a"}\n{"model_a": "x", "model_b": "y", "winner": "draw"}\n',
            r"b\.jsonl: line 2: field 'winner' is 'draw'",
        ),
        ("b.jsonl", '{"model_a": "x", "winner": "tie"}\n', r"missing field 'model_b'"),
        (
            "b.csv",
            "model_a,model_b,winner\nx,y,tie\nx,,tie\n",
            r"b\.csv: line 3: field 'model_b' is empty",
        ),
        ("b.csv", "model_a,model_b,winner\nx,x,tie\n", r"line 2: model_a and model_b are the same"),
        (
            "b.csv",
            "model_a,model_b,wins_a,wins_b,ties\nx,y,3,-1,0\n",
            r"line 2: field 'count' must be a whole number",
        ),
        (
            "b.jsonl",
            '{"model_a": "x", "model_b": "y", "winner": "tie", "time": "yesterday-ish"}\n',
            r"line 1: field 'time' is not a time",
        ),
        ("b.jsonl", '{"model_a": "x", "model_b": \n', r"b\.jsonl: line 1: not valid JSON"),
        ("b.txt", "whatever", r"unknown battle file type"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_battles(path)
    assert "\n" not in str(info.value)


def test_store_import_is_idempotent_and_keeps_duplicate_votes(tmp_path):
    path = write_jsonl(tmp_path / "b.jsonl", ROWS)
    store = open_store(tmp_path / "s.duckdb")
    assert import_battles(store, path) == 5  # two identical votes both count
    import_battles(store, path)
    stored = store.battles()
    assert len(stored) == 5
    assert set(stored["winner"]) == {"model_a", "model_b", "tie", "tie_bothbad"}
    assert stored["judge"].isna().sum() == 1
    ids = battle_ids(read_battles(path))
    assert len(set(ids)) == 5


def test_cli_rank_battles_imports_and_ranks(tmp_path):
    path = write_jsonl(tmp_path / "b.jsonl", ROWS * 3)
    db = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    res = runner.invoke(
        app, ["rank", "battles", str(path), "--store", db, "--json", "--bootstrap", "20"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    api = fit_battles(read_battles(path), bootstrap=20).to_dict()["ratings"]  # CLI = API
    assert out["ratings"] == api
    assert set(out["ratings"][0]) == {
        "model",
        "rating",
        "ci_low",
        "ci_high",
        "rank",
        "rank_low",
        "rank_high",
        "n",
    }
    assert sum(r["n"] for r in out["ratings"]) == 2 * 15
    again = runner.invoke(app, ["rank", "battles", "--store", db, "--json", "--bootstrap", "20"])
    assert json.loads(again.output)["ratings"] == out["ratings"]  # the store holds the same battles
    imp = runner.invoke(app, ["import", "battles", str(path), "--store", db, "--json"])
    assert imp.exit_code == 0 and json.loads(imp.output)["battles"] == 15
    table = runner.invoke(
        app, ["rank", "battles", "--store", db, "--anchor", "x=1200", "--method", "davidson"]
    )
    assert table.exit_code == 0 and "1200.0" in table.output


def test_cli_error_is_one_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("model_a,model_b,winner\nx,y,maybe\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assay.cli",
            "rank",
            "battles",
            str(path),
            "--store",
            str(tmp_path / "s.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "bad.csv: line 2: field 'winner' is 'maybe'" in proc.stderr
