"""``-t/--task`` as lm-eval users expect: repeatable and comma-separated wherever a command
takes tasks, one task (a one-line error for several) where it takes one; ``assay --version``;
and ``assay bias`` naming the models and tasks a store has when given a wrong one."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend, answer_key

import assay
from assay.runner import evaluate
from assay.stats import position_bias
from assay.store import open_store
from assay.tasks import load_task

TASKS = ("arith_mc", "logic_tf", "dates_mc")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """Two fake models on three built-in tasks, 12 documents each."""
    path = tmp_path_factory.mktemp("tasks") / "s.duckdb"
    for name, skill in (("fake-a", 0.3), ("fake-b", 0.7)):
        for task_name in TASKS:
            task = load_task(task_name)
            key = answer_key(task.instances(limit=12))
            fake = FakeBackend(name=name, answers=key, skill=skill)
            evaluate(fake, task, store=path, limit=12, progress=False)
    return str(path)


def _json(args: list[str]) -> dict:
    code, out, err = run_main(args)
    assert code == 0, err
    return json.loads(out)


def _tasks(result: dict, key: str = "scores") -> set[str]:
    return {row["task"] for row in result[key]}


@pytest.mark.parametrize(
    "given",
    [
        ["-t", "arith_mc,dates_mc"],
        ["-t", "arith_mc", "-t", "dates_mc"],
        ["--task", "arith_mc", "--task", "dates_mc"],
        ["--task", " arith_mc , dates_mc ,"],
        ["-t", "arith_mc", "-t", "dates_mc,arith_mc"],
    ],
)
def test_compare_takes_every_task_given(store, given):
    result = _json(["compare", "--store", store, *given, "--json"])
    assert _tasks(result) == {"arith_mc", "dates_mc"}
    assert _tasks(result, "pairs") == {"arith_mc", "dates_mc"}


def test_no_task_is_all_and_an_unknown_one_names_the_choices(store):
    assert _tasks(_json(["compare", "--store", store, "--json"])) == set(TASKS)
    code, out, err = run_main(["compare", "--store", store, "-t", "arith_mc,nope"])
    assert code == 1 and out == ""
    assert err.strip() == ("error: unknown task 'nope'; available: arith_mc, dates_mc, logic_tf")


def test_flips_and_variance_take_several_tasks(store):
    flips = _json(["flips", "--store", store, "--old", "fake-a", "--new", "fake-b",
                   "-t", "arith_mc", "-t", "logic_tf", "--json"])  # fmt: skip
    assert {row["task"] for row in flips["table"]} == {"arith_mc", "logic_tf", "(all)"}
    code, _, err = run_main(["variance", "--store", store, "-t", "arith_mc,logic_tf", "--json"])
    assert code == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ["bias", "--model", "fake-a"],
        ["items"],
        ["power", "--models", "fake-a,fake-b", "--n", "100"],
        ["forecast", "fit", "store", "--law", "power", "--x", "params"],
    ],
)
def test_a_one_task_command_refuses_several_in_one_line(store, args):
    for several in (["-t", "arith_mc,dates_mc"], ["-t", "arith_mc", "--task", "dates_mc"]):
        code, out, err = run_main([*args, "--store", store, *several])
        assert code == 1 and out == ""
        assert err.strip() == "error: --task takes one task here, not 2: arith_mc, dates_mc"


def test_a_one_task_command_accepts_short_t(store):
    result = _json(["bias", "--store", store, "--model", "fake-b", "-t", "arith_mc", "--json"])
    samples = open_store(store).samples(model="fake-b", task="arith_mc")
    expected = position_bias(samples)
    assert result["n"] == expected.n == 12
    assert result["accuracy"] == pytest.approx(expected.accuracy)
    assert result["chi2"] == pytest.approx(expected.chi2)


def test_variance_checkpoints_take_one_task(store):
    code, _, err = run_main(["variance", "--store", store, "--checkpoints", "fake-a,fake-b",
                             "-t", "arith_mc,dates_mc"])  # fmt: skip
    assert code == 1
    assert err.strip() == "error: --checkpoints takes one task, not 2: arith_mc, dates_mc"


def test_version():
    code, out, err = run_main(["--version"])
    assert (code, out, err) == (0, f"assay {assay.__version__}\n", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope", "-t", "arith_mc"], "unknown model 'nope'; available: fake-a, fake-b"),
        (
            ["--model", "fake-a", "-t", "nope"],
            "unknown task 'nope'; available: arith_mc, dates_mc, logic_tf",
        ),
        (["-t", "nope"], "unknown task 'nope'; available: arith_mc, dates_mc, logic_tf"),
    ],
)
def test_bias_names_the_models_and_tasks_that_exist(store, args, message):
    code, out, err = run_main(["bias", "--store", store, *args])
    assert code == 1 and out == ""
    assert err.strip() == f"error: {message}"
