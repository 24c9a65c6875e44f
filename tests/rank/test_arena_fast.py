"""Large arenas fast (issue 33 item 4): the block reader gives what the careful reader gives,
bad rows still name their line, the bootstrap in blocks is the documented draw, and the store
writes new votes with a plain insert but still upserts the stored ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.rank import (
    _battle_files,
    _pairwise,
    aggregate_battles,
    fit_battles,
    read_battles,
    store_battles,
)
from assay.rank._fit import fit_pairs
from assay.store import open_store


def _arena(path: Path, n: int = 3000, k: int = 6, seed: int = 1) -> Path:
    """A simulated arena (strengths 0.4 logits apart, 15 % ties) as JSON lines."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p = 1 / (1 + np.exp(-(a - b) * 0.4))
    u, t = rng.random(n), rng.random(n)
    winner = np.where(t > 0.85, "tie", np.where(u < p, "model_a", "model_b"))
    with path.open("w") as handle:
        for i in range(n):
            row = {
                "model_a": f"m{a[i]}",
                "model_b": f"m{b[i]}",
                "winner": str(winner[i]),
                "question_id": f"q{i % 997}",
                "judge": f"user{i % 13}",
                "tstamp": 1700000000 + i,
            }
            handle.write(json.dumps(row) + "\n")
    return path


def _careful(monkeypatch) -> None:
    monkeypatch.setattr(_battle_files, "_block_fast", lambda *args: None)


def test_block_reader_gives_the_careful_readers_battles_and_ratings(tmp_path, monkeypatch):
    file = _arena(tmp_path / "arena.jsonl")
    assert _battle_files._block_fast(file, file.read_bytes(), 1) is not None  # the fast path
    fast = read_battles(file, extras=True)
    fast_bt = fit_battles(fast, bootstrap=200, seed=3)
    fast_sw = fit_battles(fast, ci="sandwich")
    _careful(monkeypatch)
    slow = read_battles(file, extras=True)
    cols = ["model_a", "model_b", "winner", "prompt_id", "judge", "vote_id"]
    pd.testing.assert_frame_equal(
        fast[cols].astype(object), slow[cols].astype(object), check_index_type=False
    )
    assert (fast["time"].to_numpy() == slow["time"].to_numpy()).all()
    for ours, theirs in (
        (fast_bt, fit_battles(slow, bootstrap=200, seed=3)),
        (fast_sw, fit_battles(slow, ci="sandwich")),
    ):
        pd.testing.assert_frame_equal(ours.table, theirs.table, check_exact=True)
        np.testing.assert_array_equal(ours.bootstrap, theirs.bootstrap)


@pytest.mark.parametrize(
    ("line", "text", "message"),
    [
        (7, '{"model_a": "m1", "model_b": "m2", "winner": "nobody"}', "line 7: field 'winner'"),
        (5, '{"model_a": 3, "model_b": "m2", "winner": "tie"}', "line 5: field 'model_a'"),
        (9, '{"model_a": "m1", "model_b": "m1", "winner": "tie"}', "line 9: model_a and model_b"),
        (4, '{"model_a": "m1", "model_b": "m2", "winner": "tie"', "line 4"),
    ],
)
def test_bad_rows_still_give_one_line_errors_naming_the_line(tmp_path, line, text, message):
    file = _arena(tmp_path / "arena.jsonl", n=12)
    lines = file.read_text().splitlines()
    lines[line - 1] = text
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_battles(file)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_blank_lines_keep_their_line_numbers(tmp_path):
    file = _arena(tmp_path / "arena.jsonl", n=6)
    lines = file.read_text().splitlines()
    lines.insert(2, "")  # the bad row moves to line 6
    lines[5] = '{"model_a": "m1", "model_b": "m2", "winner": "m1"}'
    file.write_text("\n".join(lines) + "\n")
    assert list(next(_battle_files._jsonl_frames(file)).index)[:4] == [1, 2, 4, 5]
    with pytest.raises(InputError, match="line 6: field 'winner'"):
        read_battles(file)


def test_bootstrap_in_blocks_is_one_seeded_stream_per_block(tmp_path, monkeypatch):
    battles = read_battles(_arena(tmp_path / "arena.jsonl", n=800))
    monkeypatch.setattr(_pairwise, "replicate_block", lambda dim: 7)
    got = fit_battles(battles, bootstrap=30, seed=11)
    pairs = aggregate_battles(battles)
    k = len(pairs.models)
    start = fit_pairs(pairs.pair_i, pairs.pair_j, pairs.counts, k)
    want = []
    for i, stream in enumerate(np.random.SeedSequence(11).spawn(5)):  # blocks of 7, 7, 7, 7, 2
        counts = _pairwise.resample_counts(
            pairs.counts, 2 if i == 4 else 7, np.random.default_rng(stream)
        )
        want.append(fit_pairs(pairs.pair_i, pairs.pair_j, counts, k, start=start).theta)
    theta = np.concatenate(want)
    elo = _pairwise.ELO_PER_LOGIT * theta
    elo = elo - elo.mean(axis=1, keepdims=True) + 1000
    np.testing.assert_allclose(got.bootstrap, elo, atol=1e-9)


def test_store_import_inserts_new_votes_and_upserts_stored_ones(tmp_path):
    battles = read_battles(_arena(tmp_path / "arena.jsonl", n=50))
    store = open_store(tmp_path / "s.duckdb")
    no_time = battles.assign(time=None)
    assert store_battles(store, no_time, source=None) == 50
    # again, with times and a source: the stored votes get them filled in, no new rows
    store_battles(store, battles, source="second")
    rows = store.battles()
    assert len(rows) == 50
    assert rows["time"].notna().all() and (rows["source"] == "second").all()
    # a third import keeps the first time and source
    store_battles(store, battles.assign(time=pd.Timestamp("2030-01-01")), source="third")
    rows = store.battles()
    assert (rows["source"] == "second").all()
    assert (rows["time"] < pd.Timestamp("2030-01-01")).all()
    # a caller's own id stored already: its fields are overwritten (the upsert)
    store.add_battles([{"battle_id": "mine", "model_a": "m1", "model_b": "m2", "winner": "tie"}])
    store.add_battles(
        [{"battle_id": "mine", "model_a": "m1", "model_b": "m2", "winner": "model_a"}]
    )
    mine = store.battles().set_index("battle_id").loc["mine"]
    assert mine["winner"] == "model_a"
    assert len(store.battles()) == 51
