"""One vote, one row: every battle writer (file import, the web app, Store.add_battles) gives a
vote the same content id, and a store holding the duplicates of older id schemes is merged."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
from cli_helpers import run_main
from fastapi.testclient import TestClient

from assay.serve import create_app
from assay.store import battle_id, battle_ids, open_store

LOCAL = "http://127.0.0.1"
VOTE = {"model_a": "alpha", "model_b": "beta", "winner": "model_b", "prompt_id": "p7"}


def _store(path):
    store = open_store(path)
    store.upsert_models([{"model": "alpha"}, {"model": "beta"}])
    return store


def test_the_same_vote_from_every_writer_is_one_row(tmp_path):
    store = _store(tmp_path / "s.duckdb")
    votes = tmp_path / "votes.jsonl"
    votes.write_text(json.dumps({**VOTE, "model_a": " alpha ", "time": 1_700_000_000}) + "\n")
    code, _, err = run_main(
        ["rank", "battles", str(votes), "--bootstrap", "0", "--store", str(store.path)]
    )
    assert code == 0, err
    client = TestClient(create_app(store.path), base_url=LOCAL)
    r = client.post("/api/battles", json=VOTE)
    assert r.status_code == 409 and "stored already" in r.json()["detail"]
    store.add_battles([{**VOTE, "source": "notebook"}])
    rows = store.battles()
    assert len(rows) == 1
    assert rows["battle_id"].iloc[0] == battle_id("alpha", "beta", "model_b", "p7")
    # the first writer's source and time stay
    assert rows["source"].iloc[0] == "votes.jsonl"
    assert rows["time"].iloc[0] == pd.Timestamp(1_700_000_000, unit="s")


def test_post_first_then_import_is_one_row_and_a_new_vote_is_another(tmp_path):
    store = _store(tmp_path / "s.duckdb")
    client = TestClient(create_app(store.path), base_url=LOCAL)
    r = client.post("/api/battles", json=VOTE)
    assert r.status_code == 200
    assert r.json()["battle_id"] == battle_id("alpha", "beta", "model_b", "p7")
    assert client.post("/api/battles", json=VOTE).status_code == 409
    other = client.post("/api/battles", json={**VOTE, "winner": "tie"})
    assert other.status_code == 200
    votes = tmp_path / "votes.csv"
    votes.write_text("model_a,model_b,winner,prompt_id\nalpha,beta,model_b,p7\n")
    code, _, err = run_main(["rank", "battles", str(votes), "--bootstrap", "0",
                             "--store", str(store.path)])  # fmt: skip
    assert code == 0, err
    assert sorted(store.battles()["winner"]) == ["model_b", "tie"]


def test_identical_votes_in_one_batch_all_count():
    two = pd.DataFrame([VOTE, VOTE, {**VOTE, "judge": "gpt"}])
    ids = battle_ids(two)
    assert len(set(ids)) == 3
    assert ids[0] == battle_id(**VOTE) and ids[1] == battle_id(**VOTE, occurrence=1)
    # time, source and surrounding spaces do not change a vote's id
    moved = two.assign(time=pd.Timestamp("2024-01-01"), source="x", model_b=" beta")
    assert list(battle_ids(moved)) == list(ids)


def _old_store(path) -> None:
    """A store written by the older id schemes: the same vote imported from a file (pandas
    hash with the source), posted to the web app (random id), and a file with one vote twice;
    plus a row whose id a caller chose."""
    open_store(path)
    con = duckdb.connect(str(path))
    rows = [
        ("b0123456789abcdef", "alpha", "beta", "model_b", "p7", None, "2024-01-02", "f.jsonl"),
        ("b1111111111111111", "alpha", "beta", "model_b", "p7", None, "2024-01-03", "f.jsonl"),
        ("00aa11bb22cc33dd", "alpha", "beta", "model_b", "p7", None, "2024-01-01", "api"),
        ("0123456789abcdef", "alpha", "beta", "tie", None, "human", None, "assay serve"),
        ("my-own-id", "alpha", "beta", "model_b", "p7", None, None, "mine"),
    ]
    con.executemany(
        "INSERT INTO battles (battle_id, model_a, model_b, winner, prompt_id, judge, time, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.execute("DELETE FROM meta WHERE key = 'battle_ids'")  # as an older assay left it
    con.close()


def test_old_duplicates_are_merged_once_on_open(tmp_path):
    path = tmp_path / "old.duckdb"
    _old_store(path)
    store = open_store(path)
    rows = store.battles().set_index("battle_id")
    # f.jsonl held the vote twice (two votes); the web app's copy is one of them
    vote = battle_id("alpha", "beta", "model_b", "p7")
    again = battle_id("alpha", "beta", "model_b", "p7", occurrence=1)
    tie = battle_id("alpha", "beta", "tie", judge="human")
    assert sorted(rows.index) == sorted([vote, again, tie, "my-own-id"])
    assert rows.at[vote, "source"] == "f.jsonl"
    assert rows.at[vote, "time"] == pd.Timestamp("2024-01-01")  # the earliest copy's time
    assert rows.at[tie, "source"] == "assay serve"
    before = store.battles()
    pd.testing.assert_frame_equal(open_store(path).battles(), before)  # once: no change
    # importing the file again (now with content ids) adds nothing
    store.add_battles([{**VOTE, "winner": "model_b"}] * 2)
    pd.testing.assert_frame_equal(store.battles(), before)


def test_ratings_api_says_which_interval_and_too_few_votes(tmp_path):
    store = _store(tmp_path / "s.duckdb")
    client = TestClient(create_app(store.path), base_url=LOCAL)
    assert client.post("/api/battles", json=VOTE).status_code == 200
    body = client.get("/api/ratings").json()
    assert (body["interval"], body["bootstrap_rounds"]) == ("bootstrap percentile", 1000)
    assert "too few votes" in body["groups"][0]["note"]
    assert body["ratings"][0]["ci_low"] is None  # unbounded: null in JSON
