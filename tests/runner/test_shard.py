"""``--shard K/N``: each task's documents split by a hash of the document id, after ``--limit``;
shards never overlap, their union is the task, and the merged shard stores equal one run,
sample for sample, whatever the batch size, the limit or the executor."""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend, answer_key
from stored_records import stored_records

import assay.runner
from assay.core import stable_hash
from assay.errors import InputError
from assay.runner import doc_shard, evaluate, parse_shard, shard_documents
from assay.store import merge_stores, open_store
from assay.tasks import load_task

TASKS = ("arith_mc", "arith_gen", "logic_tf")


def knowing(*names: str) -> FakeBackend:
    key = answer_key(i for name in names for i in load_task(name).instances(permute_choices=2))
    return FakeBackend(answers=key, skill=0.5)


def doc_ids(path, task: str | None = None) -> list[str]:
    samples = open_store(path).samples(task=task, with_metrics=False)
    return sorted(set(samples["doc_id"]))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("2/3", (2, 3)), (" 1 / 1 ", (1, 1)), ("8/8", (8, 8)), ((3, 4), (3, 4)), (None, None)],
)
def test_parse_shard_accepts(spec, expected):
    assert parse_shard(spec) == expected


@pytest.mark.parametrize("spec", ["0/3", "4/3", "a/b", "3", "1/0", "-1/3", "1/3/5", "", "½/2"])
def test_parse_shard_refuses_with_one_line(spec):
    with pytest.raises(InputError) as err:
        parse_shard(spec, "--shard")
    assert "\n" not in str(err.value) and str(err.value).startswith("--shard ")


def test_doc_shard_is_the_documented_hash():
    # int(sha256 of the JSON text of the id)[:16 hex] mod N, 1-based; ints count as their text
    for doc_id in ["0", "q17", "arith-00042", 7]:
        for n in (1, 2, 3, 8):
            assert doc_shard(doc_id, n) == int(stable_hash(str(doc_id)), 16) % n + 1
    assert doc_shard(7, 5) == doc_shard("7", 5)


def test_shards_partition_every_task_whatever_the_limit():
    for name in TASKS:
        task = load_task(name)
        for limit in (None, 37):
            picked = task.instances(limit=limit, permute_choices=2)
            for n in (1, 2, 3, 5):
                parts = [shard_documents(picked, k, n) for k in range(1, n + 1)]
                ids = [{str(i.doc_id) for i in part} for part in parts]
                assert sum(len(p) for p in parts) == len(picked)  # every instance once
                assert set().union(*ids) == {str(i.doc_id) for i in picked}
                assert all(not (a & b) for j, a in enumerate(ids) for b in ids[j + 1 :])
                # a document's instances (orderings) all go to its one shard
                for k, part in enumerate(parts, 1):
                    assert all(doc_shard(i.doc_id, n) == k for i in part)
    # about 1/N each on a large task (a hash, so not exactly)
    docs = load_task("arith_mc").instances()
    sizes = [len(shard_documents(docs, k, 4)) for k in range(1, 5)]
    assert sum(sizes) == len(docs) and min(sizes) > 0.15 * len(docs)


def test_merged_shards_equal_one_run_record_for_record(tmp_path):
    kw = dict(limit=30, permute_choices=2, progress=False)
    one = evaluate(knowing(*TASKS), TASKS, store=tmp_path / "one.duckdb", batch_size=16, **kw)
    stores, new = [], 0
    for k, size in zip((1, 2, 3), (8, "auto", 64), strict=True):  # batch size per shard differs
        path = tmp_path / f"shard{k}.duckdb"
        result = evaluate(knowing(*TASKS), TASKS, store=path, batch_size=size, shard=f"{k}/3", **kw)
        assert result.run_ids == one.run_ids  # a shard's runs are the whole run's
        new += result.new_samples
        stores.append(path)
    assert new == one.new_samples == 30 + 2 * 30 * 2  # arith_gen; two orderings of the others
    for name in TASKS:  # the same --limit documents, split
        parts = [doc_ids(p, name) for p in stores]
        assert sorted(sum(parts, [])) == doc_ids(tmp_path / "one.duckdb", name)
    merged = tmp_path / "all.duckdb"
    merge_stores(stores, merged)
    single, union = stored_records(tmp_path / "one.duckdb"), stored_records(merged)
    assert len(single) == one.new_samples
    pd.testing.assert_frame_equal(union, single, check_exact=True)
    runs = open_store(merged).runs().set_index("run_id").sort_index()
    assert sorted(runs.index) == sorted(r for ids in one.run_ids.values() for r in ids)
    assert runs["finished_at"].notna().all()
    assert open_store(merged).models()["model"].tolist() == [one.model]
    # the summary of the merged store is the single run's, number for number
    keys = open_store(merged).samples()[["run_id", "doc_id", "repeat"]]
    pd.testing.assert_frame_equal(
        assay.runner.summarize(open_store(merged), keys).sort_values(["task", "metric"]),
        one.table.sort_values(["task", "metric"]),
        check_exact=False,
        rtol=1e-12,
    )


