"""Online Elo depends on the order of the battles: one battle set must give one Elo, in time
order, whether it is ranked from its file, from the store it went into, or from that store's
Parquet export (an audit found three different answers: file order, content-hash order)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import run_main


def _battles(path, seed=7, n=600, shuffle=True):
    rng = np.random.default_rng(seed)
    strength = np.array([1.0, 0.5, 0.0, -0.5])
    a, b = rng.integers(0, 4, n), rng.integers(0, 4, n)
    a, b = a[a != b], b[a != b]
    win = rng.random(a.size) < 1 / (1 + np.exp(strength[b] - strength[a]))
    stamps = 1_700_000_000 + np.arange(a.size) * 60
    rows = [
        {"model_a": f"m{i}", "model_b": f"m{j}", "winner": "model_a" if w else "model_b",
         "tstamp": int(t)}
        for i, j, w, t in zip(a, b, win, stamps, strict=True)
    ]  # fmt: skip
    order = rng.permutation(len(rows)) if shuffle else np.arange(len(rows))
    path.write_text("".join(json.dumps(rows[k]) + "\n" for k in order))
    return rows


def _elo(tmp_path, *args):
    code, out, err = run_main(["rank", "battles", *map(str, args), "--method", "elo",
                               "--bootstrap", "0", "--json"])  # fmt: skip
    assert code == 0, err
    return {r["model"]: r["rating"] for r in json.loads(out)["ratings"]}


def _online_elo(rows, k=4.0):
    rating = {f"m{i}": 1000.0 for i in range(4)}
    for r in rows:  # time order
        a, b = r["model_a"], r["model_b"]
        expect = 1 / (1 + 10 ** ((rating[b] - rating[a]) / 400))
        score = 1.0 if r["winner"] == "model_a" else 0.0
        rating[a] += k * (score - expect)
        rating[b] -= k * (score - expect)
    return rating


def test_elo_follows_time_from_file_store_and_export(tmp_path):
    rows = _battles(tmp_path / "b.jsonl")
    store = tmp_path / "s.duckdb"
    from_file = _elo(tmp_path, tmp_path / "b.jsonl", "--store", store)
    from_store = _elo(tmp_path, "--store", store)
    code, _, err = run_main(["export", tmp_path / "pq", "--store", store])
    assert code == 0, err
    from_export = _elo(tmp_path, "--store", tmp_path / "pq")
    assert from_file == from_store == from_export
    by_hand = _online_elo(rows)
    shift = np.mean(list(by_hand.values())) - np.mean(list(from_file.values()))
    for model, rating in by_hand.items():  # the same up to where the scale is anchored
        assert from_file[model] + shift == pytest.approx(rating, abs=1e-6)
