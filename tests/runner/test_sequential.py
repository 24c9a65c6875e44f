"""``evaluate_until_decided`` (``assay eval --until-decided``) with the deterministic fake."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_backend import FakeBackend, answer_key

from assay.errors import InputError
from assay.runner import evaluate_until_decided, question_order, sequential_records
from assay.stats import sequential_test
from assay.store import open_store
from assay.tasks import load_task

TASK = "arith_mc"


def fake(name: str, skill: float) -> FakeBackend:
    return FakeBackend(name, answers=answer_key(load_task(TASK).instances()), skill=skill)


def run(a, b, path, **options):
    options = {"every": 25, "progress": False, "decide": sequential_test, **options}
    return evaluate_until_decided(a, b, TASK, store=path, **options)


def test_stops_early_stores_the_prefix_and_why(tmp_path):
    path = tmp_path / "s.duckdb"
    a, b = fake("a", 0.9), fake("b", 0.2)
    out = run(a, b, path)
    assert out.decision == "A better" and out.metric == "acc"
    assert out.stopped_at % 25 == 0 and out.stopped_at <= 100 and out.n_available == 300
    assert 0 < out.lower <= out.estimate <= out.upper
    assert a.answered["loglikelihood"] > 0 and b.answered["loglikelihood"] > 0
    store = open_store(path)
    samples = store.samples()
    order = question_order([str(i.doc_id) for i in load_task(TASK).instances()], 0)
    for model in ("a", "b"):  # exactly the first questions of the seeded order
        docs = set(samples.loc[samples["model"] == model, "doc_id"])
        assert docs == set(order[: out.stopped_at])
    # the rule saw the per-question differences in that order
    scores = store.scores(metric="acc").pivot_table(index="doc_id", columns="model", values="value")
    diffs = (scores["a"] - scores["b"]).reindex(order[: out.stopped_at]).to_numpy()
    again = sequential_test(diffs, delta=0.02, every=25)
    assert (again.decision, again.stopped_at) == (out.decision, out.stopped_at)
    np.testing.assert_allclose(out.lower_path, again.lower_path)
    # where and why, on both runs
    runs = store.runs()
    for extra in runs["extra"]:
        (record,) = json.loads(extra)["sequential"].values()
        assert record["decision"] == "A better" and record["stopped_at"] == out.stopped_at
        assert record["order_seed"] == 0 and "above 0" in record["reason"]
    assert len(sequential_records(store)) == 2


def test_resume_continues_the_same_sequence(tmp_path):
    path = tmp_path / "s.duckdb"
    first = run(fake("a", 0.9), fake("b", 0.2), path)
    a, b = fake("a", 0.9), fake("b", 0.2)
    second = run(a, b, path)
    assert a.total == 0 and b.total == 0  # every batch was stored: nothing computed
    assert (second.decision, second.stopped_at) == (first.decision, first.stopped_at)
    assert second.new_samples == 0 and first.new_samples == 2 * first.stopped_at


def test_b_better_equivalent_and_undecided(tmp_path):
    swapped = run(fake("a", 0.2), fake("b", 0.9), tmp_path / "1.duckdb")
    assert swapped.decision == "B better" and swapped.upper < 0
    same = run(fake("c", 0.5), fake("d", 0.5), tmp_path / "2.duckdb", delta=0.1)
    assert same.decision == "equivalent" and -0.1 < same.lower <= same.upper < 0.1
    close = run(fake("e", 0.55), fake("f", 0.5), tmp_path / "3.duckdb", limit=40)
    assert close.decision == "undecided" and close.stopped_at == 40
    assert close.reason.startswith("ran out")


def test_records_of_other_comparisons_are_kept(tmp_path):
    path = tmp_path / "s.duckdb"
    run(fake("a", 0.9), fake("b", 0.2), path)
    run(fake("a", 0.9), fake("c", 0.1), path)
    runs = open_store(path).runs()
    extra = json.loads(runs.loc[runs["model"] == "a", "extra"].iloc[0])
    assert len(extra["sequential"]) == 2  # against b and against c


@pytest.mark.parametrize(
    "options",
    [{"delta": -1}, {"confidence": 1.5}, {"every": 0}, {"metric": "no_such_metric"}],
)
def test_bad_options_are_one_error(tmp_path, options):
    with pytest.raises(InputError):
        run(fake("a", 0.9), fake("b", 0.2), tmp_path / "s.duckdb", **options)


def test_same_model_twice_is_refused(tmp_path):
    with pytest.raises(InputError, match="both sides"):
        run(fake("a", 0.9), fake("a", 0.9), tmp_path / "s.duckdb")


def test_bad_input_leaves_no_store(tmp_path):
    path = tmp_path / "s.duckdb"
    for options in ({"metric": "no_such_metric"}, {"delta": float("nan")}):
        with pytest.raises(InputError):
            run(fake("a", 0.9), fake("b", 0.2), path, **options)
    with pytest.raises(InputError, match="both sides"):
        run(fake("a", 0.9), fake("a", 0.2), path)
    assert not path.exists()


@pytest.fixture
def fake_specs(monkeypatch):
    """``-m fake:a`` on the command line runs a FakeBackend named a (skill 0.9), b (0.2)."""
    import assay.runner._sequential as seq

    fakes = {"fake:a": fake("a", 0.9), "fake:b": fake("b", 0.2)}
    real = seq.evaluate
    monkeypatch.setattr(seq, "evaluate", lambda m, *a, **k: real(fakes.get(m, m), *a, **k))
    monkeypatch.setattr(seq, "describe_spec", lambda spec: None)
    return fakes


def test_cli_until_decided(fake_specs, tmp_path):
    from cli_helpers import run_main

    path = str(tmp_path / "s.duckdb")
    argv = ["eval", "-m", "fake:a", "-m", "fake:b", "-t", TASK, "--until-decided"]
    code, out, err = run_main([*argv, "--every", "25", "--store", path, "--no-progress"])
    assert code == 0, err
    assert "decision: a is better" in out and "above 0" in out
    code, out, err = run_main([*argv, "--every", "25", "--store", path, "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["decision"] == "A better" and data["new_samples"] == 0
    assert data["record"]["stopped_at"] == data["stopped_at"] <= 100


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-m", "fake:a", "-t", TASK, "--until-decided"], "two models"),
        (["-m", "fake:a", "-m", "fake:b", "--until-decided"], "one task"),
        (["-m", "fake:a", "-m", "fake:b", "-t", TASK, "--until-decided", "--ray"], "--ray"),
        (["-m", "fake:a", "-m", "fake:b", "-t", TASK], "--until-decided"),
        (["-m", "fake:a", "-t", TASK, "--delta", "0.1"], "only apply"),
        (["-m", "fake:a", "-m", "fake:b", "-t", TASK, "--until-decided", "--confidence", "1"], ""),
    ],
)
def test_cli_until_decided_errors(fake_specs, tmp_path, argv, message):
    from cli_helpers import run_main

    path = tmp_path / "s.duckdb"
    code, out, err = run_main(["eval", *argv, "--store", str(path), "--no-progress"])
    assert code != 0 and err.count("\n") == 1 and message in err
    assert not path.exists()
