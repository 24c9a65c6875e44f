"""``assay store merge``: samples, metrics, runs, model metadata and battles from many stores into
one; idempotent; a conflicting copy is one line naming the sample and writes nothing; inputs are
never modified; a crash leaves no half-written output."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main

from assay.errors import InputError
from assay.store import (
    Battle,
    ModelInfo,
    RunInfo,
    SampleRecord,
    battle_id,
    make_run_id,
    merge_stores,
    open_store,
)

KEY = ["run_id", "doc_id", "repeat"]


def _records(model: str, task: str, docs: range, seed: int = 0) -> list[SampleRecord]:
    run_id = make_run_id(model, task, num_fewshot=0, fewshot_seed=0)
    out = []
    for i in docs:
        rng = np.random.default_rng([seed, i])
        out.append(
            SampleRecord(
                run_id=run_id,
                model=model,
                task=task,
                doc_id=f"d{i:03d}",
                repeat=0,
                metrics={"acc": float(i % 2), "p_correct": float(rng.random())},
                prompt=f"Q{i}?",
                target=str(i % 4),
                prediction=str((i * 7) % 4),
                choice_logprobs=(-rng.gamma(2, 2, 4)).tolist(),
                choice_order=[0, 1, 2, 3],
                chosen_position=(i * 7) % 4,
                input_tokens=10 + i,
                output_tokens=1,
                latency_s=float(rng.random()),
                extra={"batch": f"b{i // 4}"},
            )
        )
    return out


def _store(path: Path, model: str, task: str, docs: range, **meta) -> Path:
    """A store with one run of ``model`` on ``task`` over ``docs``, and the model's metadata."""
    db = open_store(path)
    records = _records(model, task, docs)
    db.upsert_models([ModelInfo(model=model, **meta)])
    db.upsert_run(RunInfo(run_id=records[0].run_id, model=model, task=task, num_fewshot=0,
                          fewshot_seed=0))  # fmt: skip
    db.finish_run(records[0].run_id)
    db.write_samples(records)
    return path


def _table(path: Path, table: str) -> pd.DataFrame:
    df = open_store(path).sql(f"SELECT * FROM {table}")
    return df.sort_values(list(df.columns[:4])).reset_index(drop=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _samples(path: Path) -> pd.DataFrame:
    return _table(path, "samples").sort_values(KEY).reset_index(drop=True)


def _metrics(path: Path) -> pd.DataFrame:
    return _table(path, "sample_metrics").sort_values([*KEY, "metric"]).reset_index(drop=True)


@pytest.fixture
def shards(tmp_path) -> list[Path]:
    """Three stores: two halves of one run of m1, and m2 on another task."""
    meta = dict(family="fam", params=1.35e8, tokens=2e12, release_date="2024-11-01")
    return [
        _store(tmp_path / "a.duckdb", "m1", "t1", range(0, 10), **meta),
        _store(tmp_path / "b.duckdb", "m1", "t1", range(10, 25)),
        _store(tmp_path / "c.duckdb", "m2", "t2", range(0, 8), family="other", params=3.6e8),
    ]


def test_merge_unites_samples_metrics_runs_models(shards, tmp_path):
    whole = _store(tmp_path / "whole.duckdb", "m1", "t1", range(25))
    digests = [_digest(p) for p in shards]
    out = tmp_path / "all.duckdb"
    result = merge_stores(shards, out)
    assert result["added"] == {"models": 2, "runs": 2, "samples": 33, "sample_metrics": 66,
                               "battles": 0}  # fmt: skip
    assert [_digest(p) for p in shards] == digests  # inputs untouched
    merged = _samples(out)
    m1 = merged[merged["model"] == "m1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        m1.drop(columns="created_at"), _samples(whole).drop(columns="created_at"), check_exact=True
    )
    metrics = _metrics(out)
    expected = _metrics(whole)
    pd.testing.assert_frame_equal(
        metrics[metrics["run_id"] == expected["run_id"][0]].reset_index(drop=True), expected
    )
    runs = open_store(out).runs()
    assert len(runs) == 2 and runs["finished_at"].notna().all()  # the two halves: one run
    models = open_store(out).models().set_index("model")
    assert models.loc["m1", "family"] == "fam" and models.loc["m1", "params"] == 1.35e8
    assert models.loc["m1", "tokens"] == 2e12
    assert str(models.loc["m1", "release_date"])[:10] == "2024-11-01"
    assert models.loc["m2", "family"] == "other" and models.loc["m2", "params"] == 3.6e8
    assert not list(tmp_path.glob(".all.duckdb.merge-*"))  # no temporary file left


def test_merge_is_idempotent_and_takes_merged_stores(shards, tmp_path):
    out = tmp_path / "all.duckdb"
    merge_stores(shards, out)
    before = {t: _table(out, t) for t in ("samples", "sample_metrics", "runs", "models")}
    again = merge_stores(shards, out)  # into the existing output: nothing new
    assert set(again["added"].values()) == {0}
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_table(out, table), frame)
    # a store given twice, and merged stores as inputs, add nothing either
    assert set(merge_stores([shards[0], shards[0]], out)["added"].values()) == {0}
    part = tmp_path / "ab.duckdb"
    merge_stores(shards[:2], part)
    other = tmp_path / "from-merged.duckdb"
    merge_stores([part, shards[2], out], other)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_table(other, table), frame)


