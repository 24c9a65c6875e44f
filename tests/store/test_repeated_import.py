"""Honest about repeated work: re-importing the same files says how many samples were new and
how many the store held already, and the store's sample count does not change."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_main
from lm_eval_files import write_lm_eval_output

from assay.store import import_lm_eval, import_samples, open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"


def _count(path, table: str = "samples") -> int:
    return int(open_store(path).sql(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])


def test_reimporting_lm_eval_says_0_new_and_keeps_the_count(tmp_path):
    model_dir, _ = write_lm_eval_output(tmp_path / "out", n_docs=40)
    store = tmp_path / "s.duckdb"
    code, out, err = run_main(["import", "lm-eval", model_dir, "--store", store])
    assert code == 0, err
    assert ": 40 new samples (0 already in the store)" in out
    assert _count(store) == 40
    code, out, err = run_main(["import", "lm-eval", model_dir, "--store", store])
    assert code == 0, err
    assert "imported 40 samples in 1 runs" in out
    assert ": 0 new samples (40 already in the store)" in out
    assert _count(store) == 40
    code, out, err = run_main(["import", "lm-eval", model_dir, "--store", store, "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert (data["samples"], data["new"], data["present"]) == (40, 0, 40)


def test_a_partly_new_import_counts_only_the_new_samples(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    first, _ = write_lm_eval_output(tmp_path / "a", n_docs=10)
    more, _ = write_lm_eval_output(tmp_path / "b", n_docs=25)  # the same first 10 docs
    one = import_lm_eval(store, first)
    assert (one.samples, one.new, one.present) == (10, 10, 0)
    two = import_lm_eval(store, more)
    assert (two.samples, two.new, two.present) == (25, 15, 10)
    assert _count(store.path) == 25


def test_reimporting_sample_rows_says_0_new(tmp_path):
    store = tmp_path / "s.duckdb"
    rows = EXAMPLES / "rows.csv"
    argv = ["import", "samples", rows, "--map", "model=system", "--map", "doc_id=item"]
    argv += ["--metric", "correct", "--store", store]
    code, out, err = run_main(argv)
    assert code == 0, err
    total = _count(store)
    assert total > 0 and f": {total} new samples (0 already in the store)" in out
    code, out, err = run_main(argv)
    assert code == 0, err
    assert f": 0 new samples ({total} already in the store)" in out
    assert _count(store) == total
    api = import_samples(
        open_store(store),
        rows,
        mapping={"model": "system", "doc_id": "item"},
        metrics=["correct"],
    )
    assert (api["samples"], api["new"], api["present"]) == (total, 0, total)


def test_reimporting_battles_says_0_new(tmp_path):
    store = tmp_path / "s.duckdb"
    argv = ["import", "battles", EXAMPLES / "arena.jsonl", "--store", store]
    code, out, err = run_main(argv)
    assert code == 0, err
    total = _count(store, "battles")
    assert f": {total} new battles (0 already in the store)" in out
    code, out, err = run_main([*argv, "--json"])
    assert code == 0, err
    assert json.loads(out)["new"] == 0 and json.loads(out)["present"] == total
    assert _count(store, "battles") == total


def test_reimporting_keeps_when_each_sample_was_first_stored(tmp_path):
    """A re-import stamped every stored sample's created_at anew (INSERT OR REPLACE)."""
    model_dir, _ = write_lm_eval_output(tmp_path / "out", n_docs=12)
    store = open_store(tmp_path / "s.duckdb")
    import_lm_eval(store, model_dir)
    stamps = "SELECT doc_id, created_at FROM samples ORDER BY doc_id"
    before = store.sql(stamps)
    store.sql("UPDATE samples SET created_at = created_at - INTERVAL 1 DAY")
    earlier = store.sql(stamps)
    assert (earlier["created_at"] < before["created_at"]).all()
    again = import_lm_eval(store, model_dir)
    assert again.present == 12
    assert store.sql(stamps).equals(earlier)