def test_shard_records_do_not_depend_on_batch_size_or_limit(tmp_path):
    task = load_task("arith_mc")
    kw = dict(permute_choices=2, progress=False, shard="2/3")
    evaluate(knowing("arith_mc"), task, store=tmp_path / "b8", limit=40, batch_size=8, **kw)
    evaluate(knowing("arith_mc"), task, store=tmp_path / "b32", limit=40, batch_size=32, **kw)
    b8, b32 = stored_records(tmp_path / "b8"), stored_records(tmp_path / "b32")
    pd.testing.assert_frame_equal(b8, b32, check_exact=True)
    # a shard of --limit 40 is shard 2/3 of the first 40 documents, nothing else
    first40 = {str(d.doc_id) for d in task.ordered_docs(40)}
    expected = sorted(d for d in first40 if doc_shard(d, 3) == 2)
    assert doc_ids(tmp_path / "b8") == expected and 0 < len(expected) < 40
    # and its records are those of the whole --limit 40 run (the larger run's subset)
    evaluate(knowing("arith_mc"), task, store=tmp_path / "all", limit=40, progress=False,
             permute_choices=2)  # fmt: skip
    whole = stored_records(tmp_path / "all")
    pd.testing.assert_frame_equal(
        whole[whole["doc_id"].isin(expected)].reset_index(drop=True), b8, check_exact=True
    )


def test_shard_resumes_and_a_bad_shard_writes_nothing(tmp_path):
    path = tmp_path / "s.duckdb"
    first = evaluate(knowing("arith_mc"), "arith_mc", store=path, limit=20, shard=(1, 2),
                     progress=False)  # fmt: skip
    again = knowing("arith_mc")
    second = evaluate(again, "arith_mc", store=path, limit=20, shard="1/2", progress=False)
    assert second.new_samples == 0 and second.resumed_samples == first.new_samples
    assert again.total == 0
    for bad in ("0/2", "3/2", "x/2", (0, 2), "1/2/3"):
        with pytest.raises(InputError):
            evaluate(FakeBackend(), "arith_mc", store=tmp_path / "new", shard=bad)
    assert not (tmp_path / "new").exists()


@pytest.fixture
def fake_cli(monkeypatch):
    """``assay eval -m fake`` evaluates with the shared fake (the CLI takes spec strings)."""
    fake = knowing("arith_mc", "arith_gen")
    real = assay.runner.evaluate

    def evaluate_with_fake(model, *args, **kwargs):
        return real(fake if model == "fake" else model, *args, **kwargs)

    monkeypatch.setattr(assay.runner, "evaluate", evaluate_with_fake)
    monkeypatch.setattr(assay.runner._job, "evaluate", evaluate_with_fake)
    return fake


def test_cli_shard_and_merge(fake_cli, tmp_path):
    base = ["eval", "-m", "fake", "-t", "arith_mc,arith_gen", "-n", "12", "--json"]
    code, out, err = run_main([*base, "--store", tmp_path / "one.duckdb"])
    assert code == 0, err
    total = json.loads(out)["new_samples"]
    counts = []
    for k in (1, 2):
        store = tmp_path / f"s{k}.duckdb"
        code, out, err = run_main([*base, "--shard", f"{k}/2", "--store", store])
        assert code == 0, err
        counts.append(json.loads(out)["new_samples"])
    assert sum(counts) == total == 24
    merged = tmp_path / "all.duckdb"
    code, out, err = run_main(
        ["store", "merge", tmp_path / "s1.duckdb", tmp_path / "s2.duckdb", "-o", merged]
    )
    assert code == 0, err
    assert f"+{total} samples" in out and "+1 models" in out
    pd.testing.assert_frame_equal(stored_records(merged), stored_records(tmp_path / "one.duckdb"))


@pytest.mark.parametrize("spec", ["0/3", "4/3", "a/b"])
def test_cli_bad_shard_is_one_line_and_creates_nothing(fake_cli, tmp_path, spec):
    store = tmp_path / "s.duckdb"
    code, out, err = run_main(["eval", "-m", "fake", "-t", "arith_mc", "--shard", spec,
                               "--store", store])  # fmt: skip
    assert code == 1 and err.strip().count("\n") == 0
    assert err.startswith("error: --shard") and "K/N" in err
    assert not store.exists() and fake_cli.total == 0


HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.mark.skipif(not HAS_RAY, reason="ray not installed")
def test_shards_on_ray_merge_to_the_local_run(tmp_path):
    import ray

    ray.init(
        address="local",  # a new instance of its own, not another process's cluster
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}},
    )
    try:
        kw = dict(limit=24, batch_size=8, permute_choices=2, progress=False)
        tasks = ("arith_mc", "logic_tf")
        evaluate(knowing(*tasks), tasks, store=tmp_path / "one", **kw)
        for k in (1, 2):
            evaluate(knowing(*tasks), tasks, store=tmp_path / f"r{k}", shard=f"{k}/2",
                     executor="ray", workers=2, **kw)  # fmt: skip
    finally:
        ray.shutdown()
    merge_stores([tmp_path / "r1", tmp_path / "r2"], tmp_path / "all")
    one = stored_records(tmp_path / "one")
    assert len(one) == 2 * 24 * 2  # two tasks, two orderings
    pd.testing.assert_frame_equal(stored_records(tmp_path / "all"), one, check_exact=True)


def test_grid_shards_merge_to_the_whole_grid(tmp_path):
    from assay.runner import Grid, run_grid

    grid = Grid(models=(knowing("arith_mc", "logic_tf"),), tasks=("arith_mc", "logic_tf"),
                seeds=(0, 1), limit=10)  # fmt: skip
    run_grid(grid, store=tmp_path / "one", progress=False)
    for k in (1, 2):
        run_grid(grid, store=tmp_path / f"g{k}", progress=False, shard=f"{k}/2")
    with pytest.raises(InputError, match="K must be between 1 and N"):
        run_grid(grid, store=tmp_path / "bad", progress=False, shard="3/2")
    assert not (tmp_path / "bad").exists()
    merge_stores([tmp_path / "g1", tmp_path / "g2"], tmp_path / "all")
    one = stored_records(tmp_path / "one")
    assert len(one) == 2 * 2 * 10  # two seeds (runs) x two tasks x 10 documents
    pd.testing.assert_frame_equal(stored_records(tmp_path / "all"), one, check_exact=True)
