"""Votes cast in `assay serve` keep the style features of the answers they were cast on."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from assay.core import text_style
from assay.serve import create_app
from assay.store import Store

LOCAL = "http://127.0.0.1"


@pytest.fixture()
def vote_store(plain_store_path, tmp_path):
    path = tmp_path / "votes.duckdb"
    shutil.copy(plain_store_path, path)
    return path


def _features(text: str) -> dict:
    return text_style(pd.Series([text])).iloc[0].to_dict()


def test_an_arena_vote_stores_the_features_of_the_two_answers_shown(vote_store):
    client = TestClient(create_app(vote_store, seed=2), base_url=LOCAL)
    pair = client.get("/api/arena/pair").json()
    voted = client.post("/api/arena/vote", json={"pair_id": pair["pair_id"], "winner": "tie"})
    assert voted.status_code == 200
    row = Store(vote_store).battles().set_index("battle_id").loc[voted.json()["battle_id"]]
    assert json.loads(row["style_a"]) == _features(pair["answer_a"])
    assert json.loads(row["style_b"]) == _features(pair["answer_b"])
    assert "answer_a" not in Store(vote_store).battles().columns


def test_posted_battles_may_carry_answers_or_style_features(vote_store):
    client = TestClient(create_app(vote_store), base_url=LOCAL)
    texts = {"answer_a": "# Plan\n- one\n- two **now**", "answer_b": "short"}
    base = {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "model_a"}
    r = client.post("/api/battles", json={**base, **texts})
    assert r.status_code == 200, r.text
    stored = Store(vote_store).battles().set_index("battle_id")
    row = stored.loc[r.json()["battle_id"]]
    assert json.loads(row["style_a"]) == {
        "length": 7.0,
        "header_count": 1.0,
        "list_count": 2.0,
        "bold_count": 1.0,
    }
    assert json.loads(row["style_b"]) == _features("short")
    given = {"style_a": {"tokens": 40, "bold": 2}, "style_b": {"tokens": 10, "bold": 0}}
    r = client.post("/api/battles", json={**base, "winner": "model_b", **given})
    assert r.status_code == 200, r.text
    row = Store(vote_store).battles().set_index("battle_id").loc[r.json()["battle_id"]]
    assert json.loads(row["style_a"]) == {"tokens": 40.0, "bold": 2.0}
    bad = {"style_a": {"tokens": -1}, "style_b": {"tokens": 1}}
    assert client.post("/api/battles", json={**base, "winner": "tie", **bad}).status_code == 422
    apart = {"style_a": {"tokens": 1}, "style_b": {"words": 1}}
    r = client.post("/api/battles", json={**base, "winner": "tie", **apart})
    assert r.status_code in (400, 422) and "share no feature" in r.text


def test_the_live_report_refreshes_the_style_panel_after_a_vote(vote_store):
    app = create_app(vote_store, seed=3)
    client = TestClient(app, base_url=LOCAL)
    state = app.state.assay
    assert "carry no style information" in state.report().panel("arena_style").note
    pair = client.get("/api/arena/pair").json()
    client.post("/api/arena/vote", json={"pair_id": pair["pair_id"], "winner": "model_a"})
    panel = state.report().panel("arena_style")  # only the arena panels are recomputed
    assert panel.available and panel.results["style"].n_styled == 1
    assert panel.results["style"].n_total == len(Store(vote_store).battles())