def test_existing_output_is_merged_into(shards, tmp_path):
    out = tmp_path / "all.duckdb"
    merge_stores(shards[:1], out)
    open_store(out).upsert_models([ModelInfo(model="m1", parent="base")])  # output's own data
    result = merge_stores(shards[1:], out)
    assert result["added"]["samples"] == 15 + 8
    assert len(open_store(out).samples()) == 10 + 15 + 8
    models = open_store(out).models().set_index("model")
    assert models.loc["m1", "parent"] == "base" and models.loc["m1", "family"] == "fam"


def _conflicting_copy(src: Path, dst: Path, sql: str) -> Path:
    dst.write_bytes(src.read_bytes())
    db = open_store(dst)
    with db.transaction() as con:
        con.execute(sql)
    return dst


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("UPDATE sample_metrics SET value = 1 - value WHERE doc_id = 'd003' AND metric = 'acc'",
         "metric acc is 0.0 here, 1.0 there"),
        ("UPDATE samples SET prediction = 'Z' WHERE doc_id = 'd003'", "prediction differs"),
        ("UPDATE samples SET choice_logprobs = [-1.0, -2.0, -3.0, -4.0] WHERE doc_id = 'd003'",
         "choice_logprobs differs"),
    ],
)  # fmt: skip
def test_conflict_is_one_line_naming_the_doc_and_writes_nothing(shards, tmp_path, sql, what):
    bad = _conflicting_copy(shards[0], tmp_path / "bad.duckdb", sql)
    digests = [_digest(p) for p in (*shards, bad)]
    out = tmp_path / "all.duckdb"
    with pytest.raises(InputError) as err:  # a new output: not created
        merge_stores([*shards, bad], out)
    line = str(err.value)
    assert "\n" not in line and "'d003'" in line and what in line
    assert str(bad) in line and str(shards[0]) in line and "nothing written" in line
    assert not out.exists() and not list(tmp_path.glob(".all.duckdb.merge-*"))
    merge_stores(shards, out)  # an existing output: left byte for byte
    before = _digest(out)
    with pytest.raises(InputError, match="'d003'"):
        merge_stores([bad], out)
    assert _digest(out) == before
    assert [_digest(p) for p in (*shards, bad)] == digests
    # the CLI: exit 1, one line on stderr, the output unchanged
    code, _, stderr = run_main(["store", "merge", bad, "-o", out])
    assert code == 1 and stderr.strip().count("\n") == 0 and "'d003'" in stderr
    assert _digest(out) == before


def test_timing_differences_are_not_conflicts(shards, tmp_path):
    copy = _conflicting_copy(shards[0], tmp_path / "rerun.duckdb",
                             "UPDATE samples SET latency_s = latency_s * 2, "
                             "created_at = created_at + INTERVAL 1 HOUR, extra = '{\"batch\": \"x\"}'")  # fmt: skip
    out = tmp_path / "all.duckdb"
    merge_stores([shards[0], copy], out)
    pd.testing.assert_frame_equal(_samples(out), _samples(shards[0]))  # the first copy kept


