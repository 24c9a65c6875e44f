"""Battle files read a block at a time (issue 29): whatever the block size, the same battles,
line numbers, errors, count-table limits and vote ids as one read of the whole file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from assay.errors import InputError
from assay.rank import (
    CompactBattles,
    _battle_files,
    _battles,
    battle_blocks,
    battle_ids,
    fit_battles,
    import_battles,
    read_battles,
)
from assay.store import open_store

ROWS = [
    {
        "id": f"v{i}",
        "model_a": f"m{i % 3}",
        "model_b": f"m{(i + 1) % 3}",
        "winner": ("model_a", "model_b", "tie")[i % 3 if i % 4 else 0],
        "question_id": i if i < 9 else f"q{i}",  # a number, then text: a type change
        "tstamp": 1_700_000_000 + i,
        "answer_a": "# h\n- x **b**" * (i % 4),
        "answer_b": "word " * i,
    }
    for i in range(30)
]


def _write(path: Path, rows=ROWS, end: str = "\n") -> Path:
    path.write_text(end.join(json.dumps(r) for r in rows) + end)
    return path


def _whole(path: Path, monkeypatch, **kw) -> pd.DataFrame:
    with monkeypatch.context() as m:
        m.setattr(_battle_files, "BLOCK_BYTES", 1 << 30)
        m.setattr(_battle_files, "BLOCK_ROWS", 1 << 30)
        return read_battles(path, **kw)


@pytest.mark.parametrize("size", [1, 150, 700, 5000])
def test_any_block_size_reads_what_one_block_reads(tmp_path, monkeypatch, size):
    path = _write(tmp_path / "b.jsonl")
    whole = _whole(path, monkeypatch, extras=True)
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", size)  # 1: every line longer than a block
    blocks = list(battle_blocks(path, extras=True))
    assert len(blocks) > 1 or size == 5000
    pd.testing.assert_frame_equal(pd.concat(blocks, ignore_index=True), whole, check_dtype=False)
    assert list(whole["vote_id"]) == [f"v{i}" for i in range(30)]
    assert list(whole["prompt_id"][:10]) == [*map(str, range(9)), "q9"]


def test_crlf_no_final_newline_and_a_bom(tmp_path, monkeypatch):
    plain = _whole(_write(tmp_path / "a.jsonl"), monkeypatch)
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", 400)
    crlf = _write(tmp_path / "b.jsonl", end="\r\n")
    pd.testing.assert_frame_equal(read_battles(crlf), plain, check_dtype=False)
    last = tmp_path / "c.jsonl"
    last.write_text("\n".join(json.dumps(r) for r in ROWS))  # no newline at the end
    pd.testing.assert_frame_equal(read_battles(last), plain, check_dtype=False)
    bom = tmp_path / "d.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + _write(tmp_path / "e.jsonl").read_bytes())
    pd.testing.assert_frame_equal(read_battles(bom), plain, check_dtype=False)


def test_errors_name_the_line_in_any_block(tmp_path, monkeypatch):
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", 300)
    rows = [*ROWS[:20], {"model_a": "m1", "model_b": "m1", "winner": "tie"}, *ROWS[20:]]
    with pytest.raises(InputError, match="line 21: model_a and model_b are the same"):
        read_battles(_write(tmp_path / "b.jsonl", rows))
    lines = [json.dumps(r) for r in ROWS]
    lines[25] = lines[25][:-1]  # bad JSON on line 26
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="line 26: not valid JSON"):
        read_battles(tmp_path / "c.jsonl")


def test_count_limit_spans_the_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", 60)
    monkeypatch.setattr(_battles, "MAX_BATTLES", 10)
    rows = [{"model_a": "a", "model_b": "b", "winner": "tie", "count": 3}] * 4
    with pytest.raises(InputError, match="line 4: the counts add up to more than 10 battles"):
        read_battles(_write(tmp_path / "b.jsonl", rows))
    mixed = [rows[0], {"model_a": "a", "model_b": "b", "winner": "tie", "judge": "j" * 80}]
    with pytest.raises(InputError, match="line 2: field 'count' is (missing here|empty)"):
        read_battles(_write(tmp_path / "c.jsonl", mixed))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet_in_batches(tmp_path, monkeypatch, suffix):
    frame = pd.DataFrame(ROWS).drop(columns=["answer_a", "answer_b"])
    frame["question_id"] = frame["question_id"].astype(str)
    path = tmp_path / f"b{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    whole = _whole(path, monkeypatch, extras=True)
    monkeypatch.setattr(_battle_files, "BLOCK_ROWS", 7)
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", 200)
    pd.testing.assert_frame_equal(read_battles(path, extras=True), whole, check_dtype=False)
    assert list(whole["vote_id"]) == [f"v{i}" for i in range(30)]


def test_compact_codes_fit_as_the_frame_does(tmp_path, monkeypatch):
    path = _write(tmp_path / "b.jsonl")
    whole = read_battles(path, extras=True)
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", 500)
    compact = CompactBattles(styles=True, ids=True)
    for block in battle_blocks(path, extras=True):
        compact.add(block)
    frame = compact.frame()
    assert list(frame["vote_id"]) == list(whole["vote_id"])
    for kw in ({"bootstrap": 50, "seed": 2}, {"ci": "sandwich"}, {"style_control": True}):
        ours, theirs = fit_battles(frame, **kw), fit_battles(whole, **kw)
        pd.testing.assert_frame_equal(ours.table, theirs.table)
        assert ours.info == theirs.info


def test_blocks_import_with_the_ids_of_the_whole_file(tmp_path, monkeypatch):
    rows = [*ROWS, *ROWS[:5]]  # repeated votes: occurrences 1 in a later block
    path = _write(tmp_path / "b.jsonl", rows)
    want = set(battle_ids(read_battles(path)))
    monkeypatch.setattr(_battle_files, "BLOCK_BYTES", 250)
    store = open_store(tmp_path / "s.duckdb")
    assert import_battles(store, path) == 35
    stored = store.battles()
    assert set(stored["battle_id"]) == want and len(stored) == 35
    assert stored["style_a"].notna().all()
    assert import_battles(store, path) == 35 and len(store.battles()) == 35  # a no-op


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("rows", [1, 7, 1000])
def test_a_json_document_is_read_an_element_at_a_time(tmp_path, monkeypatch, wrapped, rows):
    """A `.json` list (or `{"battles": [...]}`) gives, in blocks of any size, the battles and
    vote ids the JSON-lines file of the same votes gives."""
    lines = _whole(_write(tmp_path / "b.jsonl"), monkeypatch, extras=True)
    doc = {"note": "x", "battles": ROWS, "later": [1, 2]} if wrapped else ROWS
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc, indent=1))
    monkeypatch.setattr(_battle_files, "BLOCK_ROWS", rows)
    blocks = list(battle_blocks(path, extras=True))
    assert len(blocks) == -(-30 // min(rows, 30))
    got = pd.concat(blocks, ignore_index=True)
    pd.testing.assert_frame_equal(got, lines, check_dtype=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"model_a": "a", "model_b": "b", "winner": "model_a"}, 3]', "JSON list of battle"),
        ('"battles"', "JSON list of battle objects"),
        ('[{"model_a": "a"}\n, {"model_b": ]', "line 2: not valid JSON"),
        ('[{"model_a": "a", "model_b": "b", "winner": "model_a"}] [', "Extra data"),
    ],
)
def test_a_bad_json_document_is_one_line(tmp_path, text, message):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        list(battle_blocks(path))
