"""Resume, ``--limit`` and the ``assay eval`` command with the deterministic fake backend: what
is stored is never recomputed, a crashed run resumes to exactly an uninterrupted run's store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend, FakeCrash, answer_key

import assay.runner
from assay.runner import CostFit, EvalResult, evaluate
from assay.store import open_store
from assay.tasks import load_task

TASKS = ("arith_mc", "arith_gen", "sequence_rolling")
VOLATILE = ("latency_s", "created_at")  # wall-clock values; the rest must agree exactly
VOLATILE_EXTRA = ("batch", "batch_seconds")


def knowing(*names: str, skill: float = 0.5, **options) -> FakeBackend:
    key = answer_key(i for name in names for i in load_task(name).instances())
    return FakeBackend(answers=key, skill=skill, **options)


def stored(path) -> pd.DataFrame:
    """The store's samples without timing: equal for equal work, whatever the chunking."""
    samples = open_store(path).samples().drop(columns=list(VOLATILE))
    samples["extra"] = [
        json.dumps({k: v for k, v in json.loads(e).items() if k not in VOLATILE_EXTRA})
        for e in samples["extra"]
    ]
    return samples.sort_values(["run_id", "doc_id", "repeat"]).reset_index(drop=True)


def test_second_call_computes_nothing(tmp_path):
    path = tmp_path / "s.duckdb"
    first = evaluate(knowing(*TASKS), TASKS, store=path, limit=10, progress=False)
    assert (first.new_samples, first.resumed_samples) == (30, 0)
    before = stored(path)
    again = knowing(*TASKS)
    second = evaluate(again, TASKS, store=path, limit=10, progress=False)
    assert again.total == 0 and not again.calls  # not a single backend call
    assert (second.new_samples, second.resumed_samples) == (0, 30)
    pd.testing.assert_frame_equal(second.table, first.table)
    pd.testing.assert_frame_equal(stored(path), before)
    runs = open_store(path).runs()
    assert len(runs) == 3 and runs["finished_at"].notna().all()


def test_crashed_run_resumes_to_the_uninterrupted_store(tmp_path):
    clean = tmp_path / "clean.duckdb"
    evaluate(knowing(*TASKS), TASKS, store=clean, limit=16, batch_size=8, progress=False)

    # chunks of 8 documents: arith_mc 2 x 32 requests, then arith_gen 8, then the crash
    path = tmp_path / "crash.duckdb"
    crashing = knowing(*TASKS, fail_after=64 + 8 + 1)
    with pytest.raises(FakeCrash):
        evaluate(crashing, TASKS, store=path, limit=16, batch_size=8, progress=False)
    assert crashing.answered == {"loglikelihood": 64, "generate": 8}
    partial = open_store(path).samples()
    assert partial.groupby("task").size().to_dict() == {"arith_mc": 16, "arith_gen": 8}
    assert open_store(path).runs()["finished_at"].isna().all()  # started, never finished

    resumed = knowing(*TASKS)
    result = evaluate(resumed, TASKS, store=path, limit=16, batch_size=8, progress=False)
    assert (result.new_samples, result.resumed_samples) == (8 + 16, 24)
    assert resumed.answered == {"generate": 8, "loglikelihood_rolling": 16}  # only the missing
    done = set(partial.loc[partial["task"] == "arith_gen", "doc_id"])
    todo = [i for i in load_task("arith_gen").instances(limit=16) if i.doc_id not in done]
    asked = [r.context for r in resumed.seen if hasattr(r, "context")]
    assert sorted(asked) == sorted(i.prompt for i in todo)

    pd.testing.assert_frame_equal(stored(path), stored(clean))
    runs, clean_runs = (
        open_store(p).runs().set_index("run_id").sort_index() for p in (path, clean)
    )
    assert list(runs.index) == list(clean_runs.index) and runs["finished_at"].notna().all()


def test_limit_takes_exactly_the_first_documents(tmp_path):
    path = tmp_path / "s.duckdb"
    task = load_task("arith_mc")
    order = [d.doc_id for d in task.ordered_docs()]
    fake = knowing("arith_mc")
    five = evaluate(fake, task, store=path, limit=5, progress=False)
    assert five.new_samples == 5 and fake.total == 5 * 4
    assert sorted(open_store(path).samples()["doc_id"]) == sorted(order[:5])
    assert sorted({r.context for r in fake.seen}) == sorted(i.prompt for i in task.instances()[:5])

    fake.reset()
    eight = evaluate(fake, task, store=path, limit=8, permute_choices=0, progress=False)
    assert (eight.new_samples, eight.resumed_samples) == (3, 5) and fake.total == 3 * 4
    asked = {r.context for r in fake.seen}
    assert asked == {i.prompt for i in task.instances()[5:8]}  # the next three, nothing else
    assert row_n(eight) == 8

    permuted = evaluate(
        knowing("arith_mc"), task, store=path, limit=4, permute_choices=3, progress=False
    )
    assert (permuted.new_samples, row_n(permuted)) == (12, 4)  # 4 documents x 3 orderings
    everything = evaluate(
        FakeBackend(), "sequence_rolling", store=path, limit=10_000, progress=False
    )
    assert everything.new_samples == len(load_task("sequence_rolling").docs)