def test_scored_sample_replaces_an_errored_one_and_new_metrics_are_added(shards, tmp_path):
    errored = _conflicting_copy(
        shards[0], tmp_path / "errored.duckdb",
        "UPDATE samples SET prediction = NULL, extra = '{\"error\": \"timeout\"}' "
        "WHERE doc_id = 'd001'; DELETE FROM sample_metrics WHERE doc_id = 'd001'",
    )  # fmt: skip
    more = _conflicting_copy(
        shards[0], tmp_path / "more.duckdb",
        "INSERT INTO sample_metrics SELECT run_id, doc_id, \"repeat\", 'f1', value "
        "FROM sample_metrics WHERE metric = 'acc'",
    )  # fmt: skip
    out = tmp_path / "all.duckdb"
    merge_stores([errored, shards[0], more], out)
    pd.testing.assert_frame_equal(_samples(out), _samples(shards[0]))
    metrics = _metrics(out)
    assert set(metrics["metric"]) == {"acc", "p_correct", "f1"} and len(metrics) == 30
    # the other way round: the scored copy stays
    out2 = tmp_path / "all2.duckdb"
    merge_stores([shards[0], errored], out2)
    pd.testing.assert_frame_equal(_samples(out2), _samples(shards[0]))


def test_battles_come_through_with_one_id(tmp_path):
    votes = [
        Battle("m1", "m2", "model_a", prompt_id="p1", judge="human", source="file"),
        Battle("m2", "m1", "tie", prompt_id="p2", judge="human", source="file"),
    ]
    a, b = open_store(tmp_path / "a.duckdb"), open_store(tmp_path / "b.duckdb")
    a.add_battles(votes)
    b.add_battles(votes[:1] + [Battle("m1", "m3", "model_b", prompt_id="p3", source="web")])
    out = tmp_path / "all.duckdb"
    result = merge_stores([a.path, b.path], out)
    assert result["added"]["battles"] == 3
    battles = open_store(out).battles().set_index("battle_id")
    assert battle_id("m1", "m2", "model_a", "p1", "human") in battles.index
    assert battle_id("m1", "m3", "model_b", "p3") in battles.index
    assert sorted(battles["winner"]) == ["model_a", "model_b", "tie"]
    assert merge_stores([a.path, b.path], out)["added"]["battles"] == 0


def test_bad_inputs_are_one_line_and_write_nothing(shards, tmp_path):
    out = tmp_path / "all.duckdb"
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a store")
    cases = [
        ([tmp_path / "missing.duckdb"], out, "no store at"),
        ([junk], out, "not a DuckDB file"),
        ([], out, "at least one input"),
        ([shards[0]], shards[0], "is also the output"),
        ([shards[0]], tmp_path, "is a folder"),
        ([shards[0]], junk, "not a DuckDB file"),
    ]
    for inputs, target, message in cases:
        with pytest.raises(InputError, match=message) as err:
            merge_stores(inputs, target)
        assert "\n" not in str(err.value)
    assert not out.exists() and junk.read_text() == "not a store"


CRASH = """
import os, sys
from assay.store import _merge
real = _merge._Merger.add
def add(self, alias):
    real(self, alias)
    if alias == "src1":
        os._exit(9)  # killed mid-merge: no cleanup, no rename
_merge._Merger.add = add
_merge.merge_stores(sys.argv[2:], sys.argv[1])
"""


def test_killed_merge_leaves_no_half_output(shards, tmp_path):
    out = tmp_path / "all.duckdb"
    src = str(Path(__file__).resolve().parents[2] / "src")
    run = [sys.executable, "-c", CRASH, str(out), *map(str, shards)]
    env = {"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}
    assert subprocess.run(run, env=env, check=False).returncode == 9
    assert not out.exists()  # a new output: absent
    merge_stores(shards[:1], out)
    before = _digest(out)
    assert subprocess.run(run, env=env, check=False).returncode == 9
    assert _digest(out) == before  # an existing output: as it was
    assert len(open_store(out).samples()) == 10
    merge_stores(shards, out)  # and a later merge completes
    assert len(open_store(out).samples()) == 33
