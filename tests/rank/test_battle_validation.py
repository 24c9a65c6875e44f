"""Bad battle files: one-line errors, no huge allocations, stripped names, the store unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_main

from assay.errors import InputError
from assay.rank import (
    _battle_files,
    _battles,
    aggregate_battles,
    battle_ids,
    fit_battles,
    import_battles,
    online_elo,
    read_battles,
    subsample_curve,
)
from assay.store import Store, _battle_import, open_store


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def jsonl(path: Path, *rows: dict | str) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def battle(a="a", b="b", winner="model_a", **extra) -> dict:
    return {"model_a": a, "model_b": b, "winner": winner, **extra}


BAD_JSONL = [
    ("count-huge", [battle(count=1e12)], r"line 1: the counts add up to more than 10,000,000"),
    ("count-negative", [battle(count=-2)], r"line 1: field 'count' must be a whole number >= 0"),
    ("count-fraction", [battle(count=2.5)], r"line 1: field 'count' .* got 2\.5"),
    ("count-text", [battle(count=1), battle(count="many")], r"line 2: field 'count' .* 'many'"),
    ("count-bool", [battle(count=True)], r"line 1: field 'count' .* got True"),
    ("count-nan", ['{"model_a": "a", "model_b": "b", "winner": "tie", "count": NaN}'], "count"),
    (
        "count-inf",
        ['{"model_a": "a", "model_b": "b", "winner": "tie", "count": Infinity}'],
        "count",
    ),
    ("count-null", [battle(count=3), battle(count=None)], r"line 2: field 'count' is empty"),
    ("count-missing", [battle(count=3), battle()], r"line 2: field 'count' is empty"),
    ("winner-unknown", [battle(), battle(winner="both")], r"line 2: field 'winner' is 'both'"),
    ("winner-null", [battle(winner=None)], r"line 1: field 'winner' is empty"),
    ("winner-number", [battle(winner=1)], r"line 1: field 'winner' is 1"),
    ("name-blank", [battle(a="   ")], r"line 1: field 'model_a' is empty"),
    ("name-null", [battle(), battle(b=None)], r"line 2: field 'model_b' is empty"),
    ("name-number", [battle(a=5)], r"line 1: field 'model_a' must be text, got 5"),
    ("name-list", [battle(b=["x"])], r"line 1: field 'model_b' must be text"),
    ("self-spaces", [battle(a="a", b=" a ")], r"line 1: model_a and model_b are the same model"),
    ("judge-object", [battle(judge={"x": 1})], r"line 1: field 'judge' must be text"),
    ("time-inf", [battle(time=1e300)], r"line 1: field 'time' is not a time"),
    ("not-object", [battle(), "[1, 2]"], r"line 2: not a JSON object"),
    ("bad-json", [battle(), "", '{"model_a": '], r"line 3: not valid JSON"),
    ("only-zero", [battle(count=0)], r"no battles \(every count is 0\)"),
]


@pytest.mark.parametrize(
    ("rows", "message"), [c[1:] for c in BAD_JSONL], ids=[c[0] for c in BAD_JSONL]
)
def test_bad_jsonl_rows_are_one_line_errors(tmp_path, rows, message):
    path = jsonl(tmp_path / "b.jsonl", *rows)
    with pytest.raises(InputError, match=message) as info:
        read_battles(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_other_malformed_files(tmp_path):
    (tmp_path / "u.jsonl").write_bytes(b'{"model_a": "a\xff", "model_b": "b", "winner": "tie"}\n')
    (tmp_path / "n.json").write_text("5")
    (tmp_path / "d.jsonl").mkdir()
    (tmp_path / "w.csv").write_text("model_a,model_b,wins_a,wins_b\nx,y,3,1e12\n")
    (tmp_path / "e.csv").write_text("")
    cases = {
        "u.jsonl": r"line 1: not valid UTF-8",
        "n.json": r"expected a JSON list",
        "d.jsonl": r"is a folder",
        "w.csv": r"line 2: the counts add up to more than",
        "e.csv": r"no battles",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message) as info:
            read_battles(tmp_path / name)
        assert "\n" not in str(info.value)


def test_total_over_the_limit_names_the_row_where_it_is_crossed(tmp_path, monkeypatch):
    monkeypatch.setattr(_battles, "MAX_BATTLES", 10)
    path = jsonl(tmp_path / "b.jsonl", battle(count=6), battle(winner="tie", count=5))
    with pytest.raises(InputError, match=r"line 2: the counts add up to more than 10 battles"):
        read_battles(path)
    assert (
        read_battles(jsonl(tmp_path / "ok.jsonl", battle(count=6), battle(count=4)))["count"].sum()
        == 10
    )


def test_names_are_stripped_and_rated_as_one_model(tmp_path):
    rows = [
        battle(" a ", "b"),
        battle("a", "b  ", "model_b"),
        battle("b", "c", "tie"),
        battle("\ta", "c"),
    ]
    df = read_battles(jsonl(tmp_path / "b.jsonl", *rows))
    assert sorted(set(df["model_a"]) | set(df["model_b"])) == ["a", "b", "c"]
    ratings = fit_battles(df, bootstrap=0)
    assert sorted(ratings.table["model"]) == ["a", "b", "c"]
    # frames that were stored unstripped (older imports, the API) are merged too
    raw = pd.DataFrame(rows)
    pairs = aggregate_battles(raw)
    assert pairs.models == ["a", "b", "c"]
    assert pairs.n_battles == 4
    assert list(online_elo(raw).sort_index().index) == ["a", "b", "c"]


def _count_table(tmp_path: Path) -> Path:
    return jsonl(
        tmp_path / "counts.jsonl",
        battle(count=3, judge="j"),
        battle(winner="tie", count=2),
        battle("b", "c", "model_b", count=4, prompt_id="p1"),
        battle(count=2, judge="j"),  # the same key as the first row: occurrences 3, 4
        battle("a", "c", "tie_bothbad", count=1),
    )


def test_count_ids_equal_the_ids_of_the_repeated_rows(tmp_path):
    weighted = read_battles(_count_table(tmp_path)).assign(source="counts.jsonl")
    repeated = weighted.loc[weighted.index.repeat(weighted["count"])].drop(columns="count")
    ids = battle_ids(repeated.reset_index(drop=True))
    assert len(set(ids)) == 12
    assert list(battle_ids(weighted)) == list(ids)
    # the source is not part of a vote's id
    assert list(battle_ids(weighted.drop(columns="source"))) == list(ids)


def test_count_tables_are_stored_in_chunks_with_the_same_ids(tmp_path, monkeypatch):
    path = _count_table(tmp_path)
    one = open_store(tmp_path / "one.duckdb")
    assert import_battles(one, path) == 12
    monkeypatch.setattr(_battles, "_STORE_CHUNK", 5)
    chunked = open_store(tmp_path / "chunked.duckdb")
    assert import_battles(chunked, path) == 12
    a = one.battles().sort_values("battle_id").reset_index(drop=True)
    b = chunked.battles().sort_values("battle_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert a["winner"].value_counts().to_dict() == {
        "model_a": 5,
        "model_b": 4,
        "tie": 2,
        "tie_bothbad": 1,
    }
    # fitting the store's rows equals fitting the weighted table
    weighted = read_battles(path)
    pd.testing.assert_series_equal(
        fit_battles(a, bootstrap=0).rating, fit_battles(weighted, bootstrap=0).rating
    )


def test_a_failed_chunk_rolls_back_every_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(_battle_import, "STORE_ROWS", 5)
    store = open_store(tmp_path / "s.duckdb")
    calls = []
    real = Store._insert_battles

    def flaky(con, rows, **kw):
        calls.append(len(rows))
        if len(calls) == 2:
            raise OSError("disk full")
        return real(con, rows, **kw)

    monkeypatch.setattr(Store, "_insert_battles", staticmethod(flaky))
    with pytest.raises(OSError):
        import_battles(store, _count_table(tmp_path))
    assert calls == [5, 5]
    assert store.battles().empty


def test_a_bad_line_in_a_later_block_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", 200)  # a few lines per block
    monkeypatch.setattr(_battle_import, "STORE_ROWS", 3)  # written as they are read
    store = open_store(tmp_path / "s.duckdb")
    store.add_battles([battle(), battle(winner="tie")])
    before = store.battles()
    rows = [battle(prompt_id=f"p{i}", winner=("model_a", "tie")[i % 2]) for i in range(40)]
    path = jsonl(tmp_path / "b.jsonl", *rows, battle(winner="draw"))
    with pytest.raises(InputError, match="line 41: field 'winner' is 'draw'"):
        import_battles(store, path)
    pd.testing.assert_frame_equal(store.battles(), before)
    # read a block at a time, the good file gets the ids of the whole file
    good = jsonl(tmp_path / "good.jsonl", *rows, *rows[:7])
    assert import_battles(store, good) == 47
    stored = set(store.battles()["battle_id"])
    assert stored == set(before["battle_id"]) | set(battle_ids(read_battles(good)))


def test_elo_and_stability_honour_counts(tmp_path):
    weighted = read_battles(_count_table(tmp_path))
    repeated = weighted.loc[weighted.index.repeat(weighted["count"])].drop(columns="count")
    pd.testing.assert_series_equal(online_elo(weighted), online_elo(repeated))
    elo_w = fit_battles(weighted, method="elo", bootstrap=5, seed=1)
    elo_r = fit_battles(repeated, method="elo", bootstrap=5, seed=1)
    pd.testing.assert_frame_equal(elo_w.table, elo_r.table)
    curve = subsample_curve(weighted, fractions=[1.0, 0.5], repeats=3, seed=0)
    assert curve.loc[0, "tau_mean"] == pytest.approx(1.0)  # all battles kept: the same ranking
    assert curve["repeats"].iloc[0] == 3


# -- the CLI: the store is written only after the fit succeeded ------------------------------


@pytest.fixture
def store_file(tmp_path) -> Path:
    path = tmp_path / "s.duckdb"
    open_store(path).add_battles([battle(), battle(winner="model_b"), battle("b", "c", "tie")])
    return path


CLI_BAD = [
    ("huge", [battle(count=1e12)], []),
    ("negative", [battle(count=-1)], []),
    ("winner", [battle(winner="draw")], []),
    ("self", [battle(a="x", b=" x")], []),
    ("blank", [battle(a=" ")], []),
    ("disconnected", [battle("a", "b"), battle("c", "d")], []),  # the fit fails
    ("anchor", [battle(), battle(winner="tie")], ["--anchor", "nobody=1000"]),
    ("one-model-left", [battle(count=0), battle(winner="tie", count=0)], []),
]


@pytest.mark.parametrize(("rows", "extra"), [c[1:] for c in CLI_BAD], ids=[c[0] for c in CLI_BAD])
def test_cli_bad_battles_leave_the_store_unchanged(tmp_path, store_file, rows, extra):
    path = jsonl(tmp_path / "bad.jsonl", *rows)
    before = sha(store_file)
    code, _, err = run_main(["rank", "battles", str(path), "--store", str(store_file), *extra])
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    assert sha(store_file) == before


def test_cli_failed_fit_creates_no_store(tmp_path):
    path = jsonl(tmp_path / "bad.jsonl", battle("a", "b"), battle("c", "d"))
    code, _, err = run_main(["rank", "battles", str(path), "--store", str(tmp_path / "new.duckdb")])
    assert code == 1 and "groups never compared" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bootstrap", "-1"], "--bootstrap -1: must be in [0, 100000]"),
        (["--seed", "-1"], "--seed -1: must be >= 0"),
        (["--k", "0"], "--k 0.0: must be > 0"),
        (["--method", "glicko"], "--method 'glicko'"),
        (["--anchor", "a=inf"], "--anchor 'a=inf'"),
    ],
)
def test_cli_bad_options_are_rejected_before_anything(tmp_path, store_file, args, message):
    path = jsonl(tmp_path / "ok.jsonl", battle(), battle(winner="tie"))
    before = sha(store_file)
    code, _, err = run_main(["rank", "battles", str(path), "--store", str(store_file), *args])
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    assert sha(store_file) == before


def test_cli_good_file_is_stored_after_the_fit(tmp_path, store_file):
    path = jsonl(tmp_path / "ok.jsonl", battle(" a", "b ", count=3), battle(winner="tie", count=2))
    code, out, err = run_main(["rank", "battles", str(path), "--store", str(store_file), "--json"])
    assert code == 0, err
    assert sorted(r["model"] for r in json.loads(out)["ratings"]) == ["a", "b"]
    stored = open_store(store_file).battles()
    # the store's vote a > b (no prompt, no judge) is the file's first a > b: one vote, one row
    assert len(stored) == 3 + 5 - 1
    assert set(stored["model_a"]) | set(stored["model_b"]) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("rows", "extra"), [c[1:] for c in CLI_BAD[:5]], ids=[c[0] for c in CLI_BAD[:5]]
)
def test_cli_import_of_a_bad_file_changes_and_creates_nothing(tmp_path, store_file, rows, extra):
    path = jsonl(tmp_path / "bad.jsonl", *rows)
    before = sha(store_file)
    for target in (store_file, tmp_path / "new.duckdb"):
        code, _, err = run_main(["import", "battles", str(path), "--store", str(target)])
        assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert sha(store_file) == before
    assert not (tmp_path / "new.duckdb").exists()