def row_n(result) -> int:
    return int(result.table.set_index("metric").loc["acc", "n"])


@pytest.fixture
def fake_cli(monkeypatch):
    """``assay eval -m fake`` runs the shared fake: the CLI takes only spec strings, so the
    runner's ``evaluate`` (which the command imports when it runs) swaps the backend in."""
    fake = knowing("arith_mc", "arith_gen")
    real = assay.runner.evaluate

    def evaluate_with_fake(model, *args, **kwargs):
        return real(fake if model == "fake" else model, *args, **kwargs)

    monkeypatch.setattr(assay.runner, "evaluate", evaluate_with_fake)
    monkeypatch.setattr(assay.runner._job, "evaluate", evaluate_with_fake)  # the CLI's jobs
    return fake


def test_cli_eval_limit_json_and_resume(fake_cli, tmp_path):
    path = tmp_path / "s.duckdb"
    argv = ["eval", "-m", "fake", "-t", "arith_mc", "-t", "arith_gen", "--store", path]
    code, out, err = run_main([*argv, "-n", "6", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert (data["model"], data["new_samples"], data["resumed_samples"]) == ("fake", 12, 0)
    direct = assay.runner.summarize(
        open_store(path),
        open_store(path).samples()[["run_id", "doc_id", "repeat"]],
    )
    by_key = {(r["task"], r["metric"]): r for r in data["results"]}
    for _, r in direct.iterrows():
        got = by_key[(r["task"], r["metric"])]
        assert (got["n"], got["n_samples"]) == (6, 6)
        assert got["mean"] == pytest.approx(r["mean"], abs=1e-12, nan_ok=True)
    known = sum(fake_cli.knows(i.prompt) for i in load_task("arith_mc").instances(limit=6))
    assert by_key[("arith_mc", "acc")]["mean"] == pytest.approx(known / 6)
    assert sorted(open_store(path).samples(task="arith_mc")["doc_id"]) == sorted(
        d.doc_id for d in load_task("arith_mc").ordered_docs(6)
    )

    fake_cli.reset()
    code, out, err = run_main([*argv, "-n", "6", "--no-progress"])
    assert code == 0, err
    assert "0 new samples, 12 already stored" in out and fake_cli.total == 0
    assert "arith_mc" in out and "exact_match" in out


def _fit(r2: float, batches: int) -> CostFit:
    nan = float("nan")
    return CostFit("fake:cpu", 0.01, 1e-4, nan, nan, nan, nan, r2, batches, 8 * batches, 1.0)


@pytest.mark.parametrize(
    ("new_batches", "r2", "shown"),
    [
        (5, 0.9, "R² 0.900, 5 batches"),
        (3, 0.0, "R² 0.000, 5 batches"),  # the fit counts every stored batch
        (2, 0.9, "cost fit: not enough batches (2 timed"),
        (5, -63.08, "cost fit: timings too noisy"),
        (5, float("nan"), "cost fit: timings too noisy"),
        (0, 0.9, None),  # a resumed run that computed nothing prints no fit
    ],
)
def test_cost_line_only_when_meaningful(new_batches, r2, shown):
    from assay.cli.eval import cost_line

    result = EvalResult("m", pd.DataFrame(), _fit(r2, 5), new_batches=new_batches)
    line = cost_line(result)
    assert line == shown if shown is None else shown in line
    assert cost_line(EvalResult("m", pd.DataFrame(), None, new_batches=5)) is None


def test_cli_eval_resumed_run_prints_no_cost_fit_but_json_keeps_it(fake_cli, tmp_path):
    path = tmp_path / "s.duckdb"
    argv = ["eval", "-m", "fake", "-t", "arith_mc", "--store", path, "-n", "6"]
    code, out, err = run_main([*argv, "--no-progress"])
    assert code == 0, err
    assert "not enough batches (1 timed" in out and "R²" not in out
    code, out, err = run_main([*argv, "--no-progress"])
    assert code == 0, err
    assert "0 new samples" in out and "cost fit" not in out and "R²" not in out
    code, out, err = run_main([*argv, "--json"])
    data = json.loads(out)
    assert data["new_batches"] == 0 and data["cost_fit"]["n_batches"] == 1


def test_cli_eval_takes_comma_separated_tasks(fake_cli, tmp_path):
    path = tmp_path / "s.duckdb"
    code, out, err = run_main(
        ["eval", "-m", "fake", "-t", "arith_mc, arith_gen", "-t", "arith_mc", "--store", path,
         "-n", "3", "--json"]
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["new_samples"] == 6  # two tasks, the repeated name once
    assert sorted(open_store(path).samples()["task"].unique()) == ["arith_gen", "arith_mc"]
