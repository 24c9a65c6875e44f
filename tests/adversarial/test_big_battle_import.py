"""`assay import battles` and `assay rank battles FILE` stream their file (issue 29): a battle file
of about 300 MB whose battles carry long answers (`answer_a` / `answer_b`) is read a block at a
time and written in one transaction, so the peak memory of the child process stays under a
bound that reading it whole went far past; the store keeps the answers' style features, never
their text; a kill in the middle leaves the store as it was or complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_bombs import SRC, run_assay

from assay.core import text_style

pytestmark = pytest.mark.slow

FILE_MB = 300
PEAK_BOUND_KB = 600_000
"""Streamed: 0.43 GB (import) and 0.45 GB (rank --style-control) for this file; read whole, as
before, 1.07 and 1.30 GB (benchmarks/arena_import_memory.py --mb 300)."""
MODELS = [f"model-{i}" for i in range(8)]


def answer(i: int, side: int, chars: int = 4000) -> str:
    """A markdown answer of about ``chars`` characters: headers, list items and bold spans in
    numbers that vary with the battle."""
    lines = [f"# Answer {i} {side}"] + [f"## part {j}" for j in range(i % 3)]
    lines += [f"- item {j} with **bold {j}**" for j in range((i + side) % 5)]
    body = " ".join(f"word{(i * 31 + k) % 997}" for k in range(chars // 8))
    return "\n".join([*lines, body])


def battle(i: int) -> dict:
    a = MODELS[i % len(MODELS)]
    b = MODELS[(i + 1 + i // len(MODELS)) % len(MODELS)]
    b = b if b != a else MODELS[(i + 2) % len(MODELS)]
    return {
        "model_a": a,
        "model_b": b,
        "winner": ("model_a", "model_b", "tie")[(i * 7) % 3],
        "question_id": f"q{i}",
        "tstamp": 1_700_000_000 + i,
        "answer_a": answer(i, 0),
        "answer_b": answer(i, 1),
    }


def big_battles(path: Path, megabytes: int) -> int:
    """A JSON-lines battle file of about ``megabytes`` MB, written a block at a time."""
    n, written = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while written < megabytes * 10**6:
            text = "".join(json.dumps(battle(i)) + "\n" for i in range(n, n + 500))
            handle.write(text)
            written += len(text.encode())
            n += 500
    return n


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("battles") / "arena.jsonl"
    return path, big_battles(path, FILE_MB)


def _stored(store: Path) -> pd.DataFrame:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute("SELECT * FROM battles").df()
    finally:
        con.close()


def test_a_300_mb_battle_file_with_answers_streams_under_the_bound(big_file, tmp_path):
    path, n = big_file
    assert path.stat().st_size > 0.9 * FILE_MB * 10**6
    store = tmp_path / "s.duckdb"
    status, text, peak_kb = run_assay(
        ["import", "battles", str(path), "--store", str(store), "--json"], tmp_path
    )
    assert status == 0, text[-2000:]
    assert peak_kb < PEAK_BOUND_KB, f"peak {peak_kb / 1e6:.2f} GB"
    summary = json.loads(text[text.index("{") :])
    assert (summary["battles"], summary["new"]) == (n, n)
    rows = _stored(store).set_index("prompt_id")
    assert len(rows) == n and "answer_a" not in rows.columns
    for i in (0, 1, n // 2, n - 1):  # the style features of the answers, not their text
        want = text_style(pd.Series([answer(i, 0), answer(i, 1)]))
        got = [json.loads(rows.loc[f"q{i}", side]) for side in ("style_a", "style_b")]
        assert got == want.to_dict(orient="records")
    # again: a no-op, under the same bound
    status, text, peak_kb = run_assay(
        ["import", "battles", str(path), "--store", str(store), "--json"], tmp_path
    )
    assert status == 0 and peak_kb < PEAK_BOUND_KB, text[-2000:]
    assert json.loads(text[text.index("{") :])["new"] == 0


def test_rank_battles_on_the_file_keeps_no_answer_text(big_file, tmp_path):
    path, n = big_file
    store = tmp_path / "s.duckdb"
    args = ["rank", "battles", str(path), "--store", str(store), "--json", "--bootstrap", "0"]
    status, text, peak_kb = run_assay([*args, "--style-control"], tmp_path)
    assert status == 0, text[-2000:]
    assert peak_kb < PEAK_BOUND_KB, f"peak {peak_kb / 1e6:.2f} GB"
    result = json.loads(text[text.index("{") :])
    assert result["n_battles"] == n
    assert set(result["style_coefficients"]) == {
        "length",
        "header_count",
        "list_count",
        "bold_count",
    }
    assert len(_stored(store)) == n


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc; 0 when it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_kill_in_the_middle_leaves_the_store_as_it_was_or_complete(big_file, tmp_path):
    path, n = big_file
    store = tmp_path / "s.duckdb"
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(battle(i)) + "\n" for i in range(n, n + 10)))
    status, text, _ = run_assay(["import", "battles", str(small), "--store", str(store)], tmp_path)
    assert status == 0, text
    before = _stored(store)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "assay", "import", "battles", str(path), "--store", str(store)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # killed once it has used 4 CPU seconds: past start-up, in the import (when exactly does not
    # matter: either outcome is checked)
    while child.poll() is None and _cpu_seconds(child.pid) < 4.0:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    after = _stored(store)
    assert len(after) in (len(before), len(before) + n)
    if len(after) == len(before):
        pd.testing.assert_frame_equal(
            after.sort_values("battle_id").reset_index(drop=True),
            before.sort_values("battle_id").reset_index(drop=True),
        )


def test_a_json_document_of_the_same_battles_streams_too(big_file, tmp_path):
    """The same votes as one JSON list (`.json`): read an element at a time, under the bound
    (read whole, as before: 1.7 GB for `rank battles` on this file)."""
    path, n = big_file
    doc = tmp_path / "arena.json"
    with path.open(encoding="utf-8") as lines, doc.open("w", encoding="utf-8") as out:
        out.write("[")
        for i, line in enumerate(lines):
            out.write(("," if i else "") + line)
        out.write("]")
    store = tmp_path / "s.duckdb"
    status, text, peak_kb = run_assay(
        ["import", "battles", str(doc), "--store", str(store), "--json"], tmp_path
    )
    assert status == 0, text[-2000:]
    assert peak_kb < PEAK_BOUND_KB, f"peak {peak_kb / 1e6:.2f} GB"
    assert json.loads(text[text.index("{") :])["battles"] == n
    assert len(_stored(store)) == n
